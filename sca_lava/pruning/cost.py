"""What a channel costs where users pay: parameters, SynOps, dynamic energy
on a hardware profile, or cores on a profile.

One cost model, the hardware package's (docs/hardware.md), evaluated on the
masked network during training instead of on an exported file:

* **activity** comes from forward hooks on every synaptic block
  (:class:`CostTap`), counted on the training batches since the last structure
  update: the spikes each input neuron delivers (what SLAYER hands the next
  block, i.e. after its one-step delay shift: exactly what Lava sees), and the
  neuron-steps in which a layer's neurons are *active* (an input event within
  the layer's decay horizon, as :mod:`sca_lava.hardware.activity` defines it;
  with every synapse present this is the same for every channel of a layer);
* **SynOps** of layer l = its active output channels x the sum over its
  active inputs of their spikes x their fan-out to one output channel
  (:func:`sca_lava.metrics.fanout_map`): removing channel c of layer l removes
  the SynOps into it and its spikes' SynOps into the next layer;
* **energy** prices SynOps, active/inactive neuron updates, emitted spikes and
  spike messages with :func:`sca_lava.hardware.energy.op_energy_pj`; messages
  per spike = the cores of the next layer that hold an axon for it, read from
  the allocation of the candidate structure;
* **cores** = :func:`sca_lava.hardware.allocation.allocate` of the candidate
  structure (:func:`sca_lava.geometry.netx_spec`), cached by channel counts.

Allocation treats every structural synapse as stored (``dense_weights``):
the figures are those of the exported net allocated with ``dense_weights``
(an upper bound on trained weights with zeros) and do not move as weights
are fine-tuned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import LayerGeometry, count_params, geometry, netx_spec

BUDGET_KINDS = {
    "params": "kept fraction of the dense network's synaptic parameters",
    "synops": "kept fraction of the dense network's SynOps per inference (measured activity)",
    "energy": "kept fraction of the dense network's dynamic energy per inference on --profile",
    "cores": "number of cores on --profile (an integer)",
    "channels": "kept fraction of the prunable channels",
}
NEEDS_ACTIVITY = ("synops", "energy")
NEEDS_PROFILE = ("energy", "cores")


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


# ------------------------------------------------------------------------ activity


class CostTap:
    """Forward hook of one synaptic block: spike events per input neuron
    (as :func:`sca_lava.metrics.per_neuron_counts` counts them), active
    neuron-steps per output channel (:func:`active_steps`) and (last block)
    output spikes, summed over samples. Counts training batches only, or anything while ``force``.
    ``local_sums``: what each data-parallel process sums over its own shard."""

    local_sums = ("inputs", "active", "host", "samples")

    def __init__(self, geo: LayerGeometry, horizon: float, last: bool):
        import torch

        self.geo, self.horizon, self.last = geo, horizon, last
        self.inputs = torch.zeros(int(np.prod(geo.in_shape)), dtype=torch.float64)
        self.active = 0.0
        self.host = 0.0
        self.samples = 0
        self.steps = 0
        self.force = False
        self.handle = None

    def __call__(self, module, args, output) -> None:
        import torch

        if not (self.force or (module.training and torch.is_grad_enabled())):
            return
        with torch.no_grad():
            self.record(args[0].detach(), output.detach())

    def record(self, x, out) -> None:
        import torch

        n, t = x.shape[0], x.shape[-1]
        nz = (x != 0).to(torch.float32)  # one elementwise pass, shared by both counts below
        # per input neuron: events summed over samples and steps (exact in float32 below 2^24)
        self.inputs += nz.sum(dim=0).sum(dim=-1).reshape(-1).to(torch.float64).cpu()
        if self.geo.kind == "conv":
            fired = nz.amax(dim=1)
        else:  # a sum over the 1024 inputs runs 10x faster than amax over that strided dim; same 0/1 map
            fired = (nz.reshape(n, -1, t).sum(dim=1, keepdim=True) > 0).to(torch.float32)
        self.active += active_steps(fired, self.geo, self.horizon)  # one sync per batch, as the loss's .item()
        if self.last:
            self.host += float((out != 0).sum())
        self.samples += n
        self.steps = t

    def reset(self) -> None:
        self.inputs.zero_()
        self.active = self.host = 0.0
        self.samples = 0


def active_steps(fired, geo: LayerGeometry, horizon: float) -> float:
    """Active neuron-steps of ONE output channel of a synaptic layer, summed
    over the batch: a neuron is active at step t when an input event reached
    its receptive field in steps t-h+1 .. t (h = ``horizon``).
    ``fired``: (N, H, W, T) for a conv (any input channel fired at that
    position and step), (N, 1, T) for a dense layer.

    Two computations of that one definition: when the horizon spans the whole
    window (the usual case: SLAYER's CUBA decays keep a state for hundreds of
    steps) a neuron is active from the first event in its receptive field on,
    so a min-pool of per-position first-event steps on N small images gives
    the count; otherwise a conv of the per-step event maps over N x T images
    and a sliding window (:func:`active_steps_windowed`)."""
    import torch

    t = fired.shape[-1]
    if horizon < t or (geo.kind == "conv" and 2 * geo.padding > geo.kernel):
        return active_steps_windowed(fired, geo, horizon)
    first = torch.where(fired.amax(dim=-1) > 0, fired.argmax(dim=-1).to(torch.float32), float(t))
    if geo.kind == "conv":  # earliest event in each receptive field (zero padding: no event)
        first = -torch.nn.functional.max_pool2d(-first.unsqueeze(1), geo.kernel, geo.stride, geo.padding)
    return float((t - first).sum())


def active_steps_windowed(fired, geo: LayerGeometry, horizon: float) -> float:
    """:func:`active_steps` for any horizon, step by step."""
    import torch

    t = fired.shape[-1]
    n = fired.shape[0]
    if geo.kind == "conv":
        maps = fired.permute(0, 3, 1, 2).reshape(n * t, 1, *fired.shape[1:3])
        kernel = torch.ones(1, 1, geo.kernel, geo.kernel, dtype=maps.dtype, device=maps.device)
        ev = torch.nn.functional.conv2d(maps, kernel, stride=geo.stride, padding=geo.padding)
        ev = ev.reshape(n, t, -1) > 0.5
    else:
        ev = fired.reshape(n, 1, t).transpose(1, 2) > 0
    c = ev.to(torch.int32).cumsum(dim=1)
    if horizon < t:  # active[t] = an event in steps t-h+1 .. t
        h = int(horizon)
        c = c.clone()
        c[:, h:] -= ev.to(torch.int32).cumsum(dim=1)[:, :-h]
    return float((c > 0).sum())


@dataclass
class Activity:
    """Mean per sample, per synaptic layer: ``inputs[j]`` spikes of each input
    neuron (flat C,H,W order, summed over steps), ``active[j]`` active
    neuron-steps of one output channel; ``host`` output spikes; ``steps`` T."""

    inputs: list[np.ndarray]
    active: list[float]
    host: float
    steps: int
    samples: int

    def to_dict(self) -> dict:
        return {"inputs": [v.tolist() for v in self.inputs], "active": list(self.active), "host": self.host,
                "steps": self.steps, "samples": self.samples}

    @classmethod
    def from_dict(cls, d: dict) -> Activity:
        return cls([np.asarray(v, dtype=np.float64) for v in d["inputs"]], [float(a) for a in d["active"]],
                   float(d["host"]), int(d["steps"]), int(d["samples"]))


def horizon_of(block) -> float:
    """Steps a neuron of a SLAYER CUBA block stays active after an input event
    (the exported iDecay/vDecay, as the hardware activity count uses)."""
    from sca_lava.hardware.activity import decay_horizon

    dp = block.neuron.device_params
    return decay_horizon(int(dp["iDecay"])) + decay_horizon(int(dp["vDecay"]))


def install_cost_taps(model) -> dict[int, CostTap]:
    """Hook every synaptic block of a SpikingNet (idempotent); block -> tap."""
    geo = geometry(model.config)
    taps = getattr(model, "_sca_cost_taps", None)
    if taps is not None:
        return taps
    taps = {}
    for j, g in enumerate(geo):
        block = model.blocks[g.block]
        tap = CostTap(g, horizon_of(block), last=j == len(geo) - 1)
        tap.handle = block.register_forward_hook(tap)
        taps[g.block] = tap
    model._sca_cost_taps = taps
    return taps


def remove_cost_taps(model) -> None:
    for tap in getattr(model, "_sca_cost_taps", {}).values():
        tap.handle.remove()
    model.__dict__.pop("_sca_cost_taps", None)


def snapshot(taps: dict[int, CostTap]) -> Activity | None:
    """Per-sample means of what the taps counted (None if they saw nothing)."""
    ordered = [taps[b] for b in sorted(taps)]
    n = ordered[0].samples
    if n == 0:
        return None
    return Activity([t.inputs.numpy() / n for t in ordered], [t.active / n for t in ordered],
                    ordered[-1].host / n, ordered[0].steps, n)


def measure_activity(model, spikes, batch_size: int = 64) -> Activity:
    """Activity of ``model`` on input spikes (N, ..., T), no training."""
    import torch

    fresh = getattr(model, "_sca_cost_taps", None) is None
    taps = install_cost_taps(model)
    saved = {b: (t.inputs.clone(), t.active, t.host, t.samples, t.steps) for b, t in taps.items()}
    was_training = model.training
    try:
        for t in taps.values():
            t.reset()
            t.force = True
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            for start in range(0, len(spikes), batch_size):
                xb = torch.as_tensor(np.ascontiguousarray(spikes[start:start + batch_size])).float()
                model.forward_all(xb.to(device))
        return snapshot(taps)
    finally:
        model.train(was_training)
        for b, t in taps.items():
            t.force = False
            t.inputs.copy_(saved[b][0])
            t.active, t.host, t.samples, t.steps = saved[b][1:]
        if fresh:
            remove_cost_taps(model)


# ------------------------------------------------------------------------ the model


class CostModel:
    """Cost of any channel structure of one network in one budget currency
    (params: weights; channels: prunable channels; synops: per inference;
    energy: pJ per inference; cores: cores), and each channel's marginal cost."""

    def __init__(self, config, kind: str, profile=None):
        from sca_lava.metrics import fanout_map

        if kind not in BUDGET_KINDS:
            raise ScaLavaError(f"unknown budget kind {kind!r} (choose from {', '.join(BUDGET_KINDS)})")
        self.config, self.kind = config, kind
        self.geo = geometry(config)
        self.profile = None
        if kind in NEEDS_PROFILE:
            from sca_lava.hardware.profile import load_profile

            if profile is None:
                raise ScaLavaError(f"the {kind} budget needs a hardware profile (--profile, e.g. loihi2)")
            self.profile = load_profile(profile)
        self.cheap = kind not in NEEDS_PROFILE  # no allocation needed to evaluate
        specs = [ly for ly in netx_spec(config).layers if ly.is_synaptic]
        # spikes x fan-out to ONE output channel, per position of a feeding channel
        self.fan = [fanout_map(sp).reshape(g.in_channels, -1)[0] / g.out for sp, g in zip(specs, self.geo)]
        self.next = {j: [k for k, h in enumerate(self.geo) if h.in_from == j] for j in range(len(self.geo))}
        self._alloc: dict[tuple, object] = {}

    # --- structure helpers
    def counts(self, masks: dict[int, np.ndarray]) -> list[int]:
        return [int(np.count_nonzero(masks[g.block])) if g.block in masks else g.out for g in self.geo]

    def allocation(self, counts):
        """The allocation of a structure (cached by channel counts)."""
        key = tuple(int(c) for c in counts)
        if key not in self._alloc:
            from sca_lava.hardware.allocation import allocate

            if len(self._alloc) > 256:
                self._alloc.clear()
            self._alloc[key] = allocate(netx_spec(self.config, key), self.profile, dense_weights=True)
        return self._alloc[key]

    def _src_mask(self, masks, j) -> np.ndarray | None:
        g = self.geo[j]
        if g.in_from is None:
            return None
        src = self.geo[g.in_from]
        return masks[src.block] if src.block in masks else np.ones(src.out, dtype=bool)

    def _own_mask(self, masks, j) -> np.ndarray:
        g = self.geo[j]
        return masks[g.block] if g.block in masks else np.ones(g.out, dtype=bool)

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
        from sca_lava.hardware.energy import op_energy_pj

        if "_sca_prices" in alloc.__dict__:
            return alloc._sca_prices
        out = []
        for la, g in zip(alloc.layers, self.geo):
            encs = [t.encoding for t in la.tiles]
            enc = max(set(encs), key=encs.count)
            out.append(op_energy_pj(self.profile, g.kind, enc))
        alloc._sca_prices = out
        return out

    def _dest(self, alloc, j: int) -> np.ndarray:
        """Cores of layer j that hold an axon for each position of ONE feeding
        channel (the same for every feeding channel with all synapses present)."""
        cache = alloc.__dict__.setdefault("_sca_dest", {})
        if j not in cache:
            la = alloc.layers[j]
            d = np.zeros(int(np.prod(la.view.in_shape)), dtype=np.float64)
            for t in la.tiles:
                np.add.at(d, t.in_index[t.has_axon], 1.0)
            cache[j] = d.reshape(-1, self.fan[j].size).mean(0)
        return cache[j]

    def breakdown(self, masks: dict[int, np.ndarray], act: Activity | None = None, alloc=None) -> dict:
        """Every count of a structure (per inference) and its cost in each
        currency that can be computed (activity/profile permitting)."""
        counts = self.counts(masks)
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
        for j in range(len(self.geo)):
            m_src = self._src_mask(masks, j)
            w, s = prep[j]["w"], prep[j]["S"]
            syn.append(counts[j] * float(w.sum() if m_src is None else w[m_src].sum()))
            if self.profile is not None:
                per_ch = s @ self._dest(alloc, j)
                msgs.append(float(per_ch.sum() if m_src is None else per_ch[m_src].sum()))
            nxt = self.next[j]
            own = self._own_mask(masks, j)
            spikes_out.append(float(prep[nxt[0]]["spikes"][own].sum()) if nxt else float(act.host))
        neurons = [counts[j] * g.positions * act.steps for j, g in enumerate(self.geo)]
        active = [counts[j] * act.active[j] for j in range(len(self.geo))]
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
            out.update({"messages": float(sum(msgs) + act.host), "energy_pj": float(sum(pj.values())),
                        "energy_breakdown_pj": {k: float(v) for k, v in pj.items()}})
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
            prep = self._prepared(act)
            total = 0.0
            for j in range(len(self.geo)):
                m_src, w = self._src_mask(masks, j), prep[j]["w"]
                total += counts[j] * float(w.sum() if m_src is None else w[m_src].sum())
            return total
        return self.breakdown(masks, act, alloc)["energy_pj"]

    def marginal(self, masks: dict[int, np.ndarray], act: Activity | None = None) -> dict[int, np.ndarray]:
        """Block -> per-channel cost that removing the channel alone would save
        (first order, at the current structure): its filter and its slice of
        the next layer (params); the SynOps into it and out of its spikes
        (synops); those priced, plus its neuron updates, emitted spikes and
        messages (energy); its layer's cores per channel, plus the next
        layer's when that one is bound by synapse memory or axons (cores)."""
        counts = self.counts(masks)
        out = {}
        alloc = self.allocation(counts) if self.profile is not None else None
        prep = self._prepared(act) if act is not None and self.kind in NEEDS_ACTIVITY else None
        prices = self._prices(alloc) if self.kind == "energy" else None
        for j, g in enumerate(self.geo):
            if not g.prunable:
                continue
            nxt = self.next[j]
            if self.kind == "channels":
                cost = np.ones(g.out)
            elif self.kind == "params":
                a_in = g.in_channels if g.in_from is None else counts[g.in_from]
                per = g.params(1, a_in) + sum(self.geo[k].params(counts[k], 1) for k in nxt)
                cost = np.full(g.out, float(per))
            elif self.kind == "cores":
                lim = alloc.limits
                per = alloc.layers[j].cores / max(counts[j], 1)
                for k in nxt:
                    if alloc.layers[k].binding_limit(lim) != "neurons":
                        per += alloc.layers[k].cores / max(counts[j], 1)
                cost = np.full(g.out, per)
            else:
                m_src = self._src_mask(masks, j)
                w = prep[j]["w"]
                syn_in = float(w.sum() if m_src is None else w[m_src].sum())
                syn_out = sum(counts[k] * prep[k]["w"] for k in nxt)
                if self.kind == "synops":
                    cost = syn_in + syn_out
                else:
                    p = prices[j]
                    cost = (p["synop"] * syn_in
                            + p["neuron_active"] * act.active[j]
                            + p["neuron_inactive"] * (g.positions * act.steps - act.active[j])
                            + p["spike_out"] * prep[nxt[0]]["spikes"])
                    for k in nxt:
                        dest = self._dest(alloc, k)
                        cost = cost + prices[k]["synop"] * counts[k] * prep[k]["w"] + prices[k]["message"] * (
                            prep[k]["S"] @ dest)
            out[g.block] = np.asarray(cost, dtype=np.float64) * np.ones(g.out)
        return out

    def spike_prices(self, counts) -> list[np.ndarray | None]:
        """Per synaptic layer j, what one spike of each of its input neurons
        (flat C,H,W order, as :class:`CostTap` counts them) costs in this
        model's currency with ``counts`` channels per layer: its SynOps into
        the active output channels, priced (energy: plus its messages and
        the emitting neuron's spike cost). None for the first layer (its
        input spikes are the data) and for currencies spikes do not move."""
        if self.kind not in NEEDS_ACTIVITY:
            return [None] * len(self.geo)
        counts = [int(c) for c in counts]
        alloc = self.allocation(counts) if self.kind == "energy" else None
        prices = self._prices(alloc) if alloc is not None else None
        out = []
        for j, g in enumerate(self.geo):
            if g.in_from is None:
                out.append(None)
                continue
            per_pos = counts[j] * self.fan[j]
            if prices is not None:
                per_pos = (prices[j]["synop"] * per_pos + prices[j]["message"] * self._dest(alloc, j)
                           + prices[g.in_from]["spike_out"])
            out.append(np.tile(per_pos, g.in_channels).astype(np.float64))
        return out
