#!/bin/bash
# 2. The runsc hand-off: sbx run --runtime runsc against a bare `runsc run`
# of the bundle sbx would write (the same tree read-only, user 1000, the
# clean environment, cwd /workspace, /proc, /tmp, /workspace and /dev/shm
# tmpfs, no network: $BENCH_BUNDLES/runsc), as root.  The hand-off should
# cost under 5 % over bare runsc (issue 12).  sbx runs runsc with
# --ignore-cgroups (a cgroup of its own holds it), so bare runsc is measured
# both ways.  The same rootless (runsc --rootless) where it starts; a
# refusal is recorded.
set -euo pipefail
: "${BENCH_OUT:?run by scripts/bench}" "${SBX:?}" "${BENCH_ROOTFS:?}" "${BENCH_BUNDLES:?}"
sec=20-runsc
# shellcheck source=scripts/bench.d/lib.sh
. "$BENCH_TOP/scripts/bench.d/lib.sh"
r=$BENCH_ROOTFS

command -v runsc >/dev/null || skip "runsc is not installed (Debian: apt-get install runsc; scripts/deps --bench)"
[ "$uid" = 0 ] || skip "bare runsc runs as root here (run scripts/bench as root)"
"$SBX" run --help 2>&1 | grep -q -- '--runtime' || skip "this sbx has no --runtime"

b=$BENCH_BUNDLES/runsc
modes=(root)
id "$BENCH_USER" >/dev/null 2>&1 && modes+=(rootless)
for mode in "${modes[@]}"; do
	if [ "$mode" = root ]; then
		bare="runsc --root $BENCH_STATE/runsc20 --network=none"
	else
		bare="runsc --rootless --root $BENCH_STATE_USER/runsc20 --network=none"
	fi
	cmds=(
		"sbx --runtime runsc" "$SBX run --runtime runsc --rootfs $r -- /bin/true"
		"bare runsc" "$bare run --bundle $b bench-runsc20"
		"bare runsc, no cgroups" "$bare --ignore-cgroups run --bundle $b bench-runsc20"
	)
	ok=()
	for ((i = 0; i < ${#cmds[@]}; i += 2)); do
		try "$mode" "${cmds[i]}" "${cmds[i + 1]}" && ok+=("${cmds[i]}" "${cmds[i + 1]}")
	done
	if [ ${#ok[@]} -eq 0 ]; then
		echo "$sec: $mode: neither sbx --runtime runsc nor bare runsc ran" >&2
		continue
	fi
	echo "== $mode: runsc hand-off: sbx run --runtime runsc against bare runsc run, /bin/true (medians)"
	hf "$mode" "$out-$mode.json" "${ok[@]}"
	"$BENCH_PYTHON" "$BENCH_LIB" table "$out-$mode.json" --base "bare runsc"
done

"$BENCH_PYTHON" - "$out" <<'PY'
import json, os, sys
sys.path.insert(0, os.path.dirname(os.environ["BENCH_LIB"]))
import benchlib as bl

out = sys.argv[1]
findings = [l.rstrip("\n").split("\t") for l in open(out + ".findings") if l.strip()]
md = ["## 2. The runsc hand-off\n\n",
      "`sbx run --runtime runsc` against a bare `runsc run` of the bundle sbx would write (the same "
      "tree read-only, user 1000, the clean environment, cwd /workspace, tmpfs on /tmp, /workspace "
      "and /dev/shm, no network), as root, interleaved in one hyperfine run. sbx runs runsc with "
      "`--ignore-cgroups` (a cgroup of its own holds it), so bare runsc is measured both ways "
      "(rootless: `runsc --rootless`). Ratios are bare runsc's median over each command's.\n\n"]
summary, raw = [], {}
for mode in ("root", "rootless"):
    if not os.path.exists(f"{out}-{mode}.json"):
        md.append(f"### {mode}\n\nnot measured (see the refusals below)\n\n")
        continue
    res = raw[mode] = bl.load_hyperfine(f"{out}-{mode}.json")
    md += [f"### {mode}\n\n", bl.ratio_table(res, "bare runsc")[0], "\n",
           bl.commands_block(f"{out}-{mode}.json", os.environ["BENCH_USER"] if mode == "rootless" else None), "\n"]
    for base in ("bare runsc", "bare runsc, no cgroups"):
        rt = bl.ratio(res, "sbx --runtime runsc", base)
        what = f"hand-off cost over {base} < 5 % ({mode})"
        if rt is None:
            md.append(bl.target_line(what, None, "n/a", "one of them did not run"))
            summary.append([f"runsc hand-off over {base} ({mode})", "n/a", "< +5 %", "n/a"])
        else:
            cost = 100 * (rt - 1)
            md.append(bl.target_line(what, cost < 5, f"{cost:+.1f} %"))
            summary.append([f"runsc hand-off over {base} ({mode})", f"{cost:+.1f} %", "< +5 %",
                            "met" if cost < 5 else "not met"])
if findings:
    md.append("Refusals (each tried once, its last error line):\n\n")
    for mode, name, rc, err in findings:
        md.append(f"- **{name}** ({mode}): " + (err if rc == "-" else f"exit {rc}: `{err}`") + "\n")
    md.append("\n")
open(out + ".md", "w").write("".join(md))
bl.write_summary(out + ".summary.tsv", summary)
json.dump({"findings": findings, "results": raw}, open(out + ".json", "w"), indent=1)
for row in summary:
    print(f"{row[0]}: {row[1]} (goal {row[2]})")
PY
echo "$sec: wrote $out.md"
