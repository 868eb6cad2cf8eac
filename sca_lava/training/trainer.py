"""The SLAYER training loop.

Spike-rate loss (``slayer.loss.SpikeRate``) with Adam and a cosine learning
rate over the epochs; every epoch reports
train loss/accuracy, test accuracy and per-layer firing rates. Determinism:
the batch order of epoch e comes from ``default_rng([seed, e])`` and torch is
re-seeded per epoch, so a run resumed from a checkpoint after epoch e gives
the same weights as an uninterrupted one.

Callbacks (:class:`Callback`) see the model after the forward pass, after the
backward pass and at epoch ends; their state is part of the checkpoint. SCA
pruning is such a callback.

Devices and data parallelism come from a
:class:`~sca_lava.training.distributed.DistContext` (one CPU process by
default; under ``torchrun`` one process per shard of every global batch).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sca_lava.data import DataSplit, encode
from sca_lava.errors import ScaLavaError
from sca_lava.metrics import Accuracy, LayerBatch, SpikeCount, measure
from sca_lava.models import NetworkConfig, SpikingNet, build_network
from sca_lava.training.checkpoint import load_checkpoint, save_checkpoint
from sca_lava.training.distributed import (
    DistContext,
    check_world_size,
    data_parallel,
    evaluate_sharded,
    global_batches,
    shard,
)

#: an epoch whose label loss exceeds this many times a silent network's has diverged
DIVERGED = 4.0


@dataclass
class TrainConfig:
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-3
    lr_schedule: str = "cosine"  # "cosine" (to lr_min at the last epoch), "step" or "constant"
    lr_min: float = 1e-4
    lr_step: int = 100  # "step": multiply the rate by lr_gamma every lr_step epochs
    lr_gamma: float = 0.1
    optimizer: str = "adam"  # or "sgd" (with momentum)
    momentum: float = 0.9
    seed: int = 0
    encoding: str = "rate-regular"
    true_rate: float = 0.4
    false_rate: float = 0.05
    eval_batch_size: int = 200
    shift: int = 0  # augmentation: random shifts of up to this many pixels (static images only)
    flip: bool = False  # augmentation: random horizontal flips (static images only)
    rate_floor: float = 0.0  # hidden layers firing below this mean rate are pushed up (0: off)
    rate_weight: float = 0.05  # weight of that push per sample (a silent layer costs rate_weight)
    distill: float = 0.0  # weight in [0, 1] of matching a teacher's output rates (pruning: the dense net)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        if not isinstance(d, dict):
            raise ScaLavaError(f"train config must be a mapping, got {type(d).__name__}")
        cfg = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Types and ranges (a checkpoint's recorded config is read back through here)."""
        from sca_lava.data import ENCODINGS
        from sca_lava.netx.contract import SEED_MAX

        for name in ("epochs", "batch_size", "eval_batch_size", "seed", "lr_step", "shift"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not (0 if name in ("seed", "shift") else 1) <= v <= (
                    SEED_MAX if name == "seed" else 10**7):
                raise ScaLavaError(f"train config: {name} must be a positive integer in range, got {v!r}"[:160])
        for name in ("lr", "lr_min", "true_rate", "false_rate", "lr_gamma", "momentum", "rate_floor", "rate_weight", "distill"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ScaLavaError(f"train config: {name} must be a finite number >= 0, got {v!r}"[:160])
        for name, allowed in (("lr_schedule", ("cosine", "step", "constant")), ("optimizer", ("adam", "sgd")),
                              ("flip", (False, True))):
            if getattr(self, name) not in allowed:
                raise ScaLavaError(f"train config: {name} must be one of {', '.join(allowed)}, "
                                   f"got {getattr(self, name)!r}"[:160])
        if self.rate_floor > 1:
            raise ScaLavaError(f"train config: rate_floor is a firing rate in [0, 1], got {self.rate_floor!r}"[:160])
        if self.distill > 1:
            raise ScaLavaError(f"train config: distill is a loss weight in [0, 1], got {self.distill!r}"[:160])
        if self.encoding not in ENCODINGS:
            raise ScaLavaError(f"train config: encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}"[:160])


def distill_loss(student_out, teacher_out):
    """Squared distance of the output firing rates to the teacher's, summed
    (the label loss's scale): the dense net's graded rates are richer targets
    than one-hot rates for a pruned net re-learning the same function."""
    return torch.nn.functional.mse_loss(student_out.mean(-1), teacher_out.mean(-1), reduction="sum")


def rate_floor_penalty(outputs, floor: float):
    """Sum over the given layer outputs of (max(0, floor - mean rate) / floor)^2:
    0 above the floor, 1 for a silent layer."""
    return sum((torch.relu(floor - s.mean()) / floor) ** 2 for s in outputs)


class Callback:
    """Hooks into the loop. ``name`` keys the callback's checkpoint state."""

    name = "callback"

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def after_backward(self, trainer: Trainer) -> None: ...

    def loss(self, trainer: Trainer, outs: list) -> torch.Tensor | None:
        """An extra loss term on this batch's block outputs, summed over the
        batch like the label loss (None: none)."""
        return None

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


def shift_images(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by a random (dy, dx) in [-max_shift, max_shift], zero
    filled. Only the training input changes; deployment sees the raw digits."""
    n, _, h, w = x.shape
    s = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
    dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def flip_images(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image mirrored left-right with probability 1/2."""
    flips = rng.random(len(x)) < 0.5
    out = x.copy()
    out[flips] = x[flips][..., ::-1]
    return out


def _spikes(x: np.ndarray, steps: int, encoding: str, events: bool, seed: int = 0, indices=None) -> torch.Tensor:
    """Spikes of samples ``x`` at positions ``indices`` of their split (the
    rate-poisson noise is keyed by (seed, index), see ``encode``)."""
    arr = x if events else encode(x, steps, encoding, seed=seed, indices=indices)
    return torch.from_numpy(np.ascontiguousarray(arr)).float()


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def slayer_batches(model: SpikingNet, x: np.ndarray, y: np.ndarray | None, num_steps: int,
                   encoding: str = "rate-regular", batch_size: int = 200, events: bool = False,
                   seed: int = 0, index: np.ndarray | None = None) -> Iterator[LayerBatch]:
    """SLAYER's batches for the one measurement loop (:func:`sca_lava.metrics.measure`):
    per block (flatten included), what it received and what it emitted; run on
    the model's device, handed over on the CPU. ``index``: the samples'
    indices in their split (keys rate-poisson noise; default 0..N-1)."""
    model.eval()
    dev = model_device(model)
    for start in range(0, len(x), batch_size):
        rows = np.arange(start, min(start + batch_size, len(x)))
        xb = _spikes(x[start:start + batch_size], num_steps, encoding, events, seed,
                     rows if index is None else np.asarray(index)[rows])
        with torch.no_grad():
            outs = model.forward_all(xb.to(dev))
        if dev.type != "cpu":
            outs = [o.cpu() for o in outs]
        yield LayerBatch([xb, *outs[:-1]], outs, None if y is None else y[start:start + batch_size])


def evaluate_model(model: SpikingNet, x: np.ndarray, y: np.ndarray, num_steps: int,
                   encoding: str = "rate-regular", batch_size: int = 200, events: bool = False,
                   seed: int = 0, index: np.ndarray | None = None) -> dict:
    """Accuracy (most output spikes; ties to the lowest class) and mean firing
    rate per block on a data set (``index``: see :func:`slayer_batches`)."""
    if len(x) == 0:
        raise ScaLavaError("no samples to evaluate")
    res = measure(slayer_batches(model, x, y, num_steps, encoding, batch_size, events, seed, index),
                  [Accuracy(), SpikeCount(len(model.blocks))])
    return {"accuracy": res["accuracy"], "firing_rates": res["spikes"]["firing_rate"]}


class Trainer:
    def __init__(self, model: SpikingNet, train_config: TrainConfig, callbacks: list[Callback] | None = None,
                 dist: DistContext | None = None, teacher: SpikingNet | None = None):
        from sca_lava._lava_dl import slayer as _slayer

        slayer = _slayer()

        self.model = model
        self.cfg = train_config
        self.dist = dist or DistContext()
        self.callbacks = list(callbacks or [])
        train_config.validate()
        if train_config.distill > 0 and teacher is None:
            raise ScaLavaError("distillation (--distill) needs a trained dense teacher: prune --from a checkpoint")
        self.teacher = teacher if train_config.distill > 0 else None
        self.loss_fn = slayer.loss.SpikeRate(
            true_rate=train_config.true_rate, false_rate=train_config.false_rate, reduction="sum")
        self.epoch = 0
        self.history: list[dict] = []
        self.resumed_contract: dict | None = None
        for cb in self.callbacks:
            cb.on_train_begin(self)
        # moved and wrapped after callbacks so parameters they add (e.g. channel gains) follow
        self.model.to(self.dist.device)
        if self.teacher is not None:
            self.teacher.to(self.dist.device).eval()
        self.forward_all = data_parallel(model, self.dist) if self.dist.enabled else model.forward_all
        self.optimizer = self._optimizer()

    def _optimizer(self) -> torch.optim.Optimizer:
        cfg = self.cfg
        if cfg.optimizer == "adam":
            return torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        raise ScaLavaError(f"unknown optimizer {cfg.optimizer!r} (adam or sgd)")

    # --- checkpoints -------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "config": self.model.config.to_dict(),
            "train_config": asdict(self.cfg),
            "history": self.history,
            "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
            "contract": self.model.contract.to_dict() if self.model.contract is not None else None,
            "world_size": self.dist.world_size,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Rank 0 writes (atomically); the other processes wait for it."""
        if self.dist.is_main:
            save_checkpoint(path, self.state_dict())
        self.dist.barrier()

    def load(self, state: dict) -> None:
        """Continue from a checkpoint (validated by ``load_checkpoint``); a
        checkpoint of another network or optimiser, or written by another
        number of processes, is a one-line error."""
        check_world_size(state, self.dist)
        load_weights(self.model, state["model"], "checkpoint", strict=True)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ScaLavaError(f"checkpoint: optimizer state does not fit this network ({_first_line(exc)})") from None
        self.epoch = int(state["epoch"])
        self.history = list(state.get("history", []))
        self.resumed_contract = state.get("contract")
        saved = state.get("callbacks", {})
        for cb in self.callbacks:
            if cb.name in saved:
                cb.load_state_dict(saved[cb.name])

    # --- loop ----------------------------------------------------------------
    def lr_at(self, epoch: int, epochs: int) -> float:
        """Learning rate of (0-based) ``epoch``: a pure function of the epoch, so
        a resumed run uses the same rates as an uninterrupted one."""
        cfg = self.cfg
        if cfg.lr_schedule == "step":
            return cfg.lr * cfg.lr_gamma ** (epoch // max(cfg.lr_step, 1))
        if cfg.lr_schedule == "constant" or epochs <= 1:
            return cfg.lr
        if cfg.lr_schedule != "cosine":
            raise ScaLavaError(f"unknown lr schedule {cfg.lr_schedule!r} (cosine, step or constant)")
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * epoch / (epochs - 1)))

    def train_epoch(self, data: DataSplit, progress: bool = True) -> dict:
        from sca_lava.progress import progress_bar

        cfg, model, ctx = self.cfg, self.model, self.dist
        lr = self.lr_at(self.epoch, cfg.epochs)  # the configured total, also when fit() stops early
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        steps = model.config.num_steps
        torch.manual_seed(cfg.seed * 1000 + self.epoch)
        n_train = len(data.train_x)
        batches = global_batches(n_train, cfg.batch_size, cfg.seed, self.epoch, ctx.world_size)
        static = not data.events
        augment = np.random.default_rng([cfg.seed, self.epoch, 1]) if cfg.shift > 0 and static else None
        flipper = np.random.default_rng([cfg.seed, self.epoch, 2]) if cfg.flip and static else None
        model.train()
        total_loss, label_loss, correct, seen = 0.0, 0.0, 0, 0
        bar = progress_bar(batches, desc=f"epoch {self.epoch + 1}", unit="batch", enabled=progress and ctx.is_main)
        for batch in bar:
            idx = shard(batch, ctx.rank, ctx.world_size)
            if augment is None and flipper is None:
                images = data.train_x[idx]
            else:  # drawn for the whole global batch, so every process sees what one process would
                images = data.train_x[batch]
                if augment is not None:
                    images = shift_images(images, cfg.shift, augment)
                if flipper is not None:
                    images = flip_images(images, flipper)
                images = shard(images, ctx.rank, ctx.world_size)
            xb = _spikes(images, steps, cfg.encoding, data.events, cfg.seed, idx).to(ctx.device)
            yb = torch.from_numpy(data.train_y[idx]).to(ctx.device)
            outs = self.forward_all(xb)
            loss = self.loss_fn(outs[-1], yb)
            label_loss += loss.item()
            if self.teacher is not None:
                with torch.no_grad():
                    target = self.teacher(xb)
                loss = (1 - cfg.distill) * loss + cfg.distill * distill_loss(outs[-1], target)
            if cfg.rate_floor > 0:  # keep hidden layers from falling silent (see TrainConfig)
                loss = loss + cfg.rate_weight * rate_floor_penalty(outs[:-1], cfg.rate_floor) * len(idx)
            for cb in self.callbacks:
                extra = cb.loss(self, outs)
                if extra is not None:
                    loss = loss + extra
            self.optimizer.zero_grad()
            loss.backward()
            for cb in self.callbacks:
                cb.after_backward(self)
            try:
                self.optimizer.step()
            except RuntimeError as exc:  # Adam's step size lr / (1 - beta1) beyond float32
                if "overflow" not in str(exc):
                    raise
                raise ScaLavaError(f"the learning rate {lr:g} overflows the optimiser's float32 step "
                                   f"({_first_line(exc)}): lower --lr") from None
            total_loss += loss.item()
            correct += int((outs[-1].detach().sum(-1).argmax(1) == yb).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{loss.item() / len(idx):.3f}")
        if ctx.enabled:
            totals = ctx.all_reduce_(torch.tensor([total_loss, label_loss, correct, seen], dtype=torch.float64))
            total_loss, label_loss, correct, seen = float(totals[0]), float(totals[1]), int(totals[2]), int(totals[3])
        self.check_converging(total_loss / seen, label_loss / seen, lr)
        return {"train_loss": total_loss / seen, "train_accuracy": correct / seen, "lr": lr}

    def check_converging(self, loss: float, label_loss: float, lr: float) -> None:
        """Stop (one-line error, before this epoch is checkpointed, so the last
        good checkpoint stays) when the epoch's loss or a weight is not finite or its label
        loss is over :data:`DIVERGED` times that of a network that never
        spikes: training made the network far worse than silent (measured,
        lr 1e30: 8-12x; any lr that trains: below 1.2x). Every process of a
        distributed run sees the same reduced numbers and stops alike."""
        epoch = self.epoch + 1
        kept = (f"the checkpoint of epoch {self.epoch} is kept" if self.epoch else "nothing was saved")
        if not (math.isfinite(loss) and math.isfinite(label_loss)):
            raise ScaLavaError(f"training diverged in epoch {epoch}: the loss is {loss} (lr {lr:g}); {kept}: "
                               "lower --lr")
        bad = [name for name, w in self.model.named_parameters() if not bool(torch.isfinite(w).all())]
        if bad:
            raise ScaLavaError(f"training diverged in epoch {epoch}: {bad[0]} holds NaN or infinity (lr {lr:g}); "
                               f"{kept}: lower --lr")
        silent = self.silent_loss()
        if label_loss > DIVERGED * silent:
            raise ScaLavaError(f"training diverged in epoch {epoch}: the loss per sample {label_loss:.3g} is "
                               f"{label_loss / silent:.1f}x that of a network that never spikes ({silent:.3g}; "
                               f"lr {lr:g}); {kept}: lower --lr")

    def silent_loss(self) -> float:
        """The label loss per sample of an output layer that never spikes."""
        out = self.model.config.num_classes
        return float(self.loss_fn(torch.zeros(1, out, self.model.config.num_steps), torch.zeros(1, dtype=torch.long)))

    def fit(self, data: DataSplit, epochs: int | None = None, checkpoint: str | os.PathLike | None = None,
            progress: bool = True, log=print) -> list[dict]:
        """Train up to epoch ``epochs`` (counting resumed ones; default the
        configured total, which the lr schedule always spans, so stopping early
        and resuming gives the uninterrupted run); evaluate on the test split
        and checkpoint atomically after each epoch. The network's input
        contract comes from ``data``; a resumed run must see the same."""
        epochs = self.cfg.epochs if epochs is None else min(epochs, self.cfg.epochs)
        if len(data.train_x) == 0:
            raise ScaLavaError("training set is empty")
        from sca_lava.netx.contract import from_data

        contract = from_data(data, self.model.config.num_steps, self.cfg.encoding, self.cfg.seed)
        if self.resumed_contract is not None and self.resumed_contract != contract.to_dict():
            old, new = self.resumed_contract, contract.to_dict()
            diff = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in new if old.get(k) != new[k])
            raise ScaLavaError(f"--resume: the checkpoint was trained on other inputs ({diff}); "
                               "resume with the same data options")
        self.model.contract = contract
        while self.epoch < epochs:
            record = {"epoch": self.epoch + 1, **self.train_epoch(data, progress)}
            ev = evaluate_sharded(self.model, data.test_x, data.test_y, self.model.config.num_steps,
                                  self.cfg.encoding, self.cfg.eval_batch_size, data.events, self.dist,
                                  self.cfg.seed)
            record["test_accuracy"] = ev["accuracy"]
            record["firing_rates"] = ev["firing_rates"]
            self.epoch += 1
            for cb in self.callbacks:
                cb.on_epoch_end(self, self.epoch, record)
            self.history.append(record)
            if log and self.dist.is_main:
                rates = " ".join(f"{r:.3f}" for r in record["firing_rates"])
                log(f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  "
                    f"train {record['train_accuracy']:.4f}  test {record['test_accuracy']:.4f}  rates [{rates}]")
            if checkpoint is not None:
                self.save(checkpoint)
        return self.history


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def load_weights(model: torch.nn.Module, weights: dict, where: str, strict: bool = False) -> list[str]:
    """``model.load_state_dict`` with one-line errors for weights of another
    architecture (missing or wrongly shaped tensors); returns unexpected keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    if missing:
        raise ScaLavaError(f"{where}: weights do not match the network config (missing {missing[:3]})")
    for key, ref in own.items():
        if tuple(weights[key].shape) != tuple(ref.shape):
            raise ScaLavaError(f"{where}: {key} has shape {tuple(weights[key].shape)} but the network config "
                               f"needs {tuple(ref.shape)} (a checkpoint of another architecture?)")
    unexpected = [k for k in weights if k not in own]
    if strict and unexpected:
        raise ScaLavaError(f"{where}: weights the network does not have ({unexpected[:3]})")
    model.load_state_dict(weights, strict=False)
    return unexpected


def model_from_checkpoint(state: dict) -> SpikingNet:
    """Rebuild the network of a checkpoint (dense networks; pruning adds its
    own parameters through its callback)."""
    from sca_lava.netx.contract import InputContract

    model = build_network(NetworkConfig.from_dict(state["config"]))
    unexpected = load_weights(model, state["model"], "checkpoint")
    if any("sca_" in key for key in unexpected):
        raise ScaLavaError("this is a masked pruning checkpoint: use the surgered pruned.pt next to it "
                           "(or sca_lava.pruning.load_masked)")
    if unexpected:
        raise ScaLavaError(f"checkpoint: weights the network does not have ({unexpected[:3]})")
    if state.get("contract") is not None:
        model.contract = InputContract.from_dict(state["contract"], "checkpoint")
    return model


def load_trained(path: str | os.PathLike) -> tuple[SpikingNet, dict]:
    state = load_checkpoint(path)
    return model_from_checkpoint(state), state
