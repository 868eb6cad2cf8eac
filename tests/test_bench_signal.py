"""The pre-registered test's statistics (benchmarks/bench_signal.py): paired
per-seed differences, their 95 % interval and tests, equal to the textbook
figures, and the decision rule applied only to the complete primary
comparison; rows are bench_pruning's files, so the test runs in parts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats


@pytest.fixture(scope="module")
def sig(benchmark_script):
    return benchmark_script("bench_signal")


def _write(out: Path, method: str, budget: float, seed: int, accuracy: float, kind: str = "energy") -> None:
    row = {"method": method, "kind": kind, "budget": budget, "seed": seed, "accuracy": accuracy,
           "params": 1000 if method == "dense" else 300, "channels": [7, 13, 13, 27, 27],
           "cost": {"loihi1": {"cores": 9, "dynamic_energy_uj": 40.0},
                    "loihi2": {"cores": 6, "dynamic_energy_uj": 20.0 if method == "dense" else 20.0 * budget}}}
    name = f"{method}@{kind}={budget:g}.json"
    (out / "rows" / f"seed{seed}").mkdir(parents=True, exist_ok=True)
    (out / "rows" / f"seed{seed}" / name).write_text(json.dumps(row))


def test_paired_statistics_are_the_textbook_ones(sig):
    mine = {s: {"accuracy": a} for s, a in enumerate([0.95, 0.94, 0.96, 0.93, 0.95])}
    other = {s: {"accuracy": a} for s, a in enumerate([0.94, 0.94, 0.94, 0.935, 0.93])}
    other[9] = {"accuracy": 0.5}  # a seed only one side ran is not paired
    p = sig.paired(mine, other)
    d = [1.0, 0.0, 2.0, -0.5, 2.0]
    assert p["seeds"] == [0, 1, 2, 3, 4] and p["diffs"] == pytest.approx(d)
    assert p["mean"] == pytest.approx(0.9)
    half = stats.t.ppf(0.975, 4) * stats.tstd(d) / math.sqrt(5)
    assert p["ci95"] == pytest.approx([0.9 - half, 0.9 + half])
    assert p["t_p"] == pytest.approx(stats.ttest_rel([95, 94, 96, 93, 95], [94, 94, 94, 93.5, 93]).pvalue)
    assert p["wilcoxon_p"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert (p["won"], p["tied"], p["lost"]) == (3, 1, 1)
    one = sig.paired({0: {"accuracy": 0.9}}, {0: {"accuracy": 0.8}})
    assert one["n"] == 1 and one["ci95"] == [None, None] and one["t_p"] is None


def test_the_decision_rule(sig):
    def primary(lo, hi, n=10):
        return {"n": n, "ci95": [lo, hi]}

    assert sig.decide(primary(0.1, 1.2)).startswith("the activity signal beats chance")
    assert sig.decide(primary(-1.2, -0.1)).startswith("the activity signal is worse than chance")
    assert sig.decide(primary(-0.3, 0.9)).startswith("no evidence")
    assert sig.decide(primary(0.1, 1.2, n=9)).startswith("incomplete: 9 of 10")


def test_report_only_reads_the_rows_and_says_the_verdict(sig, tmp_path, capsys):
    for seed in range(10):
        _write(tmp_path, "dense", 1.0, seed, 0.97, kind="params")
        for budget in sig.BUDGETS:
            _write(tmp_path, "random-regrow", budget, seed, 0.93)
            _write(tmp_path, "sca-drive", budget, seed, 0.93 + 0.001 * (seed % 3))  # +0, +0.1, +0.2 points
            if seed < 6:
                _write(tmp_path, "sca", budget, seed, 0.92)
    assert sig.main(["--out", str(tmp_path), "--report-only"]) == 0
    summary = json.loads((tmp_path / "signal.json").read_text())
    prim = [c for c in summary["comparisons"] if c["primary"]]
    assert len(prim) == 1 and prim[0]["method"] == "sca-drive" and prim[0]["budget"] == 0.3 and prim[0]["n"] == 10
    assert prim[0]["ci95"][0] > 0 and summary["verdict"].startswith("the activity signal beats chance")
    sca = next(c for c in summary["comparisons"] if c["method"] == "sca" and c["budget"] == 0.15)
    assert sca["n"] == 6 and sca["mean"] == pytest.approx(-1.0) and sca["lost"] == 6
    assert "**sca-drive - random-regrow** (primary)" in (tmp_path / "signal.md").read_text()
    (tmp_path / "rows" / "seed9" / "sca-drive@energy=0.3.json").unlink()  # a part of the run: no verdict yet
    assert sig.main(["--out", str(tmp_path), "--report-only"]) == 0
    assert json.loads((tmp_path / "signal.json").read_text())["verdict"].startswith("incomplete: 9 of 10")
