"""The pruning benchmark's row files: every file is validated before it enters
the table, and rows made with other settings cannot share one (a longer
fine-tune must not pass for the recipe in docs/results.md)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from sca_lava.errors import ScaLavaError


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("bench_pruning")


def _row(method="dense", kind="params", budget=1.0, seed=0, accuracy=0.97, params=1000, uj=20.0, **settings):
    row = {"method": method, "kind": kind, "budget": budget, "seed": seed, "accuracy": accuracy, "params": params,
           "cost": {"loihi1": {"cores": 9, "dynamic_energy_uj": 2 * uj}, "loihi2": {"cores": 6, "dynamic_energy_uj": uj}}}
    if settings:
        row["settings"] = settings
    return row


def _write(bench, out: Path, row: dict, text: str | None = None) -> Path:
    path = bench.row_path(out, row["seed"], row["method"], row["kind"], row["budget"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row) if text is None else text)
    return path


def test_good_rows_load_as_fractions_of_their_dense_net(bench, tmp_path):
    _write(bench, tmp_path, _row(epochs=13))
    _write(bench, tmp_path, _row("sca-drive", "energy", 0.3, accuracy=0.94, params=250, uj=6.0,
                                 epochs=13, prune_epochs=8))
    rows = {r["method"]: r for r in bench.load_rows(tmp_path)}
    assert math.isclose(rows["sca-drive"]["energy_fraction"], 0.3)
    assert math.isclose(rows["sca-drive"]["param_fraction"], 0.25)


@pytest.mark.parametrize("case", ["truncated", "dangling", "nan", "accuracy", "misnamed", "cores", "unknown"])
def test_a_bad_row_file_is_a_one_line_error_naming_it(bench, tmp_path, case, capsys):
    _write(bench, tmp_path, _row())
    bad = _row("random", "energy", 0.5, accuracy=0.9, uj=10.0)
    if case == "truncated":
        path = _write(bench, tmp_path, bad, text=json.dumps(bad)[:40])
    elif case == "dangling":
        path = bench.row_path(tmp_path, 0, "random", "energy", 0.5)
        path.symlink_to(tmp_path / "gone.json")
    elif case == "nan":
        bad["cost"]["loihi2"]["dynamic_energy_uj"] = float("nan")
        path = _write(bench, tmp_path, bad)
    elif case == "accuracy":
        bad["accuracy"] = 90.0
        path = _write(bench, tmp_path, bad)
    elif case == "misnamed":
        path = bench.row_path(tmp_path, 0, "taylor", "energy", 0.5)
        path.write_text(json.dumps(bad))
    elif case == "cores":
        bad["cost"]["loihi1"]["cores"] = "7"
        path = _write(bench, tmp_path, bad)
    else:
        bad["method"] = "sca-layernorm"
        path = bench.row_path(tmp_path, 0, "sca-layernorm", "energy", 0.5)
        path.write_text(json.dumps(bad))
    with pytest.raises(ScaLavaError, match=re.escape(str(path))):
        bench.load_rows(tmp_path)
    assert bench.main(["--out", str(tmp_path), "--report-only"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench_pruning: ") and "\n" not in err and "Traceback" not in err


def test_a_dense_row_without_energy_is_refused_not_divided_by(bench, tmp_path):
    """The dense row is every fraction's denominator: zero energy there was a
    ZeroDivisionError traceback."""
    path = _write(bench, tmp_path, _row(uj=0.0))
    _write(bench, tmp_path, _row("random", "energy", 0.5, accuracy=0.9, uj=10.0))
    with pytest.raises(ScaLavaError, match=re.escape(str(path))):
        bench.load_rows(tmp_path)


def test_rows_made_with_other_settings_do_not_share_a_table(bench, tmp_path):
    _write(bench, tmp_path, _row(epochs=13))
    _write(bench, tmp_path, _row("sca-drive", "energy", 0.3, accuracy=0.94, uj=6.0, epochs=13, prune_epochs=8))
    _write(bench, tmp_path, _row("taylor", "energy", 0.3, accuracy=0.93, uj=6.0, epochs=13, prune_epochs=14))
    with pytest.raises(ScaLavaError, match="prune_epochs=8 .* prune_epochs=14 .*another --out"):
        bench.load_rows(tmp_path)


def test_a_run_with_other_settings_is_refused_before_training(bench, tmp_path, capsys):
    """``run_grid`` compares this invocation's settings with the rows already
    there before it loads data or trains anything."""
    _write(bench, tmp_path, _row(epochs=13, arch="mnist_vgg"))
    rc = bench.main(["--out", str(tmp_path), "--seeds", "0", "--energy", "0.3", "--params", "--criteria", "random",
               "--epochs", "2"])
    assert rc == 2
    assert "epochs=13" in capsys.readouterr().err


def test_a_wider_net_cannot_join_rows_recorded_before_channels_were(bench, tmp_path, capsys):
    """Rows recorded before ``channels`` was a setting are the arch's own
    widths: a run on a wider dense net must not join them (it would be judged
    against the narrower dense net)."""
    _write(bench, tmp_path, _row(epochs=13, arch="mnist_vgg"))
    rc = bench.main(["--out", str(tmp_path), "--seeds", "0", "--energy", "0.3", "--params", "--criteria", "random",
                     "--epochs", "13", "--channels", "24", "48", "48", "96", "96"])
    assert rc == 2
    assert "channels=None" in capsys.readouterr().err
    # and the setting travels as a string in the row, so --report-only sees it too
    _write(bench, tmp_path, _row("random", "energy", 0.3, accuracy=0.9, uj=6.0, epochs=13, arch="mnist_vgg",
                                  channels="24-48-48-96-96"))
    with pytest.raises(ScaLavaError, match="channels=None .* channels=24-48-48-96-96"):
        bench.load_rows(tmp_path)


def test_channels_of_the_wrong_count_are_a_one_line_error(bench, tmp_path, capsys):
    rc = bench.main(["--out", str(tmp_path), "--seeds", "0", "--energy", "0.3", "--params", "--criteria", "random",
                     "--channels", "24", "48"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == "bench_pruning: --channels: mnist_vgg has 5 conv layers, got 2 widths"


def test_a_zero_width_is_named_as_such(bench, tmp_path, capsys):
    """It was reported as a wrong count ("has 5 conv layers, got 5 widths")."""
    rc = bench.main(["--out", str(tmp_path), "--seeds", "0", "--energy", "0.3", "--params", "--criteria", "random",
                     "--channels", "0", "48", "48", "96", "96"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == "bench_pruning: --channels: every width must be at least 1, got 0"


def test_verdict_compares_on_shared_seeds_and_counts_per_seed_wins(bench):
    rows = [_row(seed=s, accuracy=a) for s, a in [(0, 0.97), (1, 0.96), (2, 0.98)]]
    rows += [_row("sca-drive", "energy", 0.3, seed=s, accuracy=a) for s, a in [(0, 0.95), (1, 0.93), (2, 0.94)]]
    # taylor ran on seeds 0 and 1 only: ahead on seed 0, behind on seed 1
    rows += [_row("taylor", "energy", 0.3, seed=s, accuracy=a) for s, a in [(0, 0.96), (1, 0.90)]]
    (line,) = bench.verdict(rows)
    assert "sca-drive 94.00 over seeds [0, 1, 2], 3.00 points below dense" in line
    # (95 - 96 + 93 - 90) / 2 = +1.00 on the two shared seeds, level or ahead on one of them
    assert "taylor +1.00 (at least level on 1 of 2 seeds)" in line


def test_verdict_judges_parameter_budgets_too(bench):
    """Equal parameter budgets are half of the benchmark: the verdict must not
    drop them (it reported energy budgets only)."""
    rows = [_row(seed=s) for s in (0, 1)]
    rows += [_row("sca-drive", "params", 0.3, seed=s, accuracy=a) for s, a in [(0, 0.96), (1, 0.95)]]
    rows += [_row("gain", "params", 0.3, seed=s, accuracy=a) for s, a in [(0, 0.95), (1, 0.955)]]
    rows += [_row("sca-drive", "energy", 0.3, seed=s, accuracy=0.94) for s in (0, 1)]
    lines = bench.verdict(rows)
    assert [ln.split(":")[0] for ln in lines] == ["energy 30%", "params 30%"]
    assert "sca-drive 95.50 over seeds [0, 1], 1.50 points below dense" in lines[1]
    # (96 - 95 + 95 - 95.5) / 2 = +0.25, level or ahead on seed 0 only
    assert "gain +0.25 (at least level on 1 of 2 seeds)" in lines[1]


def test_energy_at_interpolates_the_cheapest_crossing(bench):
    pts = [(1.0, 97.0), (0.3, 94.0), (0.5, 96.0)]
    assert bench.energy_at(pts, 96.0) == (0.5, False)
    assert math.isclose(bench.energy_at(pts, 95.0)[0], 0.4)
    assert bench.energy_at(pts, 93.0) == (0.3, True)  # reached at the cheapest point: an upper bound
    with pytest.raises(ValueError):
        bench.energy_at(pts, 98.0)


def test_iso_accuracy_reads_the_energy_each_criterion_needs(bench):
    """The claim at equal accuracy: SCA reaches dense - 1 point at half the
    energy, where random needs 0.75 of it (between its 50 % budget and dense)."""
    rows = [_row(seed=s, accuracy=0.97, uj=20.0) for s in (0, 1)]
    for method, accs in (("sca-drive", (0.96, 0.94)), ("random", (0.95, 0.93))):
        for budget, uj, acc in ((0.5, 10.0, accs[0]), (0.3, 6.0, accs[1])):
            rows += [_row(method, "energy", budget, seed=s, accuracy=acc, uj=uj) for s in (0, 1)]
    rows.append(_row("taylor", "energy", 0.3, seed=0, accuracy=0.5, uj=6.0))  # one seed, a 30 % budget only
    rows.append(_row("random", "energy", 0.15, seed=0, accuracy=0.90, uj=3.0))  # not on seed 1: left out
    one, three, five = bench.iso_accuracy(rows)
    assert one.startswith("energy to stay within 1 point of dense: sca-drive 50.0 %, random 75.0 %, taylor ")
    assert "sca-drive 0.67x the energy of the cheapest baseline (random)" in one
    # dense - 3 = 94.0: SCA's cheapest budget already reaches it (at most 30 %), random at 40 %
    assert "sca-drive <= 30.0 %, random 40.0 %" in three
    assert "sca-drive 0.75x (at most) the energy of the cheapest baseline (random)" in three
    assert "sca-drive and random both below the measured budgets" in five
