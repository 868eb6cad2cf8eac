"""One geometry: the shapes computed from a layer list equal what SLAYER
builds and what the netx reader reads back from the export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import conv_output_hw, count_params, geometry, layer_shapes, netx_spec
from sca_lava.models import build_network
from sca_lava.models.config import NetworkConfig, small_config
from sca_lava.models.graph import as_graph
from sca_lava.netx.reader import read_netx


def odd_config() -> NetworkConfig:
    return NetworkConfig(input_shape=(2, 13, 11), layers=[
        {"type": "conv", "out": 5, "kernel": 3, "stride": 2, "padding": 1},
        {"type": "conv", "out": 6, "kernel": 5, "stride": 1, "padding": 0},
        {"type": "conv", "out": 4, "kernel": 2, "stride": 3, "padding": 2},
        {"type": "flatten"},
        {"type": "dense", "out": 7},
        {"type": "dense", "out": 3},
    ], num_steps=4)


@pytest.mark.parametrize("k,s,p,d", [(3, 2, 1, 1), (5, 1, 0, 1), (2, 3, 2, 1), (3, 1, 2, 2)])
def test_conv_output_hw_equals_torch(k, s, p, d):
    x = torch.zeros(1, 1, 13, 10)
    out = torch.nn.functional.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert conv_output_hw((13, 10), (k, k), (s, s), (p, p), (d, d)) == tuple(out.shape[2:])


def test_shapes_equal_slayer_and_the_netx_export(tmp_path):
    cfg = odd_config()
    model = build_network(cfg)
    x = torch.zeros(2, *cfg.input_shape, cfg.num_steps)
    outs = as_graph(model).outputs(x)
    shapes = layer_shapes(cfg.input_shape, cfg.layers)
    assert [tuple(o.shape[1:-1]) for o in outs][:3] == [g.out_shape for g in shapes][:3]
    assert tuple(outs[4].shape[1:-1]) == shapes[4].out_shape
    model.export_hdf5(tmp_path / "m.net")
    read = read_netx(tmp_path / "m.net")
    built = netx_spec(cfg)
    assert [(ly.kind, ly.in_shape, ly.out_shape) for ly in read.layers] == [
        (ly.kind, ly.in_shape, ly.out_shape) for ly in built.layers]
    # the weight shapes of the built spec are the real ones
    for a, b in zip(read.layers, built.layers):
        if a.is_synaptic:
            assert a.weight.shape == b.weight.shape


def test_flatten_columns_and_parameter_count():
    geo = geometry(small_config())  # conv 8 (14x14), conv 16 (7x7), dense 32, dense 10
    dense = geo[2]
    assert dense.in_from == 1 and dense.in_spatial == 49 and dense.in_channels == 16
    np.testing.assert_array_equal(dense.input_columns([0, 2]), np.r_[0:49, 98:147])
    assert geo[1].input_columns([3]).tolist() == [3]
    assert count_params(geo) == sum(int(np.prod(ly.weight.shape)) for ly in netx_spec(small_config()).layers
                                    if ly.is_synaptic)
    # a shrunk structure: the spec's weights match the parameter count
    active = [3, 5, 7, 10]
    spec = netx_spec(small_config(), active)
    assert count_params(geo, active) == sum(ly.weight.size for ly in spec.layers if ly.is_synaptic)
    assert [g.prunable for g in geo] == [True, True, True, False]


def test_impossible_layer_lists_are_one_line_errors():
    with pytest.raises(ScaLavaError, match="output is empty"):
        layer_shapes((1, 4, 4), [{"type": "conv", "out": 2, "kernel": 7}, {"type": "dense", "out": 2}])
    with pytest.raises(ScaLavaError, match="comes after flatten"):
        layer_shapes((1, 4, 4), [{"type": "flatten"}, {"type": "conv", "out": 2}])
    with pytest.raises(ScaLavaError, match="unknown type"):
        layer_shapes((1, 4, 4), [{"type": "avgpool"}])
    with pytest.raises(ScaLavaError, match="needs 'out'"):
        layer_shapes((1, 4, 4), [{"type": "dense"}])
