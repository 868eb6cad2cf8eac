"""Pack a netx network's neurons into Loihi-style cores.

Why this shape: the chip's limits are data (a :class:`Profile`), and one
algorithm packs every layer against all of them, like sinabs' DynapCNN mapper.

Model (documented in docs/hardware.md):

* Each neuron layer is viewed as a 2-D convolution: a dense layer is a 1x1
  convolution over a (F, 1, 1) input, an input layer with neurons is a
  depthwise identity (one synapse per neuron). Groups become a block-diagonal
  structure mask.
* A layer is cut into tiles of ``cg`` output channels x ``rh`` rows x ``rw``
  columns (at equal tile counts the most channels per tile, so presynaptic
  neurons reach few cores); one tile = one core; cores are never shared
  between layers. ``mapping.tile_split`` "halve" allows only halvings.
* Conv layers with ``conv_weight_sharing`` store their kernel slice once per
  core (NxTF); positions index it through their input axons.
* Per core, exactly from the real weights: neurons; input axons = presynaptic
  neurons with at least one nonzero-weight synapse into the core; synaptic
  memory = per input axon, its synapses in groups of ``group_size`` with a
  header each, ``weight_bits`` per synapse in dense mode (every structural
  synapse stored, zeros too) or ``weight_bits + index_bits`` per nonzero
  synapse in sparse mode, the cheaper allowed mode per core; output axons =
  sum over the core's neurons of the destination cores their spikes reach
  (the last layer sends one to the host); the shared pool (Loihi 2) =
  synapse bits + neurons x state bits + (input + output axons) x entry bits.
* The tile shape is searched with closed-form upper bounds of those usages
  (so a bound-feasible tiling is feasible), then the channel group is grown
  with exact checks; the final tiling is verified exactly.
* Layers are allocated from the last to the first, because output axons
  depend on how the next layer was split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.profile import Profile, load_profile
from sca_lava.netx.reader import LayerSpec, NetxSpec

#: limit name -> profile field; "shared_bits" applies only when the pool is > 0
LIMITS: dict[str, str] = {
    "neurons": "core.max_neurons",
    "synapse_bits": "core.max_synapse_bits",
    "input_axons": "core.max_input_axons",
    "output_axons": "core.max_output_axons",
    "shared_bits": "core.shared_memory_bits",
}


def limits_of(profile: Profile) -> dict[str, int]:
    """Active per-core capacities (the shared pool only if the chip has one)."""
    lim = {k: int(profile[v]) for k, v in LIMITS.items()}
    if lim["shared_bits"] <= 0:
        del lim["shared_bits"]
    return lim


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


def _bits(n, axon, prof: Profile, mode: str) -> int:
    g, h = prof["synapse_encoding.group_size"], prof["synapse_encoding.header_bits"]
    wb, ib = prof["synapse_encoding.weight_bits"], prof["synapse_encoding.index_bits"]
    n = n[axon]
    per = wb if mode == "dense" else wb + ib
    return int((-(-n // g) * h).sum() + n.sum() * per)


def synapse_modes(v: SynView, prof: Profile) -> tuple[str, ...]:
    """Encodings a core of this layer may use: the profile's, and for a shared
    conv kernel also dense (the kernel is a dense array addressed by position)."""
    modes = tuple(prof["synapse_encoding.modes"])
    return modes + ("dense",) if v.shared and "dense" not in modes else modes


def _kernel_bits(v: SynView, c0: int, c1: int, prof: Profile, mode: str) -> int:
    """Synaptic memory of a weight-shared conv core: the kernel slice of its
    output channels c0..c1 stored once, one synapse list per input channel that
    has a nonzero weight into them (positions index it through their axon)."""
    used = v.nz[c0:c1].any(axis=(0, 2, 3))
    per_ci = (v.struct if mode == "dense" else v.nz)[c0:c1].sum(axis=(0, 2, 3))
    return _bits(per_ci, used, prof, mode)


def exact_tile(v: SynView, box, prof: Profile, dest_prefix: np.ndarray, keep: bool = False) -> Tile:
    """Exact usage of one tile ``box`` = (c0, c1, r0, r1, q0, q1)."""
    c0, c1, r0, r1, q0, q1 = box
    n_s, n_n, y0, x0 = tile_counts(v, *box)
    axon = n_n > 0
    modes = synapse_modes(v, prof)
    options = {}
    for mode, n in (("sparse", n_n), ("dense", n_s)):
        if mode in modes:
            options[mode] = _kernel_bits(v, c0, c1, prof, mode) if v.shared else _bits(n, axon, prof, mode)
    enc = min(options, key=options.get)
    neurons = (c1 - c0) * (r1 - r0) * (q1 - q0)
    out_ax = int(_box_sum(dest_prefix, box))
    in_ax = int(axon.sum())
    usage = {
        "neurons": neurons,
        "synapse_bits": options[enc],
        "input_axons": in_ax,
        "output_axons": out_ax,
        "shared_bits": options[enc] + neurons * prof["core.neuron_state_bits"]
        + (in_ax + out_ax) * prof["core.axon_entry_bits"],
    }
    stored = n_s if enc == "dense" else n_n
    stored = np.where(axon, stored, 0)
    tile = Tile(-1 if not keep else v.pos, (c0, c1), (r0, r1), (q0, q1), usage, enc,
                int(n_s.sum()), int(n_n.sum()), int(stored.sum()))
    if keep:
        ci, hi, wi = v.in_shape
        cc, yy, xx = np.nonzero(n_s)
        tile.in_index = (cc * hi + (yy + y0)) * wi + (xx + x0)
        tile.n_struct = n_s[cc, yy, xx]
        tile.n_stored = stored[cc, yy, xx]
        tile.has_axon = axon[cc, yy, xx]
        tile.layer_pos = v.pos
    return tile


def _prefix(arr3: np.ndarray) -> np.ndarray:
    p = np.zeros(tuple(s + 1 for s in arr3.shape), dtype=np.int64)
    p[1:, 1:, 1:] = arr3.cumsum(0).cumsum(1).cumsum(2)
    return p


def _box_sum(p, box):
    c0, c1, r0, r1, q0, q1 = box
    return (p[c1, r1, q1] - p[c0, r1, q1] - p[c1, r0, q1] - p[c1, r1, q0]
            + p[c0, r0, q1] + p[c0, r1, q0] + p[c1, r0, q0] - p[c0, r0, q0])


def _boxes(shape, cg, rh, rw):
    co, ho, wo = shape
    for c0 in range(0, co, cg):
        for r0 in range(0, ho, rh):
            for q0 in range(0, wo, rw):
                yield (c0, min(co, c0 + cg), r0, min(ho, r0 + rh), q0, min(wo, q0 + rw))


def _fits(usage, lim) -> str | None:
    for k, cap in lim.items():
        if usage[k] > cap:
            return k
    return None


class _Bounds:
    """Closed-form upper bounds of a tile's usage for a tile shape (cg, rh, rw)."""

    def __init__(self, v: SynView, prof: Profile, dest: np.ndarray):
        self.v, self.prof, self.dest = v, prof, dest
        co, ci = v.struct.shape[:2]
        used_in = v.nz.any(axis=(0, 2, 3))
        self.ci_used = int(used_in.sum())
        per_s = np.sort(v.struct.reshape(co, -1).sum(1))[::-1]
        per_n = np.sort(v.nz.reshape(co, -1).sum(1))[::-1]
        self.top_s = np.concatenate([[0], per_s.cumsum()])
        self.top_n = np.concatenate([[0], per_n.cumsum()])
        self.prefix = _prefix(dest)

    def usage(self, cg, rh, rw) -> dict[str, float]:
        v, p = self.v, self.prof
        kh, kw = v.struct.shape[2:]
        _, hi, wi = v.in_shape
        win_h = min(hi, (rh - 1) * v.stride[0] + (kh - 1) * v.dilation[0] + 1)
        win_w = min(wi, (rw - 1) * v.stride[1] + (kw - 1) * v.dilation[1] + 1)
        neurons = cg * rh * rw
        in_ax = min(self.ci_used * win_h * win_w, int(self.top_n[cg]) * rh * rw)
        g, h = p["synapse_encoding.group_size"], p["synapse_encoding.header_bits"]
        wb, ib = p["synapse_encoding.weight_bits"], p["synapse_encoding.index_bits"]
        if v.shared:  # the kernel slice once, one list per used input channel
            ns, nn = self.top_s[cg], self.top_n[cg]
            lists = self.ci_used
        else:
            ns, nn = self.top_s[cg] * rh * rw, self.top_n[cg] * rh * rw
            lists = in_ax
        opts = []
        modes = synapse_modes(v, p)
        if "sparse" in modes:
            opts.append(nn * (wb + ib) + (nn / g + lists) * h)
        if "dense" in modes:
            opts.append(ns * wb + (ns / g + lists) * h)
        bits = min(opts)
        co, ho, wo = v.out_shape
        out_ax = max(_box_sum(self.prefix, b) for b in _boxes((co, ho, wo), cg, rh, rw))
        return {"neurons": neurons, "synapse_bits": bits, "input_axons": in_ax, "output_axons": out_ax,
                "shared_bits": bits + neurons * p["core.neuron_state_bits"]
                + (in_ax + out_ax) * p["core.axon_entry_bits"]}


def _candidates(n):
    return sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True)


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


@dataclass
class Allocation:
    spec: NetxSpec
    profile: Profile
    layers: list[LayerAlloc]
    limits: dict[str, int]
    core_of_neuron: list[np.ndarray]  # per neuron layer, core id per output neuron (3-D view shape)

    @property
    def tiles(self) -> list[Tile]:
        return [t for la in self.layers for t in la.tiles]

    @property
    def total_cores(self) -> int:
        return sum(la.cores for la in self.layers)

    @property
    def chips(self) -> int:
        return math.ceil(self.total_cores / self.profile["chip.cores_per_chip"])

    def utilisation(self) -> dict[str, list[float]]:
        """Per limit, each core's usage / capacity (cores in id order)."""
        return {k: [t.usage[k] / cap for t in self.tiles] for k, cap in self.limits.items()}

    def summary(self) -> dict:
        util = self.utilisation()
        return {
            "profile": self.profile.name,
            "total_cores": self.total_cores,
            "chips": self.chips,
            "cores_per_chip": self.profile["chip.cores_per_chip"],
            "limits": dict(self.limits),
            "utilisation_mean": {k: float(np.mean(u)) for k, u in util.items()},
            "utilisation_max": {k: float(np.max(u)) for k, u in util.items()},
            "layers": [
                {
                    "layer": la.view.index,
                    "kind": la.view.kind,
                    "out_shape": list(la.view.orig_out_shape),
                    "neurons": la.view.neurons,
                    "synapses": int(sum(t.synapses for t in la.tiles)),
                    "nonzero_synapses": int(sum(t.nonzero_synapses for t in la.tiles)),
                    "synapse_bits": int(sum(t.usage["synapse_bits"] for t in la.tiles)),
                    "input_axons": int(sum(t.usage["input_axons"] for t in la.tiles)),
                    "output_axons": int(sum(t.usage["output_axons"] for t in la.tiles)),
                    "encoding": {e: sum(t.encoding == e for t in la.tiles) for e in ("dense", "sparse")},
                    "cores": la.cores,
                    "tile": {"channels": la.tile_shape[0], "rows": la.tile_shape[1], "cols": la.tile_shape[2]},
                    "lower_bound": la.lower_bound,
                    "lower_bound_limit": la.lower_bound_limit,
                    "binding_limit": la.binding_limit(self.limits),
                    "need": la.need,
                }
                for la in self.layers
            ],
        }


def _layer_need(v: SynView, prof: Profile, dest: np.ndarray) -> dict[str, int]:
    """Whole-layer needs that no tiling can go below (for the lower bound)."""
    co, ho, wo = v.out_shape
    n_s, n_n, _, _ = tile_counts(v, 0, co, 0, ho, 0, wo)
    in_ax = int((n_n > 0).sum())
    out_ax = int((dest > 0).sum())
    stored_once = int(v.nz.sum()) if v.shared else int(n_n.sum())  # a shared kernel: each weight once
    bits = stored_once * prof["synapse_encoding.weight_bits"]
    return {
        "neurons": v.neurons,
        "synapse_bits": bits,
        "input_axons": in_ax,
        "output_axons": out_ax,
        "shared_bits": bits + v.neurons * prof["core.neuron_state_bits"]
        + (in_ax + out_ax) * prof["core.axon_entry_bits"],
    }


def lower_bound(need: dict[str, int], lim: dict[str, int]) -> tuple[int, str]:
    """max over limits of ceil(need / capacity), and the limit that sets it."""
    best = max(lim, key=lambda k: need[k] / lim[k])
    return max(1, math.ceil(need[best] / lim[best])), best


def _exact_tiling(v, prof, prefix, lim, shape):
    tiles = []
    for box in _boxes(v.out_shape, *shape):
        t = exact_tile(v, box, prof, prefix)
        bad = _fits(t.usage, lim)
        if bad:
            return None, (bad, t)
        tiles.append(box)
    return tiles, None


def _halvings(n: int) -> list[int]:
    """Tile sizes reachable by halving n: ceil(n / 2^k) down to 1."""
    out, k = [], 0
    while True:
        size = -(-n // (1 << k))
        if not out or size < out[-1]:
            out.append(size)
        if size == 1:
            return out
        k += 1


def _halve_shape(v: SynView, bounds: _Bounds, lim: dict[str, int]):
    """The compiler's granularity (Loihi 2): the fewest tiles among the halvings
    of channels, rows and columns whose usage bound fits (then most channels)."""
    co, ho, wo = v.out_shape
    best = None
    for cg in _halvings(co):
        for rh in _halvings(ho):
            for rw in _halvings(wo):
                if cg * rh * rw > lim["neurons"] or _fits(bounds.usage(cg, rh, rw), lim) is not None:
                    continue
                key = (-(-co // cg) * -(-ho // rh) * -(-wo // rw), -cg, -rw)
                if best is None or key < best[0]:
                    best = (key, (cg, rh, rw))
    return None if best is None else best[1]


def _any_shape(v: SynView, bounds: _Bounds, lim: dict[str, int]):
    """Any equal split (NxTF-like search): for every spatial tile the largest
    channel group whose usage bound fits, by bisection; the fewest tiles win."""
    co, ho, wo = v.out_shape
    best = None  # (tiles, -area, shape)
    for rh in _candidates(ho):
        for rw in _candidates(wo):
            if rh * rw > lim["neurons"]:
                continue
            lo, hi = 0, min(co, lim["neurons"] // (rh * rw))
            while lo < hi:  # largest cg whose bound fits (monotone apart from output axons)
                mid = (lo + hi + 1) // 2
                if _fits(bounds.usage(mid, rh, rw), lim) is None:
                    lo = mid
                else:
                    hi = mid - 1
            if lo == 0:
                continue
            n = -(-co // lo) * -(-ho // rh) * -(-wo // rw)
            key = (n, -lo, -rw)
            if best is None or key < best[0]:
                best = (key, (lo, rh, rw))
    return None if best is None else best[1]


def allocate_layer(v: SynView, prof: Profile, dest: np.ndarray, lim: dict[str, int]) -> LayerAlloc:
    co, ho, wo = v.out_shape
    bounds = _Bounds(v, prof, dest)
    halve = prof["mapping.tile_split"] == "halve"
    shape = (_halve_shape if halve else _any_shape)(v, bounds, lim) or (1, 1, 1)
    prefix = bounds.prefix
    boxes, fail = _exact_tiling(v, prof, prefix, lim, shape)
    while boxes is None and shape[0] > 1:  # the bound should make this unreachable
        shape = (-(-shape[0] // 2) if halve else shape[0] - 1, shape[1], shape[2])
        boxes, fail = _exact_tiling(v, prof, prefix, lim, shape)
    if boxes is None and shape != (1, 1, 1):
        shape = (1, 1, 1)
        boxes, fail = _exact_tiling(v, prof, prefix, lim, shape)
    if boxes is None:
        bad, t = fail
        raise ScaLavaError(
            f"{v.describe} cannot be mapped on {prof.name}: a single neuron needs {t.usage[bad]} "
            f"{bad.replace('_', ' ')} but a core has {lim[bad]} ({LIMITS[bad]})")
    # grow the channel group with exact checks (the bound is loose for sparse weights)
    if halve:
        for cg in (c for c in _halvings(co) if c > shape[0]):  # largest first
            if cg * shape[1] * shape[2] > lim["neurons"]:
                continue
            cand, _ = _exact_tiling(v, prof, prefix, lim, (cg, shape[1], shape[2]))
            if cand is not None:
                shape, boxes = (cg, shape[1], shape[2]), cand
                break
    else:
        lo, hi = shape[0], min(co, lim["neurons"] // (shape[1] * shape[2]))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            cand, _ = _exact_tiling(v, prof, prefix, lim, (mid, shape[1], shape[2]))
            if cand is not None:
                lo, boxes = mid, cand
            else:
                hi = mid - 1
        shape = (lo, shape[1], shape[2])
    tiles = [exact_tile(v, box, prof, prefix, keep=True) for box in boxes]
    need = _layer_need(v, prof, dest)
    lb, lb_lim = lower_bound(need, lim)
    return LayerAlloc(v, tiles, shape, lb, lb_lim, need)


def allocate(spec: NetxSpec, profile, max_chips: int | None = None, dense_weights: bool = False) -> Allocation:
    """Allocate every neuron layer of ``spec`` on cores of ``profile``.

    ``dense_weights`` treats every structural synapse as nonzero (what-if
    sweeps without trained weights). Raises :class:`ScaLavaError` when a
    neuron cannot fit a core or the net needs more than ``max_chips`` chips.
    """
    prof = load_profile(profile)
    lim = limits_of(prof)
    views = [syn_view(ly, j, dense_weights) for j, ly in enumerate(spec.neuron_layers)]
    for v in views:
        v.shared = v.kind == "conv" and prof["synapse_encoding.conv_weight_sharing"]
    allocs: list[LayerAlloc | None] = [None] * len(views)
    dest = np.ones(views[-1].out_shape, dtype=np.int64)  # the last layer sends to the host
    for j in range(len(views) - 1, -1, -1):
        la = allocate_layer(views[j], prof, dest, lim)
        allocs[j] = la
        if j > 0:
            d = np.zeros(int(np.prod(views[j].in_shape)), dtype=np.int64)
            for t in la.tiles:
                np.add.at(d, t.in_index[t.has_axon], 1)
            dest = d.reshape(views[j - 1].out_shape)
    core = 0
    core_of = []
    for la in allocs:
        ids = np.full(la.view.out_shape, -1, dtype=np.int64)
        for t in la.tiles:
            t.core = core
            ids[t.c[0]:t.c[1], t.r[0]:t.r[1], t.q[0]:t.q[1]] = core
            core += 1
        core_of.append(ids)
    alloc = Allocation(spec, prof, allocs, lim, core_of)
    if max_chips is not None:
        check_max_chips(alloc, max_chips)
    return alloc


def check_max_chips(alloc: Allocation, max_chips: int) -> None:
    if alloc.chips <= max_chips:
        return
    cpc = alloc.profile["chip.cores_per_chip"]
    worst = max(alloc.layers, key=lambda la: la.cores)
    lim = worst.binding_limit(alloc.limits)
    raise ScaLavaError(
        f"{alloc.spec.path}: needs {alloc.total_cores} cores = {alloc.chips} chips of {cpc} on "
        f"{alloc.profile.name}, more than --max-chips {max_chips}; largest is {worst.view.describe} "
        f"with {worst.cores} cores, bound by {lim.replace('_', ' ')} ({LIMITS[lim]} = {alloc.limits[lim]})")
