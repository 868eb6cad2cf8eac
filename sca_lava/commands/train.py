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
    """(config, whether it states the input shape): a network config JSON/YAML
    file, a network name (models.config.ARCHS) or the name of an architecture
    shipped in sca_lava/hardware/archs (e.g. ``vgg16_cifar``, the paper's
    VGG-16, or ``mnist_small``). A file's ``input`` (the architecture key, as
    docs/hardware.md writes it) is read as ``input_shape``; ``name`` is a label."""
    from pathlib import Path

    from sca_lava.configfile import load_structured
    from sca_lava.errors import ScaLavaError
    from sca_lava.models import NetworkConfig, default_config
    from sca_lava.models.config import ARCHS, named_config

    if path is None:
        return default_config(), False
    if path in ARCHS:
        return named_config(path), False
    if not Path(path).exists() and Path(path).name == path:
        from sca_lava.hardware.sweep import ARCHS_DIR

        if (ARCHS_DIR / f"{path}.yaml").is_file():
            path = ARCHS_DIR / f"{path}.yaml"
    data = load_structured(path, "network config")
    if isinstance(data, dict):
        data = dict(data)
        if isinstance(data.get("name"), str):
            del data["name"]
        if "input" in data:
            if "input_shape" in data and data["input_shape"] != data["input"]:
                raise ScaLavaError(f"{path}: 'input' {data['input']} and 'input_shape' {data['input_shape']} differ; "
                                   "give one")
            data["input_shape"] = data.pop("input")
    config = NetworkConfig.from_dict(data, str(path))
    return config, isinstance(data, dict) and "input_shape" in data


def fit_input(config, stated: bool, data, where: str) -> None:
    """Give ``config`` the data set's input shape: silently where the config
    left it to the default, with a note where a named network assumed
    another, never where a config file states one the data do not have."""
    from sca_lava.errors import ScaLavaError

    have, want = tuple(config.input_shape), tuple(data.input_shape)
    if have == want:
        return
    if stated:
        raise ScaLavaError(f"{where}: input_shape {list(have)} does not match the {data.name} data "
                           f"({list(want)}); drop input_shape from the file or use data of that shape")
    print(f"note: the network's input is {list(want)}, the shape of the {data.name} data "
          f"(the network config assumes {list(have)})")
    config.input_shape = want


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
    if args.user_model and args.config:
        raise ScaLavaError("--config builds sca_lava's own network; --model names yours: give one")
    tcfg = train_config_from_args(args, state.get("train_config") if state else None)
    recorded = state.get("contract") if state else None
    if args.user_model:  # your own network, built by your code (untrained, or resumed from the checkpoint)
        from sca_lava.commands._model import build_user_module

        data = load_training_data(args, recorded, tcfg.num_steps or 16)
        torch_seed(tcfg.seed)
        model = build_user_module(args.user_model, args.model_kwargs)
        graph = trace(model, data.input_shape)
        if state and state.get("structure"):  # a cut network resumes cut
            from sca_lava.models.surgery import apply_structure

            model, graph = apply_structure(graph, state["structure"], str(ckpt))
    else:
        if state and state.get("config") is None:
            raise ScaLavaError(f"{ckpt} holds a network of your own: resume it with --model FILE.py:CLASS")
        config, stated = (NetworkConfig.from_dict(state["config"], str(ckpt)), True) if state \
            else load_config(args.config)
        data = load_training_data(args, recorded, tcfg.num_steps or config.num_steps)
        fit_input(config, stated, data, str(ckpt) if state else f"--config {args.config}")
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
