"""SLAYER training: loop, callbacks (the hook SCA pruning plugs into) and
atomic checkpoints that resume to the same result."""

from sca_lava._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "checkpoint": "load_checkpoint load_trained save_checkpoint",
    "config": "TrainConfig",
    "evaluate": "evaluate_model",
    "trainer": "Callback Trainer",
})
