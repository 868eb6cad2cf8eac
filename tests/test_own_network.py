"""Bring your own lava-dl network: a module written the way lava-dl's tutorials
write one (a ModuleList of slayer.block.cuba blocks with pooling, weight
normalisation, a trained axonal delay and learned decays, forward looping over
the blocks), trained on arrays of the user's own, goes through the same path
as sca_lava's nets: trace, prune with every criterion and budget kind, surgery
on the user's own class, netx export (pools as depthwise convs), Lava, the
evaluator and the budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sca_lava.data import DataSplit, encode
from sca_lava.errors import ScaLavaError
from sca_lava.models.graph import trace
from sca_lava.pruning import PruneConfig, prune_and_shrink
from sca_lava.pruning.cost import BUDGET_KINDS, NEEDS_PROFILE
from sca_lava.pruning.importance import CRITERIA
from sca_lava.training import TrainConfig, Trainer

T = 8


def tutorial_net(requires_grad=True, decays=(0.25, 0.03)):
    from lava.lib.dl import slayer

    class Network(torch.nn.Module):
        """As lava-dl's NMNIST tutorial writes it (smaller)."""

        def __init__(self):
            super().__init__()
            neuron = {"threshold": 1.25, "current_decay": decays[0], "voltage_decay": decays[1],
                      "tau_grad": 0.03, "scale_grad": 3, "requires_grad": requires_grad}
            self.blocks = torch.nn.ModuleList([
                slayer.block.cuba.Conv(neuron, 1, 8, 3, padding=1, weight_scale=2, weight_norm=True),
                slayer.block.cuba.Pool(neuron, 2, weight_scale=1.1),
                slayer.block.cuba.Conv(neuron, 8, 12, 3, padding=1, weight_scale=2, weight_norm=True),
                slayer.block.cuba.Pool(neuron, 2, weight_scale=1.1),
                slayer.block.cuba.Flatten(),
                slayer.block.cuba.Dense(neuron, 7 * 7 * 12, 24, weight_scale=2, weight_norm=True, delay=True),
                slayer.block.cuba.Dense(neuron, 24, 10, weight_scale=2, weight_norm=True),
            ])

        def forward(self, spike):
            for block in self.blocks:
                spike = block(spike)
            return spike

    return Network()


@pytest.fixture(scope="module")
def own_data(mnist5k):
    """The user's own arrays (made here from the shipped digits)."""
    d = mnist5k.subset(train=96, test=32)
    return DataSplit.from_arrays(d.train_x, d.train_y, d.test_x, d.test_y, name="my-digits")


@pytest.fixture(scope="module")
def trained(own_data):
    torch.manual_seed(0)
    net = tutorial_net()
    graph = trace(net, own_data.input_shape)
    with torch.no_grad():  # a trained delay, learned decays unlike any default
        net.blocks[5].delay.delay.copy_(torch.arange(24, dtype=torch.float32) % 5 + 0.3)
        net.blocks[2].neuron.current_decay.fill_(414.51)
        net.blocks[2].neuron.voltage_decay.fill_(408.81)
    Trainer(net, TrainConfig(epochs=1, batch_size=32, num_steps=T, lr=3e-3), graph=graph).fit(
        own_data, progress=False, log=None)
    return net


def spikes(data, n=16):
    return torch.from_numpy(encode(data.test_x[:n], T)).float()


def test_trace_describes_the_tutorial_net(trained, own_data):
    g = trace(trained, own_data.input_shape)
    assert [x.kind for x in g.layers] == ["conv", "pool", "conv", "pool", "flatten", "dense", "dense"]
    assert [g.label(i) for i in range(7)] == ["conv1", "pool1", "conv2", "pool2", "flatten1", "dense1", "dense2"]
    assert [x.prunable for x in g.synaptic] == [True, False, True, False, True, False]
    assert [x.tied for x in g.synaptic] == [None, 0, None, 2, None, None]
    assert g.synaptic[4].in_from == 3 and g.synaptic[4].in_spatial == 49


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
def test_every_criterion_prunes_the_users_module_in_place(trained, own_data, criterion):
    small, rep = prune_and_shrink(trained, own_data, PruneConfig(criterion=criterion, budget="channels=0.5",
                                                                 ramp_epochs=1),
                                  TrainConfig(epochs=1, batch_size=32, num_steps=T), log=None)
    assert type(small) is type(trained) and type(small).forward is type(trained).forward
    assert rep["surgery_exact"]
    g = trace(small, own_data.input_shape)
    assert sum(x.out for x in g.prunable) <= 0.5 * (8 + 12 + 24)


@pytest.mark.parametrize("kind", sorted(BUDGET_KINDS))
def test_every_budget_kind_holds_on_the_users_module(trained, own_data, kind):
    value = {"cores": "9"}.get(kind, "0.5")
    pcfg = PruneConfig(criterion="sca-drive", budget=f"{kind}={value}", ramp_epochs=1,
                       profile="loihi1" if kind in NEEDS_PROFILE else None)
    small, rep = prune_and_shrink(trained, own_data, pcfg, TrainConfig(epochs=2, batch_size=32, num_steps=T),
                                  log=None)
    assert rep["surgery_exact"] and type(small) is type(trained)
    assert rep["budget"]["cost_fraction"] <= rep["budget"]["value"] / (
        rep["budget"]["dense_cost"] if kind == "cores" else 1) + 1e-9


def test_delays_weight_norm_and_learned_decays_survive_surgery_bit_for_bit(trained, own_data):
    import copy

    from sca_lava.pruning.masks import MASK
    from sca_lava.pruning.sca import SCAPruner
    from sca_lava.pruning.surgery import shrink

    net = copy.deepcopy(trained)
    graph = trace(net, own_data.input_shape)
    SCAPruner(PruneConfig(budget="channels=0.5")).attach(graph, 2)
    keep = {0: np.array([0, 2, 3, 5, 7]), 2: np.array([1, 4, 5, 6, 8, 9, 11]), 5: np.arange(0, 24, 2)}
    with torch.no_grad():
        for b, k in keep.items():
            m = torch.zeros_like(getattr(net.blocks[b], MASK))
            m[torch.from_numpy(k)] = 1
            getattr(net.blocks[b], MASK).copy_(m)
    small = shrink(graph)
    x = spikes(own_data)
    net.eval()
    small.eval()
    with torch.no_grad():
        assert torch.equal(graph.spikes(x), small(x))  # masked == shrunk, spike for spike
    d_old, d_new = trained.blocks[5].delay.delay, small.blocks[5].delay.delay
    assert torch.equal(d_new, d_old[torch.from_numpy(keep[5])])  # trained delays, kept rows, bit for bit
    for b in (0, 2, 5, 6):
        assert hasattr(small.blocks[b].synapse, "weight_g") and hasattr(small.blocks[b].synapse, "weight_v")
    for b, blk in enumerate(small.blocks):
        if hasattr(blk, "neuron"):  # learned decays, thresholds: untouched
            assert torch.equal(blk.neuron.current_decay, trained.blocks[b].neuron.current_decay)
            assert torch.equal(blk.neuron.voltage_decay, trained.blocks[b].neuron.voltage_decay)
            assert blk.neuron.threshold == trained.blocks[b].neuron.threshold
    assert float(small.blocks[2].neuron.current_decay) == pytest.approx(414.51, abs=1e-3)
    assert not any("sca_" in k for k in small.state_dict())


def test_export_loads_in_netx_and_the_evaluator_equals_slayer(trained, own_data, tmp_path):
    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.deploy.lava_runner import import_lava
    from sca_lava.models.export import export_netx
    from sca_lava.netx.reader import read_netx

    g = trace(trained, own_data.input_shape)
    path = tmp_path / "own.net"
    export_netx(g, path)
    spec = read_netx(path)
    assert [ly.kind for ly in spec.layers] == ["input", "conv", "conv", "conv", "conv", "flatten", "dense", "dense"]
    assert spec.layers[2].groups == 8 and spec.layers[4].groups == 12  # the pools, as depthwise convs
    netx = import_lava()[0]
    netx.hdf5.Network(net_config=str(path))  # lava-dl's own reader builds it
    x = spikes(own_data, 8)
    trained.eval()
    with torch.no_grad():
        ref = [o.numpy() for o, ly in zip(g.outputs(x), g.layers) if ly.kind != "flatten"]
    rec = run_fixed_point(str(path), x.numpy(), record_all=True, progress=False)
    for j, r in enumerate(ref):
        assert np.array_equal(rec.layer_spikes[j].reshape(r.shape), r), j


@pytest.mark.lava
def test_pruned_users_module_runs_in_lava_like_slayer_and_budgets(trained, own_data, tmp_path):
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.measure import measure
    from sca_lava.hardware.budget import budget_netx

    small, rep = prune_and_shrink(trained, own_data, PruneConfig(criterion="sca-drive", budget="energy=0.5",
                                                                 profile="loihi2", ramp_epochs=1),
                                  TrainConfig(epochs=2, batch_size=32, num_steps=T), out_dir=tmp_path, log=None)
    path = str(tmp_path / "pruned.net")
    x = encode(own_data.test_x[:2], T)
    agreement, lava = compare_with_slayer(small, path, x, own_data.test_y[:2], record_all=True, progress=False)
    assert agreement.spike_agreement == 1.0, agreement.first_mismatch
    check = measure(path, x, lava=lava).extra["verify"]
    assert check["mismatching_samples"] == 0
    b = budget_netx(path, "loihi2", record=measure(path, encode(own_data.test_x[:8], T)))
    assert b["cores"] >= 1 and b["dynamic_energy_uj"] > 0


def test_spike_train_targets_train_with_a_user_loss_and_prune(own_data):
    from lava.lib.dl import slayer

    rng = np.random.default_rng(0)
    target = lambda n: (rng.random((n, 10, T)) < 0.1).astype(np.float32)  # noqa: E731
    data = DataSplit.from_arrays(own_data.train_x, target(len(own_data.train_x)), own_data.test_x,
                                 target(len(own_data.test_x)), name="my-trains")
    assert not data.labels
    net = tutorial_net()
    graph = trace(net, data.input_shape)
    loss = slayer.loss.SpikeTime(time_constant=2, filter_order=1, reduction="sum")
    trainer = Trainer(net, TrainConfig(epochs=1, batch_size=32, num_steps=T), graph=graph, loss=loss)
    hist = trainer.fit(data, progress=False, log=None)
    assert np.isfinite(hist[-1]["train_loss"]) and hist[-1]["test_accuracy"] is None
    small, rep = prune_and_shrink(net, data, PruneConfig(criterion="sca", budget="params=0.5", ramp_epochs=1),
                                  TrainConfig(epochs=1, batch_size=32, num_steps=T), loss=loss, log=None)
    assert rep["surgery_exact"] and rep["param_fraction"] <= 0.5 and type(small) is type(net)


def test_what_a_chain_cannot_express_is_one_line_errors():
    from lava.lib.dl import slayer

    neuron = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}

    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = slayer.block.cuba.Conv(neuron, 1, 4, 3, padding=1)
            self.b = slayer.block.cuba.Conv(neuron, 4, 4, 3, padding=1)

        def forward(self, x):
            y = self.a(x)
            return self.b(y) + y

    class Twice(Residual):
        def forward(self, x):
            return self.b(self.b(self.a(x)))

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.r = slayer.block.cuba.Recurrent(dict(neuron), 4, 4)  # lava-dl edits the dict it is given

        def forward(self, x):
            return self.r(x)

    with pytest.raises(ScaLavaError, match="does not return the last block's output"):
        trace(Residual(), (1, 6, 6))
    with pytest.raises(ScaLavaError, match="called twice"):
        trace(Twice(), (1, 6, 6))
    with pytest.raises(ScaLavaError, match="recurrent block"):
        trace(Recurrent(), (4,))
    with pytest.raises(ScaLavaError, match="pads a pool's input"):  # 7x7 under a 2x2 pool
        trace(torch.nn.Sequential(slayer.block.cuba.Pool(dict(neuron, persistent_state=False), 2)), (1, 7, 7))


def test_a_forward_that_returns_spikes_and_counts_traces_and_prunes(own_data):
    """lava-dl tutorial nets return (spikes, counts); the graph takes the spikes."""
    from lava.lib.dl import slayer

    class Counting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            p = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03}
            self.blocks = torch.nn.ModuleList([slayer.block.cuba.Conv(p, 1, 6, 3, stride=2, padding=1, weight_scale=3),
                                               slayer.block.cuba.Flatten(),
                                               slayer.block.cuba.Dense(p, 6 * 14 * 14, 10, weight_scale=3)])

        def forward(self, spike):
            counts = []
            for block in self.blocks:
                spike = block(spike)
                counts.append(torch.mean(spike))
            return spike, torch.stack(counts)

    net = Counting()
    g = trace(net, own_data.input_shape)
    assert [x.kind for x in g.layers] == ["conv", "flatten", "dense"] and g.prunable[0].kind == "conv"
    small, rep = prune_and_shrink(net, own_data, PruneConfig(budget="channels=0.5", ramp_epochs=1),
                                  TrainConfig(epochs=1, batch_size=32, num_steps=T), log=None)
    assert rep["surgery_exact"] and isinstance(small(spikes(own_data, 2)), tuple)


def test_a_dataloader_of_spikes_without_a_bin_width_trains(own_data):
    """Own data as a torch DataLoader of spike tensors (N, F, T); no bin width
    is asked for: the contract records it as unknown."""
    from lava.lib.dl import slayer

    rng = np.random.default_rng(1)
    x = (rng.random((48, 20, T)) < 0.2).astype(np.float32)
    y = rng.integers(0, 3, 48)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=16)
    data = DataSplit.from_datasets(loader, torch.utils.data.TensorDataset(torch.from_numpy(x[:16]),
                                                                          torch.from_numpy(y[:16])), events=True)
    assert data.events and data.input_shape == (20,) and data.num_classes == 3
    p = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}
    net = torch.nn.Sequential(slayer.block.cuba.Dense(p, 20, 12, weight_scale=3),
                              slayer.block.cuba.Dense(p, 12, 3, weight_scale=3))
    trainer = Trainer(net, TrainConfig(epochs=1, batch_size=16), graph=trace(net, data.input_shape))
    trainer.fit(data, progress=False, log=None)
    assert net.contract.events and net.contract.bin_width_us is None and net.contract.num_steps == T
    with pytest.raises(ScaLavaError, match="3-D"):
        DataSplit.from_arrays(x, y, x, y)


def test_flat_samples_of_your_own_train_and_images_run_through_a_files_contract(tmp_path, mnist5k, capsys):
    """(N, F) arrays are encoded like images; a file whose contract says how to
    encode takes --input images (not only spikes)."""
    from lava.lib.dl import slayer

    from sca_lava.cli import main
    from sca_lava.models.export import export_netx

    d = mnist5k.subset(train=64, test=16)
    flat = DataSplit.from_arrays(d.train_x.reshape(64, -1), d.train_y, d.test_x.reshape(16, -1), d.test_y)
    p = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03}
    net = torch.nn.Sequential(slayer.block.cuba.Dense(p, 784, 16, weight_scale=3),
                              slayer.block.cuba.Dense(p, 16, 10, weight_scale=3))
    graph = trace(net, flat.input_shape)
    Trainer(net, TrainConfig(epochs=1, batch_size=32, num_steps=T), graph=graph).fit(flat, progress=False, log=None)
    path = tmp_path / "flat.net"
    export_netx(graph, path, contract=net.contract)
    np.save(tmp_path / "images.npy", d.test_x[:4].reshape(4, -1))
    np.save(tmp_path / "labels.npy", d.test_y[:4])
    assert main(["evaluate", str(path), "--input", str(tmp_path / "images.npy"), "--labels",
                 str(tmp_path / "labels.npy")]) == 0
    assert "encoded rate-regular" in capsys.readouterr().out
