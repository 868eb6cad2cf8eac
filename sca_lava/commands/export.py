"""``sca-lava export``: checkpoint -> netx HDF5 file."""

from __future__ import annotations

from sca_lava.commands._common import add_command


def register(sub) -> None:
    p = add_command(sub, "export", run, help="export a checkpoint to a netx HDF5 file",
                    description="Write the netx HDF5 file that lava.lib.dl.netx.hdf5.Network loads, with the "
                    "checkpoint's input contract (steps, encoding, data set and split).")
    p.add_argument("checkpoint", help="model.pt written by train or prune")
    p.add_argument("--out", required=True, help="output .net file (written atomically)")


def run(args) -> int:
    from sca_lava.atomic import check_output_path
    from sca_lava.training.trainer import load_trained

    check_output_path(args.out, "file")
    model, _ = load_trained(args.checkpoint)
    model.export_hdf5(args.out)  # with the checkpoint's input contract
    print(f"wrote {args.out}" + ("" if model.contract else " (the checkpoint records no input contract)"))
    return 0
