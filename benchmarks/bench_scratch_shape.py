"""Is the pruned net capacity-limited? Train a pruned shape from scratch.

Takes the default network with its conv widths replaced by ``--channels``
(e.g. the 7-13-13-27-27 that ``sca-drive`` keeps at 30 % of the Loihi 2
energy), trains it with the dense recipe (same epochs, learning rate, shift
augmentation, split and seed as bench_pruning's dense nets) and measures it
as bench_pruning measures a row: SLAYER test accuracy, parameters and Loihi 2
dynamic energy as fractions of that seed's dense row under ``--dense-out``.
If the shape from scratch matches the pruned net, the gap to dense is the
shape's (channels and spikes), not the pruning's.

    .venv/bin/python benchmarks/bench_scratch_shape.py --dense-out runs/b --seeds 0 1 \
        --channels 7 13 13 27 27 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from bench_pruning import dense_recipe, deployment_cost, read_row, row_path, shaped

from sca_lava.data import encode, load_mnist5k
from sca_lava.errors import ScaLavaError
from sca_lava.models import build_network
from sca_lava.models.config import ARCHS, DEFAULT_ARCH
from sca_lava.pruning.report import measure
from sca_lava.training import TrainConfig, Trainer
from sca_lava.workflow import synapse_counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dense-out", required=True, help="a bench_pruning --out holding each seed's dense row")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=list(ARCHS))
    p.add_argument("--channels", type=int, nargs="+", required=True, help="conv widths, first to last")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=None, help="default: the dense recipe's")
    p.add_argument("--budget-samples", type=int, default=100, help="test digits the energy is measured on")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs, lr, shift = dense_recipe(args.arch, args.epochs)
    try:
        cfg = shaped(args.arch, args.channels)
        dense = {s: read_row(row_path(Path(args.dense_out), s, "dense", "params", 1.0)) for s in args.seeds}
    except ScaLavaError as exc:
        print(f"bench_scratch_shape: {exc}", file=sys.stderr)
        return 2
    for seed in args.seeds:
        t0 = time.time()
        data = load_mnist5k(seed)
        trainer = Trainer(build_network(cfg, seed), TrainConfig(epochs=epochs, seed=seed, shift=shift, lr=lr))
        trainer.fit(data, progress=False, log=lambda m, s=seed: print(f"seed {s} {m}", flush=True))
        m = measure(trainer.graph, data.test_x, data.test_y, cfg.num_steps)
        cost = deployment_cost(trainer.model, encode(data.test_x[:args.budget_samples], cfg.num_steps))
        d = dense[seed]
        row = {"seed": seed, "channels": args.channels, "epochs": epochs, "accuracy": m["accuracy"],
               "dense_accuracy": d["accuracy"],
               "param_fraction": sum(synapse_counts(trainer.model).values()) / d["params"],
               "energy_fraction": cost["loihi2"]["dynamic_energy_uj"] / d["cost"]["loihi2"]["dynamic_energy_uj"],
               "firing_rates": [round(ly["firing_rate"], 3) for ly in m["layers"]], "seconds": round(time.time() - t0)}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
