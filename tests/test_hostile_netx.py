"""Seeded hostile netx files: every malformed file is refused by the reader
with one line (ScaLavaError; through the CLI: exit 2, no traceback), before
anything large is allocated, and without starting Lava.

Each case takes a small valid file (input, conv, flatten, dense, dense) and
breaks one thing netx or Lava would choke on, or that would run as silent
garbage: wrong types, NaN/inf, non-integers, out-of-range decays,
thresholds, biases and weights, bad geometry, inconsistent shapes, missing
fields netx requires, links, too many layers, absurd sizes, per-neuron
vectors, LFS pointers."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout

import h5py
import numpy as np
import pytest

from sca_lava.errors import ScaLavaError
from sca_lava.netx.reader import read_netx


def _neuron(g, vth=80, i_decay=1024, v_decay=128):
    n = g.create_group("neuron")
    n.create_dataset("type", (1,), "S10", [b"CUBA"])
    n.create_dataset("iDecay", data=i_decay)
    n.create_dataset("vDecay", data=v_decay)
    n.create_dataset("vThMant", data=vth)
    n.create_dataset("refDelay", data=1)


def base_layers(rng) -> list[dict]:
    """(name -> dataset value) per layer; 'neuron' is a dict of neuron fields."""
    return [
        {"type": b"input", "shape": np.array([2, 6, 6])},
        {"type": b"conv", "shape": np.array([4, 4, 4]), "weight": rng.integers(-50, 50, (4, 2, 3, 3)).astype(float),
         "stride": np.array([1, 1]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
         "groups": np.array(1), "bias": np.zeros(4), "neuron": {}},
        {"type": b"flatten", "shape": np.array([64])},
        {"type": b"dense", "shape": np.array([5]), "weight": rng.integers(-60, 60, (5, 64)).astype(float),
         "neuron": {}},
        {"type": b"dense", "shape": np.array([3]), "weight": rng.integers(-60, 60, (3, 5)).astype(float),
         "neuron": {}},
    ]


def write(path, layers, post=None):
    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        for i, ly in enumerate(layers):
            g = root.create_group(str(i))
            for k, v in ly.items():
                if k == "neuron":
                    fields = {"vth": 80, "i_decay": 1024, "v_decay": 128}
                    _neuron(g, **fields)
                    for nk, nv in v.items():
                        if nk in g["neuron"]:
                            del g["neuron"][nk]
                        if nv is not None:
                            g["neuron"].create_dataset(nk, data=nv)
                elif k == "type":
                    g.create_dataset("type", (1,), "S10", [v]) if isinstance(v, bytes) else g.create_dataset("type", data=v)
                elif v is not None:
                    g.create_dataset(k, data=v)
        if post is not None:
            post(f)
    return str(path)


# Each mutation: (name, function(layers, rng) -> optional post(f) hook). All must be refused.
def _set(i, key, value):
    def m(layers, rng):
        layers[i][key] = value
    return m


def _neuron_set(i, key, value):
    def m(layers, rng):
        layers[i]["neuron"][key] = value
    return m


def _drop(i, key):
    def m(layers, rng):
        layers[i].pop(key, None)
    return m


def _poison(i, key, value):
    def m(layers, rng):
        w = np.array(layers[i][key], dtype=float)
        idx = tuple(rng.integers(0, s) for s in w.shape)
        w[idx] = value
        layers[i][key] = w
    return m


def _post(fn):
    def m(layers, rng):
        return fn
    return m


def _many_layers(layers, rng):
    for _ in range(300):
        layers.append({"type": b"dense", "shape": np.array([3]), "weight": np.ones((3, 3)), "neuron": {}})


def _soft_loop(f):
    f["layer"]["4"]["neuron"]["loop"] = h5py.SoftLink("/layer/4/neuron/loop")


def _soft_layer(f):
    f["layer"].move("4", "x")
    f["layer"]["4"] = h5py.SoftLink("/layer/4")


def _external(f):
    f["layer"]["1"]["extra"] = h5py.ExternalLink("/etc/passwd", "/")


def _all_sdnn(layers, **fields):
    for ly in layers:
        if "neuron" in ly:
            ly["neuron"].update(type=b"SDNN", **fields)


def _no_flatten(layers, rng, conv: bool):
    """Drop the flatten: Lava cannot connect a (W, H, C) output to a dense layer's flat input."""
    if conv:
        del layers[2]
    else:
        layers[0]["neuron"] = {}
        del layers[1:3]
        layers[1]["weight"] = rng.integers(-60, 60, (5, 72)).astype(float)


def _gap(f):
    f["layer"].move("4", "7")


MUTATIONS = {
    "weight NaN": _poison(1, "weight", np.nan),
    "weight inf": _poison(3, "weight", np.inf),
    "weight -inf": _poison(4, "weight", -np.inf),
    "weight fraction": _poison(3, "weight", 0.5),
    "weight too big": _poison(1, "weight", 300),
    "weight too small": _poison(4, "weight", -1000),
    "weight complex": _set(3, "weight", np.ones((5, 64)) * (1 + 1j)),
    "weight string": _set(4, "weight", np.array([b"ab"] * 15).reshape(3, 5)),
    "weight group": _set(4, "weight", None),
    "weight all zero": _set(4, "weight", np.zeros((3, 5))),
    "dense rows vs shape": _set(4, "shape", np.array([4])),
    "dense 1-D not divisible": _set(4, "weight", np.ones(14)),
    "dense 3-D weight": _set(4, "weight", np.ones((3, 5, 1))),
    "dense fan-in": _set(4, "weight", np.ones((3, 6))),
    "dense shape zero": _set(4, "shape", np.array([0])),
    "dense shape negative": _set(4, "shape", np.array([-3])),
    "dense shape absurd": _set(4, "shape", np.array([10**9])),
    "dense no shape": _drop(4, "shape"),
    "dense no weight": _drop(3, "weight"),
    "bias NaN": _poison(1, "bias", np.nan),
    "bias fraction": _poison(1, "bias", 1.5),
    "bias too big": _poison(1, "bias", 5000),
    "bias wrong size": _set(1, "bias", np.zeros(3)),
    "bias string": _set(1, "bias", np.array([b"x"] * 4)),
    "stride float": _set(1, "stride", np.array([1.5, 1])),
    "stride 3 elements": _set(1, "stride", np.array([1, 1, 1])),
    "stride zero": _set(1, "stride", np.array([0, 1])),
    "stride huge": _set(1, "stride", np.array([1000, 1])),
    "padding negative": _set(1, "padding", np.array([-1, 0])),
    "padding absurd": _set(1, "padding", np.array([10**6, 10**6])),
    "dilation zero": _set(1, "dilation", np.array([0, 0])),
    "groups zero": _set(1, "groups", np.array(0)),
    "groups mismatch": _set(1, "groups", np.array(3)),
    "kernel zero": _set(1, "weight", np.ones((4, 2, 0, 3))),
    "out channels zero": _set(1, "weight", np.ones((0, 2, 3, 3))),
    "conv weight 3-D": _set(1, "weight", np.ones((4, 2, 3))),
    "conv stored shape wrong": _set(1, "shape", np.array([4, 5, 5])),
    "conv no groups": _drop(1, "groups"),
    "conv no stride": _drop(1, "stride"),
    "conv no shape": _drop(1, "shape"),
    "conv no neuron": _drop(1, "neuron"),
    "conv output empty": _set(0, "shape", np.array([2, 2, 2])),
    "input shape zero": _set(0, "shape", np.array([2, 0, 6])),
    "input shape 4-D": _set(0, "shape", np.array([2, 6, 6, 1])),
    "input shape float": _set(0, "shape", np.array([2.5, 6, 6])),
    "input shape absurd": _set(0, "shape", np.array([2, 10**7, 10**7])),
    "iDecay negative": _neuron_set(1, "iDecay", -1),
    "iDecay too big": _neuron_set(3, "iDecay", 4097),
    "vDecay too big": _neuron_set(4, "vDecay", 100000),
    "vDecay NaN": _neuron_set(1, "vDecay", np.nan),
    "vDecay fraction": _neuron_set(1, "vDecay", 10.5),
    "vThMant too big": _neuron_set(3, "vThMant", 1 << 17),
    "vThMant negative": _neuron_set(4, "vThMant", -5),
    "vThMant string": _neuron_set(4, "vThMant", b"80"),
    "vThMant per neuron": _neuron_set(3, "vThMant", np.arange(5) + 10),
    "iDecay per neuron": _neuron_set(1, "iDecay", np.arange(4) + 10),
    "vThMant missing": _neuron_set(1, "vThMant", None),
    "iDecay missing": _neuron_set(3, "iDecay", None),
    "neuron type unknown": _neuron_set(1, "type", b"RF_IZ"),
    "neuron type number": _neuron_set(1, "type", 3),
    "SDNN mixed with CUBA": _neuron_set(4, "type", b"SDNN"),
    "SDNN non-relu": lambda layers, rng: layers[4]["neuron"].update(type=b"SDNN", activation=b"sigmoid"),
    "messageBits too big": _neuron_set(3, "messageBits", 40),
    "messageBits 3 (netx cannot read it: Lava waits for ever)": _neuron_set(3, "messageBits", 3),
    "messageBits 16 on SDNN": lambda layers, rng: _all_sdnn(layers, messageBits=16),
    "input shape float-typed (Lava waits for ever)": _set(0, "shape", np.array([2.0, 6.0, 6.0])),
    "dense shape float-typed": _set(4, "shape", np.array([3.0])),
    "stride float-typed": _set(1, "stride", np.array([1.0, 1.0])),
    "groups float-typed": _set(1, "groups", np.array(1.0)),
    "vThMant float-typed": _neuron_set(3, "vThMant", 80.0),
    "iDecay bool-typed": _neuron_set(1, "iDecay", np.bool_(True)),
    "dense right after conv (no flatten)": lambda layers, rng: _no_flatten(layers, rng, conv=True),
    "dense right after an input neuron (no flatten)": lambda layers, rng: _no_flatten(layers, rng, conv=False),
    "layer type unknown": _set(2, "type", b"lstm"),
    "layer type pool in the middle": _set(2, "type", b"pool"),
    "layer type number": _set(2, "type", 7),
    "layer type non-ascii": _set(2, "type", "flättén".encode()),
    "dense_rec": _set(4, "type", b"dense_rec"),
    "second input layer": _set(2, "type", b"input"),
    "delay negative": _set(4, "delay", -np.ones(3)),
    "delay NaN": _set(4, "delay", np.full(3, np.nan)),
    "delay wrong shape": _set(4, "delay", np.ones(4)),
    "too many layers": _many_layers,
    "soft link loop": _post(_soft_loop),
    "soft-linked layer": _post(_soft_layer),
    "external link": _post(_external),
    "layer gap": _post(_gap),
    "no layer group": _post(lambda f: f.move("layer", "layers")),
    "layer is dataset": _post(lambda f: (f.move("layer", "old"), f.create_dataset("layer", data=1))),
    "no layers": _post(lambda f: [f["layer"].__delitem__(k) for k in list(f["layer"].keys())]),
    "only input": _post(lambda f: [f["layer"].__delitem__(k) for k in ("1", "2", "3", "4")]),
}


def _case(seed: int, tmp_path):
    """Case ``seed``: one mutation (cycling through all) on a seeded base file."""
    rng = np.random.default_rng(seed)
    names = sorted(MUTATIONS)
    name = names[seed % len(names)]
    layers = base_layers(rng)
    post = MUTATIONS[name](layers, rng)
    if name == "weight group":
        def post(f):  # noqa: F811 - a group where netx expects the weight dataset
            g = f["layer"]["4"].create_group("weight")
            g.create_dataset("real", data=np.ones((3, 5)))
    path = write(tmp_path / f"case{seed}.net", layers, post)
    return name, path


def test_base_file_is_valid(tmp_path):
    spec = read_netx(write(tmp_path / "ok.net", base_layers(np.random.default_rng(0))))
    assert [ly.kind for ly in spec.layers] == ["input", "conv", "flatten", "dense", "dense"]


N_CASES = 2 * len(MUTATIONS) + 40  # every mutation at least twice, with different seeds


def test_hostile_netx_files_are_refused_in_one_line(tmp_path):
    results, accepted = {}, set()
    for seed in range(N_CASES):
        name, path = _case(seed, tmp_path)
        try:
            read_netx(path)
        except ScaLavaError as exc:
            msg = str(exc)
            assert "\n" not in msg and msg, (name, msg)
            results[name] = msg
        else:
            accepted.add(name)
        os.unlink(path)
    assert not accepted, f"hostile cases accepted: {sorted(accepted)}"
    assert len(results) == len(MUTATIONS)


def test_too_large_is_refused_before_allocation(tmp_path):
    """A 1e6 padding or a huge shape is refused from integers alone."""
    layers = base_layers(np.random.default_rng(1))
    layers[1]["padding"] = np.array([120, 120])
    layers[1]["weight"] = np.ones((1000, 2, 3, 3))
    layers[1]["shape"] = np.array([1000, 242, 242])
    with pytest.raises(ScaLavaError, match="too large"):
        read_netx(write(tmp_path / "big.net", layers))


def test_lfs_pointer_fifo_and_garbage(tmp_path):
    lfs = tmp_path / "mnist.net"
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 2701856\n")
    with pytest.raises(ScaLavaError, match="Git LFS pointer, not an HDF5 file: fetch the real file"):
        read_netx(lfs)
    junk = tmp_path / "junk.net"
    junk.write_bytes(b"\x89HDF\r\n" + os.urandom(200))
    with pytest.raises(ScaLavaError, match="not a readable HDF5"):
        read_netx(junk)
    fifo = tmp_path / "fifo.net"
    os.mkfifo(fifo)
    with pytest.raises(ScaLavaError, match="not a regular file"):
        read_netx(fifo)
    with pytest.raises(ScaLavaError, match="not a regular file"):
        read_netx(tmp_path)


@pytest.mark.parametrize("command", ["evaluate", "simulate", "budget"])
def test_cli_exit_2_without_traceback(tmp_path, command):
    """Through the CLI, a sample of the hostile files ends with exit 2 and one line."""
    from sca_lava.cli import main

    for seed in range(0, N_CASES, 9):
        name, path = _case(seed, tmp_path)
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            code = main([command, path] + (["--out", str(tmp_path / "b")] if command == "budget" else []))
        text = err.getvalue()
        assert code == 2, (name, text)
        assert "Traceback" not in text and text.count("\n") == 1, (name, text)


def test_input_layer_without_shape_is_inferred_or_refused_in_one_line(tmp_path):
    """Bug 5 (issue 10): a file whose input layer has no shape reached netx,
    which raised a traceback. Now: a dense-first network infers its input from
    the fan-in, a stride-1 conv-first one from its weight and stored output
    (issue 32: it needed --input-shape); a strided conv fits several input
    sizes and needs the shape (--input-shape), which the runner then hands to
    netx; an input layer with a neuron must carry its shape (netx reads it)."""
    from sca_lava.cli import main

    rng = np.random.default_rng(3)
    layers = base_layers(rng)
    layers[0].pop("shape")
    inferred = read_netx(write(tmp_path / "stride1.net", layers))
    assert inferred.input_shape == (2, 6, 6) and not inferred.input_shape_in_file
    layers[1].update(stride=np.array([2, 2]), padding=np.array([1, 1]), shape=np.array([4, 3, 3]))
    layers[3]["weight"] = rng.integers(-60, 60, (5, 36)).astype(float)
    path = write(tmp_path / "noshape.net", layers)
    with pytest.raises(ScaLavaError, match="stride-2x2 conv fits several input sizes.*--input-shape C,H,W"):
        read_netx(path)
    spec = read_netx(path, input_shape=(2, 6, 6))
    assert spec.input_shape == (2, 6, 6) and not spec.input_shape_in_file and spec.lava_input_shape == (6, 6, 2)
    with pytest.raises(ScaLavaError, match="expects 2 input channels but receives 3"):
        read_netx(path, input_shape=(3, 6, 6))
    dense_first = write(tmp_path / "dense.net", [layers[0]] + layers[3:])
    assert read_netx(dense_first).input_shape == (36,)
    with_neuron = base_layers(rng)
    with_neuron[0].pop("shape")
    with_neuron[0]["neuron"] = {}
    with pytest.raises(ScaLavaError, match="needs a 'shape'"):
        read_netx(write(tmp_path / "neuron.net", with_neuron))
    x = tmp_path / "x.npy"
    np.save(x, (rng.random((2, 2, 6, 6, 4)) < 0.5).astype(np.uint8))
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["evaluate", path, "--input", str(x), "--no-progress"]) == 2
        assert main(["evaluate", path, "--input", str(x), "--input-shape", "2,6,6", "--no-progress"]) == 0
        assert main(["evaluate", str(tmp_path / "stride1.net"), "--input", str(x), "--no-progress"]) == 0
    assert "--input-shape" in err.getvalue() and "Traceback" not in err.getvalue()


@pytest.mark.lava
def test_an_inferred_input_shape_runs_in_lava_as_in_the_evaluator(tmp_path):
    """A stride-1 conv first layer without an input layer: the reader infers
    (2, 6, 6), the runner hands it to netx, Lava gives the evaluator's spikes."""
    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.deploy.lava_runner import run_lava

    rng = np.random.default_rng(4)
    layers = base_layers(rng)
    del layers[0]
    path = write(tmp_path / "noinput.net", layers)
    x = (rng.random((3, 2, 6, 6, 8)) < 0.5).astype(np.uint8)
    spec = read_netx(path)
    assert spec.input_shape == (2, 6, 6) and not spec.input_shape_in_file
    lava = run_lava(path, x, spec=spec, record_all=True, progress=False)
    fixed = run_fixed_point(path, x, spec=spec, record_all=True, progress=False)
    assert all(np.array_equal(lava.layer_spikes[j], fixed.layer_spikes[j]) for j in lava.layer_spikes)
    assert lava.layer_spikes[0].any()
