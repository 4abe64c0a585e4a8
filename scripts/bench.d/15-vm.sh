#!/bin/bash
# 1b. Start-up where cgroup v2 has real controllers: inside the test VM
# (tests/vm: Debian's cloud kernel under qemu -accel tcg, pure cgroup v2),
# as root, (a) the cgroup's cost: sbx with no limit (no cgroup made), its
# default limits and every limit (a cgroup with limits), and (b) sbx against
# crun, which refuses on this hybrid host, bubblewrap and runc, the same
# busybox tree.  The in-VM script (busybox sh, written below) runs hyperfine
# there and prints its JSON on the console between markers; tests/vm/run
# boots it (SBX_VM_SCRIPT, SBX_VM_EXTRA) and this section reads the log.
# Run by scripts/bench, which sets the BENCH_* names.
#   BENCH_VM_RUNS    hyperfine runs per command in the VM (default 30: a
#                    run of /bin/true takes 50 to 500 ms under TCG, the
#                    whole VM about two minutes)
#   BENCH_VM_WARMUP  warm-up runs (default 5)
#   BENCH_VM_ROUNDS  the runs are split into this many hyperfine runs,
#                    every other one in reverse order (default 5)
#   BENCH_VM_SMP     the VM's CPUs (default 1: steadier times)
#   SBX_VM_TIMEOUT   seconds for the whole VM (default here 1800)
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}" "${BENCH_BUNDLES:?}"
sec=15-vm
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"
vm_runs=${BENCH_VM_RUNS:-30}
vm_warm=${BENCH_VM_WARMUP:-5}
vm_rounds=${BENCH_VM_ROUNDS:-5}
# One emulated CPU: with two, qemu's two CPU threads compete with each other
# and with whatever else this machine runs, and the times were bimodal.
vm_smp=${BENCH_VM_SMP:-1}
vm_per=$(((vm_runs + vm_rounds - 1) / vm_rounds))
[ "$vm_per" -ge 2 ] || vm_per=2
vm_runs=$((vm_per * vm_rounds))

[ "$uid" = 0 ] || skip "not root: tests/vm/run as a user cannot compare as root in the VM (run scripts/bench as root)"
command -v crun >/dev/null || skip "crun is not installed (apt-get install crun; scripts/deps --bench does)"
[ -e "$BENCH_BUNDLES/crun-root/config.json" ] || skip "no crun bundle in $BENCH_BUNDLES (scripts/bench makes it)"

# The image gets hyperfine and the peers the host has, with their libraries.
extra=hyperfine
for p in crun runc bwrap; do
	command -v "$p" >/dev/null && extra="$extra $p"
done

vm=$BENCH_WORK/vm
rm -rf "$vm"
mkdir -p "$vm"
script=$vm/bench.sh
# The VM's tree: the busybox tree scripts/bench makes, rebuilt there from
# the image's busybox (the same static binary).
vroot=/srv/bench/rootfs
{
	echo "#!/bin/sh"
	echo "# made by scripts/bench.d/15-vm.sh; run by the VM's /init (tests/vm/run SBX_VM_SCRIPT)"
	echo "# shellcheck disable=SC2086 # the command lines are split into their words"
	echo "ROUNDS=$vm_rounds PER=$vm_per WARM=$vm_warm R=$vroot"
	# The OCI bundles of the host's run (scripts/bench: each runtime's own
	# `spec`, /bin/true, read-only root), their root moved to the VM's tree.
	for rt in crun runc; do
		b=$BENCH_BUNDLES/$rt-root/config.json
		[ -e "$b" ] || continue
		echo "mkdir -p /srv/bench/$rt"
		echo "cat > /srv/bench/$rt/config.json <<'CONFIG'"
		"$BENCH_PYTHON" - "$b" "$vroot" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[2]
print(json.dumps(c, indent=1))
PY
		echo "CONFIG"
	done
	cat <<'VMSCRIPT'
SBX=/opt/sbx/sbx
B=/srv/bench
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin
TAB=$(printf '\t')
say() { echo "VMBENCH: $*"; }
# emit NAME FILE: the file on the console, a line "VMBENCH-DATA NAME: LINE"
# per line; the host puts NAME back together.
emit() { sed "s|^|VMBENCH-DATA $1: |" "$2"; }
finding() { # name rc text
	printf 'root\t%s\t%s\t%s\n' "$1" "$2" "$3" >> "$B/findings.tsv"
	say "finding: $1 ($2): $3"
}
# try NAME CMD...: run once; a refusal is a finding (its last error line).
try() {
	n=$1
	shift
	timeout 300 "$@" </dev/null >/dev/null 2>"$B/err"
	rc=$?
	[ "$rc" = 0 ] && return 0
	finding "$n" "$rc" "refused, exit $rc: $(grep -v '^[[:space:]]*$' "$B/err" | tail -n 1)"
	return 1
}
# hf LABEL: the commands of $B/LABEL.cmds (NAME<TAB>CMD) in ROUNDS
# hyperfine runs of PER runs each, the order reversed every other round: a
# load on the host that comes and goes falls on every command alike (one
# hyperfine run measures its commands one after the other).  The host
# merges the rounds.
hf() {
	label=$1
	k=1
	say "hyperfine $label: $ROUNDS rounds of $PER runs, $WARM warm-up"
	while [ "$k" -le "$ROUNDS" ]; do
		set --
		while IFS=$TAB read -r n c; do
			if [ $((k % 2)) = 1 ]; then set -- "$@" -n "$n" "$c"; else set -- -n "$n" "$c" "$@"; fi
		done < "$B/$label.cmds"
		w=1
		[ "$k" = 1 ] && w=$WARM
		f=$B/$label.$k.json
		if ! hyperfine -N --style basic --warmup "$w" --runs "$PER" --export-json "$f" "$@" > "$B/$label.log" 2>&1; then
			finding hyperfine - "a command failed in round $k of $label; measured again with --ignore-failure"
			hyperfine -N -i --style basic --warmup "$w" --runs "$PER" --export-json "$f" "$@" > "$B/$label.log" 2>&1
		fi
		emit "$label.$k.json" "$f"
		k=$((k + 1))
	done
	emit "$label.cmds" "$B/$label.cmds"
}
add() { printf '%s\t%s\n' "$2" "$3" >> "$B/$1.cmds"; } # label name cmd

mkdir -p "$B" "$R"/bin "$R"/proc "$R"/dev/shm "$R"/sys "$R"/tmp "$R"/workspace "$R"/etc /run/crun /run/runc
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/true"
ln -s busybox "$R/bin/sh"
touch "$R/etc/hosts" "$R/etc/hostname" "$R/etc/resolv.conf"
chmod -R a+rX "$B"
: > "$B/findings.tsv"
say "info kernel: $(uname -r)"
say "info cgroup controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
say "info cpus: $(grep -c ^processor /proc/cpuinfo)"
for p in hyperfine crun runc bwrap; do
	command -v "$p" >/dev/null && say "info version $p: $("$p" --version 2>&1 | head -n 1)"
done

# (b) sbx and its peers, as 10-startup runs them on the host.
sbx="$SBX run --runtime native --rootfs $R -- /bin/true"
bwrap="bwrap --unshare-all --die-with-parent --new-session --ro-bind $R / --proc /proc --dev /dev --tmpfs /tmp --tmpfs /workspace --chdir /workspace --clearenv /bin/true"
try sbx $sbx && add peers sbx "$sbx"
# sbx with no cgroup: bubblewrap, and crun here, hold no limits.
sbx0="$SBX run --runtime native --rootfs $R --memory 0 --pids 0 -- /bin/true"
try "sbx (no limits)" $sbx0 && add peers "sbx (no limits)" "$sbx0"
if command -v bwrap >/dev/null; then
	try bwrap $bwrap && add peers bwrap "$bwrap"
else
	finding bwrap - "not installed on the host"
fi
for rt in crun runc; do
	if ! command -v "$rt" >/dev/null; then
		finding "$rt" - "not installed on the host"
		continue
	fi
	c="$rt --root /run/$rt run --bundle $B/$rt bench-$rt"
	if try "$rt" $c; then
		add peers "$rt" "$c"
	elif [ "$rt" = crun ]; then
		c="crun --cgroup-manager=disabled --root /run/crun run --bundle $B/crun bench-crun"
		try "crun --cgroup-manager=disabled" $c && add peers "crun (no cgroups)" "$c"
	fi
done
hf peers

# (a) the cgroup's cost: no limit (sbx makes no cgroup), the defaults, every limit.
add limits "no limits" "$SBX run --runtime native --rootfs $R --memory 0 --pids 0 -- /bin/true"
add limits "default limits" "$SBX run --runtime native --rootfs $R -- /bin/true"
add limits "memory 1g cpus 1 pids 100" "$SBX run --runtime native --rootfs $R --memory 1g --cpus 1 --pids 100 -- /bin/true"
hf limits
# What holds the limits (sbx --json's limits_enforced_by): the cgroup here.
for l in "--memory 0 --pids 0" "" "--memory 1g --cpus 1 --pids 100"; do
	"$SBX" run --runtime native --rootfs "$R" --json "$B/run.json" $l -- /bin/true </dev/null >/dev/null 2>"$B/err"
	echo "${l:-defaults}$TAB$(tr -d '\n' < "$B/run.json")" >> "$B/enforced.tsv"
done
emit enforced.tsv "$B/enforced.tsv"
# The kernel's share: a cgroup with the same controllers (memory, cpu,
# pids: the root's subtree_control) made and removed by a shell, against a
# plain directory.
add floor "cgroup mkdir+rmdir" "sh -c 'mkdir /sys/fs/cgroup/bench-floor && rmdir /sys/fs/cgroup/bench-floor'"
add floor "directory mkdir+rmdir" "sh -c 'mkdir /tmp/bench-floor && rmdir /tmp/bench-floor'"
hf floor
emit findings.tsv "$B/findings.tsv"
say "done"
VMSCRIPT
} >"$script"

echo "== VM (tests/vm, qemu -accel tcg): sbx, crun, runc, bwrap and the cgroup's cost, as root, $vm_runs runs each in $vm_rounds rounds" >&2
rc=0
SBX_VM_SCRIPT=$script SBX_VM_EXTRA=$extra SBX_VM_LOG=$vm/console.log SBX_VM_SMP=$vm_smp \
	SBX_VM_TIMEOUT=${SBX_VM_TIMEOUT:-1800} SBX=$SBX \
	"$BENCH_TOP/tests/vm/run" >"$vm/run.out" 2>&1 || rc=$?
cat "$vm/run.out" >&2
if grep -q '^SKIP: vm: ' "$vm/run.out"; then
	skip "$(sed -n 's/^SKIP: vm: //p' "$vm/run.out" | head -n 1)"
fi
cp "$vm/console.log" "$out-console.log" 2>/dev/null || true
if [ "$rc" != 0 ] || ! grep -aq 'VMBENCH: done' "$vm/console.log"; then
	{
		printf '## 1b. Start-up in a VM with cgroup v2\n\nFAILED: the VM run did not finish (tests/vm/run exit %s):\n\n```\n' "$rc"
		tail -n 20 "$vm/run.out"
		printf '```\n'
	} >"$out.md"
	printf '%s\tFAILED (tests/vm/run exit %s)\t\tn/a\n' "$sec" "$rc" >"$out.summary.tsv"
	echo "$sec: the VM run failed; console log: $out-console.log" >&2
	exit 1
fi

# The console's data lines back into files: $out-peers.json, ...
tr -d '\r' <"$vm/console.log" | grep -a 'VMBENCH' | sed 's/^.*VMBENCH/VMBENCH/' >"$vm/lines"
"$BENCH_PYTHON" - "$vm/lines" "$out" <<'PY'
import json, os, re, statistics, sys
lines, out = sys.argv[1:]
files = {}
for l in open(lines, errors="replace"):
    if l.startswith("VMBENCH-DATA "):
        name, _, rest = l[len("VMBENCH-DATA "):].partition(": ")
        files.setdefault(name, []).append(rest)


def merge(rounds):
    """One hyperfine result list from the rounds' (every command's times
    together), in the first round's order."""
    times, codes, user, system = {}, {}, {}, {}
    for res in rounds:
        for r in res:
            n = r["command"]
            times.setdefault(n, []).extend(r["times"])
            codes.setdefault(n, []).extend(r.get("exit_codes") or [])
            user.setdefault(n, []).append((r["user"], len(r["times"])))
            system.setdefault(n, []).append((r["system"], len(r["times"])))
    wmean = lambda xs: sum(v * k for v, k in xs) / sum(k for _, k in xs)
    return [{"command": n, "mean": statistics.mean(t), "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
             "median": statistics.median(t), "user": wmean(user[n]), "system": wmean(system[n]),
             "min": min(t), "max": max(t), "times": t, "exit_codes": codes[n]}
            for n, t in times.items()]


for label in ("peers", "limits", "floor"):
    keys = sorted((k for k in files if re.fullmatch(label + r"\.\d+\.json", k)),
                  key=lambda k: int(k.split(".")[1]))
    rounds = [json.loads("".join(files[k]))["results"] for k in keys]
    json.dump({"results": merge(rounds), "rounds": rounds}, open(f"{out}-{label}.json", "w"), indent=1)
    open(f"{out}-{label}.json.cmds", "w").write("".join(files.get(label + ".cmds", [])))
for name, ext in (("enforced.tsv", "-enforced.tsv"), ("findings.tsv", ".findings")):
    open(out + ext, "w").write("".join(files.get(name, [])))
open(out + "-info.txt", "w").write("".join(l[len("VMBENCH: info "):] for l in open(lines, errors="replace")
                                             if l.startswith("VMBENCH: info ")))
PY
touch "$out.findings"

echo "== VM, root: sbx and its peers, start to exit of /bin/true, same tree"
"$BENCH_PYTHON" "$BENCH_LIB" table "$out-peers.json" --base sbx
echo "== VM, root: sbx with no limit (no cgroup), the default limits, every limit (a cgroup)"
"$BENCH_PYTHON" "$BENCH_LIB" table "$out-limits.json" --base "no limits"
echo "== VM, root: the kernel's share: a shell makes and removes a cgroup, a directory"
"$BENCH_PYTHON" "$BENCH_LIB" table "$out-floor.json" --base "directory mkdir+rmdir"

"$BENCH_PYTHON" - "$out" "$vm_runs" "$vm_warm" "$vm_rounds" "$vm_per" "$vm_smp" <<'PY'
import json, os, re, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out, runs, warm, rounds, per, smp = sys.argv[1:]
docs = os.environ["BENCH_DOCS"]
plots = not os.environ.get("BENCH_NO_PLOTS")
findings = [l.rstrip("\n").split("\t") for l in open(out + ".findings") if l.strip()]
info = dict(l.rstrip("\n").split(": ", 1) for l in open(out + "-info.txt") if ": " in l)
enforced = []
for l in open(out + "-enforced.tsv"):
    if "\t" in l:
        opts, js = l.rstrip("\n").split("\t", 1)
        try:
            enforced.append((opts, json.loads(js).get("limits_enforced_by")))
        except ValueError:
            enforced.append((opts, None))
peers = bl.load_hyperfine(out + "-peers.json")
limits = bl.load_hyperfine(out + "-limits.json")
floor = bl.load_hyperfine(out + "-floor.json")
md, summary = [], []
md.append("## 1b. Start-up in a VM with cgroup v2: crun, and the cgroup's cost\n\n")
if os.path.isdir("/sys/fs/cgroup/unified") or not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
    md.append("This host's cgroups are hybrid (or v1): crun refuses to start there and sbx's limits fall "
              "back to rlimits (section 1). ")
else:
    md.append("This host has cgroup v2 (section 1 measures crun and the limits here too); the VM repeats "
              "the comparison on a known kernel. ")
md.append("The same comparison runs again inside the test VM of `make check-vm` "
          f"(tests/vm: `qemu-system-x86_64 -accel tcg -m 1G -smp {smp}`, Debian's cloud kernel "
          f"{info.get('kernel', '?')}, pure cgroup v2 with the controllers `{info.get('cgroup controllers', '?')}` "
          "enabled below the root, as tests/vm/init sets them up), as root: `tests/vm/run` with `SBX_VM_SCRIPT` (scripts/bench.d/15-vm.sh writes the "
          "script: /init runs it instead of the tests) and `SBX_VM_EXTRA=\"hyperfine crun runc bwrap\"` "
          "(the host's binaries with their libraries). hyperfine runs inside the VM, "
          f"{runs} runs per command in {rounds} rounds (`hyperfine -N --runs {per}`, {warm} warm-up runs in the "
          "first round, 1 in the others), every other round in reverse order, so that a load on the host "
          "that comes and goes (qemu's emulated CPU shares this machine's cores with whatever else runs) "
          "falls on every command alike; the rounds' times are merged. Its JSON comes out on the console. "
          "One emulated CPU by default (`BENCH_VM_SMP`, `SBX_VM_SMP` of tests/vm/run): with two, qemu's two "
          "CPU threads competed with each other and with the host's load and the times were bimodal "
          "(stddev three to ten times larger). "
          "The tree is the busybox tree of section 1, rebuilt in the VM; crun's and runc's bundles are "
          "section 1's (each runtime's own `spec`, the root read-only), moved to that tree.\n\n")
md.append("**Under TCG every instruction is emulated, system calls and page faults cost far more than on "
          "hardware: the absolute times below mean little. Only the ratios within this one VM run "
          "(the same emulated machine for every command) are what this section reports.**\n\n")
md.append("### sbx and its peers (VM, root)\n\n")
md.append(bl.ratio_table(peers, "sbx")[0] + "\n")
md.append("Commands (in the VM):\n\n" + bl.commands_block(out + "-peers.json") + "\n")
if plots:
    bl.boxplot(peers, f"{docs}/15-vm-peers.svg", "start to exit of /bin/true, VM (TCG), root")
    md.append("![start-up latency in the VM](bench/15-vm-peers.svg)\n\n")
if findings:
    md.append("Findings (each peer tried once; its last error line):\n\n")
    for _, name, rc, err in findings:
        md.append(f"- **{name}**: {err}\n")
    md.append("\n")
cr = bl.ratio(peers, "sbx", "crun")
crun_label = "crun"
if cr is None:
    cr = bl.ratio(peers, "sbx", "crun (no cgroups)")
    crun_label = "crun (no cgroups)"
if cr is None:
    why = "; ".join(f[3] for f in findings if f[1].startswith("crun")) or "crun did not run"
    md.append(bl.target_line("sbx ahead of crun (VM, root)", None, "n/a", why))
    summary.append(["start-up sbx/crun (VM, root)", "n/a (crun refused)", "< 1", "n/a"])
else:
    md.append(bl.target_line("sbx ahead of crun (VM, root)", cr < 1, f"{cr:.3f}",
                             "crun without cgroups: it refused with them" if crun_label != "crun" else
                             "crun makes its container's cgroup (cgroupfs manager) with the spec's device rules "
                             "(a BPF device program on cgroup v2); sbx with its defaults makes a cgroup with "
                             "memory and pids limits"))
    summary.append(["start-up sbx/crun (VM, root)", f"{cr:.3f}", "< 1", "met" if cr < 1 else "not met"])
bw = bl.ratio(peers, "sbx", "bwrap")
if bw is None:
    md.append(bl.target_line("sbx ≤ 0.7 × bubblewrap's median (VM, root)", None, "n/a", "bwrap did not run"))
    summary.append(["start-up sbx/bwrap (VM, root)", "n/a", "≤ 0.7", "n/a"])
else:
    md.append(bl.target_line("sbx ≤ 0.7 × bubblewrap's median (VM, root)", bw <= 0.7, f"{bw:.3f}",
                             "bubblewrap makes no cgroup; sbx's defaults do (memory 2g, pids 256)"))
    summary.append(["start-up sbx/bwrap (VM, root)", f"{bw:.3f}", "≤ 0.7", "met" if bw <= 0.7 else "not met"])
rr = bl.ratio(peers, "sbx", "runc")
if rr is not None:
    summary.append(["start-up sbx/runc (VM, root)", f"{rr:.3f}", "", "n/a"])
# sbx without its cgroup against the peers: bubblewrap makes none.
for peer in ("bwrap", crun_label):
    r0 = bl.ratio(peers, "sbx (no limits)", peer)
    if r0 is not None:
        summary.append([f"start-up sbx (no limits)/{peer} (VM, root)", f"{r0:.3f}", "", "n/a"])
        md.append(f"sbx with no limit (no cgroup) / {peer}: {r0:.3f}.\n\n")

md.append("### The cgroup's cost (VM, root)\n\n")
md.append("sbx with no limit (`--memory 0 --pids 0`: sbx makes no cgroup), its defaults (memory 2g, "
          "pids 256: a cgroup with those limits) and `--memory 1g --cpus 1 --pids 100`; ratios are of "
          "the no-limit median. The cgroup's cost is mkdir of the sandbox's cgroup, its limit files, "
          "clone3 into it (CLONE_INTO_CGROUP), and at the end cgroup.kill and rmdir.\n\n")
md.append(bl.ratio_table(limits, "no limits")[0] + "\n")
md.append("Commands (in the VM):\n\n" + bl.commands_block(out + "-limits.json") + "\n")
if enforced:
    md.append("What holds the limits there (`sbx run --json`'s `limits_enforced_by`):\n\n")
    for opts, by in enforced:
        md.append(f"- `{opts}`: " + (", ".join(f"{k}: {v}" for k, v in by.items()) if by else "?") + "\n")
    md.append("\n")
if plots:
    bl.boxplot(limits, f"{docs}/15-vm-limits.svg", "sbx: no cgroup vs a cgroup with limits, VM (TCG), root")
    md.append("![the cgroup's cost in the VM](bench/15-vm-limits.svg)\n\n")
meds = bl.medians(limits)
base = meds.get("no limits")
for name, label in (("default limits", "defaults"), ("memory 1g cpus 1 pids 100", "memory 1g cpus 1 pids 100")):
    if base and name in meds:
        d = meds[name] - base
        summary.append([f"cgroup cost, {label} (VM, root)",
                        f"{bl.ms(d):+.2f} ms ({100 * d / base:+.1f} %) of {bl.ms(base):.2f} ms", "", "n/a"])
        md.append(f"The cgroup ({label}) adds {bl.ms(d):+.2f} ms to the median, {100 * d / base:+.1f} % "
                  f"of the no-cgroup run's {bl.ms(base):.2f} ms (under TCG).\n\n")
fmeds = bl.medians(floor)
md.append("The kernel's share: a shell makes and removes a cgroup with the same controllers (memory, cpu, "
          "pids) against a plain directory, in the same way:\n\n")
md.append(bl.ratio_table(floor, "directory mkdir+rmdir")[0] + "\n")
md.append("Commands (in the VM):\n\n" + bl.commands_block(out + "-floor.json") + "\n")
if "cgroup mkdir+rmdir" in fmeds and "directory mkdir+rmdir" in fmeds:
    kd = fmeds["cgroup mkdir+rmdir"] - fmeds["directory mkdir+rmdir"]
    summary.append(["a cgroup's mkdir+rmdir alone (VM, root)", f"{bl.ms(kd):+.2f} ms", "", "n/a"])
    md.append(f"mkdir and rmdir of the cgroup alone cost {bl.ms(kd):+.2f} ms more than a directory's "
              "(under TCG): that much of the cgroup's cost above is the kernel's. The rest is sbx's: "
              "reading /proc/self/cgroup and the controllers, the limit files, the leftover scan, "
              "cgroup.kill, and, on this kernel without statmount(2) (6.1), finding the cgroup2 mount "
              "with libmount (loaded with dlopen, /proc/self/mountinfo parsed: runtime/mountinfo.c), "
              "which only the cgroup path does; kernels with statmount (6.8 and later) skip that.\n\n")
vers = [(k[len("version "):], v) for k, v in info.items() if k.startswith("version ")]
if vers:
    md.append("Versions in the VM (the host's binaries): " + "; ".join(f"{k}: `{v}`" for k, v in vers) + ".\n\n")
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump({"info": info, "findings": findings, "enforced": enforced,
           "results": {"peers": peers, "limits": limits, "floor": floor}},
          open(out + ".json", "w"), indent=1)
PY
echo "$sec: wrote $out.md"
