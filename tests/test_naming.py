"""One naming of layers everywhere (issue 32): the traced module, its export,
the pruning report, evaluate and budget all call a layer conv1, pool1,
dense2, ..., whether or not the file has an input layer."""

from __future__ import annotations

import h5py
import pytest

from sca_lava.models import NetworkConfig, build_network
from sca_lava.models.graph import trace
from sca_lava.netx.reader import read_netx


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    cfg = NetworkConfig(input_shape=(1, 12, 12), num_steps=4, layers=[
        {"type": "conv", "out": 4, "kernel": 3, "padding": 1}, {"type": "pool", "kernel": 2},
        {"type": "conv", "out": 6, "kernel": 3, "padding": 1}, {"type": "flatten"},
        {"type": "dense", "out": 8}, {"type": "dense", "out": 3}])
    net = build_network(cfg)
    path = tmp_path_factory.mktemp("names") / "n.net"
    net.export_hdf5(path)
    return net, path


def test_a_file_names_its_layers_as_the_module_does(pooled):
    net, path = pooled
    g = trace(net, (1, 12, 12))
    names = [g.label(i) for i in range(len(g.layers))]
    assert names == ["conv1", "pool1", "conv2", "flatten1", "dense1", "dense2"]
    spec = read_netx(path)
    assert [ly.name for ly in spec.layers] == ["input", *names]
    assert spec.layers[2].kind == "conv" and spec.layers[2].groups == 4  # the pool, deployed as a depthwise conv


def test_a_file_without_names_or_input_layer_is_named_by_kind_and_rank(pooled, tmp_path):
    _, path = pooled
    bare = tmp_path / "bare.net"
    bare.write_bytes(path.read_bytes())
    with h5py.File(bare, "a") as f:
        for key in list(f["layer"]):
            f["layer"][key].attrs.pop("sca_lava_name", None)
        del f["layer/0"]
        for i in range(1, len(f["layer"]) + 1):
            f["layer"].move(str(i), str(i - 1))
    spec = read_netx(bare, input_shape=(1, 12, 12))
    assert [ly.name for ly in spec.layers] == ["conv1", "conv2", "conv3", "flatten1", "dense1", "dense2"]


def test_budget_and_evaluate_print_the_names(pooled, tmp_path, capsys):
    from sca_lava.cli import main

    _, path = pooled
    assert main(["budget", str(path), "--profile", "loihi1", "--allocation-only", "--no-plots",
                 "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in ("conv1", "pool1", "conv2", "dense1", "dense2"))


def test_a_bad_stated_name_is_a_one_line_error(pooled, tmp_path):
    from sca_lava.errors import ScaLavaError

    _, path = pooled
    bad = tmp_path / "bad.net"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "a") as f:
        f["layer/1"].attrs["sca_lava_name"] = "conv 1; rm -rf"
    with pytest.raises(ScaLavaError, match="short alphanumeric layer name"):
        read_netx(bad)
