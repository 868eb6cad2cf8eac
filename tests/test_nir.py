"""NIR in and out (issue 33): a network exported to NIR and imported back is
the same netx file byte for byte (the tiny demo net dense and pruned, and a
lava-dl tutorial net with pools, weight norm, an axonal delay and learned
decays); a graph written the way other frameworks write one (LIF, IF,
AvgPool2d, Affine, Scale, weights off Loihi's grid) becomes sca_lava's own
network in fixed point, with the conversion's error measured, and then
trains, prunes, exports and runs in the evaluator like any network; what a
Loihi chain cannot hold is a one-line error naming the node."""

from __future__ import annotations

import nir  # a dependency of sca_lava, never skipped
import numpy as np
import pytest
import torch

from sca_lava.cli import main
from sca_lava.errors import ScaLavaError


def cli(*argv) -> int:
    return main([str(a) for a in argv])


def round_trip(ckpt, tmp_path, name: str) -> tuple[bytes, bytes]:
    """(netx of the checkpoint, netx after export -> .nir -> import -> export)."""
    a, n, b, back = (tmp_path / f"{name}{s}" for s in (".net", ".nir", "_back.pt", "_back.net"))
    assert cli("export", ckpt, "--out", a) == 0
    assert cli("export", ckpt, "--out", n) == 0
    assert cli("import", n, "--out", b, "--samples", "4") == 0
    assert cli("export", b, "--out", back) == 0
    return a.read_bytes(), back.read_bytes()


@pytest.fixture(scope="module")
def pruned_small(trained_small, tmp_path_factory):
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig

    model, _, data, _ = trained_small
    out = tmp_path_factory.mktemp("pruned")
    small, _ = prune_and_shrink(model, data.subset(train=200, test=50), PruneConfig(budget="channels=0.5",
                                ramp_epochs=1), TrainConfig(epochs=1, batch_size=16, seed=0), out_dir=out, log=None)
    return small, out / "pruned.pt"


def test_dense_and_pruned_tiny_nets_come_back_as_the_same_netx_file(trained_small, pruned_small, tmp_path):
    _, _, _, trainer = trained_small
    dense = tmp_path / "dense.pt"
    trainer.save(dense)
    for name, ckpt in (("dense", dense), ("pruned", pruned_small[1])):
        original, back = round_trip(ckpt, tmp_path, name)
        assert original == back, name
    g = nir.read(str(tmp_path / "pruned.nir"))  # NIR's own reader loads what we write
    kinds = [type(g.nodes[a]).__name__ for a, _ in g.edges]
    assert kinds == ["Input", "Conv2d", "CubaLIF", "Conv2d", "CubaLIF", "Flatten", "Linear", "CubaLIF", "Linear",
                     "CubaLIF"]
    assert g.nodes["conv1"].weight.shape[0] == pruned_small[0].blocks[0].synapse.out_channels < 8
    assert g.metadata["sca_lava_latency_steps"] == 4


def test_the_exported_parameters_follow_the_documented_mapping(trained_small, tmp_path):
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import to_nir
    from sca_lava.models.surgery import quantized_weight

    model = trained_small[0]
    g = to_nir(trace(model, (1, 28, 28)), dt=1e-3)
    lif, block = g.nodes["dense1_lif"], model.blocks[3]
    p = block.neuron.device_params
    assert np.allclose(lif.tau_syn, 1e-3 * 4096 / p["iDecay"]) and np.allclose(lif.tau_mem, 1e-3 * 4096 / p["vDecay"])
    assert np.allclose(lif.w_in, lif.tau_syn / 1e-3) and np.allclose(lif.r, lif.tau_mem / 1e-3)
    assert np.all(lif.v_threshold == p["vThMant"] / 64) and np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)
    w = g.nodes["dense1"].weight
    assert np.array_equal(w, quantized_weight(block).double().numpy().reshape(w.shape))
    assert np.all(w * 64 == np.round(w * 64)) and w.min() >= -4 and w.max() <= 254 / 64


def test_a_tutorial_net_with_pools_delays_and_weight_norm_round_trips(tmp_path):
    from test_own_network import tutorial_net

    from sca_lava.models.export import export_netx
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import export_nir, import_nir

    torch.manual_seed(0)
    net = tutorial_net()
    g = trace(net, (1, 28, 28))
    with torch.no_grad():
        net.blocks[5].delay.delay.copy_(torch.arange(24, dtype=torch.float32) % 5 + 0.3)
        net.blocks[2].neuron.current_decay.fill_(414.51)
    export_netx(g, tmp_path / "a.net")
    graph = export_nir(g, tmp_path / "a.nir")
    assert type(graph.nodes["pool1"]).__name__ == "SumPool2d" and type(graph.nodes["dense1_delay"]).__name__ == "Delay"
    assert np.allclose(graph.nodes["pool1_lif"].w_in, graph.nodes["pool1_lif"].tau_syn / 1e-4 * 35 / 32)
    imported = import_nir(tmp_path / "a.nir", samples=4, steps=12)
    assert all(c["scale"] == 1.0 for c in imported.conversion)
    export_netx(trace(imported.module, (1, 28, 28)), tmp_path / "b.net")
    assert (tmp_path / "a.net").read_bytes() == (tmp_path / "b.net").read_bytes()


def foreign_graph(seed: int = 0):
    """A graph as another framework writes it: float weights off Loihi's grid,
    LIF, IF and CubaLIF neurons, an average pool, an Affine with zero bias and
    a Scale, time constants for dt = 1 ms."""
    rng = np.random.default_rng(seed)
    dt = 1e-3
    nodes = {
        "input": nir.Input(input_type={"input": np.array([1, 28, 28])}),
        "conv": nir.Conv2d(input_shape=(28, 28), weight=rng.normal(0, 0.6, (6, 1, 3, 3)), stride=2, padding=1,
                           dilation=1, groups=1, bias=np.zeros(6)),
        "lif": nir.LIF(tau=np.full((6, 14, 14), 5 * dt), r=np.full((6, 14, 14), 5.0), v_leak=np.zeros((6, 14, 14)),
                       v_threshold=np.full((6, 14, 14), 0.8)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "cuba": nir.CubaLIF(tau_syn=np.full((6, 7, 7), 2 * dt), tau_mem=np.full((6, 7, 7), 10 * dt),
                            r=np.full((6, 7, 7), 10.0), v_leak=np.zeros((6, 7, 7)),
                            v_threshold=np.full((6, 7, 7), 0.3), w_in=np.full((6, 7, 7), 2.0)),
        "flat": nir.Flatten(input_type={"input": np.array([6, 7, 7])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0, 0.4, (10, 294)), bias=np.zeros(10)),
        "gain": nir.Scale(scale=np.linspace(0.5, 1.5, 10)),
        "if": nir.IF(r=np.full(10, 1 / dt), v_threshold=np.full(10, 6.0)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])), metadata={}), dt


def test_a_foreign_graph_becomes_a_fixed_point_network_that_trains_prunes_and_deploys(mnist5k, tmp_path):
    from sca_lava.data import encode
    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import import_nir
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig
    from sca_lava.training.checkpoint import load_trained, save_checkpoint

    graph, dt = foreign_graph()
    nir.write(str(tmp_path / "f.nir"), graph)
    imported = import_nir(tmp_path / "f.nir", dt=dt, samples=16, steps=16)
    by = {c["layer"]: c for c in imported.conversion}
    assert by["conv"]["iDecay"] == 4096 and by["conv"]["vDecay"] == round(4096 / 5)  # LIF: no current decay
    assert by["fc"]["iDecay"] == 4096 and by["fc"]["vDecay"] == 0  # IF: no leak at all
    assert by["pool"]["kind"] == "pool" and all(c["scale"] != 1.0 for c in imported.conversion)
    assert max(c["weight_error"] for c in imported.conversion) < 0.01
    assert imported.agreement["spike_agreement"] > 0.9  # measured, not assumed; the float run is NIR's semantics
    save_checkpoint(tmp_path / "f.pt", imported.checkpoint)
    module, state = load_trained(tmp_path / "f.pt")  # no --model: sca_lava's own class, per-layer neurons
    x = torch.from_numpy(encode(mnist5k.test_x[:6], 16)).float()
    imported.module.eval()
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(x), imported.module(x))
    assert [ly["neuron"]["threshold"] for ly in state["config"]["layers"] if "neuron" in ly][0] != 1.25
    data = mnist5k.subset(train=160, test=40)
    small, rep = prune_and_shrink(module, data, PruneConfig(budget="channels=0.5", ramp_epochs=1),
                                  TrainConfig(epochs=2, batch_size=16, seed=0, num_steps=16), out_dir=tmp_path,
                                  log=None)
    assert rep["surgery_exact"] and type(small) is type(module)
    for b in (0, 1, 3):  # per-layer neurons survive pruning
        assert small.blocks[b].neuron.threshold == module.blocks[b].neuron.threshold
    g = trace(small, (1, 28, 28))
    with torch.no_grad():
        ref = small(x).numpy()
    rec = run_fixed_point(str(tmp_path / "pruned.net"), x.numpy(), progress=False)
    assert np.array_equal(rec.output.reshape(ref.shape), ref)  # the deployed file is the module, spike for spike
    assert sum(ly.out for ly in g.prunable) <= 0.5 * 6 + 1e-9


@pytest.mark.parametrize("change, message", [
    (lambda n, e: n.update(lif=nir.LI(tau=np.ones((6, 14, 14)), r=np.ones((6, 14, 14)),
                                      v_leak=np.zeros((6, 14, 14)))), "'lif' is LI"),
    (lambda n, e: e.append(("conv", "output")), "feeds both"),
    (lambda n, e: n.update(fc=nir.Affine(weight=np.ones((10, 294)), bias=np.ones(10))), "nonzero bias"),
    (lambda n, e: setattr(n["cuba"], "v_leak", np.full((6, 7, 7), 0.1)), "v_leak"),
    (lambda n, e: n["if"].v_threshold.__setitem__(3, 2.0), "v_threshold varies"),
    (lambda n, e: setattr(n["cuba"], "tau_syn", np.full((6, 7, 7), 1e-5)), "not a time constant of at least"),
    (lambda n, e: n.update(flat=nir.Flatten(input_type={"input": np.array([6, 7, 7])}, start_dim=1)), "start_dim 0"),
])
def test_what_a_loihi_chain_cannot_hold_is_a_one_line_error_naming_it(change, message):
    from sca_lava.models.nir import import_nir

    graph, dt = foreign_graph()
    change(graph.nodes, graph.edges)
    with pytest.raises(ScaLavaError) as err:
        import_nir(graph, dt=dt, samples=2, steps=4)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_your_own_module_exports_to_nir_from_the_command_line(tmp_path):
    """``export --model FILE.py:CLASS --weights W.pt --out X.nir``: the same path as netx."""
    from test_cli_own_network import NET_PY

    (tmp_path / "net.py").write_text(NET_PY)
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_net", tmp_path / "net.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from sca_lava.models.graph import trace

    net = mod.Network()
    trace(net, (1, 28, 28))
    torch.save(net.state_dict(), tmp_path / "w.pt")
    out = tmp_path / "own.nir"
    assert cli("export", "--model", f"{tmp_path / 'net.py'}:Network", "--weights", tmp_path / "w.pt",
               "--input-shape", "1,28,28", "--out", out) == 0
    g = nir.read(str(out))
    assert g.nodes["input"].input_type["input"].tolist() == [1, 28, 28] and "dense1_lif" in g.nodes


@pytest.mark.lava
def test_an_imported_foreign_graph_runs_in_lava_like_slayer_and_budgets(mnist5k, tmp_path):
    from sca_lava.data import encode
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.measure import measure
    from sca_lava.hardware.budget import budget_netx
    from sca_lava.models.export import export_netx
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import import_nir

    graph, dt = foreign_graph(seed=1)
    imported = import_nir(graph, dt=dt, samples=4, steps=12)
    path = str(tmp_path / "foreign.net")
    export_netx(trace(imported.module, (1, 28, 28)), path)
    x = encode(mnist5k.test_x[:2], 12)
    agreement, lava = compare_with_slayer(imported.module, path, x, mnist5k.test_y[:2], record_all=True,
                                          progress=False)
    assert agreement.spike_agreement == 1.0, agreement.first_mismatch
    b = budget_netx(path, "loihi2", record=measure(path, encode(mnist5k.test_x[:4], 12)))
    assert b["cores"] >= 1 and b["dynamic_energy_uj"] > 0
