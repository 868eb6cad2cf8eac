"""Energy and latency from activity counts and a profile's per-op costs.

Energy per inference (sample) = synops_stored x E_synop (by the layer's kind
and the core's synapse encoding) + active updates x E_active + inactive
updates x E_inactive + spikes emitted x E_spike_out + spike messages x
(E_message + hops_per_message x E_hop), where messages = spikes arriving at
cores plus the output layer's spikes sent to the host. Static energy = power
per chip x chips used x latency, reported separately. Per-op prices come from
:func:`op_energy_pj` only.

Latency: all cores work in parallel and synchronise at the end of every time
step (Loihi's barrier), so a step takes ``step_overhead`` plus the busiest
core's work that step, work = synops_stored x t_synop + active x t_active +
inactive x t_inactive + spikes_out x (t_spike_out + t_message). Latency per inference sums the
steps of one sample (mean over samples); throughput = 1 / latency (samples
one after another, no overlap).
"""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.activity import Activity
from sca_lava.hardware.allocation import Allocation
from sca_lava.hardware.profile import load_profile

#: layer kind -> the synapse unit that prices its synaptic events. An input
#: layer's one-to-one synapses are indexed (sparse) synapses.
SYNAPSE_UNIT = {"conv": "synop_conv", "dense": "synop_dense", "input": "synop_sparse"}
KINDS = tuple(SYNAPSE_UNIT)


def _synapse_unit(kind: str, encoding: str | None) -> str:
    if kind not in SYNAPSE_UNIT:
        raise ScaLavaError(f"unknown layer kind {kind!r} for energy pricing (known: {', '.join(KINDS)})")
    if kind == "dense" and encoding == "sparse":
        return "synop_sparse"  # a dense layer stored without its zero weights
    return SYNAPSE_UNIT[kind]


def payload_bits(layer, profile) -> int:
    """Payload bits a layer's spike messages carry: 0 for binary spikes; for
    graded spikes (SDNN) the file's message bits, else the profile's."""
    n = getattr(layer, "neuron", None)
    if n is None or not n.graded:
        return 0
    return int(n.message_bits) or int(load_profile(profile)["routing.graded_payload_bits"])


def op_energy_pj(profile, kind: str, encoding: str | None = None, payload: int = 0) -> dict[str, float]:
    """pJ per operation of a layer of ``kind`` ("conv" | "dense" | "input"):
    ``synop`` (one synaptic event), ``neuron_active`` / ``neuron_inactive``
    (one neuron update per step), ``message`` (one spike message delivered to
    a core, including its mean mesh hops) and ``spike_out`` (one spike
    emitted). ``encoding`` ("dense" | "sparse") is a core's synapse storage;
    a dense layer stored sparse is priced as sparse synapses. ``payload``: bits
    of a graded spike the message carries (:func:`payload_bits` of the sending
    layer), charged in proportion to the message's ``routing.message_bits``.
    The one place per-op energies are read (the budget and the pruner's cost
    model)."""
    p = load_profile(profile)
    per_msg = p["energy_pj.spike_message"] + p["routing.hops_per_message"] * p["energy_pj.spike_hop"]
    return {
        "synop": p[f"energy_pj.{_synapse_unit(kind, encoding)}"],
        "neuron_active": p["energy_pj.neuron_active"],
        "neuron_inactive": p["energy_pj.neuron_inactive"],
        "message": per_msg * (1 + payload / p["routing.message_bits"]),
        "spike_out": p["energy_pj.spike_out"],
    }


def op_time_ns(profile, kind: str, encoding: str | None = None) -> dict[str, float]:
    """ns per operation on one core, keys as :func:`op_energy_pj` (``message``:
    one message sent)."""
    p = load_profile(profile)
    return {
        "synop": p[f"timing_ns.{_synapse_unit(kind, encoding)}"],
        "neuron_active": p["timing_ns.neuron_active"],
        "neuron_inactive": p["timing_ns.neuron_inactive"],
        "message": p["timing_ns.spike_message"],
        "spike_out": p["timing_ns.spike_out"],
    }


def _encoding(la) -> str:
    encs = [t.encoding for t in la.tiles]
    return max(set(encs), key=encs.count)


def layer_prices(alloc: Allocation) -> list[dict[str, float]]:
    """Per neuron layer, :func:`op_energy_pj` of its kind and of the synapse
    encoding most of its cores use (the pruner's per-layer prices)."""
    return [op_energy_pj(alloc.profile, la.view.kind, _encoding(la)) for la in alloc.layers]


def layer_times(alloc: Allocation) -> list[dict[str, float]]:
    """Per neuron layer, :func:`op_time_ns` as :func:`layer_prices` prices it."""
    return [op_time_ns(alloc.profile, la.view.kind, _encoding(la)) for la in alloc.layers]


def _per_core(alloc: Allocation, fn) -> dict[str, np.ndarray]:
    """Per-op cost of every core (its layer's kind, its synapse encoding and the
    payload of the messages it receives, i.e. of the layer before)."""
    layers = alloc.spec.neuron_layers
    rows = [fn(alloc.profile, la.view.kind, t.encoding, *([payload_bits(layers[j - 1], alloc.profile)]
                                                           if fn is op_energy_pj and j > 0 else []))
            for j, la in enumerate(alloc.layers) for t in la.tiles]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}


def estimate(alloc: Allocation, act: Activity) -> dict:
    """Energy (uJ per inference, by op kind and by layer) and latency (us)."""
    p = alloc.profile
    e = _per_core(alloc, op_energy_pj)
    pc = act.per_core
    per_op_pj = {
        "synop": pc["synops_stored"] * e["synop"],
        "neuron_active": pc["neuron_active"] * e["neuron_active"],
        "neuron_inactive": pc["neuron_inactive"] * e["neuron_inactive"],
        "spike_out": pc["spikes_out"] * e["spike_out"],
        "routing": pc["spikes_in"] * e["message"],
    }  # (cores,) pJ per sample
    last = alloc.layers[-1]
    host_pj = act.host_spikes_out * float(op_energy_pj(
        p, last.view.kind, payload=payload_bits(alloc.spec.neuron_layers[-1], p))["message"])
    breakdown_uj = {k: float(v.sum()) * 1e-6 for k, v in per_op_pj.items()}
    breakdown_uj["routing"] += host_pj * 1e-6
    tot = act.totals()
    counts = {
        "synop": tot["synops_stored"],
        "neuron_active": tot["neuron_active"],
        "neuron_inactive": tot["neuron_inactive"],
        "spike_out": tot["spikes_out"],
        "routing": tot["spikes_in"] + act.host_spikes_out,
    }
    per_layer = []
    first = 0
    for la in alloc.layers:
        sl = slice(first, first + la.cores)
        first += la.cores
        per_layer.append({
            "layer": la.view.index,
            "synop_uj": float(per_op_pj["synop"][sl].sum()) * 1e-6,
            "neuron_uj": float(per_op_pj["neuron_active"][sl].sum() + per_op_pj["neuron_inactive"][sl].sum()
                               + per_op_pj["spike_out"][sl].sum()) * 1e-6,
            "routing_uj": float(per_op_pj["routing"][sl].sum()) * 1e-6,
        })
    tm = _per_core(alloc, op_time_ns)
    work = (act.per_step["synops_stored"] * tm["synop"][None, :, None]
            + act.per_step["neuron_active"] * tm["neuron_active"][None, :, None]
            + act.per_step["neuron_inactive"] * tm["neuron_inactive"][None, :, None]
            + act.per_step["spikes_out"] * (tm["spike_out"] + tm["message"])[None, :, None])  # (N, cores, T) ns
    busiest = work.max(axis=1)  # (N, T)
    step_ns = busiest + p["timing_ns.step_overhead"]
    latency_us = float(step_ns.sum(axis=1).mean()) * 1e-3
    busiest_core = np.bincount(work.argmax(axis=1).reshape(-1), minlength=alloc.total_cores)
    dynamic = float(sum(breakdown_uj.values()))
    static_uj = static_power_mw(alloc) * latency_us * 1e-3  # mW x us = nJ = 1e-3 uJ
    return {
        "dynamic_energy_uj": dynamic,
        "static_energy_uj": static_uj,
        "energy_breakdown_uj": breakdown_uj,
        "energy_per_op_pj": {la.view.kind: op_energy_pj(p, la.view.kind) for la in alloc.layers},
        "op_counts": counts,
        "per_layer_energy": per_layer,
        "latency_us": latency_us,
        "step_latency_us_mean": float(step_ns.mean()) * 1e-3,
        "throughput_inf_per_s": 1e6 / latency_us if latency_us > 0 else float("inf"),
        "busiest_core": int(busiest_core.argmax()),
        "latency_model": "sum over steps of (step_overhead + busiest core's work that step)",
    }


def static_power_mw(alloc: Allocation) -> float:
    """Static power of the chips an allocation occupies (every chip used draws it)."""
    return alloc.profile["static.power_mw_per_chip"] * alloc.chips


def layer_work_ns(alloc: Allocation, counts: list[dict[str, float]], steps: int) -> list[float]:
    """Per neuron layer, its cores' work in one step (ns, all its cores together)
    from its op counts per inference (``counts[j]``: ``synop``,
    ``neuron_active``, ``neuron_inactive``, ``spike_out``; missing keys 0),
    priced with :func:`op_time_ns` of its kind and most common encoding."""
    return [(c.get("synop", 0.0) * tm["synop"] + c.get("neuron_active", 0.0) * tm["neuron_active"]
             + c.get("neuron_inactive", 0.0) * tm["neuron_inactive"]
             + c.get("spike_out", 0.0) * (tm["spike_out"] + tm["message"])) / max(steps, 1)
            for tm, c in zip(layer_times(alloc), counts)]


def step_time_ns(alloc: Allocation, work_ns: list[float] | None = None) -> float:
    """One time step: the barrier plus the busiest core's work, each layer's
    work (:func:`layer_work_ns`) spread evenly over its cores. Without work,
    an idle step: every neuron updated as inactive (the floor)."""
    p = alloc.profile
    if work_ns is None:
        per_core = [max(t.usage["neurons"] for t in la.tiles) * p["timing_ns.neuron_inactive"] for la in alloc.layers]
    else:
        per_core = [w / la.cores for w, la in zip(work_ns, alloc.layers)]
    return p["timing_ns.step_overhead"] + max(per_core)


def static_energy_pj(alloc: Allocation, steps: int, work_ns: list[float] | None = None) -> float:
    """Static energy of one inference of ``steps`` steps on the allocation's
    chips: static power x chips x steps x :func:`step_time_ns` (mW x ns = pJ).
    The pruner prices a candidate structure with it (its allocation, its
    measured per-layer work); :func:`estimate` uses the busiest core of every
    step instead, so this is its mean-work approximation."""
    return static_power_mw(alloc) * steps * step_time_ns(alloc, work_ns)
