"""Activity metrics, each a small callable (definitions: SynOps = sum over
input spikes of their fan-out to existing output neurons; neuron updates =
one per neuron per step). Shared by training reports, the fixed-point
evaluator and the hardware budget so all three count the same way."""

from __future__ import annotations

import numpy as np

from sca_lava.netx.reader import LayerSpec


def fanout_map(layer: LayerSpec) -> np.ndarray:
    """Number of synapses each input neuron reaches, shaped like the layer's
    input (C, H, W) or (F,). For a conv layer this equals the transposed
    convolution of ones (borders, stride and padding included), computed as
    the gradient of a ones-kernel convolution; zero weights still count as
    synapses."""
    if layer.kind == "dense":
        return np.full(layer.in_shape, layer.out_shape[0], dtype=np.int64)
    if layer.kind != "conv":
        raise ValueError(f"layer {layer.index} ({layer.kind}) has no synapses")
    import torch

    kernel = torch.ones(layer.out_shape[0], layer.in_shape[0] // layer.groups, *layer.kernel,
                        dtype=torch.float64)
    x = torch.zeros(1, *layer.in_shape, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.conv2d(x, kernel, stride=layer.stride, padding=layer.padding,
                                     dilation=layer.dilation, groups=layer.groups)
    # d(sum of outputs)/d(input) = how many output neurons each input reaches
    (grad,) = torch.autograd.grad(out.sum(), x)
    return grad[0].round().numpy().astype(np.int64)


def synops(layer: LayerSpec, input_spikes: np.ndarray) -> float:
    """SynOps of one layer: input spikes (N, *in_shape, T) weighted by their
    fan-out, summed over everything (divide by N for per sample)."""
    counts = np.asarray(input_spikes).astype(np.float64).sum(axis=(0, -1))
    counts = counts.reshape(layer.in_shape)
    return float((counts * fanout_map(layer)).sum())


def dense_synops(layer: LayerSpec, num_steps: int) -> float:
    """SynOps per sample if every input fired at every step (upper bound)."""
    return float(fanout_map(layer).sum() * num_steps)


def firing_rate(spikes: np.ndarray) -> float:
    """Mean spikes per neuron per time step."""
    spikes = np.asarray(spikes)
    return float(spikes.mean()) if spikes.size else 0.0


def activation_sparsity(spikes: np.ndarray) -> float:
    """1 - nonzero activations / all activations."""
    return 1.0 - float((np.asarray(spikes) != 0).mean())
