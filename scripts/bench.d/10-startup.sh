#!/bin/bash
# 1. Start-to-exit of /bin/true with full isolation, the same tree: sbx
# --runtime native against bubblewrap, crun, runc and runsc, interleaved in
# one hyperfine run, as root and rootless ($BENCH_USER); a peer that refuses
# is recorded with its error line.  Then sbx with no limit, the default
# limits and every limit, and the mount points a tree lacks (kept from the
# first scripts/bench).  Run by scripts/bench, which sets the BENCH_* names.
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}" "${BENCH_ROOTFS:?}" "${BENCH_BUNDLES:?}"
sec=10-startup
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"
r=$BENCH_ROOTFS

peers() { # MODE: NAME CMD pairs of everything that runs in MODE
	local mode=$1 st rl=
	if [ "$mode" = rootless ]; then
		st=$BENCH_STATE_USER
		rl=--rootless
	else
		st=$BENCH_STATE
	fi
	local sbx="$SBX run --runtime native --rootfs $r -- /bin/true"
	# bubblewrap with the isolation sbx's defaults give (the brief's set plus
	# sbx's /workspace, working directory and clean environment).
	local bwrap="bwrap --unshare-all --die-with-parent --new-session --ro-bind $r / --proc /proc --dev /dev --tmpfs /tmp --tmpfs /workspace --chdir /workspace --clearenv /bin/true"
	try "$mode" sbx "$sbx" && printf '%s\n%s\n' sbx "$sbx"
	if command -v bwrap >/dev/null; then
		try "$mode" bwrap "$bwrap" && printf '%s\n%s\n' bwrap "$bwrap"
	else
		printf '%s\t%s\t%s\t%s\n' "$mode" bwrap - "not installed" >>"$out.findings"
	fi
	local rt c
	for rt in crun runc; do
		if ! command -v "$rt" >/dev/null; then
			printf '%s\t%s\t%s\t%s\n' "$mode" "$rt" - "not installed" >>"$out.findings"
			continue
		fi
		c="$rt --root $st/$rt run --bundle $BENCH_BUNDLES/$rt-$mode bench-$rt"
		if try "$mode" "$rt" "$c"; then
			printf '%s\n%s\n' "$rt" "$c"
		elif [ "$rt" = crun ]; then
			# crun without cgroups at all (sbx makes none on a hybrid host either)
			c="crun --cgroup-manager=disabled --root $st/$rt run --bundle $BENCH_BUNDLES/$rt-$mode bench-$rt"
			try "$mode" "crun --cgroup-manager=disabled" "$c" && printf '%s\n%s\n' "crun (no cgroups)" "$c"
		fi
	done
	if command -v runsc >/dev/null; then
		c="runsc ${rl:+$rl }--network=none --root $st/runsc run --bundle $BENCH_BUNDLES/runsc bench-runsc"
		try "$mode" runsc "$c" && printf '%s\n%s\n' runsc "$c"
	else
		printf '%s\t%s\t%s\t%s\n' "$mode" runsc - "not installed" >>"$out.findings"
	fi
}

modes=(rootless)
if [ "$uid" = 0 ]; then
	modes=(root rootless)
	id "$BENCH_USER" >/dev/null 2>&1 || { modes=(root); echo "$sec: no user $BENCH_USER: rootless skipped" >&2; }
fi
for mode in "${modes[@]}"; do
	mapfile -t pc < <(peers "$mode")
	echo "== $mode: sbx and its peers, start to exit of /bin/true, same tree"
	hf "$mode" "$out-$mode.json" "${pc[@]}"
	"$BENCH_PYTHON" "$BENCH_LIB" table "$out-$mode.json" --base sbx

	lim=(
		"no limits" "$SBX run --runtime native --rootfs $r --memory 0 --pids 0 -- /bin/true"
		"default limits" "$SBX run --runtime native --rootfs $r -- /bin/true"
		"memory 1g cpus 1 pids 100" "$SBX run --runtime native --rootfs $r --memory 1g --cpus 1 --pids 100 -- /bin/true"
	)
	echo "== $mode: sbx with no limit, the default limits, every limit"
	hf "$mode" "$out-$mode-limits.json" "${lim[@]}"
	"$BENCH_PYTHON" "$BENCH_LIB" table "$out-$mode-limits.json" --base "no limits"
	# The notice sbx prints of how it holds the limits here.
	as "$mode" "$SBX" run --runtime native --rootfs "$r" --memory 1g --cpus 1 --pids 100 -- /bin/true \
		2>"$BENCH_WORK/notice-$mode" || true
	cp "$BENCH_WORK/notice-$mode" "$out-$mode-limits.notice"
done

# The mount points a tree lacks are made on an overlay, only then: a tree
# with every point, the same without /workspace, and --writable-root.
nows=$BENCH_WORK/rootfs-nows
rm -rf "$nows"
cp -a "$r" "$nows"
rmdir "$nows/workspace"
chmod a+rX "$nows"
mode=${modes[0]}
echo "== $mode: mount points: every one in the tree, /workspace missing, --writable-root"
hf "$mode" "$out-$mode-mounts.json" \
	"all points" "$SBX run --runtime native --rootfs $r -- /bin/true" \
	"no /workspace" "$SBX run --runtime native --rootfs $nows -- /bin/true" \
	"writable root" "$SBX run --runtime native --rootfs $r --writable-root -- /bin/true"
"$BENCH_PYTHON" "$BENCH_LIB" table "$out-$mode-mounts.json" --base "all points"

"$BENCH_PYTHON" - "$out" "${modes[@]}" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out, modes = sys.argv[1], sys.argv[2:]
docs = os.environ["BENCH_DOCS"]
plots = not os.environ.get("BENCH_NO_PLOTS")
findings = [l.rstrip("\n").split("\t") for l in open(out + ".findings") if l.strip()]
md, summary, raw = [], [], {}
md.append("## 1. Start-up: sbx and its peers\n\n")
md.append("Start to exit of `/bin/true` in a busybox tree (the same tree for every runtime), "
          "full isolation (new user (rootless), mount, pid, ipc, uts, network namespaces; the "
          "tree read-only), each command run interleaved with the others in one "
          f"`hyperfine -N --warmup {os.environ['BENCH_WARMUP']} --runs {os.environ['BENCH_RUNS']}` run. "
          "Rootless runs are as the user `" + os.environ["BENCH_USER"] + "` (`runuser -u`, "
          "hyperfine itself runs as that user). The ratio column is sbx's median over the "
          "command's: under 1 means sbx is faster.\n\n")
for mode in modes:
    res = bl.load_hyperfine(f"{out}-{mode}.json")
    raw[mode] = res
    md.append(f"### {mode}\n\n")
    md.append(bl.ratio_table(res, "sbx")[0] + "\n")
    md.append("Commands:\n\n" + bl.commands_block(f"{out}-{mode}.json",
                                                  os.environ["BENCH_USER"] if mode == "rootless" else None) + "\n")
    svg = f"{docs}/10-startup-{mode}.svg"
    if plots:
        bl.boxplot(res, svg, f"start to exit of /bin/true, {mode}")
        md.append(f"![start-up latency, {mode}](bench/10-startup-{mode}.svg)\n\n")
    refused = [f for f in findings if f[0] == mode]
    if refused:
        md.append("Peers left out (each tried once, its last error line):\n\n")
        for _, name, rc, err in refused:
            md.append(f"- **{name}** ({mode}): " + (err if rc == "-" else
                      f"refused, exit {rc}: `{err}`") + "\n")
        md.append("\n")
    bw = bl.ratio(res, "sbx", "bwrap")
    if bw is None:
        md.append(bl.target_line(f"sbx ≤ 0.7 × bubblewrap's median ({mode})", None, "n/a", "bwrap did not run"))
        summary.append([f"start-up sbx/bwrap ({mode})", "n/a", "≤ 0.7", "n/a"])
    else:
        md.append(bl.target_line(f"sbx ≤ 0.7 × bubblewrap's median ({mode})", bw <= 0.7, f"{bw:.3f}"))
        summary.append([f"start-up sbx/bwrap ({mode})", f"{bw:.3f}", "≤ 0.7", "met" if bw <= 0.7 else "not met"])
    cr = bl.ratio(res, "sbx", "crun") or bl.ratio(res, "sbx", "crun (no cgroups)")
    if cr is None:
        why = "; ".join(sorted({f"crun refused: {f[3]}" for f in refused if f[1].startswith("crun")})) \
            or "crun did not run"
        md.append(bl.target_line(f"sbx ahead of crun ({mode})", None, "n/a", why))
        summary.append([f"start-up sbx/crun ({mode})", "n/a (crun refused)" if "refused" in why else "n/a",
                        "< 1", "n/a"])
    else:
        md.append(bl.target_line(f"sbx ahead of crun ({mode})", cr < 1, f"{cr:.3f}"))
        summary.append([f"start-up sbx/crun ({mode})", f"{cr:.3f}", "< 1", "met" if cr < 1 else "not met"])
    for peer in ("runc", "runsc"):
        pr = bl.ratio(res, "sbx", peer)
        if pr is not None:
            summary.append([f"start-up sbx/{peer} ({mode})", f"{pr:.3f}", "", "n/a"])
    med = bl.medians(res).get("sbx")
    if med:
        summary.append([f"start-up sbx median ({mode})", f"{bl.ms(med):.2f} ms", "", "n/a"])
    md.append("\n")

md.append("### Limits\n\n")
md.append("sbx with no limit (`--memory 0 --pids 0`), its defaults (memory 2g, pids 256) and "
          "`--memory 1g --cpus 1 --pids 100`; ratios are of the no-limit median.\n\n")
for mode in modes:
    res = bl.load_hyperfine(f"{out}-{mode}-limits.json")
    raw[mode + "-limits"] = res
    md.append(f"{mode}:\n\n" + bl.ratio_table(res, "no limits")[0] + "\n")
    notice = open(f"{out}-{mode}-limits.notice").read().strip()
    if notice:
        md.append(f"sbx's notice ({mode}): `{notice}`\n\n")
if os.path.isdir("/sys/fs/cgroup/unified") or not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
    md.append("This host has hybrid cgroups (v1 controllers, a v2 tree with no controllers sbx can "
              "use): the limits fall back to rlimits (RLIMIT_DATA, RLIMIT_NPROC) and `--cpus` is not "
              "enforced, so these numbers are the rlimits' cost, not a cgroup's. The cost of the "
              "cgroup (mkdir, the limit files, clone3 into it, cgroup.kill, rmdir) is measured on "
              "cgroup v2 in the VM (tests/vm), not here.\n\n")
mres = [(m, f"{out}-{m}-mounts.json") for m in modes if os.path.exists(f"{out}-{m}-mounts.json")]
for mode, path in mres:
    res = bl.load_hyperfine(path)
    raw[mode + "-mounts"] = res
    md.append(f"### Mount points ({mode})\n\nA tree with every mount point sbx uses, the same tree "
              "without /workspace (made on an overlay), and `--writable-root`:\n\n")
    md.append(bl.ratio_table(res, "all points")[0] + "\n")
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump({"findings": findings, "results": raw}, open(out + ".json", "w"), indent=1)
PY
echo "$sec: wrote $out.md"
