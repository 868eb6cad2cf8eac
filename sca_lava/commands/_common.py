"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from sca_lava.data import DATASETS, ENCODINGS


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="mnist5k", choices=DATASETS, help="data set (default: mnist5k, shipped)")
    p.add_argument("--data-root", default=None, help="folder holding MNIST/CIFAR-10/N-MNIST files (never downloaded)")
    p.add_argument("--encoding", default="rate-regular", choices=ENCODINGS, help="input spike encoding")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, initial weights and batch order")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_training_args(p: argparse.ArgumentParser, resume_from: str) -> None:
    """Options shared by every command that trains (train, prune)."""
    p.add_argument("--epochs", type=positive_int, default=8)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default from TrainConfig)")
    p.add_argument("--train-samples", type=positive_int, default=None, help="use only the first N training samples")
    p.add_argument("--resume", action="store_true", help=f"continue from {resume_from}")
    p.add_argument("--no-progress", action="store_true")


def train_config_from_args(args):
    """TrainConfig from the shared training options."""
    from sca_lava.training import TrainConfig

    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, encoding=args.encoding)
    if args.lr is not None:
        tcfg.lr = args.lr
    return tcfg
