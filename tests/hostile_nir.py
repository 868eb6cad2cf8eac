"""The NIR family of the hostile-input generator (tests/test_hostile_inputs.py):
NIR files (HDF5) broken in every part sca_lava reads, graphs no Loihi chain
can hold, and bad options of ``import`` and ``export --out X.nir``. Each must
be refused in one line (exit 2); the near misses (the valid file, a foreign
file with no sca_lava metadata, an export to .nir) must run."""

from __future__ import annotations

import json

import h5py
import numpy as np

NODES = "node/nodes"


def valid_nir(ws):
    """The workspace network as a NIR file with its input contract."""
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import export_nir

    if getattr(ws, "nir", None) is None:
        ws.nir = ws.path("valid.nir")
        export_nir(trace(build_network(small_config()), (1, 28, 28)), ws.nir, contract=ws.contract)
    return ws.nir


def variant(ws, name: str, change):
    path = ws.path(name)
    path.write_bytes(valid_nir(ws).read_bytes())
    with h5py.File(path, "a") as f:
        change(f)
    return path


def _replace(f, key, data, **kw):
    del f[key]
    f.create_dataset(key, data=data, **kw)


def _set(key, value, **kw):
    return lambda f: _replace(f, key, value, **kw)


def _edges(edit):
    def change(f):
        edges = [tuple(e) for e in f["node/edges"][()].tolist()]
        _replace(f, "node/edges", np.array(edit(edges), dtype=object), dtype=h5py.string_dtype())
    return change


def _rewire(edges):  # drop conv1's neurons: conv1 feeds conv2 directly
    return [(a, b) for a, b in edges if b"conv1_lif" not in (a, b)] + [(b"conv1", b"conv2")]


def _drop_lif(f):
    del f[f"{NODES}/conv1_lif"]
    _edges(_rewire)(f)


def _swap_lif(f):  # conv1's CubaLIF replaced by LI (no spikes)
    g = f[f"{NODES}/conv1_lif"]
    for key in ("tau_syn", "w_in", "v_threshold", "v_reset"):
        del g[key]
    g.move("tau_mem", "tau")
    _replace(f, f"{NODES}/conv1_lif/type", "LI", dtype=h5py.string_dtype())


def _nested(f):
    f.copy(f["node"], f[NODES], "sub")


def _soft_link(f):
    del f[f"{NODES}/conv1/weight"]
    f[f"{NODES}/conv1/weight"] = h5py.SoftLink(f"/{NODES}/conv2/weight")


def _external(f):
    del f[f"{NODES}/dense1/weight"]
    f[f"{NODES}/dense1/weight"] = h5py.ExternalLink("/etc/passwd", "/x")


def _huge(f):
    del f[f"{NODES}/dense1/weight"]
    f.create_dataset(f"{NODES}/dense1/weight", shape=(1 << 15, 1 << 14), dtype="f8")


def _varying(key, i=0):
    def change(f):
        arr = f[key][()].copy()
        arr.flat[i] = arr.flat[i] * 2 + 1
        _replace(f, key, arr)
    return change


def _many_nodes(f):
    for i in range(1100):
        f[NODES].create_group(f"extra{i}")


def nir_cases(ws, rng):
    """(name, argv) hostile cases of the NIR family."""
    lif, conv, dense = f"{NODES}/conv1_lif", f"{NODES}/conv1", f"{NODES}/dense1"
    text = ws.path("text.nir")
    text.write_text("not hdf5")
    empty = ws.path("empty.nir")
    empty.write_bytes(b"")
    half = ws.path("half.nir")
    half.write_bytes(valid_nir(ws).read_bytes()[:2000])
    shape = f"{lif}/v_threshold"
    files = {
        "not HDF5": text, "empty file": empty, "truncated": half, "a netx file": ws.net,
        "no node group": variant(ws, "nonode.nir", lambda f: f.move("node", "graph")),
        "top node not a graph": variant(ws, "top.nir", _set("node/type", "Linear", dtype=h5py.string_dtype())),
        "no edges": variant(ws, "noedges.nir", lambda f: f["node"].__delitem__("edges")),
        "edge to a missing node": variant(ws, "ghost.nir", _edges(lambda e: e + [(b"dense2_lif", b"ghost")])),
        "edges as numbers": variant(ws, "numedges.nir", _set("node/edges", np.zeros((3, 2)))),
        "unknown node type": variant(ws, "foo.nir", _set(f"{conv}/type", "Foo", dtype=h5py.string_dtype())),
        "an LI node": variant(ws, "li.nir", _swap_lif),
        "a nested graph": variant(ws, "nested.nir", _nested),
        "NaN weight": variant(ws, "nan.nir", _set(f"{conv}/weight", np.full((8, 1, 3, 3), np.nan))),
        "infinite tau": variant(ws, "inf.nir", _set(f"{lif}/tau_mem", np.full((8, 14, 14), np.inf))),
        "weight as text": variant(ws, "wtext.nir", _set(f"{dense}/weight", "0.5", dtype=h5py.string_dtype())),
        "weight a soft link": variant(ws, "soft.nir", _soft_link),
        "weight an external link": variant(ws, "ext.nir", _external),
        "weight 2**29 values": variant(ws, "huge.nir", _huge),
        "CubaLIF without tau_syn": variant(ws, "notau.nir", lambda f: f[lif].__delitem__("tau_syn")),
        "Linear weight 3-d": variant(ws, "w3d.nir", _set(f"{dense}/weight", np.zeros((32, 784, 1)))),
        "Linear of the wrong width": variant(ws, "wwide.nir", _set(f"{dense}/weight", np.zeros((32, 700)))),
        "a branch": variant(ws, "branch.nir", _edges(lambda e: e + [(b"conv1", b"output")])),
        "a cycle": variant(ws, "cycle.nir", _edges(lambda e: [x for x in e if x != (b"dense2_lif", b"output")]
                                                   + [(b"dense2_lif", b"conv1")])),
        "two inputs": variant(ws, "twoin.nir", lambda f: f.copy(f[f"{NODES}/input"], f[NODES], "input2")),
        "a node off the path": variant(ws, "off.nir", lambda f: f.copy(f[conv], f[NODES], "spare")),
        "Affine with a bias": variant(ws, "bias.nir", lambda f: (
            _replace(f, f"{dense}/type", "Affine", dtype=h5py.string_dtype()),
            f[dense].create_dataset("bias", data=np.ones(32)))),
        "v_leak not 0": variant(ws, "leak.nir", _set(f"{lif}/v_leak", np.full((8, 14, 14), 0.5))),
        "v_reset not 0": variant(ws, "reset.nir", _set(f"{lif}/v_reset", np.full((8, 14, 14), -1.0))),
        "threshold per neuron": variant(ws, "vth.nir", _varying(shape, 5)),
        "threshold 0": variant(ws, "vth0.nir", _set(shape, np.zeros((8, 14, 14)))),
        "tau below dt": variant(ws, "fast.nir", _set(f"{lif}/tau_syn", np.full((8, 14, 14), 1e-7))),
        "tau negative": variant(ws, "neg.nir", _set(f"{lif}/tau_mem", np.full((8, 14, 14), -1e-3))),
        "a Linear without neurons": variant(ws, "nolif.nir", _drop_lif),
        "Flatten from dim 1": variant(ws, "flat1.nir", _set(f"{NODES}/flatten1/start_dim", 1)),
        "grouped conv": variant(ws, "groups.nir", _set(f"{conv}/groups", 2)),
        "non-square stride": variant(ws, "stride.nir", _set(f"{conv}/stride", np.array([1, 2]))),
        "dt NaN": variant(ws, "dtnan.nir", _set("node/metadata/sca_lava_dt", np.nan)),
        "dt negative": variant(ws, "dtneg.nir", _set("node/metadata/sca_lava_dt", -1e-4)),
        "contract not JSON": variant(ws, "cjson.nir", _set("node/metadata/sca_lava_contract", "{not json",
                                                           dtype=h5py.string_dtype())),
        "contract of another shape": variant(ws, "cshape.nir", _set(
            "node/metadata/sca_lava_contract", json.dumps({**ws.contract.to_dict(), "input_shape": [1, 8, 8]}),
            dtype=h5py.string_dtype())),
        "input shape 2-d": variant(ws, "in2d.nir", _set(f"{NODES}/input/shape", np.array([28, 28]))),
        "input shape 0": variant(ws, "in0.nir", _set(f"{NODES}/input/shape", np.array([0, 28, 28]))),
        "output shape wrong": variant(ws, "out.nir", _set(f"{NODES}/output/shape", np.array([7]))),
        "1100 nodes": variant(ws, "many.nir", _many_nodes),
        "Delay after a conv": variant(ws, "delay.nir", lambda f: (
            f[NODES].create_group("d").create_dataset("delay", data=np.full((8, 14, 14), 1e-4)),
            f[f"{NODES}/d"].create_dataset("type", data="Delay", dtype=h5py.string_dtype()),
            _edges(lambda e: [x for x in e if x != (b"conv1_lif", b"conv2")]
                   + [(b"conv1_lif", b"d"), (b"d", b"conv2")])(f))),
    }
    cases = [(f"import {name}", ["import", path, "--out", ws.out(), "--samples", "2"]) for name, path in files.items()]
    good = valid_nir(ws)
    for flag, bad in (("--dt", "0"), ("--dt", "nan"), ("--dt=", "-1e-4"), ("--dt", "1e9"), ("--dt", "x"),
                      ("--samples", "0"), ("--steps", "-3"), ("--seed", "-1"), ("--rate", "0"), ("--rate", "1.5"),
                      ("--rate", "nan")):
        opt = [flag + bad] if flag.endswith("=") else [flag, bad]
        cases.append((f"import {flag} {bad}", ["import", good, "--out", ws.out(), *opt]))
    cases.append(("import without --out", ["import", good]))
    cases.append(("import --out /proc/x.pt", ["import", good, "--out", "/proc/x.pt"]))
    cases.append(("export --dt to a .net file", ["export", ws.ckpt, "--out", ws.path("x.net"), "--dt", "1e-3"]))
    cases.append(("export --dt nan to .nir", ["export", ws.ckpt, "--out", ws.path("x.nir"), "--dt", "nan"]))
    cases.append(("export .nir into /proc", ["export", ws.ckpt, "--out", "/proc/x.nir"]))
    return cases


def nir_valid_cases(ws, rng):
    """Near misses that must run: the valid file, one without sca_lava's metadata, an export to .nir."""
    bare = variant(ws, "bare.nir", lambda f: f["node"].__delitem__("metadata"))
    return [("import a valid NIR file", ["import", valid_nir(ws), "--out", ws.out(), "--samples", "2"]),
            ("import NIR without metadata, --dt 1e-4", ["import", bare, "--out", ws.out(), "--dt", "1e-4",
                                                        "--samples", "2", "--steps", "8"]),
            ("export to .nir", ["export", ws.ckpt, "--out", ws.path("ok.nir"), "--dt", "1e-3"])]
