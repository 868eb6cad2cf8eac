"""The demo workflow's own logic (the whole pipeline runs in notebook 01's test)."""

from __future__ import annotations

import pytest

from sca_lava.errors import ScaLavaError
from sca_lava.models import build_network
from sca_lava.models.config import named_config
from sca_lava.training import TrainConfig, Trainer
from sca_lava.workflow import RECIPES, DemoConfig, Stages, resume_dense, run_demo


def test_stages_time_each_named_stage_and_accumulate():
    lines = []
    stage = Stages(lines.append)
    with stage("a", "first"):
        pass
    with stage("b", "second"):
        pass
    with pytest.raises(RuntimeError), stage("a", "first again"):
        raise RuntimeError("a failing stage is still timed")
    assert list(stage.seconds) == ["a", "b"] and all(v >= 0 for v in stage.seconds.values())
    assert sum("[stage a:" in line for line in lines) == 2 and any("== second" in line for line in lines)


def test_recipe_defaults_per_network_and_explicit_values_win():
    assert DemoConfig(arch="mnist_small_dense").recipe("epochs") == 8
    assert DemoConfig(arch="mnist_vgg").recipe("shift") == 1
    assert DemoConfig(arch="mnist_vgg").recipe("rate_floor") == 0.02
    assert DemoConfig(arch="mnist_vgg", rate_floor=0.0).recipe("rate_floor") == 0.0
    assert DemoConfig(arch="mnist_vgg", epochs=3).recipe("epochs") == 3
    assert DemoConfig(arch="mnist_vgg").recipe("prune_lr") > DemoConfig(arch="mnist_small_dense").recipe("prune_lr")
    assert DemoConfig(arch="mnist_vgg", prune_lr=1e-4, distill=0.5).recipe("prune_lr") == 1e-4
    assert DemoConfig(arch="mnist_vgg", distill=0.5).recipe("distill") == 0.5
    assert all(set(r) == set(RECIPES["mnist_vgg"]) for r in RECIPES.values())  # every network has every key


@pytest.mark.parametrize("budget", ["energy", "energy=abc", "volume=0.3"])
def test_bad_budget_fails_before_any_training(tmp_path, budget):
    with pytest.raises(ScaLavaError):
        run_demo(DemoConfig(out=str(tmp_path / "demo"), arch="tiny", budget=budget), log=None)
    assert not (tmp_path / "demo" / "dense.pt").exists()


def test_resume_refuses_another_network_or_recipe(tmp_path):
    ckpt = tmp_path / "dense.pt"
    Trainer(build_network(named_config("tiny")), TrainConfig(epochs=3, seed=0)).save(ckpt)
    other_net = Trainer(build_network(named_config("mnist_small_dense")), TrainConfig(epochs=3, seed=0))
    with pytest.raises(ScaLavaError, match="another network"):
        resume_dense(other_net, ckpt, log=None)
    other_recipe = Trainer(build_network(named_config("tiny")), TrainConfig(epochs=5, seed=0))
    with pytest.raises(ScaLavaError, match="other settings \\(epochs\\)"):
        resume_dense(other_recipe, ckpt, log=None)
    same = Trainer(build_network(named_config("tiny")), TrainConfig(epochs=3, seed=0))
    resume_dense(same, ckpt, log=None)
    assert same.epoch == 0
