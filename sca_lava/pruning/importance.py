"""Channel importance criteria, separate from the structure update (the
Torch-Pruning split): a criterion maps the current model state to one score
per prunable channel (higher = keep); :mod:`sca_lava.pruning.sca` does the
ranking, the schedule and the masks identically for all of them.

- ``sca``: spiking channel activity (spike + |V|/theta), with gradient regrowth;
- ``sca-noregrow``: the same score, no regrowth (ablation);
- ``sca-layernorm``: the SCA score divided by its layer's mean over active
  channels, with regrowth (our variant: on static images the spatial mean
  dilutes early conv layers, whose background positions sit at V = 0, so the
  plain global ranking over-prunes them);
- ``l1``: L1 norm of the channel's effective (gain-scaled, quantised) filter;
- ``gain``: |g_c|, the learned channel gain (network-slimming style);
- ``random``: uniform random scores (seeded per update).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError


@dataclass
class ScoreContext:
    model: object
    taps: dict  # block index -> ActivityTap
    rng: np.random.Generator


def activity_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    return {i: tap.score.numpy().copy() for i, tap in ctx.taps.items()}


def layer_relative_activity(ctx: ScoreContext) -> dict[int, np.ndarray]:
    out = {}
    for i, tap in ctx.taps.items():
        score = tap.score.numpy().copy()
        active = score[score > 0]
        out[i] = score / active.mean() if active.size else score
    return out


def l1_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    from sca_lava.pruning.masks import effective_weight  # torch: imported on use, not for CRITERIA

    out = {}
    for i in ctx.taps:
        w = effective_weight(ctx.model.blocks[i])
        # mean (not sum) so layers with different fan-in compare globally
        out[i] = w.abs().reshape(w.shape[0], -1).mean(1).double().cpu().numpy()
    return out


def gain_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    from sca_lava.pruning.masks import GAIN

    return {i: getattr(ctx.model.blocks[i], GAIN).detach().abs().double().cpu().numpy().copy()
            for i in ctx.taps}


def random_scores(ctx: ScoreContext) -> dict[int, np.ndarray]:
    return {i: ctx.rng.random(len(tap.score)) for i, tap in ctx.taps.items()}


@dataclass(frozen=True)
class Criterion:
    name: str
    score: object  # ScoreContext -> dict[int, np.ndarray]
    regrows: bool
    help: str


CRITERIA = {
    "sca": Criterion("sca", activity_scores, True, "spiking activity + gradient regrowth (SCA)"),
    "sca-noregrow": Criterion("sca-noregrow", activity_scores, False, "spiking activity, no regrowth"),
    "sca-layernorm": Criterion("sca-layernorm", layer_relative_activity, True,
                               "spiking activity relative to its layer's mean + gradient regrowth"),
    "l1": Criterion("l1", l1_scores, False, "L1 norm of the channel's filter"),
    "gain": Criterion("gain", gain_scores, False, "|channel gain|"),
    "random": Criterion("random", random_scores, False, "random channels"),
}


def get_criterion(name: str) -> Criterion:
    if name not in CRITERIA:
        raise ScaLavaError(f"unknown pruning criterion {name!r} (choose from {', '.join(CRITERIA)})")
    return CRITERIA[name]
