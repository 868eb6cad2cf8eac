"""``sca-lava budget``: Loihi core allocation and energy/latency budget of a
netx file (optionally against a second, e.g. pruned, one), or a what-if sweep
of an architecture over channel-keep fractions (no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sca_lava.atomic import write_json
from sca_lava.errors import ScaLavaError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "budget",
        help="Loihi core allocation and energy/latency budget of a netx model",
        description="Allocate a netx model on a hardware profile's cores, run real samples through "
        "Lava to count per-core activity, and estimate energy and latency. With --sweep, report "
        "cores and chips of an architecture at several channel-keep fractions without training.",
    )
    p.add_argument("model", nargs="?", help="netx HDF5 file (.net / .h5)")
    p.add_argument("--profile", default="loihi2", help="profile name in hardware_profiles/ or a YAML path (default loihi2)")
    p.add_argument("--samples", type=int, default=8, help="samples run through Lava (default 8)")
    p.add_argument("--steps", type=int, default=16, help="time steps per sample (default 16)")
    p.add_argument("--input", help=".npy file of input spikes (N, C, H, W, T); default: MNIST test images "
                   "for a 1x28x28 input, else Bernoulli spikes at --rate")
    p.add_argument("--rate", type=float, default=0.2, help="spike probability of random inputs (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compare", help="second netx file (e.g. the pruned model) to budget side by side")
    p.add_argument("--max-chips", type=int, default=None, help="fail if more chips are needed")
    p.add_argument("--allocation-only", action="store_true", help="skip the Lava run (cores and chips only)")
    p.add_argument("--sweep", action="store_true", help="what-if mode over --keep fractions of --arch")
    p.add_argument("--arch", help="architecture YAML/JSON (input: [C,H,W], layers: [...]) or a shipped name "
                   "(vgg16_cifar, mnist_small)")
    p.add_argument("--keep", default="1.0,0.5,0.3,0.1", help="comma-separated channel-keep fractions")
    p.add_argument("--out", default="runs/budget", help="output folder for budget.json and plots")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=run)
    return p


def default_spikes(shape: tuple[int, ...], samples: int, steps: int, rate: float = 0.2, seed: int = 0
                   ) -> tuple[np.ndarray, str]:
    """Real MNIST test samples for a 1x28x28 input, otherwise seeded Bernoulli spikes."""
    if samples < 1 or steps < 1:
        raise ScaLavaError("--samples and --steps must be >= 1")
    if tuple(shape) == (1, 28, 28):
        try:
            from sca_lava.data import encode, load_mnist5k

            images = load_mnist5k().test_x[:samples]
            return encode(images, steps), f"mnist5k test images 0..{len(images) - 1}, rate-regular, T={steps}"
        except (ImportError, ScaLavaError, OSError):
            pass
    if not 0 <= rate <= 1:
        raise ScaLavaError(f"--rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(seed)
    spikes = (rng.random((samples, *shape, steps)) < rate).astype(np.uint8)
    return spikes, f"Bernoulli random spikes p={rate}, seed {seed}, T={steps}"


def _spikes_for(args, path: str):
    from sca_lava.netx.reader import read_netx

    if args.input:
        try:
            spikes = np.load(args.input)
        except (OSError, ValueError) as exc:
            raise ScaLavaError(f"{args.input}: cannot read input spikes ({exc})") from None
        spikes = spikes[: args.samples]
        return spikes, f"{args.input} (first {len(spikes)} samples)"
    spec = read_netx(path)
    return default_spikes(spec.input_shape, args.samples, args.steps, args.rate, args.seed)


def _keeps(text: str) -> list[float]:
    try:
        keeps = [float(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise ScaLavaError(f"--keep must be comma-separated numbers, got {text!r}") from None
    if not keeps or any(not 0 < k <= 1 for k in keeps):
        raise ScaLavaError(f"--keep fractions must be in (0, 1], got {text!r}")
    return keeps


def _fmt(v, nd=3):
    if v is None:
        return "-"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def print_budget(res: dict) -> None:
    print(f"{res['model']} on {res['profile']}: {res['cores']} cores, {res['chips']} chip(s) "
          f"(lower bound {res['lower_bound_cores']} cores)")
    print(f"  {'layer':>5} {'kind':<6} {'shape':<12} {'neurons':>8} {'syn bits':>10} {'cores':>5} {'LB':>4} "
          f"{'bound by':<13} {'energy uJ':>9}")
    for ly in res["layers"]:
        e = ly.get("energy_uj")
        e_tot = sum(e.values()) if e else None
        print(f"  {ly['layer']:>5} {ly['kind']:<6} {'x'.join(map(str, ly['out_shape'])):<12} {ly['neurons']:>8} "
              f"{ly['synapse_bits']:>10} {ly['cores']:>5} {ly['lower_bound']:>4} {ly['binding_limit']:<13} "
              f"{_fmt(e_tot):>9}")
    if res.get("dynamic_energy_uj") is not None:
        br = ", ".join(f"{k} {v:.3g}" for k, v in res["energy_breakdown_uj"].items())
        print(f"  per inference: dynamic {res['dynamic_energy_uj']:.4g} uJ ({br}); static "
              f"{res['static_energy_uj']:.4g} uJ; latency {res['latency_us']:.4g} us "
              f"({res['throughput_inf_per_s']:.4g} inf/s); {res['samples']} samples x {res['steps']} steps")
    n_assume = len(res["assumptions"])
    if n_assume:
        print(f"  {n_assume} profile values are assumptions (listed in budget.json 'assumptions')")


def _plots(out: Path, results: list[dict]) -> list[str]:
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
    ax.set_xticklabels([f"{ly['kind']} {ly['layer']}" for ly in results[0]["layers"]], rotation=30, fontsize=8)
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


def _sweep_plot(out: Path, rows: list[dict], title: str) -> str:
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


def run_sweep(args) -> int:
    from sca_lava.hardware.profile import load_profile
    from sca_lava.hardware.sweep import load_arch, sweep

    if not args.arch:
        raise ScaLavaError("--sweep needs --arch CONFIG (a layer list, e.g. vgg16_cifar)")
    arch = load_arch(args.arch)
    prof = load_profile(args.profile)
    rows = sweep(arch, _keeps(args.keep), prof, max_chips=args.max_chips)
    print(f"{arch['name']} on {prof.name} (weights assumed dense nonzero, no training):")
    print(f"  {'keep':>5} {'cores':>6} {'chips':>5} {'LB':>6}  per layer")
    for r in rows:
        if r["cores"] is None:
            print(f"  {r['keep']:>5g} {'-':>6} {'-':>5} {'-':>6}  unmappable: {r['error']}")
        else:
            print(f"  {r['keep']:>5g} {r['cores']:>6} {r['chips']:>5} {r['lower_bound_cores']:>6}  "
                  f"{r['cores_per_layer']}")
    out = Path(args.out)
    write_json(out / "sweep.json", {"arch": arch["path"], "profile": prof.name, "rows": rows,
                                    "weights": "all nonzero (no training)", "assumptions": prof.assumptions})
    if not args.no_plots:
        _sweep_plot(out, rows, f"{arch['name']} on {prof.name}")
    print(f"wrote {out / 'sweep.json'}")
    return 0


def run(args) -> int:
    if args.sweep:
        return run_sweep(args)
    if not args.model:
        raise ScaLavaError("give a netx MODEL file (or --sweep --arch CONFIG)")
    from sca_lava.hardware.budget import budget_netx, compare
    from sca_lava.hardware.profile import load_profile

    prof = load_profile(args.profile)
    results = []
    for path in [args.model] + ([args.compare] if args.compare else []):
        if args.allocation_only:
            spikes, source = None, "none (allocation only)"
        else:
            spikes, source = _spikes_for(args, path)
        res = budget_netx(path, prof, spikes, max_chips=args.max_chips)
        res["input_source"] = source
        print_budget(res)
        results.append(res)
    out = Path(args.out)
    report = {"budgets": results}
    if len(results) == 2:
        report["compare"] = compare(results[0], results[1])
        c = report["compare"]["ratio"]
        print("compare (second / first): " + ", ".join(f"{k} {_fmt(v)}" for k, v in c.items()))
    if not args.no_plots:
        report["plots"] = _plots(out, results)
    write_json(out / "budget.json", report)
    print(f"wrote {out / 'budget.json'}" + ("" if args.no_plots else f" and {len(report['plots'])} plots"))
    return 0
