"""Budgets in deployment currency: the budget holds after every structure
update for every kind (property test over random geometries, masks, scores
and activity), no-regrow criteria never bring a channel back, the pruner's
cost model equals the hardware package's figures, the baselines' signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sca_lava.data import encode
from sca_lava.errors import ScaLavaError
from sca_lava.geometry import channel_masks, count_params, geometry, netx_spec
from sca_lava.hardware.activity import count_activity
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.energy import estimate
from sca_lava.models import build_network
from sca_lava.models.config import NetworkConfig, small_config
from sca_lava.models.graph import as_graph
from sca_lava.netx.reader import read_netx
from sca_lava.pruning import PruneConfig, SCAPruner, select_structure, shrink
from sca_lava.pruning.cost import CostModel
from sca_lava.pruning.importance import ScoreContext, group_l1_scores, taylor_scores
from sca_lava.pruning.masks import GAIN, MASK, masks_of
from sca_lava.pruning.tally import Activity, measure_activity


@pytest.fixture(scope="module")
def data(mnist5k):
    return mnist5k.subset(train=64, test=32)


def tiny_config() -> NetworkConfig:
    """test_pruning's small net: 8-16 conv channels, 32 hidden, T = 8."""
    return NetworkConfig.from_dict({**small_config().to_dict(), "num_steps": 8})


def pool_config() -> NetworkConfig:
    """A tutorial-style net: conv, sum-pool, conv, sum-pool, flatten, dense, dense; T = 8."""
    return NetworkConfig(input_shape=(1, 28, 28), num_steps=8, layers=[
        {"type": "conv", "out": 8, "kernel": 3, "padding": 1}, {"type": "pool", "kernel": 2},
        {"type": "conv", "out": 16, "kernel": 3, "padding": 1}, {"type": "pool", "kernel": 2},
        {"type": "flatten"}, {"type": "dense", "out": 32}, {"type": "dense", "out": 10}])


NETS = {"strided": tiny_config, "pooled": pool_config}


def lively_masked_net(seed=0, every=3, net="strided"):
    model = build_network(NETS[net](), seed)
    SCAPruner(PruneConfig()).attach(model, 3)
    with torch.no_grad():
        for b in masks_of(model):
            getattr(model.blocks[b], MASK)[1::every] = 0
            model.blocks[b].synapse.weight.mul_(3.0)
        model.blocks[-1].synapse.weight.mul_(3.0)
    return model


# --------------------------------------------------------------------------- no regrowth


def test_non_regrowing_criterion_never_brings_a_pruned_channel_back():
    """Today's bug: select_structure restarted from the dense net, so with budget
    slack some previously pruned channels were left out of the removal."""
    geo = geometry(small_config())
    rng = np.random.default_rng(0)
    scores = {g.block: rng.random(g.out) for g in geo if g.prunable}
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    active[3][:10] = False  # ten hidden neurons pruned by an earlier update
    cost = CostModel(small_config(), "params").evaluate
    slack = cost(active) + 3 * (16 * 49 + 10)  # room for three hidden neurons
    new, info = select_structure(geo, scores, active, cost=cost, budget=slack)
    assert info["regrown"] == 0
    for b in new:
        assert not np.any(new[b] & ~active[b])


def test_random_on_a_cubic_ramp_only_ever_removes():
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(criterion="random", budget="params=0.2", ramp_epochs=6, seed=3))
    pruner.attach(model, 7)
    prev = pruner.masks()
    for epoch in range(1, 7):
        pruner.update(epoch)
        now = pruner.masks()
        for b in now:
            assert not np.any(now[b] & ~prev[b]), (epoch, b)
        prev = now


def test_cost_aware_ranking_removes_the_costlier_of_two_silent_channels():
    cfg = small_config()
    geo = geometry(cfg)
    model = CostModel(cfg, "params")
    scores = {g.block: np.ones(g.out) for g in geo if g.prunable}
    scores[0][2] = scores[3][5] = 0.0  # silent: a conv1 channel (153 weights) and a hidden neuron (794)
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    marg = model.marginal(active)
    assert marg[3][5] > marg[0][2]
    key = {b: scores[b] / marg[b] for b in scores}
    new, info = select_structure(geo, scores, active, cost=model.evaluate, budget=model.evaluate(active) - 1,
                                 key=key, tiebreak={b: -marg[b] for b in scores}, put_back=False)
    assert info["pruned"] == 1 and not new[3][5] and new[0][2]


# --------------------------------------------------------------------------- the budget holds


@st.composite
def structures(draw):
    n_conv = draw(st.integers(1, 2))
    layers = []
    for _ in range(n_conv):
        layers.append({"type": "conv", "out": draw(st.integers(1, 6)), "kernel": draw(st.sampled_from([1, 3])),
                       "stride": draw(st.integers(1, 2)), "padding": draw(st.integers(0, 1))})
    layers.append({"type": "flatten"})
    if draw(st.booleans()):
        layers.append({"type": "dense", "out": draw(st.integers(1, 8))})
    layers.append({"type": "dense", "out": draw(st.integers(1, 4))})
    cfg = NetworkConfig(input_shape=(draw(st.integers(1, 2)), 6, 6), layers=layers, num_steps=4)
    try:
        geo = geometry(cfg)
    except ScaLavaError:  # an empty conv output: no such network
        assume(False)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scores = {g.block: rng.random(g.out) for g in geo if g.prunable}
    active = {b: rng.random(len(s)) < 0.8 for b, s in scores.items()}
    for b in active:
        active[b][rng.integers(len(active[b]))] = True  # the floor: >= 1 per layer
    steps = cfg.num_steps
    act = Activity([rng.random(int(np.prod(g.in_shape))) * 3 for g in geo],
                   [float(rng.uniform(0, g.positions * steps)) for g in geo], float(rng.random() * 5), steps, 8)
    kind = draw(st.sampled_from(["params", "channels", "synops", "energy", "total_energy", "cores"]))
    n_regrow = draw(st.integers(0, 2))
    return cfg, geo, scores, active, act, kind, n_regrow, draw(st.floats(0.0, 1.2)), draw(st.sampled_from([0.0, 1.0]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structures())
def test_budget_holds_after_every_update_for_every_kind(case):
    cfg, geo, scores, active, act, kind, n_regrow, u, balance = case
    cost_aware = balance > 0
    model = CostModel(cfg, kind, {"energy": "loihi2", "total_energy": "loihi2", "cores": "loihi1"}.get(kind))
    cost = lambda m: model.evaluate(m, act)  # noqa: E731
    key = scores
    if cost_aware:
        marg = model.marginal(active, act)
        key = {b: scores[b] / np.maximum(marg[b], 1e-12) for b in scores}
    # the cheapest structure an update can reach: each layer's best-ranked active channel alone
    floor = {}
    for b, m in active.items():
        idx = np.flatnonzero(m)
        floor[b] = np.zeros_like(m)
        floor[b][idx[np.lexsort((idx, key[b][idx]))[-1]]] = True
    low, now = cost(floor), cost(active)
    budget = low + u * (now - low)  # u > 1: slack above today's cost
    if kind in ("params", "channels", "cores"):
        budget = float(np.floor(budget))
    signal = {b: np.random.default_rng(1).random(len(s)) for b, s in scores.items()}
    new, info = select_structure(geo, scores, active, cost=cost, budget=budget, key=key, n_regrow=n_regrow,
                                 regrow_signal=signal, put_back=model.cheap, balance=balance)
    if budget >= low:
        assert info["budget_met"]
    if info["budget_met"]:
        assert cost(new) <= budget + 1e-9 * max(1.0, abs(budget))
    assert all(m.sum() >= 1 for m in new.values())
    if n_regrow == 0:
        assert all(not np.any(new[b] & ~active[b]) for b in new)


@pytest.mark.parametrize("budget,profile", [("cores=5", "loihi1"), ("energy=0.5", "loihi2"),
                                            ("total_energy=0.6", "loihi2"), ("synops=0.4", None)])
def test_scheduled_updates_meet_each_budget(data, budget, profile):
    model = lively_masked_net()
    with torch.no_grad():
        for b in masks_of(model):
            getattr(model.blocks[b], MASK).fill_(1.0)
    ref = encode(data.train_x[:32], 8)
    pruner = SCAPruner(PruneConfig(budget=budget, profile=profile, ramp_epochs=3), reference=ref)
    pruner.attach(model, 4)
    pruner.calibrate(ref)
    for epoch in (1, 2, 3):
        model.train()
        as_graph(model).outputs(torch.from_numpy(encode(data.train_x[:16], 8)).float())  # the taps count this batch
        rec = pruner.update(epoch)
        assert rec["budget_met"] and rec["cost"] <= pruner.budget_at(epoch) + 1e-6
    assert rec["cost_fraction"] <= pruner.final_fraction + 1e-9
    if budget.startswith("cores"):
        spec = netx_spec(model.config, pruner.active_counts())
        assert allocate(spec, "loihi1", dense_weights=True).total_cores <= 5


def test_total_energy_is_dynamic_plus_the_static_energy_of_the_structures_chips_and_step_time():
    from sca_lava.hardware.energy import static_energy_pj, static_power_mw

    cfg = tiny_config()
    model = CostModel(cfg, "total_energy", "loihi2")
    geo = model.geo
    act = Activity([np.full(int(np.prod(g.in_shape)), 0.5) for g in geo], [g.positions * 4.0 for g in geo],
                   2.0, 8, 4)
    masks = {g.block: np.ones(g.out, dtype=bool) for g in geo if g.prunable}
    b = model.breakdown(masks, act)
    alloc = model.allocation(model.counts(masks))
    assert b["static_energy_pj"] == pytest.approx(static_energy_pj(alloc, 8, b["layer_work_ns"]))
    assert b["static_energy_pj"] > static_power_mw(alloc) * 8 * 103.0  # more than the barrier alone
    assert model.evaluate(masks, act) == pytest.approx(b["energy_pj"] + b["static_energy_pj"])
    # a channel of the busiest layer saves static energy too: its marginal exceeds the dynamic one
    dyn = CostModel(cfg, "energy", "loihi2").marginal(masks, act)
    tot = model.marginal(masks, act)
    assert all(np.all(tot[blk] >= dyn[blk] - 1e-9) for blk in tot)
    assert any(np.all(tot[blk] > dyn[blk]) for blk in tot)


def tiny_config_file(tmp_path) -> str:
    import json

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config().to_dict()))
    return str(path)


def test_impossible_budgets_fail_before_training(tmp_path, capsys):
    from sca_lava.cli import main

    code = main(["prune", "--out", str(tmp_path), "--budget", "energy=0.0001", "--profile", "loihi2",
                 "--epochs", "1", "--config", tiny_config_file(tmp_path), "--train-samples", "8",
                 "--test-samples", "8", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be met" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "masked.pt").exists()
    with pytest.raises(ScaLavaError, match="cannot be met.*cores"):  # 4 layers need >= 4 cores
        SCAPruner(PruneConfig(budget="cores=3", profile="loihi1")).attach(build_network(tiny_config()), 3)


def test_cli_energy_budget(tmp_path, capsys):
    import json

    from sca_lava.cli import main

    code = main(["prune", "--out", str(tmp_path), "--budget", "energy=0.5", "--profile", "loihi2",
                 "--config", tiny_config_file(tmp_path), "--epochs", "2", "--ramp-epochs", "1",
                 "--train-samples", "32", "--test-samples", "8", "--no-progress"])
    assert code == 0
    assert "budget energy=0.5 on loihi2" in capsys.readouterr().out
    rep = json.loads((tmp_path / "report.json").read_text())
    assert "budget: `energy=0.5` on loihi2, layer ranking" in (tmp_path / "report.md").read_text()
    assert rep["budget"]["kind"] == "energy" and rep["budget"]["profile"] == "loihi2"
    assert rep["updates"][-1]["cost_fraction"] <= 0.5 + 1e-9
    from sca_lava.pruning.report import plot_title

    title = plot_title(rep)  # report.png's title: the budget in its currency (it said "% params")
    assert "energy=0.5 on loihi2" in title and f"{100 * rep['budget']['cost_fraction']:.1f} % of the dense energy" in title


# --------------------------------------------------------------------------- one cost model


@pytest.mark.parametrize("net", list(NETS))
def test_cost_model_equals_the_hardware_figures_of_the_export(data, tmp_path, net):
    model = lively_masked_net(seed=2, net=net)
    x = torch.from_numpy(encode(data.test_x[:12], 8)).float()
    act = measure_activity(model, x.numpy())
    masks = masks_of(model)
    energy_model = CostModel(model.config, "energy", "loihi2")
    mine = energy_model.breakdown(masks, act)
    # the hardware package on the exported, physically pruned network, same input
    small = shrink(model)
    small.export_hdf5(tmp_path / "pruned.net")
    spec = read_netx(tmp_path / "pruned.net")
    alloc = allocate(spec, "loihi2", dense_weights=True)
    with torch.no_grad():
        outs = as_graph(small).outputs(x)
    geo = as_graph(small).synaptic
    layer_spikes = {j: outs[g.block].numpy() for j, g in enumerate(geo)}
    hw = count_activity(alloc, x.numpy(), layer_spikes)
    tot = hw.totals()
    assert tot["synops"] > 0 and tot["neuron_active"] > 0
    assert mine["synops"] == pytest.approx(tot["synops"], rel=1e-9)
    assert mine["synops"] == pytest.approx(tot["synops_stored"], rel=1e-9)
    assert mine["neuron_active"] == pytest.approx(tot["neuron_active"], rel=1e-9)
    assert mine["neuron_inactive"] == pytest.approx(tot["neuron_inactive"], rel=1e-9)
    assert mine["spikes_out"] == pytest.approx(tot["spikes_out"], rel=1e-9)
    assert mine["messages"] == pytest.approx(tot["spikes_in"] + hw.host_spikes_out, rel=1e-9)
    assert mine["energy_pj"] * 1e-6 == pytest.approx(estimate(alloc, hw)["dynamic_energy_uj"], rel=1e-9)
    assert mine["cores"] == alloc.total_cores
    assert mine["params"] == count_params(geo)
    # cores: the pruner's figure is allocate() of the export
    assert CostModel(model.config, "cores", "loihi1").evaluate(masks) == allocate(
        spec, "loihi1", dense_weights=True).total_cores
    # SynOps: also the pruning report's definition
    from sca_lava.pruning.report import measure

    rep = measure(as_graph(small), data.test_x[:12], data.test_y[:12], 8, batch_size=12)
    assert CostModel(model.config, "synops").evaluate(masks, act) == pytest.approx(rep["synops"], rel=1e-9)


# --------------------------------------------------------------------------- baseline signals


def test_taylor_is_the_sum_of_w_times_its_gradient(data):
    model = build_network(tiny_config(), 1)
    pruner = SCAPruner(PruneConfig(criterion="taylor"))
    pruner.attach(model, 3)
    with torch.no_grad():
        getattr(model.blocks[0], GAIN).copy_(torch.linspace(0.5, 1.5, 8))
    model.train()
    out = model(torch.from_numpy(encode(data.train_x[:8], 8)).float())
    loss = out.sum() + (out * torch.arange(out.shape[1]).reshape(1, -1, 1)).sum()
    loss.backward()
    scores = taylor_scores(ScoreContext(pruner.graph, pruner.taps, None, pruner.gates))
    w = model.blocks[0].synapse.weight
    direct = (w * w.grad).detach().reshape(w.shape[0], -1).sum(1).abs().double().numpy()
    assert direct.max() > 0
    np.testing.assert_allclose(scores[0], direct, rtol=1e-4, atol=1e-9)


def test_group_l1_counts_the_next_layer_slice():
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(criterion="group-l1"))
    pruner.attach(model, 3)
    with torch.no_grad():
        model.blocks[1].synapse.weight.fill_(0.5)  # conv2: identical filters
        model.blocks[3].synapse.weight.zero_()
        model.blocks[3].synapse.weight[:, 49 * 5:49 * 6] = 1.0  # only conv2 channel 5 feeds the dense layer
    scores = group_l1_scores(ScoreContext(pruner.graph, pruner.taps, None, pruner.gates))
    assert np.argmax(scores[1]) == 5 and np.ptp(np.delete(scores[1], 5)) == 0


def test_budget_config_round_trip_and_old_checkpoints():
    cfg = PruneConfig(criterion="sca-paper", budget="energy=0.3", profile="loihi2")
    assert PruneConfig.from_dict(cfg.to_dict()) == cfg and cfg.effective_ranking == "plain"
    assert PruneConfig.from_dict({"target_params": 0.25}).budget == "params=0.25"
    with pytest.raises(ScaLavaError, match="unknown pruning criterion"):
        PruneConfig(criterion="sca-layernorm").validate()


def test_cost_model_never_prices_a_new_activity_with_an_old_one():
    """The per-activity cache was keyed by id(): a freed Activity's id is reused
    by the next one, which was then priced with the old counts."""
    cfg = tiny_config()
    geo = geometry(cfg)
    masks = {g.block: np.ones(g.out, bool) for g in geo if g.prunable}

    def activity(scale):
        return Activity([np.full(int(np.prod(g.in_shape)), scale) for g in geo], [1.0] * len(geo), 1.0, 8, 4)

    model = CostModel(cfg, "synops")
    first = model.evaluate(masks, activity(1.0))  # its Activity is freed right here
    assert model.evaluate(masks, activity(2.0)) == pytest.approx(2 * first)


def test_balance_keeps_the_costliest_layer_from_being_emptied():
    """Density ranking alone takes every channel from the layer whose channels
    cost most (here conv2: 1640 weights a channel with its slice of the dense
    layer) before any other; with diminishing returns per layer (balance=1,
    what ranking="cost" uses) that layer keeps more and others give some."""
    cfg = small_config()
    geo = geometry(cfg)
    model = CostModel(cfg, "params")
    scores = {g.block: np.ones(g.out) for g in geo if g.prunable}
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    marg = model.marginal(active)
    key = {b: scores[b] / marg[b] for b in scores}
    budget = 0.3 * model.evaluate(active)
    kept = {}
    for balance in (0.0, 1.0):
        new, info = select_structure(geo, scores, active, cost=model.evaluate, budget=budget, key=key,
                                     balance=balance)
        assert info["budget_met"] and info["cost"] <= budget
        kept[balance] = {b: int(m.sum()) for b, m in new.items()}
    assert kept[0.0][3] == 32 and kept[1.0][3] < 32  # plain density: only conv2 pays
    assert kept[1.0][1] > kept[0.0][1]


def synops_pruner(data, epochs: int):
    """A lively unmasked net, a synops=0.5 pruner (1-epoch ramp) and its reference spikes."""
    model = lively_masked_net()
    with torch.no_grad():
        for b in masks_of(model):
            getattr(model.blocks[b], MASK).fill_(1.0)
    ref = encode(data.train_x[:32], 8)
    pruner = SCAPruner(PruneConfig(budget="synops=0.5", ramp_epochs=1, regrow=0.2), reference=ref)
    pruner.attach(model, epochs)
    pruner.calibrate(ref)
    return model, pruner, ref


def test_drift_after_the_ramp_prunes_without_regrowth_and_never_at_the_last_epoch(data):
    model, pruner, _ = synops_pruner(data, 3)
    batch = torch.from_numpy(encode(data.train_x[:16], 8)).float()
    model.train()
    as_graph(model).outputs(batch)
    assert pruner.update(1)["regrown"] >= 0
    with torch.no_grad():  # the net fires more during fine-tuning: the cost drifts up
        for b in masks_of(model):
            model.blocks[b].synapse.weight.mul_(2.0)
    as_graph(model).outputs(batch)
    assert pruner.current_cost() > pruner.final_budget()
    assert pruner.due(2) and not pruner.due(3)  # epoch 3 is the last: no unrefined structure change
    rec = pruner.update(2)
    assert rec["regrown"] == 0 and rec["cost"] <= pruner.final_budget()


def test_the_finished_net_meets_the_budget_on_the_reference_inputs(data):
    """After the last epoch the budget is checked on the dense reference's own
    inputs with the final weights, not on the last epoch's training batches:
    a net that fires more after its last update is trimmed back under it."""
    model, pruner, ref = synops_pruner(data, 2)
    model.train()
    as_graph(model).outputs(torch.from_numpy(encode(data.train_x[:16], 8)).float())
    pruner.on_epoch_end(None, 1, {})
    with torch.no_grad():  # the last epoch: the survivors fire more
        for b in masks_of(model):
            model.blocks[b].synapse.weight.mul_(2.0)
    final = pruner.final_budget()

    def measured():
        return pruner.cost_model.evaluate(masks_of(model), measure_activity(model, ref))

    assert measured() > final
    kept = {b: m.copy() for b, m in masks_of(model).items()}
    record = {}
    pruner.on_epoch_end(None, 2, record)
    assert record["final_check"]["pruned"] > 0
    assert measured() <= final * (1 + 1e-9)
    assert pruner.cost_fraction() == pytest.approx(measured() / pruner.dense_cost)  # what the report says
    assert all(not np.any(m & ~kept[b]) for b, m in masks_of(model).items())  # nothing regrown
    assert pruner.updates[-1]["check"].startswith("final")


# --------------------------------------------------------------------------- priced spikes in the loss


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("kind,profile", [("synops", None), ("energy", "loihi2")])
def test_spike_prices_are_the_cost_models_slope(data, kind, profile, net):
    """One more spike of an input neuron costs exactly its price: the cost
    model is linear in the spike counts, and spike_prices is that slope."""
    model = lively_masked_net(seed=3, net=net)
    act = measure_activity(model, encode(data.test_x[:8], 8))
    masks = masks_of(model)
    cm = CostModel(model.config, kind, profile)
    cm.counts(masks)
    prices = cm.spike_prices(masks)
    base = cm.evaluate(masks, act)
    rng = np.random.default_rng(0)
    geo = cm.geo
    assert prices[0] is None and all(p is not None for p in prices[1:])
    for j in range(1, len(geo)):
        src = channel_masks(geo, masks)[geo[j].in_from]
        per = prices[j].size // geo[j].in_channels
        for ch in rng.choice(np.flatnonzero(src), 2, replace=False):
            i = int(ch) * per + int(rng.integers(per))
            bumped = [v.copy() for v in act.inputs]
            bumped[j][i] += 1.0
            more = cm.evaluate(masks, Activity(bumped, act.active, act.host, act.steps, act.samples))
            assert more - base == pytest.approx(prices[j][i], rel=1e-6), (j, i)
    assert CostModel(model.config, "params").spike_prices(masks) == [None] * len(geo)


def test_cost_weight_charges_the_batchs_spikes_at_the_cost_models_price(data):
    model = lively_masked_net(seed=4)
    w = 0.3
    pruner = SCAPruner(PruneConfig(budget="synops=0.5", cost_weight=w, ramp_epochs=1),
                       reference=encode(data.train_x[:16], 8))
    pruner.attach(model, 2)
    pruner.calibrate(pruner.reference_spikes)
    x = torch.from_numpy(encode(data.train_x[:6], 8)).float()
    model.train()
    outs = as_graph(model).outputs(x)  # the cost taps count this batch too
    loss = pruner.loss(None, outs)
    act = pruner.activity()
    assert act.samples == 6
    # the batch's SynOps beyond the first layer's (whose input spikes are the data), from the cost model itself
    first_only = Activity([act.inputs[0]] + [np.zeros_like(v) for v in act.inputs[1:]], act.active, act.host,
                          act.steps, act.samples)
    masks = masks_of(model)
    beyond = pruner.cost_model.evaluate(masks, act) - pruner.cost_model.evaluate(masks, first_only)
    assert beyond > 0
    assert float(loss) == pytest.approx(w * 6 * beyond / pruner.dense_cost, rel=1e-5)
    loss.backward()
    assert float(model.blocks[0].synapse.weight.grad.abs().sum()) > 0  # spikes can be trained down
    assert PruneConfig(budget="synops=0.5").cost_weight == 0 and SCAPruner(PruneConfig(budget="synops=0.5")).loss(
        None, outs) is None


@pytest.mark.parametrize("budget,weight", [("params=0.5", 0.1), ("cores=3", 0.1), ("synops=0.5", -1.0),
                                           ("synops=0.5", float("nan")), ("synops=0.5", True)])
def test_cost_weight_is_refused_where_it_means_nothing(budget, weight):
    with pytest.raises(ScaLavaError, match="cost weight") as e:
        PruneConfig(budget=budget, profile="loihi1", cost_weight=weight).validate()
    assert "\n" not in str(e.value)
