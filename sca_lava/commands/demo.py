"""``sca-lava demo``: the whole pipeline on the shipped MNIST digits.

dense SLAYER training -> netx export -> Lava run with spike agreement
(and, as the later stages land: SCA pruning -> surgery -> pruned export ->
Lava, fixed-point deployed accuracy, Loihi budgets). Every printed figure is
also written to OUT/summary.json (see docs/summary.md)."""

from __future__ import annotations

import time
from pathlib import Path

from sca_lava.commands._common import positive_int


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline end to end on MNIST-5k",
                       description="Train, export, run in Lava and report; writes OUT/summary.json.")
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--epochs", type=positive_int, default=None, help="dense training epochs")
    p.add_argument("--lava-samples", type=positive_int, default=100, help="test samples run in Lava")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def deployed_accuracy(net_path: str, data, num_steps: int, lava_spikes, lava_result, progress: bool) -> dict:
    """Fixed-point accuracy of the netx file on every test digit, cross-checked
    against the Lava run already made on the first samples (no second Lava run)."""
    from sca_lava.data import encode
    from sca_lava.deploy.fixed_point import evaluate_netx, run_fixed_point

    report = evaluate_netx(net_path, encode(data.test_x, num_steps), data.test_y, progress=progress)
    fixed = run_fixed_point(net_path, lava_spikes, progress=False)
    n = len(lava_spikes)
    mismatches = int((fixed.output != lava_result.output).reshape(n, -1).any(1).sum())
    return {"accuracy": report.accuracy, "samples": report.num_samples,
            "samples_per_s": report.samples_per_s, "verified_samples": n, "mismatches": mismatches,
            "synops_per_sample": report.synops_per_sample}


def run(args) -> int:
    from sca_lava.atomic import write_json
    from sca_lava.data import encode, load_mnist5k
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.models import build_network, default_config
    from sca_lava.training import TrainConfig, Trainer

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    summary: dict = {"data": {"name": "mnist5k", "train": 4000, "test": 1000}}

    section("data")
    data = load_mnist5k(seed=args.seed)
    config = default_config()
    print(f"MNIST-5k: {len(data.train_x)} train / {len(data.test_x)} test digits; "
          f"input {config.input_shape}, T={config.num_steps}, encoding rate-regular")

    section("dense SLAYER training")
    tcfg = TrainConfig(seed=args.seed)
    if args.epochs:
        tcfg.epochs = args.epochs
    trainer = Trainer(build_network(config, seed=args.seed), tcfg)
    trainer.fit(data, checkpoint=out / "dense.pt", progress=progress)
    dense = trainer.model
    summary["dense"] = {
        "test_accuracy": trainer.history[-1]["test_accuracy"],
        "epochs": tcfg.epochs,
        "firing_rates": trainer.history[-1]["firing_rates"],
    }
    print(f"dense test accuracy (SLAYER, 1000 digits): {summary['dense']['test_accuracy']:.4f}")

    section("netx export + Lava run")
    dense_net = out / "dense.net"
    dense.export_hdf5(dense_net)
    n = min(args.lava_samples, len(data.test_x))
    spikes = encode(data.test_x[:n], config.num_steps)
    agreement, lava = compare_with_slayer(dense, str(dense_net), spikes, data.test_y[:n], progress=progress)
    summary["lava"] = {
        "samples": agreement.samples,
        "accuracy": agreement.lava_accuracy,
        "slayer_accuracy_same_samples": agreement.slayer_accuracy,
        "spike_agreement": agreement.spike_agreement,
        "seconds": agreement.lava_seconds,
    }
    print(f"exported {dense_net}")
    print(f"Lava accuracy on {n} test digits:  {agreement.lava_accuracy:.4f} "
          f"(SLAYER on the same: {agreement.slayer_accuracy:.4f})")
    print(f"Lava vs SLAYER spike agreement:   {agreement.spike_agreement:.4f} "
          f"({agreement.matching_samples}/{n} samples identical at every step)")

    section("deployed (fixed-point) accuracy, all test digits")
    deployed = deployed_accuracy(str(dense_net), data, config.num_steps, spikes, lava, progress)
    summary["deployed"] = {"dense": {"accuracy": deployed["accuracy"], "samples": deployed["samples"],
                                     "samples_per_s": deployed["samples_per_s"]},
                           "verified_samples": deployed["verified_samples"],
                           "mismatches": deployed["mismatches"]}
    print(f"dense deployed accuracy on {deployed['samples']} digits: {deployed['accuracy']:.4f} "
          f"({deployed['samples_per_s']:.0f} samples/s); cross-check with Lava on "
          f"{deployed['verified_samples']} samples: {deployed['mismatches']} mismatches")

    summary["timing"] = {"demo_seconds": time.perf_counter() - start}
    write_json(out / "summary.json", summary)
    section("summary")
    print(f"dense.test_accuracy   {summary['dense']['test_accuracy']:.4f}")
    print(f"lava.accuracy         {summary['lava']['accuracy']:.4f}  ({n} samples)")
    print(f"lava.spike_agreement  {summary['lava']['spike_agreement']:.4f}")
    print(f"deployed.dense.accuracy {summary['deployed']['dense']['accuracy']:.4f}  (1000 digits, fixed point)")
    print(f"timing.demo_seconds   {summary['timing']['demo_seconds']:.0f}")
    print(f"written: {out / 'summary.json'}")
    return 0
