"""``sca-lava budget``: Loihi core allocation and energy/latency budget of a
netx file (optionally against a second, e.g. pruned, one), or a what-if sweep
of an architecture over channel-keep fractions (no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sca_lava.atomic import write_json
from sca_lava.commands._common import add_command, non_negative_int, positive_int, seed_int
from sca_lava.commands._input import add_input_args
from sca_lava.errors import ScaLavaError


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(
        subparsers, "budget", run,
        help="Loihi core allocation and energy/latency budget of a netx model",
        description="Allocate a netx model on a hardware profile's cores, run real samples through "
        "the bit-exact fixed-point evaluator (Lava as a cross-check with --verify N) to count per-core "
        "activity, and estimate energy and latency. With --sweep, report "
        "cores and chips of an architecture at several channel-keep fractions without training.",
    )
    p.add_argument("model", nargs="?", help="netx HDF5 file (.net / .h5)")
    p.add_argument("--profile", default="loihi2", help="profile name in hardware_profiles/ or a YAML path (default loihi2)")
    p.add_argument("--samples", type=positive_int, default=8, help="samples whose activity is counted (default 8)")
    p.add_argument("--verify", type=non_negative_int, default=0, metavar="N",
                   help="also run the first N samples in Lava and report their spike agreement (default 0)")
    add_input_args(p)  # --input (default: MNIST test images for 1x28x28, else Bernoulli spikes), --steps, ...
    p.add_argument("--rate", type=float, default=0.2, help="spike probability of random inputs (default 0.2)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of random input spikes (default 0)")
    p.add_argument("--compare", help="second netx file (e.g. the pruned model) to budget side by side")
    p.add_argument("--max-chips", type=positive_int, default=None, help="fail if more chips are needed")
    p.add_argument("--allocation-only", action="store_true", help="skip the activity run (cores and chips only)")
    p.add_argument("--sweep", action="store_true", help="what-if mode over --keep fractions of --arch")
    p.add_argument("--arch", help="architecture YAML/JSON (input: [C,H,W], layers: [...]), a shipped one "
                   "(vgg16_cifar, mnist_small) or a network name (mnist_vgg, mnist_small_dense, tiny)")
    p.add_argument("--keep", default="1.0,0.5,0.3,0.1", help="comma-separated channel-keep fractions")
    p.add_argument("--out", default="runs/budget", help="output folder for budget.json and plots")
    p.add_argument("--no-plots", action="store_true")
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


def _drive_for(args, spec) -> tuple[dict, str]:
    """(measure() keyword arguments, description) of the activity run's input."""
    from sca_lava.commands._common import pick
    from sca_lava.commands._input import check_fits, read_user_input

    steps = pick(args, "steps", spec.contract.num_steps if spec.contract else None, "the file's input contract")
    user = read_user_input(args, spec, default_steps=steps)
    if user is not None:
        user = user.head(args.samples)
        check_fits(spec, user.samples, user.steps, lava_samples=min(args.verify, user.samples))
        return {"spikes": user.spikes, "bias": user.bias, "steps": user.steps}, user.description
    check_fits(spec, args.samples, steps, lava_samples=min(args.verify, args.samples))
    spikes, source = default_spikes(spec.input_shape, args.samples, steps, args.rate, args.seed)
    return {"spikes": spikes}, source


def _keeps(text: str) -> list[float]:
    try:
        keeps = [float(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise ScaLavaError(f"--keep must be comma-separated numbers, got {text!r}") from None
    if not keeps or any(not 0 < k <= 1 for k in keeps):
        raise ScaLavaError(f"--keep fractions must be in (0, 1], got {text!r}")
    return keeps


def _arch(name: str, load_arch) -> dict:
    """A network name (what train --config and demo --arch take, e.g. the
    default mnist_vgg) as an architecture, else :func:`load_arch`'s file or name."""
    from sca_lava.models.config import ARCHS, named_config

    if name in ARCHS and not Path(name).exists():
        cfg = named_config(name)
        return {"path": name, "input": list(cfg.input_shape), "layers": cfg.layers, "name": name}
    return load_arch(name)


def run_sweep(args) -> int:
    from sca_lava.hardware.profile import load_profile
    from sca_lava.hardware.report import sweep_plot
    from sca_lava.hardware.sweep import load_arch, sweep

    if not args.arch:
        raise ScaLavaError("--sweep needs --arch CONFIG (a layer list, e.g. vgg16_cifar)")
    arch = _arch(args.arch, load_arch)
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
        sweep_plot(out, rows, f"{arch['name']} on {prof.name}")
    print(f"wrote {out / 'sweep.json'}")
    return 0


def run(args) -> int:
    from sca_lava.atomic import check_output_path

    check_output_path(args.out, "dir")  # before any work
    if args.sweep:
        return run_sweep(args)
    if not args.model:
        raise ScaLavaError("give a netx MODEL file (or --sweep --arch CONFIG)")
    from sca_lava.commands._common import warn
    from sca_lava.commands._input import warn_silent
    from sca_lava.hardware.budget import budget_netx, compare
    from sca_lava.hardware.profile import load_profile
    from sca_lava.hardware.report import budget_plots, fmt, print_budget
    from sca_lava.netx.reader import read_netx

    prof = load_profile(args.profile)
    if args.verify < 0:
        raise ScaLavaError(f"--verify must be >= 0, got {args.verify}")
    results = []
    for path in [args.model] + ([args.compare] if args.compare else []):
        spec = read_netx(path, input_shape=args.input_shape)
        record, source = None, "none (allocation only)"
        if not args.allocation_only:
            from sca_lava.deploy.measure import measure

            drive, source = _drive_for(args, spec)
            if source.startswith("Bernoulli"):
                warn(f"{path}: no --input and no data set of input {'x'.join(map(str, spec.input_shape))}: the "
                     f"activity, energy and latency below are of {source}, not of real inputs; give --input")
            record = measure(path, verify=args.verify, spec=spec, **drive)
            warn_silent([(ly.name, int(np.count_nonzero(record.layer_spikes[j])))
                         for j, ly in enumerate(spec.neuron_layers)], int(record.output.shape[0]),
                        int(record.output.shape[-1]), len(spec.neuron_layers))
        res = budget_netx(path, prof, record=record, spec=spec, max_chips=args.max_chips)
        res["input_source"] = source
        print_budget(res)
        results.append(res)
    out = Path(args.out)
    report = {"budgets": results}
    if len(results) == 2:
        report["compare"] = compare(results[0], results[1])
        c = report["compare"]["ratio"]
        print("compare (second / first): " + ", ".join(f"{k} {fmt(v)}" for k, v in c.items()))
    if not args.no_plots:
        report["plots"] = budget_plots(out, results)
    write_json(out / "budget.json", report)
    print(f"wrote {out / 'budget.json'}" + ("" if args.no_plots else f" and {len(report['plots'])} plots"))
    return 0
