"""Energy and latency from activity counts and a profile's per-op costs.

Energy per inference (sample) = synops_stored x E_synop + active updates x
E_active + inactive updates x E_inactive + spike messages x (E_message +
hops_per_message x E_hop), where messages = spikes arriving at cores plus the
output layer's spikes sent to the host. Static energy = power per chip x
chips used x latency, reported separately.

Latency: all cores work in parallel and synchronise at the end of every time
step (Loihi's barrier), so a step takes ``step_overhead`` plus the busiest
core's work that step, work = synops_stored x t_synop + active x t_active +
inactive x t_inactive + spikes_out x t_message. Latency per inference sums the
steps of one sample (mean over samples); throughput = 1 / latency (samples
one after another, no overlap).
"""

from __future__ import annotations

import numpy as np

from sca_lava.hardware.activity import Activity
from sca_lava.hardware.allocation import Allocation


def estimate(alloc: Allocation, act: Activity) -> dict:
    """Energy (uJ per inference, by op kind and by layer) and latency (us)."""
    p = alloc.profile
    e_msg = p["energy_pj.spike_message"] + p["routing.hops_per_message"] * p["energy_pj.spike_hop"]
    e = {
        "synop": p["energy_pj.synop"],
        "neuron_active": p["energy_pj.neuron_active"],
        "neuron_inactive": p["energy_pj.neuron_inactive"],
        "routing": e_msg,
    }
    tot = act.totals()
    counts = {
        "synop": tot["synops_stored"],
        "neuron_active": tot["neuron_active"],
        "neuron_inactive": tot["neuron_inactive"],
        "routing": tot["spikes_in"] + act.host_spikes_out,
    }
    breakdown_uj = {k: counts[k] * e[k] * 1e-6 for k in e}
    per_layer = []
    for la, lay in zip(alloc.layers, act.per_layer):
        per_layer.append({
            "layer": la.view.index,
            "synop_uj": lay["synops_stored"] * e["synop"] * 1e-6,
            "neuron_uj": (lay["neuron_active"] * e["neuron_active"]
                          + lay["neuron_inactive"] * e["neuron_inactive"]) * 1e-6,
            "routing_uj": lay["spikes_in"] * e_msg * 1e-6,
        })
    t = p
    work = (act.per_step["synops_stored"] * t["timing_ns.synop"]
            + act.per_step["neuron_active"] * t["timing_ns.neuron_active"]
            + act.per_step["neuron_inactive"] * t["timing_ns.neuron_inactive"]
            + act.per_step["spikes_out"] * t["timing_ns.spike_message"])  # (N, cores, T) ns
    busiest = work.max(axis=1)  # (N, T)
    step_ns = busiest + t["timing_ns.step_overhead"]
    latency_us = float(step_ns.sum(axis=1).mean()) * 1e-3
    busiest_core = np.bincount(work.argmax(axis=1).reshape(-1), minlength=alloc.total_cores)
    dynamic = float(sum(breakdown_uj.values()))
    static_uj = p["static.power_mw_per_chip"] * alloc.chips * latency_us * 1e-3
    # mW x us = nJ = 1e-3 uJ
    return {
        "dynamic_energy_uj": dynamic,
        "static_energy_uj": static_uj,
        "energy_breakdown_uj": breakdown_uj,
        "energy_per_op_pj": e,
        "op_counts": counts,
        "per_layer_energy": per_layer,
        "latency_us": latency_us,
        "step_latency_us_mean": float(step_ns.mean()) * 1e-3,
        "throughput_inf_per_s": 1e6 / latency_us if latency_us > 0 else float("inf"),
        "busiest_core": int(busiest_core.argmax()),
        "latency_model": "sum over steps of (step_overhead + busiest core's work that step)",
    }
