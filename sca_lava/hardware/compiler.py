"""Loihi 2 cores as Intel's compiler counts and fills them (``mapping.tile_split: compiler``).

Why: Intel's Loihi 2 compiler prints, per layer, the mean per core of six
resources - AxonIn, NeuronGr, Neurons, Synapses (SynMem words), AxonMap,
AxonMem - and its log says how it splits a layer that does not fit. Its
table for PilotNet LIF (project reference) is the only published view of
how Loihi 2 fills a core, so this module counts the same units for any
netx layer and tiles layers the same way. The units were inferred from that
ONE table (docs/hardware.md, "Loihi 2 as Intel's compiler counts it"); the
constants live in the profile's ``compiler:`` section.

Per core (tile):

* ``axon_in``: dense layers one per presynaptic neuron; conv layers one per
  column phase of the layer's stride; input layers 1 (fit).
* ``neuron_groups``: 1 (one layer per core).
* ``neurons``: the neurons the core reserves: a conv or input layer is cut
  into blocks of 2^k columns of whole channels and rows (then 2^k rows; 2^k
  channels when the kernel slice overflows SynMem) and every core reserves a
  whole block, the last one too;
  a dense layer reserves the neurons it holds.
* ``synapse_words``: words of ``word_bits``; dense layers per input axon
  ceil(its synapses x ``dense_synapse_bits`` / word); conv layers store
  their kernel once per core, per (input channel, tap) ceil(output channels
  x ``conv_synapse_bits`` / word); input layers none (netx's Input block
  has no synapses).
* ``axon_map``: one entry per neuron when the next layer is dense (or the
  host); when it is a conv, one per output position and column phase of
  this layer's stride (fit).
* ``neuron_words``: ``words_per_neuron`` x neurons + ``words_per_axon_map``
  x axon_map, the memory both share (fit: it binds conv tiles as the table
  shows).
* AxonMem is not modelled: no count tried reproduces its column.

Tiling: a conv or input layer takes the largest block that fits (2^k
columns first); a dense layer follows the log's ratio rule: split into n = 1
part, and while a part does not fit multiply n by ceil(usage / limit)
(PilotNet's 2560->100 layer: 1 -> 6 -> 12 cores of 9 neurons).
"""

from __future__ import annotations

import math

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.profile import Profile
from sca_lava.hardware.views import (
    LayerAlloc,
    SynView,
    Tile,
    boxes,
    fits,
    lower_bound,
    make_tile,
    tile_counts,
)

#: limit name -> profile field
COMPILER_LIMITS: dict[str, str] = {
    "axon_in": "compiler.max_axon_in",
    "neurons": "core.max_neurons",
    "synapse_words": "compiler.max_synapse_words",
    "neuron_words": "compiler.neuron_memory_words",
}
#: the columns of Intel's per-core distribution table -> usage keys (None: not modelled)
COLUMNS: dict[str, str | None] = {"AxonIn": "axon_in", "NeuronGr": "neuron_groups", "Neurons": "neurons",
                                  "Synapses": "synapse_words", "AxonMap": "axon_map", "AxonMem": None}


def compiler_limits(prof: Profile) -> dict[str, int]:
    return {k: int(prof[f]) for k, f in COMPILER_LIMITS.items()}


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _words(n: np.ndarray, bits: int, prof: Profile) -> int:
    """Words of ``word_bits`` holding each list of ``n`` synapses of ``bits`` (one list per entry)."""
    n = n[n > 0].astype(np.int64)
    return int((-(-(n * bits) // prof["compiler.word_bits"])).sum())


def _axon_map(v: SynView, box, next_kind: str | None) -> int:
    c0, c1, r0, r1, q0, q1 = box
    if next_kind == "conv":  # one entry per position and column phase of the stride (fit)
        return (r1 - r0) * (q1 - q0) * v.stride[1]
    return (c1 - c0) * (r1 - r0) * (q1 - q0)  # one per neuron: a dense layer or the host


def compiler_tile(v: SynView, box, reserved: int, prof: Profile, next_kind: str | None,
                  keep: bool = False) -> Tile:
    """Usage of one tile in the compiler's units; every synapse is stored
    (dense format, shared conv kernel), so ``encoding`` is dense."""
    counts = tile_counts(v, *box)
    n_s = counts[0]
    axon = n_s > 0
    if v.kind == "input":
        syn, axon_in = 0, 1
    elif v.kind == "dense":
        syn, axon_in = _words(n_s[axon], prof["compiler.dense_synapse_bits"], prof), int(axon.sum())
    else:  # the kernel once: per (input channel, tap), the core's output channels
        per = v.struct[box[0]:box[1]].sum(0)
        syn, axon_in = _words(per, prof["compiler.conv_synapse_bits"], prof), v.stride[1]
    amap = _axon_map(v, box, next_kind)
    usage = {"axon_in": axon_in, "neuron_groups": 1, "neurons": reserved, "synapse_words": syn,
             "axon_map": amap,
             "neuron_words": reserved * prof["compiler.words_per_neuron"] + amap * prof["compiler.words_per_axon_map"]}
    return make_tile(v, box, usage, "dense", counts, n_s, axon, keep)


def _blocks(v: SynView):
    """Conv and input blocks, largest first: for all channels, then 2^k of them
    (when the kernel slice alone overflows SynMem), 2^k columns of whole rows,
    then one column of 2^k rows."""
    co, ho, wo = v.out_shape
    for cg in [co] + [1 << k for k in range(co.bit_length() - 1, -1, -1) if 1 << k < co]:
        rw = _pow2_at_least(wo)
        while rw >= 1:
            yield cg, ho, rw
            rw //= 2
        rh = _pow2_at_least(ho) // 2
        while 1 <= rh < ho:
            yield cg, rh, 1
            rh //= 2


def _tiling(v, prof, next_kind, lim, block):
    """The boxes of ``block`` if every one fits, else (None, (limit, tile))."""
    cg, rh, rw = block
    reserved = cg * rh * rw
    out = []
    for box in boxes(v.out_shape, cg, rh, rw):
        t = compiler_tile(v, box, reserved if v.kind != "dense" else (box[1] - box[0]), prof, next_kind)
        bad = fits(t.usage, lim)
        if bad:
            return None, (bad, t)
        out.append(box)
    return out, None


def _dense_block(v, prof, next_kind, lim):
    """The log's ratio rule: parts n = 1, then n x ceil(usage / limit) until a part fits."""
    co = v.out_shape[0]
    n = 1
    while True:
        per = -(-co // n)
        found, fail = _tiling(v, prof, next_kind, lim, (per, 1, 1))
        if found is not None or per == 1:
            return (per, 1, 1), found, fail
        t = fail[1]
        n *= max(2, math.ceil(max(t.usage[k] / cap for k, cap in lim.items())))


def _need(v: SynView, prof: Profile, next_kind: str | None) -> dict[str, float]:
    """Whole-layer needs (for the lower bound): all neurons and map entries,
    the kernel once (conv), every synapse at its bits (dense)."""
    co, ho, wo = v.out_shape
    whole = (0, co, 0, ho, 0, wo)
    amap = _axon_map(v, whole, next_kind)
    t = compiler_tile(v, whole, v.neurons, prof, next_kind)
    syn = t.usage["synapse_words"]
    if v.kind == "dense":
        syn = t.synapses * prof["compiler.dense_synapse_bits"] / prof["compiler.word_bits"]
    return {"axon_in": t.usage["axon_in"], "neurons": v.neurons, "synapse_words": syn,
            "neuron_words": v.neurons * prof["compiler.words_per_neuron"] + amap * prof["compiler.words_per_axon_map"]}


def allocate_layer(v: SynView, prof: Profile, next_kind: str | None, lim: dict[str, int]) -> LayerAlloc:
    """Tile one layer as the compiler does (module docstring)."""
    if v.kind == "dense":
        block, found, fail = _dense_block(v, prof, next_kind, lim)
    else:
        found = fail = None
        for block in _blocks(v):
            found, fail = _tiling(v, prof, next_kind, lim, block)
            if found is not None:
                break
    if found is None:
        bad, t = fail
        raise ScaLavaError(
            f"{v.describe} cannot be mapped on {prof.name}: a single neuron needs {t.usage[bad]} "
            f"{bad.replace('_', ' ')} but a core has {lim[bad]} ({COMPILER_LIMITS[bad]})")
    reserved = block[0] * block[1] * block[2]
    tiles = [compiler_tile(v, box, reserved if v.kind != "dense" else box[1] - box[0], prof, next_kind, keep=True)
             for box in found]
    need = _need(v, prof, next_kind)
    lb, lb_lim = lower_bound(need, lim)
    return LayerAlloc(v, tiles, block, lb, lb_lim, need)
