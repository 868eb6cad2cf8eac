"""Training settings: a plain, validated dataclass (a leaf of the training
package, so checkpoints can validate what they carry without importing the
loop)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sca_lava.errors import ScaLavaError


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
    num_steps: int | None = None  # time steps per sample of static inputs (None: the network's config)

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
        n = self.num_steps
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000):
            raise ScaLavaError(f"train config: num_steps must be an integer in 1..100000, got {n!r}"[:160])
        if self.encoding not in ENCODINGS:
            raise ScaLavaError(f"train config: encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}"[:160])
