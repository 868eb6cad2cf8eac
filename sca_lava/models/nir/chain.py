"""A NIR graph as a chain of Loihi layers in float: the NIR semantics of
every layer (weights with the neuron's input gains folded in, decay
fractions, threshold, delays), checked for what a chain of CUBA blocks can
hold, with one-line errors naming the node that does not fit. :mod:`.build`
turns these layers into Loihi's fixed point; :mod:`.reference` runs them in
float."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sca_lava.errors import ScaLavaError

SYNAPSES = ("Conv2d", "Linear", "Affine", "SumPool2d", "AvgPool2d")
NEURONS = ("CubaLIF", "LIF", "IF")
IMPORTABLE = ("Input", "Output", "Flatten", "Scale", "Delay", *SYNAPSES, *NEURONS)
#: node types NIR has that no Loihi CUBA chain holds
UNSUPPORTED = {"NIRGraph": "a nested graph (a recurrent subgraph?)", "Conv1d": "a 1-d convolution",
               "CubaLI": "a neuron without spikes", "LI": "a neuron without spikes",
               "I": "an integrator without spikes", "Threshold": "a threshold without a neuron",
               "Identity": "an identity node"}




@dataclass
class FloatLayer:
    """One layer in NIR's float semantics (Euler steps of ``dt``):
    ``z = weight * input`` (conv, dense: ``weight`` with every input gain
    folded in per output channel; pool: a sum times ``weight``, a scalar),
    ``u = (1 - alpha_u) u + z``, ``v = (1 - alpha_v) v + u``, spike where
    ``v > threshold``, then ``v = 0``; ``delay``: whole steps per neuron."""

    kind: str  # conv / pool / dense / flatten
    names: list[str]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray | float | None = None
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    alpha_u: float = 1.0
    alpha_v: float = 0.0
    threshold: float = 1.0
    delay: np.ndarray | None = None
    fixed_weight: np.ndarray | float | None = None  # set by the fixed-point conversion


def _shape(value) -> tuple[int, ...]:
    arr = np.asarray(value).ravel()
    return tuple(int(v) for v in arr)


def chain_of(graph, where: str) -> list[tuple[str, object]]:
    """The nodes from Input to Output, in order; one-line errors for branches,
    cycles, nodes off the path and missing or repeated inputs/outputs."""
    import nir

    nodes = graph.nodes
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind in UNSUPPORTED:
            raise ScaLavaError(f"{where}: node {name!r} is {kind} ({UNSUPPORTED[kind]}), which sca_lava cannot import")
        if kind not in IMPORTABLE:
            raise ScaLavaError(f"{where}: node {name!r} is {kind}, which sca_lava cannot import (supported: "
                               f"{', '.join(IMPORTABLE)})")
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ScaLavaError(f"{where}: {len(inputs)} Input and {len(outputs)} Output nodes; sca_lava imports graphs "
                           "with exactly one of each")
    succ: dict[str, str] = {}
    pred: dict[str, str] = {}
    for pre, post in graph.edges:
        if pre not in nodes or post not in nodes:
            raise ScaLavaError(f"{where}: an edge names {(pre if pre not in nodes else post)!r}, not a node")
        if pre in succ:
            raise ScaLavaError(f"{where}: node {pre!r} feeds both {succ[pre]!r} and {post!r} (a branch); sca_lava "
                               "imports chains")
        if post in pred:
            raise ScaLavaError(f"{where}: node {post!r} receives both {pred[post]!r} and {pre!r} (a sum or "
                               "recurrence); sca_lava imports chains")
        succ[pre], pred[post] = post, pre
    order, name = [], inputs[0]
    while name != outputs[0]:
        order.append(name)
        if name not in succ:
            raise ScaLavaError(f"{where}: the path from the Input stops at {name!r}, before the Output")
        name = succ[name]
        if name in order:
            raise ScaLavaError(f"{where}: node {name!r} closes a cycle; sca_lava imports chains")
    order.append(name)
    off = sorted(set(nodes) - set(order))
    if off:
        raise ScaLavaError(f"{where}: node {off[0]!r} is not on the path from the Input to the Output")
    return [(n, nodes[n]) for n in order]


def float_layers(graph, dt: float, where: str) -> tuple[tuple[int, ...], list[FloatLayer]]:
    """The input shape and the float layers of a NIR chain."""
    chain = chain_of(graph, where)
    shape = _shape(chain[0][1].input_type["input"])
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]  # a batch dimension of 1 some exporters keep
    if len(shape) not in (1, 3) or min(shape, default=0) < 1:
        raise ScaLavaError(f"{where}: the Input shape {list(shape)} is not (C, H, W) or (F,)")
    input_shape, layers, i, body = shape, [], 0, chain[1:-1]
    while i < len(body):
        name, node = body[i]
        kind = type(node).__name__
        if kind == "Flatten":
            layers.append(_flatten(name, node, shape, where))
        elif kind in SYNAPSES:
            names, parts = [name], [node]
            for allowed in (("Scale",), NEURONS, ("Delay",)):  # scales, then one neuron, then a delay
                while i + 1 < len(body) and type(body[i + 1][1]).__name__ in allowed:
                    i += 1
                    names.append(body[i][0])
                    parts.append(body[i][1])
                    if allowed != ("Scale",):
                        break
            layers.append(_layer(names, parts, shape, dt, where))
        elif kind in NEURONS or kind in ("Scale", "Delay"):
            raise ScaLavaError(f"{where}: {kind} node {name!r} has no synapse (Conv2d, Linear, Affine, SumPool2d) "
                               "before it; every Loihi layer is synapses then neurons")
        else:
            raise ScaLavaError(f"{where}: node {name!r} is {kind}, which sca_lava cannot import (supported: "
                               f"{', '.join(SYNAPSES + NEURONS)}, Scale, Flatten, Delay after a dense layer)")
        shape = layers[-1].out_shape
        i += 1
    if not layers:
        raise ScaLavaError(f"{where}: the graph holds no layer between its Input and Output")
    out = _shape(chain[-1][1].output_type["output"]) if chain[-1][1].output_type.get("output") is not None else None
    if out is not None and int(np.prod(out)) != int(np.prod(shape)):
        raise ScaLavaError(f"{where}: the Output shape {list(out)} does not match the last layer's {list(shape)}")
    return input_shape, layers


def _flatten(name, node, shape, where) -> FloatLayer:
    ndim = len(shape)
    start, end = int(node.start_dim), int(node.end_dim)
    start, end = (start + ndim if start < 0 else start), (end + ndim if end < 0 else end)
    if ndim > 1 and (start, end) != (0, ndim - 1):
        raise ScaLavaError(f"{where}: Flatten {name!r} flattens dims {node.start_dim}..{node.end_dim} of {list(shape)}; "
                           "sca_lava flattens whole (C, H, W) samples (start_dim 0, end_dim -1)")
    return FloatLayer("flatten", [name], shape, (int(np.prod(shape)),))


def _pair(value, what: str, label: str) -> int:
    arr = np.asarray(value).ravel()
    if arr.size == 0 or np.unique(arr).size != 1:
        raise ScaLavaError(f"{label}: its {what} {arr.tolist()} is not square; sca_lava imports square ones")
    return int(arr[0])


def _layer(names, parts, shape, dt, where) -> FloatLayer:
    label = f"{where}: {type(parts[0]).__name__} {names[0]!r}"
    syn, rest = parts[0], parts[1:]
    kinds = [type(p).__name__ for p in rest]
    neurons = [p for p in rest if type(p).__name__ in NEURONS]
    if len(neurons) != 1:
        raise ScaLavaError(f"{label} is not followed by a neuron (CubaLIF, LIF or IF); every Loihi layer ends in "
                           "spiking neurons")
    layer = _synapse(type(syn).__name__, syn, names, shape, label)
    gain = np.ones(layer.out_shape)
    for kind, node, name in zip(kinds, rest, names[1:]):
        if kind == "Scale":
            gain = gain * _fit(node.scale, layer.out_shape, f"{where}: Scale {name!r}")
        elif kind in NEURONS:
            gain = gain * _neuron(kind, node, layer, dt, f"{where}: {kind} {name!r}")
        elif kind == "Delay":
            if layer.kind != "dense":
                raise ScaLavaError(f"{where}: Delay {name!r} follows a {layer.kind} layer; Loihi (netx) deploys axonal "
                                   "delays on dense layers only")
            steps = _fit(node.delay, layer.out_shape, f"{where}: Delay {name!r}").ravel() / dt
            if np.any(np.abs(steps - np.round(steps)) > 1e-6 * np.maximum(1, steps)) or np.any(steps < 0) \
                    or np.any(steps > 62):
                raise ScaLavaError(f"{where}: Delay {name!r} must be whole time steps of dt = {dt:g} s in 0..62 "
                                   "(netx's axonal delay)")
            layer.delay = np.round(steps)
    _fold(layer, gain, label)
    return layer


def _synapse(kind, syn, names, shape, label) -> FloatLayer:
    if kind in ("Linear", "Affine"):
        w = _finite(syn.weight, label)
        if w.ndim != 2:
            raise ScaLavaError(f"{label}: its weight must be a matrix, got shape {list(w.shape)}")
        if kind == "Affine" and np.any(np.asarray(syn.bias) != 0):
            raise ScaLavaError(f"{label} has a nonzero bias; sca_lava's CUBA blocks have none (train with bias=False)")
        if w.shape[1] != int(np.prod(shape)) or (len(shape) == 3):
            what = "needs a Flatten before it" if len(shape) == 3 else "does not match"
            raise ScaLavaError(f"{label}: its {w.shape[1]} inputs {what} the {list(shape)} it receives")
        return FloatLayer("dense", names, shape, (w.shape[0],), weight=w)
    if len(shape) != 3:
        raise ScaLavaError(f"{label} receives the flat {list(shape)}; a {kind} needs (C, H, W)")
    if kind == "Conv2d":
        w = _finite(syn.weight, label)
        if w.ndim != 4 or w.shape[1] != shape[0] or w.shape[2] != w.shape[3]:
            raise ScaLavaError(f"{label}: weight {list(w.shape)} is not a square kernel over {shape[0]} input channels")
        if int(syn.groups) != 1 or _pair(syn.dilation, "dilation", label) != 1:
            raise ScaLavaError(f"{label}: grouped or dilated convolutions are not supported")
        if np.any(np.asarray(syn.bias) != 0):
            raise ScaLavaError(f"{label} has a nonzero bias; sca_lava's CUBA blocks have none (train with bias=False)")
        k, s = int(w.shape[2]), _pair(syn.stride, "stride", label)
        p = syn.padding
        if isinstance(p, str):
            if p == "same" and s == 1 and k % 2 == 1:
                p = (k - 1) // 2
            elif p == "valid":
                p = 0
            else:
                raise ScaLavaError(f"{label}: padding {p!r} with stride {s} and kernel {k} has no netx equivalent")
        p = _pair(p, "padding", label)
        hw = [(n + 2 * p - k) // s + 1 for n in shape[1:]]
        if min(hw) < 1:
            raise ScaLavaError(f"{label}: its output is empty for the input {list(shape)}")
        return FloatLayer("conv", names, shape, (w.shape[0], *hw), weight=w, kernel=k, stride=s, padding=p)
    k = _pair(syn.kernel_size, "kernel", label)
    s, p = _pair(syn.stride, "stride", label), _pair(syn.padding, "padding", label)
    if s != k or p != 0 or shape[1] % k or shape[2] % k:
        raise ScaLavaError(f"{label}: sca_lava deploys pools with stride = kernel, no padding, on sizes the kernel "
                           f"divides (got kernel {k}, stride {s}, padding {p} on {list(shape)})")
    scale = 1.0 / (k * k) if kind == "AvgPool2d" else 1.0
    return FloatLayer("pool", names, shape, (shape[0], shape[1] // k, shape[2] // k), weight=scale, kernel=k, stride=k)


def _finite(values, label: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScaLavaError(f"{label}: holds values that are not numbers") from None
    if not np.all(np.isfinite(v)):
        raise ScaLavaError(f"{label}: holds NaN or infinite values")
    return v


def _fit(values, shape, label) -> np.ndarray:
    v = _finite(values, label)
    if v.size == 1:
        return np.full(shape, float(v.ravel()[0]))
    if v.size != int(np.prod(shape)):
        raise ScaLavaError(f"{label}: {v.size} values for a layer of {int(np.prod(shape))} neurons {list(shape)}")
    return v.reshape(shape)


def _uniform(values, shape, what: str, label: str) -> float:
    v = _fit(values, shape, label)
    if np.unique(v).size != 1:
        raise ScaLavaError(f"{label}: its {what} varies across neurons; sca_lava imports one per layer")
    return float(v.ravel()[0])


def _neuron(kind, node, layer: FloatLayer, dt: float, label: str) -> np.ndarray:
    """Sets the layer's decays and threshold; returns the input gain per neuron."""
    shape = layer.out_shape
    for what in ("v_leak", "v_reset"):
        if getattr(node, what, None) is not None and np.any(_fit(getattr(node, what), shape, label) != 0):
            raise ScaLavaError(f"{label}: a nonzero {what} has no Loihi CUBA equivalent (it rests at and resets to 0)")
    layer.threshold = _uniform(node.v_threshold, shape, "v_threshold", label)
    if not layer.threshold > 0:
        raise ScaLavaError(f"{label}: v_threshold {layer.threshold:g} must be positive")
    r = _fit(node.r, shape, label)
    if kind == "IF":
        layer.alpha_u, layer.alpha_v = 1.0, 0.0
        return dt * r
    tau_mem = node.tau if kind == "LIF" else node.tau_mem
    layer.alpha_v = _alpha(tau_mem, shape, dt, "tau_mem" if kind == "CubaLIF" else "tau", label)
    if kind == "LIF":
        layer.alpha_u = 1.0
        return layer.alpha_v * r
    layer.alpha_u = _alpha(node.tau_syn, shape, dt, "tau_syn", label)
    return layer.alpha_u * _fit(node.w_in, shape, label) * layer.alpha_v * r


def _alpha(tau, shape, dt, what, label) -> float:
    t = _uniform(tau, shape, what, label)
    if not t > 0 or not dt / t <= 1:
        raise ScaLavaError(f"{label}: {what} = {t:g} s is not a time constant of at least dt = {dt:g} s "
                           "(pass the dt the network was trained with: --dt)")
    return dt / t


def _fold(layer: FloatLayer, gain: np.ndarray, label: str) -> None:
    """Fold the per-neuron input gain into the synapses (per output channel)."""
    per = gain.reshape(gain.shape[0], -1)
    if np.any(per != per[:, :1]):
        raise ScaLavaError(f"{label}: the neurons' input gain (w_in, r, Scale) varies within a channel")
    g = per[:, 0]
    if layer.kind == "pool":
        if np.unique(g).size != 1:
            raise ScaLavaError(f"{label}: a pool's input gain must be one value (Loihi pools share one kernel weight)")
        layer.weight = float(layer.weight) * float(g[0])
    else:
        layer.weight = layer.weight * g.reshape(-1, *([1] * (layer.weight.ndim - 1)))
    if not np.all(np.isfinite(np.asarray(layer.weight))):
        raise ScaLavaError(f"{label}: its weights times the input gains are not finite")
