"""The one measurement loop: every simulator's batches feed the same metric
accumulators, so a recorded run, the evaluator and SLAYER count alike, and
the result does not depend on how the samples were batched."""

from __future__ import annotations

import numpy as np
import pytest
from test_fixed_point import FLATTEN, conv, dense, spikes, write_net

from sca_lava.deploy.evaluate import evaluate_netx
from sca_lava.deploy.fixed_point import run_fixed_point
from sca_lava.metrics import (
    Accuracy,
    SpikeCount,
    SynOps,
    firing_rate,
    measure,
    record_batches,
    synops,
)
from sca_lava.netx.reader import read_netx


def _net(tmp_path, rng):
    layers = [conv(rng, 2, 3, (3, 3), stride=(2, 2), pad=(1, 1), vth=30),
              FLATTEN, dense(rng, 3 * 3 * 3, 4, vth=15)]
    return write_net(tmp_path / "m.net", (2, 6, 5), layers)


def test_recorded_run_and_evaluator_feed_the_same_metrics(tmp_path):
    rng = np.random.default_rng(3)
    path = _net(tmp_path, rng)
    x = spikes(rng, (2, 6, 5), 9, 8, p=0.5)
    y = rng.integers(0, 4, 9)
    spec = read_netx(path)
    report = evaluate_netx(path, x, y, batch_size=4, progress=False)
    rec = run_fixed_point(path, x, record_all=True, progress=False)
    for bs in (1, 2, 9):
        metrics = [Accuracy(), SynOps(spec.neuron_layers), SpikeCount(2)]
        res = measure(record_batches(rec.input, rec.layer_spikes, y, batch_size=bs), metrics)
        assert res["accuracy"] == report.accuracy
        assert res["synops"] == pytest.approx([ly["synops_per_sample"] for ly in report.layers], rel=1e-12)
        assert res["spikes"]["firing_rate"] == pytest.approx([ly["firing_rate"] for ly in report.layers])
    # and the single-array definitions agree with the accumulators
    assert res["synops"][0] == pytest.approx(synops(spec.neuron_layers[0], x) / 9)
    assert res["spikes"]["firing_rate"][1] == pytest.approx(firing_rate(rec.layer_spikes[1]))
    assert 0.0 <= min(res["spikes"]["activation_sparsity"]) <= 1.0


def test_reset_starts_a_new_run(tmp_path):
    rng = np.random.default_rng(4)
    path = _net(tmp_path, rng)
    x = spikes(rng, (2, 6, 5), 4, 6, p=0.6)
    rec = run_fixed_point(path, x, record_all=True, progress=False)
    counter = SpikeCount(2)
    once = measure(record_batches(rec.input, rec.layer_spikes), [counter])
    twice = measure(record_batches(rec.input, rec.layer_spikes), [counter])
    assert once == twice and counter.samples == 4
