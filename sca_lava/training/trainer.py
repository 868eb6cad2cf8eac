"""The SLAYER training loop, for any lava-dl network (a traced graph:
:mod:`sca_lava.models.graph`).

Spike-rate loss (``slayer.loss.SpikeRate``) on class labels, or any loss the
user gives (a ``slayer.loss`` module or a callable ``loss(output_spikes,
target)`` summed over the batch, e.g. for spike-train targets), with Adam and
a cosine learning rate over the epochs; every epoch reports train loss (and
accuracy on class labels), test accuracy and per-layer firing rates.
Determinism: the batch order of epoch e comes from ``default_rng([seed, e])``
and torch is re-seeded per epoch, so a run resumed from a checkpoint after
epoch e gives the same weights as an uninterrupted one. A non-finite or
diverging loss stops training with a one-line error before anything is saved.

Callbacks (:class:`Callback`) attach to the traced blocks when the trainer is
built (before a checkpoint is loaded into them), start when training starts,
see every block's output after the forward pass, run after the backward pass
and at epoch ends; their state is part of the checkpoint. SCA pruning is such
a callback.

Devices and data parallelism come from a
:class:`~sca_lava.training.distributed.DistContext` (one CPU process by
default; under ``torchrun`` one process per shard of every global batch).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict

import numpy as np
import torch

from sca_lava.data import DataSplit
from sca_lava.errors import ScaLavaError
from sca_lava.models import NetworkConfig
from sca_lava.netx.record import predictions
from sca_lava.training.checkpoint import load_weights, module_name, save_checkpoint
from sca_lava.training.config import TrainConfig
from sca_lava.training.distributed import (
    DistContext,
    check_world_size,
    data_parallel,
    global_batches,
    shard,
)
from sca_lava.training.evaluate import evaluate_sharded, is_labels, spikes_of

__all__ = ["Callback", "TrainConfig", "Trainer", "steps_of"]

#: an epoch whose label loss exceeds this many times a silent network's has diverged
DIVERGED = 4.0


def distill_loss(student_out, teacher_out):
    """Squared distance of the output firing rates to the teacher's, summed
    (the label loss's scale): the dense net's graded rates are richer targets
    than one-hot rates for a pruned net re-learning the same function."""
    return torch.nn.functional.mse_loss(student_out.mean(-1), teacher_out.mean(-1), reduction="sum")


def rate_floor_penalty(outputs, floor: float, dist: DistContext | None = None):
    """Sum over the given layer outputs of (max(0, floor - mean rate) / floor)^2:
    0 above the floor, 1 for a silent layer. Under data parallelism the mean
    is the GLOBAL batch's: every process all-reduces the layers' spike sums
    and keeps the gradient of its own part, so the summed gradients are one
    process's over the whole batch (the penalty is not linear in the rate:
    a penalty on each shard's own mean is not the batch's)."""
    if dist is None or not dist.enabled:
        return sum((torch.relu(floor - s.mean()) / floor) ** 2 for s in outputs)
    sums = [s.sum() for s in outputs]
    totals = dist.all_reduce_(torch.tensor([float(v) for v in sums] + [float(s.numel()) for s in outputs],
                                           dtype=torch.float64))
    means = [(v + (float(totals[i]) - v.detach())) / float(totals[len(sums) + i]) for i, v in enumerate(sums)]
    return sum((torch.relu(floor - m) / floor) ** 2 for m in means)


class Callback:
    """Hooks into the loop. ``name`` keys the callback's checkpoint state."""

    name = "callback"

    def on_attach(self, trainer: Trainer) -> None:
        """When the trainer is built (``trainer.graph`` is the traced network),
        before any checkpoint is loaded: add parameters, buffers and taps."""

    def on_train_begin(self, trainer: Trainer) -> None:
        """When :meth:`Trainer.fit` starts (after a checkpoint, if any, was loaded)."""

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


def steps_of(model: torch.nn.Module, train_config: TrainConfig | None = None, data: DataSplit | None = None) -> int:
    """Time steps per sample: spike data's own T, else the train config's
    ``num_steps``, else the network's config (sca_lava's nets), else its
    recorded input contract; a one-line error when nothing says."""
    if data is not None and data.events:
        return int((data.train_x if len(data.train_x) else data.test_x).shape[-1])
    if train_config is not None and train_config.num_steps is not None:
        return int(train_config.num_steps)
    for holder in (getattr(model, "config", None), getattr(model, "contract", None)):
        steps = getattr(holder, "num_steps", None)
        if steps is not None:
            return int(steps)
    raise ScaLavaError("how many time steps per sample? set TrainConfig(num_steps=...) (--steps), or give "
                       "spike data (N, ..., T)")


class Trainer:
    """Train ``model`` (any lava-dl chain; ``graph``: its trace, default
    traced from the input shape its config states). ``loss``: a callable
    ``loss(output_spikes, target)`` summed over the batch (default: lava-dl's
    spike-rate loss on class labels)."""

    def __init__(self, model: torch.nn.Module, train_config: TrainConfig, callbacks: list[Callback] | None = None,
                 dist: DistContext | None = None, teacher: torch.nn.Module | None = None, *, graph=None,
                 loss=None):
        from sca_lava._lava_dl import slayer as _slayer
        from sca_lava.models.graph import input_shape_of, trace

        slayer = _slayer()

        self.model = model
        self.cfg = train_config
        self.dist = dist or DistContext()
        self.callbacks = list(callbacks or [])
        train_config.validate()
        if graph is None:
            shape = input_shape_of(model)
            if shape is None:
                raise ScaLavaError(f"{type(model).__name__}: pass graph=sca_lava.models.graph.trace(model, "
                                   "input_shape) (its input shape is not known)")
            graph = trace(model, shape)
        self.graph = graph
        if train_config.distill > 0 and teacher is None:
            raise ScaLavaError("distillation (--distill) needs a trained dense teacher: prune --from a checkpoint")
        self.teacher = teacher if train_config.distill > 0 else None
        self.loss_fn = loss if loss is not None else slayer.loss.SpikeRate(
            true_rate=train_config.true_rate, false_rate=train_config.false_rate, reduction="sum")
        self.custom_loss = loss is not None
        self.epoch = 0
        self.history: list[dict] = []
        self.resumed_contract: dict | None = None
        self.started = False
        for cb in self.callbacks:
            cb.on_attach(self)
        # moved and wrapped after callbacks so parameters they add (e.g. channel gains) follow
        self.model.to(self.dist.device)
        if self.teacher is not None:
            self.teacher.to(self.dist.device).eval()
        self.forward_all = data_parallel(graph, self.dist) if self.dist.enabled else graph.outputs
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
        config = getattr(self.model, "config", None)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "config": config.to_dict() if isinstance(config, NetworkConfig) else None,
            "module": module_name(self.model),
            "input_shape": list(self.graph.input_shape),
            "structure": getattr(self.model, "sca_lava_structure", None),
            "train_config": asdict(self.cfg),
            "history": self.history,
            "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
            "contract": self.model.contract.to_dict() if getattr(self.model, "contract", None) else None,
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

    def batch_loss(self, outs: list, yb: torch.Tensor, xb: torch.Tensor, n: int) -> tuple[torch.Tensor, float]:
        """The batch's loss (summed over its samples; ``n``: the global batch's
        size): the label or user loss, distillation, the rate floor and the
        callbacks' terms; and the label (or user) loss alone."""
        cfg = self.cfg
        loss = self.loss_fn(outs[-1], yb)
        label = float(loss.detach())
        if self.teacher is not None:
            with torch.no_grad():
                target = self.teacher(xb)
            target = target[0] if isinstance(target, (tuple, list)) else target
            loss = (1 - cfg.distill) * loss + cfg.distill * distill_loss(outs[-1], target)
        if cfg.rate_floor > 0:  # keep hidden layers from falling silent (see TrainConfig)
            ctx = self.dist
            floor = cfg.rate_weight * rate_floor_penalty(outs[:-1], cfg.rate_floor, ctx) * n
            if ctx.enabled:  # every process adds the whole batch's term: its value counted once, its gradient on each
                floor = floor - floor.detach() * (1 - 1 / ctx.world_size)
            loss = loss + floor
        for cb in self.callbacks:
            extra = cb.loss(self, outs)
            if extra is not None:
                loss = loss + extra
        return loss, label

    def train_epoch(self, data: DataSplit, progress: bool = True) -> dict:
        from sca_lava.progress import progress_bar

        cfg, model, ctx = self.cfg, self.model, self.dist
        lr = self.lr_at(self.epoch, cfg.epochs)  # the configured total, also when fit() stops early
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        steps = steps_of(model, cfg, data)
        torch.manual_seed(cfg.seed * 1000 + self.epoch)
        n_train = len(data.train_x)
        batches = global_batches(n_train, cfg.batch_size, cfg.seed, self.epoch, ctx.world_size)
        static = not data.events
        labels = is_labels(data.train_y)
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
            xb = spikes_of(images, steps, cfg.encoding, data.events, cfg.seed, idx).to(ctx.device)
            yb = torch.from_numpy(np.ascontiguousarray(data.train_y[idx])).to(ctx.device)
            outs = self.forward_all(xb)
            loss, label = self.batch_loss(outs, yb, xb, len(batch))
            label_loss += label
            value = loss.item()
            if not math.isfinite(value):
                kept = f"the checkpoint of epoch {self.epoch} is kept" if self.epoch else "nothing was saved"
                raise ScaLavaError(f"training diverged in epoch {self.epoch + 1}: the loss is {value} (lr {lr:g}); "
                                   f"{kept}: lower --lr")
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
            total_loss += value
            if labels:
                correct += int((predictions(outs[-1].detach()) == yb).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{value / len(idx):.3f}", refresh=False)
        if ctx.enabled:
            totals = ctx.all_reduce_(torch.tensor([total_loss, label_loss, correct, seen], dtype=torch.float64))
            total_loss, label_loss, correct, seen = float(totals[0]), float(totals[1]), int(totals[2]), int(totals[3])
        self.check_converging(total_loss / seen, label_loss / seen, lr, steps)
        return {"train_loss": total_loss / seen, "train_accuracy": correct / seen if labels else None, "lr": lr}

    def check_converging(self, loss: float, label_loss: float, lr: float, steps: int) -> None:
        """Stop (one-line error, before this epoch is checkpointed, so the last
        good checkpoint stays) when the epoch's loss or a weight is not finite or
        its label loss is over :data:`DIVERGED` times that of a network that
        never spikes: training made the network far worse than silent
        (measured, lr 1e30: 8-12x; any lr that trains: below 1.2x). A loss of
        the user's own is checked for finiteness only. Every process of a
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
        if self.custom_loss:
            return
        silent = self.silent_loss(steps)
        if label_loss > DIVERGED * silent:
            raise ScaLavaError(f"training diverged in epoch {epoch}: the loss per sample {label_loss:.3g} is "
                               f"{label_loss / silent:.1f}x that of a network that never spikes ({silent:.3g}; "
                               f"lr {lr:g}); {kept}: lower --lr")

    def silent_loss(self, steps: int) -> float:
        """The label loss per sample of an output layer that never spikes."""
        out = torch.zeros(1, *self.graph.output_shape, steps)
        return float(self.loss_fn(out, torch.zeros(1, dtype=torch.long)))

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

        if tuple(data.input_shape) != tuple(self.graph.input_shape):
            raise ScaLavaError(f"the data's samples are {tuple(data.input_shape)} but the network takes "
                               f"{tuple(self.graph.input_shape)}")
        steps = steps_of(self.model, self.cfg, data)
        contract = from_data(data, steps, self.cfg.encoding, self.cfg.seed)
        old, new = self.resumed_contract, contract.to_dict()
        if old is not None and any(old.get(k) != v for k, v in new.items()):  # a field added since: None
            diff = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in new if old.get(k) != new[k])
            raise ScaLavaError(f"--resume: the checkpoint was trained on other inputs ({diff}); "
                               "resume with the same data options")
        self.model.contract = contract
        if not self.started:
            for cb in self.callbacks:
                cb.on_train_begin(self)
            self.started = True
        while self.epoch < epochs:
            record = {"epoch": self.epoch + 1, **self.train_epoch(data, progress)}
            ev = evaluate_sharded(self.graph, data.test_x, data.test_y, steps, self.cfg.encoding,
                                  self.cfg.eval_batch_size, data.events, self.dist, self.cfg.seed)
            record["test_accuracy"] = ev["accuracy"]
            record["firing_rates"] = ev["firing_rates"]
            self.epoch += 1
            for cb in self.callbacks:
                cb.on_epoch_end(self, self.epoch, record)
            self.history.append(record)
            if log and self.dist.is_main:
                log(epoch_line(record, self.graph))
            if checkpoint is not None:
                self.save(checkpoint)
        return self.history


def epoch_line(record: dict, graph) -> str:
    """One line per epoch; firing rates of the neuron layers, by name."""
    rates = " ".join(f"{graph.label(i)} {r:.3f}" for i, r in enumerate(record["firing_rates"])
                     if graph.layers[i].kind != "flatten")
    acc = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    return (f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  train {acc(record['train_accuracy'])}  "
            f"test {acc(record['test_accuracy'])}  rates [{rates}]")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
