"""Activity metrics as small accumulators (NeuroBench-style ``update`` /
``compute`` / ``reset``) fed by one loop over a simulator's batches.

Definitions (docs/concepts.md, shared/reference/metrics.md): SynOps = sum
over input spikes of their fan-out to existing output neurons (zero weights
count as synapses, so only physically removed channels reduce it; graded
inputs count once per nonzero payload); neuron updates = one per neuron per
step; firing rate = spikes per neuron per step; activation sparsity = 1 -
nonzero activations / all activations.

Every simulator (SLAYER, the fixed-point evaluator, a recorded Lava run)
yields :class:`LayerBatch` objects; :func:`measure` feeds them to a list of
metrics. So the training report, the evaluator and the budget count the same
way, and a metric is written once. Arrays may be numpy arrays or torch
tensors (on any device): only per-neuron sums leave the device.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sca_lava.netx.record import predictions
from sca_lava.netx.spec import LayerSpec


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
    with torch.enable_grad():
        x = torch.zeros(1, *layer.in_shape, dtype=torch.float64, requires_grad=True)
        out = torch.nn.functional.conv2d(x, kernel, stride=layer.stride, padding=layer.padding,
                                         dilation=layer.dilation, groups=layer.groups)
        # d(sum of outputs)/d(input) = how many output neurons each input reaches
        (grad,) = torch.autograd.grad(out.sum(), x)
    return grad[0].round().numpy().astype(np.int64)


def per_neuron_counts(x) -> np.ndarray:
    """Nonzero events per neuron of a batch (N, *shape, T), summed over samples
    and steps, as float64 numpy (shape ``shape``)."""
    if hasattr(x, "detach"):  # a torch tensor: reduce on its device first
        import torch

        return (x != 0).sum(dim=(0, x.dim() - 1), dtype=torch.float64).cpu().numpy()
    x = np.asarray(x)
    return (x != 0).sum(axis=(0, x.ndim - 1), dtype=np.float64)


@dataclass
class LayerBatch:
    """One batch of a run: ``inputs[j]`` what neuron layer j received,
    ``outputs[j]`` its spikes (both (N, *shape, T)); ``labels`` (N,) or None.
    Layers a simulator did not record are None."""

    inputs: Sequence
    outputs: Sequence
    labels: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(next(o for o in self.outputs if o is not None).shape[0])


class Metric:
    """An accumulator: ``update`` with each batch, ``compute`` the result,
    ``reset`` for the next run."""

    name = "metric"

    def update(self, batch: LayerBatch) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError


class Accuracy(Metric):
    """Class = output neuron with the most spikes (ties: lowest index)."""

    name = "accuracy"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.samples = 0

    def update(self, batch: LayerBatch) -> None:
        if batch.labels is None:
            return
        out = batch.outputs[-1]
        pred = predictions(out)
        pred = pred.cpu().numpy() if hasattr(pred, "detach") else np.asarray(pred)
        self.correct += int((pred == np.asarray(batch.labels).ravel()).sum())
        self.samples += int(out.shape[0])

    def compute(self) -> float | None:
        return self.correct / self.samples if self.samples else None


class SynOps(Metric):
    """SynOps per sample, per layer (list) - over the layers given by their
    LayerSpec (None for a layer without synapses)."""

    name = "synops"

    def __init__(self, layers: Sequence[LayerSpec | None]):
        self.fanout = [None if ly is None else fanout_map(ly).astype(np.float64) for ly in layers]
        self.reset()

    def reset(self) -> None:
        self.total = np.zeros(len(self.fanout))
        self.samples = 0

    def update(self, batch: LayerBatch) -> None:
        for j, f in enumerate(self.fanout):
            if f is not None and batch.inputs[j] is not None:
                self.total[j] += float((per_neuron_counts(batch.inputs[j]).reshape(f.shape) * f).sum())
        self.samples += batch.size

    def compute(self) -> list[float]:
        return (self.total / max(self.samples, 1)).tolist()


class SpikeCount(Metric):
    """Output events per sample, per layer, with the neuron-step count needed
    for firing rates and activation sparsity."""

    name = "spikes"

    def __init__(self, num_layers: int):
        self.num_layers = num_layers
        self.reset()

    def reset(self) -> None:
        self.events = np.zeros(self.num_layers)
        self.nonzero = np.zeros(self.num_layers)
        self.neuron_steps = np.zeros(self.num_layers)
        self.samples = 0

    def update(self, batch: LayerBatch) -> None:
        for j, out in enumerate(batch.outputs):
            if out is None:
                continue
            self.events[j] += float(out.sum())
            self.nonzero[j] += float(per_neuron_counts(out).sum())
            self.neuron_steps[j] += float(np.prod(out.shape))
        self.samples += batch.size

    def compute(self) -> dict[str, list[float]]:
        steps = np.maximum(self.neuron_steps, 1)
        return {
            "spikes_per_sample": (self.events / max(self.samples, 1)).tolist(),
            "firing_rate": (self.events / steps).tolist(),
            "activation_sparsity": (1.0 - self.nonzero / steps).tolist(),
        }


def measure(batches: Iterable[LayerBatch], metrics: Sequence[Metric]) -> dict:
    """The one measurement loop: reset, feed every batch, compute."""
    for m in metrics:
        m.reset()
    for batch in batches:
        for m in metrics:
            m.update(batch)
    return {m.name: m.compute() for m in metrics}


def record_batches(input_spikes, layer_spikes: dict[int, np.ndarray], labels=None,
                   batch_size: int = 256) -> Iterable[LayerBatch]:
    """Batches of a finished run (a :class:`~sca_lava.netx.record.SpikeRecord`'s
    input and per-layer spikes), so a recorded Lava run feeds the same loop."""
    n_layers = max(layer_spikes) + 1 if layer_spikes else 0
    n = int(np.asarray(input_spikes).shape[0])
    for lo in range(0, n, batch_size):
        sl = slice(lo, lo + batch_size)
        outs = [layer_spikes[j][sl] if j in layer_spikes else None for j in range(n_layers)]
        ins = [input_spikes[sl] if j == 0 else outs[j - 1] for j in range(n_layers)]
        yield LayerBatch(ins, outs, None if labels is None else np.asarray(labels)[sl])


# Single-array helpers (the same definitions, for one recorded array).

def synops(layer: LayerSpec, input_spikes) -> float:
    """SynOps of one layer over a whole array (N, *in_shape, T), summed (divide by N per sample)."""
    return float((per_neuron_counts(input_spikes).reshape(layer.in_shape) * fanout_map(layer)).sum())


def firing_rate(spikes) -> float:
    """Mean spikes per neuron per time step."""
    spikes = np.asarray(spikes)
    return float(spikes.mean()) if spikes.size else 0.0


def activation_sparsity(spikes) -> float:
    """1 - nonzero activations / all activations."""
    return 1.0 - float((np.asarray(spikes) != 0).mean())
