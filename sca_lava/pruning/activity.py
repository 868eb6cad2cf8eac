"""Spiking channel activity, read from lava-dl's own CUBA dynamics.

``Neuron.forward`` is ``spike(dynamics(z)[1])``: the voltage handed to
``spike()`` is SLAYER's real membrane trace (reset already applied on the step
after a spike; on the spike step it still holds the value that crossed the
threshold). :class:`ActivityTap` wraps the neuron's ``spike`` method, so it
sees that voltage and the resulting spikes with no extra forward pass. The
after-reset potential is the voltage with spike steps set to 0 (hard reset, as
``spike()`` applies to the state), divided by the threshold so all layers
share one scale for the global ranking.

score_c = mean over batch, spatial positions and time of (spike + |V|/theta),
averaged (plain running mean) over the training batches since the last
structure update; computed in training mode only and never back-propagated.

The same tap also keeps the *depolarisation* variant, spike + max(V, 0)/theta
(:attr:`ActivityTap.drive`). SLAYER's CUBA neurons integrate inhibitory
current, so a channel that is held far below rest (V << 0) never fires, yet
scores high on |V|: it looks important while it sends nothing downstream.
Counting only the potential that pushes towards the threshold ranks such
channels as what they cost a deployment: nothing useful.

A tap computes only the signals its criterion reads (``signals``): each is a
full pass over the layer's voltage on every training batch.
"""

from __future__ import annotations

import torch


def channel_activity(spikes: torch.Tensor, voltage: torch.Tensor, threshold: float) -> torch.Tensor:
    """Per-channel mean of spike + |after-reset V| / threshold; channel is dim 1
    of (N, C, H, W, T) or (N, F, T). One fused pass: a spiking step counts 1
    (its after-reset V is 0), a silent one |V|/threshold."""
    return _channel_mean(voltage.detach().abs(), spikes, threshold)


def channel_drive(spikes: torch.Tensor, voltage: torch.Tensor, threshold: float) -> torch.Tensor:
    """Per-channel mean of spike + max(after-reset V, 0) / threshold."""
    return _channel_mean(voltage.detach().clamp(min=0), spikes, threshold)


def _channel_mean(val: torch.Tensor, spikes: torch.Tensor, threshold: float) -> torch.Tensor:
    val.masked_fill_(spikes.detach() > 0, float(threshold))
    dims = [d for d in range(val.dim()) if d != 1]
    # float32 reduction: a float64 one is ~4x slower and the training step budget is tight
    return val.mean(dim=dims).to(torch.float64) / float(threshold)


#: what a tap can accumulate: spike + |V|/theta (``score``), spike + max(V, 0)/theta (``drive``)
SIGNALS = ("abs", "drive")


class ActivityTap:
    """Replaces ``block.neuron.spike``; accumulates channel activity while the
    module is training and grad is enabled (i.e. inside the training loop).
    ``local_sums``: what each data-parallel process sums over its own shard."""

    local_sums = ("score_sum", "drive_sum", "batches")

    def __init__(self, block: torch.nn.Module, channels: int, signals: tuple[str, ...] = SIGNALS):
        unknown = set(signals) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown activity signal(s) {sorted(unknown)} (choose from {', '.join(SIGNALS)})")
        self.block = block
        self.signals = tuple(signals)
        self.spike = block.neuron.spike
        self.score_sum = torch.zeros(channels, dtype=torch.float64)
        self.drive_sum = torch.zeros(channels, dtype=torch.float64)
        self.batches = 0

    def __call__(self, voltage: torch.Tensor) -> torch.Tensor:
        spikes = self.spike(voltage)
        if self.block.training and torch.is_grad_enabled():
            with torch.no_grad():
                if "abs" in self.signals:
                    self.score_sum += channel_activity(spikes, voltage, self.block.neuron.threshold).cpu()
                if "drive" in self.signals:
                    self.drive_sum += channel_drive(spikes, voltage, self.block.neuron.threshold).cpu()
            self.batches += 1
        return spikes

    @property
    def score(self) -> torch.Tensor:
        return self.score_sum / max(self.batches, 1)

    @property
    def drive(self) -> torch.Tensor:
        return self.drive_sum / max(self.batches, 1)

    def reset(self) -> None:
        self.score_sum.zero_()
        self.drive_sum.zero_()
        self.batches = 0


def install_taps(graph, blocks: list[int], signals: tuple[str, ...] = SIGNALS) -> dict[int, ActivityTap]:
    """Tap the neurons of the given blocks of a traced graph (idempotent),
    accumulating ``signals``."""
    taps = {}
    for i in blocks:
        block = graph.blocks[i]
        current = block.neuron.spike
        if isinstance(current, ActivityTap):
            taps[i] = current
            continue
        tap = ActivityTap(block, block.synapse.out_channels, signals)
        block.neuron.spike = tap
        taps[i] = tap
    return taps


def remove_tap(block) -> None:
    """Undo :func:`install_taps` on one block."""
    if isinstance(block.neuron.__dict__.get("spike"), ActivityTap):
        del block.neuron.spike
