"""Target sparsity over training (Zhu & Gupta 2017 cubic ramp).

s(e) = s_f * (1 - (1 - (e - start) / ramp)^3) for start <= e <= start + ramp,
0 before, s_f after; ``e`` counts finished epochs. Pruning fast early (when
many channels are redundant) and slowly near the end leaves the network time
to recover. ``constant`` jumps to s_f at the first update (one-shot style).
"""

from __future__ import annotations

from sca_lava.errors import ScaLavaError

SCHEDULES = ("cubic", "linear", "constant")


def target_sparsity(epoch: float, final: float, start: float, ramp: float, kind: str = "cubic") -> float:
    if kind not in SCHEDULES:
        raise ScaLavaError(f"unknown sparsity schedule {kind!r} (choose from {', '.join(SCHEDULES)})")
    if epoch <= start:
        return 0.0
    if kind == "constant" or ramp <= 0:
        return float(final)
    t = min(1.0, (epoch - start) / ramp)
    if kind == "linear":
        return float(final * t)
    return float(final * (1.0 - (1.0 - t) ** 3))


def default_ramp(epochs: int, start: int = 0) -> int:
    """Reach the final sparsity after ~2/3 of training, leaving at least one
    epoch to fine-tune the final structure when there are >= 2 epochs."""
    span = max(1, epochs - start)
    ramp = max(1, round(2 * span / 3))
    if span >= 2:
        ramp = min(ramp, span - 1)
    return ramp
