"""Bookkeeping overhead of SCA pruning per training step, printed side by side.

Variants, same network and batch, one step of each in turn (median and min per step):
  plain    - SLAYER training step, no pruning;
  params   - + channel gates (gain x mask in the quantiser, gradient tap) and activity taps;
  energy   - + the cost taps a synops/energy budget needs (spikes per input neuron, active
             neuron-steps), i.e. everything a `--budget energy=...` run does per step.
Also times one structure update per budget kind (once per epoch, not per step).
Ratios: of the per-variant medians, and paired (the median over turns of one
variant's step over the step just before or after it in the same turn, which
cancels load that changes between turns); `energy / params` is the cost
model's own share (the cost taps), `energy / plain` all of SCA's bookkeeping.

  python benchmarks/bench_prune_overhead.py [--batch-size 32] [--steps 6] [--rounds 3] [--threads 1]
      [--criterion sca-drive]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from sca_lava.data import encode, load_mnist5k
from sca_lava.models import NetworkConfig, build_network, default_config
from sca_lava.pruning import PruneConfig, SCAPruner
from sca_lava.training import TrainConfig, Trainer

BUDGETS = {"params": ("params=0.3", None), "energy": ("energy=0.3", "loihi2")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=6, help="timed training steps per round and variant")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--criterion", default="sca-drive", help="pruning criterion (default: the recipe's)")
    ap.add_argument("--config", default=None, help="network config JSON (default: default_config())")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_mnist5k()
    config = NetworkConfig.from_dict(json.load(open(args.config))) if args.config else default_config()
    steps_t = config.num_steps
    x = torch.from_numpy(encode(data.train_x[: args.batch_size], steps_t)).float()
    y = torch.from_numpy(data.train_y[: args.batch_size])
    ref = encode(data.train_x[:64], steps_t)

    trainers = {"plain": Trainer(build_network(config), TrainConfig(batch_size=args.batch_size))}
    pruners = {}
    for name, (budget, profile) in BUDGETS.items():
        pr = SCAPruner(PruneConfig(budget=budget, profile=profile, criterion=args.criterion), reference=ref)
        trainers[name] = Trainer(build_network(config), TrainConfig(batch_size=args.batch_size), [pr])
        pr.on_train_begin(trainers[name])  # the dense reference, as fit() would measure it
        pruners[name] = pr

    def step(tr: Trainer) -> None:
        tr.model.train()
        outs = tr.graph.outputs(x)
        loss = tr.loss_fn(outs[-1], y)
        tr.optimizer.zero_grad()
        loss.backward()
        tr.optimizer.step()

    for tr in trainers.values():
        step(tr)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in trainers}
    for _ in range(args.rounds * args.steps):  # one step of each variant in turn: load hits all alike
        for name, tr in trainers.items():
            t0 = time.perf_counter()
            step(tr)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    syn = sum(1 for ly in config.layers if ly["type"] != "flatten")
    print(f"network: {syn} synaptic layers, T={steps_t}, batch {args.batch_size}, torch threads "
          f"{torch.get_num_threads()}, {args.rounds * args.steps} interleaved steps per variant")
    for name in trainers:
        print(f"  {name:7s} training step median {med[name] * 1e3:8.1f} ms (ratio {med[name] / med['plain']:.3f}), "
              f"min {low[name] * 1e3:8.1f} ms (ratio {low[name] / low['plain']:.3f})")
    paired = {f"{a} / {b}": statistics.median(x / y for x, y in zip(times[a], times[b]))
              for a, b in (("params", "plain"), ("energy", "plain"), ("energy", "params"))}
    print("  paired ratios (median over turns): " + ", ".join(f"{k} {v:.3f}" for k, v in paired.items()))

    # one structure update per epoch: its cost, in training steps
    for name, (budget, profile) in {**BUDGETS, "cores": ("cores=6", "loihi1")}.items():
        if name in pruners:
            pr = pruners[name]
        else:
            pr = SCAPruner(PruneConfig(budget=budget, profile=profile, criterion=args.criterion))
            pr.attach(build_network(config), 8)
        t0 = time.perf_counter()
        rec = pr.update(1)
        dt = time.perf_counter() - t0
        print(f"  update ({budget}{' on ' + profile if profile else ''}): {dt:6.2f} s = "
              f"{dt / med['plain']:.0f} plain steps; cost after it {rec['cost_fraction']:.3f} of dense "
              f"(budget at epoch 1: {rec['budget_fraction']:.3f}); channels {rec['channels']}")
    print(f"per-step medians (ms): {json.dumps({k: round(v * 1e3, 2) for k, v in med.items()})}")


if __name__ == "__main__":
    main()
