"""A lava-dl network as the one structure every stage reads.

:func:`trace` runs the module's own ``forward`` once on a zero input and
watches, with forward hooks, which lava-dl ``slayer.block`` blocks it calls,
in which order and on which shapes (Torch-Pruning's dependency graph, reduced
to what SLAYER networks are: a chain). It describes every block as a layer
entry (``conv`` / ``pool`` / ``flatten`` / ``dense``) and lets
:func:`sca_lava.geometry.layer_shapes` compute the geometry with the one shape
walk, then checks that walk against the shapes the forward pass produced. The
result, a :class:`Graph`, holds the user's module and its blocks: masks,
activity taps, costs, surgery and export all act on those blocks, so any
module written the way lava-dl's tutorials write one (a ``ModuleList`` of
blocks, ``forward`` looping over them, ``count_log`` tuples or not) is pruned
and deployed in place, its class and ``forward`` untouched. The project's own
:class:`~sca_lava.models.network.SpikingNet` goes through the same path.

What a chain cannot express (a residual addition, a concatenation, a block
called twice, a transform between blocks, a block kind netx cannot deploy) is
a one-line error naming the block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import LayerGeometry, channel_masks, layer_shapes, root_of
from sca_lava.netx.spec import layer_name

#: lava-dl block kinds a chain may hold (the base classes of ``slayer.block.base``)
SUPPORTED = ("conv", "pool", "flatten", "dense")


def _block_kinds(slayer) -> list[tuple[type, str]]:
    base = slayer.block.base
    return [(base.AbstractConv, "conv"), (base.AbstractPool, "pool"), (base.AbstractFlatten, "flatten"),
            (base.AbstractDense, "dense"), (base.AbstractAffine, "affine"), (base.AbstractInput, "input"),
            (base.AbstractAverage, "average"), (base.AbstractConvT, "convT"), (base.AbstractUnpool, "unpool"),
            (base.AbstractKWTA, "kwta"), (base.AbstractRecurrent, "recurrent"),
            (base.AbstractTimeDecimation, "time-decimation")]


def block_kind(module: torch.nn.Module) -> str | None:
    """The lava-dl block kind of a module (None: not a lava-dl block)."""
    from sca_lava._lava_dl import slayer

    for cls, kind in _block_kinds(slayer()):
        if isinstance(module, cls):
            return kind
    return None


def _first(out):
    """A block's spikes: count_log blocks return (spikes, count)."""
    return out[0] if isinstance(out, (tuple, list)) else out


@dataclass
class Graph:
    """The traced chain of a module. ``layers[i]`` (geometry, flatten included)
    describes ``blocks[i]``, the module's block at path ``names[i]``;
    ``input_shape`` is (C, H, W) or (F,)."""

    module: torch.nn.Module
    input_shape: tuple[int, ...]
    layers: list[LayerGeometry]
    blocks: list[torch.nn.Module]
    names: list[str]

    @property
    def synaptic(self) -> list[LayerGeometry]:
        """The conv/pool/dense layers in order (what ``in_from``/``tied`` index)."""
        return [g for g in self.layers if g.kind != "flatten"]

    @property
    def prunable(self) -> list[LayerGeometry]:
        return [g for g in self.layers if g.prunable]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    @property
    def num_classes(self) -> int:
        return int(np.prod(self.output_shape))

    def block(self, g: LayerGeometry) -> torch.nn.Module:
        return self.blocks[g.block]

    def label(self, i: int) -> str:
        """A layer's name in every report: its kind and its 1-based rank among
        layers of that kind (conv1, conv2, pool1, dense1, ...)."""
        kind = self.layers[i].kind
        return layer_name(kind, sum(g.kind == kind for g in self.layers[:i + 1]))

    def root(self, j: int) -> int:
        """Synaptic position of the layer whose channels synaptic layer ``j`` carries."""
        return root_of(self.synaptic, j)

    def channel_masks(self, masks: dict[int, np.ndarray]) -> list[np.ndarray]:
        """Every synaptic layer's active channels given the prunable ones' masks."""
        return channel_masks(self.synaptic, masks)

    def describe(self) -> str:
        return " -> ".join(f"{self.label(i)}{list(g.out_shape)}" for i, g in enumerate(self.layers))

    # --- running ---------------------------------------------------------------
    def outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every block's output spikes for input ``x`` (N, *input_shape, T), from
        ONE call of the module's own ``forward`` (hooks record them): what each
        block hands the next, delay shift included. Gradients flow as usual."""
        outs: list = [None] * len(self.blocks)

        def keep(i):
            def hook(_module, _args, out):
                outs[i] = _first(out)
            return hook

        handles = [b.register_forward_hook(keep(i)) for i, b in enumerate(self.blocks)]
        try:
            self.module(x)
        finally:
            for h in handles:
                h.remove()
        return outs

    def spikes(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output spikes (N, *output_shape, T)."""
        return _first(self.module(x))


def trace(module: torch.nn.Module, input_shape, num_steps: int = 2, where: str | None = None) -> Graph:
    """Trace ``module``'s forward on a zero input of shape (1, *input_shape,
    num_steps) (no gradient, eval mode, torch's RNG untouched); one-line
    errors for anything :class:`Graph` cannot describe. The blocks learn their
    shapes on this pass, as lava-dl needs before export or loading delays."""
    from sca_lava._lava_dl import slayer

    slayer()  # lava-dl imported (and its CPU integrator compiled) before any block runs
    where = where or type(module).__name__
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (1, 3) or min(shape, default=0) < 1:
        raise ScaLavaError(f"{where}: the input shape must be (C, H, W) or (F,), got {tuple(input_shape)}")
    names = {m: n for n, m in module.named_modules()}
    kinds = {m: block_kind(m) for m in names}
    inside = _inside_blocks(module, kinds)
    hooked = [m for m in names if m is not module and m not in inside
              and (kinds[m] is not None or not any(True for _ in m.children()))]
    calls: list[list] = []
    depth = [0]

    def pre(m, args):
        if depth[0] == 0:
            calls.append([m, args[0] if args else None, None])
        depth[0] += 1

    def post(m, _args, out):
        depth[0] -= 1
        if depth[0] == 0:
            calls[-1][2] = out

    handles = []
    for m in hooked:
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    was_training = module.training
    try:
        device = next(iter(module.parameters()), torch.zeros(0)).device
        x = torch.zeros(1, *shape, int(num_steps), device=device)
        module.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            try:
                result = module(x)
            except ScaLavaError:
                raise
            except Exception as exc:  # the user's forward on the shape it was given
                text = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise ScaLavaError(f"{where}: its forward fails on an input of shape "
                                   f"{(1, *shape, int(num_steps))} ({type(exc).__name__}: {text})") from None
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return _graph(module, shape, calls, result, names, kinds, where, x)


def _inside_blocks(module, kinds) -> set:
    """Every sub-module of a lava-dl block (its synapse, neuron, delay...)."""
    out = set()
    for m, kind in kinds.items():
        if kind is not None and m is not module:
            out.update(c for c in m.modules() if c is not m)
    return out


def _graph(module, shape, calls, result, names, kinds, where, x) -> Graph:
    if not calls:
        raise ScaLavaError(f"{where}: its forward calls no lava-dl block (slayer.block.*)")
    seen = set()
    entries = []
    prev = x
    for m, inp, out in calls:
        name = names[m] or "(the module)"
        kind = kinds[m]
        label = f"{name} ({type(m).__module__}.{type(m).__name__})"
        if kind is None:
            raise ScaLavaError(f"{where}: {label} is called between blocks but is not a lava-dl block; "
                               f"a chain holds only slayer.block {', '.join(SUPPORTED)} blocks")
        if kind not in SUPPORTED:
            raise ScaLavaError(f"{where}: {label} is a lava-dl {kind} block, which sca_lava cannot prune and "
                               f"deploy (supported: {', '.join(SUPPORTED)})")
        if m in seen:
            raise ScaLavaError(f"{where}: {label} is called twice in one forward (recurrence or shared "
                               "weights); sca_lava follows chains of distinct blocks")
        seen.add(m)
        if inp is not prev:
            what = "the network input" if prev is x else "the output of the block before it"
            raise ScaLavaError(f"{where}: {label} does not receive {what} unchanged (a residual addition, "
                               "concatenation or transform between blocks?); sca_lava follows chains of blocks")
        prev = _first(out)
        entries.append(_entry(m, kind, label, inp, prev))
    if _first(result) is not prev:
        raise ScaLavaError(f"{where}: its forward does not return the last block's output "
                           f"({names[calls[-1][0]]}) as its result (or as the first element of a tuple)")
    geo = layer_shapes(shape, entries, where)
    for g, (m, _inp, out) in zip(geo, calls):
        got = tuple(_first(out).shape[1:-1])
        if got != g.out_shape:
            raise ScaLavaError(f"{where}: {names[m]} outputs {got} where a netx {g.kind} layer gives "
                               f"{g.out_shape}: {_why(g)}")
    return Graph(module, shape, geo, [c[0] for c in calls], [names[c[0]] for c in calls])


def _why(g: LayerGeometry) -> str:
    if g.kind == "pool":
        return ("lava-dl pads a pool's input at the bottom/right when its size is not a multiple of the "
                "kernel, which netx cannot deploy; choose sizes divisible by the pool kernel")
    if g.kind == "dense":
        return "a dense block on a (C, H, W) input acts per position in SLAYER; put a Flatten block before it"
    return "the shapes disagree"


def _pair(v, name, label) -> int:
    vals = [int(a) for a in (v if isinstance(v, (tuple, list)) else (v, v))][:2]
    if vals[0] != vals[1]:
        raise ScaLavaError(f"{label}: its {name} {tuple(vals)} is not square; sca_lava supports square "
                           f"kernels, strides and paddings")
    return vals[0]


def _entry(m, kind: str, label: str, inp, out) -> dict:
    """The layer entry (``layer_shapes``' format) of one block, with one-line
    errors for block settings netx or the pruner cannot follow."""
    if kind == "flatten":
        return {"type": "flatten"}
    neuron = m.neuron
    from sca_lava._lava_dl import slayer

    if not isinstance(neuron, slayer().neuron.cuba.Neuron):
        raise ScaLavaError(f"{label}: its neuron is {type(neuron).__name__}; sca_lava deploys CUBA-LIF blocks "
                           "(slayer.block.cuba)")
    if getattr(neuron, "norm", None) is not None:
        raise ScaLavaError(f"{label}: neuron normalisation (norm=...) is not supported")
    if neuron.persistent_state:
        raise ScaLavaError(f"{label}: persistent_state=True is not supported (every sample starts at rest)")
    if neuron.graded_spike:
        raise ScaLavaError(f"{label}: graded spikes are not supported in CUBA blocks")
    if getattr(m, "delay_shift", True) is not True:
        raise ScaLavaError(f"{label}: delay_shift=False; netx deploys every layer with a one-step delay, so "
                           "SLAYER and Lava would differ")
    syn = m.synapse
    if getattr(syn, "complex", False):
        raise ScaLavaError(f"{label}: complex synapses are not supported")
    if kind == "dense":
        if getattr(m, "mask", None) is not None:
            raise ScaLavaError(f"{label}: a synapse mask (mask=...) is not supported")
        return {"type": "dense", "out": int(syn.out_channels)}
    if _pair(syn.dilation, "dilation", label) != 1:
        raise ScaLavaError(f"{label}: dilated kernels are not supported")
    entry = {"type": kind, "kernel": _pair(syn.kernel_size, "kernel", label),
             "stride": _pair(syn.stride, "stride", label), "padding": _pair(syn.padding, "padding", label)}
    if kind == "pool" and (entry["stride"] != entry["kernel"] or entry["padding"] != 0):
        raise ScaLavaError(f"{label}: sca_lava deploys pools with stride = kernel and no padding (lava-dl "
                           "pools the channels stacked along one axis, so other settings mix channels)")
    if kind == "conv":
        if int(syn.groups) != 1:
            raise ScaLavaError(f"{label}: grouped convolutions (groups={syn.groups}) are not supported")
        entry.update(out=int(syn.out_channels))
    if m.delay is not None:
        raise ScaLavaError(f"{label}: axonal delays on a {kind} block are not supported (netx deploys them "
                           "on dense blocks only)")
    return entry


def input_shape_of(module: torch.nn.Module) -> tuple[int, ...] | None:
    """The input shape a module states itself, if it does (a
    :class:`~sca_lava.models.network.SpikingNet`'s config)."""
    config = getattr(module, "config", None)
    shape = getattr(config, "input_shape", None)
    return tuple(int(s) for s in shape) if shape is not None else None


def as_graph(network, input_shape=None) -> Graph:
    """A traced graph of ``network`` (a Graph is returned as is; a module is
    traced on ``input_shape``, or on the input shape it states itself)."""
    if isinstance(network, Graph):
        return network
    shape = input_shape if input_shape is not None else input_shape_of(network)
    if shape is None:
        raise ScaLavaError(f"{type(network).__name__}: its input shape is not known; trace it first "
                           "(sca_lava.models.graph.trace(module, input_shape))")
    return trace(network, shape)
