"""The SCA structure update as a :class:`~sca_lava.training.Callback`.

Every ``interval`` epochs, starting from the current masks: rank the active
prunable channels in ONE global order, remove the lowest until the scheduled
budget holds, remove ``q*N`` more, then regrow the ``q*N`` pruned channels
(old or new) with the largest accumulated ``|dL/d(g_c m_c)|`` (regrowing
criteria only) and remove again if the regrown ones break the budget. A
criterion that does not regrow never brings a pruned channel back.

The global order (``PruneConfig.ranking``):

* ``layer`` (default): each channel's score per unit of its marginal cost in
  the budget's currency (the score alone for the random criteria), ranked
  *within its layer* among its active channels, as a fraction of the
  layer's width (:func:`layer_percentile`); layers then give channels in
  step (ties: the costlier channel first), and the regrowth signal is
  ranked the same way. Why: a layer is a link in a chain, and scores of
  different layers are not on one scale for an energy budget (activity *is*
  the cost there). Measured on ``mnist_vgg`` at 30 % of the Loihi 2 energy
  (docs/results.md), ``cost`` emptied the costliest convs to 3-6 channels
  and lost 10-50 points; ``layer`` keeps every layer at a similar fraction.
* ``cost``: score per unit of marginal cost across layers (greedy knapsack
  by value density, with diminishing returns per layer, ``balance=1``);
* ``plain``: the score alone (the paper; ``sca-paper`` always ranks so).

The budget (:mod:`sca_lava.pruning.cost`) is a kept fraction of the dense
network's parameters, SynOps or dynamic energy on a hardware profile, a
number of cores on a profile, or a kept fraction of the prunable channels.
It follows the schedule (a cubic ramp by default) and holds after every
update and, for synops/energy, on the finished net measured on the dense
reference's inputs (:meth:`SCAPruner.final_check`). Pruned weights are frozen: the mask zeroes their gradient and their
Adam moments are zeroed, so Adam's update is exactly 0 and regrowth resumes
from their values at pruning time.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import channel_counts, count_params
from sca_lava.pruning.activity import install_taps
from sca_lava.pruning.config import PruneConfig
from sca_lava.pruning.cost import NEEDS_ACTIVITY, NEEDS_PROFILE, CostModel, parse_budget
from sca_lava.pruning.importance import ScoreContext, get_criterion
from sca_lava.pruning.masks import GAIN, MASK, install_gates
from sca_lava.pruning.schedule import default_ramp, target_sparsity
from sca_lava.pruning.selection import layer_percentile, layer_zscores, select_structure  # noqa: F401 (public here too)
from sca_lava.pruning.tally import Activity, install_cost_taps, measure_activity, snapshot
from sca_lava.training.trainer import Callback


class SCAPruner(Callback):
    """Dynamic structured pruning during SLAYER training (see module doc).

    ``reference``: input spikes (N, ..., T) the dense reference activity is
    measured on when the pruner attaches (needed by synops and energy
    budgets; :func:`~sca_lava.pruning.pipeline.prune_and_shrink` passes the
    first training samples); ``reference_model``: the trained dense network
    that activity is measured on (default: the network being pruned, as it
    is when training starts)."""

    name = "sca"

    def __init__(self, config: PruneConfig | None = None, reference=None, reference_model=None):
        self.config = config or PruneConfig()
        self.config.validate()
        self.criterion = get_criterion(self.config.criterion)
        self.kind, self.value = parse_budget(self.config.budget)
        self.reference_spikes = reference
        self.reference_model = reference_model
        self.reference: Activity | None = None
        self.dense_cost: float | None = None
        self.graph = None
        self.epochs = None
        self.updates: list[dict] = []
        self.trainer = None
        self.last_activity: Activity | None = None  # what the last update priced
        self.extra_accumulators: list = []  # more running sums summed over data-parallel processes
        self._prices_t = None  # spike prices of the current structure (the cost penalty), as tensors
        self.gates: dict = {}
        self.taps: dict = {}
        self.cost_taps: dict = {}

    # --- set-up --------------------------------------------------------------
    def attach(self, graph, epochs: int, calibrate: bool = True) -> None:
        """Install gains/masks and activity/cost taps on a traced graph's
        blocks and check the budget is feasible; a synops/energy budget
        measures its dense reference first (when given and ``calibrate``: a
        trainer defers that to the start of training, after a checkpoint may
        have brought it). ``graph``: a traced network (or a module that
        states its input shape)."""
        from sca_lava.models.graph import as_graph

        cfg = self.config
        graph = as_graph(graph)
        self.graph = graph
        self._prices_t = None
        self.epochs = int(epochs)
        self.geo = graph.synaptic
        self.gates = install_gates(graph)
        self.taps = install_taps(graph, sorted(self.gates), self.criterion.signals)
        self.cost_model = CostModel(graph, self.kind, cfg.profile)
        self.cost_taps = install_cost_taps(graph) if self.kind in NEEDS_ACTIVITY else {}
        self.extra_accumulators = list(self.cost_taps.values())  # summed over data-parallel processes
        self.dense_params = count_params(self.geo)
        self.num_channels = sum(g.out for g in self.geo if g.prunable)
        self.ramp = cfg.ramp_epochs if cfg.ramp_epochs is not None else default_ramp(self.epochs, cfg.ramp_start)
        if cfg.ramp_start + self.ramp > self.epochs:
            raise ScaLavaError(f"the sparsity ramp ends at epoch {cfg.ramp_start + self.ramp}, after the last "
                               f"training epoch ({self.epochs}): lower --ramp-epochs or train longer")
        if self.kind not in NEEDS_ACTIVITY:
            self._set_reference(None)
        elif calibrate and self.reference_spikes is not None:
            self.calibrate(self.reference_spikes, self.reference_model)

    def calibrate(self, spikes, model=None) -> None:
        """Measure the dense reference activity on ``spikes`` (with ``model``,
        default the attached network) and check the budget is feasible."""
        from sca_lava.models.graph import trace

        graph = self.graph if model is None else trace(model, self.graph.input_shape)
        self._set_reference(measure_activity(graph, spikes))

    def _dense_masks(self) -> dict[int, np.ndarray]:
        return {g.block: np.ones(g.out, dtype=bool) for g in self.geo if g.prunable}

    def _set_reference(self, act: Activity | None) -> None:
        self.reference = act
        self.dense_cost = self.cost_model.evaluate(self._dense_masks(), act)
        final = self.final_budget()
        cheapest = self._floor_masks(act)
        low = self.cost_model.evaluate(cheapest, act)
        if low > final:
            unit = {"params": "parameters", "channels": "channels", "synops": "SynOps per inference",
                    "energy": "pJ per inference", "total_energy": "pJ per inference", "cores": "cores"}[self.kind]
            on = f" on {self.config.profile}" if self.kind in NEEDS_PROFILE else ""
            def num(v: float) -> str:
                return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"

            raise ScaLavaError(
                f"budget {self.config.budget}{on} cannot be met: keeping {self.config.floor} channel(s) per "
                f"prunable layer already needs {num(low)} {unit}, {low / self.dense_cost:.1%} of the dense "
                f"network's {num(self.dense_cost)} (the budget allows {num(final)})")

    def _floor_masks(self, act: Activity | None) -> dict[int, np.ndarray]:
        """The cheapest ``floor`` channels of every prunable layer, alone."""
        dense = self._dense_masks()
        marg = self.cost_model.marginal(dense, act) if self.kind in NEEDS_ACTIVITY else None
        out = {}
        for b, m in dense.items():
            keep = np.zeros_like(m)
            order = np.argsort(marg[b], kind="stable") if marg is not None else np.arange(len(m))
            keep[order[:self.config.floor]] = True
            out[b] = keep
        return out

    def on_attach(self, trainer) -> None:
        self.trainer = trainer
        self.attach(trainer.graph, trainer.cfg.epochs, calibrate=False)
        if self._dist() is not None:
            for g in self.gates.values():
                g.pending = torch.zeros_like(g.grad_acc)

    def on_train_begin(self, trainer) -> None:
        """The dense reference, measured once (a resumed run brought its own)."""
        if self.kind in NEEDS_ACTIVITY and self.reference is None and self.reference_spikes is not None:
            self.calibrate(self.reference_spikes, self.reference_model)

    # --- data parallelism ------------------------------------------------------
    def _dist(self):
        dist = getattr(self.trainer, "dist", None)
        return dist if dist is not None and dist.enabled else None

    def accumulators(self) -> list[tuple[object, str]]:
        """(holder, attribute) of every running sum the next update reads that
        a data-parallel process accumulates over its own shard: each holder
        (tap, gate, or any accumulator object added to ``self.taps``/``gates``
        or ``self.extra_accumulators``) names them in ``local_sums``."""
        holders = [*self.taps.values(), *self.gates.values(), *self.extra_accumulators]
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
    @property
    def final_fraction(self) -> float:
        """The kept fraction of the dense cost the ramp ends at."""
        if self.kind == "cores":
            return min(1.0, self.value / self.dense_cost)
        return self.value

    def target_at(self, epoch: int) -> float:
        cfg = self.config
        return target_sparsity(epoch, 1.0 - self.final_fraction, cfg.ramp_start, self.ramp, cfg.schedule)

    def budget_at(self, epoch: int) -> float:
        """Maximum cost after the update of ``epoch`` (whole units for counts)."""
        b = (1.0 - self.target_at(epoch)) * self.dense_cost
        return float(math.floor(b + 1e-9)) if self.kind in ("params", "channels", "cores") else b

    def final_budget(self) -> float:
        b = self.final_fraction * self.dense_cost
        return float(math.floor(b + 1e-9)) if self.kind in ("params", "channels", "cores") else b

    def due(self, epoch: int) -> bool:
        """Updates every ``interval`` epochs while the ramp runs and at its last
        epoch, whatever the interval (so the target is reached: a 4-epoch ramp
        with ``interval=3`` ended at its epoch-3 budget); the epochs after it fine-tune the
        final structure without prune/regrow churn. Only if the measured cost
        has drifted above the final budget and an epoch is left to fine-tune
        does a later update prune (without regrowth) back under it."""
        start = self.config.ramp_start
        if epoch <= start or ((epoch - start) % self.config.interval != 0 and epoch != start + self.ramp):
            return False
        if epoch <= start + self.ramp:
            return True
        return epoch < self.epochs and self.current_cost() > self.final_budget() * (1 + 1e-9)

    def masks(self) -> dict[int, np.ndarray]:
        return {i: getattr(self.graph.blocks[i], MASK).detach().cpu().numpy() > 0.5 for i in self.gates}

    def active_counts(self) -> list[int]:
        return channel_counts(self.geo, self.masks())

    def param_fraction(self) -> float:
        return count_params(self.geo, self.active_counts()) / self.dense_params

    def activity(self) -> Activity | None:
        """Activity since the last update (before any batch since: the one the
        last update used, or the dense reference)."""
        if self.kind not in NEEDS_ACTIVITY:
            return None
        return snapshot(self.cost_taps) or self.last_activity or self.reference

    def current_cost(self) -> float:
        return self.cost_model.evaluate(self.masks(), self.activity())

    def cost_fraction(self) -> float:
        return self.current_cost() / self.dense_cost

    # --- the structure update ---------------------------------------------------
    def update(self, epoch: int, act: Activity | None = None, scores: dict | None = None,
               regrow: bool = True) -> dict:
        """One structure update on ``act`` (default: the activity since the
        last one) and ``scores`` (default: the criterion's, from its taps)."""
        cfg = self.config
        if self.dense_cost is None:
            raise ScaLavaError(f"the {self.kind} budget needs the dense reference activity: pass reference= to "
                               "SCAPruner or call calibrate() before training")
        s = self.target_at(epoch)
        budget = self.budget_at(epoch)
        act = act if act is not None else self.activity()
        if scores is None:
            scores = self.scores(epoch)
        in_ramp = epoch <= cfg.ramp_start + self.ramp  # after it: a drift correction, no regrowth
        n_regrow = int(round(cfg.regrow * self.num_channels)) if regrow and self.criterion.regrows and in_ramp else 0
        signal = {i: g.grad_acc.numpy() / max(g.grad_batches, 1) for i, g in self.gates.items()}
        masks = self.masks()
        model = self.cost_model
        key = tiebreak = None
        if cfg.effective_ranking in ("cost", "layer"):  # importance per unit of marginal cost; ties: costlier first
            marg = model.marginal(masks, act)
            key = {b: scores[b] / np.maximum(marg[b], 1e-12) if self.criterion.priced else scores[b] for b in scores}
            tiebreak = {b: -marg[b] for b in scores}
            if cfg.effective_ranking == "layer":  # ranked within each layer, active channels only (module doc)
                key = {b: layer_percentile(v, masks[b]) for b, v in key.items()}
                signal = {b: layer_percentile(v) for b, v in signal.items()}
        balance = 1.0 if cfg.effective_ranking == "cost" else 0.0
        exact = None
        if self.kind == "energy":  # search with today's allocation, then check the chosen structure's own
            alloc = model.allocation(model.counts(masks))

            def cost(m):
                return model.evaluate(m, act, alloc=alloc)

            def exact(m):
                return model.evaluate(m, act)
        else:
            def cost(m):
                return model.evaluate(m, act)
        ranked = layer_zscores(scores, masks) if cfg.normalize == "zscore" else scores
        new, info = select_structure(self.geo, ranked, masks, cost=cost, exact=exact, budget=budget, key=key,
                                     tiebreak=tiebreak, balance=balance, n_regrow=n_regrow, regrow_signal=signal,
                                     floor=cfg.floor, put_back=model.cheap or exact is not None,
                                     monotone=self.kind != "cores")
        with torch.no_grad():
            for i, m in new.items():
                getattr(self.graph.blocks[i], MASK).copy_(torch.from_numpy(m.astype(np.float32)))
        self.freeze_optimizer_state()
        self._prices_t = None
        for t in self.taps.values():
            t.reset()
        for g in self.gates.values():
            g.reset()
        self.last_activity = act
        for t in self.cost_taps.values():
            t.reset()
        rec = {"epoch": int(epoch), "target_sparsity": s, "param_fraction": self.param_fraction(),
               "budget_kind": self.kind, "cost_fraction": info["cost"] / self.dense_cost,
               "budget_fraction": budget / self.dense_cost,
               "channels": self.active_counts(),
               "scores": {str(i): [float(v) for v in sc] for i, sc in scores.items()},  # before the update
               **info}
        self.updates.append(rec)
        return rec

    def _pruned_slices(self):
        """(parameter, index tuple) pairs that must not move while pruned: the
        channel's filter rows (``v`` and ``g`` under weight normalisation),
        gain and axonal delays, and the next layer's input columns."""
        masks_all = self.graph.channel_masks(self.masks())
        for g, on in zip(self.geo, masks_all):
            block = self.graph.block(g)
            syn = block.synapse
            weights = [syn.weight_v, syn.weight_g] if hasattr(syn, "weight_v") else [syn.weight]
            if g.block in self.gates:
                off = torch.from_numpy(np.flatnonzero(~on))
                if len(off):
                    yield from ((w, (off,)) for w in weights)
                    yield getattr(block, GAIN), (off,)
                    if getattr(block, "delay", None) is not None:
                        yield block.delay.delay, (off,)
            if g.in_from is not None and not g.depthwise:
                off_ch = np.flatnonzero(~masks_all[g.in_from])
                if len(off_ch):
                    yield weights[0], (slice(None), torch.from_numpy(g.input_columns(off_ch)))

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

    def scores(self, epoch: int) -> dict[int, np.ndarray]:
        """The criterion's channel scores from what its taps saw since the last update."""
        rng = np.random.default_rng([self.config.seed, 7919, epoch])
        return self.criterion.score(ScoreContext(self.graph, self.taps, rng, self.gates))

    def final_check(self, epoch: int, max_rounds: int = 8) -> list[dict]:
        """After the last epoch the finished net must meet its FINAL budget, of
        every kind. synops/energy: its cost measured on the dense reference's
        own inputs (eval mode, final weights) instead of the training batches
        since the last update (the survivors keep firing more after it: the
        benchmark's group-l1 at energy=0.15 deployed at 0.16-0.18 of dense);
        params/channels/cores: the structure's (a run whose last update came
        before the ramp's end kept an intermediate budget). While over it,
        prune (no regrowth, the criterion's order) and measure again; still
        over: a one-line :class:`ScaLavaError`, never a silent miss. The
        report's cost fraction is then this measurement."""
        if self.dense_cost is None:
            return []
        recs = []
        final = self.final_budget() * (1 + 1e-9)
        for round_ in range(max_rounds + 1):
            act = self._final_activity()
            cost = self.cost_model.evaluate(self.masks(), act)
            if cost <= final:
                return recs
            if round_ == max_rounds or (recs and not recs[-1]["budget_met"]):
                break
            rec = self.update(epoch, act, self._trim_scores(epoch), regrow=False)
            rec["check"] = "final: " + ("measured on the calibration samples" if act is not None else "structure")
            recs.append(rec)
        on = f" on {self.config.profile}" if self.kind in NEEDS_PROFILE else ""
        raise ScaLavaError(f"the pruned net ends over its budget {self.config.budget}{on}: it costs "
                           f"{cost / self.dense_cost:.2%} of the dense network after {len(recs)} final trim(s) "
                           "(measured on the calibration samples for synops/energy); loosen the budget or "
                           "prune for more epochs")

    def _final_activity(self) -> Activity | None:
        """The activity the final check prices (None for structural currencies)."""
        if self.kind not in NEEDS_ACTIVITY:
            return None
        if self.reference_spikes is None:  # calibrated by hand: the training activity is all there is
            return self.activity()
        act = measure_activity(self.graph, self.reference_spikes)
        self.last_activity = act
        for t in self.cost_taps.values():
            t.reset()
        return act

    def _trim_scores(self, epoch: int) -> dict[int, np.ndarray]:
        """What a trim after the last epoch ranks on: the scores the update of
        this epoch ranked on, if one ran (it reset the taps: fresh scores would
        be all 0 for activity and taylor, and the trim would go by channel
        index, emptying block 0 first under a plain ranking), else fresh ones."""
        if self.updates and self.updates[-1]["epoch"] == epoch:
            return {int(b): np.asarray(v, dtype=np.float64) for b, v in self.updates[-1]["scores"].items()}
        return self.scores(epoch)

    # --- callback hooks -----------------------------------------------------------
    def loss(self, trainer, outs: list) -> torch.Tensor | None:
        """``cost_weight`` x the batch's spikes priced in the budget currency
        (:meth:`CostModel.spike_prices` at the current structure), per sample
        as a fraction of the dense net's cost per inference. Why: after a cut
        the survivors fire more (measured: the last structure update of the
        demo pruned again because the cost had drifted over the budget), and
        every spike the net learns not to fire is budget left for a channel."""
        w = self.config.cost_weight
        if w == 0 or self.dense_cost is None:
            return None
        if self._prices_t is None:  # the structure changed (update, resume, attach)
            self._prices_t = [None if p is None else torch.as_tensor(p / self.dense_cost, dtype=torch.float32,
                                                                     device=outs[-1].device)
                              for p in self.cost_model.spike_prices(self.masks())]
        total = 0.0
        for g, price in zip(self.geo, self._prices_t):
            if price is not None:  # the block's input is the previous block's output (the graph is a chain)
                x = outs[g.block - 1]
                total = total + (x.sum(-1).reshape(len(x), -1) @ price).sum()
        return w * total
    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.sync_accumulators()
        if self.due(epoch):
            rec = self.update(epoch)
            record["pruning"] = {k: rec[k] for k in ("target_sparsity", "pruned", "regrown")}
        if epoch == self.epochs:
            trimmed = self.final_check(epoch)
            if trimmed:
                record["final_check"] = {"pruned": sum(r["pruned"] for r in trimmed)}
        record["param_fraction"] = self.param_fraction()
        record["cost_fraction"] = self.cost_fraction()
        record["channels"] = self.active_counts()
        if self._dist() is not None:  # rank 0 (and its checkpoint) carries the totals on
            self._dist().keep_on_main(self.accumulators())

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "updates": list(self.updates),
            "masks": {str(i): torch.from_numpy(m.astype(np.float32)) for i, m in self.masks().items()},
            "scores": {str(i): t.score_sum.clone() for i, t in self.taps.items()},
            "drives": {str(i): t.drive_sum.clone() for i, t in self.taps.items()},
            "score_batches": {str(i): int(t.batches) for i, t in self.taps.items()},
            "grads": {str(i): g.grad_acc.clone() for i, g in self.gates.items()},
            "grad_batches": {str(i): int(g.grad_batches) for i, g in self.gates.items()},
            "reference": self.reference.to_dict() if self.reference is not None else None,
            "last_activity": self.last_activity.to_dict() if self.last_activity else None,
            "cost_taps": {str(i): t.state_dict() for i, t in self.cost_taps.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.updates = list(state.get("updates", []))
        self._prices_t = None
        with torch.no_grad():
            for key, m in state.get("masks", {}).items():
                getattr(self.graph.blocks[int(key)], MASK).copy_(m)
            for key, v in state.get("scores", {}).items():
                self.taps[int(key)].score_sum.copy_(v)
            for key, v in state.get("drives", {}).items():
                self.taps[int(key)].drive_sum.copy_(v)
                self.taps[int(key)].batches = int(state["score_batches"][key])
            for key, v in state.get("grads", {}).items():
                self.gates[int(key)].grad_acc.copy_(v)
                self.gates[int(key)].grad_batches = int(state["grad_batches"][key])
            for key, v in state.get("cost_taps", {}).items():
                self.cost_taps[int(key)].load_state_dict(v)
        if state.get("reference") is not None:
            self._set_reference(Activity.from_dict(state["reference"]))
        if state.get("last_activity") is not None:
            self.last_activity = Activity.from_dict(state["last_activity"])
        if self._dist() is not None:  # the checkpoint holds the totals: count them once
            self._dist().keep_on_main(self.accumulators())
