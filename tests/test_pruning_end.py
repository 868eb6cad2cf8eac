"""A finished net meets its budget, of every kind, at the end of any
schedule, or the run fails in one line (issue 31): the ramp's last epoch is
always an update, the final check covers params/channels/cores too and
trims on the last real scores, an unreachable budget leaves the structure
alone, and a currency that is not monotone in the channels (cores) is
searched without assuming it is."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_pruning_controls import lively, tiny_config

from sca_lava.data import encode
from sca_lava.errors import ScaLavaError
from sca_lava.geometry import geometry
from sca_lava.models import build_network
from sca_lava.models.graph import as_graph
from sca_lava.pruning import PruneConfig, SCAPruner, select_structure


@pytest.fixture(scope="module")
def data(mnist5k):
    return mnist5k.subset(train=64, test=32)


@pytest.mark.parametrize("budget,profile", [("params=0.3", None), ("channels=0.4", None), ("cores=5", "loihi1")])
def test_the_ramps_last_epoch_is_an_update_whatever_the_interval(budget, profile):
    """6 epochs, interval 3: the default ramp ends after epoch 4. Updates ran
    at 3 only (4 is no multiple of 3, and 6 only corrects drift before the
    last epoch), so the net ended at epoch 3's budget, above the target."""
    pruner = SCAPruner(PruneConfig(criterion="random", budget=budget, profile=profile, interval=3, seed=2))
    pruner.attach(build_network(tiny_config(), 0), 6)
    assert pruner.ramp == 4 and pruner.due(3) and pruner.due(4) and not pruner.due(5)
    for epoch in range(1, 7):
        pruner.on_epoch_end(None, epoch, {})
    assert [u["epoch"] for u in pruner.updates] == [3, 4]
    assert pruner.current_cost() <= pruner.final_budget()


def test_the_final_check_trims_a_structural_budget_missed_by_the_schedule():
    pruner = SCAPruner(PruneConfig(criterion="group-l1", budget="params=0.3", ramp_epochs=4))
    pruner.attach(build_network(tiny_config(), 0), 6)
    pruner.update(2)  # an intermediate budget, and nothing after it
    assert pruner.current_cost() > pruner.final_budget()
    trims = pruner.final_check(6)
    assert trims and trims[-1]["check"] == "final: structure" and trims[-1]["regrown"] == 0
    assert pruner.current_cost() <= pruner.final_budget()


def test_a_trim_right_after_an_update_ranks_on_that_updates_scores(data):
    """A 1-epoch prune: the update and the final check run at the same epoch,
    and the update reset the taps. The trim ranked all-zero scores, i.e. by
    channel index (block 0 emptied first under sca-paper's plain ranking)."""
    ref = encode(data.train_x[:32], 8)
    model = lively()
    pruner = SCAPruner(PruneConfig(criterion="sca-paper", budget="synops=0.5", ramp_epochs=1, regrow=0.0),
                       reference=ref)
    pruner.attach(model, 1)
    model.train()  # faint training digits: the update prices less activity than the calibration digits have
    as_graph(model).outputs(torch.from_numpy(encode(data.train_x[:16] * 0.3, 8)).float())
    record = {}
    pruner.on_epoch_end(None, 1, record)
    update, *trims = pruner.updates
    assert "check" not in update and all(t["check"].startswith("final") for t in trims)
    assert trims and record["final_check"]["pruned"] > 0
    scores = {int(b): np.asarray(v) for b, v in update["scores"].items()}
    kept = pruner.masks()
    cut = [scores[b][c] for t in trims for b, cs in ((int(k), v) for k, v in t["pruned_channels"].items()) for c in cs]
    alive = [scores[b][c] for b, m in kept.items() if m.sum() > 1 for c in np.flatnonzero(m)]
    assert max(cut) <= min(alive), "the trim must remove the lowest-scored channels, not the first ones"


def test_a_budget_still_missed_after_the_final_check_is_a_one_line_error(data):
    ref = encode(data.train_x[:32], 8)
    model = build_network(tiny_config(), 0)
    pruner = SCAPruner(PruneConfig(budget="synops=0.1", ramp_epochs=1), reference=ref)
    pruner.attach(model, 2)
    model.train()
    as_graph(model).outputs(torch.from_numpy(encode(data.train_x[:16], 8)).float())
    pruner.on_epoch_end(None, 1, {})
    pruner.reference_spikes = np.ones_like(ref)  # the finished net fires far more than it was priced at
    with pytest.raises(ScaLavaError, match="ends over its budget synops=0.1") as err:
        pruner.on_epoch_end(None, 2, {})
    assert "\n" not in str(err.value)


def test_an_unreachable_budget_leaves_the_structure_alone():
    geo = geometry(tiny_config())
    rng = np.random.default_rng(0)
    scores = {g.block: rng.random(g.out) for g in geo if g.prunable}
    active = {b: rng.random(len(s)) < 0.7 for b, s in scores.items()}
    for m in active.values():
        m[0] = True

    def cost(m):
        return float(sum(v.sum() for v in m.values()))

    new, info = select_structure(geo, scores, active, cost=cost, budget=2.0)  # 3 layers: the floor is 3
    assert not info["budget_met"] and info["pruned"] == 0  # before: every layer cut to 1 channel
    assert all(np.array_equal(new[b], active[b]) for b in active)


def test_a_budget_that_is_not_monotone_in_the_channels_is_searched_correctly():
    """Costs that rise as channels go (an allocator splitting 8 channels into
    more tiles than 9): whatever the cost of each structure, an update that
    says the budget holds is right, and it says so whenever some prefix of
    its removal order meets it (random cost tables, every budget)."""
    geo = geometry(tiny_config())
    blocks = [g.block for g in geo if g.prunable]
    rng = np.random.default_rng(1)
    for case in range(150):
        scores = {g.block: rng.random(g.out) for g in geo if g.prunable}
        active = {b: np.ones(len(s), bool) for b, s in scores.items()}
        table = rng.integers(1, 12, size=(9, 17, 33)).astype(float)  # a cost for every channel count

        def cost(m, table=table):
            c = [int(m[b].sum()) for b in blocks]
            return table[min(c[0], 8), min(c[1], 16), min(c[2], 32)]

        budget = float(rng.integers(1, 6))
        new, info = select_structure(geo, scores, active, cost=cost, budget=budget, monotone=False, put_back=False)
        order = sorted((scores[b][c], b, c) for b in blocks for c in range(len(scores[b])))
        room, reach, m = {b: len(scores[b]) - 1 for b in blocks}, cost(active) <= budget, \
            {b: v.copy() for b, v in active.items()}
        for _, b, c in order:  # every prefix of the removal order (the floor: one per layer)
            if room[b] > 0:
                m[b][c], room[b] = False, room[b] - 1
                reach |= cost(m) <= budget
        assert info["budget_met"] == reach, case
        if reach:
            assert cost(new) <= budget
        else:
            assert all(np.array_equal(new[b], active[b]) for b in active)


def test_cli_prune_meets_a_params_budget_whatever_the_interval_and_says_which_recipe_runs(tmp_path, capsys):
    from sca_lava.cli import main

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(tiny_config().to_dict()))
    out = tmp_path / "p"
    code = main(["prune", "--out", str(out), "--config", str(cfg), "--epochs", "4", "--interval", "2",
                 "--budget", "params=0.3", "--train-samples", "32", "--test-samples", "8", "--no-progress"])
    assert code == 0
    said = capsys.readouterr().out.splitlines()[0]
    assert said == ("pruning with criterion sca-drive, rate floor 0.02 (--criterion, --rate-floor not given: "
                    "the recommended recipe)")
    rep = json.loads((out / "report.json").read_text())
    assert rep["criterion"] == "sca-drive" and rep["train_config"]["rate_floor"] == 0.02
    assert rep["param_fraction"] <= 0.3  # it ended at the epoch-2 budget before
    assert [u["epoch"] for u in rep["updates"]] == [2, 3]
