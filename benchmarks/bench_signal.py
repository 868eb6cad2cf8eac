"""Does SCA's activity signal beat chance? The pre-registered test of issue 31.

``sca-drive`` and ``sca`` against ``random-regrow`` (uniform random channels
with exactly SCA's gradient regrowth, the same schedule, ranking and
per-layer shape: the control that leaves the activity score as the only
difference) at 30 % and 15 % of the Loihi 2 dynamic energy, fine-tuned from
the same dense net per seed, 10 dense seeds, the demo's recipe unchanged.
Per budget and SCA variant: the paired per-seed accuracy differences (points,
on the 1000 test digits), their mean, 95 % confidence interval (t), paired t
and Wilcoxon signed-rank p-values and the seeds won / tied / lost.

Decision rule (docs/pruning.md, *Does the activity signal beat chance?*,
committed before any run): the primary outcome is ``sca-drive`` minus
``random-regrow`` at 30 % of the energy over the 10 seeds; the activity
signal carries information iff that 95 % CI excludes 0 (above 0: it beats
chance; below: it is worse than chance). Everything else is secondary.

The runs are bench_pruning's (one JSON row per seed, criterion and budget
under OUT/rows, dense nets OUT/dense_seed<S>.pt checkpointed every epoch),
so the test runs in parts and resumes where it stopped: run the same
command again. ``--report-only`` only computes the statistics.

    PYTHONPATH=$PWD nohup nice -n 10 .venv/bin/python benchmarks/bench_signal.py \\
        --out runs/signal --threads 1 > runs/signal/log.txt 2>&1 &
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from bench_pruning import by_seed, load_rows
from bench_pruning import main as bench_pruning

from sca_lava.atomic import write_json, write_text
from sca_lava.commands._common import positive_int
from sca_lava.errors import ScaLavaError

CONTROL = "random-regrow"
VARIANTS = ("sca-drive", "sca")
BUDGETS = (0.3, 0.15)
SEEDS = tuple(range(10))
PRIMARY = ("sca-drive", 0.3)


def paired(mine: dict[int, dict], other: dict[int, dict]) -> dict:
    """Paired statistics of ``mine`` minus ``other`` (rows by seed), accuracy
    in points: the seeds both ran, their differences, the mean, its 95 %
    confidence interval (Student t), paired t and Wilcoxon p-values, and the
    seeds won / tied / lost. Fewer than 2 seeds: no interval, no tests."""
    from scipy import stats

    seeds = sorted(set(mine) & set(other))
    d = np.array([100.0 * (mine[s]["accuracy"] - other[s]["accuracy"]) for s in seeds])
    out = {"seeds": seeds, "n": len(seeds), "diffs": [round(float(v), 6) for v in d],
           "mean": float(d.mean()) if len(d) else None, "ci95": [None, None], "t_p": None, "wilcoxon_p": None,
           "won": int((d > 0).sum()), "tied": int((d == 0).sum()), "lost": int((d < 0).sum())}
    if len(d) >= 2:
        sd = float(d.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(d) - 1)) * sd / math.sqrt(len(d))
        out["ci95"] = [out["mean"] - half, out["mean"] + half]
        out["t_p"] = float(stats.ttest_1samp(d, 0.0).pvalue) if sd > 0 else (1.0 if out["mean"] == 0 else 0.0)
        out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return out


def decide(primary: dict, seeds: int = len(SEEDS)) -> str:
    """The pre-registered verdict on the primary comparison."""
    if primary["n"] < seeds or primary["ci95"][0] is None:
        return f"incomplete: {primary['n']} of {seeds} seeds; no verdict yet"
    lo, hi = primary["ci95"]
    if lo > 0:
        return f"the activity signal beats chance: the 95 % CI [{lo:+.2f}, {hi:+.2f}] points lies above 0"
    if hi < 0:
        return f"the activity signal is worse than chance: the 95 % CI [{lo:+.2f}, {hi:+.2f}] points lies below 0"
    return (f"no evidence that the activity signal beats chance: the 95 % CI [{lo:+.2f}, {hi:+.2f}] points "
            "includes 0 (the interval bounds the effect)")


def summarise(rows: list[dict], seeds: int = len(SEEDS)) -> dict:
    """Every comparison of the test, the means and shapes behind it, and the verdict."""
    by = by_seed(rows)
    comparisons, methods = [], []
    for budget in BUDGETS:
        control = by.get(("energy", budget, CONTROL), {})
        for method in (*VARIANTS, CONTROL):
            runs = by.get(("energy", budget, method), {})
            if runs:
                methods.append({"budget": budget, "method": method, "n": len(runs),
                                "accuracy": 100 * float(np.mean([r["accuracy"] for r in runs.values()])),
                                "energy_fraction": float(np.mean([r["energy_fraction"] for r in runs.values()])),
                                "channels": np.mean([r["channels"] for r in runs.values() if r.get("channels")],
                                                    axis=0).round(1).tolist() if any(r.get("channels") for r in
                                                                                     runs.values()) else None})
        for method in VARIANTS:
            mine = by.get(("energy", budget, method), {})
            if mine and control:
                comparisons.append({"budget": budget, "method": method, "versus": CONTROL,
                                    "primary": (method, budget) == PRIMARY, **paired(mine, control)})
    primary = next((c for c in comparisons if c["primary"]), None)
    verdict = decide(primary, seeds) if primary else "no runs of the primary comparison yet"
    return {"comparisons": comparisons, "methods": methods, "verdict": verdict}


def report(summary: dict) -> str:
    """The statistics as markdown."""
    lines = ["| energy budget | comparison | seeds | mean diff (points) | 95 % CI | paired t p | Wilcoxon p | "
             "won / tied / lost |", "|---|---|---|---|---|---|---|---|"]
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    for c in summary["comparisons"]:
        lo, hi = c["ci95"]
        lines.append(f"| {c['budget']:.0%} | {'**' if c['primary'] else ''}{c['method']} - {c['versus']}"
                     f"{'** (primary)' if c['primary'] else ''} | {c['n']} | {num(c['mean'], '+.2f')} | "
                     f"[{num(lo, '+.2f')}, {num(hi, '+.2f')}] | {num(c['t_p'], '.3f')} | "
                     f"{num(c['wilcoxon_p'], '.3f')} | {c['won']} / {c['tied']} / {c['lost']} |")
    lines += ["", "| energy budget | method | seeds | accuracy (mean) | Loihi 2 energy / dense | channels (mean) |",
              "|---|---|---|---|---|---|"]
    for m in summary["methods"]:
        ch = "-".join(f"{v:g}" for v in m["channels"]) if m["channels"] else "-"
        lines.append(f"| {m['budget']:.0%} | {m['method']} | {m['n']} | {m['accuracy']:.2f} | "
                     f"{100 * m['energy_fraction']:.1f} % | {ch} |")
    lines += ["", f"**Verdict (pre-registered rule):** {summary['verdict']}", ""]
    for c in summary["comparisons"]:
        lines.append(f"- {c['budget']:.0%} {c['method']} - {c['versus']}, per seed {c['seeds']}: "
                     + ", ".join(f"{v:+.1f}" for v in c["diffs"]))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/signal", help="folder of the dense nets, rows and statistics")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                   help="dense seeds to run (default 0-9, the pre-registered ten; fewer: a part of the run)")
    p.add_argument("--budget-samples", type=positive_int, default=100, help="test digits the energy is measured on")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    p.add_argument("--report-only", action="store_true", help="only the statistics of the rows under OUT")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not args.report_only:
        code = bench_pruning(["--out", str(out), "--seeds", *map(str, args.seeds), "--energy", *map(str, BUDGETS),
                              "--params", "--criteria", *VARIANTS, CONTROL, "--budget-samples",
                              str(args.budget_samples), "--threads", str(args.threads)])
        if code != 0:
            return code
    try:
        rows = load_rows(out)
    except ScaLavaError as exc:
        print(f"bench_signal: {exc}", file=sys.stderr)
        return 2
    summary = summarise(rows)
    text = report(summary)
    print("\n" + text)
    write_json(out / "signal.json", summary)
    write_text(out / "signal.md", text)
    print(f"written: {out / 'signal.md'}, {out / 'signal.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
