"""SCA structured pruning for SLAYER networks: channel activity monitor,
importance criteria, gains/masks inside SLAYER's quantiser, the scheduled
global prune/regrow update (a training callback), surgery to a smaller dense
net and its report. Models and training never import this package."""

from sca_lava._lazy import lazy_exports

_EXPORTS = {
    "CRITERIA": "importance",
    "load_masked": "pipeline",
    "prune_and_shrink": "pipeline",
    "PruneConfig": "sca",
    "SCAPruner": "sca",
    "select_structure": "sca",
    "shrink": "surgery",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
