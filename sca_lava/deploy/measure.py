"""The activity the hardware budget prices: one run of a netx file, every layer
recorded, from the bit-exact fixed-point evaluator (fast, batched), with the
real Lava runtime as a cross-check on the first ``verify`` samples.

Why here: the budget (``sca_lava.hardware``) must not run simulators, so the
command and the demo call :func:`measure` and hand the record to
:func:`sca_lava.hardware.budget.budget_netx`.
"""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.netx.reader import NetxSpec
from sca_lava.netx.record import SpikeRecord


def measure(path: str, spikes: np.ndarray | None = None, verify: int = 0, *, spec: NetxSpec | None = None,
            progress: bool = False, lava: SpikeRecord | None = None, bias: np.ndarray | None = None,
            steps: int | None = None) -> SpikeRecord:
    """Every layer's spikes of ``spikes`` through ``path`` (fixed-point
    evaluator). ``verify`` > 0 re-runs the first ``verify`` samples in Lava
    (or uses ``lava``, a complete Lava record of them) and stores the
    agreement in ``record.extra["verify"]``: samples checked, mismatching
    samples, the first mismatch and the fraction of identical samples."""
    from sca_lava.deploy.fixed_point import run_fixed_point

    if verify < 0:
        raise ScaLavaError(f"--verify must be >= 0, got {verify}")
    rec = run_fixed_point(path, spikes, record_all=True, progress=progress, spec=spec, bias=bias, steps=steps)
    total = rec.output.shape[0]
    n = min(int(verify), total)
    if lava is not None:
        n = min(total, next(iter(lava.layer_spikes.values())).shape[0])
    if n > 0:
        from sca_lava.deploy.lava_runner import cross_check

        rec.extra["verify"] = cross_check(rec, spikes, bias, n, progress=progress, lava=lava)
    return rec
