"""SLAYER training: loop, callbacks (the hook SCA pruning plugs into) and
atomic checkpoints that resume to the same result."""

from sca_lava._lazy import lazy_exports

_EXPORTS = {
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "Callback": "trainer",
    "TrainConfig": "trainer",
    "Trainer": "trainer",
    "evaluate_model": "trainer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
