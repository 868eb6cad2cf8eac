"""``sca-lava export``: checkpoint -> netx HDF5 file."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to a netx HDF5 file",
                       description="Write the netx HDF5 file that lava.lib.dl.netx.hdf5.Network loads.")
    p.add_argument("checkpoint", help="model.pt written by train or prune")
    p.add_argument("--out", required=True, help="output .net file (written atomically)")
    p.set_defaults(func=run)


def run(args) -> int:
    from sca_lava.training.trainer import load_trained

    model, _ = load_trained(args.checkpoint)
    model.export_hdf5(args.out)
    print(f"wrote {args.out}")
    return 0
