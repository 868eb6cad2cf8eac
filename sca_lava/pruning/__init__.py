"""SCA structured pruning for SLAYER networks: channel activity monitor,
importance criteria, gains/masks inside SLAYER's quantiser, the scheduled
global prune/regrow update (a training callback), surgery to a smaller dense
net and its report. Models and training never import this package."""

from sca_lava._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "importance": "CRITERIA",
    "pipeline": "load_masked prune_and_shrink",
    "sca": "PruneConfig SCAPruner",
    "selection": "layer_percentile select_structure",
    "surgery": "shrink",
})
