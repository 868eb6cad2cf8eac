"""Channel importance criteria, separate from the structure update (the
Torch-Pruning split): a criterion maps the current model state to one score
per prunable channel (higher = keep); :mod:`sca_lava.pruning.sca` does the
ranking, the schedule and the masks identically for all of them.

- ``sca``: spiking channel activity (spike + |V|/theta, the published
  signal), gradient regrowth, ranked by ``PruneConfig.ranking``;
- ``sca-drive``: the same with the depolarisation max(V, 0) instead of |V|
  (CUBA neurons held far below rest score high on |V| yet never fire);
- ``sca-paper``: the same signal and regrowth, ranked by the score alone (the
  paper's plain global ranking: the faithful reproduction);
- ``sca-noregrow``: ``sca`` without regrowth (ablation);
- ``group-l1``: mean |w| of the channel's group: its filter and its slice of
  the next layer's weights (effective, gain-scaled, quantised weights);
- ``gain``: |g_c|, the learned channel gain (network-slimming style);
- ``taylor``: first-order Taylor, |sum over the channel's filter of
  w * dL/dw| per batch, averaged since the last update (Molchanov et al.);
  with w scaled by g_c that sum is g_c * dL/dg_c, which the gate already taps;
- ``random``: uniform random scores (seeded per update), ranked as they are
  (not per unit of cost: a random choice must not prefer cheap channels);
- ``random-regrow``: ``random`` with exactly SCA's gradient regrowth, the
  control that tells the activity signal from the regrowth (issue 31).

Every criterion but ``sca-paper`` uses the ranking of ``PruneConfig.ranking``
(cost-aware by default), so baselines and SCA differ only in their signal.
No torch at import time (the CLI lists the criteria).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError

#: global ranking rules (sca_lava.pruning.sca): per-layer rank of importance per cost,
#: importance per unit of marginal cost across layers, or importance alone
RANKINGS = ("layer", "cost", "plain")


@dataclass
class ScoreContext:
    graph: object  # the traced network (sca_lava.models.graph.Graph)
    taps: dict  # block index -> ActivityTap
    rng: np.random.Generator
    gates: dict | None = None  # block index -> ChannelGate


def activity_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    return {i: tap.score.numpy().copy() for i, tap in ctx.taps.items()}


def drive_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    return {i: tap.drive.numpy().copy() for i, tap in ctx.taps.items()}


def _readers(geo, j: int) -> list[int]:
    """Layers reading layer j's channels, through any pools that carry them."""
    out = []
    for k, h in enumerate(geo):
        if h.in_from == j:
            out.extend(_readers(geo, k) if h.depthwise else [k])
    return out


def group_l1_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    from sca_lava.pruning.masks import effective_weight

    geo = ctx.graph.synaptic
    out = {}
    for j, g in enumerate(geo):
        if g.block not in ctx.taps:
            continue
        w = effective_weight(ctx.graph.block(g)).abs()
        total = w.reshape(w.shape[0], -1).sum(1).double().cpu().numpy()
        size = float(w[0].numel())
        for k in _readers(geo, j):
            h = geo[k]
            wn = effective_weight(ctx.graph.block(h)).abs()
            wn = wn.reshape(wn.shape[0], g.out, h.in_spatial, -1)  # (out, source channel, spatial, kernel)
            total = total + wn.sum(dim=(0, 2, 3)).double().cpu().numpy()
            size += wn.shape[0] * h.in_spatial * wn.shape[3]
        # mean (not sum) so layers with different group sizes compare globally
        out[g.block] = total / size
    return out


def gain_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    from sca_lava.pruning.masks import GAIN

    return {i: getattr(ctx.graph.blocks[i], GAIN).detach().abs().double().cpu().numpy().copy()
            for i in ctx.taps}


def taylor_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    from sca_lava.pruning.masks import GAIN

    out = {}
    for i in ctx.taps:
        gate = ctx.gates[i]
        grad = gate.grad_acc.numpy() / max(gate.grad_batches, 1)
        out[i] = np.abs(getattr(ctx.graph.blocks[i], GAIN).detach().double().numpy()) * grad
    return out


def random_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    return {i: ctx.rng.random(len(tap.score)) for i, tap in ctx.taps.items()}


@dataclass(frozen=True)
class Criterion:
    name: str
    score: object  # ScoreContext -> dict[int, np.ndarray]
    regrows: bool
    help: str
    ranking: str | None = None  # None: PruneConfig.ranking; "plain" forces the score-only ranking
    signals: tuple[str, ...] = ()  # activity the taps accumulate for it (sca_lava.pruning.activity.SIGNALS)
    priced: bool = True  # layer/cost rankings: score per unit of marginal cost (False: the score itself)


CRITERIA = {
    "sca": Criterion("sca", activity_scores, True, "spiking activity + gradient regrowth, cost-aware ranking",
                     signals=("abs",)),
    "sca-paper": Criterion("sca-paper", activity_scores, True,
                           "spiking activity + gradient regrowth, plain global ranking (the paper)", "plain", ("abs",)),
    "sca-noregrow": Criterion("sca-noregrow", activity_scores, False, "spiking activity, no regrowth",
                              signals=("abs",)),
    "sca-drive": Criterion("sca-drive", drive_scores, True, "spike + depolarisation max(V,0), gradient regrowth",
                           signals=("drive",)),
    "group-l1": Criterion("group-l1", group_l1_scores, False, "mean |w| of the filter and its next-layer slice"),
    "gain": Criterion("gain", gain_scores, False, "|channel gain|"),
    "taylor": Criterion("taylor", taylor_scores, False, "first-order Taylor |sum w dL/dw|"),
    "random": Criterion("random", random_scores, False, "uniformly random channels", priced=False),
    "random-regrow": Criterion("random-regrow", random_scores, True,
                               "uniformly random channels + SCA's gradient regrowth (control)", priced=False),
}


def get_criterion(name: str) -> Criterion:
    if name not in CRITERIA:
        raise ScaLavaError(f"unknown pruning criterion {name!r} (choose from {', '.join(CRITERIA)})")
    return CRITERIA[name]
