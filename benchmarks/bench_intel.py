"""Fixed-point evaluator vs the Lava runtime on Intel's PilotNet LIF
(lava-dl 0.6.0 wheel: gts/pilotnet_lif/network.net, 10 neuron layers,
66x200x3 input driven through the input layer's bias with image.npy).

Both run the same N samples x T steps (streamed, reset every T steps, every
layer recorded); their spikes must be identical, and the figure printed is
the wall-time ratio of the two calls (Lava's includes building and compiling
its network, the evaluator's its batched run). Prints figures only.

    .venv/bin/python benchmarks/bench_intel.py [--samples 2] [--steps 8]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()

    import numpy as np
    import torch

    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.deploy.lava_runner import run_lava
    from sca_lava.netx import read_netx
    from sca_lava.netx.intel import intel_file, pilotnet_lif_image
    from sca_lava.netx.record import first_divergence

    spec = read_netx(intel_file("pilotnet_lif"))
    img = pilotnet_lif_image()
    bias = np.concatenate([img, np.roll(img, 7, axis=-1)][: args.samples] * (1 + args.samples // 2))[: args.samples]
    run_fixed_point(None, bias=bias[:1], steps=2, spec=spec, progress=False)  # warm-up (torch kernels)
    t0 = time.perf_counter()
    fixed = run_fixed_point(None, bias=bias, steps=args.steps, spec=spec, record_all=True, progress=False)
    t_fixed = time.perf_counter() - t0
    t0 = time.perf_counter()
    lava = run_lava(None, bias=bias, steps=args.steps, spec=spec, record_all=True, progress=False)
    t_lava = time.perf_counter() - t0
    check = first_divergence(fixed.layer_spikes, lava.layer_spikes)
    print(f"PilotNet LIF, {args.samples} samples x {args.steps} steps, every layer recorded, "
          f"torch threads {torch.get_num_threads()}")
    print(f"  Lava runtime       {t_lava:8.2f} s  ({lava.seconds:.2f} s inside run_lava's timer)")
    print(f"  fixed-point        {t_fixed:8.2f} s")
    print(f"  speed-up           {t_lava / t_fixed:8.1f} x")
    print(f"  identical samples  {check['samples'] - check['mismatching_samples']}/{check['samples']} "
          f"(first mismatch: {check['first_mismatch']})")


if __name__ == "__main__":
    main()
