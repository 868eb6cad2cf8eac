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

:class:`LayerGeometry` describes which channels feed which weights, so the
parameter count of any mask combination is computable without surgery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sca_lava.models.config import NetworkConfig
from sca_lava.models.network import SpikingNet, _conv_out

GAIN = "sca_gain"
MASK = "sca_mask"


@dataclass(frozen=True)
class LayerGeometry:
    """One synaptic layer. ``in_from`` is the index (among synaptic layers) of
    the layer feeding it, or None for the network input; ``in_spatial`` is the
    number of input features per input channel (H*W after a flatten, else 1)."""

    block: int  # index in model.blocks / config.layers
    kind: str  # conv | dense
    out: int
    in_channels: int
    kernel_area: int
    in_from: int | None
    in_spatial: int
    prunable: bool

    def params(self, active_out: int, active_in: int) -> int:
        return int(active_out * active_in * self.in_spatial * self.kernel_area)


def geometry(config: NetworkConfig) -> list[LayerGeometry]:
    """Synaptic layers in order; all but the classifier are prunable."""
    shape = tuple(config.input_shape)
    spatial = 1
    prev = None
    out: list[LayerGeometry] = []
    syn_layers = [i for i, ly in enumerate(config.layers) if ly["type"] != "flatten"]
    for i, ly in enumerate(config.layers):
        if ly["type"] == "flatten":
            spatial = shape[1] * shape[2]
            shape = (shape[0] * spatial,)
            continue
        in_ch = shape[0] if ly["type"] == "conv" else shape[0] // spatial
        if ly["type"] == "conv":
            k, s, p = int(ly.get("kernel", 3)), int(ly.get("stride", 1)), int(ly.get("padding", 0))
            area = k * k
            shape = (int(ly["out"]), _conv_out(shape[1], k, s, p), _conv_out(shape[2], k, s, p))
        else:
            area = 1
            shape = (int(ly["out"]),)
        out.append(LayerGeometry(i, ly["type"], int(ly["out"]), int(in_ch), area, prev, spatial,
                                 prunable=i != syn_layers[-1]))
        prev = len(out) - 1
        spatial = 1
    return out


def count_params(geo: list[LayerGeometry], active: list[int] | None = None) -> int:
    """Synaptic weights (no biases exist in our blocks) given the active output
    channels of every synaptic layer (``None``: dense)."""
    active = [g.out for g in geo] if active is None else active
    total = 0
    for j, g in enumerate(geo):
        a_in = g.in_channels if g.in_from is None else active[g.in_from]
        total += g.params(active[j], a_in)
    return total


class ChannelGate:
    """Replaces ``synapse.pre_hook_fx``: scale output channels by gain*mask,
    then SLAYER's own quantiser. Accumulates ``|dL/d(gain*mask)|``."""

    def __init__(self, block: torch.nn.Module, quantize):
        self.block = block
        self.quantize = quantize
        self.grad_acc = torch.zeros(block.synapse.out_channels, dtype=torch.float64)
        self.grad_batches = 0

    def scale(self) -> torch.Tensor:
        return getattr(self.block, GAIN) * getattr(self.block, MASK)

    def _tap(self, grad: torch.Tensor) -> None:
        self.grad_acc += grad.detach().abs().to(torch.float64)
        self.grad_batches += 1

    def __call__(self, weight: torch.Tensor, descale: bool = False) -> torch.Tensor:
        scale = self.scale()
        if scale.requires_grad and torch.is_grad_enabled():
            scale.register_hook(self._tap)
        shape = (-1,) + (1,) * (weight.dim() - 1)
        return self.quantize(weight * scale.reshape(shape), descale=descale)

    def reset(self) -> None:
        self.grad_acc.zero_()
        self.grad_batches = 0


def install_gates(model: SpikingNet) -> dict[int, ChannelGate]:
    """Register gain (parameter, 1) and mask (buffer, 1) on every prunable
    block and wrap its quantiser. Idempotent. Returns block index -> gate."""
    gates = {}
    for g in geometry(model.config):
        if not g.prunable:
            continue
        block = model.blocks[g.block]
        hook = block.synapse.pre_hook_fx
        if isinstance(hook, ChannelGate):
            gates[g.block] = hook
            continue
        if not hasattr(block, GAIN):
            block.register_parameter(GAIN, torch.nn.Parameter(torch.ones(g.out)))
            block.register_buffer(MASK, torch.ones(g.out))
        gate = ChannelGate(block, hook)
        block.synapse.pre_hook_fx = gate
        gates[g.block] = gate
    return gates


def gates_of(model: SpikingNet) -> dict[int, ChannelGate]:
    return {i: b.synapse.pre_hook_fx for i, b in enumerate(model.blocks)
            if hasattr(b, "synapse") and isinstance(b.synapse.pre_hook_fx, ChannelGate)}


def masks_of(model: SpikingNet) -> dict[int, np.ndarray]:
    """Block index -> boolean active-channel mask (prunable blocks only)."""
    return {i: getattr(b, MASK).detach().numpy() > 0.5 for i, b in enumerate(model.blocks)
            if hasattr(b, MASK)}


@torch.no_grad()
def effective_weight(block: torch.nn.Module) -> torch.Tensor:
    """The quantised weight the block really uses (gain and mask folded in), in
    SLAYER's float units (``descale=False``)."""
    return block.synapse.pre_hook_fx(block.synapse.weight).detach().clone()
