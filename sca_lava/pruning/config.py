"""The settings of one SCA pruning run (criterion, budget, ranking, schedule,
regrowth), validated, and read back from checkpoints written by older
versions."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from sca_lava.errors import ScaLavaError
from sca_lava.pruning.cost import NEEDS_ACTIVITY, NEEDS_PROFILE, parse_budget
from sca_lava.pruning.importance import RANKINGS, get_criterion


@dataclass
class PruneConfig:
    """Defaults: keep 30 % of the dense parameters, SCA with 10 % regrowth,
    cost-aware ranking, one structure update per epoch, cubic ramp from epoch
    0 to ~2/3 of the training epochs (see
    :func:`~sca_lava.pruning.schedule.default_ramp`). ``budget`` is
    ``KIND=VALUE`` (kinds in :data:`sca_lava.pruning.cost.BUDGET_KINDS`);
    energy and cores need ``profile``."""

    criterion: str = "sca"
    budget: str = "params=0.3"
    profile: str | None = None
    ranking: str = "layer"  # layer: per-layer rank of score per cost; cost: score per unit of marginal cost; plain: score alone
    schedule: str = "cubic"
    ramp_start: int = 0
    ramp_epochs: int | None = None
    interval: int = 1  # epochs between structure updates
    regrow: float = 0.1  # q, as a fraction of all prunable channels
    floor: int = 1  # channels kept per prunable layer at least
    seed: int = 0
    calibration_samples: int = 256  # training samples the dense reference activity is measured on
    cost_weight: float = 0.0  # loss weight of the batch's spikes priced in the budget currency (synops/energy; 0: off)
    normalize: str | None = None  # plain ranking only: "zscore" standardises the scores within each layer first

    def validate(self) -> None:
        get_criterion(self.criterion)
        kind, _ = parse_budget(self.budget)
        if kind in NEEDS_PROFILE:
            if self.profile is None:
                raise ScaLavaError(f"the {kind} budget needs a hardware profile (--profile, e.g. loihi2)")
            from sca_lava.hardware.profile import load_profile

            load_profile(self.profile)
        if self.ranking not in RANKINGS:
            raise ScaLavaError(f"unknown ranking {self.ranking!r} (choose from {', '.join(RANKINGS)})")
        if not 0.0 <= self.regrow < 1.0:
            raise ScaLavaError(f"regrow fraction must be in [0, 1), got {self.regrow}")
        if self.interval < 1 or self.floor < 1 or self.calibration_samples < 1:
            raise ScaLavaError("interval, floor and calibration_samples must be >= 1")
        w = self.cost_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ScaLavaError(f"cost weight must be a finite number >= 0, got {w!r}"[:160])
        if w > 0 and kind not in NEEDS_ACTIVITY:
            raise ScaLavaError(f"a cost weight prices spikes: it needs a synops or energy budget, not {kind}")
        if self.normalize not in (None, "zscore"):
            raise ScaLavaError(f"unknown score normalisation {self.normalize!r} (zscore, or none)"[:120])
        if self.normalize and self.effective_ranking != "plain":
            raise ScaLavaError("a per-layer score normalisation is for the plain ranking (the layer ranking ranks "
                               "within each layer already)")

    @property
    def budget_kind(self) -> str:
        return parse_budget(self.budget)[0]

    @property
    def budget_value(self) -> float:
        return parse_budget(self.budget)[1]

    @property
    def effective_ranking(self) -> str:
        return get_criterion(self.criterion).ranking or self.ranking

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PruneConfig:
        d = dict(d)
        if "budget" not in d:  # checkpoints written before budgets had kinds
            if d.get("target_params") is not None:
                d["budget"] = f"params={d['target_params']}"
            elif d.get("sparsity") is not None:
                d["budget"] = f"channels={1.0 - float(d['sparsity'])}"
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
