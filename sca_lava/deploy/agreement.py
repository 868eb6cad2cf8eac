"""Spike-for-spike comparison of a SLAYER model with its netx export running
in Lava: the check that the deployed network is the trained one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sca_lava.deploy.lava_runner import LavaResult, run_lava


@dataclass
class Agreement:
    samples: int
    matching_samples: int  # output spikes equal at every time step
    lava_accuracy: float | None
    slayer_accuracy: float | None
    lava_seconds: float
    first_mismatch: dict | None  # sample, layer, step of the first difference

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
def slayer_layer_spikes(model, spikes: np.ndarray, batch_size: int = 100) -> list[np.ndarray]:
    """Spikes of every neuron block (flatten blocks skipped), (N, ..., T)."""
    model.eval()
    chunks = []
    for start in range(0, len(spikes), batch_size):
        outs = model.forward_all(torch.from_numpy(spikes[start:start + batch_size]).float())
        chunks.append([o.numpy().astype(np.uint8) for o, b in zip(outs, model.blocks) if hasattr(b, "neuron")])
    return [np.concatenate(layer) for layer in zip(*chunks)]


def first_difference(reference: list[np.ndarray], other: dict[int, np.ndarray]) -> dict | None:
    """Earliest (sample, layer, step) where two per-layer spike sets differ."""
    best = None
    for j, ref in enumerate(reference):
        if j not in other:
            continue
        diff = (ref != other[j]).reshape(ref.shape[0], -1, ref.shape[-1]).any(1)
        for sample in np.flatnonzero(diff.any(1)):
            step = int(np.flatnonzero(diff[sample])[0])
            key = (int(sample), step, j)
            if best is None or key < best:
                best = key
    if best is None:
        return None
    return {"sample": best[0], "step": best[1], "layer": best[2]}


def compare_with_slayer(model, net_path: str, spikes: np.ndarray, labels: np.ndarray | None = None,
                        record_all: bool = False, progress: bool = True) -> tuple[Agreement, LavaResult]:
    """Run ``spikes`` through SLAYER and through the exported file in Lava."""
    reference = slayer_layer_spikes(model, spikes)
    lava = run_lava(net_path, spikes, record_all=record_all, progress=progress)
    out_ref, out_lava = reference[-1], lava.output
    same = (out_ref == out_lava).reshape(len(spikes), -1).all(1)
    lava_acc = slayer_acc = None
    if labels is not None:
        lava_acc = float((lava.predictions() == labels).mean())
        slayer_acc = float((out_ref.sum(-1).argmax(1) == labels).mean())
    mismatch = None if same.all() else first_difference(reference, lava.layer_spikes)
    return Agreement(len(spikes), int(same.sum()), lava_acc, slayer_acc, lava.seconds, mismatch), lava
