"""``sca-lava demo``: the whole pipeline on the shipped MNIST digits.

dense SLAYER training -> netx export -> Lava run (spike agreement) ->
SCA prune-and-regrow fine-tuning -> surgery -> pruned export -> Lava run ->
deployed fixed-point accuracy on all test digits (cross-checked with the
Lava runs) -> Loihi 1 / Loihi 2 budgets, dense vs pruned. Every printed
figure is also in OUT/summary.json (fields: docs/summary.md)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from sca_lava.commands._common import positive_int
from sca_lava.pruning.importance import CRITERIA

PROFILES = ("loihi1", "loihi2")


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline end to end on MNIST-5k",
                       description="Dense training, SCA pruning, surgery, netx export, Lava runs, "
                       "deployed accuracy and Loihi budgets; writes OUT/summary.json.")
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--epochs", type=positive_int, default=None, help="dense training epochs (default 8)")
    p.add_argument("--prune-epochs", type=positive_int, default=6, help="SCA fine-tuning epochs")
    p.add_argument("--target-params", type=float, default=0.3,
                   help="kept fraction of the dense parameters (default 0.3)")
    p.add_argument("--criterion", default="sca-layernorm", choices=list(CRITERIA),
                   help="pruning criterion (default sca-layernorm: SCA scores relative to their layer)")
    p.add_argument("--lava-samples", type=positive_int, default=100, help="test samples run in Lava")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)), flush=True)


def lava_check(model, net_path: Path, spikes, labels, progress: bool):
    """Lava run of the exported file, every layer recorded (the budget reuses it)."""
    from sca_lava.deploy.agreement import compare_with_slayer

    agreement, lava = compare_with_slayer(model, str(net_path), spikes, labels, record_all=True,
                                          progress=progress)
    print(f"Lava accuracy on {agreement.samples} test digits: {agreement.lava_accuracy:.4f} "
          f"(SLAYER on the same: {agreement.slayer_accuracy:.4f})")
    print(f"Lava vs SLAYER spike agreement:  {agreement.spike_agreement:.4f} "
          f"({agreement.matching_samples}/{agreement.samples} samples identical at every step)")
    return agreement, lava


def deployed_accuracy(net_path: Path, test_spikes, test_y, lava_spikes, lava_result, progress: bool) -> dict:
    """Fixed-point accuracy on every test digit, cross-checked against the Lava
    run already made on the first samples (every layer, every step)."""
    from sca_lava.deploy.agreement import first_divergence
    from sca_lava.deploy.fixed_point import evaluate_netx, run_fixed_point

    report = evaluate_netx(str(net_path), test_spikes, test_y, progress=progress)
    fixed = run_fixed_point(str(net_path), lava_spikes, record_all=True, progress=False)
    check = first_divergence(fixed.layer_spikes, lava_result.layer_spikes)
    print(f"deployed accuracy on {report.num_samples} digits: {report.accuracy:.4f} "
          f"({report.samples_per_s:.0f} samples/s); cross-check with Lava on {check['samples']} "
          f"samples: {check['mismatching_samples']} mismatches")
    return {"accuracy": report.accuracy, "samples": report.num_samples,
            "samples_per_s": report.samples_per_s, "synops_per_sample": report.synops_per_sample,
            "verified": check["samples"], "mismatches": check["mismatching_samples"]}


def budgets(nets: dict, spikes, out: Path) -> dict:
    """Budget every net on every profile from its recorded Lava run."""
    from sca_lava.atomic import write_json
    from sca_lava.hardware.budget import budget_netx, compare

    result = {}
    for prof in PROFILES:
        per = {name: budget_netx(str(path), prof, spikes, lava=lava) for name, (path, lava) in nets.items()}
        write_json(out / f"budget_{prof}.json", {"dense": per["dense"], "pruned": per["pruned"],
                                                 "comparison": compare(per["dense"], per["pruned"])})
        result[prof] = per
    return result


def no_core_wasted(dense: dict, pruned: dict) -> bool:
    """Per layer: pruned cores <= ceil(dense cores x pruned neurons / dense neurons)."""
    ok = True
    for d, p in zip(dense["layers"], pruned["layers"]):
        if not d.get("neurons"):
            continue
        ok &= p["cores"] <= math.ceil(d["cores"] * p["neurons"] / d["neurons"] - 1e-9)
    return bool(ok)


def run(args) -> int:
    from sca_lava.atomic import write_json
    from sca_lava.data import encode, load_mnist5k
    from sca_lava.models import build_network, default_config
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig, Trainer

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    summary: dict = {}

    section("data")
    data = load_mnist5k(seed=args.seed)
    config = default_config()
    T = config.num_steps
    print(f"MNIST-5k: {len(data.train_x)} train / {len(data.test_x)} test digits; "
          f"input {config.input_shape}, T={T}, encoding rate-regular")
    summary["data"] = {"name": "mnist5k", "train": len(data.train_x), "test": len(data.test_x), "num_steps": T}
    test_spikes = encode(data.test_x, T)
    n = min(args.lava_samples, len(data.test_x))
    lava_spikes, lava_labels = test_spikes[:n], data.test_y[:n]

    section("dense SLAYER training")
    tcfg = TrainConfig(seed=args.seed)
    if args.epochs:
        tcfg.epochs = args.epochs
    trainer = Trainer(build_network(config, seed=args.seed), tcfg)
    trainer.fit(data, checkpoint=out / "dense.pt", progress=progress)
    dense = trainer.model
    summary["dense"] = {"test_accuracy": trainer.history[-1]["test_accuracy"], "epochs": tcfg.epochs,
                        "firing_rates": trainer.history[-1]["firing_rates"]}
    print(f"dense test accuracy (SLAYER, {len(data.test_x)} digits): {summary['dense']['test_accuracy']:.4f}")

    section("dense: netx export + Lava run")
    dense_net = out / "dense.net"
    dense.export_hdf5(dense_net)
    print(f"exported {dense_net}")
    dense_agree, dense_lava = lava_check(dense, dense_net, lava_spikes, lava_labels, progress)

    section(f"{args.criterion} pruning to {args.target_params:.0%} of the parameters + surgery")
    pcfg = PruneConfig(criterion=args.criterion, target_params=args.target_params, seed=args.seed)
    ptcfg = TrainConfig(epochs=args.prune_epochs, seed=args.seed, lr=1e-3)
    small, report = prune_and_shrink(dense, data, pcfg, ptcfg, out_dir=out / "pruned", progress=progress)
    channels = [{"block": c["block"], "type": c["type"], "before": c["before"], "after": c["after"]}
                for c in report["channels_per_layer"]]
    summary["pruned"] = {
        "criterion": args.criterion,
        "test_accuracy": report["test_accuracy"],
        "param_fraction": report["param_fraction"],
        "synops_fraction": report["synops_fraction"],
        "neuron_fraction": report["neuron_fraction"],
        "params": report["params"], "dense_params": report["dense_params"],
        "channels_per_layer": channels,
        "surgery_exact": report["surgery_exact"],
    }
    print("channels kept: " + ", ".join(f"{c['type']}{c['block']} {c['after']}/{c['before']}" for c in channels))
    print(f"pruned test accuracy {report['test_accuracy']:.4f} (dense {summary['dense']['test_accuracy']:.4f}); "
          f"params {report['param_fraction']:.3f} of dense; SynOps {report['synops_fraction']:.3f} of dense")

    section("pruned: netx export + Lava run")
    pruned_net = out / "pruned" / "pruned.net"
    print(f"exported {pruned_net}")
    pruned_agree, pruned_lava = lava_check(small, pruned_net, lava_spikes, lava_labels, progress)
    summary["lava"] = {
        "samples": dense_agree.samples,
        "accuracy": dense_agree.lava_accuracy,
        "spike_agreement": dense_agree.spike_agreement,
        "seconds": dense_agree.lava_seconds,
        "pruned_accuracy": pruned_agree.lava_accuracy,
        "pruned_spike_agreement": pruned_agree.spike_agreement,
        "pruned_seconds": pruned_agree.lava_seconds,
    }

    section("deployed (fixed-point) accuracy on all test digits")
    dep = {name: deployed_accuracy(path, test_spikes, data.test_y, lava_spikes, lava, progress)
           for name, path, lava in (("dense", dense_net, dense_lava), ("pruned", pruned_net, pruned_lava))}
    summary["deployed"] = {
        "dense": {k: dep["dense"][k] for k in ("accuracy", "samples", "samples_per_s")},
        "pruned": {k: dep["pruned"][k] for k in ("accuracy", "samples", "samples_per_s")},
        "verified_samples": dep["dense"]["verified"] + dep["pruned"]["verified"],
        "mismatches": dep["dense"]["mismatches"] + dep["pruned"]["mismatches"],
    }

    section("Loihi budgets (per inference, from the Lava runs)")
    per = budgets({"dense": (dense_net, dense_lava), "pruned": (pruned_net, pruned_lava)}, lava_spikes, out)
    summary["budget"] = {}
    header = f"{'profile':8s} {'model':7s} {'cores':>6s} {'chips':>6s} {'dyn. energy uJ':>15s} {'static uJ':>10s} {'latency us':>11s}"
    print(header)
    for prof, res in per.items():
        entry = {}
        for name in ("dense", "pruned"):
            b = res[name]
            entry[name] = {k: b[k] for k in ("cores", "chips", "dynamic_energy_uj", "static_energy_uj", "latency_us")}
            print(f"{prof:8s} {name:7s} {b['cores']:6d} {b['chips']:6d} {b['dynamic_energy_uj']:15.3f} "
                  f"{b['static_energy_uj']:10.3f} {b['latency_us']:11.1f}")
        d, p = entry["dense"], entry["pruned"]
        entry["ratio"] = {k: (p[k] / d[k] if d[k] else None) for k in d}
        entry["no_core_wasted"] = no_core_wasted(res["dense"], res["pruned"])
        summary["budget"][prof] = entry
    for prof, e in summary["budget"].items():
        r = e["ratio"]
        print(f"{prof}: pruned/dense cores {r['cores']:.2f}, dynamic energy {r['dynamic_energy_uj']:.2f}, "
              f"latency {r['latency_us']:.2f}; no core wasted: {e['no_core_wasted']}")

    summary["timing"] = {"demo_seconds": time.perf_counter() - start}
    write_json(out / "summary.json", summary)
    section("summary")
    s = summary
    rows = [
        ("dense.test_accuracy", f"{s['dense']['test_accuracy']:.4f}"),
        ("pruned.test_accuracy", f"{s['pruned']['test_accuracy']:.4f}"),
        ("pruned.param_fraction", f"{s['pruned']['param_fraction']:.3f}"),
        ("pruned.synops_fraction", f"{s['pruned']['synops_fraction']:.3f}"),
        ("lava.samples", f"{s['lava']['samples']}"),
        ("lava.accuracy", f"{s['lava']['accuracy']:.4f}"),
        ("lava.spike_agreement", f"{s['lava']['spike_agreement']:.4f}"),
        ("lava.pruned_spike_agreement", f"{s['lava']['pruned_spike_agreement']:.4f}"),
        ("deployed.dense.accuracy", f"{s['deployed']['dense']['accuracy']:.4f}"),
        ("deployed.pruned.accuracy", f"{s['deployed']['pruned']['accuracy']:.4f}"),
        ("deployed.mismatches", f"{s['deployed']['mismatches']} of {s['deployed']['verified_samples']} verified"),
    ]
    for prof in PROFILES:
        e = s["budget"][prof]
        rows.append((f"budget.{prof}.cores", f"{e['dense']['cores']} -> {e['pruned']['cores']}"))
        rows.append((f"budget.{prof}.dynamic_energy_uj",
                     f"{e['dense']['dynamic_energy_uj']:.3f} -> {e['pruned']['dynamic_energy_uj']:.3f}"))
        rows.append((f"budget.{prof}.latency_us", f"{e['dense']['latency_us']:.1f} -> {e['pruned']['latency_us']:.1f}"))
    rows.append(("timing.demo_seconds", f"{s['timing']['demo_seconds']:.0f}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:{width}s}  {v}")
    print(f"written: {out / 'summary.json'}")
    return 0
