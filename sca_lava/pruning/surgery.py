"""Physical removal of masked channels: a masked network becomes a plain,
smaller module of the user's own class with identical spikes
(:func:`sca_lava.models.surgery.cut` does the cutting, with the channel gates
folding gains and masks into the kept weights; the instruments go after).

Why it is exact: SLAYER quantises weights with a fixed step (2 / w_scale, a
power of two), so the masked net's effective weights ``quantize(w * g * m)``
are already on the grid and re-quantising them in the small net changes
nothing. A masked channel never spikes, so dropping it removes only zero
contributions.
"""

from __future__ import annotations

import numpy as np
import torch

from sca_lava.models.surgery import cut
from sca_lava.pruning.activity import remove_tap
from sca_lava.pruning.masks import masks_of, remove_gate
from sca_lava.pruning.tally import CostTap


def kept_channels(graph) -> dict[int, np.ndarray]:
    """Block index -> indices of kept output channels (every synaptic block)."""
    from sca_lava.models.graph import as_graph

    graph = as_graph(graph)
    geo = graph.synaptic
    return {g.block: np.flatnonzero(m) for g, m in zip(geo, graph.channel_masks(masks_of(graph)))}


def strip(module: torch.nn.Module) -> None:
    """Remove every sca_lava instrument from a module's blocks: channel gates
    (with their gains and masks), activity taps, cost hooks."""
    for block in module.modules():
        if hasattr(block, "synapse"):
            remove_gate(block)
        if hasattr(block, "neuron"):
            remove_tap(block)
        for key, hook in list(block._forward_hooks.items()):
            if isinstance(hook, CostTap):
                del block._forward_hooks[key]


def is_masked(graph) -> bool:
    return bool(masks_of(graph))


@torch.no_grad()
def shrink(graph) -> torch.nn.Module:
    """The physically smaller copy of a masked network (its traced graph, or
    a module that states its input shape; a network without masks comes back
    as a copy), free of sca_lava's instruments."""
    from sca_lava.models.graph import as_graph

    graph = as_graph(graph)
    masks = masks_of(graph)
    small = cut(graph, {b: np.flatnonzero(m) for b, m in masks.items()})
    strip(small)
    return small
