"""``sca-lava simulate``: run a netx file as Lava processes on test samples
(or on ``--input``); with --checkpoint, also check spike-for-spike agreement
with SLAYER."""

from __future__ import annotations

from sca_lava.commands._common import add_command, add_data_args, positive_int
from sca_lava.commands._input import add_input_args


def register(sub) -> None:
    p = add_command(sub, "simulate", run, help="run a netx file in Lava (CPU, fixed point)",
                    description="Stream test samples through one Lava network (Loihi2SimCfg fixed_pt), "
                    "report accuracy and, with --checkpoint, agreement with SLAYER.")
    p.add_argument("model", help="netx HDF5 file")
    p.add_argument("--checkpoint", default=None, help="SLAYER checkpoint (or, with --model, the weights of your "
                   "own network) the file was exported from")
    from sca_lava.commands._model import add_model_args

    add_model_args(p)
    p.add_argument("--samples", type=positive_int, default=100, help="number of test samples")
    p.add_argument("--json", default=None, help="write the figures as JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_input_args(p)
    add_data_args(p)


def run(args) -> int:
    from sca_lava.atomic import check_output_path, write_json
    from sca_lava.commands._input import drive_for, read_spec, warn_silent

    if args.json:
        check_output_path(args.json, "file")
    spec = read_spec(args, args.model)  # a bad file fails here, before torch and Lava are imported
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.lava_runner import run_lava

    model = None
    if args.checkpoint:
        from sca_lava.commands._model import network_from_args

        args.from_ckpt = args.checkpoint
        model, _ = network_from_args(args, spec.input_shape)
        check_same_network(model, spec, args.checkpoint)
        if spec.contract is None:  # an older file: its checkpoint states the contract
            spec.contract = model.contract
        if args.steps is None and spec.contract is None and args.input is None:
            from sca_lava.training.trainer import steps_of

            args.steps = steps_of(model)
    spec, drive = drive_for(args, args.model, "test", args.samples, spec=spec, lava_samples=None,
                            batch=128 if model is not None else 0)  # SLAYER runs beside Lava with --checkpoint
    y = drive.labels
    if model is not None:
        agreement, lava = compare_with_slayer(model, args.model, drive.spikes, y, spec=spec,
                                              progress=not args.no_progress)
        result = agreement.to_dict()
    else:
        lava = run_lava(args.model, drive.spikes, spec=spec, bias=drive.bias, steps=drive.steps,
                        progress=not args.no_progress)
        n = lava.output.shape[0]
        result = {"samples": n, "steps": int(lava.output.shape[-1]), "mode": lava.extra["mode"],
                  "accuracy": None if y is None else float((lava.predictions() == y).mean()),
                  "seconds": lava.seconds, "output_events_per_sample": float((lava.output != 0).sum() / n)}
    print(f"Lava samples       {result['samples']}")
    if result["accuracy"] is not None:
        print(f"Lava accuracy      {result['accuracy']:.4f}")
    else:
        print(f"output events      {result['output_events_per_sample']:.1f} per sample (no labels)")
    if "spike_agreement" in result:
        print(f"SLAYER accuracy    {result['slayer_accuracy']:.4f}")
        print(f"spike agreement    {result['spike_agreement']:.4f} "
              f"({result['matching_samples']}/{result['samples']} samples identical at every step)")
    print(f"Lava time          {result['seconds']:.1f} s")
    last = spec.neuron_layers[-1]  # the layer Lava recorded: silent, so is the network from some layer on
    warn_silent([(f"{last.name} (the output)", int((lava.output != 0).sum()))],
                int(lava.output.shape[0]), int(lava.output.shape[-1]), len(spec.neuron_layers))
    if args.json:
        write_json(args.json, result)
    return 0


def check_same_network(model, spec, checkpoint: str) -> None:
    """Refuse a checkpoint that is not the network in the file (another
    architecture raised a numpy broadcast error in the comparison; another
    training of the same one printed "spike agreement 0.0000" without a
    word): the checkpoint is exported as ``sca-lava export`` would, read back
    and compared layer by layer (shapes, weights, biases, neurons)."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from sca_lava.errors import ScaLavaError
    from sca_lava.models.export import export_netx
    from sca_lava.models.graph import as_graph
    from sca_lava.netx import read_netx

    with tempfile.TemporaryDirectory() as tmp:
        export_netx(as_graph(model, spec.input_shape), Path(tmp) / "checkpoint.net")
        mine = read_netx(Path(tmp) / "checkpoint.net")

    def layout(s) -> str:
        return " -> ".join(["x".join(map(str, s.input_shape))] +
                           [f"{ly.kind} {'x'.join(map(str, ly.out_shape))}" for ly in s.neuron_layers])

    if layout(mine) != layout(spec):
        raise ScaLavaError(f"{checkpoint} is another network than {spec.path} (checkpoint: {layout(mine)}; "
                           f"file: {layout(spec)})")
    for a, b in zip(mine.neuron_layers, spec.neuron_layers):
        for what, x, y in (("weights", a.weight, b.weight), ("biases", a.bias, b.bias)):
            x = None if x is None or not np.any(x) else np.asarray(x)
            y = None if y is None or not np.any(y) else np.asarray(y)
            if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
                raise ScaLavaError(f"{checkpoint} is not the checkpoint {spec.path} was exported from: the {what} "
                                   f"of layer {b.name} differ")
        if a.neuron != b.neuron:
            raise ScaLavaError(f"{checkpoint} is not the checkpoint {spec.path} was exported from: the neuron "
                               f"parameters of layer {b.name} differ")
