"""One call from a dense net (or nothing) to a smaller deployable net and its
report: SCA-train with masks, cut the masked channels out, measure."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from sca_lava.data import DataSplit, encode
from sca_lava.errors import ScaLavaError
from sca_lava.models import NetworkConfig, SpikingNet, build_network, default_config
from sca_lava.pruning.report import build_report, measure, write_report
from sca_lava.pruning.sca import PruneConfig, SCAPruner
from sca_lava.pruning.surgery import kept_channels, shrink
from sca_lava.training import TrainConfig, Trainer, load_checkpoint, save_checkpoint
from sca_lava.training.distributed import DistContext


def _copy_dense(model: SpikingNet) -> SpikingNet:
    fresh = build_network(NetworkConfig.from_dict(model.config.to_dict()))
    state = {k: v for k, v in model.state_dict().items() if "sca_" not in k}
    fresh.load_state_dict(state, strict=False)
    return fresh


def load_masked(path: str | os.PathLike) -> tuple[SpikingNet, dict]:
    """Rebuild a masked network (gains + masks installed) from DIR/masked.pt."""
    state = load_checkpoint(path)
    if "sca" not in state.get("callbacks", {}):
        raise ScaLavaError(f"{path}: not a pruning checkpoint (no SCA state)")
    model = build_network(NetworkConfig.from_dict(state["config"]))
    pruner = SCAPruner(PruneConfig.from_dict(state["callbacks"]["sca"]["config"]))
    pruner.attach(model, int(state["train_config"].get("epochs", 1)))
    model.load_state_dict(state["model"], strict=False)
    pruner.load_state_dict(state["callbacks"]["sca"])
    return model, state


@torch.no_grad()
def surgery_is_exact(masked: SpikingNet, small: SpikingNet, data: DataSplit, samples: int = 32,
                     encoding: str = "rate-regular") -> bool:
    x = data.test_x[:samples]
    xb = torch.from_numpy(x if data.events else encode(x, masked.config.num_steps, encoding)).float()
    masked.eval()
    small.eval()
    return bool(torch.equal(masked(xb), small(xb)))


def warn_silent(blocks: list[int], measured: dict) -> None:
    """A pruned net with a silent layer cannot classify: say so, loudly."""
    import sys

    print(f"WARNING: after pruning, block(s) {blocks} emit no spike on {measured['samples']} test samples: "
          f"the network is dead downstream (test accuracy {measured['accuracy']:.4f}); prune less "
          "(a looser --budget) or fine-tune longer", file=sys.stderr, flush=True)


def prune_and_shrink(dense_model: SpikingNet | None, data: DataSplit, prune_config: PruneConfig | None = None,
                     train_config: TrainConfig | None = None, *, config: NetworkConfig | None = None,
                     dense_reference: SpikingNet | None = None, out_dir: str | os.PathLike | None = None,
                     resume: bool = False, eval_samples: int | None = None, progress: bool = False,
                     log=print, stop_after: int | None = None,
                     dist: DistContext | None = None) -> tuple[SpikingNet, dict | None]:
    """Train with SCA masks (fine-tuning ``dense_model``, or from scratch on
    ``config``/the default net when it is None), remove the masked channels
    and measure. ``dense_reference`` (default: ``dense_model``) is the trained
    dense net the SynOps/accuracy fractions and the synops/energy budgets
    compare to (without either: the network as training starts, measured on
    the first ``calibration_samples`` training samples); it is also the
    teacher when ``train_config.distill`` > 0. With ``out_dir``
    writes masked.pt (resumable), pruned.pt (a plain checkpoint
    ``load_trained`` reads), pruned.net (netx) and report.{json,md,png}.
    ``stop_after`` ends the training early (resume it later); the result is
    then (masked model, None). A layer left silent (no spike on the test
    samples) is warned about loudly and listed in the report. Under data
    parallelism (``dist``) every process trains; rank 0 alone does the
    surgery, export and report (the others return the masked model and an
    empty report)."""
    pcfg = prune_config or PruneConfig()
    tcfg = train_config or TrainConfig()
    if dense_model is not None:
        model = _copy_dense(dense_model)
    else:
        cfg = NetworkConfig.from_dict((config or default_config()).to_dict())
        if tuple(cfg.input_shape) != tuple(data.input_shape):
            cfg.input_shape = tuple(data.input_shape)
        model = build_network(cfg, seed=tcfg.seed)
    dense_config = NetworkConfig.from_dict(model.config.to_dict())
    reference = dense_reference if dense_reference is not None else dense_model
    calib = data.train_x[:pcfg.calibration_samples]
    calib = calib if data.events else encode(calib, model.config.num_steps, tcfg.encoding)
    pruner = SCAPruner(pcfg, reference=calib, reference_model=reference)
    trainer = Trainer(model, tcfg, [pruner], dist=dist, teacher=reference)  # the teacher only when distilling
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
    small = shrink(model)
    small.contract = model.contract
    exact = surgery_is_exact(model, small, data, encoding=tcfg.encoding)
    if not exact:  # a bug, not a user error
        raise RuntimeError("surgery changed the output spikes")
    test_x, test_y = data.test_x[:eval_samples], data.test_y[:eval_samples]
    small_m = measure(small, test_x, test_y, tcfg.encoding, tcfg.eval_batch_size, data.events)
    dense_m = (measure(reference, test_x, test_y, tcfg.encoding, tcfg.eval_batch_size, data.events)
               if reference is not None else None)
    silent = [ly["block"] for ly in small_m["layers"] if ly["firing_rate"] == 0]
    if silent:
        warn_silent(silent, small_m)
    rep = build_report(small, dense_config, small_m, dense_m, extra={
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
        "kept_channels": {str(k): v.tolist() for k, v in kept_channels(model).items()},
    })
    if out is not None:
        save_checkpoint(out / "pruned.pt", {
            "model": small.state_dict(), "config": small.config.to_dict(), "epoch": trainer.epoch,
            "train_config": asdict(tcfg), "history": trainer.history,
            "pruning": {"dense_config": dense_config.to_dict(), "prune_config": pcfg.to_dict(),
                        "kept_channels": rep["kept_channels"]},
        })
        small.export_hdf5(out / "pruned.net")
        write_report(rep, out)
    return small, rep
