"""``sca-lava train``: dense SLAYER training with checkpoints and --resume."""

from __future__ import annotations

from sca_lava.commands._common import (
    add_training_command,
    load_training_data,
    train_config_from_args,
)


def register(sub) -> None:
    add_training_command(sub, "train", _train, _options, out="runs/train", resume_from="OUT/model.pt",
                         help="train a dense spiking CNN with SLAYER",
                         description="Train a dense SLAYER network; writes OUT/model.pt (checkpoint after "
                         "every epoch) and OUT/history.json.")


def _options(p) -> None:
    from sca_lava.commands._model import add_model_args

    p.add_argument("--config", default=None, help="network config JSON or YAML, or a network name: mnist_vgg (default), mnist_small_dense, tiny")
    add_model_args(p)


def load_config(path: str | None):
    """A network config JSON/YAML file, a network name (models.config.ARCHS)
    or the name of a config shipped in sca_lava/hardware/archs (e.g.
    ``vgg16_cifar``, the paper's VGG-16)."""
    from pathlib import Path

    from sca_lava.models import NetworkConfig, default_config
    from sca_lava.models.config import ARCHS, named_config

    if path is None:
        return default_config()
    if path in ARCHS:
        return named_config(path)
    if not Path(path).exists() and Path(path).name == path:
        from sca_lava.hardware.sweep import ARCHS_DIR

        if (ARCHS_DIR / f"{path}.yaml").is_file():
            path = ARCHS_DIR / f"{path}.yaml"
    return NetworkConfig.from_file(path)


def _train(args, dist) -> int:
    from torch import manual_seed as torch_seed

    from sca_lava.atomic import check_output_path, write_json
    from sca_lava.errors import ScaLavaError
    from sca_lava.models import NetworkConfig, build_network
    from sca_lava.models.graph import trace
    from sca_lava.training import Trainer, load_checkpoint

    out = check_output_path(args.out, "dir")
    ckpt = out / "model.pt"
    state = load_checkpoint(ckpt) if args.resume else None
    if state and args.config:
        raise ScaLavaError("--resume takes the network config from the checkpoint; drop --config")
    if args.model and args.config:
        raise ScaLavaError("--config builds sca_lava's own network; --model names yours: give one")
    tcfg = train_config_from_args(args, state.get("train_config") if state else None)
    recorded = state.get("contract") if state else None
    if args.model:  # your own network, built by your code (untrained, or resumed from the checkpoint)
        from sca_lava.commands._model import build_user_module

        data = load_training_data(args, recorded, tcfg.num_steps or 16)
        torch_seed(tcfg.seed)
        model = build_user_module(args.model, args.model_kwargs)
        graph = trace(model, data.input_shape)
    else:
        if state and state.get("config") is None:
            raise ScaLavaError(f"{ckpt} holds a network of your own: resume it with --model FILE.py:CLASS")
        config = NetworkConfig.from_dict(state["config"], str(ckpt)) if state else load_config(args.config)
        data = load_training_data(args, recorded, tcfg.num_steps or config.num_steps)
        if tuple(config.input_shape) != tuple(data.input_shape):
            config.input_shape = tuple(data.input_shape)
        config.check_classes(data.num_classes)
        model = build_network(config, seed=tcfg.seed)
        graph = trace(model, data.input_shape)
    trainer = Trainer(model, tcfg, dist=dist, graph=graph)
    if state:
        trainer.load(state)
        if dist.is_main:
            print(f"resumed from {ckpt} after epoch {trainer.epoch} of {tcfg.epochs}")
    history = trainer.fit(data, epochs=args.stop_after, checkpoint=ckpt, progress=not args.no_progress)
    if dist.is_main:
        write_json(out / "history.json", history)
        print(f"checkpoint: {ckpt}" + (f" (written by rank 0 of {dist.world_size})" if dist.enabled else ""))
    return 0
