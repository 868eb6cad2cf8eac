"""``sca-lava simulate``: run a netx file as Lava processes on test samples;
with --checkpoint, also check spike-for-spike agreement with SLAYER."""

from __future__ import annotations

from sca_lava.commands._common import add_data_args, add_steps_arg, load_inputs, positive_int


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run a netx file in Lava (CPU, fixed point)",
                       description="Stream test samples through one Lava network (Loihi2SimCfg fixed_pt), "
                       "report accuracy and, with --checkpoint, agreement with SLAYER.")
    p.add_argument("model", help="netx HDF5 file")
    p.add_argument("--checkpoint", default=None, help="SLAYER checkpoint the file was exported from")
    p.add_argument("--samples", type=positive_int, default=100, help="number of test samples")
    add_steps_arg(p)
    p.add_argument("--json", default=None, help="write the figures as JSON here")
    add_data_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sca_lava.atomic import check_output_path, write_json
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.lava_runner import run_lava
    from sca_lava.netx import read_netx

    if args.json:
        check_output_path(args.json, "file")
    spec = read_netx(args.model)
    if args.checkpoint:
        from sca_lava.training.trainer import load_trained

        model, _ = load_trained(args.checkpoint)
        if spec.contract is None:  # an older file: its checkpoint states the contract
            spec.contract = model.contract
        if args.steps is None and spec.contract is None:
            args.steps = model.config.num_steps
    spikes, y, _ = load_inputs(args, spec, "test", args.samples)
    if args.checkpoint:
        agreement, _ = compare_with_slayer(model, args.model, spikes, y)
        result = agreement.to_dict()
    else:
        lava = run_lava(args.model, spikes, spec=spec)
        result = {"samples": len(y), "accuracy": float((lava.predictions() == y).mean()), "seconds": lava.seconds}
    print(f"Lava samples       {result['samples']}")
    print(f"Lava accuracy      {result['accuracy']:.4f}")
    if "spike_agreement" in result:
        print(f"SLAYER accuracy    {result['slayer_accuracy']:.4f}")
        print(f"spike agreement    {result['spike_agreement']:.4f} "
              f"({result['matching_samples']}/{result['samples']} samples identical at every step)")
    print(f"Lava time          {result['seconds']:.1f} s")
    if args.json:
        write_json(args.json, result)
    return 0
