"""Batched fixed-point evaluator vs the Lava runtime on the default network.

Builds the default net (conv 1->16 s2, 16->32 s2, 32->64 s2, 3x3 pad 1 ->
flatten -> dense 128 -> dense 10, 28x28 input, T=16) with random weights,
exports it to netx, then times (1) run_lava and the evaluator on the same
few samples (and checks their spikes are identical) and (2) the evaluator on
all 1000 MNIST-5k test digits. Prints figures only.

    .venv/bin/python benchmarks/bench_evaluator.py [--lava-samples 8] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def build_default_netx(path: Path, seed: int = 0) -> int:
    """Export the default network with its initial (untrained) weights."""
    from sca_lava.models import build_network, default_config

    config = default_config()
    build_network(config, seed=seed).export_hdf5(path)
    return config.num_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lava-samples", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch

    from sca_lava.data import encode, load_mnist5k
    from sca_lava.deploy.evaluate import evaluate_netx
    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.deploy.lava_runner import run_lava
    from sca_lava.netx.record import first_divergence

    print(f"torch threads {torch.get_num_threads()}, device {args.device}")
    data = load_mnist5k(seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "default.net"
        steps = build_default_netx(path)
        x = encode(data.test_x, steps)
        k = args.lava_samples

        lava = run_lava(str(path), x[:k], record_all=True, progress=False)
        lava_sps = k / lava.seconds
        t0 = time.perf_counter()
        fixed = run_fixed_point(str(path), x[:k], record_all=True, batch_size=k, device=args.device,
                                progress=False)
        small = time.perf_counter() - t0
        check = first_divergence(fixed.layer_spikes, lava.layer_spikes)
        print(f"Lava            {k} samples in {lava.seconds:.2f} s = {lava_sps:.2f} samples/s")
        print(f"fixed point     {k} samples in {small:.3f} s = {k / small:.1f} samples/s (same batch)")
        print(f"spike check     {k - check['mismatching_samples']}/{k} samples identical in all layers")

        report = evaluate_netx(str(path), x, data.test_y, batch_size=args.batch_size,
                               device=args.device, progress=False)
        print(f"full test set   {report.num_samples} samples, T={steps}: {report.seconds:.2f} s "
              f"= {report.samples_per_s:.1f} samples/s, accuracy {report.accuracy:.3f} (random weights)")
        print(f"speed-up        {report.samples_per_s / lava_sps:.0f}x over Lava "
              f"(batched, {args.batch_size}/batch); {k / small / lava_sps:.0f}x at batch {k}")
        print("firing rates    " + ", ".join(f"{ly['firing_rate']:.3f}" for ly in report.layers))


if __name__ == "__main__":
    main()
