"""The paper-setting benchmark (benchmarks/bench_paper.py), sized to seconds
on the tiny net: the learning rate is chosen on the validation split (never
the test digits), every variant ranks plainly (with or without per-layer
z-scores) under a parameter budget it meets, runs persist and resume, and
rows of other settings or another learning rate cannot share a table."""

from __future__ import annotations

import json

import pytest

SMALL = ["--arch", "tiny", "--epochs", "2", "--train-samples", "48", "--test-samples", "16"]


@pytest.fixture(scope="module")
def paper(benchmark_script):
    return benchmark_script("bench_paper")


def test_the_paper_setting_runs_chooses_its_lr_on_validation_and_resumes(paper, tmp_path, capsys):
    out = tmp_path / "paper"
    assert paper.main(["--out", str(out), "--seeds", "0", *SMALL]) == 2  # no learning rate chosen yet
    assert "--select-lr" in capsys.readouterr().err
    assert paper.main(["--out", str(out), "--select-lr", "0.01", "0.1", *SMALL]) == 0
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["lr"] in (0.01, 0.1) and set(recipe["validation_accuracy"]) == {"0.01", "0.1"}
    sel = paper.read_rows(out / "select" / "rows" / f"lr{recipe['lr']:g}")[0]
    assert sel["split"] == "validation" and sel["validation"] == 500

    assert paper.main(["--out", str(out), "--seeds", "0", *SMALL]) == 0
    rows = paper.read_rows(out / "rows")
    assert {r["method"] for r in rows} == {"dense", *(v[0] for v in paper.VARIANTS)}
    assert len(rows) == 1 + len(paper.VARIANTS) * len(paper.BUDGETS)
    for r in rows:
        assert r["lr"] == recipe["lr"] and r["split"] == "test"
        if r["method"] != "dense":
            assert r["param_fraction"] <= r["budget"]
    table = (out / "table.md").read_text()
    assert "| 9% | sca-paper+z |" in table and "| 28% | group-l1 |" in table and "| dense | dense |" in table
    capsys.readouterr()
    assert paper.main(["--out", str(out), "--seeds", "0", *SMALL]) == 0  # everything there: nothing reruns
    assert "seed 0" not in capsys.readouterr().out
    assert paper.main(["--out", str(out), "--seeds", "0", *SMALL, "--lr", "0.5"]) == 2
    assert "another learning rate" in capsys.readouterr().err
    assert paper.main(["--out", str(out), "--seeds", "0", "--arch", "tiny", "--epochs", "3", "--train-samples", "48",
                       "--test-samples", "16"]) == 2
    assert "other settings" in capsys.readouterr().err
