"""``sca-lava prune``: SCA structured pruning (from scratch or fine-tuning a
dense checkpoint), surgery to a smaller net, netx export and a report."""

from __future__ import annotations

from sca_lava.commands._common import (
    add_training_command,
    load_training_data,
    non_negative_int,
    positive_int,
    train_config_from_args,
)


def register(sub) -> None:
    add_training_command(sub, "prune", _prune, _options, out="runs/prune", resume_from="OUT/masked.pt",
                         help="prune whole channels with SCA and shrink the network",
                         description="Train with SCA channel masks (global activity ranking, gradient "
                         "regrowth, scheduled sparsity), remove the masked channels and write OUT/masked.pt "
                         "(resumable), OUT/pruned.pt, OUT/pruned.net and OUT/report.{json,md,png}.")


def _options(p) -> None:
    from sca_lava.commands._model import add_model_args
    from sca_lava.pruning.cost import BUDGET_KINDS
    from sca_lava.pruning.importance import CRITERIA, RANKINGS
    from sca_lava.pruning.schedule import SCHEDULES

    p.add_argument("--from", "--weights", dest="from_ckpt", default=None,
                   help="dense network to fine-tune: a checkpoint of train, or (with --model) the weights of "
                   "your own network, a state_dict .pt (default: train sca_lava's net from scratch)")
    add_model_args(p)
    p.add_argument("--config", default=None, help="network config JSON or network name when training from scratch")
    p.add_argument("--budget", default=None, metavar="KIND=VALUE",
                   help="the one budget: " + "; ".join(f"{k}: {v}" for k, v in BUDGET_KINDS.items())
                   + " (default params=0.3)")
    p.add_argument("--profile", default=None, help="hardware profile of an energy or cores budget (e.g. loihi2)")
    p.add_argument("--criterion", default=None, choices=tuple(CRITERIA),
                   help="channel importance (default sca-drive, with --rate-floor 0.02: the recommended recipe)")
    p.add_argument("--ranking", default=None, choices=RANKINGS,
                   help="layer: importance per unit of marginal cost, ranked within each layer (default); "
                   "cost: importance per unit of marginal cost across layers; plain: importance alone")
    p.add_argument("--schedule", default=None, choices=SCHEDULES, help="sparsity ramp (default cubic)")
    p.add_argument("--ramp-start", type=non_negative_int, default=None, help="epoch the ramp starts (default 0)")
    p.add_argument("--ramp-epochs", type=positive_int, default=None,
                   help="ramp length in epochs (default: ~2/3 of the epochs, >= 1 epoch left to fine-tune)")
    p.add_argument("--interval", type=positive_int, default=None, help="epochs between structure updates")
    p.add_argument("--regrow", type=float, default=None, help="regrowth fraction q of all prunable channels (default 0.1)")
    p.add_argument("--cost-weight", type=float, default=None, metavar="W",
                   help="loss weight of every spike's price in the budget currency, per sample as a fraction of "
                   "the dense net's cost (synops or energy budgets; default 0: off)")


#: what ``sca-lava prune`` runs when --criterion / --rate-floor are not given (and it is not
#: resuming): the recipe docs/pruning.md recommends, the demo's. The library's PruneConfig and
#: TrainConfig keep their neutral defaults (sca, no floor).
RECOMMENDED = {"criterion": "sca-drive", "rate_floor": 0.02}


def apply_recommended(args) -> list[str]:
    """Fill the options the user left out with :data:`RECOMMENDED`; the names filled."""
    filled = [k for k, v in RECOMMENDED.items() if getattr(args, k) is None]
    for k in filled:
        setattr(args, k, RECOMMENDED[k])
    return filled


def prune_config_from_args(args, recorded: dict | None = None):
    """PruneConfig from the options; on --resume the checkpoint's recorded
    config supplies every option not given and a differing one is refused."""
    from sca_lava.errors import ScaLavaError
    from sca_lava.pruning import PruneConfig

    given = {"criterion": args.criterion, "budget": args.budget, "profile": args.profile, "ranking": args.ranking,
             "schedule": args.schedule, "ramp_start": args.ramp_start, "ramp_epochs": args.ramp_epochs,
             "interval": args.interval, "regrow": args.regrow, "seed": args.seed,
             "cost_weight": args.cost_weight}
    if recorded is not None:
        pcfg = PruneConfig.from_dict(recorded)
        for key, value in given.items():
            if value is not None and value != getattr(pcfg, key):
                raise ScaLavaError(f"--resume: --{key.replace('_', '-')} {value} differs from the checkpoint's "
                                   f"{key}={getattr(pcfg, key)}; drop the flag to resume with the recorded "
                                   "configuration")
    else:
        pcfg = PruneConfig(**{k: v for k, v in given.items() if v is not None})
    pcfg.validate()
    return pcfg


def _prune(args, dist) -> int:
    from sca_lava.atomic import check_output_path
    from sca_lava.commands._model import network_from_args
    from sca_lava.commands.train import fit_input, load_config
    from sca_lava.errors import ScaLavaError
    from sca_lava.models import NetworkConfig
    from sca_lava.pruning import prune_and_shrink
    from sca_lava.training import load_checkpoint
    from sca_lava.training.checkpoint import load_trained
    from sca_lava.training.trainer import steps_of

    out = check_output_path(args.out, "dir")
    state = load_checkpoint(out / "masked.pt") if args.resume else None
    if state is not None and "sca" not in state.get("callbacks", {}):
        raise ScaLavaError(f"{out / 'masked.pt'}: not a pruning checkpoint (no SCA state)")
    filled = [] if state else apply_recommended(args)
    pcfg = prune_config_from_args(args, state["callbacks"]["sca"].get("config") if state else None)
    tcfg = train_config_from_args(args, state.get("train_config") if state else None)
    if dist.is_main:
        said = f" ({', '.join('--' + k.replace('_', '-') for k in filled)} not given: the recommended recipe)" \
            if filled else ""
        print(f"pruning with criterion {pcfg.criterion}, rate floor {tcfg.rate_floor:g}{said}", flush=True)
    dense = None
    config = None
    if args.user_model and args.config:
        raise ScaLavaError("--config builds sca_lava's own network; --model names yours: give one")
    if args.from_ckpt or args.user_model:
        recorded = (state or {}).get("contract") or {}
        steps = args.steps or recorded.get("num_steps")
        if args.user_model:
            data = load_training_data(args, recorded or None, steps or 16)
            dense, _ = network_from_args(args, data.input_shape)
        else:
            dense, _ = load_trained(args.from_ckpt)
            data = load_training_data(args, recorded or None, args.steps or steps_of(dense))
    else:
        config, stated = load_config(args.config)
        data = load_training_data(args, state.get("contract") if state else None, args.steps or config.num_steps)
        fit_input(config, stated, data, f"--config {args.config}")
    if dense is None or isinstance(getattr(dense, "config", None), NetworkConfig):
        (dense.config if dense is not None else config).check_classes(data.num_classes)
    _, rep = prune_and_shrink(dense, data, pcfg, tcfg, config=config, out_dir=out,
                              resume=args.resume, progress=not args.no_progress, stop_after=args.stop_after,
                              dist=dist)
    if not dist.is_main:
        return 0
    if rep is None:
        print(f"stopped after epoch {args.stop_after}; continue with --resume")
        return 0
    synops = rep["synops_fraction"]
    b = rep["budget"]
    print(f"pruned ({pcfg.criterion}, budget {pcfg.budget}"
          + (f" on {pcfg.profile}" if pcfg.profile else "") + f"): test accuracy {rep['test_accuracy']:.4f}, "
          f"{rep['param_fraction']:.1%} of the parameters"
          + (f", {synops:.1%} of the dense SynOps" if synops is not None else "")
          + f"; budget cost {b['cost_fraction']:.1%} of the dense reference")
    print(f"channels: {[c['after'] for c in rep['channels_per_layer']]}; report: {args.out}/report.md")
    return 0
