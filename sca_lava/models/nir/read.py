"""A NIR file read and checked completely before any value is used: NIR
files are HDF5 (no pickles), and ``nir.read`` loads every dataset whatever
its size or type. Here every group is walked with the netx reader's checked
access (:class:`~sca_lava.netx.fields.Fields`: links refused, sizes checked
before reading, numeric and finite values), only the node types sca_lava
can import are accepted (others are named in a one-line error), and the
nodes are then built with ``nir``'s own constructors, so the result is an
ordinary ``nir.NIRGraph``."""

from __future__ import annotations

import os

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.models.nir.chain import UNSUPPORTED
from sca_lava.models.nir.mapping import META_CONTRACT, META_DT, META_LATENCY
from sca_lava.netx.fields import Fields, open_checked

MAX_BYTES = 2 << 30
MAX_NODES = 1024
MAX_TOTAL_ELEMENTS = 1 << 28

#: per node type: (float arrays, integer arrays, optional fields)
FIELDS = {
    "Input": ((), ("shape",), ()),
    "Output": ((), ("shape",), ()),
    "Conv2d": (("weight", "bias"), ("stride", "padding", "dilation", "groups"), ("input_shape",)),
    "SumPool2d": ((), ("kernel_size", "stride", "padding"), ()),
    "AvgPool2d": ((), ("kernel_size", "stride", "padding"), ()),
    "Affine": (("weight", "bias"), (), ()),
    "Linear": (("weight",), (), ()),
    "Scale": (("scale",), (), ()),
    "Flatten": ((), ("start_dim", "end_dim"), ("input_type",)),
    "CubaLIF": (("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in", "v_reset"), (), ("v_reset", "w_in")),
    "LIF": (("tau", "r", "v_leak", "v_threshold", "v_reset"), (), ("v_reset",)),
    "IF": (("r", "v_threshold", "v_reset"), (), ("v_reset",)),
    "Delay": (("delay",), (), ()),
}
def read_nir(path: str | os.PathLike):
    """The checked ``nir.NIRGraph`` of a NIR file; one-line errors for
    anything malformed, oversized or not importable."""
    from sca_lava.atomic import check_input_file

    path = os.fspath(path)
    check_input_file(path, "NIR file", MAX_BYTES)
    with open_checked(path, "malformed NIR file") as root:
        if "node" not in root.g:
            raise ScaLavaError(f"{path}: no 'node' group; this is not a NIR file"
                               + (" (it looks like a netx file: give it to evaluate, simulate or budget)"
                                  if "layer" in root.g else ""))
        return _graph(root.group("node", f"{path}: node"), path)


def _graph(top: Fields, path: str):
    import nir

    kind = top.text("type")
    if kind != "NIRGraph":
        raise ScaLavaError(f"{path}: the top node is a {kind[:40]!r}, not a NIRGraph")
    top.require("nodes", "edges", why="a NIR graph has nodes and edges")
    group = top.group("nodes", f"{path}: nodes")
    names = list(group.g.keys())
    if not names or len(names) > MAX_NODES:
        raise ScaLavaError(f"{path}: {len(names)} nodes (1..{MAX_NODES} supported)")
    budget = [MAX_TOTAL_ELEMENTS]
    nodes = {name: _node(nir, group.group(name, f"{path}: node {name[:60]!r}"), budget) for name in names}
    edges = _edges(top, path, set(names))
    meta = _metadata(top, path) if top.has("metadata") else {}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)
    except (AssertionError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ScaLavaError(f"{path}: not a valid NIR graph ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})") from None


def _edges(top: Fields, path: str, names: set[str]) -> list[tuple[str, str]]:
    ds = top.dataset("edges")
    if ds.dtype.kind not in "SOU" or ds.ndim != 2 or ds.shape[1] != 2 or ds.shape[0] > 4 * MAX_NODES:
        raise ScaLavaError(f"{path}: 'edges' must be a list of (source, target) name pairs")
    edges = []
    for pre, post in np.asarray(ds[()]).tolist():
        pre, post = (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in (pre, post))
        for end in (pre, post):
            if end not in names:
                raise ScaLavaError(f"{path}: an edge names {end[:60]!r}, which is no node of the graph")
        edges.append((pre, post))
    return edges


def _metadata(top: Fields, path: str) -> dict:
    """The graph metadata sca_lava writes (other keys are ignored)."""
    meta = top.group("metadata", f"{path}: metadata")
    out = {}
    for key in (META_DT, META_LATENCY):
        if meta.has(key):
            arr = meta.array(key, integer=False).ravel()
            if arr.size != 1:
                raise ScaLavaError(f"{path}: metadata '{key}' must be one number")
            out[key] = float(arr[0])
    if meta.has(META_CONTRACT):
        text = meta.text(META_CONTRACT)
        if len(text) > 100_000:
            raise ScaLavaError(f"{path}: metadata '{META_CONTRACT}' is too long")
        out[META_CONTRACT] = text
    return out


def _node(nir, r: Fields, budget: list[int]):
    kind = r.text("type")
    if kind in UNSUPPORTED:
        raise ScaLavaError(f"{r.where} is {kind} ({UNSUPPORTED[kind]}), which sca_lava cannot import")
    if kind not in FIELDS:
        raise ScaLavaError(f"{r.where} has the unknown node type {kind[:40]!r}")
    floats, ints, optional = FIELDS[kind]
    values = {}
    for key in dict.fromkeys(floats + ints):
        if key in optional and not r.has(key):
            continue
        r.require(key, why=f"a {kind} node has it")
        if r.has(key) and key == "padding" and r.dataset(key).dtype.kind in "SOU":
            values[key] = r.text(key)
            continue
        arr = r.array(key, integer=key in ints)
        budget[0] -= arr.size
        if budget[0] < 0:
            raise ScaLavaError(f"{r.where}: the graph holds more than {MAX_TOTAL_ELEMENTS} values")
        values[key] = arr if arr.ndim else arr[()]
    if kind == "Conv2d" and r.has("input_shape"):
        values["input_shape"] = tuple(int(v) for v in r.array("input_shape").ravel())
    try:
        return _make(nir, kind, values, r)
    except (AssertionError, ValueError, TypeError, KeyError, IndexError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScaLavaError(f"{r.where}: invalid {kind} node ({msg[:160]})") from None


def _make(nir, kind: str, v: dict, r: Fields):
    if kind == "Input":
        return nir.Input(input_type={"input": np.asarray(v["shape"]).ravel()})
    if kind == "Output":
        return nir.Output(output_type={"output": np.asarray(v["shape"]).ravel()})
    if kind == "Flatten":
        shape = r.array("input_type").ravel() if r.has("input_type") else None
        return nir.Flatten(input_type={"input": shape}, start_dim=int(v["start_dim"]), end_dim=int(v["end_dim"]))
    if kind == "Conv2d":
        return nir.Conv2d(input_shape=v.get("input_shape"), weight=v["weight"], stride=_pair(v["stride"]),
                          padding=v["padding"] if isinstance(v["padding"], str) else _pair(v["padding"]),
                          dilation=_pair(v["dilation"]), groups=int(np.asarray(v["groups"]).ravel()[0]),
                          bias=np.asarray(v["bias"]))
    if kind in ("SumPool2d", "AvgPool2d"):
        return getattr(nir, kind)(**{k: np.asarray(v[k]).ravel() for k in ("kernel_size", "stride", "padding")})
    return getattr(nir, kind)(**{k: np.asarray(x, dtype=np.float64) for k, x in v.items()})


def _pair(value) -> tuple[int, int]:
    arr = np.asarray(value).ravel()
    if arr.size not in (1, 2):
        raise ValueError(f"expected one or two integers, got {arr.size}")
    return int(arr[0]), int(arr[-1])
