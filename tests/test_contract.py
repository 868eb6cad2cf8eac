"""The input contract travels with the network (netx file, checkpoint) and
every command reads it; the split seed is apart from the training seed;
rate-poisson noise does not depend on batching; --resume never mixes
configurations; a dead pruned layer is reported loudly."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from sca_lava.cli import main
from sca_lava.errors import ScaLavaError
from sca_lava.models import build_network
from sca_lava.models.config import small_config
from sca_lava.netx import read_netx
from sca_lava.netx.contract import GROUP, InputContract, from_data


@pytest.fixture(scope="module")
def small_data():
    from sca_lava.data import load_mnist5k

    return load_mnist5k(0).subset(train=48, test=24)


def _export(tmp_path, data, steps=12, encoding="rate-regular"):
    net = build_network(small_config())
    net.contract = from_data(data, steps, encoding, 0)
    path = tmp_path / "c.net"
    net.export_hdf5(path)
    return net, path


def test_export_carries_the_contract_and_netx_still_loads(tmp_path, small_data):
    from sca_lava.deploy.lava_runner import import_lava

    netx = import_lava()[0]  # never a bare import: Lava sets the start method then (see import_lava)

    _, path = _export(tmp_path, small_data)
    with h5py.File(path) as f:
        attrs = dict(f[GROUP].attrs)
    assert attrs["num_steps"] == 12 and attrs["encoding"] == "rate-regular" and attrs["dataset"] == "mnist5k"
    assert attrs["split_seed"] == 0 and attrs["train_size"] == 48 and attrs["test_size"] == 24
    assert list(attrs["input_shape"]) == [1, 28, 28]
    spec = read_netx(path)
    assert spec.contract == InputContract(12, "rate-regular", (1, 28, 28), "mnist5k", 0, 48, 24)
    net = netx.hdf5.Network(net_config=str(path))  # netx ignores the group
    assert len(net.layers) == 4


@pytest.mark.parametrize("key, value, message", [
    ("num_steps", 0, "num_steps"),
    ("num_steps", 1.5, "num_steps"),
    ("encoding", "morse", "encoding"),
    ("split_seed", -3, "split_seed"),
    ("input_shape", np.array([1, 2, 3, 4]), "input_shape"),
    ("input_shape", np.array([1, 27, 28]), "does not match"),
    ("dataset", b"\xff\xfe", "dataset"),
    ("version", 99, "version"),
    ("num_steps", np.array([1, 2]), "unreadable input contract"),
    ("whatever", 1, "unknown input contract"),
])
def test_a_hostile_contract_is_a_one_line_error(tmp_path, small_data, key, value, message):
    _, path = _export(tmp_path, small_data)
    with h5py.File(path, "a") as f:
        f[GROUP].attrs[key] = value
    with pytest.raises(ScaLavaError, match=message) as exc:
        read_netx(path)
    assert "\n" not in str(exc.value)


def _evaluate(path, *extra, capsys=None):
    out = path.with_suffix(".json")
    code = main(["evaluate", str(path), "--samples", "10", "--no-progress", "--device", "cpu",
                 "--json", str(out), *map(str, extra)])
    return code, json.loads(out.read_text()) if out.exists() else None


def test_evaluate_takes_steps_and_split_from_the_file(tmp_path, small_data, capsys):
    _, path = _export(tmp_path, small_data, steps=12)
    code, rep = _evaluate(path)
    assert code == 0 and rep["num_steps"] == 12 and rep["split_seed"] == 0  # old code: T=16 always
    assert "warning" not in capsys.readouterr().err
    code, rep = _evaluate(path, "--steps", 7)  # explicit: wins, with a warning
    assert code == 0 and rep["num_steps"] == 7
    assert "--steps 7 overrides the file's input contract (steps=12)" in capsys.readouterr().err
    code, rep = _evaluate(path, "--split-seed", 3)
    assert code == 0 and rep["split_seed"] == 3
    assert "includes training samples" in capsys.readouterr().err


def test_checkpoint_records_the_contract_and_the_split_seed_is_not_the_seed(tmp_path, capsys):
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(small_config().to_dict()))
    out = tmp_path / "run"
    args = ["train", "--config", cfg, "--epochs", 1, "--train-samples", 16, "--test-samples", 8, "--out", out,
            "--no-progress"]
    assert main([*map(str, args), "--seed", "1"]) == 0
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["contract"]["split_seed"] == 0  # --seed 1 does not move the split
    assert state["contract"]["num_steps"] == 12 and state["contract"]["train_size"] == 16
    assert state["train_config"]["seed"] == 1
    assert main(["export", str(out / "model.pt"), "--out", str(out / "m.net")]) == 0
    assert read_netx(out / "m.net").contract == InputContract.from_dict(state["contract"])


def test_poisson_spikes_do_not_depend_on_the_batching(small_data):
    from sca_lava.training import evaluate_model

    model = build_network(small_config())
    x, y = small_data.test_x[:12], small_data.test_y[:12]
    a = evaluate_model(model, x, y, 12, "rate-poisson", batch_size=12, seed=5)
    b = evaluate_model(model, x, y, 12, "rate-poisson", batch_size=5, seed=5)
    assert a["accuracy"] == b["accuracy"]  # the old trainer keyed the noise by the position in the batch
    assert a["firing_rates"] == pytest.approx(b["firing_rates"], rel=1e-6)
    from sca_lava.data import encode
    from sca_lava.training.evaluate import spikes_of as _spikes

    idx = np.array([7, 2, 9])
    whole = encode(small_data.train_x, 4, "rate-poisson", seed=3)
    assert np.array_equal(_spikes(small_data.train_x[idx], 4, "rate-poisson", False, 3, idx).numpy(), whole[idx])


def _train(out, *extra):
    return main(["train", "--config", str(out.parent / "small.json"), "--train-samples", "32", "--test-samples", "8",
                 "--out", str(out), "--no-progress", "--batch-size", "16", *map(str, extra)])


def test_resume_keeps_the_run_schedule_and_refuses_other_configs(tmp_path, capsys):
    (tmp_path / "small.json").write_text(json.dumps(small_config().to_dict()))
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert _train(whole, "--epochs", 3) == 0
    assert _train(part, "--epochs", 3, "--stop-after", 2) == 0
    assert torch.load(part / "model.pt", weights_only=True)["epoch"] == 2
    assert main(["train", "--out", str(part), "--resume", "--no-progress"]) == 0  # options from the checkpoint
    a = torch.load(whole / "model.pt", weights_only=True)
    b = torch.load(part / "model.pt", weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [h["lr"] for h in a["history"]] == [h["lr"] for h in b["history"]]
    assert a["history"][1]["lr"] > a["train_config"]["lr_min"]  # cosine over the 3 epochs of the run
    capsys.readouterr()
    for flag in (["--lr", "0.01"], ["--epochs", "5"], ["--batch-size", "8"], ["--encoding", "rate-poisson"],
                 ["--split-seed", "4"]):
        assert main(["train", "--out", str(part), "--resume", "--no-progress", *flag]) == 2, flag
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "--resume" in err, err


def test_a_prune_that_silences_a_layer_warns(tmp_path, small_data, capsys):
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig

    dead = build_network(small_config())
    with torch.no_grad():
        for p in dead.parameters():
            p.zero_()
    _, rep = prune_and_shrink(dead, small_data, PruneConfig(budget="params=0.5"),
                              TrainConfig(epochs=1, lr=0.0, lr_schedule="constant", batch_size=48),
                              log=None)
    assert rep["silent_layers"]  # old code: silent success
    assert "SILENT LAYER" in capsys.readouterr().err


def test_prune_resume_refuses_a_differing_pruning_flag():
    from sca_lava.cli import build_parser
    from sca_lava.commands.prune import prune_config_from_args
    from sca_lava.pruning import PruneConfig

    recorded = PruneConfig(budget="params=0.5", regrow=0.2).to_dict()
    parser = build_parser()
    same = prune_config_from_args(parser.parse_args(["prune", "--resume"]), recorded)
    assert same.budget == "params=0.5" and same.regrow == 0.2  # the checkpoint's, not today's defaults
    for flag in (["--regrow", "0.1"], ["--budget", "params=0.3"], ["--criterion", "random"], ["--interval", "2"]):
        with pytest.raises(ScaLavaError, match="--resume: .* differs from the checkpoint"):
            prune_config_from_args(parser.parse_args(["prune", "--resume", *flag]), recorded)


def test_a_validation_split_holds_out_training_digits_and_travels_in_the_contract(tmp_path, capsys):
    """--validation N: the last N training digits are evaluated on instead of
    the test digits (recipe choices never see the test split), the contract
    records it, a resume holds out the same ones, and checkpoints written
    before the field existed still resume."""
    from sca_lava.data import load_mnist5k
    from sca_lava.training import evaluate_model
    from sca_lava.training.checkpoint import load_trained

    full = load_mnist5k(0)
    val = full.hold_out(500)
    assert np.array_equal(val.train_x, full.train_x[:3500]) and np.array_equal(val.test_x, full.train_x[3500:])
    assert np.array_equal(val.test_y, full.train_y[3500:]) and val.validation_size == 500
    assert len(set(np.bincount(val.test_y))) > 1 and np.bincount(val.test_y).min() >= 30  # a random sample
    for bad in (0, 4000, 2.5, True):
        with pytest.raises(ScaLavaError, match="validation split"):
            full.hold_out(bad)
    with pytest.raises(ScaLavaError, match="already"):
        val.hold_out(10)
    (tmp_path / "small.json").write_text(json.dumps(small_config().to_dict()))
    out = tmp_path / "v"
    assert _train(out, "--epochs", 2, "--stop-after", 1, "--validation", 100) == 0
    state = torch.load(out / "model.pt", weights_only=True)
    c = state["contract"]
    assert (c["validation_size"], c["train_size"], c["test_size"]) == (100, 32, 8)
    model, _ = load_trained(out / "model.pt")
    held = evaluate_model(model, full.train_x[3900:3908], full.train_y[3900:3908], 12, "rate-regular")
    assert state["history"][-1]["test_accuracy"] == held["accuracy"]
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--no-progress", "--validation", "200"]) == 2
    assert "validation_size 100 -> 200" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--no-progress", "--stop-after", "2"]) == 0
    assert main(["export", str(out / "model.pt"), "--out", str(out / "m.net")]) == 0
    assert read_netx(out / "m.net").contract.validation_size == 100
    old = tmp_path / "old"  # a checkpoint from before the field: resumes as a run without validation
    assert _train(old, "--epochs", 2, "--stop-after", 1) == 0
    state = torch.load(old / "model.pt", weights_only=True)
    del state["contract"]["validation_size"]
    torch.save(state, old / "model.pt")
    assert main(["train", "--out", str(old), "--resume", "--no-progress"]) == 0
