"""Layer shapes of a layer list, computed once for everyone.

A network description (a :class:`~sca_lava.models.config.NetworkConfig`, or
the ``{input, layers}`` architecture dicts of the hardware sweep) is a list of
``conv`` / ``flatten`` / ``dense`` entries. :func:`layer_shapes` walks it once
and returns every layer's input/output shape and, for synaptic layers, which
earlier synaptic layer feeds it and how many input features each of that
layer's channels occupies (``H*W`` after a flatten). The model builder, the
pruner (parameter counts, masks, surgery), the pruning report and the hardware
what-if sweep all use it; :func:`conv_output_hw` is the one conv-size formula
(the netx reader uses it too) and :meth:`LayerGeometry.input_columns` the one
channel -> next-layer input-columns mapping.

No torch here: the CLI imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError

LAYER_KINDS = ("conv", "flatten", "dense")

_INT = {"type": "integer"}
_POS = {"type": "integer", "minimum": 1}
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
             "groups": {**_POS, "maximum": 65536}}}},
        {"if": {"properties": {"type": {"const": "dense"}}},
         "then": {"required": ["out"], "additionalProperties": False, "properties": {
             "type": {}, "out": {**_POS, "maximum": 1 << 20}}}},
        {"if": {"properties": {"type": {"const": "flatten"}}},
         "then": {"additionalProperties": False, "properties": {"type": {}}}},
    ],
}


def conv_output_hw(in_hw, kernel, stride, padding, dilation=(1, 1)) -> tuple[int, int]:
    """Output height/width of a 2-D convolution (floor division, as torch)."""
    return tuple(
        (int(in_hw[i]) + 2 * int(padding[i]) - int(dilation[i]) * (int(kernel[i]) - 1) - 1) // int(stride[i]) + 1
        for i in range(2)
    )


@dataclass(frozen=True)
class LayerGeometry:
    """One layer of a layer list.

    ``block`` is its position in the list (= the ``SpikingNet`` block index).
    For synaptic layers, ``in_from`` is the position *among synaptic layers* of
    the layer whose channels feed it (None: the network input) and
    ``in_spatial`` the number of input features per feeding channel (``H*W``
    after a flatten, else 1). Every synaptic layer but the last (the
    classifier) is prunable.
    """

    block: int
    kind: str  # conv | flatten | dense
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    in_from: int | None = None
    in_spatial: int = 1
    prunable: bool = False

    @property
    def out(self) -> int:
        """Output channels (conv) or features (dense)."""
        return int(self.out_shape[0])

    @property
    def in_channels(self) -> int:
        """Channels of the feeding layer (or the input) this layer reads."""
        return int(self.in_shape[0]) // self.in_spatial

    @property
    def kernel_area(self) -> int:
        return self.kernel * self.kernel if self.kind == "conv" else 1

    @property
    def positions(self) -> int:
        """Neurons per output channel (H*W for conv, 1 for dense)."""
        return int(np.prod(self.out_shape[1:])) if len(self.out_shape) > 1 else 1

    def params(self, active_out: int, active_in: int) -> int:
        """Synaptic weights with ``active_out`` output and ``active_in`` feeding channels."""
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
    if len(shape) != 3 or min(shape) < 1:
        raise ScaLavaError(f"{where}: input shape must be (C, H, W), got {tuple(input_shape)}")
    synaptic = [i for i, ly in enumerate(layers) if ly.get("type") in ("conv", "dense")]
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
        if "out" not in ly or int(ly["out"]) < 1:
            raise ScaLavaError(f"{where}: layer {i} needs 'out' >= 1")
        n_out = int(ly["out"])
        if kind == "conv":
            if len(shape) != 3:
                raise ScaLavaError(f"{where}: conv layer {i} comes after flatten")
            k, s, p = int(ly.get("kernel", 3)), int(ly.get("stride", 1)), int(ly.get("padding", 0))
            g = int(ly.get("groups", 1))
            hw = conv_output_hw(shape[1:], (k, k), (s, s), (p, p))
            if min(hw) < 1:
                raise ScaLavaError(f"{where}: conv layer {i} output is empty for input {shape}")
            if shape[0] % g or n_out % g:
                raise ScaLavaError(f"{where}: conv layer {i}: groups={g} must divide {shape[0]} and {n_out}")
            new = (n_out, *hw)
            geo = LayerGeometry(i, kind, shape, new, kernel=k, stride=s, padding=p, groups=g,
                                in_from=prev, in_spatial=1, prunable=i != synaptic[-1])
        else:
            if len(shape) == 3:  # netx flattens implicitly (C, H, W order)
                spatial = shape[1] * shape[2]
                shape = (int(np.prod(shape)),)
            new = (n_out,)
            geo = LayerGeometry(i, kind, shape, new, in_from=prev, in_spatial=spatial,
                                prunable=i != synaptic[-1])
        out.append(geo)
        prev = n_syn
        n_syn += 1
        spatial = 1
        shape = new
    return out


def _description(config) -> tuple[tuple, list[dict]]:
    if isinstance(config, dict):
        return tuple(config.get("input", config.get("input_shape"))), list(config["layers"])
    return tuple(config.input_shape), list(config.layers)


def geometry(config) -> list[LayerGeometry]:
    """The synaptic layers (conv/dense) of a NetworkConfig or ``{input, layers}``
    dict, in order; ``in_from`` indexes this list."""
    shape, layers = _description(config)
    return [g for g in layer_shapes(shape, layers) if g.kind != "flatten"]


def count_params(geo: list[LayerGeometry], active: list[int] | None = None) -> int:
    """Synaptic weights (our blocks have no biases) given the active output
    channels of every synaptic layer (``None``: dense)."""
    active = [g.out for g in geo] if active is None else active
    total = 0
    for j, g in enumerate(geo):
        a_in = g.in_channels if g.in_from is None else active[g.in_from]
        total += g.params(active[j], a_in)
    return total


def netx_spec(config, active: list[int] | None = None, *, neuron=None, name: str | None = None):
    """A :class:`~sca_lava.netx.reader.NetxSpec` of the network with ``active``
    output channels per synaptic layer (``None``: all), every weight 1 (the
    structural synapses: what the allocator stores in dense mode), written
    nowhere. ``neuron``: the NeuronSpec of every layer (default: a CUBA
    placeholder; allocation does not read it). The allocator counts the cores
    of a candidate structure from it."""
    from sca_lava.netx.reader import LayerSpec, NetxSpec, NeuronSpec

    neuron = neuron or NeuronSpec("CUBA", vth_mant=80, i_decay=1024, v_decay=128)
    shape, layers = _description(config)
    geo = layer_shapes(shape, layers)
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
            specs.append(LayerSpec(idx, "conv", cur, new, weight=np.ones((new[0], cur[0] // g.groups, k, k), np.int8),
                                   neuron=neuron, kernel=(k, k), stride=(g.stride, g.stride),
                                   padding=(g.padding, g.padding), groups=g.groups))
            j += 1
        cur = new
    return NetxSpec(path=name or "structure", input_shape=tuple(int(s) for s in shape), layers=specs)
