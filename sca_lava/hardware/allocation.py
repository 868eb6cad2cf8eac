"""Pack a netx network's neurons into Loihi-style cores: the search.

Why this shape: the chip's limits are data (a :class:`Profile`), and one
algorithm packs every layer against all of them, like sinabs' DynapCNN mapper.
What a tile uses is counted elsewhere: in bits (:mod:`sca_lava.hardware.usage`,
``mapping.tile_split`` ``any`` / ``halve``) or in the units of Intel's Loihi 2
compiler (:mod:`sca_lava.hardware.compiler`, ``tile_split: compiler``).

Search (documented in docs/hardware.md), bit model:

* A layer is cut into tiles of ``cg`` output channels x ``rh`` rows x ``rw``
  columns (at equal tile counts the most channels per tile, so presynaptic
  neurons reach few cores); one tile = one core; cores are never shared
  between layers. ``mapping.tile_split`` "halve" allows only halvings.
* The tile shape is searched with closed-form upper bounds of the usages
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
from sca_lava.hardware import compiler
from sca_lava.hardware.compiler import COMPILER_LIMITS, compiler_limits
from sca_lava.hardware.profile import Profile, load_profile
from sca_lava.hardware.usage import LIMITS, Bounds, exact_tile, layer_need, limits_of
from sca_lava.hardware.views import (
    LayerAlloc,
    SynView,
    Tile,
    boxes,
    dest_cores,
    fits,
    lower_bound,
    syn_view,
)
from sca_lava.netx.reader import NetxSpec


def _candidates(n):
    return sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True)


#: usages summed over a layer's cores in the summary (bit model: bits and axons; compiler units: SynMem words)
SUMMED = ("synapse_bits", "input_axons", "output_axons", "synapse_words")
#: every limit name of either usage model -> its profile field
LIMIT_FIELDS: dict[str, str] = {**LIMITS, **COMPILER_LIMITS}
#: limits whose use grows with a layer's own neurons, not with its inputs (the pruner's cost model asks)
NEURON_LIMITS = ("neurons", "neuron_words")


@dataclass
class Allocation:
    spec: NetxSpec
    profile: Profile
    layers: list[LayerAlloc]
    limits: dict[str, int]
    core_of_neuron: list[np.ndarray]  # per neuron layer, core id per output neuron (3-D view shape)
    _dest: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def tiles(self) -> list[Tile]:
        return [t for la in self.layers for t in la.tiles]

    @property
    def total_cores(self) -> int:
        return sum(la.cores for la in self.layers)

    @property
    def chips(self) -> int:
        return math.ceil(self.total_cores / self.profile["chip.cores_per_chip"])

    def dest_cores(self, j: int) -> np.ndarray:
        """Per input neuron of neuron layer j (flat C,H,W of its input), the
        number of layer j's cores holding an axon for it: the messages one of
        its spikes costs (cached; the pruner's cost model asks often)."""
        if j not in self._dest:
            la = self.layers[j]
            self._dest[j] = dest_cores(la.tiles, int(np.prod(la.view.in_shape)))
        return self._dest[j]

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
                    "name": spec_layer.name,
                    "kind": la.view.kind,
                    "out_shape": list(la.view.orig_out_shape),
                    "neurons": la.view.neurons,
                    "synapses": int(sum(t.synapses for t in la.tiles)),
                    "nonzero_synapses": int(sum(t.nonzero_synapses for t in la.tiles)),
                    **{k: int(sum(t.usage[k] for t in la.tiles)) for k in SUMMED if k in la.tiles[0].usage},
                    "usage_per_core": {k: float(np.mean([t.usage[k] for t in la.tiles])) for k in la.tiles[0].usage},
                    "encoding": {e: sum(t.encoding == e for t in la.tiles) for e in ("dense", "sparse")},
                    "cores": la.cores,
                    "tile": {"channels": la.tile_shape[0], "rows": la.tile_shape[1], "cols": la.tile_shape[2]},
                    "lower_bound": la.lower_bound,
                    "lower_bound_limit": la.lower_bound_limit,
                    "binding_limit": la.binding_limit(self.limits),
                    "need": la.need,
                }
                for la, spec_layer in zip(self.layers, self.spec.neuron_layers)
            ],
        }


def _exact_tiling(v, prof, prefix, lim, shape):
    tiles = []
    for box in boxes(v.out_shape, *shape):
        t = exact_tile(v, box, prof, prefix)
        bad = fits(t.usage, lim)
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


def _halve_shape(v: SynView, bounds: Bounds, lim: dict[str, int]):
    """The compiler's granularity (Loihi 2): the fewest tiles among the halvings
    of channels, rows and columns whose usage bound fits (then most channels)."""
    co, ho, wo = v.out_shape
    best = None
    for cg in _halvings(co):
        for rh in _halvings(ho):
            for rw in _halvings(wo):
                if cg * rh * rw > lim["neurons"] or fits(bounds.usage(cg, rh, rw), lim) is not None:
                    continue
                key = (-(-co // cg) * -(-ho // rh) * -(-wo // rw), -cg, -rw)
                if best is None or key < best[0]:
                    best = (key, (cg, rh, rw))
    return None if best is None else best[1]


def _any_shape(v: SynView, bounds: Bounds, lim: dict[str, int]):
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
                if fits(bounds.usage(mid, rh, rw), lim) is None:
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
    bounds = Bounds(v, prof, dest)
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
    need = layer_need(v, prof, dest)
    lb, lb_lim = lower_bound(need, lim)
    return LayerAlloc(v, tiles, shape, lb, lb_lim, need)


def allocate(spec: NetxSpec, profile, max_chips: int | None = None, dense_weights: bool = False) -> Allocation:
    """Allocate every neuron layer of ``spec`` on cores of ``profile``.

    ``dense_weights`` treats every structural synapse as nonzero (what-if
    sweeps without trained weights). Raises :class:`ScaLavaError` when a
    neuron cannot fit a core or the net needs more than ``max_chips`` chips.
    """
    prof = load_profile(profile)
    in_units = prof["mapping.tile_split"] == "compiler"
    lim = compiler_limits(prof) if in_units else limits_of(prof)
    views = [syn_view(ly, j, dense_weights) for j, ly in enumerate(spec.neuron_layers)]
    for v in views:
        v.shared = v.kind == "conv" and prof["synapse_encoding.conv_weight_sharing"]
    allocs: list[LayerAlloc | None] = [None] * len(views)
    dest = np.ones(views[-1].out_shape, dtype=np.int64)  # the last layer sends to the host
    for j in range(len(views) - 1, -1, -1):
        if in_units:
            la = compiler.allocate_layer(views[j], prof, views[j + 1].kind if j + 1 < len(views) else None, lim)
        else:
            la = allocate_layer(views[j], prof, dest, lim)
        allocs[j] = la
        if j > 0:
            dest = dest_cores(la.tiles, int(np.prod(views[j].in_shape))).reshape(views[j - 1].out_shape)
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
        f"with {worst.cores} cores, bound by {lim.replace('_', ' ')} ({LIMIT_FIELDS[lim]} = {alloc.limits[lim]})")
