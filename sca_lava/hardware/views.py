"""A neuron layer as a 2-D convolution, and which of its input neurons reach a tile.

Why: one view of every layer kind lets one set of counting rules serve every
usage model (the bit-level model of :mod:`sca_lava.hardware.usage`, Intel's
compiler units of :mod:`sca_lava.hardware.compiler`) and the activity count.
A dense layer is a 1x1 convolution over a (F, 1, 1) input, an input layer
with neurons a depthwise identity (one synapse per neuron); groups become a
block-diagonal structure mask. A tile is ``cg`` output channels x ``rh`` rows
x ``rw`` columns of a layer, held by one core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sca_lava.netx.reader import LayerSpec


@dataclass
class SynView:
    """A neuron layer as a 2-D convolution (see module docstring)."""

    pos: int
    index: int
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    orig_in_shape: tuple[int, ...]
    orig_out_shape: tuple[int, ...]
    struct: np.ndarray  # bool (Co, Ci, kh, kw): the synapse exists
    nz: np.ndarray  # bool (Co, Ci, kh, kw): it exists and its weight is nonzero
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    bias_nonzero: np.ndarray | None = None  # bool per output channel / feature
    shared: bool = False  # conv weight sharing: the kernel slice is stored once per core

    @property
    def neurons(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def describe(self) -> str:
        shp = "x".join(str(s) for s in self.orig_out_shape)
        return f"layer {self.index} ({self.kind} {shp})"


def syn_view(layer: LayerSpec, pos: int, dense_weights: bool = False) -> SynView:
    """Normalise a :class:`LayerSpec` with neurons into a :class:`SynView`."""
    if layer.kind == "input":
        c = layer.in_shape[0] if len(layer.in_shape) == 3 else int(np.prod(layer.in_shape))
        shp = tuple(layer.in_shape) if len(layer.in_shape) == 3 else (c, 1, 1)
        struct = np.eye(c, dtype=bool)[:, :, None, None]
        nz = struct if int(layer.transform.get("weight", 1)) != 0 else np.zeros_like(struct)
        return SynView(pos, layer.index, "input", shp, shp, tuple(layer.in_shape), tuple(layer.out_shape),
                       struct, nz.copy(), bias_nonzero=np.full(c, bool(layer.transform.get("bias", 0))))
    w = np.asarray(layer.weight)
    if layer.kind == "dense":
        fin, fout = int(np.prod(layer.in_shape)), int(layer.out_shape[0])
        struct = np.ones((fout, fin, 1, 1), dtype=bool)
        nz = struct.copy() if dense_weights else (w.reshape(fout, fin) != 0)[:, :, None, None]
        view = SynView(pos, layer.index, "dense", (fin, 1, 1), (fout, 1, 1), tuple(layer.in_shape),
                       tuple(layer.out_shape), struct, nz)
    elif layer.kind == "conv":
        co, ci = layer.out_shape[0], layer.in_shape[0]
        g = layer.groups
        opg, ipg = co // g, ci // g
        struct = np.zeros((co, ci) + tuple(layer.kernel), dtype=bool)
        nz = np.zeros_like(struct)
        for k in range(g):
            struct[k * opg:(k + 1) * opg, k * ipg:(k + 1) * ipg] = True
            nz[k * opg:(k + 1) * opg, k * ipg:(k + 1) * ipg] = True if dense_weights else (
                w[k * opg:(k + 1) * opg] != 0)
        view = SynView(pos, layer.index, "conv", tuple(layer.in_shape), tuple(layer.out_shape),
                       tuple(layer.in_shape), tuple(layer.out_shape), struct, nz, tuple(layer.stride),
                       tuple(layer.padding), tuple(layer.dilation))
    else:
        raise ValueError(f"layer {layer.index} ({layer.kind}) has no neurons")
    if layer.bias is not None:
        view.bias_nonzero = np.asarray(layer.bias).reshape(-1) != 0
    return view


def _window(r0, r1, s, p, k, d, size):
    """0/1 matrix (k, win) of which output rows r0..r1-1 reach which input row
    through kernel tap k, and the first input row of the window."""
    o = np.arange(r0, r1)
    ys = o[None, :] * s - p + np.arange(k)[:, None] * d
    valid = (ys >= 0) & (ys < size)
    if not valid.any():
        return np.zeros((k, 0)), 0
    lo, hi = int(ys[valid].min()), int(ys[valid].max())
    mat = np.zeros((k, hi - lo + 1))
    kk = np.broadcast_to(np.arange(k)[:, None], ys.shape)
    mat[kk[valid], ys[valid] - lo] = 1.0
    return mat, lo


@dataclass
class Tile:
    """One core's share of one layer, with its exact usage."""

    layer_pos: int
    c: tuple[int, int]
    r: tuple[int, int]
    q: tuple[int, int]
    usage: dict[str, int]
    encoding: str
    synapses: int  # structural synapses into the core
    nonzero_synapses: int
    stored_synapses: int
    core: int = -1
    # flat input index -> counts, for activity attribution
    in_index: np.ndarray | None = field(default=None, repr=False)
    n_struct: np.ndarray | None = field(default=None, repr=False)
    n_stored: np.ndarray | None = field(default=None, repr=False)
    has_axon: np.ndarray | None = field(default=None, repr=False)


def tile_counts(v: SynView, c0, c1, r0, r1, q0, q1):
    """Per input neuron (window of the input), its structural and nonzero
    synapses into output channels c0..c1, rows r0..r1, columns q0..q1."""
    (_, hi, wi) = v.in_shape
    kh, kw = v.struct.shape[2:]
    rmat, y0 = _window(r0, r1, v.stride[0], v.padding[0], kh, v.dilation[0], hi)
    cmat, x0 = _window(q0, q1, v.stride[1], v.padding[1], kw, v.dilation[1], wi)
    ws = v.struct[c0:c1].sum(0, dtype=np.float64)
    wn = v.nz[c0:c1].sum(0, dtype=np.float64)
    n_s = np.einsum("cab,ay,bx->cyx", ws, rmat, cmat, optimize=True)
    n_n = np.einsum("cab,ay,bx->cyx", wn, rmat, cmat, optimize=True)
    return np.rint(n_s).astype(np.int64), np.rint(n_n).astype(np.int64), y0, x0


def make_tile(v: SynView, box, usage: dict[str, int], encoding: str, counts, stored: np.ndarray,
              axon: np.ndarray, keep: bool) -> Tile:
    """A :class:`Tile` of ``box`` from :func:`tile_counts` ``counts``; ``keep``
    also stores, per input neuron reaching it, the counts activity needs."""
    c0, c1, r0, r1, q0, q1 = box
    n_s, n_n, y0, x0 = counts
    stored = np.where(axon, stored, 0)
    tile = Tile(v.pos if keep else -1, (c0, c1), (r0, r1), (q0, q1), usage, encoding,
                int(n_s.sum()), int(n_n.sum()), int(stored.sum()))
    if keep:
        _, hi, wi = v.in_shape
        cc, yy, xx = np.nonzero(n_s)
        tile.in_index = (cc * hi + (yy + y0)) * wi + (xx + x0)
        tile.n_struct = n_s[cc, yy, xx]
        tile.n_stored = stored[cc, yy, xx]
        tile.has_axon = axon[cc, yy, xx]
    return tile


def fits(usage, lim) -> str | None:
    """The first limit ``usage`` exceeds, or None."""
    for k, cap in lim.items():
        if usage[k] > cap:
            return k
    return None


def lower_bound(need: dict[str, int], lim: dict[str, int]) -> tuple[int, str]:
    """max over limits of ceil(need / capacity), and the limit that sets it."""
    best = max(lim, key=lambda k: need[k] / lim[k])
    return max(1, math.ceil(need[best] / lim[best])), best


@dataclass
class LayerAlloc:
    """Allocation of one neuron layer."""

    view: SynView
    tiles: list[Tile]
    tile_shape: tuple[int, int, int]
    lower_bound: int
    lower_bound_limit: str
    need: dict[str, int]

    @property
    def cores(self) -> int:
        return len(self.tiles)

    def binding_limit(self, lim: dict[str, int]) -> str:
        """The limit closest to full on this layer's cores."""
        return max(lim, key=lambda k: max(t.usage[k] / lim[k] for t in self.tiles))


def dest_cores(tiles: list[Tile], in_size: int) -> np.ndarray:
    """Per input neuron of a layer (flat C,H,W), how many of its ``tiles``
    hold an input axon for it: the messages one of its spikes costs."""
    d = np.zeros(in_size, dtype=np.int64)
    for t in tiles:
        np.add.at(d, t.in_index[t.has_axon], 1)
    return d


def boxes(shape, cg, rh, rw):
    """The tiles of a (C, H, W) layer cut into cg x rh x rw blocks, as
    (c0, c1, r0, r1, q0, q1) boxes clipped to the layer."""
    co, ho, wo = shape
    for c0 in range(0, co, cg):
        for r0 in range(0, ho, rh):
            for q0 in range(0, wo, rw):
                yield (c0, min(co, c0 + cg), r0, min(ho, r0 + rh), q0, min(wo, q0 + rw))
