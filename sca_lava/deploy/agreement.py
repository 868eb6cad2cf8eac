"""Spike-for-spike comparison of a SLAYER model with its netx export running
in Lava: the check that the deployed network is the trained one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sca_lava.deploy.lava_runner import run_lava
from sca_lava.netx.record import SpikeRecord, first_divergence, predictions


@dataclass
class Agreement:
    samples: int
    matching_samples: int  # output spikes equal at every time step
    lava_accuracy: float | None
    slayer_accuracy: float | None
    lava_seconds: float
    first_mismatch: dict | None  # first differing sample: its lowest differing layer and first step

    @property
    def spike_agreement(self) -> float:
        return self.matching_samples / self.samples

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "matching_samples": self.matching_samples,
            "spike_agreement": self.spike_agreement,
            "accuracy": self.lava_accuracy,
            "slayer_accuracy": self.slayer_accuracy,
            "seconds": self.lava_seconds,
            "first_mismatch": self.first_mismatch,
        }


@torch.no_grad()
def slayer_layer_spikes(graph, spikes: np.ndarray, batch_size: int = 100) -> list[np.ndarray]:
    """Spikes of every neuron block of a traced network (or a lava-dl module;
    flatten blocks skipped), (N, ..., T)."""
    from sca_lava.models.graph import as_graph

    graph = as_graph(graph, spikes.shape[1:-1])
    graph.module.eval()
    chunks = []
    for start in range(0, len(spikes), batch_size):
        outs = graph.outputs(torch.from_numpy(spikes[start:start + batch_size]).float())
        chunks.append([o.numpy().astype(np.uint8) for o, g in zip(outs, graph.layers) if g.kind != "flatten"])
    return [np.concatenate(layer) for layer in zip(*chunks)]


def compare_with_slayer(model, net_path: str, spikes: np.ndarray, labels: np.ndarray | None = None,
                        record_all: bool = False, progress: bool = True, spec=None) -> tuple[Agreement, SpikeRecord]:
    """Run ``spikes`` through SLAYER (``model``: a lava-dl module or its
    traced graph) and through the exported file in Lava (``spec``: the file
    already read, so it is read once)."""
    reference = slayer_layer_spikes(model, spikes)
    lava = run_lava(net_path, spikes, record_all=record_all, progress=progress, spec=spec)
    out_ref, out_lava = reference[-1], lava.output
    same = (out_ref == out_lava).reshape(len(spikes), -1).all(1)
    lava_acc = slayer_acc = None
    if labels is not None:
        lava_acc = float((lava.predictions() == labels).mean())
        slayer_acc = float((predictions(out_ref) == labels).mean())
    mismatch = None
    if not same.all():
        mismatch = first_divergence(dict(enumerate(reference)), lava.layer_spikes)["first_mismatch"]
    return Agreement(len(spikes), int(same.sum()), lava_acc, slayer_acc, lava.seconds, mismatch), lava
