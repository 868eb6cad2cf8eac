"""The ``sca-lava`` command line: help, one-line errors with exit code 2,
and a small train -> export -> simulate round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sca_lava.cli import COMMANDS, build_parser


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sca_lava.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "usage: sca-lava" in capsys.readouterr().out


def _assert_one_line_error(result, text):
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and "Prophesee" not in ln
             and "prophesee" not in ln and "CUDA" not in ln and "Only Prophesee" not in ln]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert text in lines[0]


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    _assert_one_line_error(cli("export", tmp_path / "missing.pt", "--out", tmp_path / "x.net"), "no such checkpoint")
    bad = tmp_path / "bad.pt"
    bad.write_text("garbage")
    _assert_one_line_error(cli("export", bad, "--out", tmp_path / "x.net"), "unreadable checkpoint")
    assert not (tmp_path / "x.net").exists()
    corrupt = tmp_path / "corrupt.net"
    corrupt.write_bytes(b"nope")
    _assert_one_line_error(cli("simulate", corrupt, "--samples", 2), "not a readable HDF5")
    _assert_one_line_error(cli("train", "--data", "mnist", "--data-root", tmp_path / "none"), "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    _assert_one_line_error(cli("train", "--data", "nmnist", "--data-root", empty), "no N-MNIST")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"layers": [{"type": "avgpool"}, {"type": "dense", "out": 10}]}))
    _assert_one_line_error(cli("train", "--config", cfg, "--out", tmp_path / "r"), "'avgpool' is not one of")


def test_a_torchrun_worker_leaves_without_interpreter_teardown(tmp_path):
    """Under torchrun (WORLD_SIZE > 1) the entry point flushes its output and
    leaves with os._exit: no atexit handler or finaliser runs after the command
    (CI saw a torchrun worker that never exited after its command had
    returned); the exit codes are main()'s, output and one-line errors intact."""
    code = ("import atexit, sys; atexit.register(lambda: print('teardown ran')); "
            "sys.argv = ['sca-lava', *sys.argv[1:]]; from sca_lava.cli import run; run()")
    for world, teardown in (("2", False), ("1", True)):
        env = {**os.environ, "WORLD_SIZE": world}

        def entry(*args, env=env):
            return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True,
                                  text=True, timeout=300)

        shown = entry("--help")
        assert shown.returncode == 0 and "usage: sca-lava" in shown.stdout, shown.stderr
        assert ("teardown ran" in shown.stdout) is teardown
        failed = entry("export", tmp_path / "missing.pt", "--out", tmp_path / "x.net")
        _assert_one_line_error(failed, "no such checkpoint")
        assert ("teardown ran" in failed.stdout) is teardown


@pytest.mark.lava
def test_train_resume_export_simulate_round_trip(tmp_path, capsys):
    """Stop, then resume in a fresh process (it takes the data sizes from the
    checkpoint's contract); export and simulate the result. Only the resume
    needs its own process: the commands' own processes are exercised by
    test_signals and the hostile-input tests."""
    from sca_lava.cli import main
    from sca_lava.models.config import small_config
    from sca_lava.training import load_checkpoint

    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(small_config().to_dict()))
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--epochs", "2", "--stop-after", "1", "--train-samples", "96",
                 "--test-samples", "32", "--out", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    r = cli("train", "--out", out, "--resume", "--no-progress")  # a fresh process continues from the files
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    contract = load_checkpoint(out / "model.pt")["contract"]
    assert (contract["train_size"], contract["test_size"]) == (96, 32)
    assert main(["export", str(out / "model.pt"), "--out", str(out / "model.net")]) == 0, capsys.readouterr().err
    assert main(["simulate", str(out / "model.net"), "--checkpoint", str(out / "model.pt"), "--samples", "3",
                 "--json", str(out / "sim.json")]) == 0, capsys.readouterr().err
    result = json.loads((out / "sim.json").read_text())
    assert result["samples"] == 3 and result["spike_agreement"] == 1.0


# --------------------------------------------------------------------------- what a new user hit (issue 32)


def test_version_and_every_error_names_its_command(capsys):
    from sca_lava import __version__
    from sca_lava.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"sca-lava {__version__}\n"
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "x.net", "--bogus", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("sca-lava simulate: error: unrecognized arguments: --bogus 1")
    with pytest.raises(SystemExit):
        main(["simulate", "x.net", "--steps", "0"])
    assert capsys.readouterr().err.startswith("sca-lava simulate: error: argument --steps: must be >= 1")


@pytest.mark.lava
def test_progress_in_a_log_is_plain_lines_and_simulate_has_no_progress(tmp_path):
    """stderr to a pipe (a log): no carriage-return redraws (98 in 7 KB of demo
    output before); simulate takes --no-progress as troubleshooting.md says."""
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config

    net = tmp_path / "small.net"
    build_network(small_config()).export_hdf5(net)
    p = subprocess.run([sys.executable, "-m", "sca_lava.cli", "evaluate", str(net), "--samples", "300",
                        "--batch-size", "64"], capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert b"\r" not in p.stderr and b"evaluate:" in p.stderr
    p = subprocess.run([sys.executable, "-m", "sca_lava.cli", "simulate", str(net), "--samples", "2",
                        "--no-progress"], capture_output=True, timeout=600)
    assert p.returncode == 0 and b"Lava:" not in p.stderr, p.stderr[-2000:]


def test_config_files_as_the_docs_write_them(tmp_path, capsys):
    """train --config takes hardware.md's `input: [C, H, W]`, the shipped
    mnist_small architecture, and refuses an input_shape the data do not have
    (it was silently replaced by 1x28x28)."""
    import yaml

    from sca_lava.cli import main

    layers = [{"type": "conv", "out": 4, "kernel": 3, "stride": 2, "padding": 1}, {"type": "flatten"},
              {"type": "dense", "out": 10}]
    short = ["--epochs", "1", "--train-samples", "32", "--test-samples", "8", "--no-progress"]
    arch = tmp_path / "arch.yaml"
    arch.write_text(yaml.safe_dump({"name": "mine", "input": [1, 28, 28], "layers": layers}))
    assert main(["train", "--config", str(arch), "--out", str(tmp_path / "a"), *short]) == 0, capsys.readouterr().err
    assert main(["train", "--config", "mnist_small", "--out", str(tmp_path / "b"), *short]) == 0, \
        capsys.readouterr().err
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({"input_shape": [1, 16, 16], "layers": layers}))
    capsys.readouterr()
    assert main(["train", "--config", str(small), "--out", str(tmp_path / "c"), *short]) == 2
    err = capsys.readouterr().err
    assert "input_shape [1, 16, 16] does not match the mnist5k data ([1, 28, 28])" in err and err.count("\n") == 1
    assert not (tmp_path / "c" / "model.pt").exists()


@pytest.mark.parametrize("arch", ["mnist_vgg", "mnist_small_dense", "tiny", "mnist_small"])
def test_sweep_takes_every_network_name(tmp_path, capsys, arch):
    from sca_lava.cli import main

    assert main(["budget", "--sweep", "--arch", arch, "--keep", "1.0,0.5", "--out", str(tmp_path),
                 "--no-plots"]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "sweep.json").read_text())["rows"][0]["cores"] >= 1


@pytest.mark.parametrize("budget, message", [
    ("energy=0.3", "prune: error: the energy budget needs a hardware profile"),
    ("energy=1.5", "the energy budget is a kept fraction in (0, 1]"),
])
def test_budget_errors_read_as_english(tmp_path, capsys, budget, message):
    """They said "a energy budget"."""
    from sca_lava.cli import main

    assert main(["prune", "--budget", budget, "--out", str(tmp_path / "p")]) == 2
    assert message in capsys.readouterr().err


def test_training_progress_in_a_log_is_a_line_every_half_minute_not_every_batch(tmp_path):
    """The loss postfix refreshed the bar on every batch: a training epoch in a
    log wrote a line per batch (1000 lines in the demo's first minutes)."""
    import time

    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "sca_lava.cli", "train", "--config", "tiny", "--epochs", "1",
                        "--train-samples", "96", "--batch-size", "2", "--test-samples", "8",
                        "--out", str(tmp_path / "t")], capture_output=True, timeout=600)
    elapsed = time.monotonic() - start
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [ln for ln in p.stderr.decode().splitlines() if ln.startswith("epoch 1")]
    assert 1 <= len(lines) <= 2 + elapsed / 30, (len(lines), elapsed)  # not one per batch (48 batches)
