"""Optional: the SANA-FE cross-check harness (benchmarks/crosscheck_sanafe.py)
builds the same network as ours, so both simulators see the same spikes and
our SANA-FE-calibrated Loihi 1 profile prices them like SANA-FE does.
Skipped when ``sanafe`` is not installed (``make sanafe``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sanafe")


def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "crosscheck_sanafe.py"
    spec = importlib.util.spec_from_file_location("crosscheck_sanafe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_sanafe_sees_our_spikes_and_prices_them_like_loihi1_sanafe(tmp_path):
    import torch

    from sca_lava._lava_dl import slayer
    from sca_lava.models.export import export_blocks_hdf5

    sl = slayer()
    torch.manual_seed(0)
    neuron = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.03}
    blocks = [sl.block.cuba.Conv(neuron, 1, 4, 3, stride=2, padding=1, weight_scale=4),
              sl.block.cuba.Flatten(),
              sl.block.cuba.Dense(neuron, 4 * 14 * 14, 10, weight_scale=4)]
    with torch.no_grad():  # a forward pass gives the blocks their shapes
        h = torch.zeros(1, 1, 28, 28, 4)
        for b in blocks:
            h = b(h)
    path = str(tmp_path / "tiny.net")
    export_blocks_hdf5(path, [1, 28, 28], blocks)
    r = _bench().crosscheck(path, samples=1)
    assert r["sanafe"]["spikes"] > 50  # the layers really fire
    assert r["spike_ratio"] == pytest.approx(1.0, abs=0.05)  # same network, same input, same spikes
    assert r["energy_ratio"] == pytest.approx(1.0, abs=0.25)  # the calibration target
