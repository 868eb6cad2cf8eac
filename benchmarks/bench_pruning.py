"""Pruning criteria on the accuracy-vs-deployment-cost frontier (issue 9).

Every criterion, fine-tuned from the same dense checkpoint per seed, at
Loihi 2 dynamic-energy budgets (default 50 / 30 / 15 % of the dense net) and
at equal parameter budgets; each pruned net is measured the way it deploys:
SLAYER test accuracy, parameters, SynOps, Loihi 1 / Loihi 2 cores and Loihi 2
dynamic energy per inference (activity from the bit-exact fixed-point
evaluator on the first --budget-samples test digits). Prints a table and
writes Pareto plots (accuracy vs energy, vs cores, vs params) as PNG.

Resumable: every finished run is one JSON file under OUT/rows/ (skipped when
present) and the dense nets are checkpoints OUT/dense_seed<S>.pt, so criteria,
budgets or seeds can run in separate invocations and a stopped run continues
where it was. ``--report-only`` rebuilds table and plots from OUT/rows.

Full setting (hours on 2 CPU cores):
    .venv/bin/python benchmarks/bench_pruning.py --out runs/bench_pruning
A slice, e.g. one criterion at the 30 % energy budget, seed 0:
    .venv/bin/python benchmarks/bench_pruning.py --criteria sca --energy 0.3 --params --seeds 0
Bookkeeping overhead of SCA on a training step only:
    .venv/bin/python benchmarks/bench_pruning.py --overhead-only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sca_lava.atomic import write_json, write_text
from sca_lava.commands._common import positive_int
from sca_lava.configfile import check_finite, load_structured, validate
from sca_lava.data import encode, load_mnist5k
from sca_lava.errors import ScaLavaError
from sca_lava.models import build_network
from sca_lava.models.config import ARCHS, DEFAULT_ARCH, named_config
from sca_lava.models.graph import as_graph
from sca_lava.plotting import new_figure, save_figure
from sca_lava.pruning import CRITERIA, PruneConfig, SCAPruner, prune_and_shrink
from sca_lava.pruning.report import measure
from sca_lava.training import TrainConfig, Trainer, load_checkpoint
from sca_lava.workflow import RECIPES, synapse_counts

PROFILES = ("loihi1", "loihi2")


def overhead(config, steps: int = 20, batch: int = 32, repeats: int = 3) -> dict:
    """Median time of a training step (forward, loss, backward, Adam) on a plain
    net vs the same net with SCA gates and activity taps installed."""
    from sca_lava._lava_dl import slayer as _slayer

    slayer = _slayer()
    data = load_mnist5k(0)
    x = torch.from_numpy(encode(data.train_x[:batch], config.num_steps)).float()
    y = torch.from_numpy(data.train_y[:batch])
    loss_fn = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="sum")

    def make(with_sca: bool):
        model = build_network(config, 0)
        graph = as_graph(model)
        if with_sca:
            SCAPruner(PruneConfig()).attach(graph, 3)
        model.train()
        return graph, torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(graph, opt):
        out = graph.outputs(x)[-1]
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


# --- measuring one net the way it deploys -------------------------------------

def deployment_cost(model, test_spikes: np.ndarray) -> dict:
    """Loihi 1 / Loihi 2 cores and dynamic energy per inference of ``model``'s
    netx export, activity from the fixed-point evaluator on ``test_spikes``."""
    from sca_lava.deploy.measure import measure
    from sca_lava.hardware.budget import budget_netx

    with tempfile.TemporaryDirectory(prefix="bench_pruning_") as tmp:
        path = Path(tmp) / "net.net"
        model.export_hdf5(path)
        record = measure(str(path), test_spikes)
        out = {}
        for prof in PROFILES:
            b = budget_netx(str(path), prof, record=record)
            out[prof] = {"cores": b["cores"], "dynamic_energy_uj": b["dynamic_energy_uj"]}
    return out


def prune_config(criterion: str, kind: str, value: float, seed: int, cost_weight: float = 0.0,
                 **options) -> PruneConfig:
    """The PruneConfig of one budget (``kind``: params or energy, the latter on
    Loihi 2; spikes are priced in the loss only where they are the budget's
    currency); ``options``: other PruneConfig fields, None for the default."""
    return PruneConfig(criterion=criterion, budget=f"{kind}={value}", profile="loihi2" if kind == "energy" else None,
                       seed=seed, cost_weight=cost_weight if kind == "energy" else 0.0,
                       **{k: v for k, v in options.items() if v is not None})


def energy_fraction(row: dict, dense: dict) -> float:
    """A net's Loihi 2 dynamic energy per inference as a fraction of its seed's dense net's."""
    return row["cost"]["loihi2"]["dynamic_energy_uj"] / dense["cost"]["loihi2"]["dynamic_energy_uj"]


def row_path(out: Path, seed: int, method: str, kind: str, value: float) -> Path:
    return out / "rows" / f"seed{seed}" / f"{method}@{kind}={value:g}.json"


def shaped(arch: str, channels: list[int] | None = None):
    """``arch``'s config, its conv layers' widths set to ``channels`` (None:
    the arch's own). One place for bench_pruning's wider or narrower dense
    nets and bench_scratch_shape's pruned shapes trained from scratch."""
    cfg = named_config(arch)
    if channels is None:
        return cfg
    convs = [ly for ly in cfg.layers if ly["type"] == "conv"]
    if len(channels) != len(convs):
        raise ScaLavaError(f"--channels: {arch} has {len(convs)} conv layers, got {len(channels)} widths")
    if min(channels) < 1:
        raise ScaLavaError(f"--channels: every width must be at least 1, got {min(channels)}")
    for ly, c in zip(convs, channels):
        ly["out"] = int(c)
    cfg.validate()
    return cfg


def dense_recipe(arch: str, epochs: int | None = None, lr: float | None = None,
                 shift: int | None = None) -> tuple[int, float, int]:
    """Dense training epochs, learning rate and shift: the given ones, else
    the network's recipe (``workflow.RECIPES``). One place, so a shape trained
    from scratch (bench_scratch_shape) is trained like the dense nets here."""
    recipe = RECIPES.get(arch, {})
    return (epochs or recipe.get("epochs", 8), recipe.get("lr", 3e-3) if lr is None else lr,
            recipe.get("shift", 0) if shift is None else shift)


def dense_net(args, config, data, seed: int):
    """Train (or resume, or load) the dense net of ``seed``; checkpoint
    OUT/dense_seed<S>.pt after every epoch."""
    ckpt = Path(args.out) / f"dense_seed{seed}.pt"
    tcfg = TrainConfig(epochs=args.epochs, seed=seed, shift=args.shift, lr=args.lr)
    trainer = Trainer(build_network(config, seed), tcfg)
    if ckpt.exists():
        trainer.load(load_checkpoint(ckpt))
    if trainer.epoch < args.epochs:
        trainer.fit(data, checkpoint=ckpt, progress=False,
                    log=lambda m: print(f"seed {seed} dense {m}", flush=True))
    return trainer.model


def run_grid(args) -> None:
    config = shaped(args.arch, args.channels)
    out = Path(args.out)
    budgets = [("energy", v) for v in args.energy] + [("params", v) for v in args.params]
    check_settings(read_rows(out), out / "rows", wanted=settings(args, dense=False))
    for seed in args.seeds:
        data = load_mnist5k(seed).subset(train=args.train_samples, test=args.test_samples)
        test_spikes = encode(data.test_x[:args.budget_samples], config.num_steps)
        dense_file = row_path(out, seed, "dense", "params", 1.0)
        pending = [(c, k, v) for k, v in budgets for c in args.criteria if not row_path(out, seed, c, k, v).exists()]
        if not pending and dense_file.exists():
            continue
        t0 = time.time()
        dense = dense_net(args, config, data, seed)
        if not dense_file.exists():
            m = measure(as_graph(dense), data.test_x, data.test_y, config.num_steps)
            counts = synapse_counts(dense)
            row = {"method": "dense", "kind": "params", "budget": 1.0, "seed": seed, "accuracy": m["accuracy"],
                   "params": sum(counts.values()), "synops": m["synops"],
                   "cost": deployment_cost(dense, test_spikes), "seconds": time.time() - t0,
                   "settings": settings(args, dense=True)}
            write_json(dense_file, row)
            print(f"seed {seed} dense: acc {row['accuracy']:.4f}", flush=True)
        ref = read_row(dense_file)
        ptcfg = TrainConfig(epochs=args.prune_epochs, seed=seed, lr=args.prune_lr, rate_floor=args.rate_floor,
                            distill=args.distill)
        for crit, kind, value in pending:
            t0 = time.time()
            small, rep = prune_and_shrink(dense, data, prune_config(crit, kind, value, seed, args.cost_weight, ramp_epochs=args.ramp_epochs,
                                                       regrow=args.regrow), ptcfg,
                                          dense_reference=dense, log=None)
            cost = deployment_cost(small, test_spikes)
            row = {"method": crit, "kind": kind, "budget": value, "seed": seed, "accuracy": rep["test_accuracy"],
                   "params": rep["params"], "param_fraction": rep["param_fraction"],
                   "synops_fraction": rep["synops_fraction"], "cost": cost,
                   "energy_fraction": energy_fraction({"cost": cost}, ref),
                   "channels": [c["after"] for c in rep["channels_per_layer"]],
                   "pruner_cost_fraction": rep["budget"]["cost_fraction"], "seconds": time.time() - t0,
                   "settings": settings(args, dense=False)}
            write_json(row_path(out, seed, crit, kind, value), row)
            print(f"seed {seed} {crit:>12s} @ {kind}={value:g}: acc {row['accuracy']:.4f} params "
                  f"{row['param_fraction']:.3f} synops {row['synops_fraction']:.3f} energy "
                  f"{row['energy_fraction']:.3f} cores L1 {cost['loihi1']['cores']} L2 {cost['loihi2']['cores']} "
                  f"channels {row['channels']} ({row['seconds']:.0f} s)", flush=True)


# --- report -------------------------------------------------------------------

#: what a row depends on, recorded in it: rows made with other settings must not
#: share a table (a longer fine-tune would pass for the recipe). Dense rows carry
#: the dense keys only, so one dense net serves every pruning variant of a seed.
DENSE_KEYS = ("arch", "channels", "epochs", "lr", "shift", "train_samples", "test_samples", "budget_samples")
PRUNE_KEYS = ("prune_epochs", "prune_lr", "rate_floor", "distill", "ramp_epochs", "regrow", "cost_weight")

_COST = {"type": "object", "required": ["cores", "dynamic_energy_uj"],
         "properties": {"cores": {"type": "integer", "minimum": 0}, "dynamic_energy_uj": {"type": "number", "exclusiveMinimum": 0}}}
ROW_SCHEMA = {
    "type": "object",
    "required": ["method", "kind", "budget", "seed", "accuracy", "params", "cost"],
    "properties": {
        "method": {"type": "string", "enum": ["dense", *CRITERIA]},
        "kind": {"type": "string", "enum": ["params", "energy"]},
        "budget": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "seed": {"type": "integer", "minimum": 0},
        "accuracy": {"type": "number", "minimum": 0, "maximum": 1},
        "params": {"type": "integer", "minimum": 1},
        "synops_fraction": {"type": "number", "minimum": 0},
        "cost": {"type": "object", "required": list(PROFILES), "properties": {p: _COST for p in PROFILES}},
        "settings": {"type": "object", "additionalProperties": {"type": ["number", "string", "null"]}},
    },
}


def settings(args, dense: bool) -> dict:
    """The options a row was made with (see DENSE_KEYS / PRUNE_KEYS);
    ``channels`` as a string ("24-48-48-96-96"), None for the arch's own."""
    values = {k: getattr(args, k) for k in DENSE_KEYS + (() if dense else PRUNE_KEYS)}
    if values["channels"] is not None:
        values["channels"] = "-".join(str(c) for c in values["channels"])
    return values


def read_row(path: Path) -> dict:
    """One row file, validated completely: a one-line error names the file."""
    row = load_structured(path, "benchmark row", max_bytes=1 << 16)
    validate(row, ROW_SCHEMA, str(path))
    check_finite(row, str(path))
    seed, method = row["seed"], row["method"]
    if path != row_path(path.parents[2], seed, method, row["kind"], row["budget"]):
        raise ScaLavaError(f"{path}: holds {method}@{row['kind']}={row['budget']:g} of seed {seed}, "
                           f"not what its name says")
    return row


def read_rows(out: Path) -> list[dict]:
    """Every row file under OUT/rows, validated."""
    return [read_row(p) for p in sorted((out / "rows").glob("seed*/*.json"))]


def check_settings(rows: list[dict], where: Path, wanted: dict | None = None) -> None:
    """All rows (and ``wanted``, this invocation's) agree on every recorded
    setting; rows from before settings were recorded are not checked, and a
    key a row's settings lack (recorded before the key existed) is its
    default, None (so a wider net cannot join rows of the arch's own)."""
    seen: dict[str, tuple] = {}
    for r in rows + ([{"method": "this run", "settings": wanted, "seed": "-"}] if wanted else []):
        if not r.get("settings"):
            continue
        keys = DENSE_KEYS + (() if r["method"] == "dense" else PRUNE_KEYS)
        for k, v in {**{k: None for k in keys}, **r["settings"]}.items():
            if k in seen and seen[k][0] != v:
                raise ScaLavaError(f"{where}: rows made with {k}={seen[k][0]} ({seen[k][1]}) and {k}={v} "
                                   f"({r['method']}, seed {r['seed']}) cannot share a table: use another --out")
            seen.setdefault(k, (v, f"{r['method']}, seed {r['seed']}"))


def load_rows(out: Path) -> list[dict]:
    """Every finished run under OUT/rows, with fractions of its seed's dense net."""
    rows = read_rows(out)
    check_settings(rows, out / "rows")
    dense = {r["seed"]: r for r in rows if r["method"] == "dense"}
    for r in rows:
        d = dense.get(r["seed"])
        if d is None:
            continue
        r["param_fraction"] = r["params"] / d["params"]
        r["energy_fraction"] = energy_fraction(r, d)
        r["synops_fraction"] = r.get("synops_fraction", 1.0)
        for prof in PROFILES:
            r[f"{prof}_cores"] = r["cost"][prof]["cores"]
        r["loihi2_uj"] = r["cost"]["loihi2"]["dynamic_energy_uj"]
    return [r for r in rows if r["seed"] in dense]


def by_seed(rows: list[dict]) -> dict[tuple, dict[int, dict]]:
    """(kind, budget, method) -> {seed: row}: comparisons pair rows by seed."""
    by: dict[tuple, dict[int, dict]] = {}
    for r in rows:
        by.setdefault((r["kind"], r["budget"], r["method"]), {})[r["seed"]] = r
    return by


def groups(rows: list[dict]) -> dict[tuple, list[dict]]:
    g: dict[tuple, list[dict]] = {}
    for r in rows:
        g.setdefault((r["kind"], r["budget"], r["method"]), []).append(r)
    return g


def table(rows: list[dict]) -> str:
    lines = ["| budget | method | acc mean | acc min | params | SynOps | Loihi 1 cores | Loihi 2 cores | "
             "Loihi 2 energy (µJ) | energy / dense | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {"params": 1, "energy": 0}
    for (kind, budget, method), rs in sorted(groups(rows).items(),
                                             key=lambda kv: (kv[0][2] != "dense", order[kv[0][0]], -kv[0][1], kv[0][2])):
        acc = [r["accuracy"] for r in rs]
        label = "dense" if method == "dense" else f"{kind} {budget:.0%}"
        mean = {key: float(np.mean([r[key] for r in rs])) for key in
                ("param_fraction", "synops_fraction", "loihi1_cores", "loihi2_cores", "loihi2_uj", "energy_fraction")}
        lines.append(f"| {label} | {method} | {100 * np.mean(acc):.2f} | {100 * min(acc):.2f} | "
                     f"{100 * mean['param_fraction']:.1f} % | {100 * mean['synops_fraction']:.1f} % | "
                     f"{mean['loihi1_cores']:.1f} | {mean['loihi2_cores']:.1f} | {mean['loihi2_uj']:.3f} | "
                     f"{100 * mean['energy_fraction']:.1f} % | {len(rs)} |")
    return "\n".join(lines)


def plots(rows: list[dict], out: Path) -> list[str]:
    """Accuracy (mean over seeds) vs Loihi 2 energy, vs cores and vs params,
    one line per criterion through its budgets; dense as a star."""
    axes_of = {"energy": ("energy_fraction", "Loihi 2 dynamic energy per inference (fraction of dense)"),
               "cores": ("loihi2_cores", "Loihi 2 cores"),
               "loihi1_cores": ("loihi1_cores", "Loihi 1 cores"),
               "params": ("param_fraction", "synaptic parameters (fraction of dense)")}
    g = groups(rows)
    methods = sorted({m for (_, _, m) in g if m != "dense"})
    kinds = [k for k in ("energy", "params") if any(kk == k and m != "dense" for (kk, _, m) in g)] or ["energy"]
    written = []
    for name, (key, label) in axes_of.items():
        fig, axs = new_figure(1, len(kinds), figsize=(5.5 * len(kinds), 3.8), squeeze=False)
        for ax, kind in zip(axs[0], kinds):
            for m in methods:
                pts = sorted((float(np.mean([r[key] for r in rs])), 100 * float(np.mean([r["accuracy"] for r in rs])))
                             for (k, _, mm), rs in g.items() if mm == m and k == kind)
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=m)
            dense = g.get(("params", 1.0, "dense"), [])
            if dense:
                ref = 100 * float(np.mean([r["accuracy"] for r in dense]))
                ax.plot(float(np.mean([r[key] for r in dense])), ref,
                        marker="*", markersize=12, color="k", linestyle="none", label="dense")
                if name == "energy" and kind == "energy":  # the levels iso_accuracy reads the energy at
                    for drop in (1, 3):
                        ax.axhline(ref - drop, color="grey", linestyle=":", linewidth=0.8)
                        ax.annotate(f"dense - {drop}", (0, ref - drop), xycoords=("axes fraction", "data"),
                                    fontsize=6, color="grey", va="bottom")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy (%), mean over seeds")
            ax.set_title(f"{kind} budgets", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        written.append(save_figure(fig, out / f"pareto_{name}.png"))
    return written


SCA_VARIANTS = ("sca", "sca-drive", "sca-paper")
BASELINES = ("random", "random-regrow", "group-l1", "gain", "taylor", "sca-noregrow")


def verdict(rows: list[dict]) -> list[str]:
    """The issue's targets, measured per SCA variant and budget (energy and
    parameters; a parameter budget is not a target but the comparison the
    published criterion lost last round, so it is judged alike): the gap
    to dense (target <= 1 point at 30 %, <= 3 at 15 %) and the margin over
    each baseline, every comparison on the seeds both sides ran (a mean over
    other seeds would compare other dense nets), with the number of those
    seeds on which SCA is at least level: a mean margin carried by one seed
    is not a win."""
    by = {key: {s: 100 * r["accuracy"] for s, r in runs.items()} for key, runs in by_seed(rows).items()}
    dense = by.get(("params", 1.0, "dense"), {})
    lines = []
    for (kind, budget, method), acc in sorted(by.items()):
        if method not in SCA_VARIANTS:
            continue
        seeds = sorted(set(acc) & set(dense))
        if not seeds:
            continue
        mine = float(np.mean([acc[s] for s in seeds]))
        gap = float(np.mean([dense[s] for s in seeds])) - mine
        parts = []
        for base in BASELINES:
            other = by.get((kind, budget, base), {})
            common = sorted(set(acc) & set(other))
            if common:
                diffs = [acc[s] - other[s] for s in common]
                wins = sum(d >= 0 for d in diffs)
                parts.append(f"{base} {float(np.mean(diffs)):+.2f} (at least level on {wins} of {len(common)} "
                             f"seed{'s' * (len(common) > 1)})")
        lines.append(f"{kind} {budget:.0%}: {method} {mine:.2f} over seeds {seeds}, {gap:.2f} points below dense"
                     + ("; vs " + ", ".join(parts) if parts else ""))
    return lines


def energy_at(points: list[tuple[float, float]], target: float) -> tuple[float, bool]:
    """The least energy fraction at which the piecewise-linear curve through
    ``points`` (energy fraction, accuracy), sorted by energy, reaches
    ``target`` accuracy; ``(e, True)`` when the curve's cheapest point already
    does (an upper bound: below the measured range). The dense point closes
    every curve, so a target below dense is always reached."""
    pts = sorted(points)
    if pts[0][1] >= target:
        return pts[0][0], True
    for (e0, a0), (e1, a1) in zip(pts, pts[1:]):
        if a0 < target <= a1:
            return e0 + (target - a0) * (e1 - e0) / (a1 - a0), False
    raise ValueError(f"accuracy {target} is not reached on {pts}")


def iso_accuracy(rows: list[dict], drops=(1.0, 3.0, 5.0)) -> list[str]:
    """The claim read at equal accuracy: the Loihi 2 energy (fraction of dense)
    each criterion needs to come within ``drop`` points of its dense nets,
    interpolated on its mean accuracy-vs-energy curve through its energy
    budgets and the dense point (means over every seed it ran; a budget not
    run on all of them is left out, so no point mixes other dense nets), and
    SCA's energy against the cheapest baseline's."""
    by = by_seed(rows)
    dense = by.get(("params", 1.0, "dense"), {})
    runs: dict[str, dict[float, dict[int, dict]]] = {}
    for (kind, budget, method), seeds in by.items():
        paired = {s: r for s, r in seeds.items() if s in dense}
        if kind == "energy" and paired:
            runs.setdefault(method, {})[budget] = paired
    lines = []
    for drop in drops:
        need: dict[str, tuple[float, bool]] = {}
        for method, budgets in sorted(runs.items()):
            seeds = sorted(set().union(*budgets.values()))
            complete = [b for b in budgets.values() if len(b) == len(seeds)]  # a budget short of seeds is left out
            if not complete:
                continue
            pts = [(float(np.mean([energy_fraction(b[s], dense[s]) for s in seeds])),
                    100 * float(np.mean([b[s]["accuracy"] for s in seeds]))) for b in complete]
            ref = 100 * float(np.mean([dense[s]["accuracy"] for s in seeds]))
            need[method] = energy_at(pts + [(1.0, ref)], ref - drop)
        if not need:
            continue
        text = ", ".join(f"{m} {'<= ' if bound else ''}{100 * e:.1f} %" for m, (e, bound) in
                         sorted(need.items(), key=lambda kv: kv[1][0]))
        base = {m: v for m, v in need.items() if m in BASELINES}
        versus = []
        if base:
            best = min(base, key=lambda m: base[m][0])
            for m in SCA_VARIANTS:
                if m not in need:
                    continue
                (e, mine_bound), (eb, base_bound) = need[m], base[best]
                if mine_bound and base_bound:  # both at or below their cheapest budget: no ratio
                    versus.append(f"{m} and {best} both below the measured budgets")
                else:
                    bound = " (at most)" if mine_bound else " (at least)" if base_bound else ""
                    versus.append(f"{m} {e / eb:.2f}x{bound} the energy of the cheapest baseline ({best})")
        lines.append(f"energy to stay within {drop:g} point{'s' * (drop != 1)} of dense: {text}"
                     + ("; " + "; ".join(versus) if versus else ""))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench_pruning", help="folder of checkpoints, rows, table and plots")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=list(ARCHS))
    p.add_argument("--channels", type=int, nargs="+", default=None,
                   help="conv widths of the dense net, first to last (default: the arch's own)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (split, init, batch order)")
    p.add_argument("--epochs", type=int, default=None, help="dense epochs (default: the demo recipe)")
    p.add_argument("--shift", type=int, default=None, help="dense training shift augmentation (default: recipe)")
    p.add_argument("--lr", type=float, default=None, help="dense learning rate (default: the demo recipe's)")
    p.add_argument("--prune-epochs", type=int, default=None, help="default: the demo recipe's")
    p.add_argument("--prune-lr", type=float, default=None, help="default: the demo recipe's")
    p.add_argument("--distill", type=float, default=None,
                   help="weight of the dense net's output rates while pruning (default: the demo recipe's)")
    p.add_argument("--rate-floor", type=float, default=None,
                   help="hidden-layer rate floor while pruning (default: the demo recipe's)")
    p.add_argument("--ramp-epochs", type=int, default=None, help="pruning ramp length (default: ~2/3 of the epochs)")
    p.add_argument("--regrow", type=float, default=None, help="regrowth fraction per update (default 0.1)")
    p.add_argument("--cost-weight", type=float, default=None,
                   help="loss weight of spikes priced in Loihi 2 energy, energy budgets (default: the recipe's)")
    p.add_argument("--energy", type=float, nargs="*", default=[0.5, 0.3, 0.15],
                   help="Loihi 2 dynamic-energy budgets (fractions of dense)")
    p.add_argument("--params", type=float, nargs="*", default=[0.5, 0.3, 0.15],
                   help="parameter budgets (fractions of dense)")
    p.add_argument("--criteria", nargs="+", default=list(CRITERIA), choices=list(CRITERIA))
    p.add_argument("--train-samples", type=int, default=None, help="default: all 4000")
    p.add_argument("--test-samples", type=int, default=None, help="default: all 1000")
    p.add_argument("--budget-samples", type=int, default=200, help="test digits the energy is measured on")
    p.add_argument("--report-only", action="store_true", help="only rebuild table and plots from OUT/rows")
    p.add_argument("--overhead", action="store_true", help="also time the SCA bookkeeping on a training step")
    p.add_argument("--overhead-only", action="store_true")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = RECIPES.get(args.arch, {})
    args.epochs, args.lr, args.shift = dense_recipe(args.arch, args.epochs, args.lr, args.shift)
    args.prune_epochs = args.prune_epochs or recipe.get("prune_epochs", 6)
    args.rate_floor = recipe.get("rate_floor", 0.0) if args.rate_floor is None else args.rate_floor
    args.prune_lr = recipe.get("prune_lr", 1e-3) if args.prune_lr is None else args.prune_lr
    args.distill = recipe.get("distill", 0.0) if args.distill is None else args.distill
    args.cost_weight = recipe.get("cost_weight", 0.0) if args.cost_weight is None else args.cost_weight
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.overhead or args.overhead_only:
        ov = overhead(shaped(args.arch, args.channels))
        print(f"training step: plain {1000 * ov['plain_step_s']:.1f} ms, with SCA bookkeeping "
              f"{1000 * ov['sca_step_s']:.1f} ms, ratio {ov['ratio']:.3f} (target <= 1.10)", flush=True)
        write_json(out / "overhead.json", ov)
        if args.overhead_only:
            return 0
    t0 = time.time()
    try:
        if not args.report_only:
            run_grid(args)
        rows = load_rows(out)
    except ScaLavaError as exc:
        print(f"bench_pruning: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"no finished runs under {out / 'rows'}")
        return 1
    text = table(rows)
    print(f"\nMNIST-5k, {args.arch}; accuracy = SLAYER on the test digits; params = synaptic weights; "
          f"SynOps on test spikes; cores and Loihi 2 dynamic energy per inference from evaluator activity "
          f"(fractions of each seed's dense net)\n")
    print(text)
    judged = verdict(rows) + iso_accuracy(rows)
    for line in judged:
        print(line)
    files = plots(rows, out)
    write_text(out / "table.md", text + "\n\n" + "\n".join(f"- {line}" for line in judged) + "\n")
    print(f"\nplots: {', '.join(files)}; table: {out / 'table.md'}; this invocation {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
