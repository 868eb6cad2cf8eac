"""End to end on real data: SLAYER-trained on MNIST-5k -> netx export ->
netx loads it -> real Lava runtime (Loihi2SimCfg fixed_pt) -> spikes equal
to SLAYER's for every sample, layer and time step."""

from __future__ import annotations

import multiprocessing

import h5py
import numpy as np
import pytest

from sca_lava.data import encode
from sca_lava.deploy.agreement import compare_with_slayer, slayer_layer_spikes
from sca_lava.deploy.lava_runner import run_lava
from sca_lava.errors import ScaLavaError

pytestmark = pytest.mark.lava


def test_lava_spikes_equal_slayer_every_layer_and_step(trained_small):
    model, path, data, _ = trained_small
    spikes = encode(data.test_x[:12], model.config.num_steps)
    agreement, lava = compare_with_slayer(model, path, spikes, data.test_y[:12], record_all=True, progress=False)
    reference = slayer_layer_spikes(model, spikes)
    assert len(lava.layer_spikes) == len(reference) == 4
    for j, ref in enumerate(reference):
        assert lava.layer_spikes[j].shape == ref.shape
        np.testing.assert_array_equal(lava.layer_spikes[j], ref, err_msg=f"layer {j}")
    assert agreement.spike_agreement == 1.0 and agreement.first_mismatch is None
    assert reference[-1].sum() > 0  # the comparison is not between two silent networks
    assert agreement.lava_accuracy == agreement.slayer_accuracy
    assert agreement.lava_accuracy > 0.5


def test_a_changed_weight_is_detected(trained_small, tmp_path):
    """The agreement check can fail: perturb the exported file and it must."""
    model, path, data, _ = trained_small
    broken = tmp_path / "broken.net"
    broken.write_bytes(open(path, "rb").read())
    with h5py.File(broken, "r+") as f:
        w = f["layer"]["5"]["weight"]  # the classifier (0 input, 1-2 conv, 3 flatten, 4-5 dense)
        w[...] = -w[()]
    spikes = encode(data.test_x[:4], model.config.num_steps)
    agreement, _ = compare_with_slayer(model, str(broken), spikes, record_all=True, progress=False)
    assert agreement.spike_agreement < 1.0
    assert agreement.first_mismatch["layer"] == 3


def _no_leaked_children():
    return [p for p in multiprocessing.active_children() if p.is_alive()]


def test_runner_bad_inputs_are_one_line_errors(trained_small, tmp_path):
    model, path, data, _ = trained_small
    spikes = encode(data.test_x[:2], model.config.num_steps)
    with pytest.raises(ScaLavaError, match="no such netx file"):
        run_lava(str(tmp_path / "missing.net"), spikes)
    corrupt = tmp_path / "corrupt.net"
    corrupt.write_bytes(b"\x89HDF\r\n garbage")
    with pytest.raises(ScaLavaError, match="not a readable HDF5"):
        run_lava(str(corrupt), spikes)
    pool = tmp_path / "pool.net"
    with h5py.File(pool, "w") as f:
        g = f.create_group("layer").create_group("0")
        g.create_dataset("type", (1,), "S10", [b"pool"])
    with pytest.raises(ScaLavaError, match="'pool' cannot run"):
        run_lava(str(pool), spikes)
    with pytest.raises(ScaLavaError, match="does not match the network input"):
        run_lava(path, np.zeros((2, 1, 32, 32, 8), dtype=np.uint8))
    with pytest.raises(ScaLavaError, match=r"\(N, C, H, W, T\)"):
        run_lava(path, np.zeros((28, 28), dtype=np.uint8))
    assert _no_leaked_children() == []


def test_runtime_is_stopped_after_a_run(trained_small):
    model, path, data, _ = trained_small
    run_lava(path, encode(data.test_x[:2], model.config.num_steps), progress=False)
    assert _no_leaked_children() == []

