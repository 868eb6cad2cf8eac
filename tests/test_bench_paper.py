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
    assert not any((out / "work").rglob("*.pt"))  # a finished run's checkpoints are removed
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


class _Cut(Exception):
    """The process ending mid-run (a session's end)."""


@pytest.mark.parametrize("method", ["dense", "sca-paper"])
def test_a_run_cut_off_mid_way_resumes_from_its_last_epoch_to_the_same_row(paper, tmp_path, monkeypatch, method):
    """A 30-epoch run takes about 25 minutes on a 2-core machine: one cut off
    by a session's end restarted from epoch 0 (its row was written only at the
    end). Now each epoch is checkpointed under OUT/work and a rerun continues
    from there, to the row an uninterrupted run writes."""
    import argparse

    args = argparse.Namespace(arch="tiny", epochs=2, train_samples=48, test_samples=16)
    data = paper.load_data(0, args)

    def run(out):
        work = paper.work_dir(out, 0, method, 0.28, 0.1, "test", args)
        return work, paper.run_one(data, 0, method, 0.28, 0.1, "test", args, work)

    _, whole = run(tmp_path / "whole")

    real_fit = paper.Trainer.fit

    def cut_after_one_epoch(self, data, epochs=None, **kw):
        real_fit(self, data, epochs=1, **kw)
        raise _Cut

    monkeypatch.setattr(paper.Trainer, "fit", cut_after_one_epoch)
    with pytest.raises(_Cut):
        run(tmp_path / "cut")
    monkeypatch.undo()
    work = paper.work_dir(tmp_path / "cut", 0, method, 0.28, 0.1, "test", args)
    assert any(work.glob("*.pt"))  # epoch 1 was checkpointed
    started = []

    def record_start(self, data, epochs=None, **kw):
        started.append(self.epoch)
        return real_fit(self, data, epochs=epochs, **kw)

    monkeypatch.setattr(paper.Trainer, "fit", record_start)
    _, resumed = run(tmp_path / "cut")
    assert started == [1]  # continued after epoch 1, not from scratch
    for key in ("accuracy", "param_fraction", "channels"):
        assert resumed[key] == whole[key], key
    other = argparse.Namespace(arch="tiny", epochs=3, train_samples=48, test_samples=16)
    assert paper.work_dir(tmp_path / "cut", 0, method, 0.28, 0.1, "test", other) != work  # other settings: not resumed
