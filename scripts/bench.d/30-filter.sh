#!/bin/bash
# Section 30 of `make bench`: what the seccomp filter costs per system call
# and per run.
#
# tests/bench/syscall_loop (static) times N getppid calls (allowed with no
# argument test: the kernel's constant-action bitmap can skip every BPF
# program) and N ioctl(FIONREAD) calls (profiles/default.json tests ioctl's
# request in a stacked filter) inside `sbx run --runtime native` with
#   default      profiles/default.json (sbx's default)
#   containers   /usr/share/containers/seccomp.json (podman's, containers-common)
#   floor        --seccomp unconfined, and the program installs a
#                1-instruction SECCOMP_RET_ALLOW filter itself: any filter's floor
#   unconfined   --seccomp unconfined (sbx still loads its host-safety filter)
#   host         the program on the host, no sandbox, no filter (a reference)
# each BENCH_LOOP_RUNS times, interleaved, as root and as $BENCH_USER (run
# as a user: that user only).
# Then the start-up cost of loading the filter: hyperfine of /bin/true with
# the default profile against --seccomp unconfined, and what `sbx run -v`
# says about the BPF cache.
#
# Environment (scripts/bench sets it; defaults for running this alone):
# BENCH_WORK BENCH_OUT BENCH_RUNS SBX BENCH_ROOTFS BENCH_USER, and
# BENCH_LOOP_N (calls per run, default 2000000), BENCH_LOOP_RUNS (runs per
# configuration, default BENCH_RUNS up to 15).
set -euo pipefail
name=30-filter
. "$(dirname "$0")/alone.sh"
: "${BENCH_LOOP_N:=2000000}"
: "${BENCH_LOOP_RUNS:=$((BENCH_RUNS < 15 ? BENCH_RUNS : 15))}"

skip() {
	echo "$name: SKIP: $*" >&2
	{
		echo "## 3. Seccomp filter cost per system call"
		echo
		echo "SKIP: $*"
	} >"$md"
	printf 'seccomp filter cost\tskipped\t-\tn/a\n' >"$BENCH_OUT/$name.summary.tsv"
	exit 0
}

command -v hyperfine >/dev/null || skip "hyperfine is not installed"
[ -x "$SBX" ] || skip "no sbx at $SBX"
loop=tests/bench/syscall_loop
if ! make -s "$loop" >&2; then
	skip "cannot build $loop (gcc -static needs libc6-dev's libc.a)"
fi

# The rootfs: a copy of the busybox one with the loop in /bin.
rootfs=$work/rootfs
if [ -n "${BENCH_ROOTFS:-}" ] && [ -d "$BENCH_ROOTFS" ]; then
	cp -a "$BENCH_ROOTFS" "$rootfs"
else
	command -v busybox >/dev/null || skip "no BENCH_ROOTFS and no busybox to make one"
	mkdir -p "$rootfs"/{bin,proc,dev,sys,tmp,workspace,etc}
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	ln -s busybox "$rootfs/bin/true"
	touch "$rootfs"/etc/{hosts,hostname,resolv.conf}
fi
cp "$loop" "$rootfs/bin/syscall_loop"
chmod -R a+rX "$work"

containers=/usr/share/containers/seccomp.json
profiles=(default)
[ -f "$containers" ] && profiles+=(containers)
profiles+=(floor unconfined)

as_user() { # mode command...
	if [ "$1" = root ] || [ "$(id -u)" != 0 ]; then
		shift
		"$@"
	else
		shift
		runuser -u "$BENCH_USER" -- "$@"
	fi
}

sbx_loop() { # mode profile syscall
	local mode=$1 prof=$2 sc=$3 seccomp extra=()
	case $prof in
	default) seccomp=default ;;
	containers) seccomp=$containers ;;
	floor) seccomp=unconfined extra=(--floor) ;;
	unconfined) seccomp=unconfined ;;
	esac
	as_user "$mode" "$SBX" run --runtime native --seccomp "$seccomp" --rootfs "$rootfs" \
		-- /bin/syscall_loop "$sc" "$BENCH_LOOP_N" "${extra[@]}" 2>"$work/err" || {
		echo "$name: $mode $prof $sc failed: $(tail -n 3 "$work/err")" >&2
		echo nan
	}
}

modes=(root)
if [ "$(id -u)" != 0 ]; then
	modes=(rootless)
	"$SBX" run --runtime native --rootfs "$rootfs" -- /bin/true 2>"$work/err" ||
		skip "sbx does not run as $(id -un) here: $(tail -n 1 "$work/err")"
elif id "$BENCH_USER" >/dev/null 2>&1 &&
	runuser -u "$BENCH_USER" -- "$SBX" run --runtime native --rootfs "$rootfs" -- /bin/true 2>"$work/err"; then
	modes+=(rootless)
else
	echo "rootless: sbx does not run as $BENCH_USER here: $(tail -n 1 "$work/err" 2>/dev/null)" >"$work/rootless-refused"
fi

# Which allowed syscalls the stacked filters keep off the kernel's bitmap.
if make -s tests/bench/bitmap-check >&2; then
	for prof in profiles/default.json "$containers" unconfined; do
		[ "$prof" = unconfined ] || [ -f "$prof" ] || continue
		echo "== $prof" >>"$work/bitmap.txt"
		tests/bench/bitmap-check "$prof" >>"$work/bitmap.txt" 2>&1 || true
	done
else
	echo "(tests/bench/bitmap-check did not build)" >"$work/bitmap.txt"
fi

# The BPF cache: the first run after a build compiles, the next load it.
for mode in "${modes[@]}"; do
	for i in 1 2; do
		as_user "$mode" "$SBX" run -v --runtime native --rootfs "$rootfs" -- /bin/true 2>&1 |
			grep 'seccomp:' | sed "s/^/$mode run $i: /" >>"$work/cache.txt" || true
	done
done

echo "== $name: ns per call, $BENCH_LOOP_N calls, $BENCH_LOOP_RUNS runs per configuration (${modes[*]})" >&2
samples=$work/samples.tsv
: >"$samples"
for ((run = 1; run <= BENCH_LOOP_RUNS; run++)); do
	for sc in getppid ioctl; do
		printf '%s\thost\t%s\t%s\n' "${modes[0]}" "$sc" "$("$rootfs/bin/syscall_loop" "$sc" "$BENCH_LOOP_N")" >>"$samples"
		# The cost of each program the kernel runs once a syscall leaves
		# the bitmap: K stacked 4-instruction filters, on the host.
		for k in 1 2 3; do
			printf '%s\tstacked%s\t%s\t%s\n' "${modes[0]}" "$k" "$sc" \
				"$("$rootfs/bin/syscall_loop" "$sc" "$BENCH_LOOP_N" --stacked "$k")" >>"$samples"
		done
		for mode in "${modes[@]}"; do
			for prof in "${profiles[@]}"; do
				printf '%s\t%s\t%s\t%s\n' "$mode" "$prof" "$sc" "$(sbx_loop "$mode" "$prof" "$sc")" >>"$samples"
			done
		done
	done
	printf '.' >&2
done
echo >&2

# Start-up: the filter's load is the difference of the two medians (the
# host-safety filter is loaded in both).
for mode in "${modes[@]}"; do
	json=$work/startup-$mode.json
	[ "$mode" = root ] || [ "$(id -u)" != 0 ] || chown "$BENCH_USER" "$work"
	# A user's BPF cache is under $XDG_CACHE_HOME: a directory that does
	# not exist means none, so every run compiles (root's is fixed).
	cold=()
	if [ "$mode" = rootless ]; then
		cold=(-n "default, no BPF cache" "env XDG_CACHE_HOME=$work/absent $SBX run --runtime native --rootfs $rootfs -- /bin/true")
	fi
	as_user "$mode" hyperfine -N --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" --export-json "$json" \
		-n default "env $SBX run --runtime native --rootfs $rootfs -- /bin/true" \
		-n unconfined "env $SBX run --runtime native --seccomp unconfined --rootfs $rootfs -- /bin/true" "${cold[@]}" >&2
done
[ "$(id -u)" != 0 ] || chown root "$work"

"$BENCH_PYTHON" - "$work" "$BENCH_OUT" "$name" "$BENCH_LOOP_N" "$BENCH_LOOP_RUNS" "$BENCH_RUNS" "$BENCH_USER" \
	"$BENCH_DOCS" "${BENCH_NO_PLOTS:-}" <<'PY'
import json, os, statistics, sys
sys.path.insert(0, "scripts")
import benchlib as bl

work, out, name, n_calls, loop_runs, runs, user, docs, no_plots = sys.argv[1:10]
samples = {}
for line in open(f"{work}/samples.tsv"):
    mode, prof, sc, v = line.rstrip("\n").split("\t")
    samples.setdefault((mode, prof, sc), []).append(float(v))
modes = [m for m in ("root", "rootless") if any(k[0] == m and k[1] == "floor" for k in samples)]
hm = modes[0]  # the mode the host references ran in
profs = [p for p in ("host", "unconfined", "floor", "containers", "default") if any(k[1] == p for k in samples)]
label = {"host": "host, no sandbox, no filter", "unconfined": "sbx --seccomp unconfined (host-safety filter only)",
         "floor": "sbx unconfined + 1-insn allow filter (floor)", "containers": "sbx --seccomp containers seccomp.json",
         "default": "sbx --seccomp default (profiles/default.json)"}

def med(k):
    v = [x for x in samples.get(k, []) if x == x]
    return statistics.median(v) if v else float("nan")

def iqr(k):
    v = sorted(x for x in samples.get(k, []) if x == x)
    if len(v) < 4:
        return (max(v) - min(v)) if v else float("nan")
    q = statistics.quantiles(v, n=4)
    return q[2] - q[0]

rows, md_rows = [], []
for mode in modes:
    for p in profs:
        if p == "host" and mode != hm:
            continue
        r = [mode, label[p]]
        for sc in ("getppid", "ioctl"):
            m, f = med((mode, p, sc)), med((mode, "floor", sc))
            r += [m, iqr((mode, p, sc)), m - f]
        rows.append(r)
hdr = ["mode", "configuration", "getppid ns", "IQR", "- floor", "ioctl ns", "IQR", "- floor"]
text = bl.text_table(hdr, rows)
print(text)

# Targets, per mode.  "Within noise": the floor's own spread (IQR of its
# runs), at least 1 % of it.
summary, targets = [], []
for mode in modes:
    fg, fi = med((mode, "floor", "getppid")), med((mode, "floor", "ioctl"))
    dg, di = med((mode, "default", "getppid")), med((mode, "default", "ioctl"))
    noise = max(iqr((mode, "floor", "getppid")), 0.01 * fg)
    met = dg <= fg + noise
    targets.append(bl.target_line(f"{mode}: an arg-free allowed syscall (getppid) under the default profile costs no more than the 1-insn floor",
                                  met, f"{dg:.1f} ns vs floor {fg:.1f} ns, noise {noise:.1f} ns"))
    summary.append([f"getppid, default profile - 1-insn floor ({mode})", f"{dg - fg:+.1f} ns", "<= 0 (noise)", "met" if met else "not met"])
    met = di <= fi + 40
    first = med((hm, "stacked1", "ioctl")) - med((hm, "floor", "ioctl"))
    per = (med((hm, "stacked3", "ioctl")) - med((hm, "stacked1", "ioctl"))) / 2
    why = (f"off the bitmap the kernel runs all three of sbx's stacked programs (H, B, A); on the host the first "
           f"program costs {first:+.0f} ns over the floor and each further one {per:+.0f} ns (the table of stacked programs)")
    targets.append(bl.target_line(f"{mode}: an arg-filtered syscall (ioctl FIONREAD) under the default profile costs at most the floor + 40 ns",
                                  met, f"{di:.1f} ns vs floor {fi:.1f} ns: {di - fi:+.1f} ns", "" if met else why))
    summary.append([f"ioctl, default profile - 1-insn floor ({mode})", f"{di - fi:+.1f} ns", "<= +40 ns", "met" if met else "not met"])

# Start-up.
startup, su_md = {}, ""
for mode in modes:
    res = bl.load_hyperfine(f"{work}/startup-{mode}.json")
    startup[mode] = res
    m = bl.medians(res)
    cost = (m["default"] - m["unconfined"]) * 1e3
    md_tab, txt = bl.ratio_table(res, "default")
    print(f"start-up, {mode}:\n{txt}")
    su_md += f"\n{mode}:\n\n{md_tab}"
    met = cost <= 0.5
    targets.append(bl.target_line(f"{mode}: the default filter loads in <= 0.5 ms per run", met,
                                  f"median start-up default - unconfined = {cost:+.3f} ms"))
    summary.append([f"seccomp filter load per run ({mode})", f"{cost:+.3f} ms", "<= 0.5 ms", "met" if met else "not met"])
    if "default, no BPF cache" in m:
        cold = (m["default, no BPF cache"] - m["unconfined"]) * 1e3
        summary.append([f"seccomp filter compile + load, no BPF cache ({mode})", f"{cold:+.3f} ms", "", "n/a"])

# Programs per syscall off the bitmap: host, no sandbox.
stk_rows = []
for k in (0, 1, 2, 3):
    p = "host" if k == 0 else f"stacked{k}"
    stk_rows.append([k, med((hm, p, "ioctl")), med((hm, p, "ioctl")) - med((hm, "floor", "ioctl")),
                     med((hm, p, "getppid"))])
stk_hdr = ["programs", "ioctl ns", "ioctl - sbx floor", "getppid ns"]
print("stacked 4-insn programs reading ioctl's request, on the host:\n" + bl.text_table(stk_hdr, stk_rows))

bitmap = open(f"{work}/bitmap.txt").read().strip()
print(bitmap)

cache = open(f"{work}/cache.txt").read().strip() if os.path.exists(f"{work}/cache.txt") else "(no -v output)"
refused = open(f"{work}/rootless-refused").read().strip() if os.path.exists(f"{work}/rootless-refused") else ""

# Plot: ns per call per configuration, getppid and ioctl side by side.
def plot(svg):
    plt = bl._pyplot()
    keys = [(mode, p) for mode in modes for p in profs if not (p == "host" and mode != hm)]
    short = {"host": "host\n(no filter)", "unconfined": "unconfined", "floor": "1-insn\nfloor",
             "containers": "containers\nseccomp.json", "default": "default"}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(keys) + 2), 4.4))
    w = 0.4
    for j, sc in enumerate(("getppid", "ioctl")):
        vals = [med((m, p, sc)) for m, p in keys]
        xs = [i + (j - 0.5) * w for i in range(len(keys))]
        ax.bar(xs, vals, w, label=sc if sc == "getppid" else "ioctl (FIONREAD)")
        for x, v in zip(xs, vals):
            ax.annotate(f"{v:.0f}", (x, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([short[p] + ("" if m == "root" or p == "host" else "\n(rootless)") for m, p in keys], fontsize=8)
    ax.set_ylabel("ns per call (median)")
    ax.set_title(f"System call cost per seccomp configuration ({n_calls} calls, {loop_runs} runs)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    bl._save(plt, fig, svg)


if not no_plots:
    plot(f"{docs}/30-filter.svg")

json.dump({"calls_per_run": int(n_calls), "samples_ns": {"/".join(k): v for k, v in samples.items()},
           "startup": {m: r for m, r in startup.items()}, "bpf_cache": cache.splitlines()},
          open(f"{out}/{name}.json", "w"), indent=1)
bl.write_summary(f"{out}/{name}.summary.tsv", summary)

with open(f"{out}/{name}.md", "w") as f:
    f.write(f"""## 3. Seccomp filter cost per system call

A static loop (`tests/bench/syscall_loop`, `gcc -O2 -static`) times {n_calls} calls with
`clock_gettime` and prints ns per call: `getppid` (no arguments: a filter allowing it by number lets
the kernel's constant-action bitmap skip the BPF programs) and `ioctl(pipe, FIONREAD)` (allowed, but
profiles/default.json tests ioctl's request number against TIOCSTI, TIOCLINUX, TIOCSETD and TIOCCONS
in a stacked filter, so every ioctl runs the programs). Each configuration ran {loop_runs} times,
interleaved; medians and interquartile ranges below. "floor" is `--seccomp unconfined` with the
program installing a 1-instruction `SECCOMP_RET_ALLOW` filter itself (after `PR_SET_NO_NEW_PRIVS`):
the least any filter costs, since a task with any filter takes the kernel's slow syscall-entry path.
sbx loads its host-safety filter (no set-id modes, no openat2/io_uring) even with
`--seccomp unconfined`, so "unconfined" is not filter-free: "host" is the program outside any
sandbox.

```
sbx run --runtime native --seccomp default|/usr/share/containers/seccomp.json|unconfined \\
    --rootfs ROOTFS -- /bin/syscall_loop getppid|ioctl {n_calls} [--floor]
```

Rootless: the same commands under `runuser -u {user} --`.
{("Rootless NOT measured: " + refused) if refused else ""}

{bl.markdown_table(hdr, rows)}
{"" if no_plots else "![ns per call per seccomp configuration](bench/30-filter.svg)"}

Why an argument test costs what it does: once a syscall is off the bitmap the kernel runs every
stacked program, and sbx stacks three (its host-safety filter, then the profile's stricter argument
rules, then the profile). The same ioctl loop on the host with K stacked 4-instruction programs that
read ioctl's request and allow (`syscall_loop ioctl N --stacked K`; getppid stays on the bitmap):

{bl.markdown_table(stk_hdr, stk_rows)}
Which syscalls leave the bitmap: `tests/bench/bitmap-check PROFILE` runs the kernel's own emulation
(kernel/seccomp.c, `seccomp_is_const_allow`) over sbx's filters for x86_64 and lists the syscalls the
profile allows by number alone that are still off the bitmap, with the filters responsible: H, the
host-safety filter (set-id bits of new and chmod-ed files; openat2 and io_uring_setup ENOSYS), B, the
profile's stricter argument rules:

```
{bitmap}
```

Per-run cost of loading the filter: start-up of `/bin/true` with the default profile against
`--seccomp unconfined` (one `hyperfine -N`, {runs} runs each, every command under `env`), the
difference of the medians; for a user also with `XDG_CACHE_HOME` set to a directory that does not
exist, so that no BPF cache is found and every run compiles the profile with libseccomp (root's cache
is always /var/cache/sbx/seccomp).
What `sbx run -v` said about the compiled BPF (the first run after a build compiles and stores it):

```
{cache}
```
{su_md}
""")
    f.write("\n" + "".join(targets))
print("".join(targets))
PY
