"""Per-channel gains and masks living inside SLAYER's weight quantisation.

SLAYER blocks quantise weights through ``synapse.pre_hook_fx`` (8 bits, fixed
step ``2 / w_scale``). :class:`ChannelGate` wraps that hook so the weight of
output channel c is multiplied by ``gain_c * mask_c`` *before* quantisation.
Consequences, all intended:

- a masked channel gets zero input current (no bias in our blocks), so it never
  spikes, and its weights and gain get exactly zero gradient;
- ``block.export_hdf5`` calls the same hook (``descale=True``), so gains and
  masks are folded into the exported weights: the file is the trained net;
- ``dL/d(gain*mask)`` is captured with a tensor hook, nonzero also for masked
  channels: the regrowth signal (the paper's ``|dL/d gamma_c|``).

Which channels feed which weights is :mod:`sca_lava.geometry`'s business;
the gates go on the prunable blocks of a traced graph
(:mod:`sca_lava.models.graph`), the user's own blocks.
"""

from __future__ import annotations

import numpy as np
import torch

from sca_lava.models.surgery import quantized_weight

GAIN = "sca_gain"
MASK = "sca_mask"


class ChannelGate:
    """Replaces ``synapse.pre_hook_fx``: scale output channels by gain*mask,
    then SLAYER's own quantiser. Accumulates ``|dL/d(gain*mask)|``."""

    def __init__(self, block: torch.nn.Module, quantize):
        self.block = block
        self.quantize = quantize
        self.grad_acc = torch.zeros(block.synapse.out_channels, dtype=torch.float64)
        self.grad_batches = 0
        # data parallelism: the step's raw gradient, summed over processes before |.|
        # (|g1| + |g2| != |g1 + g2|), then committed; None in one process
        self.pending: torch.Tensor | None = None

    @property
    def local_sums(self) -> tuple[str, ...]:
        return () if self.pending is not None else ("grad_acc", "grad_batches")

    def scale(self) -> torch.Tensor:
        return getattr(self.block, GAIN) * getattr(self.block, MASK)

    def _tap(self, grad: torch.Tensor) -> None:
        if self.pending is not None:
            self.pending += grad.detach().to(torch.float64).cpu()
            return
        self.grad_acc += grad.detach().abs().to(torch.float64).cpu()
        self.grad_batches += 1

    def commit(self) -> None:
        """Accumulate ``pending`` (already summed over processes) as one step."""
        self.grad_acc += self.pending.abs()
        self.grad_batches += 1
        self.pending.zero_()

    def __call__(self, weight: torch.Tensor, descale: bool = False) -> torch.Tensor:
        scale = self.scale()
        if scale.requires_grad and torch.is_grad_enabled():
            scale.register_hook(self._tap)
        shape = (-1,) + (1,) * (weight.dim() - 1)
        return self.quantize(weight * scale.reshape(shape), descale=descale)

    def reset(self) -> None:
        self.grad_acc.zero_()
        self.grad_batches = 0


def install_gates(graph) -> dict[int, ChannelGate]:
    """Register gain (parameter, 1) and mask (buffer, 1) on every prunable
    block of a traced graph and wrap its quantiser. Idempotent. Returns block
    index -> gate."""
    from sca_lava.models.graph import as_graph

    graph = as_graph(graph)
    gates = {}
    for g in graph.prunable:
        block = graph.block(g)
        gate = gate_of(block)
        if gate is None:
            if not hasattr(block, GAIN):
                block.register_parameter(GAIN, torch.nn.Parameter(torch.ones(g.out)))
                block.register_buffer(MASK, torch.ones(g.out))
            gate = ChannelGate(block, block.synapse.pre_hook_fx)
            block.synapse.pre_hook_fx = gate
        gates[g.block] = gate
    return gates


def gate_of(block: torch.nn.Module) -> ChannelGate | None:
    hook = block.synapse.pre_hook_fx
    return hook if isinstance(hook, ChannelGate) else None


def remove_gate(block: torch.nn.Module) -> None:
    """Undo :func:`install_gates` on one block (its quantiser, gain and mask go)."""
    gate = gate_of(block)
    if gate is not None:
        block.synapse.pre_hook_fx = gate.quantize
    for name in (GAIN, MASK):
        if hasattr(block, name):
            delattr(block, name)


def masks_of(graph) -> dict[int, np.ndarray]:
    """Block index -> boolean active-channel mask (masked blocks only) of a
    traced network (or a module that states its input shape)."""
    from sca_lava.models.graph import as_graph

    return {i: getattr(b, MASK).detach().cpu().numpy() > 0.5 for i, b in enumerate(as_graph(graph).blocks)
            if hasattr(b, MASK)}


@torch.no_grad()
def effective_weight(block: torch.nn.Module) -> torch.Tensor:
    """The quantised weight the block really uses (gain and mask folded in), in
    SLAYER's float units (``descale=False``)."""
    return quantized_weight(block)
