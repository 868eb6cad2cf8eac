"""SLAYER training: loop, callbacks (the hook SCA pruning plugs into) and
atomic checkpoints that resume to the same result."""

from sca_lava.training.checkpoint import load_checkpoint, save_checkpoint
from sca_lava.training.trainer import Callback, TrainConfig, Trainer, evaluate_model

__all__ = ["Callback", "TrainConfig", "Trainer", "evaluate_model", "load_checkpoint", "save_checkpoint"]
