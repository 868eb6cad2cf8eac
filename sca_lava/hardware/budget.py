"""Python API of the hardware budget (used by ``sca-lava budget`` and the demo).

``budget_netx`` = allocate the netx file on a profile's cores, count per-core
activity from a :class:`~sca_lava.netx.record.SpikeRecord` (any simulator:
the fixed-point evaluator, Lava, SLAYER), price it. This package never runs a
simulator itself (``hardware`` does not import ``deploy``);
:func:`sca_lava.deploy.measure.measure` makes the record.
"""

from __future__ import annotations

import os

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.activity import Activity, count_activity
from sca_lava.hardware.allocation import Allocation, allocate, check_max_chips
from sca_lava.hardware.energy import estimate
from sca_lava.hardware.profile import load_profile
from sca_lava.hardware.uncertainty import uncertainty
from sca_lava.netx.reader import NetxSpec, read_netx
from sca_lava.netx.record import SpikeRecord


def budget_from_spikes(alloc: Allocation, spikes: np.ndarray, layer_spikes: dict[int, np.ndarray]
                       ) -> tuple[Activity, dict]:
    """Activity + energy from spikes of any simulator (SLAYER layout); ``spikes``
    is what the first neuron layer receives (the raw input either way: an input
    layer with neurons gets it through its identity synapses)."""
    act = count_activity(alloc, np.asarray(spikes), layer_spikes)
    return act, estimate(alloc, act)


def _record_of(spikes, record, lava) -> SpikeRecord | None:
    rec = record if record is not None else lava
    if isinstance(spikes, SpikeRecord):
        rec = spikes
    if rec is None:
        if spikes is not None:
            raise ScaLavaError("budget_netx takes a SpikeRecord of the run (make one with "
                               "sca_lava.deploy.measure.measure(path, spikes)), not raw input spikes")
        return None
    if not isinstance(rec, SpikeRecord):
        raise ScaLavaError(f"record must be a SpikeRecord, got {type(rec).__name__}")
    if not rec.complete:
        raise ScaLavaError("the given run did not record every layer (use record_all=True)")
    if rec.input is None:
        if spikes is None or isinstance(spikes, SpikeRecord):
            raise ScaLavaError("the given run has no input spikes (SpikeRecord.input is None)")
        rec = SpikeRecord(rec.spec, rec.layer_spikes, rec.seconds, rec.source, np.asarray(spikes), rec.extra)
    return rec


def budget_netx(path: str | os.PathLike, profile, spikes=None, *, max_chips: int | None = None,
                alloc: Allocation | None = None, record: SpikeRecord | None = None,
                lava: SpikeRecord | None = None, spec: NetxSpec | None = None) -> dict:
    """Budget one netx file on ``profile`` (name, path or Profile).

    ``record`` (or ``spikes`` given as a SpikeRecord; ``lava=`` is the old
    name): every layer's spikes of one run of the file, e.g. from
    :func:`sca_lava.deploy.measure.measure`; one record serves several
    profiles. No record gives the allocation only (energy and latency keys are
    then ``None``). Returns a JSON-able dict with ``cores``, ``chips``,
    ``dynamic_energy_uj``, ``static_energy_uj``, ``latency_us`` (all per
    inference), ``layers`` (per layer details) and ``uncertainty``.
    """
    prof = load_profile(profile)
    path = os.fspath(path)
    rec = _record_of(spikes, record, lava)
    if alloc is not None:
        spec = alloc.spec
    elif spec is None:
        spec = rec.spec if rec is not None else read_netx(path)
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
        "uncertainty": uncertainty(prof),
        "dynamic_energy_uj": None,
        "static_energy_uj": None,
        "latency_us": None,
        "layers": [dict(ly) for ly in summary["layers"]],
    }
    if rec is None:
        return result
    if len(rec.layer_spikes) != len(spec.neuron_layers):
        raise ScaLavaError(f"the run recorded {len(rec.layer_spikes)} layers but {path} has "
                           f"{len(spec.neuron_layers)} neuron layers")
    act, energy = budget_from_spikes(alloc, rec.input, rec.layer_spikes)
    result.update(energy)
    result["samples"], result["steps"] = act.samples, act.steps
    result["activity_source"] = rec.source
    result["activity_seconds"] = rec.seconds
    if "verify" in rec.extra:
        result["verify"] = rec.extra["verify"]
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
