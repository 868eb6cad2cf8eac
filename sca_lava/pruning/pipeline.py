"""One call from a trained lava-dl network (any chain of SLAYER blocks, the
user's own module or sca_lava's) to a smaller deployable one of the same
class and its report: SCA-train with masks, cut the masked channels out,
measure."""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from sca_lava.data import DataSplit, encode
from sca_lava.errors import ScaLavaError, warn_silent
from sca_lava.models import NetworkConfig, build_network, default_config
from sca_lava.models.graph import trace
from sca_lava.pruning.report import build_report, measure, write_report
from sca_lava.pruning.sca import PruneConfig, SCAPruner
from sca_lava.pruning.surgery import is_masked, kept_channels, shrink, strip
from sca_lava.training import TrainConfig, Trainer, load_checkpoint, save_checkpoint
from sca_lava.training.distributed import DistContext
from sca_lava.training.trainer import steps_of


def starting_point(model: torch.nn.Module, input_shape) -> torch.nn.Module:
    """The network pruning starts from: a copy (the caller's module is never
    changed), with any channels an earlier pruning masked cut out, so they
    stay pruned."""
    graph = trace(model, input_shape)
    if is_masked(graph):
        return shrink(graph)
    start = copy.deepcopy(model)
    strip(start)
    return start


def load_masked(path: str | os.PathLike, module: torch.nn.Module | None = None):
    """Rebuild a masked network (gains + masks installed) from DIR/masked.pt
    (``module``: a fresh instance of the user's class, for their own nets)."""
    from sca_lava.models.surgery import apply_structure

    state = load_checkpoint(path)
    if "sca" not in state.get("callbacks", {}):
        raise ScaLavaError(f"{path}: not a pruning checkpoint (no SCA state)")
    if module is None:
        if state.get("config") is None:
            raise ScaLavaError(f"{path} holds a network of your own: pass its module")
        module = build_network(NetworkConfig.from_dict(state["config"]))
    graph = trace(module, tuple(state["input_shape"]))
    if state.get("structure"):
        module, graph = apply_structure(graph, state["structure"], str(path))
    pruner = SCAPruner(PruneConfig.from_dict(state["callbacks"]["sca"]["config"]))
    pruner.attach(graph, int(state["train_config"].get("epochs", 1)))
    module.load_state_dict(state["model"], strict=False)
    pruner.load_state_dict(state["callbacks"]["sca"])
    return module, state


@torch.no_grad()
def surgery_is_exact(masked, small, data: DataSplit, num_steps: int, samples: int = 32,
                     encoding: str = "rate-regular") -> bool:
    """The masked and the cut network (traced graphs) give the same output
    spikes on the first test samples."""
    x = data.test_x[:samples]
    xb = torch.from_numpy(x if data.events else encode(x, num_steps, encoding)).float()
    masked.module.eval()
    small.module.eval()
    return bool(torch.equal(masked.spikes(xb), small.spikes(xb)))


def prune_and_shrink(dense_model: torch.nn.Module | None, data: DataSplit, prune_config: PruneConfig | None = None,
                     train_config: TrainConfig | None = None, *, config: NetworkConfig | None = None,
                     dense_reference: torch.nn.Module | None = None, out_dir: str | os.PathLike | None = None,
                     resume: bool = False, eval_samples: int | None = None, progress: bool = False,
                     log=print, stop_after: int | None = None, dist: DistContext | None = None,
                     loss=None) -> tuple[torch.nn.Module, dict | None]:
    """Train with SCA masks (fine-tuning ``dense_model``, any lava-dl chain, or
    from scratch on ``config``/the default net when it is None), remove the
    masked channels and measure. The result is a module of ``dense_model``'s
    own class. ``dense_reference`` (default: ``dense_model``) is the trained
    dense net the SynOps/accuracy fractions and the synops/energy budgets
    compare to (without either: the network as training starts, measured on
    the first ``calibration_samples`` training samples); it is also the
    teacher when ``train_config.distill`` > 0. ``loss``: the training loss
    (see :class:`~sca_lava.training.Trainer`; default the spike-rate loss on
    class labels). With ``out_dir`` writes masked.pt (resumable), pruned.pt
    (a plain checkpoint ``load_trained`` reads), pruned.net (netx) and
    report.{json,md,png}. ``stop_after`` ends the training early (resume it
    later); the result is then (masked model, None). A layer left silent (no
    spike on the test samples) is warned about loudly and listed in the
    report. Under data parallelism (``dist``) every process trains; rank 0
    alone does the surgery, export and report (the others return the masked
    model and an empty report)."""
    pcfg = prune_config or PruneConfig()
    tcfg = train_config or TrainConfig()
    shape = tuple(data.input_shape)
    if dense_model is not None:
        model = starting_point(dense_model, shape)
    else:
        cfg = NetworkConfig.from_dict((config or default_config()).to_dict())
        if tuple(cfg.input_shape) != shape:
            cfg.input_shape = shape
        model = build_network(cfg, seed=tcfg.seed)
    graph = trace(model, shape)  # masks change no shape: it also describes the dense structure
    steps = steps_of(model, tcfg, data)
    reference = dense_reference if dense_reference is not None else dense_model
    calib = data.train_x[:pcfg.calibration_samples]
    calib = calib if data.events else encode(calib, steps, tcfg.encoding)
    pruner = SCAPruner(pcfg, reference=calib, reference_model=reference)
    trainer = Trainer(model, tcfg, [pruner], dist=dist, teacher=reference, graph=graph, loss=loss)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / "masked.pt" if out is not None else None
    if resume and ckpt is not None and ckpt.exists():
        trainer.load(load_checkpoint(ckpt))
        if log and trainer.dist.is_main:
            log(f"resumed from {ckpt} after epoch {trainer.epoch}")
    trainer.fit(data, epochs=stop_after, checkpoint=ckpt, progress=progress, log=log)
    if trainer.epoch < tcfg.epochs:
        return model, None
    if not trainer.dist.is_main:
        return model, {}
    model.cpu()  # surgery, export and measurement run on the CPU, like deployment
    small = shrink(graph)
    small.contract = model.contract
    small_graph = trace(small, shape)
    exact = surgery_is_exact(graph, small_graph, data, steps, encoding=tcfg.encoding)
    if not exact:  # a bug, not a user error
        raise RuntimeError("surgery changed the output spikes")
    test_x, test_y = data.test_x[:eval_samples], data.test_y[:eval_samples]
    small_m = measure(small_graph, test_x, test_y, steps, tcfg.encoding, tcfg.eval_batch_size, data.events)
    dense_m = (measure(trace(reference, shape), test_x, test_y, steps, tcfg.encoding, tcfg.eval_batch_size,
                       data.events) if reference is not None else None)
    silent = [ly["name"] for ly in small_m["layers"] if ly["firing_rate"] == 0]
    if warn_silent([(ly["name"], ly["firing_rate"]) for ly in small_m["layers"]], small_m["samples"], steps,
                   len(small_m["layers"])):
        print("  (after pruning: prune less, a looser --budget, or fine-tune longer)", file=sys.stderr, flush=True)
    kept = kept_channels(graph)
    rep = build_report(small_graph, graph, small_m, dense_m, extra={
        "silent_layers": silent,
        "criterion": pcfg.criterion,
        "budget": {"kind": pruner.kind, "value": pruner.value, "profile": pcfg.profile,
                   "ranking": pcfg.effective_ranking, "cost_fraction": pruner.cost_fraction(),
                   "dense_cost": pruner.dense_cost,
                   "definition": "cost model of sca_lava.pruning.cost: for synops/energy, the finished net's "
                                 "activity on the calibration samples (SCAPruner.final_check); fraction "
                                 "of the dense reference"},
        "prune_config": pcfg.to_dict(),
        "train_config": asdict(tcfg),
        "surgery_exact": exact,
        "updates": pruner.updates,
        "history": trainer.history,
        "kept_channels": {str(b): np.asarray(v).tolist() for b, v in kept.items()},
    })
    if out is not None:
        config = getattr(small, "config", None)
        save_checkpoint(out / "pruned.pt", {
            "model": small.state_dict(), "config": config.to_dict() if isinstance(config, NetworkConfig) else None,
            "module": f"{type(small).__module__}.{type(small).__qualname__}",
            "input_shape": list(shape), "structure": small.sca_lava_structure,
            "contract": small.contract.to_dict() if small.contract is not None else None,
            "epoch": trainer.epoch, "train_config": asdict(tcfg), "history": trainer.history,
            "pruning": {"prune_config": pcfg.to_dict(), "kept_channels": rep["kept_channels"]},
        })
        from sca_lava.models.export import export_netx

        export_netx(small_graph, out / "pruned.net", contract=small.contract)
        write_report(rep, out)
    return small, rep
