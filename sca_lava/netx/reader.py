"""Read a netx HDF5 file into :class:`NetxSpec`.

The layout is lava-dl's (``lava.lib.dl.netx.hdf5``): a group ``layer`` with
groups ``0, 1, ...``; each has ``type`` (input, conv, dense, flatten, ...),
``shape`` (SLAYER order: C, H, W or F), weights, optional ``bias`` and
``delay``, and a ``neuron`` group (``type`` CUBA, ``vThMant``, ``iDecay``,
``vDecay``, ``refDelay``). Shapes here are SLAYER's: (C, H, W) or (F,).

Every problem a user can cause (missing file, not HDF5, unknown layer type,
inconsistent shapes) is raised as a one-line :class:`ScaLavaError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import conv_output_hw

#: layer types netx defines but cannot run (it raises NotImplementedError)
NETX_UNSUPPORTED = ("pool", "convT", "unpool", "average", "concat")
SUPPORTED = ("input", "conv", "dense", "flatten")


@dataclass(frozen=True)
class NeuronSpec:
    """CUBA-LIF parameters as stored by netx (integers, Loihi units)."""

    type: str
    vth_mant: int
    i_decay: int
    v_decay: int
    ref_delay: int = 1
    graded_spike: bool = False


@dataclass
class LayerSpec:
    """One layer of a netx file. ``in_shape``/``out_shape`` are (C, H, W) or (F,)."""

    index: int
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray | None = None  # conv: (out, in/groups, kh, kw); dense: (out, in)
    bias: np.ndarray | None = None
    neuron: NeuronSpec | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    delay: np.ndarray | None = None
    transform: dict = field(default_factory=dict)  # input layer: weight/bias of the input transform

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.out_shape)) if self.kind != "flatten" else 0

    @property
    def is_synaptic(self) -> bool:
        return self.kind in ("conv", "dense")


@dataclass
class NetxSpec:
    """A whole netx network: its input shape and its layers in file order."""

    path: str
    input_shape: tuple[int, ...]
    layers: list[LayerSpec]

    @property
    def neuron_layers(self) -> list[LayerSpec]:
        """Layers that become Lava processes (in Lava's order)."""
        return [ly for ly in self.layers if ly.neuron is not None]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.neuron_layers[-1].out_shape

    @property
    def has_input_neuron(self) -> bool:
        return bool(self.layers) and self.layers[0].kind == "input" and self.layers[0].neuron is not None


def _pair(value) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    return int(arr[0]), int(arr[1])


def _scalar(group, key, default=None):
    if key not in group:
        if default is None:
            raise KeyError(key)
        return default
    return np.asarray(group[key][()]).ravel()[0].item()


def _layer_type(group) -> str:
    raw = np.asarray(group["type"][()]).ravel()[0]
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


def _neuron(group, where: str) -> NeuronSpec | None:
    if "neuron" not in group:
        return None
    ng = group["neuron"]
    ntype = _layer_type(ng)
    if ntype not in ("CUBA", "LOIHI"):
        raise ScaLavaError(f"{where}: neuron type {ntype!r} is not supported (only CUBA-LIF)")
    try:
        return NeuronSpec(
            type=ntype,
            vth_mant=int(_scalar(ng, "vThMant")),
            i_decay=int(_scalar(ng, "iDecay")),
            v_decay=int(_scalar(ng, "vDecay")),
            ref_delay=int(_scalar(ng, "refDelay", 1)),
            graded_spike=bool(_scalar(ng, "gradedSpike", False)),
        )
    except KeyError as exc:
        raise ScaLavaError(f"{where}: neuron is missing the field {exc.args[0]!r}") from None


def read_netx(path: str | os.PathLike, input_shape: tuple[int, ...] | None = None) -> NetxSpec:
    """Parse and validate a netx HDF5 file.

    ``input_shape`` (C, H, W) is needed only when the file has no input layer
    with a ``shape``; it is checked against the file when both are present.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ScaLavaError(f"{path}: no such netx file")
    try:
        fh = h5py.File(path, "r")
    except OSError:
        raise ScaLavaError(f"{path}: not a readable HDF5 file (corrupt or wrong format)") from None
    with fh:
        if "layer" not in fh:
            raise ScaLavaError(f"{path}: no 'layer' group; this is not a netx network file")
        keys = sorted(fh["layer"].keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if not keys or not all(k.isdigit() for k in keys):
            raise ScaLavaError(f"{path}: 'layer' must hold groups named 0, 1, 2, ...")
        try:
            return _parse_layers(path, fh["layer"], keys, input_shape)
        except ScaLavaError:
            raise
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ScaLavaError(f"{path}: malformed netx layer description ({exc})") from None


def _parse_layers(path, root, keys, input_shape) -> NetxSpec:
    layers: list[LayerSpec] = []
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
    file_input_shape = None
    for key in keys:
        g = root[key]
        where = f"{path}: layer {key}"
        kind = _layer_type(g)
        if kind in NETX_UNSUPPORTED:
            raise ScaLavaError(f"{where}: layer type {kind!r} cannot run in netx/Lava (supported: {', '.join(SUPPORTED)})")
        if kind not in SUPPORTED:
            raise ScaLavaError(f"{where}: unknown layer type {kind!r} (supported: {', '.join(SUPPORTED)})")
        if kind == "input":
            if "shape" in g:
                file_input_shape = tuple(int(s) for s in np.asarray(g["shape"][()]).ravel())
                if shape is not None and tuple(shape) != file_input_shape:
                    raise ScaLavaError(f"{where}: input shape {tuple(shape)} does not match the network input {file_input_shape}")
                shape = file_input_shape
            if shape is None:
                raise ScaLavaError(f"{where}: input layer has no shape; pass the input shape (C, H, W)")
            transform = {
                "weight": int(_scalar(g, "weight", 64)) if "weight" in g else 64,
                "bias": int(_scalar(g, "bias", 0)) if "bias" in g else 0,
            }
            layers.append(LayerSpec(int(key), kind, shape, shape, neuron=_neuron(g, where), transform=transform))
            continue
        if shape is None:
            raise ScaLavaError(f"{where}: the input shape cannot be inferred (no input layer); pass it as (C, H, W)")
        if kind == "flatten":
            out = (int(np.prod(shape)),)
            layers.append(LayerSpec(int(key), kind, shape, out))
            shape = out
            continue
        neuron = _neuron(g, where)
        if neuron is None:
            raise ScaLavaError(f"{where}: {kind} layer has no neuron group")
        weight = np.asarray(g["weight"][()]) if "weight" in g else None
        if weight is None:
            raise ScaLavaError(f"{where}: {kind} layer has no weight (complex weights are not supported)")
        bias = np.asarray(g["bias"][()]).ravel() if "bias" in g else None
        delay = np.asarray(g["delay"][()]).ravel() if "delay" in g else None
        if kind == "dense":
            if weight.ndim != 2:
                raise ScaLavaError(f"{where}: dense weight must be 2-D, got shape {weight.shape}")
            fan_in = int(np.prod(shape))
            if weight.shape[1] != fan_in:
                raise ScaLavaError(f"{where}: dense layer expects {weight.shape[1]} inputs but receives {fan_in} (shape {shape})")
            out = (int(weight.shape[0]),)
            layers.append(LayerSpec(int(key), kind, shape if len(shape) == 1 else (fan_in,), out, weight=weight,
                                    bias=bias, neuron=neuron, delay=delay))
        else:  # conv
            if len(shape) != 3:
                raise ScaLavaError(f"{where}: conv layer needs a (C, H, W) input, got {shape}")
            if weight.ndim == 5:
                weight = weight.reshape(weight.shape[:4])
            if weight.ndim != 4:
                raise ScaLavaError(f"{where}: conv weight must be 4-D (out, in, kh, kw), got {weight.shape}")
            groups = int(_scalar(g, "groups", 1))
            if weight.shape[1] * groups != shape[0]:
                raise ScaLavaError(f"{where}: conv expects {weight.shape[1] * groups} input channels but receives {shape[0]}")
            kernel = (int(weight.shape[2]), int(weight.shape[3]))
            stride = _pair(g["stride"][()]) if "stride" in g else (1, 1)
            padding = _pair(g["padding"][()]) if "padding" in g else (0, 0)
            dilation = _pair(g["dilation"][()]) if "dilation" in g else (1, 1)
            hw = conv_output_hw(shape[1:], kernel, stride, padding, dilation)
            if min(hw) < 1:
                raise ScaLavaError(f"{where}: conv output would be empty for input {shape}")
            out = (int(weight.shape[0]),) + tuple(int(v) for v in hw)
            if "shape" in g:
                stored = tuple(int(s) for s in np.asarray(g["shape"][()]).ravel())
                if stored != out:
                    raise ScaLavaError(f"{where}: stored shape {stored} does not match the computed output {out}")
            layers.append(LayerSpec(int(key), kind, shape, out, weight=weight, bias=bias, neuron=neuron,
                                    kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                                    groups=groups, delay=delay))
        shape = out
    in_shape = layers[0].in_shape if layers else None
    if not any(ly.neuron is not None for ly in layers):
        raise ScaLavaError(f"{path}: the network has no neuron layers")
    return NetxSpec(path=path, input_shape=tuple(in_shape), layers=layers)
