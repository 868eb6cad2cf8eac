"""Our Loihi 2 model next to Intel's compiler and silicon on PilotNet LIF
(lava-dl 0.6.0 wheel: gts/pilotnet_lif/network.net, driven by image.npy
through the input layer's bias, 16 steps, as Intel's benchmark runs it).

Prints, and writes into docs/hardware.md between its intel_parity markers:
per layer our cores / Intel's compiler's, the per-core distribution in the
compiler's units next to Intel's, dynamic energy, throughput and static
energy per inference against Intel's silicon measurement, and the per-layer
cores of every netx file in the wheel. The energies and times of the loihi2
profile were calibrated on this one measurement, so the energy and
throughput ratios are fit residuals, not validations.

    .venv/bin/python benchmarks/intel_parity.py [--profile loihi2] [--no-docs] [--json PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "hardware.md"
BEGIN, END = "<!-- intel_parity: begin -->", "<!-- intel_parity: end -->"

#: Intel's Loihi 2 compiler and silicon on PilotNet LIF (lava-dl tutorial
#: netx/pilotnet_snn/benchmark.ipynb, stored outputs, January 2023; one Oheo Gulch
#: chip, 16-step inferences), keyed by netx layer index; the distribution columns are
#: AxonIn, NeuronGr, Neurons, Synapses, AxonMap, AxonMem (mean per core).
INTEL = {
    "source": "Intel, lava-dl tutorial netx/pilotnet_snn/benchmark.ipynb (Jan 2023)",
    "distribution": {
        10: (10, 1, 1, 10, 1, 0, 1),
        9: (50, 1, 10, 150, 10, 0, 1),
        8: (100, 1, 50, 1300, 50, 0, 1),
        7: (2560, 1, 8, 7253, 8, 0, 12),
        5: (1, 1, 2048, 2880, 1280, 0, 2),
        4: (1, 1, 2048, 2160, 29, 9, 3),
        3: (2, 1, 2688, 1620, 112, 46, 3),
        2: (2, 1, 2160, 864, 113, 32, 13),
        1: (2, 1, 3072, 81, 253, 93, 25),
        0: (1, 1, 3168, 0, 1015, 731, 13),
    },
    "total_cores": 74,
    "steps": 16,
    "throughput_inf_per_s": 408.91,
    "dynamic_energy_uj": 1093.544,
    "total_energy_uj": 1661.103,
}
COLUMNS = ("AxonIn", "NeuronGr", "Neurons", "Synapses", "AxonMap", "AxonMem")


def intel_cores() -> dict[int, int]:
    return {k: v[-1] for k, v in INTEL["distribution"].items()}


def parity(profile: str = "loihi2") -> dict:
    """Allocation and budget of PilotNet LIF on ``profile`` with the ratios to Intel's figures."""
    from sca_lava.deploy.measure import measure
    from sca_lava.hardware.budget import budget_netx
    from sca_lava.hardware.report import core_distribution
    from sca_lava.netx import read_netx
    from sca_lava.netx.intel import intel_file, pilotnet_lif_image

    path = intel_file("pilotnet_lif")
    spec = read_netx(path)
    rec = measure(str(path), bias=pilotnet_lif_image(), steps=INTEL["steps"], spec=spec)
    res = budget_netx(str(path), profile, record=rec, spec=spec)
    intel = intel_cores()
    layers = [{"layer": ly["layer"], "kind": ly["kind"], "shape": "x".join(map(str, ly["out_shape"])),
               "ours": ly["cores"], "intel": intel[ly["layer"]], "ratio": ly["cores"] / intel[ly["layer"]]}
              for ly in res["layers"]]
    dist = core_distribution(res) or []
    for row in dist:
        row["intel"] = dict(zip(COLUMNS, INTEL["distribution"][row["layer"]][:-1]))
    total = res["dynamic_energy_uj"] + res["static_energy_uj"]
    return {
        "profile": res["profile"], "layers": layers, "distribution": dist,
        "cores": res["cores"], "intel_cores": INTEL["total_cores"], "cores_ratio": res["cores"] / INTEL["total_cores"],
        "dynamic_energy_uj": res["dynamic_energy_uj"], "static_energy_uj": res["static_energy_uj"],
        "throughput_inf_per_s": res["throughput_inf_per_s"], "step_us": res["latency_us"] / INTEL["steps"],
        "dynamic_energy_ratio": res["dynamic_energy_uj"] / INTEL["dynamic_energy_uj"],
        "throughput_ratio": res["throughput_inf_per_s"] / INTEL["throughput_inf_per_s"],
        "total_energy_ratio": total / INTEL["total_energy_uj"],
        "uncertainty": res["uncertainty"]["statement"],
    }


def wheel_cores(profile: str = "loihi2") -> list[dict]:
    """Per-layer cores of every netx file in the lava-dl wheel (allocation only)."""
    from sca_lava.hardware.allocation import allocate
    from sca_lava.netx import read_netx
    from sca_lava.netx.intel import FILES, intel_file

    rows = []
    for name in FILES:
        alloc = allocate(read_netx(intel_file(name)), profile)
        rows.append({"file": FILES[name], "cores": alloc.total_cores,
                     "layers": [(la.view.index, la.view.kind, la.cores, la.binding_limit(alloc.limits))
                                for la in alloc.layers]})
    return rows


def tables(p: dict, wheel: list[dict]) -> str:
    """The Markdown that goes between the markers of docs/hardware.md."""
    lines = [f"PilotNet LIF on `{p['profile']}`, cores per layer (input first), ours / Intel's compiler:", "",
             "| layer | " + " | ".join(f"{r['kind']} {r['shape']}" for r in p["layers"]) + " | total |",
             "|---|" + "---|" * (len(p["layers"]) + 1),
             "| ours | " + " | ".join(str(r["ours"]) for r in p["layers"]) + f" | {p['cores']} |",
             "| Intel | " + " | ".join(str(r["intel"]) for r in p["layers"]) + f" | {p['intel_cores']} |",
             "| ours / Intel | " + " | ".join(f"{r['ratio']:.2f}" for r in p["layers"])
             + f" | {p['cores_ratio']:.3f} |", ""]
    if p["distribution"]:
        lines += ["Per-core distribution (mean per core, output layer first), ours / Intel's:", "",
                  "| layer | " + " | ".join(COLUMNS) + " | cores |", "|---|" + "---|" * (len(COLUMNS) + 1)]
        for r in p["distribution"]:
            cells = [("-" if r[c] is None else f"{round(r[c])}") + f" / {r['intel'][c]}" for c in COLUMNS]
            lines.append(f"| {r['kind']} {r['shape']} | " + " | ".join(cells) + f" | {r['cores']} |")
        lines.append("")
    lines += ["Against Intel's silicon measurement (one Loihi 2 chip, 16-step inferences; the profile's energies "
              "and times were calibrated on it, so these are fit residuals):", "",
              "| per inference | ours | Intel silicon | ours / Intel |", "|---|---|---|---|",
              f"| dynamic energy | {p['dynamic_energy_uj']:.1f} uJ | {INTEL['dynamic_energy_uj']} uJ | "
              f"{p['dynamic_energy_ratio']:.3f} |",
              f"| dynamic + static energy | {p['dynamic_energy_uj'] + p['static_energy_uj']:.1f} uJ | "
              f"{INTEL['total_energy_uj']} uJ | {p['total_energy_ratio']:.3f} |",
              f"| throughput | {p['throughput_inf_per_s']:.2f} /s ({p['step_us']:.1f} us per step) | "
              f"{INTEL['throughput_inf_per_s']} /s (152.8 us per step) | {p['throughput_ratio']:.3f} |", "",
              f"Every netx file of the lava-dl wheel on `{p['profile']}` (allocation only; per layer "
              "`index kind: cores (binding limit)`):", "", "| file | cores | per layer |", "|---|---|---|"]
    for w in wheel:
        per = ", ".join(f"{i} {k}: {c} ({b})" for i, k, c, b in w["layers"])
        lines.append(f"| `{w['file']}` | {w['cores']} | {per} |")
    return "\n".join(lines)


def write_docs(text: str, docs: Path = DOCS) -> None:
    from sca_lava.atomic import write_text
    from sca_lava.errors import ScaLavaError

    old = docs.read_text()
    if BEGIN not in old or END not in old:
        raise ScaLavaError(f"{docs} has no {BEGIN} ... {END} markers")
    head, rest = old.split(BEGIN, 1)
    write_text(docs, f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="loihi2")
    ap.add_argument("--no-docs", action="store_true", help=f"do not rewrite the tables in {DOCS.name}")
    ap.add_argument("--json", help="also write the figures as JSON")
    args = ap.parse_args()

    p = parity(args.profile)
    wheel = wheel_cores(args.profile)
    text = tables(p, wheel)
    print(text)
    print(f"\nuncertainty: {p['uncertainty']}")
    if not args.no_docs:
        write_docs(text)
        print(f"wrote the tables into {DOCS}")
    if args.json:
        from sca_lava.atomic import write_json

        write_json(args.json, {"pilotnet_lif": p, "wheel": wheel})


if __name__ == "__main__":
    main()
