#!/bin/bash
# 8. sbx in an engine's runtime slot: `podman run --rm IMAGE true` with sbx,
# runc and crun as podman's --runtime, interleaved in one hyperfine run, as
# root and rootless ($BENCH_USER).  The image is tests/engines' busybox
# docker-archive (no registry); podman has a containers.conf and storage of
# the section's own (vfs, cgroupfs, --network none: what tests/engines
# uses), so the host's podman is not touched.  A runtime that refuses (crun
# on a hybrid-cgroup host, sbx before it is an OCI runtime) is recorded
# with its error line.  Run by scripts/bench, which sets the BENCH_* names.
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}"
sec=80-engines
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"

command -v podman >/dev/null && command -v conmon >/dev/null ||
	skip "podman is not installed (Debian: apt-get install podman conmon catatonit; scripts/deps --bench)"
command -v runc >/dev/null || skip "runc, the base of the ratios, is not installed"

image=localhost/sbx-engines-busybox:1
"$BENCH_PYTHON" - "$BENCH_WORK/engines-image.tar" <<'PY'
import os, pathlib, sys
sys.path.insert(0, os.path.join(os.environ["BENCH_TOP"], "tests", "engines"))
import engines
engines.build_image(pathlib.Path(sys.argv[1]))
PY
chmod 644 "$BENCH_WORK/engines-image.tar"

# podman_env MODE: the env words every podman command of MODE starts with.
# Short paths: rootless podman's cleanup refuses a runroot over 50
# characters ($XDG_RUNTIME_DIR/containers).
podman_env() {
	local d=$BENCH_WORK/pe-$1
	printf 'env HOME=%s/home CONTAINERS_CONF=%s/containers.conf CONTAINERS_STORAGE_CONF=%s/storage.conf' "$d" "$d" "$d"
	[ "$1" = rootless ] && printf ' XDG_RUNTIME_DIR=%s/run' "$d"
	printf '\n'
}

setup_podman() { # MODE
	local mode=$1 d=$BENCH_WORK/pe-$1
	mkdir -p "$d"/{home,storage,runroot,tmp,run}
	chmod 700 "$d/run"
	chmod 755 "$d"
	{
		echo "[containers]"
		# Root here may lack CAP_SYS_RESOURCE: podman's default rlimits are
		# above what it may set (see tests/engines).
		[ "$mode" = root ] && echo 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
		echo "[engine]"
		echo 'cgroup_manager = "cgroupfs"'
		echo 'events_logger = "file"'
		echo "tmp_dir = \"$d/tmp\""
	} >"$d/containers.conf"
	printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s/runroot"\nrootless_storage_path = "%s/storage"\n' \
		"$d" "$d" "$d" >"$d/storage.conf"
	[ "$mode" = rootless ] && [ "$uid" = 0 ] && chown -R "$BENCH_USER" "$d"
	# shellcheck disable=SC2046 # the env words
	as "$mode" $(podman_env "$mode") podman load -q -i "$BENCH_WORK/engines-image.tar" >/dev/null
}

teardown_podman() { # MODE
	local mode=$1 d=$BENCH_WORK/pe-$1 pid
	# shellcheck disable=SC2046
	as "$mode" $(podman_env "$mode") podman rm -a -f -t 0 >/dev/null 2>&1 || true
	# Rootless podman's pause process holds its user namespace.
	if [ -f "$d/tmp/pause.pid" ]; then
		pid=$(cat "$d/tmp/pause.pid")
		[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	fi
	if [ "$mode" = rootless ] && [ "$uid" != 0 ]; then
		podman unshare rm -rf "$d" 2>/dev/null || true
	fi
	rm -rf "$d" 2>/dev/null || true
}

modes=(rootless)
if [ "$uid" = 0 ]; then
	modes=(root rootless)
	id "$BENCH_USER" >/dev/null 2>&1 || { modes=(root); echo "$sec: no user $BENCH_USER: rootless skipped" >&2; }
fi
for mode in "${modes[@]}"; do
	setup_podman "$mode"
	trap 'teardown_podman '"$mode" EXIT
	pe=$(podman_env "$mode")
	ok=()
	for rt in sbx runc crun; do
		if [ "$rt" = sbx ]; then path=$SBX; else path=$(command -v "$rt" || true); fi
		if [ -z "$path" ]; then
			printf '%s\t%s\t%s\t%s\n' "$mode" "$rt" - "not installed" >>"$out.findings"
			continue
		fi
		c="$pe podman --runtime $path run --rm --network none $image true"
		try "$mode" "$rt" "$c" && ok+=("$rt" "$c")
	done
	if [ ${#ok[@]} -eq 0 ]; then
		echo "$sec: $mode: no runtime ran podman's container" >&2
	else
		echo "== $mode: podman run --rm IMAGE true, the runtime in podman's slot (medians)"
		hf "$mode" "$out-$mode.json" "${ok[@]}"
		"$BENCH_PYTHON" "$BENCH_LIB" table "$out-$mode.json" --base runc
	fi
	teardown_podman "$mode"
	trap - EXIT
done

"$BENCH_PYTHON" - "$out" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out = sys.argv[1]
findings = [l.rstrip("\n").split("\t") for l in open(out + ".findings") if l.strip()]
md = ["## 8. sbx in podman's runtime slot\n\n",
      "`podman run --rm IMAGE true` with sbx, runc and crun as podman's `--runtime` (conmon in "
      "between, as podman always runs them), interleaved in one hyperfine run. The image is "
      "tests/engines' busybox docker-archive; podman has a storage and containers.conf of its own "
      "(vfs, cgroupfs, `--network none`). Most of each run is podman's own work, the same for "
      "every runtime, so the ratios are near 1 unless a runtime is much slower. "
      "Ratios are runc's median over each command's.\n\n"]
summary, raw = [], {}
for mode in ("root", "rootless"):
    if not os.path.exists(f"{out}-{mode}.json"):
        md.append(f"### {mode}\n\nnot measured (see the refusals below)\n\n")
        summary.append([f"podman run --rm IMAGE true, sbx / runc ({mode})", "n/a", "", ""])
        continue
    res = raw[mode] = bl.load_hyperfine(f"{out}-{mode}.json")
    md += [f"### {mode}\n\n", bl.ratio_table(res, "runc")[0], "\n",
           bl.commands_block(f"{out}-{mode}.json", os.environ["BENCH_USER"] if mode == "rootless" else None), "\n"]
    rt = bl.ratio(res, "sbx", "runc")
    meds = bl.medians(res)
    summary.append([f"podman run --rm IMAGE true, sbx / runc ({mode})",
                    "n/a (sbx did not run)" if rt is None else
                    f"{rt:.3f} ({bl.ms(meds['sbx']):.1f} ms against {bl.ms(meds['runc']):.1f} ms)", "", ""])
if findings:
    md.append("Refusals (each tried once, its last error line):\n\n")
    for mode, name, rc, err in findings:
        md.append(f"- **{name}** ({mode}): " + (err if rc == "-" else f"exit {rc}: `{err}`") + "\n")
    md.append("\n")
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump({"findings": findings, "results": raw}, open(out + ".json", "w"), indent=1)
for row in summary:
    print(f"{row[0]}: {row[1]}")
PY
echo "$sec: wrote $out.md"
