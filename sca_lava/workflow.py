"""The end-to-end pipeline as a library call (``sca-lava demo`` and notebook 01).

dense SLAYER training -> netx export -> Lava run (spike agreement with SLAYER
and an every-layer cross-check of the evaluator) -> SCA prune-and-regrow
fine-tuning under a deployment budget -> surgery -> pruned export -> Lava run
-> deployed fixed-point accuracy on all test digits -> Loihi 1 / Loihi 2
budgets from evaluator activity, dense vs pruned.

Lava is the reference but runs one sample at a time on the CPU, so it only
checks the first ``lava_samples`` digits; accuracy and activity for the budget
come from the bit-exact fixed-point evaluator. Every stage is timed
(:class:`Stages`); the figures go to ``OUT/summary.json`` (docs/summary.md).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sca_lava.errors import ScaLavaError
from sca_lava.pruning.cost import NEEDS_PROFILE, parse_budget

PROFILES = ("loihi1", "loihi2")

#: per network: dense training (epochs, Adam learning rate, shift augmentation), the pruning
#: fine-tune (epochs, learning rate, hidden-layer firing-rate floor: TrainConfig.rate_floor,
#: distillation weight: TrainConfig.distill) and how many test digits Lava runs
RECIPES = {
    "mnist_vgg": {"epochs": 13, "lr": 5e-3, "shift": 1, "prune_epochs": 8, "prune_lr": 3e-3, "rate_floor": 0.02,
                  "distill": 0.0, "lava_samples": 10},
    "mnist_small_dense": {"epochs": 8, "lr": 3e-3, "shift": 0, "prune_epochs": 6, "prune_lr": 1e-3,
                          "rate_floor": 0.0, "distill": 0.0, "lava_samples": 10},
    "tiny": {"epochs": 3, "lr": 3e-3, "shift": 0, "prune_epochs": 3, "prune_lr": 1e-3, "rate_floor": 0.0,
             "distill": 0.0, "lava_samples": 5},
}


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`; ``None`` takes the network's recipe."""

    out: str = "runs/demo"
    arch: str = "mnist_vgg"
    epochs: int | None = None
    lr: float | None = None
    prune_epochs: int | None = None
    criterion: str = "sca-drive"  # SCA with the depolarisation score (docs/pruning.md: why not |V| here)
    budget: str = "energy=0.3"
    profile: str = "loihi2"
    lava_samples: int | None = None
    shift: int | None = None
    rate_floor: float | None = None
    prune_lr: float | None = None
    distill: float | None = None
    budget_samples: int = 100
    train_samples: int | None = None
    test_samples: int | None = None
    batch_size: int = 32
    seed: int = 0  # weights and batch order
    split_seed: int = 0  # the mnist5k train/test split (recorded in the input contract), apart from seed
    device: str = "auto"  # training and the evaluator; export, surgery and Lava stay on the CPU
    resume: bool = False  # continue from OUT/dense.pt and OUT/pruned/masked.pt when present
    progress: bool = True

    def recipe(self, key: str):
        value = getattr(self, key)
        return RECIPES.get(self.arch, RECIPES["mnist_vgg"])[key] if value is None else value


class Stages:
    """Wall time per named stage; each stage prints a section title and, at its
    end, its duration."""

    def __init__(self, log=print):
        self.seconds: dict[str, float] = {}
        self.log = log

    @contextmanager
    def __call__(self, name: str, title: str):
        if self.log:
            self.log(f"\n== {title} " + "=" * max(0, 66 - len(title)))
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            if self.log:
                self.log(f"[stage {name}: {self.seconds[name]:.1f} s]")


def synapse_counts(model) -> dict[str, int]:
    """Synaptic weights of the conv (pools included, as deployed) and the
    dense layers of a lava-dl network (or its traced graph)."""
    from sca_lava.models.graph import as_graph

    counts = {"conv": 0, "dense": 0}
    for g in as_graph(model).synaptic:
        counts["dense" if g.kind == "dense" else "conv"] += g.params(g.out, g.in_channels)
    return counts


def conv_synapse_fraction(model) -> float:
    c = synapse_counts(model)
    return c["conv"] / (c["conv"] + c["dense"])


def help_seconds() -> float:
    """Wall time of ``sca-lava --help`` in a fresh interpreter."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sca_lava.cli", "--help"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def lava_check(model, net_path: Path, spikes, labels, progress: bool, log=print, spec=None):
    """Lava run of the exported file on the first digits, every layer recorded:
    output spikes against SLAYER's, every layer against the evaluator's
    (``spec``: the file already read; else it is read here, once)."""
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.measure import measure
    from sca_lava.netx.reader import read_netx

    spec = spec if spec is not None else read_netx(net_path)
    agreement, lava = compare_with_slayer(model, str(net_path), spikes, labels, record_all=True,
                                          progress=progress, spec=spec)
    check = measure(str(net_path), spikes, spec=spec, lava=lava).extra["verify"]
    if log:
        log(f"Lava accuracy on {agreement.samples} test digits: {agreement.lava_accuracy:.4f} "
            f"(SLAYER on the same: {agreement.slayer_accuracy:.4f}); {agreement.lava_seconds:.1f} s in Lava")
        log(f"Lava vs SLAYER spike agreement:  {agreement.spike_agreement:.4f} "
            f"({agreement.matching_samples}/{agreement.samples} samples identical at every step)")
        log(f"evaluator vs Lava, every layer and step: {check['mismatching_samples']} of "
            f"{check['samples']} samples differ")
    return agreement, check


def deployed_accuracy(net_path: Path, test_spikes, test_y, budget_samples: int, progress: bool, log=print,
                      device: str | None = None, spec=None):
    """Fixed-point accuracy on every test digit, and the evaluator's spike
    record of the first ``budget_samples`` (every layer) for the budget
    (``spec``: the file already read; else it is read here, once)."""
    from sca_lava.deploy.evaluate import evaluate_netx
    from sca_lava.deploy.measure import measure
    from sca_lava.netx.reader import read_netx

    spec = spec if spec is not None else read_netx(net_path)
    report = evaluate_netx(str(net_path), test_spikes, test_y, progress=progress, device=device, spec=spec)
    record = measure(str(net_path), test_spikes[:budget_samples], spec=spec)
    if log:
        log(f"deployed accuracy on {report.num_samples} digits: {report.accuracy:.4f} "
            f"({report.samples_per_s:.0f} samples/s)")
    return {"accuracy": report.accuracy, "samples": report.num_samples,
            "samples_per_s": report.samples_per_s, "synops_per_sample": report.synops_per_sample}, record


def budgets(nets: dict, out: Path | None) -> dict:
    """Budget every net on every profile from its evaluator record
    (``nets``: name -> (netx path, SpikeRecord))."""
    from sca_lava.atomic import write_json
    from sca_lava.hardware.budget import budget_netx, compare

    result = {}
    for prof in PROFILES:
        per = {name: budget_netx(str(path), prof, record=rec) for name, (path, rec) in nets.items()}
        if out is not None:
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


def resume_dense(trainer, ckpt: Path, log=print) -> None:
    """Continue the dense run from its checkpoint, refusing one of another
    network or training recipe (the demo's figures must be of this run)."""
    from dataclasses import asdict

    from sca_lava.training import load_checkpoint

    state = load_checkpoint(ckpt)
    if state.get("config") != trainer.model.config.to_dict() or state.get("structure"):
        raise ScaLavaError(f"--resume: {ckpt} holds another network; use another --out or drop --resume")
    saved, now = state.get("train_config", {}), asdict(trainer.cfg)
    diff = [k for k in ("epochs", "seed", "shift", "batch_size", "lr", "encoding") if saved.get(k, now[k]) != now[k]]
    if diff:
        raise ScaLavaError(f"--resume: {ckpt} was trained with other settings ({', '.join(diff)})")
    trainer.load(state)
    if log:
        log(f"resumed from {ckpt} after epoch {trainer.epoch}")


def prune_config(cfg: DemoConfig):
    """The PruneConfig of the demo's budget (energy and cores on ``cfg.profile``)."""
    from sca_lava.pruning import PruneConfig

    kind, _ = parse_budget(cfg.budget)
    pcfg = PruneConfig(criterion=cfg.criterion, budget=cfg.budget,
                       profile=cfg.profile if kind in NEEDS_PROFILE else None, seed=cfg.seed)
    pcfg.validate()
    return pcfg


def run_demo(cfg: DemoConfig, log=print) -> dict:
    """Run the whole pipeline into ``cfg.out``; returns the summary (also
    written to OUT/summary.json)."""
    from sca_lava.atomic import write_json
    from sca_lava.data import encode, load_mnist5k
    from sca_lava.device import resolve_device
    from sca_lava.models import build_network
    from sca_lava.models.config import named_config
    from sca_lava.netx.reader import read_netx
    from sca_lava.pruning import prune_and_shrink
    from sca_lava.training import TrainConfig, Trainer
    from sca_lava.training.distributed import DistContext

    start = time.perf_counter()
    log = log or (lambda _msg: None)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stage = Stages(log)
    summary: dict = {}
    config = named_config(cfg.arch)
    pcfg = prune_config(cfg)  # a bad budget fails before any training
    dist = DistContext(device=resolve_device(cfg.device))  # one process (torchrun scales train/prune)

    with stage("data", "data"):
        data = load_mnist5k(seed=cfg.split_seed).subset(train=cfg.train_samples, test=cfg.test_samples)
        T = config.num_steps
        test_spikes = encode(data.test_x, T)
        n = min(cfg.recipe("lava_samples"), len(data.test_x))
        lava_spikes, lava_labels = test_spikes[:n], data.test_y[:n]
        summary["data"] = {"name": "mnist5k", "train": len(data.train_x), "test": len(data.test_x),
                           "num_steps": T}
        log(f"MNIST-5k: {len(data.train_x)} train / {len(data.test_x)} test digits; "
            f"input {config.input_shape}, T={T}, encoding rate-regular; network {cfg.arch}")

    with stage("train_dense", "dense SLAYER training"):
        tcfg = TrainConfig(seed=cfg.seed, epochs=cfg.recipe("epochs"), lr=cfg.recipe("lr"), shift=cfg.recipe("shift"),
                           batch_size=cfg.batch_size)
        trainer = Trainer(build_network(config, seed=cfg.seed), tcfg, dist=dist)
        if cfg.resume and (out / "dense.pt").exists():
            resume_dense(trainer, out / "dense.pt", log)
        trainer.fit(data, checkpoint=out / "dense.pt", progress=cfg.progress, log=log)
        dense = trainer.model.cpu()
        dense_net = out / "dense.net"
        dense.export_hdf5(dense_net)
        specs = {"dense": read_netx(dense_net)}  # each exported file is read once, here
        counts = synapse_counts(dense)
        summary["dense"] = {"test_accuracy": trainer.history[-1]["test_accuracy"], "epochs": tcfg.epochs, "lr": tcfg.lr,
                            "arch": cfg.arch, "synapses": counts,
                            "conv_synapse_fraction": counts["conv"] / (counts["conv"] + counts["dense"]),
                            "firing_rates": trainer.history[-1]["firing_rates"]}
        log(f"dense test accuracy (SLAYER, {len(data.test_x)} digits): {summary['dense']['test_accuracy']:.4f}; "
            f"{summary['dense']['conv_synapse_fraction']:.1%} of the synapses in conv layers; exported {dense_net}")

    with stage("lava_dense", f"dense: Lava run of {n} test digits"):
        dense_agree, dense_check = lava_check(dense, dense_net, lava_spikes, lava_labels, cfg.progress, log,
                                             spec=specs["dense"])

    with stage("prune", f"{cfg.criterion} pruning to {cfg.budget} ({cfg.profile}) + surgery"):
        ptcfg = TrainConfig(epochs=cfg.recipe("prune_epochs"), seed=cfg.seed, lr=cfg.recipe("prune_lr"),
                            batch_size=cfg.batch_size, rate_floor=cfg.recipe("rate_floor"),
                            distill=cfg.recipe("distill"))
        small, report = prune_and_shrink(dense, data, pcfg, ptcfg, out_dir=out / "pruned", progress=cfg.progress,
                                         resume=cfg.resume, log=log, dist=dist)
        kind, value = parse_budget(cfg.budget)
        channels = [{"block": c["block"], "name": c["name"], "type": c["type"], "before": c["before"],
                     "after": c["after"]} for c in report["channels_per_layer"]]
        summary["pruned"] = {
            "criterion": cfg.criterion,
            "ranking": pcfg.effective_ranking,
            "rate_floor": ptcfg.rate_floor,
            "lr": ptcfg.lr,
            "distill": ptcfg.distill,
            "budget": {"kind": kind, "value": value, "profile": cfg.profile if kind in NEEDS_PROFILE else None},
            "test_accuracy": report["test_accuracy"],
            "param_fraction": report["param_fraction"],
            "synops_fraction": report["synops_fraction"],
            "neuron_fraction": report["neuron_fraction"],
            "params": report["params"], "dense_params": report["dense_params"],
            "channels_per_layer": channels,
            "surgery_exact": report["surgery_exact"],
        }
        pruned_net = out / "pruned" / "pruned.net"
        specs["pruned"] = read_netx(pruned_net)
        log("channels kept: " + ", ".join(f"{c['name']} {c['after']}/{c['before']}" for c in channels))
        log(f"pruned test accuracy {report['test_accuracy']:.4f} (dense {summary['dense']['test_accuracy']:.4f}); "
            f"params {report['param_fraction']:.3f} of dense; SynOps {report['synops_fraction']:.3f} of dense; "
            f"exported {pruned_net}")

    with stage("lava_pruned", f"pruned: Lava run of {n} test digits"):
        pruned_agree, pruned_check = lava_check(small, pruned_net, lava_spikes, lava_labels, cfg.progress, log,
                                                spec=specs["pruned"])
    summary["lava"] = {
        "samples": dense_agree.samples,
        "accuracy": dense_agree.lava_accuracy,
        "spike_agreement": dense_agree.spike_agreement,
        "seconds": dense_agree.lava_seconds,
        "pruned_accuracy": pruned_agree.lava_accuracy,
        "pruned_spike_agreement": pruned_agree.spike_agreement,
        "pruned_seconds": pruned_agree.lava_seconds,
    }

    with stage("evaluate", "deployed (fixed-point) accuracy on all test digits"):
        dep, records = {}, {}
        for name, path in (("dense", dense_net), ("pruned", pruned_net)):
            log(f"{name}:")
            dep[name], records[name] = deployed_accuracy(path, test_spikes, data.test_y, cfg.budget_samples,
                                                          cfg.progress, log, dist.device, spec=specs[name])
        summary["deployed"] = {
            "dense": {k: dep["dense"][k] for k in ("accuracy", "samples", "samples_per_s")},
            "pruned": {k: dep["pruned"][k] for k in ("accuracy", "samples", "samples_per_s")},
            "verified_samples": dense_check["samples"] + pruned_check["samples"],
            "mismatches": dense_check["mismatching_samples"] + pruned_check["mismatching_samples"],
        }

    with stage("budget", f"Loihi budgets (per inference, evaluator activity of {cfg.budget_samples} digits)"):
        per = budgets({name: ((dense_net, pruned_net)[i], records[name])
                       for i, name in enumerate(("dense", "pruned"))}, out)
        summary["budget"] = budget_table(per, log)
        summary["budget"]["samples"] = min(cfg.budget_samples, len(data.test_x))
    b = summary["budget"]
    summary["pruned"]["energy_fraction"] = b["loihi2"]["ratio"]["dynamic_energy_uj"]  # Loihi 2's, whatever the budget
    summary["pruned"]["total_energy_fraction"] = b["loihi2"]["ratio"]["total_energy_uj"]  # dynamic + static
    summary["pruned"]["budget_cost_fraction"] = report["budget"]["cost_fraction"]  # what the pruner enforced
    summary["pruned"]["cores_fraction"] = {p: b[p]["ratio"]["cores"] for p in PROFILES}

    with stage("help", "sca-lava --help"):
        summary["timing"] = {"help_seconds": help_seconds()}
    summary["timing"]["stages"] = dict(stage.seconds)
    summary["timing"]["demo_seconds"] = time.perf_counter() - start
    write_json(out / "summary.json", summary)
    print_summary(summary, out, log)
    return summary


def budget_table(per: dict, log=print) -> dict:
    """Print dense vs pruned budgets per profile; return the summary entries."""
    log(f"{'profile':8s} {'model':7s} {'cores':>6s} {'chips':>6s} {'dyn. energy uJ':>15s} "
        f"{'static uJ':>10s} {'latency us':>11s}")
    result = {}
    for prof, res in per.items():
        entry = {}
        for name in ("dense", "pruned"):
            b = res[name]
            entry[name] = {k: b[k] for k in ("cores", "chips", "dynamic_energy_uj", "static_energy_uj", "latency_us")}
            entry[name]["total_energy_uj"] = b["dynamic_energy_uj"] + b["static_energy_uj"]
            log(f"{prof:8s} {name:7s} {b['cores']:6d} {b['chips']:6d} {b['dynamic_energy_uj']:15.3f} "
                f"{b['static_energy_uj']:10.3f} {b['latency_us']:11.1f}")
        d, p = entry["dense"], entry["pruned"]
        entry["ratio"] = {k: (p[k] / d[k] if d[k] else None) for k in d}
        entry["no_core_wasted"] = no_core_wasted(res["dense"], res["pruned"])
        result[prof] = entry
    for prof, e in result.items():
        r = e["ratio"]
        log(f"{prof}: pruned/dense cores {r['cores']:.2f}, dynamic energy {r['dynamic_energy_uj']:.2f}, "
            f"total energy (dynamic + static) {r['total_energy_uj']:.2f}, latency {r['latency_us']:.2f}; "
            f"no core wasted: {e['no_core_wasted']}")
    return result


def budget_label(b: dict) -> str:
    """``energy=0.3 on loihi2`` from a summary's budget entry."""
    return f"{b['kind']}={b['value']:g}" + (f" on {b['profile']}" if b.get("profile") else "")


def print_summary(s: dict, out: Path, log=print) -> None:
    if not log:
        return
    log("\n== summary " + "=" * 58)
    rows = [
        ("dense.test_accuracy", f"{s['dense']['test_accuracy']:.4f}"),
        ("dense.conv_synapse_fraction", f"{s['dense']['conv_synapse_fraction']:.3f}"),
        ("pruned.criterion", s["pruned"]["criterion"]),
        ("pruned.budget", f"{s['pruned']['budget']['kind']}={s['pruned']['budget']['value']}"),
        ("pruned.test_accuracy", f"{s['pruned']['test_accuracy']:.4f}"),
        ("pruned.budget_cost_fraction", f"{s['pruned']['budget_cost_fraction']:.3f} ({budget_label(s['pruned']['budget'])}"
                                        ", the pruner's own measurement)"),
        ("pruned.energy_fraction", f"{s['pruned']['energy_fraction']:.3f} (Loihi 2 dynamic, budget stage)"),
        ("pruned.total_energy_fraction", f"{s['pruned']['total_energy_fraction']:.3f} (Loihi 2 dynamic + static)"),
        ("pruned.cores_fraction.loihi1", f"{s['pruned']['cores_fraction']['loihi1']:.3f}"),
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
    for name, sec in s["timing"]["stages"].items():
        rows.append((f"timing.stages.{name}", f"{sec:.1f} s"))
    rows.append(("timing.help_seconds", f"{s['timing']['help_seconds']:.2f}"))
    rows.append(("timing.demo_seconds", f"{s['timing']['demo_seconds']:.0f}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        log(f"{k:{width}s}  {v}")
    log(f"written: {out / 'summary.json'}")
