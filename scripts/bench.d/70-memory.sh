#!/bin/bash
# 7. Memory: the peak RSS of `sbx run` of /bin/true by /usr/bin/time -f %M
# (the median of BENCH_MEM_RUNS runs, default 11) beside bwrap, crun and
# runc, as root and rootless; the supervisor's own high-water mark (VmHWM of
# the sbx process while the sandbox runs); the binaries' sizes and shared
# libraries (ldd).  Target: supervisor peak RSS <= 4 MiB.
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}" "${BENCH_ROOTFS:?}" "${BENCH_BUNDLES:?}"
sec=70-memory
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"
n=${BENCH_MEM_RUNS:-11}
r=$BENCH_ROOTFS
[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed (apt-get install time; scripts/deps --bench)"

modes=(rootless)
if [ "$uid" = 0 ]; then
	modes=(root)
	id "$BENCH_USER" >/dev/null 2>&1 && modes+=(rootless) || echo "$sec: no user $BENCH_USER: rootless skipped" >&2
fi

# peak MODE NAME CMD: N runs of CMD under /usr/bin/time -f %M; one line
# "MODE<TAB>NAME<TAB>kB kB ..." to $out.rss, or a refusal to the findings.
peak() {
	local mode=$1 name=$2 cmd=$3 f i vals=()
	try "$mode" "$name" "$cmd" || return 0
	f=$BENCH_WORK/rss
	[ "$mode" = rootless ] && [ "$uid" = 0 ] && f=$BENCH_STATE_USER/rss
	for ((i = 0; i < n; i++)); do
		# shellcheck disable=SC2086 # the command line is split into its words
		as "$mode" /usr/bin/time -f %M -o "$f" $cmd </dev/null >/dev/null 2>&1 || true
		vals+=("$(tail -n 1 "$f")")
	done
	printf '%s\t%s\t%s\t%s\n' "$mode" "$name" "${vals[*]}" "$cmd" >>"$out.rss"
}

# hwm MODE: the sbx process's own VmHWM and VmRSS while its sandbox sleeps.
hwm() {
	local mode=$1 f=$BENCH_WORK/hwm-pid pid i
	[ "$mode" = rootless ] && [ "$uid" = 0 ] && f=$BENCH_STATE_USER/hwm-pid
	for ((i = 0; i < 3; i++)); do
		rm -f "$f"
		# shellcheck disable=SC2016 # expanded by the inner shell
		as "$mode" bash -c '"$@" </dev/null >/dev/null 2>&1 & echo $! >"'"$f"'"; wait' _ \
			"$SBX" run --runtime native --rootfs "$r" -- /bin/busybox sleep 0.6 &
		local waiter=$!
		sleep 0.4
		pid=$(cat "$f" 2>/dev/null || true)
		if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
			printf '%s\t%s\t%s\n' "$mode" \
				"$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")" \
				"$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" >>"$out.hwm"
		fi
		wait "$waiter" || true
	done
}

st() { [ "$1" = rootless ] && echo "$BENCH_STATE_USER" || echo "$BENCH_STATE"; }
for mode in "${modes[@]}"; do
	echo "== $mode: peak RSS (/usr/bin/time -f %M), median of $n runs"
	peak "$mode" sbx "$SBX run --runtime native --rootfs $r -- /bin/true"
	command -v bwrap >/dev/null && peak "$mode" bwrap \
		"bwrap --unshare-all --die-with-parent --new-session --ro-bind $r / --proc /proc --dev /dev --tmpfs /tmp --tmpfs /workspace --chdir /workspace --clearenv /bin/true"
	for rt in crun runc; do
		command -v "$rt" >/dev/null &&
			peak "$mode" "$rt" "$rt --root $(st "$mode")/$rt-mem run --bundle $BENCH_BUNDLES/$rt-$mode bench-mem-$rt"
	done
	hwm "$mode"
done

"$BENCH_PYTHON" - "$out" "$SBX" "${modes[@]}" <<'PY'
import json, os, shutil, subprocess, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out, sbx, modes = sys.argv[1], sys.argv[2], sys.argv[3:]
docs = os.environ["BENCH_DOCS"]
findings = [l.rstrip("\n").split("\t") for l in open(out + ".findings") if l.strip()]
rss = {}
for line in open(out + ".rss") if os.path.exists(out + ".rss") else []:
    mode, name, vals, cmd = line.rstrip("\n").split("\t")
    kb = [int(v) for v in vals.split() if v.isdigit()]
    rss.setdefault(mode, {})[name] = {"kB": kb, "median kB": bl.median(kb), "command": cmd}
hwm = {}
for line in open(out + ".hwm") if os.path.exists(out + ".hwm") else []:
    mode, h, r = line.split()
    hwm.setdefault(mode, []).append((int(h), int(r)))

def libs(path):
    p = subprocess.run(["ldd", path], capture_output=True, text=True)
    if p.returncode != 0 or "not a dynamic" in p.stdout + p.stderr or "statically" in p.stdout:
        return []
    return [l.split()[0] for l in p.stdout.splitlines() if l.strip()]

bins = []
for name in ("sbx", "bwrap", "crun", "runc", "runsc"):
    path = sbx if name == "sbx" else shutil.which(name)
    if not path:
        continue
    path = os.path.realpath(path)
    l = libs(path)
    bins.append([name, path, os.stat(path).st_size / 1024, len(l), ", ".join(l) if l else "static"])

md = ["## 7. Memory and size\n\n",
      "Peak resident memory of each runtime starting `/bin/true` in the same tree, by "
      f"`/usr/bin/time -f %M` (the median of {os.environ.get('BENCH_MEM_RUNS', '11')} runs). "
      "`%M` is the largest peak RSS of the process **and of the children it waited for** "
      "(getrusage's ru_maxrss over RUSAGE_CHILDREN): for sbx that is the larger of the supervisor, "
      "the sandbox's init and the command, not their sum. The supervisor's own peak is shown apart: "
      "VmHWM of the sbx process read from /proc while its sandbox sleeps.\n\n"]
summary, text = [], []
for mode in modes:
    res = rss.get(mode, {})
    rows = [[name, v["median kB"] / 1024, min(v["kB"]) / 1024, max(v["kB"]) / 1024] for name, v in res.items()]
    hdr = ["runtime", "median MiB", "min MiB", "max MiB"]
    md.append(f"### {mode}\n\n" + (bl.markdown_table(hdr, rows) if rows else "nothing ran\n") + "\n")
    md.append("```\n" + "\n".join(f"{k}: /usr/bin/time -f %M {v['command']}" for k, v in res.items()) + "\n```\n\n")
    text.append(f"{mode}:\n" + bl.text_table(hdr, rows))
    refused = [f for f in findings if f[0] == mode]
    for _, name, rc, err in refused:
        md.append(f"- **{name}** ({mode}): " + (err if rc == "-" else f"refused, exit {rc}: `{err}`") + "\n")
    if refused:
        md.append("\n")
    h = hwm.get(mode)
    if h:
        hw = bl.median([x for x, _ in h]) / 1024
        md.append(f"sbx supervisor's own VmHWM while the sandbox runs ({mode}): {hw:.2f} MiB "
                  f"(VmRSS then {bl.median([y for _, y in h]) / 1024:.2f} MiB; median of {len(h)}).\n\n")
        summary.append([f"sbx supervisor VmHWM ({mode})", f"{hw:.2f} MiB", "≤ 4 MiB", "met" if hw <= 4 else "not met"])
    if "sbx" in res:
        m = res["sbx"]["median kB"] / 1024
        md.append(bl.target_line(f"sbx run peak RSS ≤ 4 MiB ({mode}, /usr/bin/time %M)", m <= 4, f"{m:.2f} MiB"))
        summary.append([f"sbx run peak RSS, time %M ({mode})", f"{m:.2f} MiB", "≤ 4 MiB", "met" if m <= 4 else "not met"])
    if not os.environ.get("BENCH_NO_PLOTS") and rows:
        svg = f"{docs}/70-memory-{mode}.svg"
        bl.barplot([r[0] for r in rows], [r[1] for r in rows], svg,
                   f"peak RSS starting /bin/true, {mode} (/usr/bin/time %M)", "MiB", hline=4)
        md.append(f"![peak RSS, {mode}](bench/70-memory-{mode}.svg)\n\n")
hdr = ["binary", "path", "size KiB", "shared libs (ldd lines)", "libraries"]
md.append("### Binaries\n\n" + bl.markdown_table(hdr, bins) + "\n")
text.append(bl.text_table(hdr[:4], [b[:4] for b in bins]))
sbx_bin = next((b for b in bins if b[0] == "sbx"), None)
if sbx_bin:
    summary.append(["sbx binary size, shared libs", f"{sbx_bin[2]:.0f} KiB, {sbx_bin[3]} libs", "", "n/a"])
print("\n".join(text))
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump({"rss": rss, "hwm": hwm, "binaries": bins, "findings": findings}, open(out + ".json", "w"), indent=1)
PY
echo "$sec: wrote $out.md"
