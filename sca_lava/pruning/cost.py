"""What a channel costs where users pay: parameters, SynOps, dynamic (or
dynamic + static) energy on a hardware profile, or cores on a profile.

One cost model, the hardware package's (docs/hardware.md), evaluated on the
masked network during training instead of on an exported file:

* **activity** (:class:`~sca_lava.pruning.tally.Activity`): spikes per input
  neuron and active neuron-steps, counted by :mod:`sca_lava.pruning.tally`
  on the training batches since the last structure update;
* **SynOps** of layer l = its active output channels x the sum over its
  active inputs of their spikes x their fan-out to one output channel
  (:func:`sca_lava.metrics.fanout_map`): removing channel c of layer l removes
  the SynOps into it and its spikes' SynOps into the next layer;
* **energy** prices SynOps, active/inactive neuron updates, emitted spikes and
  spike messages with :func:`sca_lava.hardware.energy.op_energy_pj`; messages
  per spike = the cores of the next layer that hold an axon for it, read from
  the allocation of the candidate structure;
* **total energy** = energy + static energy:
  :func:`sca_lava.hardware.energy.static_energy_pj` of the candidate's
  allocation (chips) and its per-layer work per step (the step time);
* **cores** = :func:`sca_lava.hardware.allocation.allocate` of the candidate
  structure (:func:`sca_lava.geometry.netx_spec`), cached by channel counts.

A pool carries the channels of the layer before it (``LayerGeometry.tied``):
removing a conv channel removes the pool channel too, and its costs count
towards the conv channel's marginal cost.

Allocation treats every structural synapse as stored (``dense_weights``):
the figures are those of the exported net allocated with ``dense_weights``
(an upper bound on trained weights with zeros) and do not move as weights
are fine-tuned.
"""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import channel_counts, channel_masks, count_params, netx_spec
from sca_lava.hardware.allocation import NEURON_LIMITS
from sca_lava.hardware.energy import (
    layer_prices,
    layer_times,
    layer_work_ns,
    static_energy_pj,
    static_power_mw,
)
from sca_lava.pruning.tally import Activity

BUDGET_KINDS = {
    "params": "kept fraction of the dense network's synaptic parameters",
    "synops": "kept fraction of the dense network's SynOps per inference (measured activity)",
    "energy": "kept fraction of the dense network's dynamic energy per inference on --profile",
    "total_energy": "kept fraction of the dense network's dynamic + static energy per inference on --profile",
    "cores": "number of cores on --profile (an integer)",
    "channels": "kept fraction of the prunable channels",
}
NEEDS_ACTIVITY = ("synops", "energy", "total_energy")
NEEDS_PROFILE = ("energy", "cores", "total_energy")
ENERGY_KINDS = ("energy", "total_energy")


def parse_budget(text: str) -> tuple[str, float]:
    """``KIND=VALUE`` -> (kind, value), one-line errors for anything else."""
    kind, sep, raw = str(text).partition("=")
    kind = kind.strip()
    if not sep or kind not in BUDGET_KINDS:
        raise ScaLavaError(f"budget {text!r}: write KIND=VALUE with KIND one of {', '.join(BUDGET_KINDS)}")
    try:
        value = float(raw)
    except ValueError:
        raise ScaLavaError(f"budget {text!r}: {raw!r} is not a number") from None
    if kind == "cores":
        if value < 1 or value != int(value):
            raise ScaLavaError(f"budget {text!r}: cores must be a whole number >= 1")
    elif not 0.0 < value <= 1.0:
        raise ScaLavaError(f"budget {text!r}: the {kind} budget is a kept fraction in (0, 1]")
    return kind, value


# ------------------------------------------------------------------------ the model


class CostModel:
    """Cost of any channel structure of one traced network in one budget
    currency (params: weights; channels: prunable channels; synops: per
    inference; energy: pJ per inference; cores: cores), and each channel's
    marginal cost. ``graph``: anything :func:`sca_lava.geometry.netx_spec`
    describes (a traced graph, a NetworkConfig)."""

    def __init__(self, graph, kind: str, profile=None):
        from sca_lava.geometry import geometry
        from sca_lava.metrics import fanout_map

        if kind not in BUDGET_KINDS:
            raise ScaLavaError(f"unknown budget kind {kind!r} (choose from {', '.join(BUDGET_KINDS)})")
        self.graph, self.kind = graph, kind
        self.geo = geometry(graph)
        self.profile = None
        if kind in NEEDS_PROFILE:
            from sca_lava.hardware.profile import load_profile

            if profile is None:
                raise ScaLavaError(f"the {kind} budget needs a hardware profile (--profile, e.g. loihi2)")
            self.profile = load_profile(profile)
        self.cheap = kind not in NEEDS_PROFILE  # no allocation needed to evaluate
        specs = [ly for ly in netx_spec(graph).layers if ly.is_synaptic]
        # spikes x fan-out to ONE output channel (of its group), per position of a feeding channel
        self.fan = [fanout_map(sp).reshape(g.in_channels, -1)[0] / (sp.out_shape[0] // sp.groups)
                    for sp, g in zip(specs, self.geo)]
        self.next = {j: [k for k, h in enumerate(self.geo) if h.in_from == j] for j in range(len(self.geo))}
        # a prunable layer and the pools that carry its channels
        self.chain = {}
        for j, g in enumerate(self.geo):
            if g.prunable:
                chain = [j]
                while True:
                    tied = [k for k in self.next[chain[-1]] if self.geo[k].tied == chain[-1]]
                    if not tied:
                        break
                    chain.append(tied[0])
                self.chain[j] = chain
        self._alloc: dict[tuple, object] = {}
        self._prices_of: dict[int, list[dict]] = {}
        self._dest_of: dict[tuple[int, int], np.ndarray] = {}

    # --- structure helpers
    def counts(self, masks: dict[int, np.ndarray]) -> list[int]:
        return channel_counts(self.geo, masks)

    def allocation(self, counts):
        """The allocation of a structure (cached by channel counts)."""
        key = tuple(int(c) for c in counts)
        if key not in self._alloc:
            from sca_lava.hardware.allocation import allocate

            if len(self._alloc) > 256:
                self._alloc.clear()
                self._prices_of.clear()
                self._dest_of.clear()
            self._alloc[key] = allocate(netx_spec(self.graph, key), self.profile, dense_weights=True)
        return self._alloc[key]

    # --- per layer sums on measured activity
    def _prepared(self, act: Activity) -> list[dict]:
        if getattr(self, "_prep_act", None) is not act:  # held, so a new Activity never reuses its id
            prep = []
            for j, g in enumerate(self.geo):
                s = np.asarray(act.inputs[j], dtype=np.float64).reshape(g.in_channels, -1)  # (C_src, P_src)
                prep.append({"S": s, "w": s @ self.fan[j], "spikes": s.sum(1)})
            self._prep_act, self._prep = act, prep
        return self._prep

    def _prices(self, alloc) -> list[dict]:
        """Per-op energies of each layer (its kind and its cores' synapse encoding)."""
        if id(alloc) not in self._prices_of:
            self._prices_of[id(alloc)] = layer_prices(alloc)
        return self._prices_of[id(alloc)]

    def _dest(self, alloc, j: int) -> np.ndarray:
        """Cores of layer j that hold an axon for each position of a feeding
        channel: one row (the same for every feeding channel with all synapses
        present), a row per feeding channel for a pool."""
        key = (id(alloc), j)
        if key not in self._dest_of:
            d = np.asarray(alloc.dest_cores(j), dtype=np.float64).reshape(-1, self.fan[j].size)
            self._dest_of[key] = d if self.geo[j].depthwise else d.mean(0)
        return self._dest_of[key]

    def _messages(self, alloc, j: int, s: np.ndarray, m_src: np.ndarray | None) -> np.ndarray:
        """Spike messages into layer j per feeding channel (``s``: its (C, P)
        spikes; ``m_src``: which of them the allocated structure holds)."""
        if not self.geo[j].depthwise:
            return s @ self._dest(alloc, j)
        return self._messages_map(alloc, j, s, m_src).sum(1)

    def _messages_map(self, alloc, j: int, s: np.ndarray, m_src: np.ndarray | None) -> np.ndarray:
        """A pool's messages per feeding channel and position (its allocated
        channels' own rows; a channel not allocated: their mean)."""
        dest = self._dest(alloc, j)
        full = np.broadcast_to(dest.mean(0), s.shape).copy()
        rows = np.flatnonzero(m_src) if m_src is not None else np.arange(len(s))
        if len(rows) == len(dest):  # else another structure's allocation (a search's estimate): the mean
            full[rows] = dest
        return s * full

    def _synops_in(self, j: int, counts, masks_all, w) -> float:
        """SynOps into layer j: every active output channel reads every active
        feeding channel (a pool: each channel its own)."""
        m_src = None if self.geo[j].in_from is None else masks_all[self.geo[j].in_from]
        reach = 1 if self.geo[j].depthwise else counts[j]
        return reach * float(w.sum() if m_src is None else w[m_src].sum())

    def _active(self, j: int, counts, masks_all, act: Activity) -> float:
        a = act.active[j]
        if self.geo[j].depthwise:
            return float(np.asarray(a)[masks_all[j]].sum())
        return counts[j] * a

    def breakdown(self, masks: dict[int, np.ndarray], act: Activity | None = None, alloc=None) -> dict:
        """Every count of a structure (per inference) and its cost in each
        currency that can be computed (activity/profile permitting)."""
        counts = self.counts(masks)
        masks_all = channel_masks(self.geo, masks)
        out = {"params": count_params(self.geo, counts),
               "channels": sum(c for c, g in zip(counts, self.geo) if g.prunable)}
        if self.profile is not None:
            alloc = alloc if alloc is not None else self.allocation(counts)
            out["cores"] = alloc.total_cores
        if act is None:
            return out
        prep = self._prepared(act)
        syn = []
        msgs = []
        spikes_out = []
        for j, g in enumerate(self.geo):
            m_src = None if g.in_from is None else masks_all[g.in_from]
            s = prep[j]["S"]
            syn.append(self._synops_in(j, counts, masks_all, prep[j]["w"]))
            if self.profile is not None:
                per_ch = self._messages(alloc, j, s, m_src)
                msgs.append(float(per_ch.sum() if m_src is None else per_ch[m_src].sum()))
            nxt = self.next[j]
            spikes_out.append(float(prep[nxt[0]]["spikes"][masks_all[j]].sum()) if nxt else float(act.host))
        neurons = [counts[j] * g.positions * act.steps for j, g in enumerate(self.geo)]
        active = [self._active(j, counts, masks_all, act) for j in range(len(self.geo))]
        out.update({"synops": float(sum(syn)), "synops_per_layer": syn,
                    "neuron_active": float(sum(active)),
                    "neuron_inactive": float(sum(n - a for n, a in zip(neurons, active))),
                    "spikes_out": float(sum(spikes_out))})
        if self.profile is not None:
            prices = self._prices(alloc)
            last = prices[-1]
            pj = {"synop": sum(p["synop"] * v for p, v in zip(prices, syn)),
                  "neuron_active": sum(p["neuron_active"] * v for p, v in zip(prices, active)),
                  "neuron_inactive": sum(p["neuron_inactive"] * (n - a)
                                         for p, n, a in zip(prices, neurons, active)),
                  "spike_out": sum(p["spike_out"] * v for p, v in zip(prices, spikes_out)),
                  "routing": sum(p["message"] * v for p, v in zip(prices, msgs)) + last["message"] * act.host}
            work = layer_work_ns(alloc, [{"synop": s, "neuron_active": a, "neuron_inactive": n - a, "spike_out": o}
                                         for s, a, n, o in zip(syn, active, neurons, spikes_out)], act.steps)
            static = static_energy_pj(alloc, act.steps, work)
            out.update({"messages": float(sum(msgs) + act.host), "energy_pj": float(sum(pj.values())),
                        "energy_breakdown_pj": {k: float(v) for k, v in pj.items()}, "layer_work_ns": work,
                        "static_energy_pj": static, "total_energy_pj": float(sum(pj.values())) + static})
        return out

    def evaluate(self, masks: dict[int, np.ndarray], act: Activity | None = None, alloc=None) -> float:
        """The structure's cost in this model's currency."""
        if self.kind == "params":
            return float(count_params(self.geo, self.counts(masks)))
        if self.kind == "channels":
            return float(sum(c for c, g in zip(self.counts(masks), self.geo) if g.prunable))
        if self.kind == "cores":
            return float((alloc or self.allocation(self.counts(masks))).total_cores)
        if act is None:
            raise ScaLavaError(f"the {self.kind} budget needs measured activity (calibrate the pruner first)")
        if self.kind == "synops":
            counts = self.counts(masks)
            masks_all = channel_masks(self.geo, masks)
            prep = self._prepared(act)
            return float(sum(self._synops_in(j, counts, masks_all, prep[j]["w"]) for j in range(len(self.geo))))
        return self.breakdown(masks, act, alloc)["energy_pj" if self.kind == "energy" else "total_energy_pj"]

    def marginal(self, masks: dict[int, np.ndarray], act: Activity | None = None) -> dict[int, np.ndarray]:
        """Block -> per-channel cost that removing the channel alone would save
        (first order, at the current structure): its filter and its slice of
        the next layer (params); the SynOps into it and out of its spikes
        (synops); those priced, plus its neuron updates, emitted spikes and
        messages (energy); its layer's cores per channel, plus the next
        layer's when that one is bound by synapse memory or axons (cores).
        The pools that carry a channel add their own share of each."""
        counts = self.counts(masks)
        masks_all = channel_masks(self.geo, masks)
        out = {}
        alloc = self.allocation(counts) if self.profile is not None else None
        prep = self._prepared(act) if act is not None and self.kind in NEEDS_ACTIVITY else None
        prices = self._prices(alloc) if self.kind in ENERGY_KINDS else None
        static = self._static_shares(masks, act, alloc, counts) if self.kind == "total_energy" else None
        for j, chain in self.chain.items():
            g = self.geo[j]
            cost = 0.0
            for k in chain:
                cost = cost + self._own_marginal(k, counts, masks_all, act, alloc, prep, prices, counts[j])
                if static is not None:
                    cost = cost + static(k, self.next[k])
            out[g.block] = np.asarray(cost, dtype=np.float64) * np.ones(g.out)
        return out

    def _own_marginal(self, j, counts, masks_all, act, alloc, prep, prices, width):
        """What channel c of layer j costs itself and the readers of its spikes
        (a pool reader's synops count as the pool's own)."""
        g = self.geo[j]
        nxt = self.next[j]
        readers = [k for k in nxt if not self.geo[k].depthwise]
        if self.kind == "channels":
            return np.ones(g.out) if not g.depthwise else 0.0
        if self.kind == "params":
            a_in = g.in_channels if g.in_from is None else counts[g.in_from]
            return float(g.params(1, a_in) + sum(self.geo[k].params(counts[k], 1) for k in readers))
        if self.kind == "cores":
            lim = alloc.limits
            per = alloc.layers[j].cores / max(width, 1)
            for k in readers:
                if alloc.layers[k].binding_limit(lim) not in NEURON_LIMITS:
                    per += alloc.layers[k].cores / max(width, 1)
            return per
        if g.depthwise:
            syn_in = prep[j]["w"]
        else:
            m_src = None if g.in_from is None else masks_all[g.in_from]
            w = prep[j]["w"]
            syn_in = float(w.sum() if m_src is None else w[m_src].sum())
        syn_out = sum(counts[k] * prep[k]["w"] for k in readers)
        if self.kind == "synops":
            return syn_in + syn_out
        p = prices[j]
        active = np.asarray(act.active[j]) if g.depthwise else act.active[j]
        cost = (p["synop"] * syn_in
                + p["neuron_active"] * active
                + p["neuron_inactive"] * (g.positions * act.steps - active)
                + p["spike_out"] * prep[nxt[0]]["spikes"])
        for k in nxt:
            synops = prices[k]["synop"] * counts[k] * prep[k]["w"] if k in readers else 0.0
            cost = cost + synops + prices[k]["message"] * self._messages(alloc, k, prep[k]["S"], masks_all[j])
        return cost

    def _static_shares(self, masks, act: Activity, alloc, counts):
        """(j, next layers) -> static pJ one channel of layer j saves, first order: the
        step time is the busiest layer's work per core, so only a channel of that
        layer (its mean share) or feeding it (the SynOps its spikes cause there) moves it."""
        work = self.breakdown(masks, act, alloc)["layer_work_ns"]
        per_core = [w / la.cores for w, la in zip(work, alloc.layers)]
        top = int(np.argmax(per_core))
        pj_per_ns = static_power_mw(alloc) * act.steps  # static pJ per ns of step time
        t_syn = layer_times(alloc)[top]["synop"]
        prep = self._prepared(act)

        def share(j, nxt):
            own = pj_per_ns * per_core[j] / max(counts[j], 1) if j == top else 0.0
            return own + sum(pj_per_ns * t_syn * counts[k] * prep[k]["w"] / act.steps / alloc.layers[k].cores
                             for k in nxt if k == top)
        return share

    def spike_prices(self, masks: dict[int, np.ndarray]) -> list[np.ndarray | None]:
        """Per synaptic layer j, what one spike of each of its input neurons
        (flat C,H,W order, as :class:`CostTap` counts them) costs in this
        model's currency with the channels ``masks`` keep: its SynOps into the
        active output channels (a pool's: into its own channel), priced
        (energy: plus its messages and the emitting neuron's spike cost). None
        for the first layer (its input spikes are the data) and for currencies
        spikes do not move."""
        if self.kind not in NEEDS_ACTIVITY:
            return [None] * len(self.geo)
        counts = self.counts(masks)
        masks_all = channel_masks(self.geo, masks)
        alloc = self.allocation(counts) if self.kind in ENERGY_KINDS else None
        prices = self._prices(alloc) if alloc is not None else None
        out = []
        for j, g in enumerate(self.geo):
            if g.in_from is None:
                out.append(None)
                continue
            reach = 1 if g.depthwise else counts[j]
            if prices is None:
                out.append(np.tile(reach * self.fan[j], g.in_channels).astype(np.float64))
                continue
            per_pos = reach * self.fan[j]
            if g.depthwise:  # messages per position differ by channel: one row per feeding channel
                ones = np.ones((g.in_channels, per_pos.size))
                dest = self._messages_map(alloc, j, ones, masks_all[g.in_from])
                per = prices[j]["synop"] * per_pos[None] + prices[j]["message"] * dest + prices[g.in_from]["spike_out"]
                out.append(per.reshape(-1).astype(np.float64))
            else:
                per_pos = (prices[j]["synop"] * per_pos + prices[j]["message"] * self._dest(alloc, j)
                           + prices[g.in_from]["spike_out"])
                out.append(np.tile(per_pos, g.in_channels).astype(np.float64))
        return out
