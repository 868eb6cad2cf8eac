"""The SCA structure update as a :class:`~sca_lava.training.Callback`.

Every ``interval`` epochs: rank all prunable channels GLOBALLY by the
criterion's score (currently pruned channels rank first, so they stay pruned
unless regrown), remove the lowest until the scheduled budget is met, remove
``q*N`` more, then regrow the ``q*N`` removed channels with the largest
accumulated ``|dL/d(g_c m_c)|`` (regrowing criteria only). In parameter mode
the lowest-ranked remaining channels are removed again if the regrown ones
overshoot the budget, so the budget always holds after an update; channels
removed in this update that still fit under the budget are then put back, best
first (greedy removal otherwise overshoots by up to one large channel).

The budget is either a fraction of the dense network's synaptic parameters
(``target_params``; removing channel c of layer l removes its filter and the
matching input slice of the next layer) or a fraction of prunable channels
(``sparsity``). Pruned weights are frozen: the mask zeroes their gradient and
their Adam moments are zeroed, so Adam's update is exactly 0 and regrowth
resumes from their values at pruning time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import LayerGeometry, count_params, geometry
from sca_lava.models.network import SpikingNet
from sca_lava.pruning.activity import install_taps
from sca_lava.pruning.importance import ScoreContext, get_criterion
from sca_lava.pruning.masks import GAIN, MASK, install_gates
from sca_lava.pruning.schedule import default_ramp, target_sparsity
from sca_lava.training.trainer import Callback


@dataclass
class PruneConfig:
    """Defaults: keep 30 % of the dense parameters, SCA with 10 % regrowth,
    one structure update per epoch, cubic ramp from epoch 0 to ~2/3 of the
    training epochs (see :func:`~sca_lava.pruning.schedule.default_ramp`)."""

    criterion: str = "sca"
    target_params: float | None = 0.3  # kept fraction of dense synaptic parameters
    sparsity: float | None = None  # or: fraction of prunable channels removed
    schedule: str = "cubic"
    ramp_start: int = 0
    ramp_epochs: int | None = None
    interval: int = 1  # epochs between structure updates
    regrow: float = 0.1  # q, as a fraction of all prunable channels
    floor: int = 1  # channels kept per prunable layer at least
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        get_criterion(self.criterion)
        if (self.target_params is None) == (self.sparsity is None):
            raise ScaLavaError("give exactly one of target_params (kept parameter fraction) or sparsity")
        if self.target_params is not None and not 0.0 < self.target_params <= 1.0:
            raise ScaLavaError(f"target_params must be in (0, 1], got {self.target_params}")
        if self.sparsity is not None and not 0.0 <= self.sparsity < 1.0:
            raise ScaLavaError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if not 0.0 <= self.regrow < 1.0:
            raise ScaLavaError(f"regrow fraction must be in [0, 1), got {self.regrow}")
        if self.interval < 1 or self.floor < 1:
            raise ScaLavaError("interval and floor must be >= 1")

    @property
    def final_sparsity(self) -> float:
        return 1.0 - self.target_params if self.target_params is not None else float(self.sparsity)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PruneConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _prunable(geo: list[LayerGeometry]) -> list[int]:
    return [j for j, g in enumerate(geo) if g.prunable]


def min_params(geo: list[LayerGeometry], floor: int = 1) -> int:
    return count_params(geo, [min(floor, g.out) if g.prunable else g.out for g in geo])


def select_structure(geo: list[LayerGeometry], scores: dict[int, np.ndarray], active: dict[int, np.ndarray],
                     *, budget: int | None = None, n_prune: int | None = None, n_regrow: int = 0,
                     regrow_signal: dict[int, np.ndarray] | None = None, floor: int = 1
                     ) -> tuple[dict[int, np.ndarray], dict]:
    """Global prune + regrow. ``scores``/``active``/``regrow_signal`` are keyed
    by block index. Exactly one of ``budget`` (max synaptic parameters) or
    ``n_prune`` (channels to remove) is given. Returns the new boolean masks
    and counts of what changed."""
    if (budget is None) == (n_prune is None):
        raise ValueError("give exactly one of budget or n_prune")
    by_block = {g.block: j for j, g in enumerate(geo)}
    entries = [(b, c) for b in sorted(scores) for c in range(len(scores[b]))]
    sc = np.array([scores[b][c] for b, c in entries], dtype=np.float64)
    act = np.array([bool(active[b][c]) for b, c in entries])
    order = np.lexsort((np.arange(len(entries)), sc, act))  # pruned first, then low score
    counts = [g.out for g in geo]
    keep = np.ones(len(entries), dtype=bool)

    def params() -> int:
        return count_params(geo, counts)

    def done(removed: int) -> bool:
        return params() <= budget if budget is not None else removed >= n_prune

    def remove_in_order(stop, skip=()) -> list[int]:
        taken = []
        for k in order:
            if stop(len(taken)):
                break
            if not keep[k] or k in skip:
                continue
            j = by_block[entries[k][0]]
            if counts[j] <= floor:
                continue
            keep[k] = False
            counts[j] -= 1
            taken.append(int(k))
        return taken

    removed = remove_in_order(done)
    if not done(len(removed)):
        need = f"{budget} parameters" if budget is not None else f"{n_prune} pruned channels"
        raise ScaLavaError(f"pruning target cannot be met: {need} is impossible while keeping "
                           f">= {floor} channel(s) per prunable layer")
    extra = remove_in_order(lambda n: n >= n_regrow) if n_regrow > 0 else []
    regrown: list[int] = []
    if extra:
        signal = regrow_signal or {}
        cand = removed + extra
        sig = np.array([float(signal[entries[k][0]][entries[k][1]]) if entries[k][0] in signal
                        else 0.0 for k in cand])
        pick = np.argsort(-sig, kind="stable")[:len(extra)]
        for p in pick:
            k = cand[p]
            keep[k] = True
            counts[by_block[entries[k][0]]] += 1
            regrown.append(k)
    if budget is not None and params() > budget:
        remove_in_order(lambda n: params() <= budget, skip=set(regrown))
    if budget is not None:
        # greedy removal overshoots by up to one large channel: put back the best-ranked
        # channels removed in this update (never previously pruned ones) that still fit
        for k in order[::-1]:
            if keep[k] or not act[k]:
                continue
            j = by_block[entries[k][0]]
            counts[j] += 1
            if params() <= budget:
                keep[k] = True
            else:
                counts[j] -= 1
    new = {b: np.ones(len(scores[b]), dtype=bool) for b in scores}
    for k, (b, c) in enumerate(entries):
        new[b][c] = keep[k]
    was_active = {k for k in range(len(entries)) if act[k]}
    pruned_now = [k for k in sorted(was_active) if not keep[k]]
    regrown_now = [k for k in range(len(entries)) if keep[k] and not act[k]]

    def by_layer(ks: list[int]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for k in ks:
            out.setdefault(str(entries[k][0]), []).append(int(entries[k][1]))
        return out

    info = {
        "pruned": len(pruned_now),
        "regrown": len(regrown_now),
        "params": params(),
        "pruned_channels": by_layer(pruned_now),  # block -> channel indices pruned by this update
        "regrown_channels": by_layer(regrown_now),  # block -> previously pruned channels brought back
    }
    return new, info


class SCAPruner(Callback):
    """Dynamic structured pruning during SLAYER training (see module doc)."""

    name = "sca"

    def __init__(self, config: PruneConfig | None = None):
        self.config = config or PruneConfig()
        self.config.validate()
        self.criterion = get_criterion(self.config.criterion)
        self.model: SpikingNet | None = None
        self.epochs = None
        self.updates: list[dict] = []
        self.trainer = None

    # --- set-up --------------------------------------------------------------
    def attach(self, model: SpikingNet, epochs: int) -> None:
        """Install gains/masks and activity taps; check the target is feasible."""
        cfg = self.config
        self.model = model
        self.epochs = int(epochs)
        self.geo = geometry(model.config)
        self.gates = install_gates(model)
        self.taps = install_taps(model, sorted(self.gates))
        self.dense_params = count_params(self.geo)
        self.num_channels = sum(g.out for g in self.geo if g.prunable)
        self.ramp = cfg.ramp_epochs if cfg.ramp_epochs is not None else default_ramp(self.epochs, cfg.ramp_start)
        if cfg.ramp_start + self.ramp > self.epochs:
            raise ScaLavaError(f"the sparsity ramp ends at epoch {cfg.ramp_start + self.ramp}, after the last "
                               f"training epoch ({self.epochs}): lower --ramp-epochs or train longer")
        if cfg.target_params is not None:
            low = min_params(self.geo, cfg.floor)
            if low > cfg.target_params * self.dense_params:
                raise ScaLavaError(
                    f"target of {cfg.target_params:.1%} of the parameters cannot be met: keeping "
                    f"{cfg.floor} channel(s) per prunable layer already needs {low} of "
                    f"{self.dense_params} ({low / self.dense_params:.1%})")
        else:
            layers = len(_prunable(self.geo))
            most = self.num_channels - sum(min(cfg.floor, g.out) for g in self.geo if g.prunable)
            if round(cfg.sparsity * self.num_channels) > most:
                raise ScaLavaError(
                    f"channel sparsity {cfg.sparsity:.1%} cannot be met: at most {most} of "
                    f"{self.num_channels} channels can go while keeping {cfg.floor} in each of "
                    f"{layers} prunable layers")

    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer
        self.attach(trainer.model, trainer.cfg.epochs)
        if self._dist() is not None:
            for g in self.gates.values():
                g.pending = torch.zeros_like(g.grad_acc)

    # --- data parallelism ------------------------------------------------------
    def _dist(self):
        dist = getattr(self.trainer, "dist", None)
        return dist if dist is not None and dist.enabled else None

    def accumulators(self) -> list[tuple[object, str]]:
        """(holder, attribute) of every running sum the next update reads that
        a data-parallel process accumulates over its own shard: each holder
        (tap, gate, or any accumulator object added to ``self.taps``/``gates``
        or ``self.extra_accumulators``) names them in ``local_sums``."""
        holders = [*self.taps.values(), *self.gates.values(), *getattr(self, "extra_accumulators", ())]
        return [(h, name) for h in holders for name in h.local_sums]

    def sync_accumulators(self) -> None:
        """The sync hook (before every structure update): sum all processes'
        accumulators, so every rank ranks the whole epoch's data identically."""
        if self._dist() is not None:
            self._dist().all_reduce_sums(self.accumulators())

    def after_backward(self, trainer) -> None:
        dist = self._dist()
        if dist is None:
            return
        gates = list(self.gates.values())
        flat = dist.all_reduce_(torch.cat([g.pending for g in gates]))
        at = 0
        for g in gates:
            g.pending.copy_(flat[at:at + len(g.pending)])
            at += len(g.pending)
            g.commit()

    # --- schedule --------------------------------------------------------------
    def target_at(self, epoch: int) -> float:
        cfg = self.config
        return target_sparsity(epoch, cfg.final_sparsity, cfg.ramp_start, self.ramp, cfg.schedule)

    def due(self, epoch: int) -> bool:
        """Updates every ``interval`` epochs while the ramp runs (its last epoch
        included, so the target is reached); the epochs after it fine-tune the
        final structure without prune/regrow churn."""
        start = self.config.ramp_start
        if epoch <= start or (epoch - start) % self.config.interval != 0:
            return False
        return epoch <= start + self.ramp or self.current_sparsity_value() + 1e-9 < self.target_at(epoch)

    def masks(self) -> dict[int, np.ndarray]:
        return {i: getattr(self.model.blocks[i], MASK).detach().cpu().numpy() > 0.5 for i in self.gates}

    def active_counts(self) -> list[int]:
        masks = self.masks()
        return [int(masks[g.block].sum()) if g.block in masks else g.out for g in self.geo]

    def param_fraction(self) -> float:
        return count_params(self.geo, self.active_counts()) / self.dense_params

    def current_sparsity_value(self) -> float:
        if self.config.target_params is not None:
            return 1.0 - self.param_fraction()
        kept = sum(int(m.sum()) for m in self.masks().values())
        return 1.0 - kept / self.num_channels

    # --- the structure update ---------------------------------------------------
    def update(self, epoch: int) -> dict:
        cfg = self.config
        s = self.target_at(epoch)
        rng = np.random.default_rng([cfg.seed, 7919, epoch])
        scores = self.criterion.score(ScoreContext(self.model, self.taps, rng))
        n_regrow = int(round(cfg.regrow * self.num_channels)) if self.criterion.regrows else 0
        signal = {i: g.grad_acc.numpy() / max(g.grad_batches, 1) for i, g in self.gates.items()}
        kwargs = ({"budget": int(np.floor((1.0 - s) * self.dense_params + 1e-9))}
                  if cfg.target_params is not None else {"n_prune": int(round(s * self.num_channels))})
        new, info = select_structure(self.geo, scores, self.masks(), n_regrow=n_regrow,
                                     regrow_signal=signal, floor=cfg.floor, **kwargs)
        with torch.no_grad():
            for i, m in new.items():
                getattr(self.model.blocks[i], MASK).copy_(torch.from_numpy(m.astype(np.float32)))
        self.freeze_optimizer_state()
        for t in self.taps.values():
            t.reset()
        for g in self.gates.values():
            g.reset()
        rec = {"epoch": int(epoch), "target_sparsity": s, "param_fraction": self.param_fraction(),
               "channels": self.active_counts(),
               "scores": {str(i): [float(v) for v in sc] for i, sc in scores.items()},  # before the update
               **info}
        self.updates.append(rec)
        return rec

    def _pruned_slices(self):
        """(parameter, index tuple) pairs that must not move while pruned: the
        channel's filter rows and gain, and the next layer's input columns."""
        masks = self.masks()
        for g in self.geo:
            block = self.model.blocks[g.block]
            if g.block in masks:
                off = torch.from_numpy(np.flatnonzero(~masks[g.block]))
                if len(off):
                    yield block.synapse.weight, (off,)
                    yield getattr(block, GAIN), (off,)
            if g.in_from is not None and self.geo[g.in_from].block in masks:
                src = masks[self.geo[g.in_from].block]
                off_ch = np.flatnonzero(~src)
                if len(off_ch):
                    yield block.synapse.weight, (slice(None), torch.from_numpy(g.input_columns(off_ch)))

    def freeze_optimizer_state(self) -> None:
        opt = getattr(self.trainer, "optimizer", None)
        if opt is None:
            return
        with torch.no_grad():
            for param, idx in self._pruned_slices():
                st = opt.state.get(param)
                if not st:
                    continue
                for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer"):
                    if key in st and torch.is_tensor(st[key]) and st[key].shape == param.shape:
                        st[key][idx] = 0.0

    # --- callback hooks -----------------------------------------------------------
    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.sync_accumulators()
        if self.due(epoch):
            rec = self.update(epoch)
            record["pruning"] = {k: rec[k] for k in ("target_sparsity", "pruned", "regrown")}
        record["param_fraction"] = self.param_fraction()
        record["channels"] = self.active_counts()
        if self._dist() is not None:  # rank 0 (and its checkpoint) carries the totals on
            self._dist().keep_on_main(self.accumulators())

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "updates": list(self.updates),
            "masks": {str(i): torch.from_numpy(m.astype(np.float32)) for i, m in self.masks().items()},
            "scores": {str(i): t.score_sum.clone() for i, t in self.taps.items()},
            "score_batches": {str(i): int(t.batches) for i, t in self.taps.items()},
            "grads": {str(i): g.grad_acc.clone() for i, g in self.gates.items()},
            "grad_batches": {str(i): int(g.grad_batches) for i, g in self.gates.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.updates = list(state.get("updates", []))
        with torch.no_grad():
            for key, m in state.get("masks", {}).items():
                getattr(self.model.blocks[int(key)], MASK).copy_(m)
            for key, v in state.get("scores", {}).items():
                self.taps[int(key)].score_sum.copy_(v)
                self.taps[int(key)].batches = int(state["score_batches"][key])
            for key, v in state.get("grads", {}).items():
                self.gates[int(key)].grad_acc.copy_(v)
                self.gates[int(key)].grad_batches = int(state["grad_batches"][key])
        if self._dist() is not None:  # the checkpoint holds the totals: count them once
            self._dist().keep_on_main(self.accumulators())
