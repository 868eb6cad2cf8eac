"""Physical removal of masked channels: a masked network becomes a plain,
smaller :class:`SpikingNet` (fewer ``out`` per layer) with identical spikes.

Why it is exact: SLAYER quantises weights with a fixed step (2 / w_scale, a
power of two), so the masked net's effective weights ``quantize(w * g * m)``
are already on the grid and re-quantising them in the small net changes
nothing. A masked channel never spikes, so dropping its filter and the next
layer's matching inputs (for flatten -> dense: the C,H,W-ordered slice
``c*H*W ... (c+1)*H*W``) removes only zero contributions.
"""

from __future__ import annotations

import numpy as np
import torch

from sca_lava.geometry import geometry
from sca_lava.models.config import NetworkConfig
from sca_lava.models.network import SpikingNet, build_network
from sca_lava.pruning.masks import effective_weight, masks_of


def kept_channels(model: SpikingNet) -> dict[int, np.ndarray]:
    """Block index -> indices of kept output channels (every synaptic block)."""
    masks = masks_of(model)
    out = {}
    for g in geometry(model.config):
        m = masks.get(g.block)
        out[g.block] = np.flatnonzero(m) if m is not None else np.arange(g.out)
    return out


@torch.no_grad()
def shrink(model: SpikingNet) -> SpikingNet:
    """The physically smaller dense network equivalent to a masked one (a
    model without masks is copied as is)."""
    geo = geometry(model.config)
    keep = kept_channels(model)
    cfg_dict = model.config.to_dict()
    for g in geo:
        cfg_dict["layers"][g.block]["out"] = int(len(keep[g.block]))
    small = build_network(NetworkConfig.from_dict(cfg_dict))
    for g in geo:
        w = effective_weight(model.blocks[g.block])  # (out, in, kh, kw, 1), quantised
        w = w[torch.from_numpy(keep[g.block])]
        if g.in_from is not None:
            w = w[:, torch.from_numpy(g.input_columns(keep[geo[g.in_from].block]))]
        target = small.blocks[g.block].synapse.weight
        if tuple(target.shape) != tuple(w.shape):
            raise RuntimeError(f"surgery shape mismatch in block {g.block}: {tuple(w.shape)} vs "
                               f"{tuple(target.shape)}")
        target.copy_(w)
    small.eval()
    return small
