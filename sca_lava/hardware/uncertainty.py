"""The honest-uncertainty statement every budget report carries.

Why: a budget is only as good as its least certain number. The statement
says how many profile values are sourced and which are assumptions, and what
the profile's ``validation:`` section records: independent cross-checks
(kind ``check``, e.g. SANA-FE, ``benchmarks/crosscheck_sanafe.py``) and the
residuals of a calibration (kind ``fit``, e.g. Loihi 2 on Intel's PilotNet
measurement, ``benchmarks/intel_parity.py``), which say the model was fitted
to that one measurement, not that it holds elsewhere.
"""

from __future__ import annotations

from sca_lava.hardware.profile import Profile

#: what the allocation model itself cannot capture (docs/hardware.md, "Assumptions and limits")
MODEL_LIMITS = ("a model of the Loihi compilers' mapping, not Intel's compiler; one layer per core group; "
                "mean hops per message instead of a placement on the mesh; no learning costs")


def _ratios(entries: dict) -> str:
    return ", ".join(f"{k} {v['value']:.3f}" for k, v in entries.items())


def uncertainty(prof: Profile) -> dict:
    """Counts of sourced / assumed values, the assumed fields, the recorded
    cross-checks and calibration residuals and a one-paragraph statement."""
    assumed = sorted(prof.assumptions)
    sourced = len(prof.values) - len(assumed)
    energy_assumed = [k for k in assumed if k.startswith("energy_pj.")]
    checks = {k: v for k, v in prof.validation.items() if v.get("kind", "check") == "check"}
    fits = {k: v for k, v in prof.validation.items() if v.get("kind") == "fit"}
    parts = [f"{sourced} of {len(prof.values)} profile values are sourced, {len(assumed)} are assumptions"
             + (f" (including {len(energy_assumed)} per-op energies)" if energy_assumed else "")]
    if fits:
        parts.append("calibrated on one network, so its errors on other networks are unknown (fit residuals, "
                     "ours / measured: " + _ratios(fits) + ")")
    if checks:
        parts.append("measured cross-check (ours / reference; sources under 'crosscheck'): " + _ratios(checks))
    else:
        parts.append("no independent cross-check of this profile's energies exists")
    parts.append(MODEL_LIMITS)
    return {"sourced": sourced, "assumed": len(assumed), "assumed_fields": assumed,
            "crosscheck": checks, "calibration": fits, "statement": "; ".join(parts) + "."}
