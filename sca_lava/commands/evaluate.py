"""``sca-lava evaluate``: deployed (fixed-point) accuracy of a netx file on a
whole test set in seconds, with a batched replica that is bit-exact with
Lava; ``--verify N`` cross-checks the first N samples in the real runtime.
``--input`` runs any array instead of a data set (Intel's networks)."""

from __future__ import annotations

from sca_lava.commands._common import (
    add_command,
    add_data_args,
    add_device_arg,
    non_negative_int,
    positive_int,
)
from sca_lava.commands._input import add_input_args


def register(sub) -> None:
    p = add_command(sub, "evaluate", run, help="deployed accuracy of a netx file (batched, bit-exact with Lava)",
                    description="Run a netx file as batched fixed-point PyTorch code that reproduces "
                    "Lava's Loihi2SimCfg(fixed_pt) spike for spike; report accuracy, firing rates "
                    "and SynOps per layer.")
    p.add_argument("model", help="netx HDF5 file")
    p.add_argument("--split", default="test", choices=("test", "train"), help="which split (default test)")
    p.add_argument("--samples", type=positive_int, default=None, help="only the first N samples")
    p.add_argument("--batch-size", type=positive_int, default=128, help="samples per batch (default 128)")
    p.add_argument("--verify", type=non_negative_int, default=0, metavar="N",
                   help="also run the first N samples in Lava and compare every spike")
    add_device_arg(p)
    p.add_argument("--json", default=None, help="write the report as JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_input_args(p)
    add_data_args(p)


def run(args) -> int:
    from sca_lava.atomic import check_output_path, write_json
    from sca_lava.commands._input import drive_for, warn_silent
    from sca_lava.errors import ScaLavaError

    if args.verify < 0:
        raise ScaLavaError("--verify must be 0 or a positive number of samples")
    if args.json:
        check_output_path(args.json, "file")
    spec, drive = drive_for(args, args.model, args.split, args.samples,  # the file is read once
                            batch=args.batch_size, lava_samples=args.verify)
    from sca_lava.deploy.evaluate import evaluate_netx  # torch: only once the input is good
    report = evaluate_netx(args.model, drive.spikes, drive.labels, batch_size=args.batch_size, device=args.device,
                           verify=args.verify, progress=not args.no_progress, spec=spec, bias=drive.bias,
                           steps=drive.steps)
    d = report.to_dict()
    d.update(input=drive.description, **drive.settings,
             contract=spec.contract.to_dict() if spec.contract else None)
    print(f"{args.model}: {drive.description}, T={report.num_steps}, device {report.device}")
    print(f"{'layer':<8} {'kind':<6} {'shape':<14} {'rate':>7} {'spikes/smp':>11} {'SynOps/smp':>12}")
    for ly in report.layers:
        shape = "x".join(str(s) for s in ly["shape"])
        print(f"{ly['name']:<8} {ly['kind']:<6} {shape:<14} {ly['firing_rate']:>7.4f} "
              f"{ly['spikes_per_sample']:>11.1f} {ly['synops_per_sample']:>12.0f}")
    print(f"total SynOps/sample {report.synops_per_sample:.0f} (fan-out count)")
    if report.accuracy is not None:
        print(f"deployed accuracy   {report.accuracy:.4f} ({report.correct}/{report.num_samples})")
    else:
        print("deployed accuracy   - (no labels)")
    print(f"time                {report.seconds:.2f} s ({report.samples_per_s:.0f} samples/s)")
    if report.verify is not None:
        v = report.verify
        print(f"Lava cross-check    {v['samples'] - v['mismatching_samples']}/{v['samples']} samples "
              f"identical at every layer and step ({v['lava_seconds']:.1f} s in Lava)")
        if v["first_mismatch"]:
            m = v["first_mismatch"]
            print(f"first divergence    sample {m['sample']}, layer {report.layers[m['layer']]['name']}, "
                  f"step {m['step']}")
    warn_silent([(ly["name"], ly["spikes_per_sample"]) for ly in report.layers],
                report.num_samples, report.num_steps, len(report.layers))
    if args.json:
        write_json(args.json, d)
    return 1 if report.verify and report.verify["mismatching_samples"] else 0
