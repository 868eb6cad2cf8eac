"""A netx network as plain data: :class:`NetxSpec` of :class:`LayerSpec`
layers with their :class:`NeuronSpec`, and the one conv-size formula. A leaf
(numpy and the input contract only): the reader builds these from a file,
:func:`sca_lava.geometry.netx_spec` builds them from a structure, the
evaluator, the Lava runner and the hardware model read them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sca_lava.netx.contract import InputContract


def conv_output_hw(in_hw, kernel, stride, padding, dilation=(1, 1)) -> tuple[int, int]:
    """Output height/width of a 2-D convolution (floor division, as torch)."""
    return tuple(
        (int(in_hw[i]) + 2 * int(padding[i]) - int(dilation[i]) * (int(kernel[i]) - 1) - 1) // int(stride[i]) + 1
        for i in range(2)
    )


@dataclass(frozen=True)
class NeuronSpec:
    """Neuron parameters as netx passes them to Lava (integers, Loihi units).

    ``model``: ``"lif"`` (CUBA/LOIHI: LIF/LIFReset), ``"sigma_delta"``
    (SDNN SigmaDelta, ReLU), ``"delta"`` (SDNN input layer) or ``"sigma"``
    (SDNN layer with ``sigma_output``). ``message_bits`` is netx's
    ``num_message_bits`` (0 = binary spikes, SDNN default 16).
    """

    type: str
    vth_mant: int
    i_decay: int = 4096
    v_decay: int = 4096
    ref_delay: int = 1
    graded_spike: bool = False
    model: str = "lif"
    message_bits: int = 0
    default: bool = False  # netx's default integrator (the file has no neuron group)

    @property
    def graded(self) -> bool:
        """Output payloads are integers, not binary spikes (SDNN)."""
        return self.model != "lif"

    @property
    def stateful(self) -> bool:
        """SDNN state is never reset by netx (reset_interval is ignored)."""
        return self.model != "lif"


@dataclass
class LayerSpec:
    """One layer of a netx file. ``in_shape``/``out_shape`` are (C, H, W) or (F,)."""

    index: int
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray | None = None  # conv: (out, in/groups, kh, kw); dense: (out, in); int64
    bias: np.ndarray | None = None  # conv: (out,) or (C, H, W); dense: (out,); int64
    neuron: NeuronSpec | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    delay: np.ndarray | None = None  # dense: (out, in) int64 in 0..62, as netx expands it
    transform: dict = field(default_factory=dict)  # input layer: weight/bias of the input transform
    input_message_bits: int = 0  # bits of the payload this layer's synapse receives
    name: str = ""  # conv1, pool1, dense2, ...: the name every report gives it (see name_layers)

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.out_shape)) if self.kind != "flatten" else 0

    @property
    def is_synaptic(self) -> bool:
        return self.kind in ("conv", "dense")


@dataclass
class NetxSpec:
    """A whole netx network: its input shape and its layers in file order.

    ``dropped``: trailing (index, type) layers netx cannot build, left out as
    ``netx.hdf5.Network(num_layers=...)`` would (``num_layers`` below).
    """

    path: str
    input_shape: tuple[int, ...]
    layers: list[LayerSpec]
    dropped: list[tuple[int, str]] = field(default_factory=list)
    contract: InputContract | None = None  # the input contract (sca_lava.netx.contract)
    input_shape_in_file: bool = True  # netx finds the input shape in the file (else pass it to netx)

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

    @property
    def sdnn(self) -> bool:
        """Sigma-delta network (graded payloads, never reset)."""
        return any(ly.neuron.stateful for ly in self.neuron_layers)

    @property
    def num_layers(self) -> int:
        """``num_layers`` for netx: the file's layers without the dropped tail."""
        return len(self.layers)

    @property
    def first_synaptic(self) -> LayerSpec | None:
        return next((ly for ly in self.layers if ly.is_synaptic), None)

    @property
    def flat_input(self) -> bool:
        """The first neuron layer takes a flat (F,) vector (a dense layer first,
        possibly after a flatten): Lava's input port is then (F,)."""
        first = self.neuron_layers[0]
        return first.kind == "dense" or (first.kind == "input" and len(first.out_shape) == 1)

    @property
    def lava_input_shape(self) -> tuple[int, ...]:
        """Shape of Lava's input port: (W, H, C) or (F,)."""
        if self.flat_input:
            return (int(np.prod(self.input_shape)),)
        return tuple(self.input_shape[::-1])

    def describe(self) -> str:
        kinds = "SDNN (sigma-delta)" if self.sdnn else "CUBA-LIF"
        drive = ", input layer with neuron" if self.has_input_neuron else ""
        return (f"{len(self.neuron_layers)} neuron layers, {kinds}{drive}, input "
                f"{'x'.join(map(str, self.input_shape))}")


# --------------------------------------------------------------------------- low-level access


#: attribute of a layer group that names the layer (sca_lava's exports write it; netx ignores it)
NAME_ATTR = "sca_lava_name"


def layer_name(kind: str, rank: int) -> str:
    """The one layer naming of every report: the kind and its 1-based rank
    among layers of that kind (conv1, conv2, pool1, flatten1, dense1, ...)."""
    return f"{kind}{rank}"


def name_layers(layers) -> None:
    """Give every unnamed layer its name in the one naming (``input`` for an
    input layer; a pool exported as the depthwise conv it is keeps the name
    its file gives it, so a file and the module it came from name layers alike)."""
    seen: dict[str, int] = {}
    for ly in layers:
        if ly.kind == "input":
            ly.name = ly.name or "input"
            continue
        if ly.name:
            kind = ly.name.rstrip("0123456789")
            seen[kind] = max(seen.get(kind, 0), int(ly.name[len(kind):] or 0))
            continue
        seen[ly.kind] = seen.get(ly.kind, 0) + 1
        ly.name = layer_name(ly.kind, seen[ly.kind])
