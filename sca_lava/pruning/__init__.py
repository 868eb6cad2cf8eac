"""SCA structured pruning for SLAYER networks: channel activity monitor,
importance criteria, gains/masks inside SLAYER's quantiser, the scheduled
global prune/regrow update (a training callback), surgery to a smaller dense
net and its report. Models and training never import this package."""

from sca_lava.pruning.importance import CRITERIA
from sca_lava.pruning.pipeline import load_masked, prune_and_shrink
from sca_lava.pruning.sca import PruneConfig, SCAPruner, select_structure
from sca_lava.pruning.surgery import shrink

__all__ = ["CRITERIA", "PruneConfig", "SCAPruner", "load_masked", "prune_and_shrink",
           "select_structure", "shrink"]
