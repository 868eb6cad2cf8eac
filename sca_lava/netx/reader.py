"""Read and validate a netx HDF5 file into :class:`NetxSpec`.

The layout is lava-dl's (``lava.lib.dl.netx.hdf5``): a group ``layer`` with
groups ``0, 1, ...``; each has ``type`` (input, conv, dense, flatten, ...),
``shape`` (SLAYER order: C, H, W or F), weights, optional ``bias`` and
``delay``, and a ``neuron`` group (``type`` CUBA/LOIHI or SDNN, ``vThMant``,
``iDecay``, ``vDecay``, ...). Shapes here are SLAYER's: (C, H, W) or (F,).

The reader is the one validator of a netx file: it accepts exactly what
netx 0.6.0 builds and Lava 0.10's fixed-point models run as the file says
(read as netx reads it: 1-D dense weights reshaped to ``(shape[0], -1)``, a
dense layer without neuron gets netx's default integrator, trailing layers
netx cannot build are dropped as ``num_layers`` would), and refuses everything
else with a one-line :class:`ScaLavaError` before anything large is
allocated: wrong types, NaN/inf, non-integers, values outside the hardware's
bit widths, inconsistent shapes, links, too many layers or too large tensors.
It reads the file once; every consumer (evaluator, Lava runner, budget) takes
the :class:`NetxSpec`.
"""

from __future__ import annotations

import os
import stat

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.netx.contract import read_contract
from sca_lava.netx.fields import MAX_DIM, Fields, open_checked
from sca_lava.netx.spec import (
    NAME_ATTR,
    LayerSpec,
    NetxSpec,
    NeuronSpec,
    conv_output_hw,
    name_layers,
)

__all__ = ["LayerSpec", "NetxSpec", "NeuronSpec", "conv_output_hw", "read_netx"]

#: layer types netx defines but cannot run (it raises NotImplementedError)
NETX_UNSUPPORTED = ("pool", "convT", "unpool", "average", "concat")
#: layer types netx builds but this package does not model
NOT_MODELLED = ("dense_rec", "dense_comp")
SUPPORTED = ("input", "conv", "dense", "flatten")

# Caps, checked on dataset shapes and computed layer sizes before any array is read.
MAX_LAYERS = 256
MAX_LAYER_NEURONS = 1 << 25  # one layer's neurons
MAX_TOTAL_NEURONS = 1 << 26

# Hardware bit widths (Lava 0.10's fixed-point models; docs/deployment.md)
WEIGHT_RANGE = (-256, 255)  # 8-bit synapse magnitude + sign
LIF_BIAS_RANGE = (-4096, 4095)  # 13-bit bias mantissa (PyLifModelBitAcc)
LIF_VTH_MAX = (1 << 17) - 1  # 17-bit threshold mantissa
SDNN_MAX = (1 << 11) - 1  # vThMant and bias << 12 must stay in the 24-bit state
DECAY_RANGE = (0, 4096)  # 12-bit decay plus Loihi's offset bit
MAX_DELAY = 62  # netx clips larger delays to 62
CONV_GEOMETRY_MAX = 127  # Lava's Conv keeps kernel/stride/padding/dilation/groups in int8
#: netx's neuron for a dense layer without one (hdf5.Network.create_dense):
#: a non-leaky integrator, vThMant = 1 << 18 - 1 (= 1 << 17, as Python parses it)
DEFAULT_DENSE_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}

_LFS_MAGIC = b"version https://git-lfs"


def _neuron(r: Fields, where: str, is_input: bool) -> NeuronSpec | None:
    if not r.has("neuron"):
        return None
    n = r.group("neuron")
    n.require("type")
    ntype = n.text("type")
    n.require("vThMant")
    if n.has("messageBits"):  # netx 0.6.0 passes the dataset object itself: Lava's build fails
        raise ScaLavaError(f"{where}: netx cannot read a 'messageBits' field (it hands Lava the HDF5 dataset, "
                           "not a number); remove it (the default is 0 for CUBA, 16 for SDNN)")
    bits = None
    if ntype in ("CUBA", "LOIHI"):
        n.require("iDecay", "vDecay")
        return NeuronSpec(
            type=ntype,
            vth_mant=n.uniform("vThMant", 0, LIF_VTH_MAX, "17-bit threshold"),
            i_decay=n.uniform("iDecay", *DECAY_RANGE, "12-bit decay"),
            v_decay=n.uniform("vDecay", *DECAY_RANGE, "12-bit decay"),
            ref_delay=n.uniform("refDelay", 0, 1 << 16, "refractory delay") if n.has("refDelay") else 1,
            graded_spike=bool(n.uniform("gradedSpike", 0, 1, "flag")) if n.has("gradedSpike") else False,
            model="lif",
            message_bits=bits or 0,
        )
    if ntype == "SDNN":
        if n.has("activation"):
            act = n.text("activation").lower()
            if act != "relu":
                raise ScaLavaError(f"{where}: SDNN activation {act!r} cannot be honoured "
                                   "(netx runs every sigma-delta layer with ReLU)")
        sigma = n.has("sigma_output") and bool(n.uniform("sigma_output", 0, 1, "flag"))
        model = "delta" if is_input else ("sigma" if sigma else "sigma_delta")
        return NeuronSpec(type=ntype, vth_mant=n.uniform("vThMant", 0, SDNN_MAX, "24-bit sigma-delta state"),
                          model=model, message_bits=16 if bits is None else bits)
    raise ScaLavaError(f"{where}: neuron type {ntype!r} is not supported (CUBA, LOIHI or SDNN)")


def _default_neuron() -> NeuronSpec:
    d = DEFAULT_DENSE_NEURON
    return NeuronSpec(type=d["type"], vth_mant=d["vThMant"], i_decay=d["iDecay"], v_decay=d["vDecay"],
                      default=True)


def _check_file(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ScaLavaError(f"{path}: no such netx file") from None
    except OSError as exc:
        raise ScaLavaError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScaLavaError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise ScaLavaError(f"{path}: cannot read ({exc.strerror})") from None
    if head.startswith(_LFS_MAGIC):
        raise ScaLavaError(f"{path}: this is a Git LFS pointer, not an HDF5 file: fetch the real file "
                           "(git lfs pull, or use the copy in the lava-dl wheel)")


def read_netx(path: str | os.PathLike, input_shape: tuple[int, ...] | None = None) -> NetxSpec:
    """Parse and validate a netx HDF5 file.

    ``input_shape`` (C, H, W) or (F,) is needed only when the file has no
    input layer with a ``shape`` and its first layer is a convolution; it is
    checked against the file when both are present.
    """
    path = os.fspath(path)
    _check_file(path)
    with open_checked(path, "malformed netx layer description") as top:
        fh = top.g
        if "layer" not in fh:
            raise ScaLavaError(f"{path}: no 'layer' group; this is not a netx network file")
        root = top.group("layer", f"{path}: layer")
        keys = list(root.g.keys())
        if not keys:
            raise ScaLavaError(f"{path}: the 'layer' group is empty")
        if len(keys) > MAX_LAYERS:
            raise ScaLavaError(f"{path}: {len(keys)} layers is too large (limit {MAX_LAYERS})")
        if not keys or sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
            raise ScaLavaError(f"{path}: 'layer' must hold groups named 0, 1, ..., {len(keys) - 1} "
                               "without gaps (netx reads them by index)")
        spec = _parse_layers(path, root, len(keys), input_shape)
        spec.contract = read_contract(fh)
        if spec.contract is not None and tuple(spec.contract.input_shape) != tuple(spec.input_shape):
            raise ScaLavaError(f"{path}: the input contract's shape {spec.contract.input_shape} does not "
                               f"match the network input {spec.input_shape}")
        return spec


def _parse_layers(path, root: Fields, count: int, input_shape) -> NetxSpec:
    layers: list[LayerSpec] = []
    shape = None
    given = None
    if input_shape is not None:
        given = tuple(int(s) for s in input_shape)
        if not given or len(given) > 3 or min(given) < 1 or max(given) > MAX_DIM:
            raise ScaLavaError(f"input shape {given} must be (C, H, W) or (F,) with entries in 1..{MAX_DIM}")
        shape = given
    from_file = False
    flat_pending = False
    msg_bits = 0  # payload bits reaching the next synapse (netx's input_message_bits)
    total = 0
    dropped: list[tuple[int, str]] = []
    for i in range(count):
        where = f"{path}: layer {i}"
        r = root.group(str(i), where)
        r.require("type")
        kind = r.text("type")
        if dropped or kind in NETX_UNSUPPORTED:
            if kind not in NETX_UNSUPPORTED:
                j, first = dropped[0]
                raise ScaLavaError(f"{path}: layer {j}: layer type {first!r} cannot run in netx/Lava "
                                   f"(supported: {', '.join(SUPPORTED)}; only trailing layers after the last "
                                   "neuron layer can be left out)")
            dropped.append((i, kind))
            continue
        if kind in NOT_MODELLED:
            raise ScaLavaError(f"{where}: layer type {kind!r} is not supported (supported: {', '.join(SUPPORTED)})")
        if kind not in SUPPORTED:
            raise ScaLavaError(f"{where}: unknown layer type {kind!r} (supported: {', '.join(SUPPORTED)})")
        if kind == "input":
            if i != 0:
                raise ScaLavaError(f"{where}: an input layer must be layer 0")
            neuron = _neuron(r, where, is_input=True)
            if r.has("shape"):
                file_shape = r.shape()
                if given is not None and given != file_shape:
                    raise ScaLavaError(f"{where}: input shape {given} does not match the network input {file_shape}")
                shape, from_file = file_shape, True
            elif neuron is not None:
                raise ScaLavaError(f"{where}: an input layer with a neuron needs a 'shape' (netx reads it)")
            transform = {"weight": 64, "bias": 0}
            for key in ("weight", "bias"):
                if r.has(key):
                    transform[key] = int(r.array(key, integer=False).ravel()[0]) if r.dataset(key).size else 0
            if neuron is not None:
                total += int(np.prod(shape))
                layers.append(LayerSpec(i, kind, shape, shape, neuron=neuron, transform=transform))
                msg_bits = neuron.message_bits
            else:
                layers.append(LayerSpec(i, kind, shape or (), shape or (), transform=transform))
            continue
        if kind == "flatten":
            if shape is None:
                flat_pending = True  # the first dense layer below fixes the input size
                layers.append(LayerSpec(i, kind, (), ()))
                continue
            out = (int(np.prod(shape)),)
            layers.append(LayerSpec(i, kind, shape, out))
            shape = out
            continue
        if kind == "dense":
            source = layers[-1] if layers else None
            if source is not None and source.neuron is not None and len(source.out_shape) == 3:
                raise ScaLavaError(f"{where}: a dense layer right after the {source.kind} layer {source.index} "
                                   f"needs a flatten layer in between (Lava cannot connect its "
                                   f"{'x'.join(map(str, source.out_shape))} output to a flat input)")
            layer = _dense(r, where, shape, i)
            if shape is None:
                shape = (layer.weight.shape[1],)  # inferred: a dense layer fixes its fan-in
                layer.in_shape = shape
        else:
            if shape is None:
                shape = _conv_input(r, where)  # netx then needs it passed (input_shape_in_file False)
            layer = _conv(r, where, shape, i)
        n = layer.num_neurons
        total += n
        if total > MAX_TOTAL_NEURONS:
            raise ScaLavaError(f"{where}: the network is too large ({total} neurons, limit {MAX_TOTAL_NEURONS})")
        layer.input_message_bits = msg_bits
        msg_bits = layer.neuron.message_bits
        layers.append(layer)
        shape = layer.out_shape
    if flat_pending:
        first = next(ly for ly in layers if ly.kind == "dense")
        for ly in layers:
            if ly.kind in ("input", "flatten") and not ly.out_shape:
                ly.in_shape = ly.out_shape = first.in_shape
    neuron_layers = [ly for ly in layers if ly.neuron is not None]
    if not neuron_layers and dropped:
        j, first = dropped[0]
        raise ScaLavaError(f"{path}: layer {j}: layer type {first!r} cannot run in netx/Lava "
                           f"(supported: {', '.join(SUPPORTED)})")
    if not neuron_layers:
        raise ScaLavaError(f"{path}: the network has no neuron layers")
    models = {ly.neuron.stateful for ly in neuron_layers}
    if len(models) > 1:
        raise ScaLavaError(f"{path}: the network mixes CUBA-LIF and SDNN neurons (not supported)")
    if layers[0].kind == "input" and not layers[0].in_shape:
        first = layers[1] if len(layers) > 1 else None
        if first is not None and first.in_shape:
            layers[0].in_shape = layers[0].out_shape = first.in_shape
    in_shape = tuple(layers[0].in_shape)
    for ly in layers:
        ly.name = _stated_name(root.g[str(ly.index)], f"{path}: layer {ly.index}")
    name_layers(layers)
    return NetxSpec(path=path, input_shape=in_shape, layers=layers, dropped=dropped,
                    input_shape_in_file=from_file)


def _stated_name(group, where: str) -> str:
    """A layer's name as its file states it (our exports), else "" (named later)."""
    if NAME_ATTR not in group.attrs:
        return ""
    value = group.attrs[NAME_ATTR]
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str) or not 0 < len(value) <= 32 or not value.isascii() or not value.isalnum():
        raise ScaLavaError(f"{where}: attribute {NAME_ATTR!r} must be a short alphanumeric layer name, got "
                           f"{ascii(value)[:60]}")
    return value


def _weights_in_range(w: np.ndarray, where: str) -> None:
    if w.size and (w.min() < WEIGHT_RANGE[0] or w.max() > WEIGHT_RANGE[1]):
        raise ScaLavaError(f"{where}: weights {int(w.min())}..{int(w.max())} exceed the 8-bit synapse range "
                           f"{WEIGHT_RANGE[0]}..{WEIGHT_RANGE[1]}")


def _bias(r: Fields, where: str, neuron: NeuronSpec, out_shape: tuple[int, ...]) -> np.ndarray | None:
    if not r.has("bias"):
        return None
    b = r.array("bias")
    if neuron.model == "sigma":
        raise ScaLavaError(f"{where}: a sigma_output layer takes no bias (Lava's Sigma has none)")
    lo, hi = LIF_BIAS_RANGE if neuron.model == "lif" else (-SDNN_MAX - 1, SDNN_MAX)
    if b.size and (b.min() < lo or b.max() > hi):
        raise ScaLavaError(f"{where}: bias {int(b.min())}..{int(b.max())} outside {lo}..{hi} "
                           f"({'13-bit bias mantissa' if neuron.model == 'lif' else '24-bit sigma-delta state'})")
    if len(out_shape) == 1:
        if b.size not in (1, out_shape[0]):
            raise ScaLavaError(f"{where}: bias of size {b.size} does not fit {out_shape[0]} neurons")
        return np.broadcast_to(b.ravel(), out_shape).copy()
    c, h, w = out_shape
    if b.ndim == 3 and b.shape == (w, h, c):  # netx: neuron-wise bias in Lava's (x, y, f) order
        return b.transpose(2, 1, 0).copy()
    if b.size == c and b.ndim <= 1:
        return b.ravel()
    raise ScaLavaError(f"{where}: bias of shape {b.shape} fits neither {c} channels nor the "
                       f"(W, H, C) = {(w, h, c)} neurons")


def _dense(r: Fields, where: str, shape, index: int) -> LayerSpec:
    r.require("shape", "weight")
    rows = int(np.prod(r.shape()))
    if rows > MAX_LAYER_NEURONS:
        raise ScaLavaError(f"{where}: dense layer is too large ({rows} neurons, limit {MAX_LAYER_NEURONS})")
    neuron = _neuron(r, where, is_input=False) or _default_neuron()
    w = r.array("weight")
    if w.ndim == 1:  # netx: weight.reshape(shape[0], -1)
        if w.size % rows:
            raise ScaLavaError(f"{where}: a 1-D dense weight of {w.size} values cannot be read as {rows} rows")
        w = w.reshape(rows, -1)
    if w.ndim != 2:
        raise ScaLavaError(f"{where}: dense weight must be 1-D or 2-D, got shape {w.shape}")
    if w.shape[0] != rows:
        raise ScaLavaError(f"{where}: dense weight has {w.shape[0]} rows but the layer shape says {rows} neurons")
    if w.shape[1] == 0:
        raise ScaLavaError(f"{where}: dense weight has no inputs")
    _weights_in_range(w, where)
    if not np.any(w):
        raise ScaLavaError(f"{where}: an all-zero dense weight matrix cannot be loaded by netx")
    if shape is not None:
        fan_in = int(np.prod(shape))
        if w.shape[1] != fan_in:
            raise ScaLavaError(f"{where}: dense layer expects {w.shape[1]} inputs but receives {fan_in} (shape {shape})")
    out = (rows,)
    delay = None
    if r.has("delay"):
        delay = _delay(r, where, w.shape)
    in_shape = tuple(shape) if shape is not None and len(shape) == 1 else (int(w.shape[1]),)
    return LayerSpec(index, "dense", in_shape, out, weight=w, bias=_bias(r, where, neuron, out),
                     neuron=neuron, delay=delay)


def _delay(r: Fields, where: str, wshape) -> np.ndarray | None:
    d = r.array("delay", integer=False)
    if np.any(d < 0):
        raise ScaLavaError(f"{where}: negative synaptic delays")
    d = np.clip(d, 0, MAX_DELAY).astype(np.int64)  # netx clips at 62 (with a warning) and casts to int
    out, fin = wshape
    if d.size == 1 and d.ndim == 0:
        full = np.full(wshape, int(d), dtype=np.int64)
    elif d.ndim == 1 and d.size == out:  # axonal delay per output neuron (netx checks this first)
        full = np.repeat(d.reshape(-1, 1), fin, axis=1)
    elif d.ndim == 1 and d.size == fin:
        full = np.repeat(d.reshape(1, -1), out, axis=0)
    elif d.shape == tuple(wshape):
        full = d
    else:
        raise ScaLavaError(f"{where}: delay of shape {d.shape} fits neither the weight {tuple(wshape)} nor one of its axes")
    return full if full.any() else np.zeros(wshape, dtype=np.int64)


def _conv_input(r: Fields, where: str) -> tuple[int, int, int]:
    """The input (C, H, W) of a first conv layer without an input layer in
    front: its weight gives C; with stride 1 its stored output gives H and W
    (H = H_out - 2 padding + dilation (kernel - 1)). A larger stride leaves
    several sizes possible: then the user must say (``--input-shape``)."""
    r.require("shape", "weight", "stride", "padding", "dilation", "groups")
    wshape = r.dataset("weight").shape
    stride = r.pair("stride", 1, CONV_GEOMETRY_MAX)
    if len(wshape) not in (4, 5) or stride != (1, 1):
        raise ScaLavaError(f"{where}: the input shape cannot be inferred (no input layer with a shape, and a "
                           f"stride-{stride[0]}x{stride[1]} conv fits several input sizes); pass it as "
                           "--input-shape C,H,W")
    out = r.shape()
    padding, dilation = r.pair("padding", 0, CONV_GEOMETRY_MAX), r.pair("dilation", 1, CONV_GEOMETRY_MAX)
    groups = r.uniform("groups", 1, CONV_GEOMETRY_MAX, "conv groups")
    if len(out) != 3:
        raise ScaLavaError(f"{where}: conv shape must be (C, H, W), got {out}")
    hw = [out[1 + i] - 2 * padding[i] + dilation[i] * (int(wshape[2 + i]) - 1) for i in range(2)]
    if min(hw) < 1:
        raise ScaLavaError(f"{where}: no input size gives the stored output {out}")
    return (int(wshape[1]) * groups, *hw)


def _conv(r: Fields, where: str, shape, index: int) -> LayerSpec:
    if len(shape) != 3:
        raise ScaLavaError(f"{where}: conv layer needs a (C, H, W) input, got {shape}")
    r.require("shape", "weight", "stride", "padding", "dilation", "groups", "neuron")
    stored = r.shape()
    wds = r.dataset("weight")
    if wds.ndim == 5 and wds.shape[4] == 1:
        wshape = wds.shape[:4]
    elif wds.ndim == 4:
        wshape = wds.shape
    else:
        raise ScaLavaError(f"{where}: conv weight must be (out, in, kh, kw[, 1]), got shape {wds.shape}")
    co, ci_g, kh, kw = (int(s) for s in wshape)
    if min(co, ci_g, kh, kw) < 1:
        raise ScaLavaError(f"{where}: conv weight shape {tuple(wshape)} has an empty axis")
    if max(kh, kw) > CONV_GEOMETRY_MAX:
        raise ScaLavaError(f"{where}: kernel {kh}x{kw} exceeds {CONV_GEOMETRY_MAX} (Lava keeps it in 8 bits)")
    groups = r.uniform("groups", 1, CONV_GEOMETRY_MAX, "conv groups")
    stride = r.pair("stride", 1, CONV_GEOMETRY_MAX)
    padding = r.pair("padding", 0, CONV_GEOMETRY_MAX)
    dilation = r.pair("dilation", 1, CONV_GEOMETRY_MAX)
    if ci_g * groups != shape[0]:
        raise ScaLavaError(f"{where}: conv expects {ci_g * groups} input channels but receives {shape[0]}")
    if co % groups:
        raise ScaLavaError(f"{where}: {co} output channels are not divisible by {groups} groups")
    hw = conv_output_hw(shape[1:], (kh, kw), stride, padding, dilation)
    if min(hw) < 1:
        raise ScaLavaError(f"{where}: conv output would be empty for input {shape}")
    out = (co,) + tuple(int(v) for v in hw)
    if int(np.prod(out)) > MAX_LAYER_NEURONS:
        raise ScaLavaError(f"{where}: conv layer is too large ({int(np.prod(out))} neurons, limit {MAX_LAYER_NEURONS})")
    if stored != out:
        raise ScaLavaError(f"{where}: stored shape {stored} does not match the computed output {out}")
    neuron = _neuron(r, where, is_input=False)
    w = r.array("weight").reshape(wshape)
    _weights_in_range(w, where)
    return LayerSpec(index, "conv", tuple(shape), out, weight=w, bias=_bias(r, where, neuron, out),
                     neuron=neuron, kernel=(kh, kw), stride=stride, padding=padding, dilation=dilation,
                     groups=groups)
