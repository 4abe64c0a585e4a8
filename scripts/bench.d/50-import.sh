#!/bin/bash
# Section 50 of `make bench`: importing an image and running from it.
#
# The default image's OCI layout (rootfs/build leaves it in
# /var/cache/sbx/layouts/default as root; SBX_BENCH_LAYOUT names another,
# tag "latest"):
#   sbx image import --store NEW    digests checked, layers unpacked
#   tar -x                          the same layer blobs, in order, into a
#                                   fresh directory (-z or --zstd per media type)
#   umoci unpack                    the same layout into a fresh bundle
# in one hyperfine run, each into a directory emptied before every run.
# Then a run from the imported image (its tree already unpacked) against a
# run with --rootfs of that very tree: a stored image should add nothing.
# As root, or as a user (umoci --rootless; tar then leaves out the layer's
# /dev entries, device nodes a user cannot make, and keeps no owners).
#
# Environment: BENCH_WORK BENCH_OUT BENCH_RUNS SBX (scripts/bench sets them),
# BENCH_IMPORT_RUNS (default BENCH_RUNS up to 5), SBX_BENCH_LAYOUT.
set -euo pipefail
name=50-import
. "$(dirname "$0")/alone.sh"
: "${BENCH_IMPORT_RUNS:=$((BENCH_RUNS < 5 ? BENCH_RUNS : 5))}"
layout=${SBX_BENCH_LAYOUT:-/var/cache/sbx/layouts/default}

skip() {
	echo "$name: SKIP: $*" >&2
	{
		echo "## 5. Image import"
		echo
		echo "SKIP: $*"
	} >"$md"
	printf 'image import vs tar -x\tskipped\t<= 1.0x\tn/a\n' >"$BENCH_OUT/$name.summary.tsv"
	exit 0
}

root=
[ "$(id -u)" = 0 ] && root=1
command -v hyperfine >/dev/null || skip "hyperfine is not installed"
[ -x "$SBX" ] || skip "no sbx at $SBX"
[ -f "$layout/index.json" ] || skip "no OCI layout at $layout (rootfs/build makes it as root; SBX_BENCH_LAYOUT names another)"

# The layer blobs of the manifest tagged "latest" (else the only one), in
# order, each with tar's decompression flag.
"$BENCH_PYTHON" - "$layout" >"$work/layers" <<'PY' || skip "cannot read the layout's manifest: $(cat "$work/layers")"
import json, sys
root = sys.argv[1]
def blob(d):
    algo, hexd = d.split(":", 1)
    return f"{root}/blobs/{algo}/{hexd}"
index = json.load(open(f"{root}/index.json"))
mans = index["manifests"]
tagged = [m for m in mans if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest"]
man = (tagged or mans)[0]
doc = json.load(open(blob(man["digest"])))
if "manifests" in doc:  # a nested index: the amd64/linux manifest, else the first
    sub = [m for m in doc["manifests"] if m.get("platform", {}).get("architecture") in ("amd64", None)]
    doc = json.load(open(blob((sub or doc["manifests"])[0]["digest"])))
for layer in doc["layers"]:
    mt = layer["mediaType"]
    flag = "--zstd" if "zstd" in mt else "-z" if "gzip" in mt else ""
    print(flag or "-", blob(layer["digest"]))
PY
n_layers=$(wc -l <"$work/layers")
[ "$n_layers" -gt 0 ] || skip "the layout's manifest names no layer"
grep -q -- '--zstd' "$work/layers" && ! tar --zstd --help >/dev/null 2>&1 && skip "tar cannot --zstd here"

cat >"$work/tar-layers" <<'EOF'
#!/bin/sh
# tar-layers DIR: every layer of $0.list, in order, into DIR.
set -e
dir=$1
mkdir -p "$dir"
while read -r flag blob; do
	[ "$flag" = - ] && flag=
	if [ "$(id -u)" = 0 ]; then
		tar $flag -xf "$blob" -C "$dir"
	else
		tar $flag -xf "$blob" -C "$dir" --exclude='./dev/*'
	fi
done <"$0.list"
EOF
cat >"$work/clean" <<'EOF'
#!/bin/sh
# clean SBX STORE DIR...: all gone.  A user's store holds files of the
# user's subordinate ids, which only sbx can remove; umoci's rootless
# bundle has read-only directories.
sbx=$1 store=$2
shift 2
if [ -d "$store" ]; then
	"$sbx" image rm --store "$store" bench >/dev/null 2>&1 || true
	"$sbx" image gc --store "$store" >/dev/null 2>&1 || true
	rm -rf "$store"
fi
for d in "$@"; do
	[ -e "$d" ] || continue
	rm -rf "$d" 2>/dev/null || { chmod -R u+w "$d"; rm -rf "$d"; }
done
EOF
chmod 755 "$work/clean"
cp "$work/layers" "$work/tar-layers.list"
chmod 755 "$work/tar-layers"

store=$work/store
cmds=(-n "sbx image import" "$SBX image import --store $store --name bench $layout"
	-n "tar -x (layers)" "$work/tar-layers $work/tar")
has_umoci=
if command -v umoci >/dev/null; then
	umoci_opt=
	[ -n "$root" ] || umoci_opt="--rootless "
	cmds+=(-n "umoci unpack" "umoci unpack ${umoci_opt} --image $layout:latest $work/bundle")
	has_umoci=1
fi
prepare="$work/clean $SBX $store $work/tar $work/bundle"

# Each must work once before it is timed.
for ((i = 1; i < ${#cmds[@]}; i += 3)); do
	$prepare
	sh -c "${cmds[i + 1]}" >"$work/check.out" 2>&1 ||
		skip "${cmds[i]} failed: $(tail -n 3 "$work/check.out" | tr '\n' ' ')"
done
$prepare

echo "== $name: import of $layout ($n_layers layers), $BENCH_IMPORT_RUNS runs" >&2
hyperfine --warmup 1 --runs "$BENCH_IMPORT_RUNS" --prepare "$prepare" \
	--export-json "$work/import.json" "${cmds[@]}" >&2

# The imported image against its own tree by --rootfs.
$prepare
"$SBX" image import --store "$store" --name bench "$layout" >/dev/null
tree=$("$SBX" image inspect --store "$store" bench | "$BENCH_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["rootfs"])')
{ du -sh --apparent-size "$tree" 2>/dev/null || true; } | cut -f1 >"$work/size"
[ -s "$work/size" ] || echo "?" >"$work/size"
echo "== $name: sbx run --image (stored) vs --rootfs of its tree" >&2
hyperfine -N --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" --export-json "$work/run.json" \
	-n "stored image (--image)" "$SBX run --runtime native --store $store --image bench -- /bin/true" \
	-n "its tree (--rootfs)" "$SBX run --runtime native --rootfs $tree -- /bin/true" >&2
$prepare

"$BENCH_PYTHON" - "$work" "$BENCH_OUT" "$name" "$layout" "$BENCH_IMPORT_RUNS" "$BENCH_RUNS" "$(cat "$work/size")" \
	"$has_umoci" "$BENCH_DOCS" "${BENCH_NO_PLOTS:-}" "$root" <<'PY'
import json, sys
sys.path.insert(0, "scripts")
import benchlib as bl

work, out, name, layout, imp_runs, runs, size, has_umoci, docs, no_plots, root = sys.argv[1:12]
imp = bl.load_hyperfine(f"{work}/import.json")
run = bl.load_hyperfine(f"{work}/run.json")
layers = [l.split() for l in open(f"{work}/layers")]
imd, itxt = bl.ratio_table(imp, "sbx image import")
rmd, rtxt = bl.ratio_table(run, "stored image (--image)")
print(itxt + "\n" + rtxt)
m, r = bl.medians(imp), bl.medians(run)
summary, targets = [], []
x = m["sbx image import"] / m["tar -x (layers)"]
met = x <= 1.0
targets.append(bl.target_line("`sbx image import` no slower than tar -x of the same layers", met,
                              f"{bl.ms(m['sbx image import']):.0f} ms vs {bl.ms(m['tar -x (layers)']):.0f} ms, "
                              f"{x:.2f}x"))
summary.append(["image import, sbx / tar -x (medians)", f"{x:.2f}x", "<= 1.00x", "met" if met else "not met"])
if "umoci unpack" in m:
    summary.append(["image import, sbx / umoci unpack (medians)", f"{m['sbx image import'] / m['umoci unpack']:.2f}x",
                    "", "n/a"])
d = bl.ms(r["stored image (--image)"] - r["its tree (--rootfs)"])
base = bl.ms(r["its tree (--rootfs)"])
allow = max(0.25, 0.03 * base)
met = d <= allow
targets.append(bl.target_line("a stored image adds nothing measurable to a run (`--image` vs `--rootfs` of its tree)", met,
                              f"{d:+.2f} ms on {base:.2f} ms; measurable taken as more than {allow:.2f} ms, "
                              "the larger of 0.25 ms and 3 %"))
summary.append(["run --image (stored) - run --rootfs, same tree", f"{d:+.2f} ms", "~0 (<= max(0.25 ms, 3 %))",
                "met" if met else "not met"])

if not no_plots:
    bl.boxplot(imp, f"{docs}/50-import.svg", title="importing the default image", ylabel="time (ms)", violin=False)

json.dump({"import": imp, "run": run, "layers": layers}, open(f"{out}/{name}.json", "w"), indent=1)
bl.write_summary(f"{out}/{name}.summary.tsv", summary)
excl = "" if root else " --exclude='./dev/*'"
lay = "\n".join(f"tar {f if f != '-' else ''} -xf {b} -C DIR{excl}".replace("  ", " ") for f, b in layers)
with open(f"{out}/{name}.md", "w") as f:
    f.write(f"""## 5. Image import

The default image's OCI layout `{layout}` ({len(layers)} layer(s), {size} unpacked), imported into an
empty directory each run (hyperfine `--prepare` empties them; {imp_runs} runs after one warm-up, as
{"root" if root else "a user: umoci with --rootless, tar without the layer's /dev entries (device nodes a user cannot make)"}):

```
sbx image import --store NEW --name bench {layout}
{lay}
{("umoci unpack " + ("" if root else "--rootless ") + "--image " + layout + ":latest BUNDLE") if has_umoci else "(umoci is not installed)"}
```

`sbx image import` also checks every blob's digest and size and each layer's diff_id before it
unpacks (tar checks nothing); umoci also writes an mtree manifest of the tree and a runtime
config.json.

{imd}
{"" if no_plots else "![import times](bench/50-import.svg)"}

A run from the stored image (no unpack: its tree is already in the store) against a run from that
very tree by `--rootfs` ({runs} runs each, `hyperfine -N`):

```
sbx run --runtime native --store NEW --image bench -- /bin/true
sbx run --runtime native --rootfs TREE -- /bin/true
```

{rmd}
""")
    f.write("\n" + "".join(targets))
print("".join(targets))
PY
