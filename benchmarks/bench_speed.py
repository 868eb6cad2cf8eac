"""SLAYER training step time vs Lava time per simulated step, default model.

Prints figures measured side by side in one run (no assertions), among them
the training step with lava-dl's own CPU leaky integrator (its Python loop)
against sca_lava's compiled kernel (``sca_lava._slayer_cpu``), one turn of
each in alternation, medians and their ratio:
  python benchmarks/bench_speed.py [--batch-size 32] [--steps 10] [--rounds 3] [--lava-samples 8]
      [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sca_lava._lava_dl import slayer
from sca_lava._slayer_cpu import select
from sca_lava.commands._common import positive_int
from sca_lava.data import encode, load_mnist5k
from sca_lava.deploy.lava_runner import run_lava
from sca_lava.models import build_network, default_config
from sca_lava.training import TrainConfig, Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=positive_int, default=10, help="timed training steps")
    ap.add_argument("--rounds", type=positive_int, default=3, help="alternating turns of the two leaky integrators")
    ap.add_argument("--lava-samples", type=int, default=8)
    ap.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_mnist5k()
    config = default_config()
    T = config.num_steps
    trainer = Trainer(build_network(config), TrainConfig(batch_size=args.batch_size))
    x = torch.from_numpy(encode(data.train_x[: args.batch_size], T)).float()
    y = torch.from_numpy(data.train_y[: args.batch_size])

    def step():
        out = trainer.model(x)
        loss = trainer.loss_fn(out, y)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()

    compiled = hasattr(slayer().neuron.dynamics.leaky_integrator, "_sca_lava_kernels")  # not with numba missing
    variants = {"kernel": "kernel", "lava-dl": "reference"} if compiled else {"lava-dl": None}
    times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, which in variants.items():
            if which:
                select(slayer(), which)
            step()  # warm-up
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - start) / args.steps)
    if compiled:
        select(slayer(), "kernel")
    medians = {name: statistics.median(t) for name, t in times.items()}
    train_step = min(medians.values())

    with torch.no_grad():
        start = time.perf_counter()
        trainer.model(x)
        infer = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "default.net"
        trainer.model.export_hdf5(path)
        spikes = encode(data.test_x[: args.lava_samples], T)
        start = time.perf_counter()
        result = run_lava(str(path), spikes, progress=False)
        lava_total = time.perf_counter() - start

    lava_steps = args.lava_samples * T
    widths = "-".join(str(ly["out"]) for ly in config.layers if "out" in ly)
    print(f"model: default ({widths}), T={T}, torch threads={torch.get_num_threads()}")
    for name, median in medians.items():
        print(f"SLAYER training step (batch {args.batch_size}), {name + ' leaky integrator:':26s}{median * 1e3:8.1f} ms  "
              f"({median / (args.batch_size * T) * 1e3:.3f} ms per sample-step)")
    if len(medians) == 2:
        print(f"ratio lava-dl / kernel training step:        {medians['lava-dl'] / medians['kernel']:8.2f}x")
    print(f"SLAYER inference (batch {args.batch_size}):          {infer * 1e3:8.1f} ms")
    print(f"Lava run, {args.lava_samples} samples x {T} steps:           {lava_total:8.2f} s incl. build")
    print(f"Lava time per simulated step (run only):   {result.seconds / lava_steps * 1e3:8.1f} ms")
    print(f"ratio Lava step / SLAYER train sample-step: "
          f"{(result.seconds / lava_steps) / (train_step / (args.batch_size * T)):8.0f}x")
    print(f"Lava predictions: {np.bincount(result.predictions(), minlength=10).tolist()}")


if __name__ == "__main__":
    main()
