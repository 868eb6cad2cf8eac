"""Network construction from configs and the netx HDF5 export."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.models import NetworkConfig, build_network, default_config
from sca_lava.models.config import ARCHS, mnist_small_dense_config, named_config, small_config
from sca_lava.models.graph import as_graph
from sca_lava.netx import read_netx


def test_default_network_shapes():
    net = build_network(default_config())
    x = torch.zeros(2, 1, 28, 28, 16)
    outs = as_graph(net).outputs(x)
    assert [tuple(o.shape[1:-1]) for o in outs] == [
        (16, 14, 14), (32, 7, 7), (32, 7, 7), (64, 4, 4), (64, 4, 4), (1024,), (10,)]
    small = as_graph(build_network(mnist_small_dense_config())).outputs(x)
    assert [tuple(o.shape[1:-1]) for o in small] == [(16, 14, 14), (32, 7, 7), (64, 4, 4), (1024,), (128,), (10,)]


def test_default_network_is_conv_dominated():
    """Issue 9: at least 80 % of the default net's synaptic weights in conv
    layers (the kept mnist_small_dense net has 84 % in one dense layer)."""
    from sca_lava.workflow import conv_synapse_fraction

    assert conv_synapse_fraction(build_network(default_config())) >= 0.8
    assert conv_synapse_fraction(build_network(mnist_small_dense_config())) < 0.2


def test_named_configs_are_fresh_copies_and_unknown_names_fail():
    for name in ARCHS:
        a = named_config(name)
        a.layers[0]["out"] = 999
        assert named_config(name).layers[0]["out"] != 999
    with pytest.raises(ScaLavaError, match="unknown network 'vgg99'"):
        named_config("vgg99")


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = (build_network(small_config(), seed=s) for s in (0, 0, 1))
    wa, wb, wc = (n.blocks[0].synapse.weight for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


@pytest.mark.parametrize("layers, message", [
    ([{"type": "conv", "out": 4}], "last layer must be a dense"),
    ([{"type": "avgpool"}, {"type": "dense", "out": 2}], "'avgpool' is not one of"),
    ([{"type": "pool"}, {"type": "dense", "out": 2}], "'kernel' is a required property"),
    ([{"type": "conv", "out": 4}, {"type": "dense", "out": 2}], "flatten"),
    ([{"type": "flatten"}, {"type": "conv", "out": 4}, {"type": "dense", "out": 2}], "after flatten"),
    ([{"type": "flatten"}, {"type": "dense", "out": 0}], "out: 0 is less than the minimum of 1"),
])
def test_config_validation(layers, message):
    with pytest.raises(ScaLavaError, match=message):
        NetworkConfig.from_dict({"input_shape": [1, 8, 8], "layers": layers})


def test_config_roundtrip_and_unknown_key():
    cfg = default_config()
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ScaLavaError, match="'pooling' was unexpected"):
        NetworkConfig.from_dict({**cfg.to_dict(), "pooling": True})


def test_wrong_input_shape_is_a_clear_error():
    net = build_network(small_config())
    with pytest.raises(ScaLavaError, match=r"input must be \(N, 1, 28, 28, T\)"):
        net(torch.zeros(1, 1, 32, 32, 4))


def test_hdf5_content(tmp_path):
    cfg = mnist_small_dense_config()
    net = build_network(cfg, seed=3)
    path = tmp_path / "net.net"
    net.export_hdf5(path)
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        types = [layers[str(i)]["type"][0].decode() for i in range(len(layers))]
        assert types == ["input", "conv", "conv", "conv", "flatten", "dense", "dense"]
        assert layers["0"]["shape"][()].tolist() == [1, 28, 28]
        assert layers["1"]["weight"].shape == (16, 1, 3, 3)
        assert layers["3"]["shape"][()].tolist() == [64, 4, 4]
        assert layers["5"]["weight"].shape == (128, 1024)
        for i in (1, 2, 3, 5, 6):
            w = layers[str(i)]["weight"][()]
            # SLAYER's 8-bit quantisation: even integers in [-256, 254]
            assert np.array_equal(w, np.round(w)) and w.min() >= -256 and w.max() <= 254
            assert np.all(w.astype(int) % 2 == 0)
            assert np.abs(w).max() > 0
            neuron = layers[str(i)]["neuron"]
            assert neuron["type"][()] in (b"CUBA", "CUBA")
            assert int(neuron["vThMant"][()]) == round(cfg.neuron["threshold"] * 64)
            assert int(neuron["iDecay"][()]) == round(cfg.neuron["current_decay"] * 4096)
            assert int(neuron["vDecay"][()]) == round(cfg.neuron["voltage_decay"] * 4096)
    # the exported weights are the ones SLAYER computes with
    q = net.blocks[0].synapse.pre_hook_fx(net.blocks[0].synapse.weight, descale=True)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["layer"]["1"]["weight"][()], q.detach().numpy()[..., 0])
    spec = read_netx(path)
    assert spec.input_shape == (1, 28, 28) and spec.output_shape == (10,)
    assert [ly.kind for ly in spec.neuron_layers] == ["conv", "conv", "conv", "dense", "dense"]


def test_netx_loads_the_export(tmp_path):
    from sca_lava.deploy.lava_runner import import_lava

    netx = import_lava()[0]  # never a bare import: Lava sets the start method then (see import_lava)

    path = tmp_path / "small.net"
    build_network(small_config()).export_hdf5(path)
    net = netx.hdf5.Network(net_config=str(path))
    assert len(net.layers) == 4
    assert net.inp.shape == (28, 28, 1) and net.out.shape == (10,)


def test_export_is_atomic(tmp_path, monkeypatch):
    net = build_network(small_config())
    path = tmp_path / "model.net"
    net.export_hdf5(path)
    before = path.read_bytes()

    def boom(self, handle):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(net.blocks[-1]), "export_hdf5", boom)
    with pytest.raises(RuntimeError):
        net.export_hdf5(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.net"]
