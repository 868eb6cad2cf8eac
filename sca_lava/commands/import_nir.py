"""``sca-lava import``: a NIR file -> a checkpoint of sca_lava's own network
in Loihi's fixed point, with the error of that conversion measured."""

from __future__ import annotations

import sys

from sca_lava.commands._common import add_command, positive_int, seed_int


def register(sub) -> None:
    p = add_command(sub, "import", run, help="import a NIR file as a network the other commands take",
                    description="Read a NIR graph (a chain of Conv2d/Linear/Affine/SumPool2d/AvgPool2d/Flatten "
                    "nodes, each followed by CubaLIF, LIF or IF neurons) and write model.pt: sca_lava's own "
                    "network, its weights, decays and thresholds in Loihi's fixed point. Prints each layer's "
                    "conversion and the spike agreement of the fixed-point network with the float NIR semantics "
                    "on random input spikes (docs/nir.md).")
    p.add_argument("nir_file", metavar="NIR_FILE", help="the .nir file (HDF5, as nir.write writes it)")
    p.add_argument("--out", required=True, help="output checkpoint .pt (written atomically)")
    p.add_argument("--dt", type=float, default=None, metavar="SECONDS",
                   help="the time step the graph's time constants are given for (default: the one the file "
                   "records, else 1e-4, snnTorch's convention; Norse uses 1e-3)")
    p.add_argument("--samples", type=positive_int, default=32,
                   help="random input samples the conversion error is measured on (default 32)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="time steps of those samples (default: the recorded input contract's, else 32)")
    p.add_argument("--rate", type=_rate, default=0.2,
                   help="spike probability per input and step of those samples (default 0.2)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the sample input spikes (default 0)")


def _rate(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def run(args) -> int:
    from sca_lava.atomic import check_output_path
    from sca_lava.models.nir import import_nir
    from sca_lava.training.checkpoint import save_checkpoint

    check_output_path(args.out, "file")
    result = import_nir(args.nir_file, dt=args.dt, samples=args.samples, steps=args.steps, rate=args.rate,
                        seed=args.seed)
    from sca_lava.models.graph import trace

    graph = trace(result.module, result.module.config.input_shape)
    print(f"{args.nir_file}: dt = {result.dt:g} s; input {list(graph.input_shape)} -> {graph.describe()}")
    print(f"{'layer':<16} {'kind':<6} {'scale':>9} {'iDecay':>6} {'vDecay':>6} {'vThMant':>8} "
          f"{'weight err':>10} {'decay err':>9}")
    for c in result.conversion:
        print(f"{c['layer'][:16]:<16} {c['kind']:<6} {c['scale']:>9.4g} {c['iDecay']:>6} {c['vDecay']:>6} "
              f"{c['vThMant']:>8} {c['weight_error']:>10.2e} {c['decay_error']:>9.2e}")
    a = result.agreement
    print(f"fixed point vs float NIR semantics on {a['samples']} random inputs x {a['steps']} steps: spike "
          f"agreement {a['spike_agreement']:.4f}, identical samples {a['samples_identical']:.3f}, class decisions "
          f"{a['class_agreement']:.3f}, output spikes {a['output_spikes_fixed']} vs {a['output_spikes_float']}")
    if a["output_spikes_float"] == 0 and a["output_spikes_fixed"] == 0:
        print("warning: the random inputs make no output spike, so this agreement says nothing; try another "
              "--rate, or measure on real inputs: sca_lava.models.nir.import_nir(..., inputs=spikes)", file=sys.stderr)
    save_checkpoint(args.out, result.checkpoint)
    print(f"wrote {args.out}" + ("" if result.module.contract else " (no input contract recorded: pass "
                                                                    "--steps/--input to later commands)"))
    return 0
