"""Measured cost of a (pruned) network: parameters, neurons, SynOps and
firing rates from SLAYER spikes on test data, plus JSON/Markdown/PNG output.

Definitions (see docs/metrics): parameters = synaptic weights of conv/dense
layers (our blocks have no biases; neuron parameters are not counted);
SynOps = sum over input spikes of their fan-out to existing output neurons
(zero weights count as synapses, so only physically removed channels reduce
it), computed with :func:`sca_lava.metrics.fanout_map` on the spikes SLAYER
delivers to each layer (delay shift included, as Lava sees them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sca_lava.atomic import write_json, write_text
from sca_lava.geometry import count_params, netx_spec
from sca_lava.metrics import Accuracy, SpikeCount, SynOps
from sca_lava.metrics import measure as run_metrics
from sca_lava.netx.reader import LayerSpec
from sca_lava.plotting import new_figure, save_figure
from sca_lava.training.evaluate import slayer_batches


def layer_specs(graph) -> dict[int, LayerSpec]:
    """Block index -> LayerSpec of each synaptic block of a traced network."""
    syn = [ly for ly in netx_spec(graph).layers if ly.is_synaptic]
    return {g.block: ly for g, ly in zip(graph.synaptic, syn)}


def measure(graph, x: np.ndarray, y: np.ndarray, num_steps: int, encoding: str = "rate-regular",
            batch_size: int = 200, events: bool = False) -> dict:
    """Accuracy and per-synaptic-layer SynOps (per sample), neurons and firing
    rates of a traced network (plain or masked) on images/events."""
    specs = layer_specs(graph)
    blocks = len(graph.blocks)
    res = run_metrics(slayer_batches(graph, x, y, num_steps, encoding, batch_size, events),
                      [Accuracy(), SynOps([specs.get(i) for i in range(blocks)]), SpikeCount(blocks)])
    syn, rate = res["synops"], res["spikes"]["firing_rate"]
    layers = [{"block": i, "name": graph.label(i), "type": graph.layers[i].kind, "channels": int(spec.out_shape[0]),
               "neurons": spec.num_neurons, "synops": syn[i], "firing_rate": rate[i]}
              for i, spec in specs.items()]
    return {
        "accuracy": res["accuracy"] if len(x) else 0.0, "samples": len(x), "layers": layers,
        "synops": float(sum(ly["synops"] for ly in layers)),
        "neurons": int(sum(ly["neurons"] for ly in layers)),
        "params": count_params(graph.synaptic),
    }


def build_report(small, dense, small_m: dict, dense_m: dict | None, extra: dict | None = None) -> dict:
    """Compare the surgered net's measurement with the dense net's (traced
    graphs ``small`` and ``dense``; ``dense_m`` None when no trained dense
    reference exists: SynOps fraction is then None)."""
    dense_geo = dense.synaptic
    dense_params = count_params(dense_geo)
    small_geo = small.synaptic
    channels = []
    for g_d, g_s, ly in zip(dense_geo, small_geo, small_m["layers"]):
        d_ly = dense_m["layers"][len(channels)] if dense_m else None
        channels.append({
            "block": g_d.block, "name": dense.label(g_d.block), "type": g_d.kind, "prunable": g_d.prunable,
            "before": g_d.out, "after": g_s.out,
            "params_before": g_d.params(g_d.out, g_d.in_channels if g_d.in_from is None
                                        else dense_geo[g_d.in_from].out),
            "params_after": g_s.params(g_s.out, g_s.in_channels if g_s.in_from is None
                                       else small_geo[g_s.in_from].out),
            "synops": ly["synops"], "synops_dense": d_ly["synops"] if d_ly else None,
            "firing_rate": ly["firing_rate"], "firing_rate_dense": d_ly["firing_rate"] if d_ly else None,
        })
    rep = {
        "test_accuracy": small_m["accuracy"],
        "dense_test_accuracy": dense_m["accuracy"] if dense_m else None,
        "test_samples": small_m["samples"],
        "params": small_m["params"], "dense_params": dense_params,
        "param_fraction": small_m["params"] / dense_params,
        "neurons": small_m["neurons"],
        "dense_neurons": int(sum(sp.num_neurons for sp in layer_specs(dense).values())),
        "synops_per_sample": small_m["synops"],
        "dense_synops_per_sample": dense_m["synops"] if dense_m else None,
        "synops_fraction": (small_m["synops"] / dense_m["synops"]) if dense_m and dense_m["synops"] else None,
        "channels_per_layer": channels,
        "firing_rates": [ly["firing_rate"] for ly in small_m["layers"]],
        "definitions": {
            "params": "synaptic weights of conv/pool/dense layers (a pool: one kernel per channel, as deployed; "
                      "no biases exist; neuron parameters not counted)",
            "synops": "per test sample: input spikes x fan-out to existing output neurons (SLAYER spikes)",
        },
    }
    rep["neuron_fraction"] = rep["neurons"] / rep["dense_neurons"]
    rep.update(extra or {})
    return rep


def _fmt(v, pct=False) -> str:
    if v is None:
        return "n/a"
    if pct:
        return f"{100 * v:.1f} %"
    return f"{v:,.0f}" if isinstance(v, (int, float)) and abs(v) >= 100 else f"{v:.4g}"


def _budget_line(b: dict | None) -> list[str]:
    if not b:
        return []
    on = f" on {b['profile']}" if b.get("profile") else ""
    return [f"- budget: `{b['kind']}={b['value']:g}`{on}, {b['ranking']} ranking; cost after training "
            f"{_fmt(b['cost_fraction'], True)} of the dense reference (pruner's cost model)"]


def report_markdown(rep: dict) -> str:
    lines = [
        "# SCA pruning report", "",
        f"- criterion: `{rep.get('criterion', '?')}`",
        *_budget_line(rep.get("budget")),
        f"- test accuracy: {_fmt(rep['test_accuracy'], True)} (dense: {_fmt(rep['dense_test_accuracy'], True)})"
        f" on {rep['test_samples']} samples",
        f"- parameters: {rep['params']:,} of {rep['dense_params']:,} ({_fmt(rep['param_fraction'], True)})",
        f"- SynOps per sample: {_fmt(rep['synops_per_sample'])} (dense: {_fmt(rep['dense_synops_per_sample'])},"
        f" fraction {_fmt(rep['synops_fraction'], True)})",
        f"- neurons: {rep['neurons']:,} (fraction {_fmt(rep['neuron_fraction'], True)})", "",
        "| layer | type | channels before | after | params before | after | SynOps/sample | firing rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in rep["channels_per_layer"]:
        lines.append(f"| {c['name']} | {c['type']} | {c['before']} | {c['after']} | {c['params_before']:,} | "
                     f"{c['params_after']:,} | {_fmt(c['synops'])} | {c['firing_rate']:.4f} |")
    lines += ["", "Parameters: " + rep["definitions"]["params"] + ".",
              "SynOps: " + rep["definitions"]["synops"] + ".", ""]
    return "\n".join(lines)


def plot_title(rep: dict) -> str:
    """The report figure's title: the budget in its own currency (an energy
    budget's title said "% params"), then the parameters and the accuracy."""
    b = rep.get("budget") or {}
    head = rep.get("criterion", "")
    if b.get("kind"):
        on = f" on {b['profile']}" if b.get("profile") else ""
        spent = f"{100 * b['cost_fraction']:.1f} % of the dense {b['kind']}" if b["kind"] != "cores" else \
            f"{b['cost_fraction'] * b['dense_cost']:.0f} cores"
        head += f", {b['kind']}={b['value']:g}{on}: {spent}"
    return f"{head}; {100 * rep['param_fraction']:.1f} % params, acc {100 * rep['test_accuracy']:.1f} %"


def plot_channels(rep: dict, path: str | os.PathLike) -> None:
    layers = rep["channels_per_layer"]
    labels = [c["name"] for c in layers]
    xs = np.arange(len(layers))
    fig, ax = new_figure(figsize=(1.2 * len(layers) + 3, 3.5))
    ax.bar(xs - 0.2, [c["before"] for c in layers], 0.4, label="dense", color="#bbbbbb")
    ax.bar(xs + 0.2, [c["after"] for c in layers], 0.4, label="kept", color="#3070b0")
    ax.set_xticks(xs, labels)
    ax.set_ylabel("channels / neurons")
    ax.set_title(plot_title(rep), fontsize=9)
    ax.legend()
    save_figure(fig, path, dpi=100)


def write_report(rep: dict, out_dir: str | os.PathLike) -> None:
    out = Path(out_dir)
    write_json(out / "report.json", rep)
    write_text(out / "report.md", report_markdown(rep))
    plot_channels(rep, out / "report.png")
