#!/bin/bash
# 6. Throughput: sbx run --runtime native of /bin/true back to back
# (BENCH_TP_SERIAL, default 500) and 50 at a time (xargs -P 50,
# BENCH_TP_PARALLEL runs, default 500), then sandboxes per second against
# the number at a time (BENCH_TP_LEVELS, default 1 2 5 10 25 50;
# BENCH_TP_SWEEP runs each, default 200), as root and rootless.  Before and
# after: a snapshot of what a sandbox could leave behind (mounts, processes,
# cgroups, temp and state files); any difference is reported.
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}" "${BENCH_ROOTFS:?}"
sec=60-throughput
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"
serial=${BENCH_TP_SERIAL:-500}
parallel=${BENCH_TP_PARALLEL:-500}
sweep=${BENCH_TP_SWEEP:-200}
levels=${BENCH_TP_LEVELS:-1 2 5 10 25 50}
sbx_run=("$SBX" run --runtime native --rootfs "$BENCH_ROOTFS" -- /bin/true)

# The runner: N runs, P at a time; prints "N P seconds failures exit".  A
# run gets its number as an argument of /bin/true, so xargs starts sbx
# itself (no shell in between).  P=0: a plain loop, back to back.
runner=$BENCH_WORK/tp-run
cat >"$runner" <<'EOF'
#!/bin/bash
set -uo pipefail
n=$1 p=$2 err=$3
shift 3
: >"$err"
start=$(date +%s%N)
rc=0
if [ "$p" = 0 ]; then
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>>"$err" || rc=$?
	done
else
	seq "$n" | xargs -P "$p" -n 1 "$@" >/dev/null 2>>"$err" || rc=$?
fi
end=$(date +%s%N)
fails=$(grep -cv 'notice' "$err" || true)
echo "$n $p $(((end - start) / 1000)) $fails $rc"
EOF
chmod 0755 "$runner"

# snapshot MODE FILE: what a sandbox could leave behind, as JSON.  Read as
# root where we are root (the user's processes and dirs included).
snapshot() {
	local mode=$1 file=$2 home xdg
	if [ "$mode" = rootless ] && [ "$uid" = 0 ]; then
		home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
		xdg=/run/user/$(id -u "$BENCH_USER")
	else
		home=$HOME
		xdg=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
	fi
	"$BENCH_PYTHON" - "$mode" "$home" "$xdg" "$SBX" "$BENCH_WORK" >"$file" <<'PY'
import glob, json, os, sys
mode, home, xdg, sbx, work = sys.argv[1:]
snap = {}
mounts = open("/proc/self/mountinfo").read().splitlines()
# Fields 4 and 5 (root, mount point) and the source: mount ids change.
def key(line):
    f = line.split()
    return " ".join(f[3:5] + f[f.index("-") + 1:f.index("-") + 3])
snap["mount count"] = [str(len(mounts))]
snap["mounts naming sbx or the bench dir"] = sorted(
    key(l) for l in mounts if "sbx" in l or work in l)
procs = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        comm = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        continue
    if not comm.startswith("sbx"):
        continue
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = "?"
    procs.append(f"{pid} {comm} {exe}" + ("" if exe.startswith(sbx) else " (not this sbx)"))
snap["processes named sbx*"] = sorted(procs)
cg = []
for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
    if not os.path.isdir(base):
        continue
    for dirpath, dirs, _ in os.walk(base):
        if dirpath.count("/") - base.count("/") > 6:
            dirs[:] = []
            continue
        for d in dirs:
            if d.startswith("sbx"):
                cg.append(os.path.join(dirpath, d))
snap["cgroups named sbx*"] = sorted(set(cg))
snap["/tmp/sbx*"] = sorted(glob.glob("/tmp/sbx*"))
def listing(d):
    out = []
    for dirpath, dirs, files in os.walk(d):
        out += [os.path.join(dirpath, n) for n in dirs + files]
    return sorted(out)
snap["/run/sbx"] = listing("/run/sbx")
snap[f"{xdg}/sbx"] = listing(f"{xdg}/sbx")
if mode == "root" and os.geteuid() == 0:
    store, cache = "/var/lib/sbx", "/var/cache/sbx/seccomp"
else:
    store, cache = f"{home}/.local/share/sbx", f"{home}/.cache/sbx/seccomp"
snap[f"{store}/tmp"] = listing(f"{store}/tmp")
snap[f"{cache} (not *.bpf)"] = [p for p in listing(cache) if not p.endswith(".bpf")]
json.dump(snap, sys.stdout, indent=1)
PY
}

modes=(rootless)
if [ "$uid" = 0 ]; then
	modes=(root)
	id "$BENCH_USER" >/dev/null 2>&1 && modes+=(rootless) || echo "$sec: no user $BENCH_USER: rootless skipped" >&2
fi
for mode in "${modes[@]}"; do
	res=$out-$mode.runs
	: >"$res"
	err=$BENCH_WORK/tp-err-$mode
	[ "$mode" = rootless ] && [ "$uid" = 0 ] && err=$BENCH_STATE_USER/tp-err
	# One run first: the seccomp cache is filled before the snapshot.
	as "$mode" "${sbx_run[@]}" >/dev/null 2>&1 || true
	snapshot "$mode" "$out-$mode.before.json"
	echo "== $mode: $serial back to back, $parallel 50 at a time"
	as "$mode" "$runner" "$serial" 0 "$err" "${sbx_run[@]}" | sed 's/^/serial /' | tee -a "$res"
	[ -s "$err" ] && head -n 3 "$err" | sed "s/^/$mode serial: /" >>"$out.findings"
	as "$mode" "$runner" "$parallel" 50 "$err" "${sbx_run[@]}" | sed 's/^/parallel /' | tee -a "$res"
	[ -s "$err" ] && head -n 3 "$err" | sed "s/^/$mode 50 at a time: /" >>"$out.findings"
	echo "== $mode: $sweep runs at each of: $levels at a time"
	for p in $levels; do
		as "$mode" "$runner" "$sweep" "$p" "$err" "${sbx_run[@]}" | sed 's/^/sweep /' | tee -a "$res"
		[ -s "$err" ] && head -n 3 "$err" | sed "s/^/$mode $p at a time: /" >>"$out.findings"
	done
	sleep 1 # a sandbox's last exit is reaped by its parent, already waited
	snapshot "$mode" "$out-$mode.after.json"
done

"$BENCH_PYTHON" - "$out" "${modes[@]}" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out, modes = sys.argv[1], sys.argv[2:]
docs = os.environ["BENCH_DOCS"]
findings = [l.rstrip("\n") for l in open(out + ".findings") if l.strip()]
md = ["## 6. Throughput and leaks\n\n",
      "`sbx run --runtime native --rootfs TREE -- /bin/true` many times: back to back (a shell loop), "
      "then N at a time with `seq COUNT | xargs -P N -n 1 sbx run ... -- /bin/true` (each run's number "
      "is an argument of /bin/true, so xargs starts sbx itself), on "
      f"{os.cpu_count()} cores. Wall time by `date +%s%N` around each batch.\n\n"]
summary, raw, series = [], {}, {}
for mode in modes:
    runs = []
    for line in open(f"{out}-{mode}.runs"):
        kind, n, p, us, fails, rc = line.split()
        n, p, us, fails = int(n), int(p), int(us), int(fails)
        runs.append({"kind": kind, "runs": n, "at a time": p or 1, "seconds": us / 1e6,
                     "per second": n / (us / 1e6) if us else float("nan"), "failures": fails, "exit": int(rc)})
    raw[mode] = {"runs": runs}
    rows = [[("back to back" if r["kind"] == "serial" else f"{r['at a time']} at a time")
             + (" (sweep)" if r["kind"] == "sweep" else ""), r["runs"], r["seconds"], r["per second"],
             r["failures"]] for r in runs]
    md.append(f"### {mode}\n\n" + bl.markdown_table(
        ["batch", "runs", "seconds", "sandboxes/s", "failed runs"], rows) + "\n")
    print(f"{mode}:\n" + bl.text_table(["batch", "runs", "seconds", "sandboxes/s", "failed runs"], rows))
    series[mode] = ([r["at a time"] for r in runs if r["kind"] == "sweep"],
                    [r["per second"] for r in runs if r["kind"] == "sweep"])
    for r in runs:
        if r["kind"] in ("serial", "parallel"):
            what = "back to back" if r["kind"] == "serial" else "50 at a time"
            summary.append([f"throughput {what} ({mode})", f"{r['per second']:.1f} sandboxes/s"
                            + (f", {r['failures']} failed" if r["failures"] else ""), "", "n/a"])
    before = json.load(open(f"{out}-{mode}.before.json"))
    after = json.load(open(f"{out}-{mode}.after.json"))
    leaks = {}
    for k in sorted(set(before) | set(after)):
        b, a = set(before.get(k, [])), set(after.get(k, []))
        if a != b:
            leaks[k] = {"added": sorted(a - b), "gone": sorted(b - a)}
    raw[mode]["snapshot"] = {"before": before, "after": after, "difference": leaks}
    md.append(f"Leaks ({mode}): a snapshot before the first batch and after the last of: "
              + ", ".join(f"`{k}`" for k in sorted(before)) + ".\n\n")
    ours = {k: v for k, v in leaks.items()
            if not all("(not this sbx)" in x for x in v["added"] + v["gone"])}
    if not leaks:
        md.append("No difference: nothing left behind.\n\n")
    else:
        md.append("Differences (entries of other sbx binaries — the machine is shared — are marked):\n\n")
        for k, v in leaks.items():
            md.append(f"- `{k}`: added {v['added'] or 'none'}; gone {v['gone'] or 'none'}\n")
        md.append("\n")
    added = sum(len(v["added"]) for v in ours.values())
    md.append(bl.target_line(f"zero leaks after {sum(r['runs'] for r in runs)} sandboxes ({mode})",
                             added == 0, f"{added} entries added"))
    summary.append([f"leaks after the throughput runs ({mode})", str(added), "0",
                    "met" if added == 0 else "not met"])
    print(f"{mode}: leaks: " + ("none" if not leaks else json.dumps(leaks)))
if findings:
    md.append("Errors the runs printed (first lines):\n\n```\n" + "\n".join(findings) + "\n```\n\n")
if not os.environ.get("BENCH_NO_PLOTS") and any(xs for xs, _ in series.values()):
    xs = next(xs for xs, _ in series.values() if xs)
    bl.lineplot(xs, {m: ys for m, (x, ys) in series.items() if x == xs},
                f"{docs}/60-throughput.svg", "sbx run of /bin/true: throughput",
                "sandboxes at a time (xargs -P)", "sandboxes per second", logx=True)
    md.append("![throughput against concurrency](bench/60-throughput.svg)\n\n")
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump(raw, open(out + ".json", "w"), indent=1)
PY
echo "$sec: wrote $out.md"
