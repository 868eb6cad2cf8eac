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
