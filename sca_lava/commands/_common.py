"""Argument helpers shared by subcommands.

Options that the input contract or a checkpoint also states default to None
(a sentinel), so a command can tell "not given" (take the recorded value)
from "given explicitly" (it wins, with a warning when it contradicts the
record). Fallback defaults live in :data:`DEFAULTS`, written once.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from sca_lava.data import DATASETS, ENCODINGS
from sca_lava.errors import ScaLavaError, warn  # noqa: F401 (the commands import it from here)
from sca_lava.netx.contract import DEFAULT_SPLIT_SEED, SEED_MAX

#: what an option means when neither the command line nor a record states it
DEFAULTS = {"data": "mnist5k", "encoding": "rate-regular", "seed": 0, "split_seed": DEFAULT_SPLIT_SEED,
            "steps": 16, "epochs": 8, "batch_size": 32}


def seed_int(text: str) -> int:
    """A seed numpy and torch both accept: 0 .. 2**32-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be in 0..{SEED_MAX}, got {value}")
    return value


def positive_int(text: str, lowest: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"must be >= {lowest}, got {value}")
    return value


def data_name(text: str) -> str:
    """A data set name, or arrays of your own in a ``.npz`` file."""
    if text in DATASETS or text.endswith(".npz"):
        return text
    raise argparse.ArgumentTypeError(f"must be one of {', '.join(DATASETS)} or a .npz file of your own "
                                     f"arrays, got {text!r}")


def non_negative_int(text: str) -> int:
    return positive_int(text, lowest=0)


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, type=data_name, metavar="{" + ",".join(DATASETS) + "} or FILE.npz",
                   help="data set (default: the recorded input contract, else mnist5k, shipped), or your own "
                   "arrays: a .npz file with train_x, train_y, test_x, test_y (images (N, C, H, W) / (N, F) or "
                   "spikes (N, C, H, W, T) / (N, F, T); class labels (N,) or any per-sample target)")
    p.add_argument("--data-root", default=None, help="folder holding MNIST/CIFAR-10/N-MNIST files (never downloaded)")
    p.add_argument("--encoding", default=None, choices=ENCODINGS,
                   help="input spike encoding (default: the recorded input contract, else rate-regular)")
    p.add_argument("--seed", type=seed_int, default=None,
                   help="seed for initial weights, batch order and rate-poisson noise (default 0)")
    p.add_argument("--split-seed", type=seed_int, default=None,
                   help=f"seed of the mnist5k train/test split (default: the recorded input contract, else "
                   f"{DEFAULT_SPLIT_SEED})")


def add_training_args(p: argparse.ArgumentParser, resume_from: str) -> None:
    """Options shared by every command that trains (train, prune)."""
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="total epochs of the run; the lr schedule spans them (default 8)")
    p.add_argument("--stop-after", type=positive_int, default=None, metavar="N",
                   help="stop after epoch N of the run (resume it later with --resume)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="samples per training batch (default 32)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default from TrainConfig)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="time steps per sample of static inputs (default: the network config's, 16 for sca_lava's "
                   "nets; spike data bring their own)")
    p.add_argument("--train-samples", type=positive_int, default=None, help="use only the first N training samples")
    p.add_argument("--test-samples", type=positive_int, default=None,
                   help="evaluate on the first N test samples only")
    p.add_argument("--validation", type=positive_int, default=None, metavar="N",
                   help="hold out the last N training samples and evaluate on them instead of the test split "
                        "(for choosing a recipe; recorded in the input contract)")
    p.add_argument("--resume", action="store_true",
                   help=f"continue from {resume_from} with its recorded configuration")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_arg(p)
    p.add_argument("--optimizer", default=None, choices=("adam", "sgd"), help="optimiser (default adam)")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum (default 0.9)")
    p.add_argument("--lr-schedule", default=None, choices=("cosine", "step", "constant"),
                   help="learning-rate schedule over the epochs (default cosine)")
    p.add_argument("--lr-step", type=positive_int, default=None, help="step schedule: epochs per decay (default 100)")
    p.add_argument("--lr-gamma", type=float, default=None, help="step schedule: decay factor (default 0.1)")
    p.add_argument("--shift", type=int, default=None, metavar="N",
                   help="augmentation: random shifts of up to N pixels (default 0; images only)")
    p.add_argument("--flip", action="store_true", default=None, help="augmentation: random horizontal flips")
    p.add_argument("--rate-floor", type=float, default=None, metavar="R",
                   help="push every hidden layer whose mean firing rate falls below R back up (train: default 0, "
                        "off; prune: default 0.02, the recommended recipe, so no layer falls silent while "
                        "channels are pruned)")
    p.add_argument("--distill", type=float, default=None, metavar="W",
                   help="pruning: weight in [0, 1] of matching the dense net's output rates instead of the "
                        "label targets (default 0: labels only)")


def add_command(sub, name: str, run, *, help: str, description: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``; the CLI calls ``run(args)``."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(func=run)
    return p


def add_training_command(sub, name: str, body, options, *, out: str, resume_from: str, help: str,
                         description: str) -> argparse.ArgumentParser:
    """The parser of a command that trains (train, prune): ``--out``, the
    command's own options (``options(parser)``), then the shared training and
    data options; ``body(args, dist)`` runs inside :func:`run_distributed`."""
    p = add_command(sub, name, functools.partial(run_distributed, body=body), help=help, description=description)
    p.add_argument("--out", default=out, help="output folder")
    options(p)
    add_training_args(p.add_argument_group("training"), resume_from)
    add_data_args(p.add_argument_group("data"))
    return p


def run_distributed(args, body) -> int:
    """``body(args, dist)`` in this process's torch.distributed context (one
    process, or one of torchrun's). The process group is not destroyed here:
    a torchrun worker ends through :func:`sca_lava.cli.run`, which leaves
    without interpreter teardown."""
    from sca_lava.training.distributed import init_distributed

    return body(args, init_distributed(args.device))


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present), cpu, cuda or cuda:N; under torchrun cuda = this process's GPU")




def pick(args, name: str, recorded, what: str = "the input contract", flag: str | None = None):
    """The value of option ``name``: the command line's when given (warning
    if it contradicts ``recorded``), else ``recorded``, else the default."""
    given = getattr(args, name, None)
    if given is None:
        return DEFAULTS.get(name) if recorded is None else recorded
    if recorded is not None and given != recorded:
        flag = flag or "--" + name.replace("_", "-")
        warn(f"{flag} {given} overrides {what} ({name}={recorded})")
    return given


def train_config_from_args(args, recorded: dict | None = None):
    """TrainConfig from the shared training options; on resume, ``recorded``
    (the checkpoint's train config) supplies every option not given, and a
    given one that differs is refused (never silently mixed)."""
    from dataclasses import asdict

    from sca_lava.errors import ScaLavaError
    from sca_lava.training import TrainConfig

    given = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "encoding": args.encoding, "optimizer": args.optimizer, "momentum": args.momentum,
             "lr_schedule": args.lr_schedule, "lr_step": args.lr_step, "lr_gamma": args.lr_gamma,
             "shift": args.shift, "flip": args.flip, "rate_floor": args.rate_floor,
             "distill": args.distill, "num_steps": getattr(args, "steps", None)}
    if recorded is not None:
        base = TrainConfig.from_dict(recorded)
        for key, value in given.items():
            old = getattr(base, key)
            if value is not None and value != old:
                flag = "--" + key.replace("_", "-")
                hint = " (use --stop-after to end a run early and --resume to finish it)" if key == "epochs" else ""
                raise ScaLavaError(f"--resume: {flag} {value} differs from the checkpoint's {key}={old}; "
                                   f"drop the flag to resume with the recorded configuration{hint}")
        return base
    tcfg = TrainConfig()
    for key, value in given.items():
        setattr(tcfg, key, DEFAULTS.get(key, getattr(tcfg, key)) if value is None else value)
    return TrainConfig.from_dict(asdict(tcfg))


def add_steps_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=positive_int, default=None, metavar="T",
                   help=f"time steps per sample (default: the file's input contract, else {DEFAULTS['steps']})")


def input_settings(args, contract) -> argparse.Namespace:
    """Data set, steps, encoding and seeds of a run on a network with input
    contract ``contract`` (None: the command line and :data:`DEFAULTS`)."""
    c = contract
    what = "the file's input contract"
    out = argparse.Namespace()
    recorded_data = c.dataset if c else None
    if recorded_data is not None and recorded_data == npz_name(getattr(args, "data", None) or ""):
        recorded_data = args.data  # the .npz file the network was trained on, given again: no override
    out.data = pick(args, "data", recorded_data, what)
    out.steps = pick(args, "steps", c.num_steps if c else None, what)
    out.encoding = pick(args, "encoding", c.encoding if c and not c.events else None, what)
    out.seed = pick(args, "seed", c.encoding_seed if c else None, what)
    recorded_split = c.split_seed if c and c.dataset == out.data else None
    given = getattr(args, "split_seed", None)
    if given is not None and recorded_split is not None and given != recorded_split:
        warn(f"--split-seed {given} differs from the split the network was trained on "
             f"(split_seed={recorded_split}): its test set includes training samples of the network")
    out.split_seed = given if given is not None else (DEFAULTS["split_seed"] if recorded_split is None
                                                      else recorded_split)
    return out


def load_inputs(args, spec, split: str = "test", samples: int | None = None, check=None):
    """(spikes, labels, settings) for running the netx network ``spec`` on
    the first ``samples`` of a split, made as its input contract says;
    ``check(samples, steps)`` runs before the spikes are made."""
    from sca_lava.data import encode, load_dataset

    s = input_settings(args, spec.contract)
    if s.data.endswith(".npz") and (args.data or "").endswith(".npz"):
        data = load_npz_split(args.data)
    elif s.data not in DATASETS:
        raise ScaLavaError(f"{spec.path}: the network was trained on data of your own ({s.data}); pass "
                           "--input FILE.npy [--labels FILE.npy], or --data FILE.npz")
    else:
        data = load_dataset(s.data, args.data_root, seed=s.split_seed, num_steps=s.steps)
    if spec.contract is not None and spec.contract.events != data.events:
        kind = "event" if spec.contract.events else "image"
        raise ScaLavaError(f"{spec.path}: the network was trained on {kind} data ({spec.contract.dataset}); "
                           f"{s.data} does not match")
    have, wants = tuple(data.input_shape), tuple(spec.input_shape)
    if have != wants and not (spec.flat_input and int(np.prod(have)) == int(np.prod(wants))):
        given = f"--data {s.data}" if getattr(args, "data", None) else f"the default data set {s.data}"
        why = "" if spec.contract else " (the file has no input contract naming its data)"
        raise ScaLavaError(f"{spec.path}: the network takes input {wants} but {given} has {have}{why}: give "
                           f"--input FILE.npy with spikes (N, {', '.join(map(str, wants))}, T)")
    x, y = (data.test_x, data.test_y) if split == "test" else (data.train_x, data.train_y)
    x, y = x[:samples], y[:samples]
    if len(y) == 0:
        raise ScaLavaError(f"the {split} split of {s.data} is empty")
    if check is not None:
        check(len(y), x.shape[-1] if data.events else s.steps)
    spikes = x if data.events else encode(x, s.steps, s.encoding, seed=s.seed)
    s.events = data.events
    if s.events:
        s.encoding = "events"
    return spikes, y, s


def load_npz_split(path: str):
    """Arrays of your own: a .npz file (no pickles) with train_x, train_y,
    test_x, test_y (and optionally ``events``, ``bin_width_us``), checked by
    :meth:`sca_lava.data.DataSplit.from_arrays`; its name in the input
    contract is ``user:FILE.npz``."""
    import numpy as np

    from sca_lava.atomic import check_input_file
    from sca_lava.data import DataSplit

    check_input_file(path, "data file", 16 << 30)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("train_x", "train_y", "test_x", "test_y") if k not in z.files]
            if missing:
                raise ScaLavaError(f"{path}: the .npz file lacks {', '.join(missing)}")
            arrays = [z[k] for k in ("train_x", "train_y", "test_x", "test_y")]
            events = bool(z["events"]) if "events" in z.files else None
            width = float(z["bin_width_us"]) if "bin_width_us" in z.files else None
    except ScaLavaError:
        raise
    except (OSError, ValueError, EOFError, TypeError) as exc:
        raise ScaLavaError(f"{path}: not a readable .npz file of arrays ({str(exc).splitlines()[0][:120]})") from None
    return DataSplit.from_arrays(*arrays, name=npz_name(path), events=events, bin_width_us=width)


def npz_name(path: str) -> str | None:
    """The data-set name an input contract records for arrays from ``path``
    (``user:FILE.npz``; None for anything but a .npz file)."""
    from pathlib import Path

    if not path.endswith(".npz"):
        return None
    name = f"user:{Path(path).name}"[:64]
    return name if name.isprintable() else "user"


def load_training_data(args, recorded: dict | None, num_steps: int):
    """The data of a training run (event data binned at the network's
    ``num_steps``). On --resume, ``recorded`` (the checkpoint's input
    contract) supplies every data option not given; a given one that differs
    is refused by the trainer when it compares the contracts."""
    from sca_lava.data import DATASETS, load_dataset

    c = recorded or {}
    name = args.data or c.get("dataset") or DEFAULTS["data"]
    if name.endswith(".npz") or name not in DATASETS:
        if not (args.data or "").endswith(".npz"):
            raise ScaLavaError(f"--resume: the run trained on data of your own ({name}); pass them again "
                               "with --data FILE.npz")
        data = load_npz_split(args.data)
    else:
        split_seed = args.split_seed
        if split_seed is None:
            split_seed = c.get("split_seed") if c.get("split_seed") is not None else DEFAULTS["split_seed"]
        data = load_dataset(name, args.data_root, seed=split_seed, num_steps=num_steps)
    validation = getattr(args, "validation", None) or c.get("validation_size")
    if validation:
        data = data.hold_out(validation)
    sizes = {}
    for key, field, have in (("train_samples", "train_size", len(data.train_x)),
                             ("test_samples", "test_size", len(data.test_x))):
        given = getattr(args, key, None)
        sizes[key] = given if given is not None else (c[field] if c.get(field) is not None and c[field] < have
                                                      else None)
    if sizes["train_samples"] or sizes["test_samples"]:
        data = data.subset(train=sizes["train_samples"], test=sizes["test_samples"])
    return data
