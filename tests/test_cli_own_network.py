"""The command line with a network of your own: --model FILE.py:CLASS names the
code, --weights/--from its state dict, --data FILE.npz your arrays. Later
commands on its files know it was trained on your data and ask for --input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

NET_PY = '''
import torch
from lava.lib.dl import slayer


class Network(torch.nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        p = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3}
        self.blocks = torch.nn.ModuleList([
            slayer.block.cuba.Conv(p, 1, 6, 3, padding=1, weight_scale=2, weight_norm=True),
            slayer.block.cuba.Pool(p, 2, weight_scale=1.1),
            slayer.block.cuba.Flatten(),
            slayer.block.cuba.Dense(p, 6 * 14 * 14, hidden, weight_scale=2, weight_norm=True, delay=True),
            slayer.block.cuba.Dense(p, hidden, 10, weight_scale=2, weight_norm=True),
        ])

    def forward(self, spike):
        for block in self.blocks:
            spike = block(spike)
        return spike
'''


@pytest.fixture(scope="module")
def own(tmp_path_factory, mnist5k):
    import importlib.util

    d = tmp_path_factory.mktemp("own")
    (d / "net.py").write_text(NET_PY)
    spec = importlib.util.spec_from_file_location("own_net_for_test", d / "net.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    net = mod.Network()
    net(torch.zeros(1, 1, 28, 28, 2))  # lava-dl learns shapes (and creates delays) on a first pass
    torch.save(net.state_dict(), d / "network.pt")
    s = mnist5k.subset(train=64, test=16)
    np.savez(d / "data.npz", train_x=s.train_x, train_y=s.train_y, test_x=s.test_x, test_y=s.test_y)
    return d


def run(*args):
    from sca_lava.cli import main

    return main([str(a) for a in args])


def test_prune_export_and_evaluate_a_users_module(own, tmp_path, capsys):
    out = tmp_path / "p"
    assert run("prune", "--model", f"{own / 'net.py'}:Network", "--weights", own / "network.pt",
               "--data", own / "data.npz", "--steps", 8, "--budget", "params=0.5", "--epochs", 1,
               "--out", out, "--no-progress") == 0
    for name in ("pruned.pt", "pruned.net", "report.md"):
        assert (out / name).exists()
    # the pruned checkpoint reloads into the user's class (cut to its structure) and exports
    assert run("export", "--model", f"{own / 'net.py'}:Network", "--weights", out / "pruned.pt",
               "--out", tmp_path / "again.net") == 0
    import h5py

    with h5py.File(out / "pruned.net") as a, h5py.File(tmp_path / "again.net") as b:
        for i in a["layer"]:
            if "weight" in a["layer"][i]:
                assert np.array_equal(a["layer"][i]["weight"][()], b["layer"][i]["weight"][()])
    capsys.readouterr()
    # trained on the user's data: evaluate asks for --input, never 'unknown data set'
    assert run("evaluate", out / "pruned.net") == 2
    err = capsys.readouterr().err
    assert "data of your own" in err and "--input" in err and "unknown data set" not in err
    assert run("evaluate", out / "pruned.net", "--data", own / "data.npz") == 0
    # the very file it was trained on, given again, overrides nothing
    assert "overrides" not in capsys.readouterr().err


def test_export_a_state_dict_needs_the_model_and_a_shape(own, tmp_path, capsys):
    assert run("export", own / "network.pt", "--out", tmp_path / "x.net") == 2
    assert "--model" in capsys.readouterr().err
    assert run("export", "--model", f"{own / 'net.py'}:Network", "--weights", own / "network.pt",
               "--out", tmp_path / "x.net") == 2
    assert "--input-shape" in capsys.readouterr().err
    assert run("export", "--model", f"{own / 'net.py'}:Network", "--model-kwargs", '{"hidden": 16}',
               "--weights", own / "network.pt", "--input-shape", "1,28,28", "--out", tmp_path / "x.net") == 0


def test_wrong_files_and_specs_are_one_line_errors(own, tmp_path, capsys):
    net = tmp_path / "x.net"
    run("export", "--model", f"{own / 'net.py'}:Network", "--weights", own / "network.pt",
        "--input-shape", "1,28,28", "--out", net)
    capsys.readouterr()
    assert run("prune", "--from", net, "--out", tmp_path / "p", "--epochs", 1) == 2
    err = capsys.readouterr().err
    assert "HDF5 file (a netx network" in err and "weights_only=False" not in err
    for spec, why in ((f"{own / 'net.py'}", "FILE.py:CLASS"), (f"{own / 'net.py'}:Nope", "defines no"),
                      (f"{own / 'nothere.py'}:Network", "not a Python file")):
        assert run("export", "--model", spec, "--weights", own / "network.pt", "--input-shape", "1,28,28",
                   "--out", tmp_path / "y.net") == 2
        assert why in capsys.readouterr().err
    assert run("export", "--model", f"{own / 'net.py'}:Network", "--model-kwargs", '{"hidden": 7}',
               "--weights", own / "network.pt", "--input-shape", "1,28,28", "--out", tmp_path / "y.net") == 2
    assert "shape" in capsys.readouterr().err  # weights of another size


def test_a_users_module_on_the_command_line_starts_quietly(own, tmp_path):
    """lava-dl's import chatter (the Prophesee notice) and torch's weight_norm deprecation, which
    the user's lava-dl blocks trigger and cannot avoid, stay off the screen (a fresh process)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sca_lava.cli", "export", "--model", f"{own / 'net.py'}:Network",
                          "--weights", str(own / "network.pt"), "--input-shape", "1,28,28",
                          "--out", str(tmp_path / "n.net")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-500:]
    said = out.stdout + out.stderr
    assert "Prophesee" not in said and "weight_norm is deprecated" not in said, said[-800:]
