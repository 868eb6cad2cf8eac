"""Per-core and per-layer activity counts of a network run, for the energy model.

Counts, per sample (definitions in docs/hardware.md):

* ``synops``: sum over input spikes of their fan-out to existing neurons
  (metrics.fanout_map; zero weights count), attributed to the core that holds
  the target neurons. ``synops_stored``: the same over the synapses the core
  actually stores (dense mode: all, sparse mode: nonzero) - what it processes.
* ``neuron_active``: neuron updates in steps where the neuron may hold
  nonzero state: it received a synaptic input event within the last ``H``
  steps (``H`` = steps for 24-bit current and voltage to decay to zero with
  the layer's iDecay/vDecay; no decay = until the sample ends), has a nonzero
  bias, or spiked. ``neuron_inactive`` = neurons x steps - active.
* ``spikes_in``: spike messages arriving at a core (one per input spike per
  core holding an input axon for it); ``spikes_out``: spikes its neurons emit.

The spikes come from :func:`sca_lava.deploy.lava_runner.run_lava` (the real
Lava runtime) or from any simulator with the same layout, so Lava-based and
SLAYER-based counts can be compared one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sca_lava.hardware.allocation import Allocation
from sca_lava.hardware.views import SynView

QUANTITIES = ("synops", "synops_stored", "neuron_active", "neuron_inactive", "spikes_in", "spikes_out")


@dataclass
class Activity:
    """``per_core[q]``: (cores,) mean per sample; ``per_step[q]``: (N, cores, T)."""

    samples: int
    steps: int
    per_core: dict[str, np.ndarray]
    per_layer: list[dict[str, float]]
    per_step: dict[str, np.ndarray]
    host_spikes_out: float  # output-layer spikes per sample (one message each to the host)

    def totals(self) -> dict[str, float]:
        return {q: float(v.sum()) for q, v in self.per_core.items()}


def decay_horizon(decay: int, bits: int = 24) -> float:
    """Steps until a ``bits``-bit state decays to zero with decay/4096 per step."""
    if decay <= 0:
        return math.inf
    if decay >= 4096:
        return 1
    return math.ceil((bits - 1) * math.log(2) / -math.log1p(-decay / 4096)) + 1


def neuron_horizon(i_decay: int, v_decay: int) -> float:
    """Steps a CUBA neuron may hold nonzero state after its last input event:
    the current decays to zero, then the voltage (the one definition of an
    active neuron, shared by this count and the pruner's cost model)."""
    return decay_horizon(i_decay) + decay_horizon(v_decay)


def windowed_active(ev, horizon: float, dim: int):
    """active[t] = an event in steps t-h+1 .. t along ``dim`` of the torch
    tensor ``ev`` (h = ``horizon``; a horizon of the window or longer: any
    event so far)."""
    import torch

    c = ev.to(torch.int32).cumsum(dim)
    t = ev.shape[dim]
    if horizon < t:
        h = int(horizon)
        shifted = torch.zeros_like(c)
        shifted.narrow(dim, h, t - h).copy_(c.narrow(dim, 0, t - h))
        c = c - shifted
    return c > 0


def _events(v: SynView, x: np.ndarray):
    """Synaptic input events per output neuron and step: x (T, Ci, Hi, Wi) ->
    (T, Co, Ho, Wo) bool tensor, through the structural synapses."""
    import torch

    w = torch.from_numpy(v.struct.astype(np.float32))
    xt = torch.from_numpy((x != 0).astype(np.float32))
    out = torch.nn.functional.conv2d(xt, w, stride=v.stride, padding=v.padding, dilation=v.dilation)
    return out > 0.5


def count_activity(alloc: Allocation, input_spikes: np.ndarray, layer_spikes: dict[int, np.ndarray]
                   ) -> Activity:
    """Count activity from spikes in SLAYER layout: ``input_spikes`` (N, *in, T)
    is what the first neuron layer receives, ``layer_spikes[j]`` neuron layer
    j's output (N, *out, T). Graded payloads (SDNN) count as one event each
    where nonzero."""
    from scipy import sparse

    input_spikes = np.asarray(input_spikes)
    n, t = input_spikes.shape[0], input_spikes.shape[-1]
    ncores = alloc.total_cores
    per_step = {q: np.zeros((n, ncores, t), dtype=np.float64) for q in QUANTITIES}
    per_layer = []
    spec_layers = alloc.spec.neuron_layers
    for j, la in enumerate(alloc.layers):
        v = la.view
        x_all = input_spikes if j == 0 else layer_spikes[j - 1]
        y_all = layer_spikes[j]
        in_size, out_size = int(np.prod(v.in_shape)), v.neurons
        rows, cols, vs, vst, va = [], [], [], [], []
        for t_ in la.tiles:
            rows.append(t_.in_index)
            cols.append(np.full(t_.in_index.size, t_.core))
            vs.append(t_.n_struct)
            vst.append(t_.n_stored)
            va.append(t_.has_axon.astype(np.float64))
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        shape = (in_size, ncores)
        f_struct = sparse.csr_matrix((np.concatenate(vs).astype(np.float64), (rows, cols)), shape=shape)
        f_stored = sparse.csr_matrix((np.concatenate(vst).astype(np.float64), (rows, cols)), shape=shape)
        f_axon = sparse.csr_matrix((np.concatenate(va), (rows, cols)), shape=shape)
        ids = alloc.core_of_neuron[j].reshape(-1)
        p = sparse.csr_matrix((np.ones(out_size), (np.arange(out_size), ids)), shape=(out_size, ncores))
        h = neuron_horizon(spec_layers[j].neuron.i_decay, spec_layers[j].neuron.v_decay)
        bias_on = None
        if v.bias_nonzero is not None and v.bias_nonzero.any():
            b = v.bias_nonzero
            bias_on = np.broadcast_to(b.reshape(-1, 1, 1) if b.size == v.out_shape[0] else b.reshape(v.out_shape),
                                      v.out_shape).reshape(-1)
        lay = dict.fromkeys(QUANTITIES, 0.0)
        for s in range(n):
            # a graded spike (payload != 0, SDNN) is one event like a binary spike
            x = (np.asarray(x_all[s]).reshape(in_size, t) != 0).astype(np.float64)
            y = (np.asarray(y_all[s]).reshape(out_size, t) != 0).astype(np.float64)
            syn = f_struct.T @ x
            sto = f_stored.T @ x
            sin = f_axon.T @ x
            xs = x.T.reshape((t,) + v.in_shape)
            active = windowed_active(_events(v, xs), h, 0).numpy().reshape(t, out_size).T | (y > 0)
            if bias_on is not None:
                active |= bias_on[:, None]
            act = p.T @ active.astype(np.float64)
            per_core_neurons = np.asarray(p.sum(0)).reshape(-1, 1)
            inact = np.where(per_core_neurons > 0, per_core_neurons - act, 0.0)
            out = p.T @ y
            for q, arr in (("synops", syn), ("synops_stored", sto), ("spikes_in", sin),
                           ("neuron_active", act), ("neuron_inactive", inact), ("spikes_out", out)):
                arr = np.asarray(arr)
                per_step[q][s] += arr
                lay[q] += float(arr.sum()) / n
        lay["layer"] = v.index
        per_layer.append(lay)
    per_core = {q: per_step[q].sum(axis=(0, 2)) / n for q in QUANTITIES}
    host = float((np.asarray(layer_spikes[len(alloc.layers) - 1]) != 0).sum()) / n
    return Activity(n, t, per_core, per_layer, per_step, host)
