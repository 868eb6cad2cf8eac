"""``sca-lava prune``: SCA structured pruning (from scratch or fine-tuning a
dense checkpoint), surgery to a smaller net, netx export and a report."""

from __future__ import annotations

from sca_lava.commands._common import (
    add_data_args,
    add_training_args,
    positive_int,
    train_config_from_args,
)


def _fraction(text: str) -> float:
    import argparse

    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def register(sub) -> None:
    from sca_lava.pruning.importance import CRITERIA
    from sca_lava.pruning.schedule import SCHEDULES

    p = sub.add_parser("prune", help="prune whole channels with SCA and shrink the network",
                       description="Train with SCA channel masks (global activity ranking, gradient "
                       "regrowth, scheduled sparsity), remove the masked channels and write OUT/masked.pt "
                       "(resumable), OUT/pruned.pt, OUT/pruned.net and OUT/report.{json,md,png}.")
    p.add_argument("--out", default="runs/prune", help="output folder")
    p.add_argument("--from", dest="from_ckpt", default=None,
                   help="dense checkpoint to fine-tune (default: train from scratch)")
    p.add_argument("--config", default=None, help="network config JSON when training from scratch")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-params", type=_fraction, default=None,
                        help="kept fraction of the dense synaptic parameters (default 0.3)")
    target.add_argument("--sparsity", type=float, default=None, help="fraction of prunable channels removed")
    p.add_argument("--criterion", default="sca", choices=tuple(CRITERIA), help="channel importance (default sca)")
    p.add_argument("--schedule", default="cubic", choices=SCHEDULES, help="sparsity ramp (default cubic)")
    p.add_argument("--ramp-start", type=int, default=0, help="epoch the ramp starts (default 0)")
    p.add_argument("--ramp-epochs", type=positive_int, default=None,
                   help="ramp length in epochs (default: ~2/3 of the epochs, >= 1 epoch left to fine-tune)")
    p.add_argument("--interval", type=positive_int, default=1, help="epochs between structure updates")
    p.add_argument("--regrow", type=float, default=0.1, help="regrowth fraction q of all prunable channels")
    add_training_args(p, "OUT/masked.pt")
    p.add_argument("--test-samples", type=positive_int, default=None, help="use only the first N test samples")
    add_data_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sca_lava.commands.train import load_config
    from sca_lava.data import load_dataset
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training.trainer import load_trained

    pcfg = PruneConfig(
        criterion=args.criterion,
        target_params=args.target_params if args.sparsity is None else None,
        sparsity=args.sparsity, schedule=args.schedule, ramp_start=args.ramp_start,
        ramp_epochs=args.ramp_epochs, interval=args.interval, regrow=args.regrow, seed=args.seed)
    if pcfg.target_params is None and pcfg.sparsity is None:
        pcfg.target_params = 0.3
    pcfg.validate()
    data = load_dataset(args.data, args.data_root, seed=args.seed)
    if args.train_samples or args.test_samples:
        data = data.subset(train=args.train_samples, test=args.test_samples)
    tcfg = train_config_from_args(args)
    dense = None
    config = None
    if args.from_ckpt:
        dense, _ = load_trained(args.from_ckpt)
    else:
        config = load_config(args.config)
    _, rep = prune_and_shrink(dense, data, pcfg, tcfg, config=config, out_dir=args.out,
                              resume=args.resume, progress=not args.no_progress)
    synops = rep["synops_fraction"]
    print(f"pruned ({pcfg.criterion}): test accuracy {rep['test_accuracy']:.4f}, "
          f"{rep['param_fraction']:.1%} of the parameters"
          + (f", {synops:.1%} of the dense SynOps" if synops is not None else ""))
    print(f"channels: {[c['after'] for c in rep['channels_per_layer']]}; report: {args.out}/report.md")
    return 0
