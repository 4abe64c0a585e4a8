#!/usr/bin/python3
"""Helpers for the scripts/bench.d sections: read hyperfine's JSON, take
medians, print ratio tables (markdown for docs/benchmarks.md, plain text
for the terminal) and draw SVG plots with matplotlib's Agg backend.

As a module:  sys.path.insert(0, "scripts"); import benchlib
From a shell: scripts/benchlib.py table JSON [--base NAME] [--md FILE]
              scripts/benchlib.py boxplot JSON SVG [--title T]
              scripts/benchlib.py medians JSON
Times are seconds in hyperfine's JSON and milliseconds in every table.
"""
import argparse
import json
import statistics
import sys


# ---- hyperfine JSON -------------------------------------------------------

def load_hyperfine(path):
    """The results of one `hyperfine --export-json`, in command order."""
    with open(path) as f:
        return json.load(f)["results"]


def command_lines(json_path):
    """Name -> command line, from JSON_PATH.cmds (NAME<TAB>COMMAND per line,
    written next to the JSON by the section: hyperfine 1.15's JSON keeps
    only the -n name)."""
    try:
        with open(json_path + ".cmds") as f:
            return dict(l.rstrip("\n").split("\t", 1) for l in f if "\t" in l)
    except FileNotFoundError:
        return {}


def commands_block(json_path, user=None):
    """A markdown code block of the exact commands of a run."""
    cmds = command_lines(json_path)
    if not cmds:
        return ""
    pre = f"# as {user}: runuser -u {user} -- hyperfine -N ...\n" if user else ""
    return "```\n" + pre + "\n".join(f"{n}: {c}" for n, c in cmds.items()) + "\n```\n"


def by_name(results):
    return {r["command"]: r for r in results}


def medians(results):
    """Command name -> median in seconds."""
    return {r["command"]: r["median"] for r in results}


def median(values):
    return statistics.median(values) if values else float("nan")


def ms(seconds):
    return seconds * 1e3


# ---- tables ---------------------------------------------------------------

class Ratio(float):
    """A float printed with three decimals (x.xxx) in tables."""


def fmt(value, digits=2):
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if isinstance(value, Ratio):
            digits = 3
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers, rows):
    """A GitHub markdown table; numbers right-aligned."""
    def align(col):
        numeric = all(isinstance(r[col], (int, float)) for r in rows) and rows
        return "---:" if numeric else "---"
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(align(i) for i in range(len(headers))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out) + "\n"


def text_table(headers, rows):
    """The same table in fixed-width columns for stdout."""
    cells = [list(headers)] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def ratio_rows(results, base):
    """Rows of (command, median, mean, stddev, min, max, base/command) in
    ms; the ratio is the base's median over the command's (sbx / peer when
    the base is sbx: under 1 means sbx is faster)."""
    meds = medians(results)
    b = meds.get(base)
    rows = []
    for r in results:
        ratio = b / r["median"] if b is not None and r["median"] else float("nan")
        rows.append([r["command"], ms(r["median"]), ms(r["mean"]),
                     ms(r.get("stddev") or 0.0), ms(r["min"]), ms(r["max"]),
                     Ratio(ratio)])
    return rows


def ratio_headers(base):
    return ["command", "median ms", "mean ms", "stddev ms", "min ms", "max ms",
            f"{base} / command (medians)"]


def ratio_table(results, base):
    """(markdown, text) of a hyperfine run with the base's ratio to each."""
    rows = ratio_rows(results, base)
    hdr = ratio_headers(base)
    return markdown_table(hdr, rows), text_table(hdr, rows)


def ratio(results, num, den):
    """median(num) / median(den), or None when either is missing."""
    m = medians(results)
    if num in m and den in m and m[den]:
        return m[num] / m[den]
    return None


def target_line(what, met, measured, reason=""):
    """The md paragraph every target gets: met, NOT met, or (met None) n/a
    when it could not be measured, with the number and the reason."""
    state = "n/a" if met is None else "met" if met else "NOT met"
    tail = f"; {reason}" if reason else ""
    return f"**Target** {what} — {state} (measured {measured}{tail})\n\n"


def write_summary(path, rows):
    """NN-name.summary.tsv: metric, result, target, met|not met|n/a."""
    with open(path, "w") as f:
        for row in rows:
            f.write("\t".join(str(c).replace("\t", " ") for c in row) + "\n")


# ---- plots ----------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "sbx-bench"  # stable ids: diffs stay small
    return plt


def _save(plt, fig, svg):
    fig.tight_layout()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)


def boxplot(results, svg, title="", ylabel="time (ms)", violin=True, logy=None):
    """Distribution of hyperfine's "times" per command: a violin with a box
    inside, points beyond the whiskers marked.  logy (default: when the
    medians differ more than tenfold) keeps the fast ones readable."""
    plt = _pyplot()
    names = [r["command"] for r in results]
    data = [[ms(t) for t in r.get("times") or [r["median"]]] for r in results]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(names) + 1.5), 4.2))
    pos = list(range(1, len(names) + 1))
    if violin and all(len(d) > 1 for d in data):
        parts = ax.violinplot(data, positions=pos, showextrema=False, widths=0.8)
        for body in parts["bodies"]:
            body.set_alpha(0.35)
    ax.boxplot(data, positions=pos, widths=0.25, showfliers=True,
               medianprops={"color": "black"}, flierprops={"markersize": 3})
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=20 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center")
    meds = [statistics.median(d) for d in data]
    if logy is None:
        logy = min(meds) > 0 and max(meds) / min(meds) > 10
    if logy:
        ax.set_yscale("log")
        ylabel += " (log scale)"
    else:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3, which="both")
    if title:
        ax.set_title(title)
    _save(plt, fig, svg)


def barplot(labels, values, svg, title="", ylabel="", errors=None, hline=None):
    """One bar per label; errors as (low, high) offsets or a single list;
    hline draws a target line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(labels) + 1.5), 4.0))
    ax.bar(range(len(labels)), values, yerr=errors, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center")
    for i, v in enumerate(values):
        ax.annotate(fmt(float(v), 1), (i, v), ha="center", va="bottom", fontsize=8)
    if hline is not None:
        ax.axhline(hline, color="red", linestyle="--", linewidth=1)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    _save(plt, fig, svg)


def lineplot(xs, series, svg, title="", xlabel="", ylabel="", logx=False):
    """series: {label: [y per x]} drawn against xs with markers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    _save(plt, fig, svg)


# ---- command line ---------------------------------------------------------

def main(argv):
    p = argparse.ArgumentParser(prog="benchlib.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="median/ratio table of a hyperfine JSON")
    t.add_argument("json")
    t.add_argument("--base", help="command the ratios are of (default: the first)")
    t.add_argument("--md", help="append the markdown table to this file")
    b = sub.add_parser("boxplot", help="times per command as an SVG")
    b.add_argument("json")
    b.add_argument("svg")
    b.add_argument("--title", default="")
    m = sub.add_parser("medians", help="name<TAB>median ms per command")
    m.add_argument("json")
    a = p.parse_args(argv)
    results = load_hyperfine(a.json)
    if a.cmd == "table":
        md, text = ratio_table(results, a.base or results[0]["command"])
        sys.stdout.write(text)
        if a.md:
            with open(a.md, "a") as f:
                f.write(md)
    elif a.cmd == "boxplot":
        boxplot(results, a.svg, a.title)
    elif a.cmd == "medians":
        for name, med in medians(results).items():
            print(f"{name}\t{ms(med):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
