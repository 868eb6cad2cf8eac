"""Each netx file is parsed once per command: the demo's Lava check, deployed
accuracy and budgets, and the CLI's evaluate, simulate and budget, on a real
exported network (issue 14). Reads are counted at the reader's file check,
which every :func:`sca_lava.netx.reader.read_netx` call passes, whatever name
it was imported under."""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from pathlib import Path

import pytest

from sca_lava.cli import main
from sca_lava.data import encode
from sca_lava.models import build_network
from sca_lava.models.config import named_config
from sca_lava.netx import reader

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory, mnist5k):
    """An untrained tiny network exported to two netx files (a dense/pruned
    stand-in), and the first test digits encoded for it."""
    config = named_config("tiny")
    model = build_network(config, seed=0)
    folder = tmp_path_factory.mktemp("read_once")
    paths = [folder / "a.net", folder / "b.net"]
    for p in paths:
        model.export_hdf5(p)
    spikes = encode(mnist5k.test_x[:6], config.num_steps)
    return model, paths, spikes, mnist5k.test_y[:6]


@pytest.fixture()
def reads(monkeypatch):
    """Counter of netx reads per absolute path."""
    counts: Counter = Counter()
    check = reader._check_file

    def counting(path):
        counts[os.path.abspath(path)] += 1
        return check(path)

    monkeypatch.setattr(reader, "_check_file", counting)
    return counts


@pytest.mark.lava
def test_demo_reads_each_exported_file_once(tmp_path, reads):
    """The whole demo (train, export, Lava check, prune, Lava check, deployed
    accuracy, budgets on two profiles), sized to seconds: one read per file
    (the old code read each three times)."""
    from sca_lava.workflow import DemoConfig, run_demo

    out = tmp_path / "demo"
    summary = run_demo(DemoConfig(out=str(out), arch="tiny", epochs=1, prune_epochs=1, train_samples=32,
                                  test_samples=16, lava_samples=2, budget_samples=4, progress=False,
                                  device="cpu"), log=None)
    assert summary["lava"]["samples"] == 2 and summary["deployed"]["verified_samples"] == 4
    assert summary["budget"]["loihi2"]["dense"]["dynamic_energy_uj"] is not None
    assert 0 < summary["pruned"]["budget_cost_fraction"] <= 0.3 + 1e-9  # what the pruner enforced (energy=0.3)
    assert reads == {str(out / "dense.net"): 1, str(out / "pruned" / "pruned.net"): 1}
    # `make crosscheck` after `make demo` (issue 30): its default files are where the demo writes
    spec = importlib.util.spec_from_file_location("crosscheck_sanafe", ROOT / "benchmarks" / "crosscheck_sanafe.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    defaults = bench.build_parser().parse_args([])
    for default in (defaults.dense, defaults.pruned):
        assert (out / Path(default).relative_to("runs/demo")).is_file(), default


@pytest.mark.parametrize("argv", [
    ["evaluate", "{a}", "--samples", "4", "--no-progress", "--device", "cpu"],
    ["budget", "{a}", "--samples", "2", "--compare", "{b}", "--no-plots", "--out", "{out}"],
    ["budget", "{a}", "--samples", "2", "--verify", "1", "--no-plots", "--out", "{out}"],
    pytest.param(["simulate", "{a}", "--samples", "2"], marks=pytest.mark.lava),
], ids=["evaluate", "budget-compare", "budget-verify", "simulate"])
def test_cli_commands_read_each_file_once(tiny_net, reads, tmp_path, argv, capsys):
    _, paths, _, _ = tiny_net
    args = [a.format(a=paths[0], b=paths[1], out=tmp_path / "out") for a in argv]
    assert main(args) == 0, capsys.readouterr().err
    expected = {os.path.abspath(paths[0]): 1}
    if "--compare" in args:
        expected[os.path.abspath(paths[1])] = 1
    assert reads == expected


def test_counting_sees_every_read(tiny_net, reads):
    """The counter is not blind: a helper given no spec reads the file itself."""
    from sca_lava.deploy.evaluate import evaluate_netx
    from sca_lava.hardware.budget import budget_netx

    _, paths, spikes, labels = tiny_net
    evaluate_netx(str(paths[0]), spikes, labels, progress=False, device="cpu")
    budget_netx(str(paths[0]), "loihi2")
    assert reads == {os.path.abspath(paths[0]): 2}
