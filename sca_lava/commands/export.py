"""``sca-lava export``: a trained network -> netx HDF5 file, or a NIR file
when ``--out`` ends in ``.nir``."""

from __future__ import annotations

from sca_lava.commands._common import add_command


def register(sub) -> None:
    from sca_lava.commands._input import parse_shape
    from sca_lava.commands._model import add_model_args

    p = add_command(sub, "export", run, help="export a checkpoint (or your own network) to a netx or NIR file",
                    description="Write the netx HDF5 file that lava.lib.dl.netx.hdf5.Network loads, with the "
                    "checkpoint's input contract (steps, encoding, data set and split); an --out ending in .nir "
                    "writes a NIR graph (CubaLIF neurons; docs/nir.md) instead. Your own lava-dl network: "
                    "--model FILE.py:CLASS --weights FILE.pt.")
    p.add_argument("checkpoint", nargs="?", default=None, help="model.pt written by train or prune")
    p.add_argument("--weights", dest="from_ckpt", default=None, metavar="FILE.pt",
                   help="with --model: your network's weights (a state_dict .pt, or a checkpoint of it)")
    add_model_args(p)
    p.add_argument("--input-shape", default=None, metavar="C,H,W", type=parse_shape,
                   help="with --model and a plain state dict: the shape of one input sample")
    p.add_argument("--out", required=True, help="output file, written atomically: .nir for NIR, else netx")
    p.add_argument("--dt", type=float, default=None, metavar="SECONDS",
                   help="NIR only: the time step its time constants are given for (default 1e-4, snnTorch's)")


def run(args) -> int:
    from sca_lava.atomic import check_output_path
    from sca_lava.commands._model import network_from_args
    from sca_lava.errors import ScaLavaError
    from sca_lava.models.export import export_netx
    from sca_lava.models.graph import as_graph

    check_output_path(args.out, "file")
    if args.checkpoint and args.from_ckpt:
        raise ScaLavaError("give the checkpoint once (positional or --weights)")
    args.from_ckpt = args.from_ckpt or args.checkpoint
    if args.from_ckpt is None and not args.user_model:
        raise ScaLavaError("name what to export: a checkpoint, or --model FILE.py:CLASS --weights FILE.pt")
    model, state = network_from_args(args, args.input_shape)
    shape = args.input_shape or (state or {}).get("input_shape")
    contract = getattr(model, "contract", None)
    graph = as_graph(model, tuple(shape) if shape else None)
    if str(args.out).lower().endswith(".nir"):
        from sca_lava.models.nir import DEFAULT_DT, export_nir

        export_nir(graph, args.out, DEFAULT_DT if args.dt is None else args.dt, contract=contract)
    else:
        if args.dt is not None:
            raise ScaLavaError("--dt applies to NIR files (an --out ending in .nir)")
        export_netx(graph, args.out, contract=contract)
    print(f"wrote {args.out}" + ("" if contract else " (no input contract recorded: pass --steps/--input "
                                                     "to later commands)"))
    return 0
