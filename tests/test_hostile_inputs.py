"""A seeded generator of hostile inputs for every entry point (without Lava):
option values out of range, network configs (wrong types, NaN, sizes,
nesting, non-UTF-8, YAML aliases), checkpoints (another architecture,
strings where tensors go, non-list history, NaN weights, pickled code),
paths (FIFOs, devices and folders as inputs; /proc, /sys, /dev, folders and
files in the way as outputs), hardware profiles with NaN, infinite or negative
numbers, CIFAR-10 batches carrying code, N-MNIST files,
input contracts in netx files, sample counts beyond the data set, NIR files
(tests/hostile_nir.py).

Every case must be refused cleanly: exit code 2, one line on stderr, no
traceback, no hang, no child process left, no payload executed. The
counts are printed (``pytest -s``) for the issue's closing note.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hostile import report, run_cli, run_cli_subprocess, tally
from hostile_nir import nir_cases, nir_valid_cases

from sca_lava.models import build_network
from sca_lava.models.config import small_config
from sca_lava.netx.contract import GROUP, InputContract
from sca_lava.training import TrainConfig

SEED = 20261201
MIN_CASES = 200


class Workspace:
    """Valid files to break, under one temporary folder."""

    def __init__(self, root: Path):
        self.root = root
        self.n = 0
        cfg = small_config()
        self.config = cfg.to_dict()
        net = build_network(cfg)
        self.contract = InputContract(12, "rate-regular", (1, 28, 28), "mnist5k", 0, 4000, 1000)
        net.contract = self.contract
        self.state = {"model": net.state_dict(), "config": cfg.to_dict(), "epoch": 1,
                      "train_config": asdict(TrainConfig()), "history": [], "contract": self.contract.to_dict()}
        self.ckpt = self.path("valid.pt")
        torch.save(self.state, self.ckpt)
        self.net = self.path("valid.net")
        net.export_hdf5(self.net)
        self.fifo = self.path("fifo")
        os.mkfifo(self.fifo)
        self.folder = self.path("folder")
        self.folder.mkdir()
        self.file = self.path("plain.txt")
        self.file.write_text("x")
        self.marker = self.path("PAYLOAD_RAN")

    def path(self, name: str) -> Path:
        self.n += 1
        return self.root / f"{self.n:04d}_{name}"

    def out(self) -> Path:
        return self.path("out")


# --- case families: each returns (name, argv) ---------------------------------

BAD_INTS = ["-1", "0", "abc", "1e3", "", "2.5", "-99999999999", str(2**64)]
BAD_SEEDS = ["-1", str(2**32), str(2**64), "x", "1.5", "-2147483649", ""]


def options_cases(ws, rng):
    cases = []
    for cmd in ("train", "prune", "evaluate", "simulate"):
        pos = [] if cmd in ("train", "prune") else [ws.net]
        for flag in ("--seed", "--split-seed"):
            v = BAD_SEEDS[rng.integers(len(BAD_SEEDS))]
            cases.append((f"{cmd} {flag} {v!r}", [cmd, *pos, flag, v]))
    for cmd, flag in (("train", "--epochs"), ("train", "--batch-size"), ("train", "--train-samples"),
                      ("train", "--stop-after"), ("prune", "--epochs"), ("prune", "--test-samples"),
                      ("prune", "--interval"), ("evaluate", "--steps"), ("evaluate", "--samples"),
                      ("evaluate", "--batch-size"), ("simulate", "--steps"), ("simulate", "--samples")):
        pos = [] if cmd in ("train", "prune") else [ws.net]
        for v in rng.choice(BAD_INTS[:6], 2, replace=False):
            cases.append((f"{cmd} {flag} {v!r}", [cmd, *pos, flag, v]))
    cases.append(("budget --seed -1", ["budget", ws.net, "--seed", "-1", "--allocation-only", "--out", ws.out()]))
    cases.append(("evaluate --verify -1", ["evaluate", ws.net, "--verify", "-1", "--samples", "2"]))
    cases.append(("prune --target-params 0", ["prune", "--target-params", "0", "--out", ws.out()]))
    cases.append(("prune --sparsity 1.5", ["prune", "--sparsity", "1.5", "--out", ws.out()]))
    cases.append(("prune --regrow 2", ["prune", "--regrow", "2", "--out", ws.out()]))
    return cases


def _config_mutations(rng):
    """(name, config dict) pairs that a schema or the network builder refuses."""
    nan = float("nan")
    muts = [
        ("input_shape str", {"input_shape": "abc"}), ("input_shape 2d", {"input_shape": [1, 28]}),
        ("input_shape 0", {"input_shape": [0, 28, 28]}), ("input_shape huge", {"input_shape": [1, 28, 10**9]}),
        ("input_shape float", {"input_shape": [1.5, 28, 28]}), ("layers str", {"layers": "conv"}),
        ("layers empty", {"layers": []}), ("layer empty", {"layers": [{}]}),
        ("layer not dict", {"layers": [3, {"type": "dense", "out": 10}]}),
        ("neuron str", {"neuron": "cuba"}), ("neuron threshold -1", {"neuron": {"threshold": -1}}),
        ("neuron threshold str", {"neuron": {"threshold": "high"}}),
        ("neuron threshold nan", {"neuron": {"threshold": nan}}),
        ("neuron decay 2", {"neuron": {"current_decay": 2}}), ("neuron extra", {"neuron": {"bias": 1}}),
        ("weight_scale 0", {"weight_scale": 0}), ("weight_scale str", {"weight_scale": "2"}),
        ("weight_scale nan", {"weight_scale": nan}), ("weight_scale inf", {"weight_scale": float("inf")}),
        ("num_steps 0", {"num_steps": 0}), ("num_steps float", {"num_steps": 1.5}),
        ("num_steps huge", {"num_steps": 10**9}), ("num_steps bool", {"num_steps": True}),
        ("unknown key", {"pooling": True}),
    ]
    layer_muts = [
        ("out str", {"out": "ten"}), ("out 0", {"out": 0}), ("out -4", {"out": -4}), ("out huge", {"out": 10**12}),
        ("out null", {"out": None}), ("out list", {"out": [8]}), ("kernel 0", {"kernel": 0}),
        ("kernel 99", {"kernel": 99}), ("stride -1", {"stride": -1}), ("padding 1000", {"padding": 1000}),
        ("type pool", {"type": "pool"}), ("type int", {"type": 3}), ("typo key", {"kernal": 3}),
        ("groups 2", {"groups": 2}),
    ]
    for name, m in layer_muts:
        muts.append((f"layer0 {name}", ("layer", 0, m)))
    for out in rng.choice(np.arange(1, 10), 3, replace=False):
        muts.append((f"classifier out {out} < 10 classes", ("layer", -1, {"out": int(out)})))
    muts += [("conv after flatten", ("layers", [{"type": "flatten"}, {"type": "conv", "out": 4},
                                                {"type": "dense", "out": 10}])),
             ("dense after conv, no flatten", ("layers", [{"type": "conv", "out": 4}, {"type": "dense", "out": 10}])),
             ("last layer conv", ("layers", [{"type": "conv", "out": 4}])),
             ("conv output empty", ("layers", [{"type": "conv", "out": 4, "kernel": 29},
                                               {"type": "flatten"}, {"type": "dense", "out": 10}]))]
    return muts


def config_cases(ws, rng):
    cases = []
    for name, mut in _config_mutations(rng):
        cfg = json.loads(json.dumps(ws.config))
        if isinstance(mut, dict):
            cfg.update(mut)
        elif mut[0] == "layer":
            cfg["layers"][mut[1]].update(mut[2])
        else:
            cfg["layers"] = mut[1]
        suffix = ".json" if rng.random() < 0.7 else ".yaml"
        path = ws.path("config" + suffix)
        text = json.dumps(cfg)  # JSON is YAML too; NaN/Infinity are JSON extensions Python reads
        path.write_text(text)
        cases.append((f"config {name} ({suffix})", ["train", "--config", path, "--out", ws.out()]))
    files = {
        "non-UTF-8": b'{"layers": "\xff\xfe"}',
        "truncated JSON": json.dumps(ws.config)[:40].encode(),
        "JSON list": b"[1, 2, 3]", "JSON null": b"null", "empty": b"",
        "deep nesting": b"[" * 100_000 + b"]" * 100_000,
        "deep dicts": b'{"a":' * 5000 + b"1" + b"}" * 5000,
        "too large": b'{"layers": [' + b'{"type": "flatten"},' * 80_000 + b'{"type": "dense", "out": 10}]}',
        "huge int literal": b'{"num_steps": 1' + b"0" * 5000 + b"}",
    }
    for name, data in files.items():
        path = ws.path("config.json")
        path.write_bytes(data)
        cases.append((f"config file {name}", ["train", "--config", path, "--out", ws.out()]))
    bomb = ws.path("bomb.yaml")
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},"
              f"*a{i - 1}]" for i in range(1, 9)]
    lines.append("layers: *a8")
    bomb.write_text("\n".join(lines) + "\n")
    cases.append(("config YAML alias bomb", ["train", "--config", bomb, "--out", ws.out()]))
    alias = ws.path("alias.yaml")
    alias.write_text("neuron: &n {threshold: 1.0}\nlayers: [{type: flatten}, {type: dense, out: 10}]\nx: *n\n")
    cases.append(("config YAML alias", ["train", "--config", alias, "--out", ws.out()]))
    bad_yaml = ws.path("bad.yaml")
    bad_yaml.write_text("layers: [unclosed\n  - : :\n")
    cases.append(("config bad YAML", ["train", "--config", bad_yaml, "--out", ws.out()]))
    for name, p in (("FIFO", ws.fifo), ("folder", ws.folder), ("/dev/zero", "/dev/zero"),
                    ("missing", ws.root / "nope.json")):
        cases.append((f"config {name}", ["train", "--config", p, "--out", ws.out()]))
    return cases


class _Payload:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def checkpoint_cases(ws, rng):
    import copy

    cases = []
    keys = list(ws.state["model"])

    def mutated(fn):
        s = copy.deepcopy(ws.state)
        fn(s)
        return s

    def other_arch(s):
        cfg = small_config()
        cfg.layers[0]["out"] = 5
        s["model"] = build_network(cfg).state_dict()

    def nan_weight(s, value):
        k = keys[rng.integers(len(keys))]
        while not s["model"][k].is_floating_point():
            k = keys[rng.integers(len(keys))]
        t = s["model"][k].clone()
        t.view(-1)[int(rng.integers(t.numel()))] = value
        s["model"][k] = t

    muts = {
        "another architecture": other_arch,
        "string where a tensor goes": lambda s: s["model"].__setitem__(keys[int(rng.integers(len(keys)))], "w"),
        "list where a tensor goes": lambda s: s["model"].__setitem__(keys[0], [1.0, 2.0]),
        "model is a string": lambda s: s.__setitem__("model", "weights"),
        "model is empty": lambda s: s.__setitem__("model", {}),
        "missing tensor": lambda s: s["model"].pop(keys[-1]),
        "extra tensor": lambda s: s["model"].__setitem__("blocks.9.weight", torch.zeros(2)),
        "NaN weight": lambda s: nan_weight(s, float("nan")),
        "inf weight": lambda s: nan_weight(s, float("inf")),
        "-inf weight": lambda s: nan_weight(s, float("-inf")),
        "complex weight": lambda s: s["model"].__setitem__(keys[0], s["model"][keys[0]].to(torch.complex64)),
        "history is a string": lambda s: s.__setitem__("history", "epoch 1"),
        "history is a dict": lambda s: s.__setitem__("history", {"epoch": 1}),
        "history of ints": lambda s: s.__setitem__("history", [1, 2]),
        "epoch negative": lambda s: s.__setitem__("epoch", -1),
        "epoch string": lambda s: s.__setitem__("epoch", "3"),
        "epoch float": lambda s: s.__setitem__("epoch", 1.5),
        "train_config list": lambda s: s.__setitem__("train_config", [1]),
        "train_config lr string": lambda s: s["train_config"].__setitem__("lr", "fast"),
        "train_config epochs 0": lambda s: s["train_config"].__setitem__("epochs", 0),
        "train_config lr nan": lambda s: s["train_config"].__setitem__("lr", float("nan")),
        "train_config encoding": lambda s: s["train_config"].__setitem__("encoding", "morse"),
        "contract string": lambda s: s.__setitem__("contract", "T=16"),
        "contract num_steps 0": lambda s: s["contract"].__setitem__("num_steps", 0),
        "contract unknown field": lambda s: s["contract"].__setitem__("colour", "red"),
        "contract shape": lambda s: s["contract"].__setitem__("input_shape", "1x28x28"),
        "config string": lambda s: s.__setitem__("config", "small"),
        "config out string": lambda s: s["config"]["layers"][0].__setitem__("out", "ten"),
        "config unknown key": lambda s: s["config"].__setitem__("pool", 1),
        "callbacks list": lambda s: s.__setitem__("callbacks", [1]),
        "no config": lambda s: s.pop("config"),
        "no model": lambda s: s.pop("model"),
    }
    paths = {}
    for name, fn in muts.items():
        path = paths[name] = ws.path("ckpt.pt")
        torch.save(mutated(fn), path)
        cases.append((f"checkpoint {name}", ["export", path, "--out", ws.out()]))
    raw = {
        "garbage": b"not a checkpoint at all",
        "empty": b"",
        "truncated": ws.ckpt.read_bytes()[:2000],
        "pickled code": pickle.dumps({"model": _Payload(os.system, f"touch {ws.marker}"), "config": {}}),
        "zip of nothing": b"PK\x05\x06" + b"\x00" * 18,
    }
    for name, data in raw.items():
        path = ws.path("ckpt.pt")
        path.write_bytes(data)
        cases.append((f"checkpoint {name}", ["export", path, "--out", ws.out()]))
    for obj_name, obj in (("a list", [1, 2]), ("a tensor", torch.zeros(3)), ("an int", 7)):
        path = ws.path("ckpt.pt")
        torch.save(obj, path)
        cases.append((f"checkpoint is {obj_name}", ["export", path, "--out", ws.out()]))
    for name, p in (("FIFO", ws.fifo), ("folder", ws.folder), ("/dev/zero", "/dev/zero"),
                    ("missing", ws.root / "nope.pt")):
        cases.append((f"checkpoint {name}", ["export", p, "--out", ws.out()]))
    cases.append(("resume without a checkpoint", ["train", "--resume", "--out", ws.out()]))
    cases.append(("prune --from NaN checkpoint", ["prune", "--from", paths["NaN weight"], "--out", ws.out()]))
    return cases


def path_cases(ws, rng):
    under_file = ws.file / "sub"
    outs_file = [("existing folder", ws.folder), ("/proc", "/proc/sca_lava.net"), ("/sys", "/sys/x.net"),
                 ("/dev/null", "/dev/null"), ("/dev/full", "/dev/full"), ("under a file", under_file / "x.net"),
                 ("FIFO", ws.fifo)]
    cases = []
    for name, p in outs_file:
        cases.append((f"export --out {name}", ["export", ws.ckpt, "--out", p]))
    for name, p in outs_file[:4] + [("under a file", under_file / "x.json")]:
        cases.append((f"evaluate --json {name}", ["evaluate", ws.net, "--json", p, "--samples", "2"]))
        cases.append((f"simulate --json {name}", ["simulate", ws.net, "--json", p, "--samples", "2"]))
    outs_dir = [("existing file", ws.file), ("/proc", "/proc/sca_lava_run"), ("/sys", "/sys/run"),
                ("under a file", under_file), ("FIFO", ws.fifo)]
    for name, p in outs_dir:
        cases.append((f"train --out {name}", ["train", "--out", p]))
        cases.append((f"prune --out {name}", ["prune", "--out", p]))
    for name, p in outs_dir[:4]:
        cases.append((f"budget --out {name}", ["budget", ws.net, "--allocation-only", "--out", p]))
        cases.append((f"budget --sweep --out {name}", ["budget", "--sweep", "--arch", "mnist_small", "--out", p]))
        cases.append((f"demo --out {name}", ["demo", "--out", p]))
    for cmd in ("evaluate", "simulate"):
        for name, p in (("FIFO", ws.fifo), ("folder", ws.folder), ("/dev/zero", "/dev/zero"),
                        ("missing", ws.root / "none.net"), ("text file", ws.file)):
            cases.append((f"{cmd} model {name}", [cmd, p, "--samples", "2"]))
    for name, p in (("FIFO", ws.fifo), ("/dev/zero", "/dev/zero"), ("folder", ws.folder)):
        cases.append((f"budget --input {name}", ["budget", ws.net, "--input", p, "--out", ws.out(), "--no-plots"]))
    pickled = ws.path("spikes.npy")
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases.append(("budget --input object .npy", ["budget", ws.net, "--input", pickled, "--out", ws.out(),
                                                 "--no-plots"]))
    return cases


def contract_cases(ws, rng):
    muts = [("version", 9), ("version", "1"), ("num_steps", 0), ("num_steps", -4), ("num_steps", 2.5),
            ("num_steps", 10**9), ("encoding", "morse"), ("encoding", 3), ("input_shape", np.array([1, 27, 28])),
            ("input_shape", np.array([1, 2, 3, 4])), ("input_shape", np.array([1.5, 28, 28])),
            ("split_seed", -1), ("split_seed", 2**40), ("dataset", "x" * 500), ("dataset", "a\nb"),
            ("bin_width_us", 100.0), ("train_size", -5), ("num_steps", np.array([12, 12])), ("colour", "red")]
    cases = []
    for key, value in muts:
        path = ws.path("contract.net")
        path.write_bytes(ws.net.read_bytes())
        with h5py.File(path, "a") as f:
            f[GROUP].attrs[key] = value
        cmd = ["evaluate", "simulate", "budget"][int(rng.integers(3))]
        extra = ["--allocation-only", "--out", ws.out()] if cmd == "budget" else ["--samples", "2"]
        cases.append((f"{cmd} contract {key}={str(value)[:20]!r}", [cmd, path, *extra]))
    path = ws.path("contract.net")
    path.write_bytes(ws.net.read_bytes())
    with h5py.File(path, "a") as f:
        del f[GROUP]
        f.create_dataset(GROUP, data=np.zeros(3))
    cases.append(("contract is a dataset", ["evaluate", path, "--samples", "2"]))
    return cases


def _cifar_root(ws, data: bytes | None = None, special=None) -> Path:
    root = ws.path("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    target = folder / "data_batch_1"
    if special == "fifo":
        os.mkfifo(target)
    elif special == "folder":
        target.mkdir()
    else:
        target.write_bytes(data)
    return root


def cifar_cases(ws, rng):
    import builtins
    import subprocess

    touch = f"open({str(ws.marker)!r}, 'w').write('ran')"
    payloads = {
        "os.system": _Payload(os.system, f"touch {ws.marker}"),
        "builtins.eval": _Payload(builtins.eval, touch),
        "builtins.exec": _Payload(builtins.exec, touch),
        "subprocess.getoutput": _Payload(subprocess.getoutput, f"touch {ws.marker}"),
    }
    cases = []
    for name, obj in payloads.items():
        for proto in (2, 4):
            data = pickle.dumps({"data": obj, "labels": [0]}, protocol=proto)
            cases.append((f"CIFAR batch runs {name} (protocol {proto})",
                          ["train", "--data", "cifar10", "--data-root", _cifar_root(ws, data), "--out", ws.out()]))
    good = np.zeros((2, 3072), np.uint8)
    shapes = {
        "a list": [1, 2, 3], "no data": {"labels": [0, 1]}, "float data": {"data": good.astype(float), "labels": [0, 1]},
        "wrong width": {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]},
        "labels 10": {"data": good, "labels": [0, 10]}, "labels negative": {"data": good, "labels": [-1, 0]},
        "labels count": {"data": good, "labels": [0]}, "labels strings": {"data": good, "labels": ["a", "b"]},
    }
    for name, obj in shapes.items():
        cases.append((f"CIFAR batch {name}", ["train", "--data", "cifar10", "--data-root",
                                              _cifar_root(ws, pickle.dumps(obj)), "--out", ws.out()]))
    for name, data in (("truncated", pickle.dumps({"data": good, "labels": [0, 1]})[:50]), ("empty", b""),
                       ("garbage", b"\x80\x04garbage")):
        cases.append((f"CIFAR batch {name}", ["train", "--data", "cifar10", "--data-root", _cifar_root(ws, data),
                                              "--out", ws.out()]))
    for special in ("fifo", "folder"):
        cases.append((f"CIFAR batch is a {special}", ["train", "--data", "cifar10", "--data-root",
                                                      _cifar_root(ws, special=special), "--out", ws.out()]))
    return cases


def nmnist_cases(ws, rng):
    cases = []
    for name in ("fifo", "size", "folder-only"):
        root = ws.path("nmnist")
        for part in ("Train", "Test"):
            (root / part / "0").mkdir(parents=True)
            if name == "fifo":
                os.mkfifo(root / part / "0" / "a.bin")
            elif name == "size":
                (root / part / "0" / "a.bin").write_bytes(b"\x00" * 7)
        cases.append((f"N-MNIST {name}", ["train", "--data", "nmnist", "--data-root", root, "--out", ws.out()]))
    return cases


def sizes_cases(ws, rng):
    cases = []
    for n in rng.integers(4001, 10**7, 3):
        cases.append((f"train --train-samples {n}", ["train", "--train-samples", int(n), "--out", ws.out()]))
    for n in rng.integers(1001, 10**7, 2):
        cases.append((f"train --test-samples {n}", ["train", "--test-samples", int(n), "--out", ws.out()]))
    cases.append(("prune --train-samples 10**6", ["prune", "--train-samples", 10**6, "--out", ws.out()]))
    return cases


def arch_cases(ws, rng):
    """Architectures of the what-if sweep (budget --sweep --arch FILE)."""
    good = {"input": [1, 28, 28], "layers": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "flatten"},
                                             {"type": "dense", "out": 10}]}
    muts = {"out string": ("layer", {"out": "ten"}), "kernel 0": ("layer", {"kernel": 0}),
            "unknown layer key": ("layer", {"pool": 2}), "input 2-D": ("top", {"input": [28, 28]}),
            "input string": ("top", {"input": "1x28x28"}), "unknown key": ("top", {"colour": 1}),
            "layers empty": ("top", {"layers": []})}
    cases = []
    for name, (where, m) in muts.items():
        arch = json.loads(json.dumps(good))
        (arch["layers"][0] if where == "layer" else arch).update(m)
        path = ws.path("arch.json")
        path.write_text(json.dumps(arch))
        cases.append((f"arch {name}", ["budget", "--sweep", "--arch", path, "--out", ws.out(), "--no-plots"]))
    bomb = ws.path("arch.yaml")
    bomb.write_text("a: &a [1, 1, 1]\nb: &b [*a, *a, *a]\ninput: [1, 28, 28]\nlayers: *b\n")
    raw = ws.path("arch.yaml")
    raw.write_bytes(b"input: [1, 28, 28]\nlayers: \xff\xfe\n")
    for name, path in (("YAML aliases", bomb), ("non-UTF-8", raw), ("FIFO", ws.fifo)):
        cases.append((f"arch {name}", ["budget", "--sweep", "--arch", path, "--out", ws.out(), "--no-plots"]))
    return cases


def profile_cases(ws, rng):
    """Hardware profiles whose numbers are not numbers a chip can have: NaN, +-inf or
    negative per-op energies, times, powers, limits and compiler units (budget --profile FILE)."""
    import yaml

    from sca_lava.hardware.profile import profiles_dir

    fields = {"loihi1": [("energy_pj", "synop_dense"), ("energy_pj", "neuron_active"), ("timing_ns", "synop_conv"),
                         ("static", "power_mw_per_chip"), ("core", "max_neurons"), ("core", "max_synapse_bits"),
                         ("routing", "hops_per_message")],
              "loihi2": [("compiler", "max_synapse_words"), ("compiler", "neuron_memory_words"),
                         ("compiler", "dense_synapse_bits"), ("energy_pj", "spike_hop")]}
    cases = []
    for name, picks in fields.items():
        for sec, key in picks:
            bad_value = [float("nan"), float("-inf"), float("inf"), -1][int(rng.integers(4))]
            raw = yaml.safe_load((profiles_dir() / f"{name}.yaml").read_text())
            raw[sec][key]["value"] = bad_value
            path = ws.path(f"{name}_{key}.yaml")
            path.write_text(yaml.safe_dump(raw))
            cases.append((f"profile {name} {sec}.{key} = {bad_value}",
                          ["budget", ws.net, "--profile", path, "--allocation-only", "--out", ws.out(), "--no-plots"]))
    return cases


def _netx_variant(ws, name: str, change) -> Path:
    """A copy of the valid netx file with ``change(h5py.File)`` applied."""
    path = ws.path(name)
    path.write_bytes(ws.net.read_bytes())
    with h5py.File(path, "a") as f:
        change(f)
    return path


def _float_shape(f):
    shape = f["layer/0/shape"][()]
    del f["layer/0/shape"]
    f["layer/0/shape"] = shape.astype(float)


def _no_flatten(f):
    """Drop the flatten between the last conv and the first dense layer (renumbering the rest)."""
    kinds = [f[f"layer/{i}/type"][0] for i in range(len(f["layer"]))]
    k = kinds.index(b"flatten")
    del f[f"layer/{k}"]
    for i in range(k + 1, len(kinds)):
        f["layer"].move(str(i), str(i - 1))


def lava_cases(ws, rng):
    """Issue 32: what passed the reader and then hung or crashed Lava (netx
    files), runs too large for memory, checkpoints of another network."""
    files = {"messageBits 3": _netx_variant(ws, "mb.net", lambda f: f["layer/1/neuron"].create_dataset(
                 "messageBits", data=3)),
             "float input shape": _netx_variant(ws, "fshape.net", _float_shape),
             "conv then dense, no flatten": _netx_variant(ws, "noflat.net", _no_flatten)}
    cases = []
    for name, path in files.items():
        for cmd in ("evaluate", "simulate", "budget"):
            extra = ["--out", ws.out(), "--no-plots"] if cmd == "budget" else ["--samples", "2"]
            cases.append((f"{cmd} netx {name}", [cmd, path, *extra]))
    for cmd in ("evaluate", "simulate", "budget"):
        extra = ["--out", ws.out(), "--no-plots"] if cmd == "budget" else []
        cases.append((f"{cmd} --steps 1000000000", [cmd, ws.net, "--steps", "1000000000", *extra]))
    cases.append(("evaluate --steps 10**7 x 1000 samples", ["evaluate", ws.net, "--steps", str(10**7)]))
    from sca_lava.models import NetworkConfig

    other_input = ws.path("8x8.net")  # no input contract, an input no data set has: --input is needed
    build_network(NetworkConfig(input_shape=(1, 8, 8), layers=[{"type": "flatten"}, {"type": "dense", "out": 10}],
                                num_steps=8)).export_hdf5(other_input)
    for cmd in ("evaluate", "simulate"):
        cases.append((f"{cmd} 1x8x8 net without --input", [cmd, other_input, "--samples", "2"]))
    other = small_config()
    other.layers[0]["out"] = 6
    for name, cfg, seed in (("another architecture", other, 0), ("another training", small_config(), 7)):
        net = build_network(cfg, seed=seed)
        net.contract = ws.contract
        path = ws.path("other.pt")
        torch.save({**ws.state, "model": net.state_dict(), "config": cfg.to_dict()}, path)
        cases.append((f"simulate --checkpoint of {name}", ["simulate", ws.net, "--checkpoint", path,
                                                           "--samples", "2"]))
    return cases


def long_name_cases(ws, rng):
    """Output names the file system cannot hold (ENAMETOOLONG was a traceback)."""
    long = "n" * int(rng.integers(256, 400))
    fits_but_temp = "t" * 250 + ".json"  # 255 bytes: only its temporary name is too long
    cases = [("export --out long name", ["export", ws.ckpt, "--out", ws.root / (long + ".net")]),
             ("export --out name without room for its temp", ["export", ws.ckpt, "--out", ws.root / fits_but_temp])]
    for cmd in ("evaluate", "simulate"):
        cases.append((f"{cmd} --json long name", [cmd, ws.net, "--json", ws.root / (long + ".json"), "--samples", "2"]))
    for cmd in ("train", "prune", "demo"):
        cases.append((f"{cmd} --out long folder", [cmd, "--out", ws.root / long]))
    cases.append(("budget --out long folder", ["budget", ws.net, "--allocation-only", "--out", ws.root / long]))
    return cases


def _mnist_root(ws, damage) -> Path:
    import struct

    root = ws.path("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, n, dims in (("train-images-idx3-ubyte", 3, (4, 28, 28)), ("train-labels-idx1-ubyte", 1, (4,)),
                          ("t10k-images-idx3-ubyte", 3, (2, 28, 28)), ("t10k-labels-idx1-ubyte", 1, (2,))):
        data = (np.arange(int(np.prod(dims))) % 10).astype(np.uint8).tobytes()
        (raw / name).write_bytes(struct.pack(">HBB", 0, 8, n) + struct.pack(f">{n}I", *dims) + data)
    damage(raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte")
    return root


def mnist_cases(ws, rng):
    """Garbage under an MNIST --data-root (torchvision raised a bare AssertionError)."""
    damages = {
        "random bytes": lambda img, lab: img.write_bytes(rng.bytes(100)),
        "truncated images": lambda img, lab: img.write_bytes(img.read_bytes()[:500]),
        "empty labels": lambda img, lab: lab.write_bytes(b""),
        "float images": lambda img, lab: img.write_bytes(img.read_bytes()[:2] + b"\x0d" + img.read_bytes()[3:]),
        "labels 2-D": lambda img, lab: lab.write_bytes(lab.read_bytes()[:3] + b"\x02" + lab.read_bytes()[4:]),
        "label 200": lambda img, lab: lab.write_bytes(lab.read_bytes()[:-1] + b"\xc8"),
        "images a folder": lambda img, lab: (img.unlink(), img.mkdir()),
        "images a FIFO": lambda img, lab: (img.unlink(), os.mkfifo(img)),
    }
    return [(f"MNIST {name}", ["train", "--data", "mnist", "--data-root", _mnist_root(ws, fn), "--out", ws.out()])
            for name, fn in damages.items()]


def wrong_success_cases(ws, rng):
    """Accepted before, now refused: negative or non-binary input spikes,
    --ramp-start -1, a learning rate that overflows float32."""
    cases = []
    for name, value in (("negative", -1), ("2", 2)):
        x = (rng.random((2, 1, 28, 28, 12)) < 0.3).astype(np.int16)
        x[0, 0, 3, 3, 0] = value
        path = ws.path("spikes.npy")
        np.save(path, x)
        cases.append((f"budget --input {name} spikes", ["budget", ws.net, "--input", path, "--out", ws.out(),
                                                        "--no-plots"]))
        cases.append((f"evaluate --input {name} spikes", ["evaluate", ws.net, "--input", path]))
    cases.append(("prune --ramp-start -1", ["prune", "--ramp-start", "-1", "--out", ws.out()]))
    cases.append(("train --lr 1e308", ["train", "--config", "tiny", "--lr", "1e308", "--epochs", "1",
                                       "--train-samples", "32", "--test-samples", "8", "--out", ws.out(),
                                       "--no-progress"]))
    return cases


FAMILIES = (profile_cases, arch_cases, options_cases, config_cases, checkpoint_cases, path_cases, contract_cases, cifar_cases,
            nmnist_cases, sizes_cases, lava_cases, long_name_cases, mnist_cases, wrong_success_cases, nir_cases)


def valid_cases(ws, rng):
    """Near misses that must run (exit 0): what the hostile checks must not
    refuse, and what issue 32 made work (a stride-1 conv first layer without
    input layer, the network names in --sweep, hardware.md's `input:` key)."""
    from sca_lava.models import NetworkConfig

    stride1 = ws.path("noinput.net")  # conv (stride 1) -> flatten -> dense, exported, then its input layer cut
    build_network(NetworkConfig(layers=[{"type": "conv", "out": 4, "kernel": 3}, {"type": "flatten"},
                                        {"type": "dense", "out": 10}], num_steps=8), seed=1).export_hdf5(stride1)
    with h5py.File(stride1, "a") as f:
        del f["layer/0"]
        for i in range(1, len(f["layer"]) + 1):
            f["layer"].move(str(i), str(i - 1))
    arch = ws.path("arch.yaml")
    arch.write_text("name: mine\ninput: [1, 28, 28]\nlayers: [{type: conv, out: 4, kernel: 3, stride: 2}, "
                    "{type: flatten}, {type: dense, out: 10}]\n")
    short = ["--epochs", "1", "--train-samples", "32", "--test-samples", "8", "--no-progress"]
    cases = [("--version", ["--version"]),
             ("evaluate a stride-1 conv file without input layer", ["evaluate", stride1, "--samples", "4",
                                                                     "--no-progress"]),
             ("evaluate the valid file", ["evaluate", ws.net, "--samples", "4", "--no-progress"]),
             ("budget the valid file", ["budget", ws.net, "--samples", "2", "--out", ws.out(), "--no-plots"]),
             ("train --config with input:", ["train", "--config", arch, "--out", ws.out(), *short]),
             ("train --config mnist_small", ["train", "--config", "mnist_small", "--out", ws.out(), *short]),
             ("train --lr 1e-2", ["train", "--config", "tiny", "--lr", "1e-2", "--out", ws.out(), *short])]
    for name in ("mnist_vgg", "mnist_small_dense", "tiny", "mnist_small"):
        cases.append((f"budget --sweep --arch {name}", ["budget", "--sweep", "--arch", name, "--keep", "1,0.5",
                                                        "--out", ws.out(), "--no-plots"]))
    return cases + nir_valid_cases(ws, rng)


def generate(root: Path, seed: int = SEED) -> tuple[Workspace, list[tuple[str, list]], list[tuple[str, list]]]:
    """(workspace, hostile cases, valid cases)."""
    rng = np.random.default_rng(seed)
    ws = Workspace(root)
    cases = [c for family in FAMILIES for c in family(ws, rng)]
    return ws, cases, valid_cases(ws, rng)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("hostile"))


def test_every_hostile_input_is_refused_cleanly(generated, capsys):
    ws, cases, _ = generated
    assert len(cases) >= MIN_CASES
    outcomes = [run_cli(argv, name) for name, argv in cases]
    summary = report(outcomes)
    with capsys.disabled():
        print("\nhostile inputs:", summary.splitlines()[0])
    assert not ws.marker.exists(), "a payload ran"
    assert tally(outcomes)["clean"] == len(outcomes), summary
    assert not list(Path("/proc").glob("sca_lava*"))


def test_near_misses_run(generated, capsys):
    """The valid side of the generator: each exits 0 without a traceback."""
    _, _, cases = generated
    outcomes = [run_cli(argv, name, timeout=120) for name, argv in cases]
    summary = report(outcomes)
    with capsys.disabled():
        print("\nvalid runs:", summary.splitlines()[0])
    assert tally(outcomes)["success"] == len(outcomes), summary


@pytest.mark.parametrize("which", ["config FIFO", "CIFAR batch runs os.system (protocol 2)",
                                   "checkpoint NaN weight", "export --out /proc"])
def test_real_command_exits_2_in_one_line(generated, which):
    ws, cases, _ = generated
    outcome = run_cli_subprocess(dict(cases)[which], which)
    assert outcome.clean, (outcome.kind, outcome.code, outcome.stderr[-2000:])
    assert not ws.marker.exists()
