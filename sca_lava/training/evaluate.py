"""Evaluating a SLAYER network on data: its batches for the one measurement
loop (:func:`sca_lava.metrics.measure`), accuracy and firing rates, and the
same split over data-parallel processes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from sca_lava.data import encode
from sca_lava.errors import ScaLavaError
from sca_lava.metrics import Accuracy, LayerBatch, SpikeCount, measure
from sca_lava.training.distributed import DistContext


def spikes_of(x: np.ndarray, steps: int, encoding: str, events: bool, seed: int = 0, indices=None) -> torch.Tensor:
    """Spikes of samples ``x`` at positions ``indices`` of their split (the
    rate-poisson noise is keyed by (seed, index), see ``encode``)."""
    arr = x if events else encode(x, steps, encoding, seed=seed, indices=indices)
    return torch.from_numpy(np.ascontiguousarray(arr)).float()


def is_labels(y) -> bool:
    """Targets are class labels (N,) integers, not spike trains or values."""
    y = np.asarray(y)
    return y.ndim == 1 and y.dtype.kind in "iu"


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def slayer_batches(graph, x: np.ndarray, y: np.ndarray | None, num_steps: int,
                   encoding: str = "rate-regular", batch_size: int = 200, events: bool = False,
                   seed: int = 0, index: np.ndarray | None = None) -> Iterator[LayerBatch]:
    """SLAYER's batches of a traced network for the one measurement loop: per
    block (flatten included), what it received and what it emitted; run on
    the model's device, handed over on the CPU. ``index``: the samples'
    indices in their split (keys rate-poisson noise; default 0..N-1)."""
    model = graph.module
    model.eval()
    dev = model_device(model)
    labels = y if y is not None and is_labels(y) else None
    for start in range(0, len(x), batch_size):
        rows = np.arange(start, min(start + batch_size, len(x)))
        xb = spikes_of(x[start:start + batch_size], num_steps, encoding, events, seed,
                       rows if index is None else np.asarray(index)[rows])
        with torch.no_grad():
            outs = graph.outputs(xb.to(dev))
        if dev.type != "cpu":
            outs = [o.cpu() for o in outs]
        yield LayerBatch([xb, *outs[:-1]], outs, None if labels is None else labels[start:start + batch_size])


def evaluate_model(graph, x: np.ndarray, y: np.ndarray, num_steps: int,
                   encoding: str = "rate-regular", batch_size: int = 200, events: bool = False,
                   seed: int = 0, index: np.ndarray | None = None) -> dict:
    """Accuracy (most output spikes; ties to the lowest class; None when the
    targets are not class labels) and mean firing rate per block on a data
    set (``index``: see :func:`slayer_batches`). ``graph``: a traced network
    (or a module that states its input shape)."""
    from sca_lava.models.graph import as_graph

    if len(x) == 0:
        raise ScaLavaError("no samples to evaluate")
    graph = as_graph(graph)
    res = measure(slayer_batches(graph, x, y, num_steps, encoding, batch_size, events, seed, index),
                  [Accuracy(), SpikeCount(len(graph.blocks))])
    return {"accuracy": res["accuracy"], "firing_rates": res["spikes"]["firing_rate"]}


@torch.no_grad()
def evaluate_sharded(graph, x: np.ndarray, y: np.ndarray, num_steps: int, encoding: str, batch_size: int,
                     events: bool, ctx: DistContext, seed: int = 0) -> dict:
    """:func:`evaluate_model` with the samples split over the processes;
    counts and rate sums are all-reduced."""
    if len(x) == 0:
        raise ScaLavaError("no samples to evaluate")
    if not ctx.enabled:
        return evaluate_model(graph, x, y, num_steps, encoding, batch_size, events, seed)
    idx = np.arange(ctx.rank, len(x), ctx.world_size)
    blocks = len(graph.blocks)
    local = torch.zeros(2 + blocks, dtype=torch.float64)
    if len(idx):
        ev = evaluate_model(graph, x[idx], y[idx], num_steps, encoding, batch_size, events, seed, index=idx)
        local[0] = round((ev["accuracy"] or 0.0) * len(idx))
        local[1] = len(idx)
        local[2:] = torch.tensor(ev["firing_rates"], dtype=torch.float64) * len(idx)
    ctx.all_reduce_(local)
    n = float(local[1])
    return {"accuracy": float(local[0]) / n if is_labels(y) else None, "firing_rates": (local[2:] / n).tolist()}
