"""Training loop, determinism, checkpoints and resume."""

from __future__ import annotations

import pytest
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.models import build_network
from sca_lava.models.config import small_config
from sca_lava.training import TrainConfig, Trainer, load_checkpoint
from sca_lava.training.checkpoint import load_trained


def _trainer(seed=0):
    return Trainer(build_network(small_config(), seed=seed), TrainConfig(epochs=3, seed=seed, batch_size=32))


def test_training_learns_real_digits(trained_small):
    model, _, data, trainer = trained_small
    hist = trainer.history
    assert len(hist) == 3
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["test_accuracy"] > 0.6  # 10 classes: chance is 0.1
    assert len(hist[-1]["firing_rates"]) == len(model.blocks)


def test_resume_gives_the_uninterrupted_result(mnist5k, tmp_path):
    data = mnist5k.subset(train=160, test=40)
    full = _trainer()
    full.fit(data, epochs=3, progress=False, log=None)

    ckpt = tmp_path / "model.pt"
    first = _trainer()
    first.fit(data, epochs=2, checkpoint=ckpt, progress=False, log=None)
    resumed = _trainer()
    resumed.load(load_checkpoint(ckpt))
    assert resumed.epoch == 2
    resumed.fit(data, epochs=3, progress=False, log=None)
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert full.history == resumed.history


def test_checkpoint_loads_weights_only(mnist5k, tmp_path):
    data = mnist5k.subset(train=64, test=20)
    trainer = _trainer()
    trainer.fit(data, epochs=1, checkpoint=tmp_path / "m.pt", progress=False, log=None)
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert state["epoch"] == 1 and state["config"]["layers"][0]["out"] == 8
    model, _ = load_trained(tmp_path / "m.pt")
    for a, b in zip(model.state_dict().values(), trainer.model.state_dict().values()):
        assert torch.equal(a, b)


def test_unreadable_checkpoints(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ScaLavaError, match="unreadable checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(ScaLavaError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(ScaLavaError, match="not an sca_lava checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_empty_training_set_is_an_error(mnist5k):
    with pytest.raises(ScaLavaError, match="empty"):
        _trainer().fit(mnist5k.subset(train=0), progress=False, log=None)


def test_shift_augmentation_moves_each_image_within_the_range():
    import numpy as np

    from sca_lava.training.trainer import shift_images

    x = np.zeros((200, 1, 9, 9), dtype=np.float32)
    x[:, 0, 4, 4] = 1.0
    out = shift_images(x, 2, np.random.default_rng(0))
    assert out.shape == x.shape and (out.reshape(200, -1).sum(1) == 1).all()  # moved, not lost
    ys, xs = np.divmod(out[:, 0].reshape(200, 81).argmax(1), 9)
    offsets = set(zip((ys - 4).tolist(), (xs - 4).tolist()))
    assert offsets <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)} and len(offsets) == 25
    again = shift_images(x, 2, np.random.default_rng(0))
    assert np.array_equal(out, again)


def test_shift_augmentation_changes_training_deterministically(mnist5k):
    data = mnist5k.subset(train=64, test=20)

    def weights(shift):
        t = Trainer(build_network(small_config(), seed=0), TrainConfig(epochs=1, seed=0, shift=shift))
        t.fit(data, progress=False, log=None)
        return t.model.blocks[0].synapse.weight.detach().clone()

    a, b, plain = weights(2), weights(2), weights(0)
    assert torch.equal(a, b) and not torch.equal(a, plain)


def test_rate_floor_pushes_a_silent_hidden_layer_back_up():
    """The penalty is zero above the floor, one per silent layer, and its
    gradient raises the rate of a layer below the floor."""
    from sca_lava.training.trainer import rate_floor_penalty

    busy = torch.full((2, 3, 4), 0.5)
    silent = torch.zeros(2, 3, 4, requires_grad=True)
    assert float(rate_floor_penalty([busy], 0.02)) == 0.0
    pen = rate_floor_penalty([busy, silent], 0.02)
    assert float(pen) == pytest.approx(1.0)
    pen.backward()
    assert torch.all(silent.grad < 0)  # descending the loss raises the rate


def test_rate_floor_revives_a_layer_silenced_by_pruning():
    """Real SLAYER training: a net whose hidden layer was made silent trains
    back to firing with the floor, and stays silent without it."""
    from sca_lava.data import load_mnist5k
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config

    data = load_mnist5k(0).subset(train=64, test=32)
    rates = {}
    for floor in (0.0, 0.05):
        cfg = small_config()
        cfg.num_steps = 8
        model = build_network(cfg, 0)
        with torch.no_grad():
            model.blocks[1].synapse.weight.mul_(0.05)  # second layer far below its threshold
        trainer = Trainer(model, TrainConfig(epochs=2, lr=3e-3, batch_size=16, rate_floor=floor))
        rates[floor] = trainer.fit(data, progress=False, log=None)[-1]["firing_rates"][1]
    assert rates[0.05] > 0.01 > rates[0.0]


@pytest.mark.parametrize("floor", [-0.1, 1.5, float("nan")])
def test_rate_floor_outside_0_1_is_a_one_line_error(floor):
    with pytest.raises(ScaLavaError, match="rate_floor"):
        TrainConfig(rate_floor=floor).validate()


def test_distillation_trains_towards_the_teacher_not_the_labels(mnist5k):
    """Real SLAYER: with distill=1 and a teacher identical to the student the
    loss is exactly 0 (labels ignored); with distill=0 it is the label loss;
    a teacher whose rates differ gives a positive loss and a gradient."""
    import copy

    from sca_lava.training.trainer import distill_loss

    data = mnist5k.subset(train=32, test=16)
    cfg = small_config()
    cfg.num_steps = 8
    losses = {}
    for weight in (0.0, 1.0):
        model = build_network(cfg, 0)
        tcfg = TrainConfig(epochs=1, lr=1e-12, lr_min=1e-12, batch_size=16, distill=weight)
        trainer = Trainer(model, tcfg, teacher=copy.deepcopy(model))
        losses[weight] = trainer.fit(data, progress=False, log=None)[-1]["train_loss"]
    assert losses[1.0] == 0.0 < losses[0.0]
    student = torch.zeros(2, 3, 4, requires_grad=True)
    teacher = torch.zeros(2, 3, 4)
    teacher[0, 1] = 1.0
    loss = distill_loss(student, teacher)
    loss.backward()
    assert float(loss) == 1.0 and float(student.grad[0, 1].sum()) < 0


def test_distillation_without_a_teacher_is_a_one_line_error(mnist5k):
    with pytest.raises(ScaLavaError, match="teacher"):
        Trainer(build_network(small_config(), 0), TrainConfig(distill=0.5))
    with pytest.raises(ScaLavaError, match="distill"):
        TrainConfig(distill=1.5).validate()


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    """Issue 32: `train --lr 1e308` trained a diverged network (test 0.10) and
    saved it with exit 0. Here epoch 1 trains (lr 3e-3), the step schedule
    then multiplies the rate by 1e30: epoch 2 diverges, the command stops with
    one line and the checkpoint of epoch 1 stays."""
    from sca_lava.cli import main
    from sca_lava.training import load_checkpoint

    out = tmp_path / "run"
    code = main(["train", "--config", "tiny", "--epochs", "2", "--lr-schedule", "step", "--lr-step", "1",
                 "--lr-gamma", "1e30", "--train-samples", "128", "--test-samples", "32", "--out", str(out),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "training diverged in epoch 2" in err and "epoch 1 is kept" in err
    assert load_checkpoint(out / "model.pt")["epoch"] == 1
    assert not (out / "history.json").exists()


@pytest.mark.parametrize("samples, message", [(32, "blocks.0.synapse.weight holds NaN or infinity"),
                                              (288, "overflows the optimiser's float32 step")])
def test_a_learning_rate_beyond_float32_is_one_line(tmp_path, capsys, samples, message):
    """--lr 1e308: Adam's first step size is inf (weights become inf/NaN while
    the one batch's loss, taken before the step, looks fine); its later steps
    overflow float32 (a torch traceback; from the 8th, where lr / (1 - 0.9**t) is finite)."""
    from sca_lava.cli import main

    code = main(["train", "--config", "tiny", "--lr", "1e308", "--epochs", "1", "--train-samples", str(samples),
                 "--test-samples", "8", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and "lower --lr" in err, err
    assert not (tmp_path / "run" / "model.pt").exists()
