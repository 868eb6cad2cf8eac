"""The honest-uncertainty statement every budget report carries.

Why: a budget is only as good as its least certain number. The statement
says how many profile values are sourced and which are assumptions, and what
the measured cross-check against an independent calibrated simulator (SANA-FE,
``benchmarks/crosscheck_sanafe.py``) found, as recorded in the profile's
``validation:`` section (absent: no cross-check exists for this chip).
"""

from __future__ import annotations

from sca_lava.hardware.profile import Profile

#: what the allocation model itself cannot capture (docs/hardware.md, "Assumptions and limits")
MODEL_LIMITS = ("a model of the Loihi compilers' mapping, not Intel's compiler; one layer per core group; "
                "mean hops per message instead of a placement on the mesh; no learning costs")


def uncertainty(prof: Profile) -> dict:
    """Counts of sourced / assumed values, the assumed fields, the recorded
    cross-check ratios and a one-paragraph statement."""
    assumed = sorted(prof.assumptions)
    sourced = len(prof.values) - len(assumed)
    energy_assumed = [k for k in assumed if k.startswith("energy_pj.")]
    checks = {k: v for k, v in prof.validation.items()}
    parts = [f"{sourced} of {len(prof.values)} profile values are sourced, {len(assumed)} are assumptions"
             + (f" (including {len(energy_assumed)} per-op energies)" if energy_assumed else "")]
    if checks:
        parts.append("measured cross-check (ours / reference; sources under 'crosscheck'): " + ", ".join(
            f"{k} {v['value']:.3f}" for k, v in checks.items()))
    else:
        parts.append("no independent cross-check of this profile's energies exists")
    parts.append(MODEL_LIMITS)
    return {"sourced": sourced, "assumed": len(assumed), "assumed_fields": assumed,
            "crosscheck": checks, "statement": "; ".join(parts) + "."}
