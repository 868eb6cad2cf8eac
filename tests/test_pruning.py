"""SCA pruning: activity scores, global ranking, schedule, regrowth, frozen
pruned channels, exact surgery (SLAYER and Lava), checkpoint/resume, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sca_lava.data import encode, load_mnist5k
from sca_lava.errors import ScaLavaError
from sca_lava.geometry import count_params, geometry
from sca_lava.models import build_network
from sca_lava.models.config import NetworkConfig, small_config
from sca_lava.models.graph import as_graph
from sca_lava.pruning import (
    CRITERIA,
    PruneConfig,
    SCAPruner,
    load_masked,
    prune_and_shrink,
    select_structure,
    shrink,
)
from sca_lava.pruning.activity import channel_activity, channel_drive
from sca_lava.pruning.cost import CostModel
from sca_lava.pruning.masks import GAIN, MASK, masks_of
from sca_lava.pruning.schedule import default_ramp, target_sparsity
from sca_lava.training import Callback, TrainConfig, Trainer
from sca_lava.training.checkpoint import load_trained


@pytest.fixture(scope="module")
def data():
    return load_mnist5k(0).subset(train=64, test=32)


def tiny_config() -> NetworkConfig:
    cfg = small_config()
    cfg.num_steps = 8
    return cfg


def masked_net(seed=0, every=3, criterion="sca"):
    model = build_network(tiny_config(), seed)
    pruner = SCAPruner(PruneConfig(criterion=criterion))
    pruner.attach(model, 3)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for i in pruner.gates:
            getattr(model.blocks[i], MASK)[1::every] = 0
            getattr(model.blocks[i], GAIN).copy_(0.5 + 1.5 * torch.rand(model.blocks[i].sca_gain.shape,
                                                                        generator=gen))
            model.blocks[i].synapse.weight.mul_(3.0)  # livelier net: more spikes to compare
    return model, pruner


def spikes_of(data, n, steps=8):
    return torch.from_numpy(encode(data.test_x[:n], steps)).float()


# --------------------------------------------------------------------------- scores


def test_activity_score_silent_channel_ranks_last():
    spikes = torch.zeros(2, 3, 4, 4, 5)
    voltage = torch.zeros(2, 3, 4, 4, 5)
    spikes[:, 0, :, :, ::2] = 1.0
    voltage[:, 0] = 2.0  # spike steps: V after reset is 0, the others 2 = 1.6 thresholds
    voltage[:, 1] = -0.5  # silent but polarised
    score = channel_activity(spikes, voltage, threshold=1.25)
    assert score[2] == 0.0
    assert score[1] == pytest.approx(0.4)
    assert score[0] == pytest.approx((3 * 1.0 + 2 * 1.6) / 5)
    assert list(torch.argsort(score, descending=True)) == [0, 1, 2]


def test_drive_score_does_not_reward_an_inhibited_channel():
    """A channel held far below rest never fires: |V| ranks it above a
    spiking channel, the depolarisation score (sca-drive) ranks it last."""
    spikes = torch.zeros(1, 3, 2, 2, 4)
    voltage = torch.zeros(1, 3, 2, 2, 4)
    spikes[:, 0, :, :, 0] = 1.0
    voltage[:, 0, :, :, 1:] = 0.5  # fires once, then sits below the threshold
    voltage[:, 1] = -6.0  # inhibited: 4.8 thresholds below rest, never fires
    voltage[:, 2, :, :, :] = 1.0  # depolarised, silent
    absolute = channel_activity(spikes, voltage, threshold=1.25)
    drive = channel_drive(spikes, voltage, threshold=1.25)
    assert int(torch.argmax(absolute)) == 1
    assert drive[1] == 0.0
    assert list(torch.argsort(drive, descending=True)) == [2, 0, 1]
    assert drive[0] == pytest.approx((1.0 + 3 * 0.4) / 4)


def test_activity_tap_reads_real_dynamics_and_silent_channel_scores_zero(data):
    model, pruner = masked_net()
    drive_model, drive_pruner = masked_net(criterion="sca-drive")  # same weights and masks
    model.train()
    drive_model.train()
    as_graph(model).outputs(spikes_of(data, 8))
    as_graph(drive_model).outputs(spikes_of(data, 8))
    for i, tap in pruner.taps.items():
        mask = getattr(model.blocks[i], MASK).bool()
        drive = drive_pruner.taps[i]
        assert tap.batches == 1 and drive.batches == 1
        assert torch.all(tap.score[~mask] == 0)
        assert tap.score[mask].sum() > 0
        assert torch.all(drive.drive[~mask] == 0)
        assert torch.all(drive.drive <= tap.score + 1e-12)
        # each tap computes only what its criterion reads
        assert torch.all(tap.drive == 0) and torch.all(drive.score == 0) and drive.drive.sum() > 0
    # eval / no-grad passes are not counted
    with torch.no_grad():
        as_graph(model).outputs(spikes_of(data, 8))
    assert all(t.batches == 1 for t in pruner.taps.values())


# --------------------------------------------------------------------------- ranking, schedule, regrowth


def channels_cost():
    return CostModel(tiny_config(), "channels").evaluate


def params_cost():
    return CostModel(tiny_config(), "params").evaluate


def test_global_ranking_across_layers_of_different_sizes():
    geo = geometry(tiny_config())  # prunable: 8, 16, 32 channels
    blocks = [g.block for g in geo if g.prunable]
    scores = {b: np.full(g.out, 10.0) for b, g in zip(blocks, [g for g in geo if g.prunable])}
    scores[blocks[0]][[1, 5]] = [0.1, 0.3]
    scores[blocks[1]][[2]] = [0.2]
    scores[blocks[2]][[7, 9]] = [0.05, 0.4]
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    new, info = select_structure(geo, scores, active, cost=channels_cost(), budget=56 - 4)
    pruned = {(b, int(c)) for b, m in new.items() for c in np.flatnonzero(~m)}
    assert pruned == {(blocks[2], 7), (blocks[0], 1), (blocks[1], 2), (blocks[0], 5)}
    assert info["pruned"] == 4 and info["regrown"] == 0


def test_parameter_budget_is_met_and_counts_both_sides():
    geo = geometry(tiny_config())
    dense = count_params(geo)
    rng = np.random.default_rng(0)
    scores = {g.block: rng.random(g.out) for g in geo if g.prunable}
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    new, info = select_structure(geo, scores, active, cost=params_cost(), budget=int(0.3 * dense))
    counts = [int(new[g.block].sum()) if g.prunable else g.out for g in geo]
    assert count_params(geo, counts) == info["cost"] <= 0.3 * dense
    # removing a conv2 channel also removes its 4x4x... slice of the dense layer's inputs
    full = [g.out for g in geo]
    one_less = list(full)
    one_less[1] -= 1
    assert dense - count_params(geo, one_less) == 8 * 9 + 32 * 7 * 7


def test_regrowth_picks_pruned_channels_with_largest_gradient():
    geo = geometry(tiny_config())
    blocks = [g.block for g in geo if g.prunable]
    scores = {g.block: np.arange(g.out, dtype=float) + 1 for g in geo if g.prunable}
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    active[blocks[2]][[3, 4, 5]] = False  # already pruned
    for b in blocks:
        scores[b][~active[b]] = 0.0
    signal = {b: np.zeros(len(s)) for b, s in scores.items()}
    signal[blocks[2]][4] = 5.0  # a pruned channel that the loss wants back
    signal[blocks[0]][0] = 3.0  # lowest-score active channel, also wanted
    new, info = select_structure(geo, scores, active, cost=channels_cost(), budget=56 - 3, n_regrow=2,
                                 regrow_signal=signal)
    assert new[blocks[2]][4] and new[blocks[0]][0]
    assert sum(int((~m).sum()) for m in new.values()) == 3
    assert info["regrown"] == 1  # channel 4 was pruned before and came back
    assert info["regrown_channels"] == {str(blocks[2]): [4]}
    assert sum(len(v) for v in info["pruned_channels"].values()) == info["pruned"]


def test_cubic_schedule_reaches_target_and_is_monotone():
    values = [target_sparsity(e, 0.7, 0, 4) for e in range(7)]
    assert values[0] == 0.0 and values[4] == pytest.approx(0.7) and values[6] == pytest.approx(0.7)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[1] == pytest.approx(0.7 * (1 - 0.75 ** 3))
    assert default_ramp(3) == 2 and default_ramp(1) == 1 and default_ramp(12) == 8


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
def test_updates_follow_schedule_to_the_parameter_target(criterion):
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(criterion=criterion, budget="params=0.3", regrow=0.1))
    pruner.attach(model, 4)
    recs = [pruner.update(e) for e in (1, 2, 3)]
    fractions = [r["param_fraction"] for r in recs]
    targets = [r["target_sparsity"] for r in recs]
    assert targets == sorted(targets) and targets[-1] == pytest.approx(0.7)
    assert all(f <= 1 - t + 1e-12 for f, t in zip(fractions, targets))  # budget holds at every update
    assert 0.25 <= fractions[-1] <= 0.3  # granularity: one hidden dense neuron is ~3 % here
    assert all(int(m.sum()) >= 1 for m in pruner.masks().values())


def test_channel_sparsity_mode():
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(criterion="group-l1", budget="channels=0.5", ramp_epochs=1))
    pruner.attach(model, 2)
    pruner.update(1)
    kept = sum(int(m.sum()) for m in pruner.masks().values())
    assert kept == 56 - 28


def test_floor_and_impossible_targets():
    model = build_network(tiny_config(), 0)
    with pytest.raises(ScaLavaError, match="cannot be met"):
        SCAPruner(PruneConfig(budget="params=0.001")).attach(model, 3)
    with pytest.raises(ScaLavaError, match="cannot be met"):
        SCAPruner(PruneConfig(budget="channels=0.01")).attach(model, 3)
    for bad in ("params", "watts=0.3", "params=1.5", "cores=2.5", "energy=x"):
        with pytest.raises(ScaLavaError, match="budget"):
            PruneConfig(budget=bad).validate()
    with pytest.raises(ScaLavaError, match="needs a hardware profile"):
        PruneConfig(budget="energy=0.3").validate()
    with pytest.raises(ScaLavaError, match="ramp ends"):
        SCAPruner(PruneConfig(ramp_epochs=5)).attach(model, 3)
    # floor: a layer whose channels all score lowest still keeps one
    geo = geometry(tiny_config())
    scores = {g.block: np.ones(g.out) for g in geo if g.prunable}
    scores[0][:] = 0.0
    active = {b: np.ones(len(s), bool) for b, s in scores.items()}
    new, _ = select_structure(geo, scores, active, cost=channels_cost(), budget=56 - 10)
    assert new[0].sum() == 1 and sum(int((~m).sum()) for m in new.values()) == 10
    new, info = select_structure(geo, scores, active, cost=channels_cost(), budget=56 - 54)
    assert not info["budget_met"] and all(m.all() for m in new.values())  # out of reach: the structure stays


# --------------------------------------------------------------------------- training behaviour


class Snapshot(Callback):
    name = "snapshot"

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, trainer, epoch, record):
        self.weights[epoch] = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}


def test_pruned_channel_is_silent_and_frozen(data):
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(criterion="sca-noregrow", budget="params=0.5", ramp_epochs=1, ranking="plain"))
    snap = Snapshot()
    trainer = Trainer(model, TrainConfig(epochs=2, batch_size=16, seed=0), [pruner, snap])
    trainer.fit(data, progress=False, log=None)
    assert len(pruner.updates) == 1  # epoch 1 reaches the target; epoch 2 fine-tunes
    masks = pruner.masks()
    before, after = snap.weights[1], snap.weights[2]
    for i, m in masks.items():
        off = torch.from_numpy(np.flatnonzero(~m))
        assert len(off) > 0
        w0, w1 = before[f"blocks.{i}.synapse.weight"], after[f"blocks.{i}.synapse.weight"]
        assert torch.equal(w0[off], w1[off])
        assert torch.equal(before[f"blocks.{i}.{GAIN}"][off], after[f"blocks.{i}.{GAIN}"][off])
        keep = torch.from_numpy(np.flatnonzero(m))
        assert not torch.equal(w0[keep], w1[keep])  # the others still learn
    # the dense layer's input columns coming from pruned conv channels are frozen too
    c_off = np.flatnonzero(~masks[1])
    cols = torch.from_numpy((c_off[:, None] * 49 + np.arange(49)[None]).ravel())
    assert torch.equal(before["blocks.3.synapse.weight"][:, cols], after["blocks.3.synapse.weight"][:, cols])
    model.eval()
    with torch.no_grad():
        outs = as_graph(model).outputs(spikes_of(data, 16))
    for i, m in masks.items():
        assert outs[i][:, torch.from_numpy(~m)].sum() == 0


def test_resume_equals_uninterrupted(data, tmp_path):
    def make():
        model = build_network(tiny_config(), 0)
        pruner = SCAPruner(PruneConfig(criterion="sca", budget="params=0.4", ramp_epochs=3, regrow=0.15))
        return Trainer(model, TrainConfig(epochs=3, batch_size=16, seed=1), [pruner]), pruner

    full, p_full = make()
    full.fit(data, progress=False, log=None)

    first, _ = make()
    first.fit(data, epochs=2, checkpoint=tmp_path / "masked.pt", progress=False, log=None)
    from sca_lava.training import load_checkpoint

    resumed, p_res = make()
    resumed.load(load_checkpoint(tmp_path / "masked.pt"))
    assert len(p_res.updates) == 2
    resumed.fit(data, progress=False, log=None)

    assert p_full.updates == p_res.updates
    for (k, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    for i in p_full.taps:
        assert torch.equal(p_full.taps[i].score_sum, p_res.taps[i].score_sum)
        assert torch.equal(p_full.gates[i].grad_acc, p_res.gates[i].grad_acc)
    # the masked checkpoint rebuilds with gains and masks in place
    model, state = load_masked(tmp_path / "masked.pt")
    saved = state["callbacks"]["sca"]["masks"]
    assert {str(i): m.tolist() for i, m in masks_of(model).items()} == {
        k: (v > 0.5).tolist() for k, v in saved.items()}


# --------------------------------------------------------------------------- surgery


def test_surgery_gives_identical_spikes_including_flatten_dense(data):
    model, _ = masked_net(seed=3)
    x = spikes_of(data, 32)
    model.eval()
    with torch.no_grad():
        ref = as_graph(model).outputs(x)
        small = shrink(model)
        out = as_graph(small).outputs(x)
    assert type(small) is type(model) and [g.out for g in as_graph(small).synaptic] == [5, 11, 21, 10]
    assert ref[-1].sum() > 0
    assert torch.equal(ref[-1], out[-1])
    assert torch.equal(ref[3][:, torch.from_numpy(model.blocks[3].sca_mask.bool().numpy())], out[3])
    # flatten output: the kept channels' C,H,W slices in order
    keep = np.flatnonzero(model.blocks[1].sca_mask.numpy())
    cols = (keep[:, None] * 49 + np.arange(49)[None]).ravel()
    assert torch.equal(ref[2][:, torch.from_numpy(cols)], out[2])


def test_prune_and_shrink_writes_loadable_outputs(data, tmp_path):
    dense = build_network(tiny_config(), 1)  # fine-tune path; also the SynOps reference
    w0 = dense.blocks[0].synapse.weight.detach().clone()
    small, rep = prune_and_shrink(dense, data, PruneConfig(budget="params=0.5", ramp_epochs=1),
                                  TrainConfig(epochs=1, batch_size=32), out_dir=tmp_path, log=None)
    assert torch.equal(dense.blocks[0].synapse.weight, w0) and not hasattr(dense.blocks[0], GAIN)
    assert 0 < rep["synops_fraction"] and rep["dense_test_accuracy"] is not None
    for name in ("masked.pt", "pruned.pt", "pruned.net", "report.json", "report.md", "report.png"):
        assert (tmp_path / name).exists(), name
    assert rep["param_fraction"] <= 0.5 and rep["surgery_exact"]
    for key in ("test_accuracy", "param_fraction", "synops_fraction", "channels_per_layer", "synops_per_sample"):
        assert key in rep
    loaded, _ = load_trained(tmp_path / "pruned.pt")
    x = spikes_of(data, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), small(x))


def test_cli_prune_writes_everything(tmp_path, capsys):
    from sca_lava.cli import main

    code = main(["prune", "--out", str(tmp_path), "--budget", "params=0.5", "--epochs", "1",
                 "--criterion", "group-l1", "--train-samples", "16", "--test-samples", "8", "--no-progress"])
    assert code == 0
    assert "of the parameters" in capsys.readouterr().out
    for name in ("masked.pt", "pruned.pt", "pruned.net", "report.json", "report.md", "report.png"):
        assert (tmp_path / name).exists(), name


def test_cli_reports_impossible_target(tmp_path, capsys):
    from sca_lava.cli import main

    code = main(["prune", "--out", str(tmp_path), "--budget", "params=0.0001", "--epochs", "1",
                 "--train-samples", "8", "--test-samples", "8", "--no-progress"])
    assert code == 2
    assert "cannot be met" in capsys.readouterr().err


@pytest.mark.lava
def test_pruned_export_runs_in_lava_like_slayer(data, tmp_path):
    from sca_lava.deploy.agreement import compare_with_slayer

    model, _ = masked_net(seed=5)
    small = shrink(model)
    small.export_hdf5(tmp_path / "pruned.net")
    spikes = encode(data.test_x[:3], 8)
    agreement, _ = compare_with_slayer(small, str(tmp_path / "pruned.net"), spikes, data.test_y[:3],
                                       progress=False)
    assert agreement.spike_agreement == 1.0, agreement.first_mismatch
    # the masked net exports the same weights (gains and masks folded by the hook)
    model.export_hdf5(tmp_path / "masked.net")
    agreement, _ = compare_with_slayer(model, str(tmp_path / "masked.net"), spikes, progress=False)
    assert agreement.spike_agreement == 1.0
