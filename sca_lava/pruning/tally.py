"""What the network's spikes do during training, counted for the cost model
(:mod:`sca_lava.pruning.cost`): forward hooks on every synaptic block of the
traced graph (:class:`CostTap`), on the training batches since the last
structure update, count the spikes each input neuron delivers (what SLAYER
hands the next block, after its one-step delay shift: exactly what Lava sees;
:func:`sca_lava.metrics.per_neuron_counts`' definition) and the neuron-steps in
which a layer's neurons are *active* (an input event within the layer's decay
horizon, as :mod:`sca_lava.hardware.activity` defines it; with every synapse
present this is the same for every channel of a layer, except in a pool,
whose channels each read one input channel: counted per channel there).
:func:`measure_activity` counts the same on given inputs, outside training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.geometry import LayerGeometry
from sca_lava.hardware.activity import neuron_horizon, windowed_active


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


class CostTap:
    """Forward hook of one synaptic block: spike events per input neuron
    (as :func:`sca_lava.metrics.per_neuron_counts` counts them), active
    neuron-steps per output channel (:func:`active_steps`; per channel of a
    pool, one number for other layers) and (last block) output spikes, summed
    over samples. Counts training batches only, or anything while ``force``.
    ``local_sums``: what each data-parallel process sums over its own shard."""

    local_sums = ("inputs", "active", "host", "samples")

    def __init__(self, geo: LayerGeometry, horizon: float, last: bool):
        import torch

        self.geo, self.horizon, self.last = geo, horizon, last
        self.inputs = torch.zeros(int(np.prod(geo.in_shape)), dtype=torch.float64)
        self.active = torch.zeros(geo.out, dtype=torch.float64) if geo.depthwise else 0.0
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
            self.record(args[0].detach(), _first(output).detach())

    def record(self, x, out) -> None:
        import torch

        n, t = x.shape[0], x.shape[-1]
        nz = (x != 0).to(torch.float32)  # one elementwise pass, shared by both counts below
        # per input neuron: events summed over samples and steps (exact in float32 below 2^24)
        self.inputs += nz.sum(dim=0).sum(dim=-1).reshape(-1).to(torch.float64).cpu()
        if self.geo.depthwise:  # each channel reads only its own input channel
            per = active_steps_per_image(nz.reshape(-1, *nz.shape[2:]), self.geo, self.horizon)
            self.active += per.reshape(n, -1).sum(0).to(torch.float64).cpu()
        else:
            if self.geo.kind == "conv":
                fired = nz.amax(dim=1)
            else:  # a sum over the 1024 inputs runs 10x faster than amax over that strided dim; same 0/1 map
                fired = (nz.reshape(n, -1, t).sum(dim=1, keepdim=True) > 0).to(torch.float32)
            self.active += active_steps(fired, self.geo, self.horizon)  # one sync per batch, as the loss's .item()
        if self.last:
            self.host += float((out != 0).sum())
        self.samples += n
        self.steps = t

    def state_dict(self) -> dict:
        return {"inputs": self.inputs.clone(), "host": self.host, "samples": self.samples, "steps": self.steps,
                "active": self.active.clone() if self.geo.depthwise else self.active}

    def load_state_dict(self, v: dict) -> None:
        self.inputs.copy_(v["inputs"])
        if self.geo.depthwise:
            self.active.copy_(v["active"])
        else:
            self.active = float(v["active"])
        self.host = float(v["host"])
        self.samples, self.steps = int(v["samples"]), int(v["steps"])

    def reset(self) -> None:
        self.inputs.zero_()
        if self.geo.depthwise:
            self.active.zero_()
        else:
            self.active = 0.0
        self.host = 0.0
        self.samples = 0


def active_steps(fired, geo: LayerGeometry, horizon: float) -> float:
    """Active neuron-steps of ONE output channel of a synaptic layer, summed
    over the batch: a neuron is active at step t when an input event reached
    its receptive field in steps t-h+1 .. t (h = ``horizon``).
    ``fired``: (N, H, W, T) for a conv (any input channel fired at that
    position and step), (N, 1, T) for a dense layer."""
    return float(active_steps_per_image(fired, geo, horizon).sum())


def active_steps_per_image(fired, geo: LayerGeometry, horizon: float):
    """:func:`active_steps` per image of ``fired`` (a tensor (N,)).

    Two computations of that one definition: when the horizon spans the whole
    window (the usual case: SLAYER's CUBA decays keep a state for hundreds of
    steps) a neuron is active from the first event in its receptive field on,
    so a min-pool of per-position first-event steps on N small images gives
    the count; otherwise a conv of the per-step event maps over N x T images
    and a sliding window (:func:`active_steps_windowed`)."""
    import torch

    t = fired.shape[-1]
    windowed = geo.kind in ("conv", "pool") and 2 * geo.padding > geo.kernel
    if horizon < t or windowed:
        return _windowed_per_image(fired, geo, horizon)
    first = torch.where(fired.amax(dim=-1) > 0, fired.argmax(dim=-1).to(torch.float32), float(t))
    if geo.kind in ("conv", "pool"):  # earliest event in each receptive field (zero padding: no event)
        first = -torch.nn.functional.max_pool2d(-first.unsqueeze(1), geo.kernel, geo.stride, geo.padding)
    return (t - first).reshape(len(fired), -1).sum(1)


def active_steps_windowed(fired, geo: LayerGeometry, horizon: float) -> float:
    """:func:`active_steps` for any horizon, step by step."""
    return float(_windowed_per_image(fired, geo, horizon).sum())


def _windowed_per_image(fired, geo: LayerGeometry, horizon: float):
    import torch

    t = fired.shape[-1]
    n = fired.shape[0]
    if geo.kind in ("conv", "pool"):
        maps = fired.permute(0, 3, 1, 2).reshape(n * t, 1, *fired.shape[1:3])
        kernel = torch.ones(1, 1, geo.kernel, geo.kernel, dtype=maps.dtype, device=maps.device)
        ev = torch.nn.functional.conv2d(maps, kernel, stride=geo.stride, padding=geo.padding)
        ev = ev.reshape(n, t, -1) > 0.5
    else:
        ev = fired.reshape(n, 1, t).transpose(1, 2) > 0
    return windowed_active(ev, horizon, 1).reshape(n, -1).sum(1).to(torch.float32)


@dataclass
class Activity:
    """Mean per sample, per synaptic layer: ``inputs[j]`` spikes of each input
    neuron (flat C,H,W order, summed over steps), ``active[j]`` active
    neuron-steps of one output channel (a per-channel array for a pool);
    ``host`` output spikes; ``steps`` T."""

    inputs: list[np.ndarray]
    active: list
    host: float
    steps: int
    samples: int

    def to_dict(self) -> dict:
        return {"inputs": [v.tolist() for v in self.inputs],
                "active": [a.tolist() if isinstance(a, np.ndarray) else a for a in self.active],
                "host": self.host, "steps": self.steps, "samples": self.samples}

    @classmethod
    def from_dict(cls, d: dict) -> Activity:
        return cls([np.asarray(v, dtype=np.float64) for v in d["inputs"]],
                   [np.asarray(a, dtype=np.float64) if isinstance(a, list) else float(a) for a in d["active"]],
                   float(d["host"]), int(d["steps"]), int(d["samples"]))


def horizon_of(block) -> float:
    """Steps a neuron of a SLAYER CUBA block stays active after an input event
    (the exported iDecay/vDecay, as the hardware activity count uses)."""
    dp = block.neuron.device_params
    return neuron_horizon(int(dp["iDecay"]), int(dp["vDecay"]))


def install_cost_taps(graph) -> dict[int, CostTap]:
    """Hook every synaptic block of a traced graph; block -> tap (remove them
    with :func:`remove_cost_taps`)."""
    geo = graph.synaptic
    taps = {}
    for j, g in enumerate(geo):
        block = graph.block(g)
        tap = CostTap(g, horizon_of(block), last=j == len(geo) - 1)
        tap.handle = block.register_forward_hook(tap)
        taps[g.block] = tap
    return taps


def remove_cost_taps(taps: dict[int, CostTap]) -> None:
    for tap in taps.values():
        tap.handle.remove()


def snapshot(taps: dict[int, CostTap]) -> Activity | None:
    """Per-sample means of what the taps counted (None if they saw nothing)."""
    ordered = [taps[b] for b in sorted(taps)]
    n = ordered[0].samples
    if n == 0:
        return None
    active = [t.active.numpy() / n if t.geo.depthwise else t.active / n for t in ordered]
    return Activity([t.inputs.numpy() / n for t in ordered], active, ordered[-1].host / n, ordered[0].steps, n)


def measure_activity(graph, spikes, batch_size: int = 64) -> Activity:
    """Activity of a traced graph's module on input spikes (N, ..., T), no
    training (temporary taps; the module's own taps, if any, do not count
    eval-mode passes). ``graph``: a traced network or a module that states
    its input shape."""
    import torch

    from sca_lava.models.graph import as_graph

    graph = as_graph(graph, np.shape(spikes)[1:-1])
    taps = install_cost_taps(graph)
    model = graph.module
    was_training = model.training
    try:
        for t in taps.values():
            t.force = True
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            for start in range(0, len(spikes), batch_size):
                xb = torch.as_tensor(np.ascontiguousarray(spikes[start:start + batch_size])).float()
                model(xb.to(device))
        return snapshot(taps)
    finally:
        model.train(was_training)
        remove_cost_taps(taps)
