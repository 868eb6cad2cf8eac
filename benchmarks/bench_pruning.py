"""SCA vs baselines vs dense on MNIST-5k at ~50/30/10 % of the dense
parameters, plus the bookkeeping overhead of SCA on a SLAYER training step.

Full run (long: 2 seeds x 3 targets x 5 criteria x epochs):
    .venv/bin/python benchmarks/bench_pruning.py --epochs 8 --seeds 2
Quick look:
    .venv/bin/python benchmarks/bench_pruning.py --epochs 3 --seeds 1 --train-samples 1000 \
        --test-samples 500 --targets 0.3 --criteria sca l1 random
Overhead only:
    .venv/bin/python benchmarks/bench_pruning.py --overhead-only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from sca_lava.atomic import write_json
from sca_lava.data import encode, load_mnist5k
from sca_lava.models import build_network, default_config
from sca_lava.models.config import small_config
from sca_lava.pruning import CRITERIA, PruneConfig, SCAPruner, prune_and_shrink
from sca_lava.pruning.report import measure
from sca_lava.training import TrainConfig, Trainer


def overhead(config, steps: int = 20, batch: int = 32, repeats: int = 3) -> dict:
    """Median time of a training step (forward, loss, backward, Adam) on a plain
    net vs the same net with SCA gates and activity taps installed."""
    from lava.lib.dl import slayer

    data = load_mnist5k(0)
    x = torch.from_numpy(encode(data.train_x[:batch], config.num_steps)).float()
    y = torch.from_numpy(data.train_y[:batch])
    loss_fn = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="sum")

    def make(with_sca: bool):
        model = build_network(config, 0)
        if with_sca:
            SCAPruner(PruneConfig()).attach(model, 3)
        model.train()
        return model, torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(model, opt):
        out = model.forward_all(x)[-1]
        loss = loss_fn(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    runs = {"plain": [], "sca": []}
    nets = {"plain": make(False), "sca": make(True)}
    for name in runs:  # warm-up
        step(*nets[name])
    for _ in range(repeats):
        for name in runs:  # interleaved so load changes hit both
            t0 = time.perf_counter()
            for _ in range(steps):
                step(*nets[name])
            runs[name].append((time.perf_counter() - t0) / steps)
    plain, sca = statistics.median(runs["plain"]), statistics.median(runs["sca"])
    return {"plain_step_s": plain, "sca_step_s": sca, "ratio": sca / plain}


def run_grid(args) -> list[dict]:
    config = small_config() if args.config == "small" else default_config()
    rows = []
    for seed in range(args.seeds):
        data = load_mnist5k(seed).subset(train=args.train_samples, test=args.test_samples)
        tcfg = TrainConfig(epochs=args.epochs, seed=seed)
        dense = build_network(config, seed)
        t0 = time.time()
        Trainer(dense, tcfg).fit(data, progress=False, log=None)
        m = measure(dense, data.test_x, data.test_y)
        rows.append({"method": "dense", "target": 1.0, "seed": seed, "accuracy": m["accuracy"],
                     "param_fraction": 1.0, "synops_fraction": 1.0, "seconds": time.time() - t0})
        print(f"seed {seed} dense: acc {m['accuracy']:.4f}", flush=True)
        ptcfg = TrainConfig(epochs=args.prune_epochs or args.epochs, seed=seed, lr=args.prune_lr or tcfg.lr)
        for target in args.targets:
            for crit in args.criteria:
                t0 = time.time()
                pcfg = PruneConfig(criterion=crit, target_params=target, seed=seed, regrow=args.regrow)
                _, rep = prune_and_shrink(dense if args.finetune else None, data, pcfg, ptcfg, config=config,
                                          dense_reference=dense, log=None)
                row = {"method": crit, "target": target, "seed": seed, "accuracy": rep["test_accuracy"],
                       "param_fraction": rep["param_fraction"], "synops_fraction": rep["synops_fraction"],
                       "channels": [c["after"] for c in rep["channels_per_layer"]],
                       "seconds": time.time() - t0}
                rows.append(row)
                print(f"seed {seed} {crit:>12s} @ {target:.2f}: acc {row['accuracy']:.4f} params "
                      f"{row['param_fraction']:.3f} synops {row['synops_fraction']:.3f} "
                      f"channels {row['channels']} ({row['seconds']:.0f} s)", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["method"]), []).append(r)
    lines = ["| target params | method | acc mean | acc min | params | SynOps | seeds |",
             "|---|---|---|---|---|---|---|"]
    for (target, method), rs in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        acc = [r["accuracy"] for r in rs]
        lines.append(f"| {target:.0%} | {method} | {100 * np.mean(acc):.2f} | {100 * min(acc):.2f} | "
                     f"{100 * np.mean([r['param_fraction'] for r in rs]):.1f} % | "
                     f"{100 * np.mean([r['synops_fraction'] for r in rs]):.1f} % | {len(rs)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--targets", type=float, nargs="+", default=[0.5, 0.3, 0.1])
    p.add_argument("--criteria", nargs="+", default=list(CRITERIA), choices=list(CRITERIA))
    p.add_argument("--regrow", type=float, default=0.1)
    p.add_argument("--config", choices=("default", "small"), default="default")
    p.add_argument("--train-samples", type=int, default=None)
    p.add_argument("--test-samples", type=int, default=None)
    p.add_argument("--finetune", action="store_true", help="prune the trained dense net instead of from scratch")
    p.add_argument("--prune-epochs", type=int, default=None, help="pruning epochs (default: --epochs)")
    p.add_argument("--prune-lr", type=float, default=None, help="pruning learning rate (default: TrainConfig's)")
    p.add_argument("--overhead-only", action="store_true")
    p.add_argument("--overhead-steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 gives steadier timings)")
    p.add_argument("--json", default=None, help="write the rows and overhead here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    config = small_config() if args.config == "small" else default_config()
    ov = overhead(config, steps=args.overhead_steps)
    print(f"training step: plain {1000 * ov['plain_step_s']:.1f} ms, with SCA bookkeeping "
          f"{1000 * ov['sca_step_s']:.1f} ms, ratio {ov['ratio']:.3f} (target <= 1.10)", flush=True)
    rows = [] if args.overhead_only else run_grid(args)
    if rows:
        print()
        print(f"MNIST-5k, {args.config} net, {args.epochs} epochs, {args.seeds} seed(s), "
              f"{'fine-tuned from dense' if args.finetune else 'pruned from scratch'}; "
              f"params = synaptic weights; SynOps = measured on test spikes, fraction of dense")
        print(table(rows))
    if args.json:
        write_json(args.json, {"overhead": ov, "rows": rows, "args": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
