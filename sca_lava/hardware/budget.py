"""Python API of the hardware budget (used by ``sca-lava budget`` and the demo).

``budget_netx`` = allocate the netx file on a profile's cores, run the spikes
through the real Lava runtime, count per-core activity, price it.
"""

from __future__ import annotations

import os

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.activity import Activity, count_activity
from sca_lava.hardware.allocation import Allocation, allocate, check_max_chips
from sca_lava.hardware.energy import estimate
from sca_lava.hardware.profile import load_profile
from sca_lava.netx.reader import NetxSpec, read_netx


def first_layer_input(spec: NetxSpec, spikes: np.ndarray) -> np.ndarray:
    """The spikes the first neuron layer receives (the raw input either way:
    an input layer with neurons gets them through its identity synapses)."""
    return np.asarray(spikes)


def budget_from_spikes(alloc: Allocation, spikes: np.ndarray, layer_spikes: dict[int, np.ndarray]
                       ) -> tuple[Activity, dict]:
    """Activity + energy from spikes of any simulator (SLAYER layout)."""
    act = count_activity(alloc, first_layer_input(alloc.spec, spikes), layer_spikes)
    return act, estimate(alloc, act)


def budget_netx(path: str | os.PathLike, profile, spikes: np.ndarray | None = None, *,
                max_chips: int | None = None, progress: bool = False,
                alloc: Allocation | None = None, lava=None) -> dict:
    """Budget one netx file on ``profile`` (name, path or Profile).

    ``spikes`` (N, C, H, W, T) or (N, F, T): input samples run through Lava
    (``run_lava(record_all=True)``); ``None`` gives the allocation only (energy
    and latency keys are then ``None``). Returns a JSON-able dict with
    ``cores``, ``chips``, ``dynamic_energy_uj``, ``static_energy_uj``,
    ``latency_us`` (all per inference) and ``layers`` (per layer details).
    ``lava``: a :class:`~sca_lava.netx.record.SpikeRecord` of these
    ``spikes`` recorded with ``record_all=True``, to budget several profiles
    from one Lava run.
    """
    prof = load_profile(profile)
    path = os.fspath(path)
    in_shape = tuple(np.asarray(spikes).shape[1:-1]) if spikes is not None else None
    spec = alloc.spec if alloc is not None else read_netx(path, input_shape=in_shape)
    if alloc is None:
        alloc = allocate(spec, prof, max_chips=max_chips)
    elif max_chips is not None:
        check_max_chips(alloc, max_chips)
    summary = alloc.summary()
    result = {
        "model": path,
        "profile": prof.name,
        "profile_path": prof.path,
        "cores": alloc.total_cores,
        "chips": alloc.chips,
        "lower_bound_cores": sum(la.lower_bound for la in alloc.layers),
        "allocation": summary,
        "utilisation": alloc.utilisation(),
        "assumptions": prof.assumptions,
        "dynamic_energy_uj": None,
        "static_energy_uj": None,
        "latency_us": None,
        "layers": [dict(ly) for ly in summary["layers"]],
    }
    if spikes is None:
        return result
    from sca_lava.deploy.lava_runner import run_lava

    spikes = np.asarray(spikes)
    if lava is None:
        lava = run_lava(path, spikes, record_all=True, progress=progress, spec=spec)
    elif len(lava.layer_spikes) != len(spec.neuron_layers):
        raise ScaLavaError("the given Lava run did not record every layer (use record_all=True)")
    act, energy = budget_from_spikes(alloc, spikes, lava.layer_spikes)
    result.update(energy)
    result["samples"], result["steps"] = act.samples, act.steps
    result["lava_seconds"] = lava.seconds
    result["activity_totals"] = act.totals()
    result["per_core"] = {q: v.tolist() for q, v in act.per_core.items()}
    for ly, lay, en in zip(result["layers"], act.per_layer, energy["per_layer_energy"]):
        ly["activity"] = {k: v for k, v in lay.items() if k != "layer"}
        ly["energy_uj"] = {k: v for k, v in en.items() if k != "layer"}
    return result


def compare(dense: dict, pruned: dict) -> dict:
    """Side-by-side figures of two :func:`budget_netx` results (ratios pruned/dense)."""
    keys = ("cores", "chips", "dynamic_energy_uj", "static_energy_uj", "latency_us")
    out = {"dense": {}, "pruned": {}, "ratio": {}}
    for k in keys:
        a, b = dense.get(k), pruned.get(k)
        out["dense"][k], out["pruned"][k] = a, b
        out["ratio"][k] = (b / a) if (a not in (None, 0) and b is not None) else None
    out["cores_per_layer"] = {
        "dense": [ly["cores"] for ly in dense["layers"]],
        "pruned": [ly["cores"] for ly in pruned["layers"]],
    }
    if dense.get("energy_breakdown_uj") and pruned.get("energy_breakdown_uj"):
        out["energy_breakdown_uj"] = {"dense": dense["energy_breakdown_uj"],
                                      "pruned": pruned["energy_breakdown_uj"]}
    if dense.get("profile") != pruned.get("profile"):
        raise ScaLavaError(f"cannot compare budgets on different profiles ({dense.get('profile')} vs {pruned.get('profile')})")
    out["profile"] = dense.get("profile")
    return out
