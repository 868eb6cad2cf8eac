"""``sca-lava train``: dense SLAYER training with checkpoints and --resume."""

from __future__ import annotations

import json
from pathlib import Path

from sca_lava.commands._common import (
    add_data_args,
    add_training_args,
    train_config_from_args,
)


def register(sub) -> None:
    p = sub.add_parser("train", help="train a dense spiking CNN with SLAYER",
                       description="Train a dense SLAYER network; writes OUT/model.pt (checkpoint after "
                       "every epoch) and OUT/history.json.")
    p.add_argument("--out", default="runs/train", help="output folder")
    p.add_argument("--config", default=None, help="network config JSON (default: the 16-32-64 conv net)")
    add_training_args(p, "OUT/model.pt")
    add_data_args(p)
    p.set_defaults(func=run)


def load_config(path: str | None):
    from sca_lava.errors import ScaLavaError
    from sca_lava.models import NetworkConfig, default_config

    if path is None:
        return default_config()
    try:
        return NetworkConfig.from_dict(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise ScaLavaError(f"{path}: no such network config") from None
    except json.JSONDecodeError as exc:
        raise ScaLavaError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def run(args) -> int:
    from sca_lava.atomic import write_json
    from sca_lava.data import load_dataset
    from sca_lava.models import NetworkConfig, build_network
    from sca_lava.training import Trainer, load_checkpoint

    out = Path(args.out)
    ckpt = out / "model.pt"
    data = load_dataset(args.data, args.data_root, seed=args.seed)
    if args.train_samples:
        data = data.subset(train=args.train_samples)
    state = load_checkpoint(ckpt) if args.resume else None
    config = NetworkConfig.from_dict(state["config"]) if state else load_config(args.config)
    if tuple(config.input_shape) != tuple(data.input_shape):
        config.input_shape = tuple(data.input_shape)
    tcfg = train_config_from_args(args)
    trainer = Trainer(build_network(config, seed=args.seed), tcfg)
    if state:
        trainer.load(state)
        print(f"resumed from {ckpt} after epoch {trainer.epoch}")
    history = trainer.fit(data, checkpoint=ckpt, progress=not args.no_progress)
    write_json(out / "history.json", history)
    print(f"checkpoint: {ckpt}")
    return 0
