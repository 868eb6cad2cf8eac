"""Deployed (fixed-point) accuracy and activity of a netx file on a whole
data set: the evaluator's report, optionally cross-checked against the real
Lava runtime on the first samples."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from sca_lava.deploy.fixed_point import (
    FixedPointNet,
    _resolve_device,
    fixed_point_batches,
    run_fixed_point,
)
from sca_lava.deploy.lava_runner import cross_check
from sca_lava.deploy.modes import default_mode
from sca_lava.errors import ScaLavaError
from sca_lava.metrics import Accuracy, SpikeCount, SynOps, measure
from sca_lava.netx.record import make_drive, read_for
from sca_lava.netx.spec import NetxSpec


@dataclass
class EvaluationReport:
    """Deployed (fixed-point) accuracy and activity of a netx network. SynOps
    are the fan-out count of :mod:`sca_lava.metrics` (every synapse a spike
    reaches, zero weights included), per sample."""

    path: str
    num_samples: int
    num_steps: int
    accuracy: float | None
    correct: int | None
    layers: list[dict]
    synops_per_sample: float
    seconds: float
    samples_per_s: float
    device: str
    verify: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "path": self.path, "num_samples": self.num_samples, "num_steps": self.num_steps,
            "accuracy": self.accuracy, "correct": self.correct, "layers": self.layers,
            "synops_per_sample": self.synops_per_sample, "seconds": self.seconds,
            "samples_per_s": self.samples_per_s, "device": self.device, "verify": self.verify,
            **self.extra,
        }


def evaluate_netx(path, spikes=None, labels=None, batch_size: int = 128, device=None, verify: int = 0,
                  progress: bool = True, input_shape=None, *, spec: NetxSpec | None = None, bias=None,
                  steps: int | None = None, mode: str | None = None) -> EvaluationReport:
    """Deployed accuracy of the netx file at ``path`` on ``spikes`` (N, *input, T)
    (or an input-layer ``bias`` (N, *input) with ``steps``), with ``labels``
    (N,) when given, plus firing rates and SynOps per layer.

    ``verify = k > 0`` also runs the first ``k`` samples in the real Lava
    runtime and reports how many samples differ and where the first diverges.
    """
    from sca_lava.progress import progress_bar

    if batch_size < 1:
        raise ScaLavaError("batch size must be at least 1")
    if verify < 0:
        raise ScaLavaError("--verify must be 0 or a positive number of samples")
    if spec is None:
        spec = read_for(path, spikes, bias, input_shape)
    drive = make_drive(spec, spikes, bias, steps)
    n, t = drive.samples, drive.steps
    if labels is not None:
        labels = np.asarray(labels).ravel()
        if labels.shape[0] != n:
            raise ScaLavaError(f"{labels.shape[0]} labels for {n} samples")
        n_out = int(np.prod(spec.output_shape))
        if labels.size and (labels.min() < 0 or labels.max() >= n_out):
            raise ScaLavaError(f"labels must lie in 0..{n_out - 1}")
    mode = mode or default_mode(spec)
    dev = _resolve_device(device)
    net = FixedPointNet(spec, device=dev)
    nl = len(net.layers)
    metrics = [Accuracy(), SynOps([None if ly.spec.kind == "input" else ly.spec for ly in net.layers]),
               SpikeCount(nl)]
    start = time.perf_counter()
    with progress_bar(total=n, desc="evaluate", unit="sample", enabled=progress) as bar:
        res = measure(fixed_point_batches(net, drive, labels, batch_size, bar, mode), metrics)
    seconds = time.perf_counter() - start
    correct = metrics[0].correct
    synops = np.asarray(res["synops"])
    layers = []
    for j, ly in enumerate(net.layers):
        neurons = int(np.prod(ly.spec.out_shape))
        layers.append({
            "layer": j, "name": ly.spec.name, "file_index": ly.spec.index, "kind": ly.spec.kind, "neuron": ly.model,
            "shape": list(ly.spec.out_shape), "neurons": neurons,
            "firing_rate": res["spikes"]["firing_rate"][j],
            "spikes_per_sample": res["spikes"]["spikes_per_sample"][j],
            "synops_per_sample": float(synops[j]),
        })
    report = EvaluationReport(
        path=str(spec.path), num_samples=int(n), num_steps=int(t),
        accuracy=None if labels is None else correct / n, correct=None if labels is None else correct,
        layers=layers, synops_per_sample=float(synops.sum()), seconds=seconds,
        samples_per_s=n / seconds if seconds > 0 else float("inf"), device=dev,
    )
    report.extra["mode"] = mode
    if verify:
        k = min(int(verify), n)
        d = drive.batch(0, k)
        fixed = run_fixed_point(spec.path, d.spikes, record_all=True, batch_size=batch_size,
                                device=dev, progress=False, spec=spec, bias=d.bias, steps=t, mode=mode)
        report.verify = cross_check(fixed, d.spikes, d.bias, k, progress=progress)
    return report
