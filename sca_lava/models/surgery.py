"""Cutting channels out of a lava-dl module, on the user's own module (as
Torch-Pruning does for ``nn.Conv2d``): a copy, of its own class and with its
``forward`` untouched, whose blocks hold only the kept channels. The copy
carries what was kept as ``sca_lava_structure`` (kept channel indices by
block name), which checkpoints record, so the user's class can be built and
cut the same way again before its weights are loaded.

What is cut, per block of the traced graph: the synapse's weight rows (and
the next block's matching input columns; after a flatten the C,H,W-ordered
slice ``c*H*W ... (c+1)*H*W``), the neuron's shape and any per-channel neuron
parameter, the axonal delays of a dense block, a flatten's shape. A pool keeps
its one shared kernel and loses the neurons of the removed channels. Shared
decays and thresholds, learned or not, are left as they are, bit for bit.

The kept weights are the block's quantised weights as its ``pre_hook_fx``
makes them (SLAYER's quantiser; under pruning the channel gate, which folds
gains and masks in). SLAYER quantises with a fixed step, so re-quantising
them in the small net changes nothing. Under weight normalisation they become
``v`` with ``g = |v|`` per output channel, so ``g * v / |v|`` is ``v`` again,
exactly.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from sca_lava.errors import ScaLavaError


def raw_weight(synapse: torch.nn.Module) -> torch.Tensor:
    """The synapse's weight before quantisation, also under weight
    normalisation (then ``g * v / |v|`` from the current parameters: the
    ``weight`` attribute is only refreshed by a forward pass)."""
    if hasattr(synapse, "weight_v") and hasattr(synapse, "weight_g"):
        return torch._weight_norm(synapse.weight_v, synapse.weight_g, 0)
    return synapse.weight


@torch.no_grad()
def quantized_weight(block: torch.nn.Module) -> torch.Tensor:
    """The weight the block really uses (its ``pre_hook_fx`` applied), in
    SLAYER's float units."""
    syn = block.synapse
    w = raw_weight(syn)
    return (syn.pre_hook_fx(w) if syn.pre_hook_fx is not None else w).detach().clone()


@torch.no_grad()
def cut(graph, keep: dict[int, np.ndarray]) -> torch.nn.Module:
    """A copy of ``graph.module`` keeping, per prunable block (chain index),
    the channel indices ``keep`` lists (a block not in ``keep`` keeps all; a
    pool follows the layer whose channels it carries)."""
    masks = {}
    for g in graph.prunable:
        m = np.zeros(g.out, dtype=bool)
        m[np.asarray(keep.get(g.block, np.arange(g.out)), dtype=np.int64)] = True
        masks[g.block] = m
    kept = [np.flatnonzero(m) for m in graph.channel_masks(masks)]
    small = copy.deepcopy(graph.module)
    blocks = [small.get_submodule(name) if name else small for name in graph.names]
    j = 0
    for g, block in zip(graph.layers, blocks):
        if g.kind == "flatten":
            if j > 0:
                block.shape = [int(len(kept[j - 1]) * np.prod(g.in_shape[1:])), 1, 1]
            continue
        rows = kept[j]
        if not g.depthwise:
            w = quantized_weight(block)[torch.from_numpy(rows)]
            if g.in_from is not None:
                w = w[:, torch.from_numpy(g.input_columns(kept[g.in_from]))]
            set_weight(block.synapse, w)
        _cut_neurons(block, g, rows)
        j += 1
    small.sca_lava_structure = _compose(graph, getattr(graph.module, "sca_lava_structure", None),
                                        {g.block: kept[k] for k, g in enumerate(graph.synaptic) if g.prunable})
    return small


def _compose(graph, before: dict | None, keep: dict[int, np.ndarray]) -> dict:
    """The structure of a cut module relative to its first construction
    (``before``: the structure of ``graph.module`` if it was cut already)."""
    old = (before or {}).get("layers", {})
    layers = {}
    for b, idx in keep.items():
        name = graph.names[b]
        base = np.asarray(old[name], dtype=np.int64) if name in old else np.arange(graph.layers[b].out)
        layers[name] = [int(i) for i in base[np.asarray(idx, dtype=np.int64)]]
    return {"layers": layers, "input_shape": list(graph.input_shape)}


def set_weight(syn: torch.nn.Module, w: torch.Tensor) -> None:
    """Give a synapse the (quantised) weight ``w``; under weight normalisation
    as ``v = w``, ``g = |w|`` per output channel (an all-zero row: g = 0)."""
    if hasattr(syn, "weight_v") and hasattr(syn, "weight_g"):
        v = w.clone()
        zero = torch.norm_except_dim(v, 2, 0).reshape(-1) == 0
        v[zero] = 1.0  # any direction: g = 0 makes the row 0
        g = torch.norm_except_dim(v, 2, 0)
        g[zero] = 0.0
        syn.weight_v = torch.nn.Parameter(v, requires_grad=syn.weight_v.requires_grad)
        syn.weight_g = torch.nn.Parameter(g, requires_grad=syn.weight_g.requires_grad)
        syn.weight = torch._weight_norm(syn.weight_v, syn.weight_g, 0)
    else:
        syn.weight = torch.nn.Parameter(w.clone(), requires_grad=syn.weight.requires_grad)
    syn.out_channels, syn.in_channels = int(w.shape[0]), int(w.shape[1])


def _cut_neurons(block: torch.nn.Module, g, rows: np.ndarray) -> None:
    """The neuron's shape, its per-channel parameters, its state and the
    block's per-channel delays, cut to ``rows``."""
    idx = torch.from_numpy(rows)
    neuron = block.neuron
    for name in ("current_decay", "voltage_decay"):
        p = getattr(neuron, name, None)
        if isinstance(p, torch.nn.Parameter) and p.numel() == g.out and g.out > 1:
            setattr(neuron, name, torch.nn.Parameter(p.data[idx].clone(), requires_grad=p.requires_grad))
    neuron.shape = torch.Size((len(rows), *g.out_shape[1:]))
    neuron.num_neurons = int(np.prod(neuron.shape))
    neuron.current_state = torch.zeros(1, dtype=neuron.current_state.dtype)
    neuron.voltage_state = torch.zeros(1, dtype=neuron.voltage_state.dtype)
    delay = getattr(block, "delay", None)
    if delay is not None and delay.delay.numel() == g.out:
        delay.delay = torch.nn.Parameter(delay.delay.data[idx].clone(), requires_grad=delay.delay.requires_grad)
    if getattr(block, "delay_buffer", None) is not None:
        block.delay_buffer = None


def apply_structure(graph, structure: dict, where: str = "checkpoint"):
    """Cut a freshly built module (``graph``, its trace) to a recorded
    structure (a cut module's ``sca_lava_structure``: kept channel indices by
    block name, what a pruned checkpoint carries so the user's module can be
    cut the same way before its weights load); returns (small module, its
    graph)."""
    from sca_lava.models.graph import trace

    layers = structure.get("layers") if isinstance(structure, dict) else None
    if not isinstance(layers, dict):
        raise ScaLavaError(f"{where}: 'structure' must map layer names to kept channel indices")
    by_name = {name: g for name, g in zip(graph.names, graph.layers)}
    keep = {}
    for name, idx in layers.items():
        g = by_name.get(name)
        if g is None or not g.prunable:
            raise ScaLavaError(f"{where}: the structure names {str(name)[:60]!r}, not a prunable block of "
                               f"{type(graph.module).__name__}")
        arr = np.asarray(idx)
        if (arr.ndim != 1 or arr.dtype.kind not in "iu" or len(arr) == 0 or len(np.unique(arr)) != len(arr)
                or arr.min() < 0 or arr.max() >= g.out):
            raise ScaLavaError(f"{where}: kept channels of {name} must be distinct indices in 0..{g.out - 1}")
        keep[g.block] = np.sort(arr)
    small = cut(graph, keep)
    return small, trace(small, graph.input_shape, where=type(small).__name__)
