"""Hardware budget tables and plots (the reporting side of ``sca_lava.hardware``),
used by ``sca-lava budget``, the demo workflow and the notebooks. The pruning
report (``sca_lava.pruning.report``) is its sibling for accuracy and SynOps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sca_lava.hardware.compiler import COLUMNS


def fmt(v, nd=3):
    if v is None:
        return "-"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def _shape(ly: dict) -> str:
    return "x".join(map(str, ly["out_shape"]))


def core_distribution(res: dict) -> list[dict] | None:
    """Rows of Intel's Loihi 2 compiler's per-core distribution table (mean per
    core, output layer first, as its log prints it) for a budget in its units;
    None for a profile counted in bits."""
    if "neuron_groups" not in res["layers"][0].get("usage_per_core", {}):
        return None
    return [{"layer": ly["layer"], "name": ly.get("name", ly["layer"]), "kind": ly["kind"], "shape": _shape(ly), "cores": ly["cores"],
             **{col: (ly["usage_per_core"][key] if key else None) for col, key in COLUMNS.items()}}
            for ly in reversed(res["layers"])]


def print_core_distribution(rows: list[dict]) -> None:
    print("  per-core distribution in Intel's Loihi 2 compiler's units (mean per core, output layer first; "
          "AxonMem not modelled):")
    print(f"  {'layer':<8} {'kind':<6} {'shape':<12} " + " ".join(f"{c:>8}" for c in COLUMNS) + f" {'cores':>5}")
    for r in rows:
        vals = " ".join(f"{'-' if r[c] is None else round(r[c]):>8}" for c in COLUMNS)
        print(f"  {r['name']:<8} {r['kind']:<6} {r['shape']:<12} {vals} {r['cores']:>5}")


def print_budget(res: dict) -> None:
    print(f"{res['model']} on {res['profile']}: {res['cores']} cores, {res['chips']} chip(s) "
          f"(lower bound {res['lower_bound_cores']} cores)")
    mem = "synapse_words" if "synapse_words" in res["layers"][0] else "synapse_bits"
    print(f"  {'layer':<8} {'kind':<6} {'shape':<12} {'neurons':>8} {mem.replace('synapse_', 'syn '):>10} "
          f"{'cores':>5} {'LB':>4} {'bound by':<13} {'energy uJ':>9}")
    for ly in res["layers"]:
        e = ly.get("energy_uj")
        e_tot = sum(e.values()) if e else None
        print(f"  {ly.get('name', ly['layer']):<8} {ly['kind']:<6} {_shape(ly):<12} {ly['neurons']:>8} "
              f"{ly[mem]:>10} {ly['cores']:>5} {ly['lower_bound']:>4} {ly['binding_limit']:<13} "
              f"{fmt(e_tot):>9}")
    rows = core_distribution(res)
    if rows:
        print_core_distribution(rows)
    if res.get("dynamic_energy_uj") is not None:
        br = ", ".join(f"{k} {v:.3g}" for k, v in res["energy_breakdown_uj"].items())
        print(f"  per inference: dynamic {res['dynamic_energy_uj']:.4g} uJ ({br}); static "
              f"{res['static_energy_uj']:.4g} uJ; latency {res['latency_us']:.4g} us "
              f"({res['throughput_inf_per_s']:.4g} inf/s); {res['samples']} samples x {res['steps']} steps")
    if res.get("verify"):
        v = res["verify"]
        print(f"  activity from the {res['activity_source']} evaluator; Lava cross-check on {v['samples']} "
              f"samples: {v['samples'] - v['mismatching_samples']} identical in every layer and step")
    print(f"  uncertainty: {res['uncertainty']['statement']}")


def budget_plots(out: Path, results: list[dict]) -> list[str]:
    from sca_lava.plotting import new_figure

    files = []
    labels = [Path(r["model"]).name for r in results]
    if len(set(labels)) < len(labels):
        labels = [f"{i + 1}: {lab}" for i, lab in enumerate(labels)]

    fig, ax = new_figure(figsize=(7, 3.5))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        xs = np.arange(len(r["layers"])) + i * width
        ax.bar(xs, [ly["cores"] for ly in r["layers"]], width, label=f"{labels[i]} ({r['cores']} cores)")
    ax.set_xticks(np.arange(len(results[0]["layers"])) + width * (len(results) - 1) / 2)
    ax.set_xticklabels([ly.get("name", f"{ly['kind']} {ly['layer']}") for ly in results[0]["layers"]], rotation=30,
                       fontsize=8)
    ax.set_ylabel("cores")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Cores per layer on {results[0]['profile']}")
    ax.legend(fontsize=8)
    files.append(_save(fig, out / "cores_per_layer.png"))

    if all(r.get("energy_breakdown_uj") for r in results):
        fig, ax = new_figure(figsize=(5, 3.5))
        bottom = np.zeros(len(results))
        for kind in results[0]["energy_breakdown_uj"]:
            vals = np.array([r["energy_breakdown_uj"][kind] for r in results])
            ax.bar(labels, vals, bottom=bottom, label=kind)
            bottom += vals
        ax.bar(labels, [r["static_energy_uj"] for r in results], bottom=bottom, label="static", hatch="//",
               alpha=0.5)
        ax.set_ylabel("uJ per inference")
        ax.set_title("Energy by operation kind (estimate)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        files.append(_save(fig, out / "energy_breakdown.png"))

    fig, axes = new_figure(len(results), 1, figsize=(7, 2.6 * len(results)), squeeze=False)
    for ax, r, lab in zip(axes[:, 0], results, labels):
        util = r["utilisation"]
        for k, vals in util.items():
            ax.plot(np.arange(len(vals)), np.asarray(vals) * 100, marker=".", ls="", label=k)
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of limit")
        ax.set_title(f"Per-core utilisation: {lab}", fontsize=9)
        ax.legend(fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("core")
    axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
    files.append(_save(fig, out / "core_utilisation.png"))
    return files


def _save(fig, path: Path) -> str:
    from sca_lava.plotting import save_figure

    return save_figure(fig, path, dpi=120)


def sweep_plot(out: Path, rows: list[dict], title: str) -> str:
    from sca_lava.plotting import new_figure

    ok = [r for r in rows if r["cores"] is not None]
    fig, ax = new_figure(figsize=(5, 3.5))
    ax.plot([r["keep"] for r in ok], [r["cores"] for r in ok], marker="o", label="cores")
    ax.plot([r["keep"] for r in ok], [r["lower_bound_cores"] for r in ok], ls="--", label="lower bound")
    ax.set_xlabel("channel keep fraction")
    ax.set_ylabel("cores")
    ax.set_title(title, fontsize=9)
    ax.legend()
    return _save(fig, out / "sweep_cores.png")
