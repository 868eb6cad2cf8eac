"""Per-core usage in bits: the Loihi 1-style model (nengo-loihi's synapse
format, NxTF's conv weight sharing), for profiles whose ``mapping.tile_split``
is ``any`` or ``halve``.

Model (documented in docs/hardware.md):

* Per core, exactly from the real weights: neurons; input axons = presynaptic
  neurons with at least one nonzero-weight synapse into the core; synaptic
  memory = per input axon, its synapses in groups of ``group_size`` with a
  header each, ``weight_bits`` per synapse in dense mode (every structural
  synapse stored, zeros too) or ``weight_bits + index_bits`` per nonzero
  synapse in sparse mode, the cheaper allowed mode per core; output axons =
  sum over the core's neurons of the destination cores their spikes reach
  (the last layer sends one to the host); the shared pool (profiles with one)
  = synapse bits + neurons x state bits + (input + output axons) x entry bits.
* Conv layers with ``conv_weight_sharing`` store their kernel slice once per
  core (NxTF); positions index it through their input axons.
* Closed-form upper bounds of those usages for a tile shape (:class:`Bounds`)
  let the search skip exact counts; a bound-feasible tiling is feasible.
"""

from __future__ import annotations

import numpy as np

from sca_lava.hardware.profile import Profile
from sca_lava.hardware.views import SynView, Tile, boxes, make_tile, tile_counts

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
    counts = tile_counts(v, *box)
    n_s, n_n = counts[:2]
    axon = n_n > 0
    modes = synapse_modes(v, prof)
    options = {}
    for mode, n in (("sparse", n_n), ("dense", n_s)):
        if mode in modes:
            options[mode] = _kernel_bits(v, c0, c1, prof, mode) if v.shared else _bits(n, axon, prof, mode)
    enc = min(options, key=options.get)
    neurons = (c1 - c0) * (r1 - r0) * (q1 - q0)
    out_ax = int(box_sum(dest_prefix, box))
    in_ax = int(axon.sum())
    usage = {
        "neurons": neurons,
        "synapse_bits": options[enc],
        "input_axons": in_ax,
        "output_axons": out_ax,
        "shared_bits": options[enc] + neurons * prof["core.neuron_state_bits"]
        + (in_ax + out_ax) * prof["core.axon_entry_bits"],
    }
    return make_tile(v, box, usage, enc, counts, n_s if enc == "dense" else n_n, axon, keep)


def prefix_sums(arr3: np.ndarray) -> np.ndarray:
    p = np.zeros(tuple(s + 1 for s in arr3.shape), dtype=np.int64)
    p[1:, 1:, 1:] = arr3.cumsum(0).cumsum(1).cumsum(2)
    return p


def box_sum(p, box):
    c0, c1, r0, r1, q0, q1 = box
    return (p[c1, r1, q1] - p[c0, r1, q1] - p[c1, r0, q1] - p[c1, r1, q0]
            + p[c0, r0, q1] + p[c0, r1, q0] + p[c1, r0, q0] - p[c0, r0, q0])



class Bounds:
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
        self.prefix = prefix_sums(dest)

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
        out_ax = max(box_sum(self.prefix, b) for b in boxes((co, ho, wo), cg, rh, rw))
        return {"neurons": neurons, "synapse_bits": bits, "input_axons": in_ax, "output_axons": out_ax,
                "shared_bits": bits + neurons * p["core.neuron_state_bits"]
                + (in_ax + out_ax) * p["core.axon_entry_bits"]}


def layer_need(v: SynView, prof: Profile, dest: np.ndarray) -> dict[str, int]:
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
