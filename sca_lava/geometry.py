"""Layer shapes of a chain of layers, computed once for everyone.

A network is a chain of ``conv`` / ``pool`` / ``flatten`` / ``dense`` layers:
a user's lava-dl module traced by :func:`sca_lava.models.graph.trace` (which
describes its blocks as such entries), a
:class:`~sca_lava.models.config.NetworkConfig`, or the ``{input, layers}``
architecture dicts of the hardware sweep. :func:`layer_shapes` walks it once
and returns every layer's input/output shape and, for synaptic layers, which
earlier synaptic layer feeds it, how many input features each of that layer's
channels occupies (``H*W`` after a flatten), and which layers can lose
channels. The pruner (parameter counts, masks, costs, surgery), the pruning
report and the hardware what-if sweep all read it; :func:`conv_output_hw` is
the one conv-size formula (the netx reader uses it too) and
:meth:`LayerGeometry.input_columns` the one channel -> next-layer
input-columns mapping.

A ``pool`` layer is a SLAYER sum-pool: one kernel applied to every channel
alike, i.e. a depthwise convolution (groups = channels), which is how it is
deployed. It has no channels of its own: it carries those of the layer that
feeds it (``tied``), so pruning a conv channel removes the matching pool
channel.

No torch here: the CLI imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.netx.spec import conv_output_hw

__all__ = ["LayerGeometry", "conv_output_hw", "geometry", "layer_shapes", "netx_spec"]

LAYER_KINDS = ("conv", "pool", "flatten", "dense")
SYNAPTIC = ("conv", "pool", "dense")

_INT = {"type": "integer"}
_POS = {"type": "integer", "minimum": 1}
_NUM = {"type": "number"}
#: a layer's own CUBA neuron parameters (a network imported from NIR has one set per layer)
LAYER_NEURON_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "threshold": {**_NUM, "exclusiveMinimum": 0, "maximum": 1e4},
    "current_decay": {**_NUM, "minimum": 0, "maximum": 1},
    "voltage_decay": {**_NUM, "minimum": 0, "maximum": 1}}}
#: JSON schema of one layer entry (network configs and the hardware sweep's architectures)
LAYER_SCHEMA = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(LAYER_KINDS)}},
    "allOf": [
        {"if": {"properties": {"type": {"const": "conv"}}},
         "then": {"required": ["out"], "additionalProperties": False, "properties": {
             "type": {}, "out": {**_POS, "maximum": 65536}, "kernel": {**_POS, "maximum": 64},
             "stride": {**_POS, "maximum": 64}, "padding": {**_INT, "minimum": 0, "maximum": 64},
             "groups": {**_POS, "maximum": 65536}, "neuron": LAYER_NEURON_SCHEMA}}},
        {"if": {"properties": {"type": {"const": "pool"}}},
         "then": {"required": ["kernel"], "additionalProperties": False, "properties": {
             "type": {}, "kernel": {**_POS, "maximum": 64}, "stride": {**_POS, "maximum": 64},
             "padding": {**_INT, "minimum": 0, "maximum": 64}, "neuron": LAYER_NEURON_SCHEMA}}},
        {"if": {"properties": {"type": {"const": "dense"}}},
         "then": {"required": ["out"], "additionalProperties": False, "properties": {
             "type": {}, "out": {**_POS, "maximum": 1 << 20}, "neuron": LAYER_NEURON_SCHEMA,
             "delay": {"type": "boolean"}}}},
        {"if": {"properties": {"type": {"const": "flatten"}}},
         "then": {"additionalProperties": False, "properties": {"type": {}}}},
    ],
}


@dataclass(frozen=True)
class LayerGeometry:
    """One layer of a chain.

    ``block`` is its position in the chain (= the block index of the traced
    module). For synaptic layers (conv, pool, dense), ``in_from`` is the
    position *among synaptic layers* of the layer whose channels feed it
    (None: the network input) and ``in_spatial`` the number of input features
    per feeding channel (``H*W`` after a flatten, else 1). ``tied`` (pools):
    the synaptic layer whose channels this one carries. ``prunable``: its
    output channels may be removed (a conv or dense layer whose channels reach
    another conv or dense layer: the classifier's never are).
    """

    block: int
    kind: str  # conv | pool | flatten | dense
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    in_from: int | None = None
    in_spatial: int = 1
    prunable: bool = False
    tied: int | None = None

    @property
    def out(self) -> int:
        """Output channels (conv, pool) or features (dense)."""
        return int(self.out_shape[0])

    @property
    def in_channels(self) -> int:
        """Channels of the feeding layer (or the input) this layer reads."""
        return int(self.in_shape[0]) // self.in_spatial

    @property
    def depthwise(self) -> bool:
        """Each output channel reads only its own input channel (a pool)."""
        return self.kind == "pool"

    @property
    def kernel_area(self) -> int:
        return self.kernel * self.kernel if self.kind in ("conv", "pool") else 1

    @property
    def positions(self) -> int:
        """Neurons per output channel (H*W for conv and pool, 1 for dense)."""
        return int(np.prod(self.out_shape[1:])) if len(self.out_shape) > 1 else 1

    def params(self, active_out: int, active_in: int) -> int:
        """Synaptic weights with ``active_out`` output and ``active_in`` feeding
        channels (a pool's as deployed: one kernel per channel)."""
        if self.depthwise:
            return int(active_out * self.kernel_area)
        return int(active_out * active_in * self.in_spatial * self.kernel_area) // self.groups

    def input_columns(self, channels) -> np.ndarray:
        """Indices along this layer's weight input axis that belong to the given
        channels of the feeding layer (C,H,W order after a flatten)."""
        ch = np.asarray(channels, dtype=np.int64).reshape(-1)
        return (ch[:, None] * self.in_spatial + np.arange(self.in_spatial)[None]).reshape(-1)


def layer_shapes(input_shape, layers: list[dict], where: str = "network config") -> list[LayerGeometry]:
    """Every layer (flatten included) with its shapes; one-line errors for a
    layer list no network can have (empty conv output, conv after flatten,
    missing ``out``, unknown type). A dense layer right after a conv reads its
    output flattened, as netx does (NetworkConfig itself requires a flatten)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ScaLavaError(f"{where}: input shape must be (C, H, W) or (F,), got {tuple(input_shape)}")
    out: list[LayerGeometry] = []
    prev: int | None = None  # position among synaptic layers of the last one
    n_syn = 0
    spatial = 1
    for i, ly in enumerate(layers):
        kind = ly.get("type")
        if kind not in LAYER_KINDS:
            raise ScaLavaError(f"{where}: layer {i} has unknown type {kind!r} (choose from {', '.join(LAYER_KINDS)})")
        if kind == "flatten":
            if len(shape) == 3:
                spatial = shape[1] * shape[2]
            new = (int(np.prod(shape)),)
            out.append(LayerGeometry(i, kind, shape, new))
            shape = new
            continue
        if kind in ("conv", "pool"):
            if len(shape) != 3:
                raise ScaLavaError(f"{where}: {kind} layer {i} comes after flatten")
            k = int(ly.get("kernel", 3))
            s, p = int(ly.get("stride", k if kind == "pool" else 1)), int(ly.get("padding", 0))
            n_out = shape[0] if kind == "pool" else _out(ly, i, where)
            g = shape[0] if kind == "pool" else int(ly.get("groups", 1))
            hw = conv_output_hw(shape[1:], (k, k), (s, s), (p, p))
            if min(hw) < 1:
                raise ScaLavaError(f"{where}: {kind} layer {i} output is empty for input {shape}")
            if shape[0] % g or n_out % g:
                raise ScaLavaError(f"{where}: conv layer {i}: groups={g} must divide {shape[0]} and {n_out}")
            new = (n_out, *hw)
            geo = LayerGeometry(i, kind, shape, new, kernel=k, stride=s, padding=p, groups=g,
                                in_from=prev, in_spatial=spatial, tied=prev if kind == "pool" else None)
        else:
            n_out = _out(ly, i, where)
            if len(shape) == 3:  # netx flattens implicitly (C, H, W order)
                spatial = shape[1] * shape[2]
                shape = (int(np.prod(shape)),)
            new = (n_out,)
            geo = LayerGeometry(i, kind, shape, new, in_from=prev, in_spatial=spatial)
        out.append(geo)
        prev = n_syn
        n_syn += 1
        spatial = 1
        shape = new
    return _mark_prunable(out)


def _out(ly: dict, i: int, where: str) -> int:
    if "out" not in ly or int(ly["out"]) < 1:
        raise ScaLavaError(f"{where}: layer {i} needs 'out' >= 1")
    return int(ly["out"])


def _mark_prunable(layers: list[LayerGeometry]) -> list[LayerGeometry]:
    """A conv/dense layer (not grouped) is prunable when its channels, through
    any pools, reach another conv or dense layer that reads them all (not the
    network output, not a grouped conv)."""
    from dataclasses import replace

    syn = [g for g in layers if g.kind != "flatten"]
    readers: dict[int, list[LayerGeometry]] = {}
    for g in syn:
        if g.in_from is not None:
            readers.setdefault(g.in_from, []).append(g)

    def reaches_a_full_reader(j: int) -> bool:
        nxt = readers.get(j, [])
        if not nxt:
            return False
        return all(reaches_a_full_reader(syn.index(h)) if h.depthwise else h.groups == 1 for h in nxt)

    flags = {g.block: g.kind in ("conv", "dense") and g.groups == 1 and reaches_a_full_reader(j)
             for j, g in enumerate(syn)}
    return [replace(g, prunable=flags.get(g.block, False)) for g in layers]


def _description(config) -> tuple[tuple, list[LayerGeometry]]:
    """(input shape, every layer) of a NetworkConfig, an ``{input, layers}``
    dict or a traced graph (anything with ``input_shape`` and geometry ``layers``)."""
    if isinstance(config, dict):
        shape = tuple(config.get("input", config.get("input_shape")))
        return shape, layer_shapes(shape, list(config["layers"]))
    layers = list(config.layers)
    if layers and isinstance(layers[0], LayerGeometry):
        return tuple(config.input_shape), layers
    return tuple(config.input_shape), layer_shapes(config.input_shape, layers)


def geometry(config) -> list[LayerGeometry]:
    """The synaptic layers (conv/pool/dense) of a network description (see
    :func:`_description`), in order; ``in_from`` and ``tied`` index this list."""
    return [g for g in _description(config)[1] if g.kind != "flatten"]


def root_of(geo: list[LayerGeometry], j: int) -> int:
    """The synaptic layer whose channels layer ``j`` carries (itself unless tied)."""
    while geo[j].tied is not None:
        j = geo[j].tied
    return j


def channel_masks(geo: list[LayerGeometry], masks: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Every synaptic layer's active output channels from the masks of the
    prunable ones (block -> bool array): a pool's are its source's; a layer
    without a mask keeps all."""
    out = []
    for j, g in enumerate(geo):
        r = geo[root_of(geo, j)]
        m = masks.get(r.block)
        out.append(np.asarray(m, dtype=bool) if m is not None else np.ones(g.out, dtype=bool))
    return out


def channel_counts(geo: list[LayerGeometry], masks: dict[int, np.ndarray]) -> list[int]:
    """Active output channels of every synaptic layer (see :func:`channel_masks`)."""
    return [int(np.count_nonzero(m)) for m in channel_masks(geo, masks)]


def count_params(geo: list[LayerGeometry], active: list[int] | None = None) -> int:
    """Synaptic weights (our blocks have no biases; a pool counts one kernel
    per channel, as deployed) given the active output channels of every
    synaptic layer (``None``: dense)."""
    active = [g.out for g in geo] if active is None else active
    total = 0
    for j, g in enumerate(geo):
        a_in = g.in_channels if g.in_from is None else active[g.in_from]
        total += g.params(active[j], a_in)
    return total


def netx_spec(config, active: list[int] | None = None, *, neuron=None, name: str | None = None):
    """A :class:`~sca_lava.netx.reader.NetxSpec` of the network with ``active``
    output channels per synaptic layer (``None``: all; a pool's must equal its
    source's), every weight 1 (the structural synapses: what the allocator
    stores in dense mode; a pool as the depthwise conv it deploys as), written
    nowhere. ``neuron``: the NeuronSpec of every layer (default: a CUBA
    placeholder; allocation does not read it). The allocator counts the cores
    of a candidate structure from it."""
    from sca_lava.netx.spec import LayerSpec, NetxSpec, NeuronSpec

    neuron = neuron or NeuronSpec("CUBA", vth_mant=80, i_decay=1024, v_decay=128)
    shape, geo = _description(config)
    syn = [g for g in geo if g.kind != "flatten"]
    active = [g.out for g in syn] if active is None else [int(a) for a in active]
    if len(active) != len(syn):
        raise ValueError(f"{len(active)} channel counts for {len(syn)} synaptic layers")
    cur = tuple(int(s) for s in shape)
    specs = [LayerSpec(0, "input", cur, cur)]
    j = 0
    for g in geo:
        idx = len(specs)
        if g.kind == "flatten":
            new = (int(np.prod(cur)),)
            specs.append(LayerSpec(idx, "flatten", cur, new))
        elif g.kind == "dense":
            new, fin = (active[j],), int(np.prod(cur))
            specs.append(LayerSpec(idx, "dense", (fin,), new, weight=np.ones((new[0], fin), np.int8),
                                   neuron=neuron))
            j += 1
        else:
            new = (active[j], *g.out_shape[1:])
            k = g.kernel
            groups = cur[0] if g.depthwise else g.groups
            specs.append(LayerSpec(idx, "conv", cur, new, weight=np.ones((new[0], cur[0] // groups, k, k), np.int8),
                                   neuron=neuron, kernel=(k, k), stride=(g.stride, g.stride),
                                   padding=(g.padding, g.padding), groups=groups))
            j += 1
        cur = new
    return NetxSpec(path=name or "structure", input_shape=tuple(int(s) for s in shape), layers=specs)
