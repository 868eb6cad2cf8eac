"""Declarative network description: an input shape, CUBA neuron parameters
and a layer list of ``conv`` / ``pool`` / ``flatten`` / ``dense`` entries,
from which :class:`~sca_lava.models.network.SpikingNet` builds lava-dl
blocks. Only a builder: once built, a network is described by its traced
graph (:mod:`sca_lava.models.graph`), like any user's module."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import LAYER_KINDS as LAYER_TYPES
from sca_lava.geometry import LAYER_SCHEMA

DEFAULT_NEURON = {
    "threshold": 1.25,
    "current_decay": 0.25,
    "voltage_decay": 0.03,
    "tau_grad": 0.03,
    "scale_grad": 3.0,
}


_NUMBER = {"type": "number"}
#: JSON schema of a network config file (``sca-lava train --config``)
NETWORK_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input_shape": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
        "layers": {"type": "array", "minItems": 1, "maxItems": 256, "items": LAYER_SCHEMA},
        "neuron": {"type": "object", "additionalProperties": False, "properties": {
            "threshold": {**_NUMBER, "exclusiveMinimum": 0, "maximum": 1e4},
            "current_decay": {**_NUMBER, "minimum": 0, "maximum": 1},
            "voltage_decay": {**_NUMBER, "minimum": 0, "maximum": 1},
            "tau_grad": {**_NUMBER, "exclusiveMinimum": 0, "maximum": 1e4},
            "scale_grad": {**_NUMBER, "exclusiveMinimum": 0, "maximum": 1e4}}},
        "weight_scale": {**_NUMBER, "exclusiveMinimum": 0, "maximum": 1e4},
        "num_steps": {"type": "integer", "minimum": 1, "maximum": 100_000},
    },
}


@dataclass
class NetworkConfig:
    """``layers``: dicts like ``{"type": "conv", "out": 16, "kernel": 3,
    "stride": 2, "padding": 1}``, ``{"type": "pool", "kernel": 2}``,
    ``{"type": "flatten"}``, ``{"type": "dense", "out": 10}``. The last layer
    is the classifier. A layer may carry its own ``"neuron"`` (threshold,
    current_decay, voltage_decay: over ``neuron`` for that layer) and a dense
    layer ``"delay": true`` (trainable axonal delays): how a network imported
    from NIR is recorded. ``input_shape`` is (C, H, W), or (F,) for a net of
    dense layers."""

    input_shape: tuple[int, ...] = (1, 28, 28)
    layers: list[dict] = field(default_factory=list)
    neuron: dict = field(default_factory=lambda: dict(DEFAULT_NEURON))
    weight_scale: float = 2.0
    num_steps: int = 16

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return copy.deepcopy(d)

    @classmethod
    def from_dict(cls, d: dict, where: str = "network config") -> NetworkConfig:
        """Validated against :data:`NETWORK_SCHEMA` (types, ranges, unknown keys)."""
        from sca_lava.configfile import validate

        validate(d, NETWORK_SCHEMA, where)
        cfg = cls(
            input_shape=tuple(int(v) for v in d.get("input_shape", (1, 28, 28))),
            layers=[dict(ly) for ly in d.get("layers", [])],
            neuron={**DEFAULT_NEURON, **d.get("neuron", {})},
            weight_scale=float(d.get("weight_scale", 2.0)),
            num_steps=int(d.get("num_steps", 16)),
        )
        cfg.validate()
        return cfg

    @classmethod
    def from_file(cls, path) -> NetworkConfig:
        """A network config JSON/YAML file (size, UTF-8, nesting and schema checked)."""
        from sca_lava.configfile import load_structured

        return cls.from_dict(load_structured(path, "network config"), f"{path}")

    def validate(self) -> None:
        if len(self.input_shape) not in (1, 3) or min(self.input_shape) < 1:
            raise ScaLavaError(f"network config: input_shape must be (C, H, W) or (F,), got {self.input_shape}")
        if not self.layers or self.layers[-1].get("type") != "dense":
            raise ScaLavaError("network config: the last layer must be a dense classifier")
        flat = False
        for i, ly in enumerate(self.layers):
            kind = ly.get("type")
            if kind not in LAYER_TYPES:
                raise ScaLavaError(f"network config: layer {i} has unknown type {kind!r} (choose from {', '.join(LAYER_TYPES)})")
            if kind in ("conv", "pool") and (flat or len(self.input_shape) == 1):
                raise ScaLavaError(f"network config: {kind} layer {i} comes after flatten")
            if kind == "flatten":
                flat = True
            if kind == "conv" and int(ly.get("groups", 1)) != 1:
                raise ScaLavaError(f"network config: conv layer {i}: grouped convolutions are not trained here")
            if kind in ("conv", "dense") and int(ly.get("out", 0)) < 1:
                raise ScaLavaError(f"network config: layer {i} needs 'out' >= 1")
            if kind == "dense" and not flat and any(x.get("type") in ("conv", "pool") for x in self.layers[:i]):
                raise ScaLavaError(f"network config: dense layer {i} after conv needs a flatten first")
        if self.num_steps < 1:
            raise ScaLavaError("network config: num_steps must be >= 1")
        numbers = {"weight_scale": self.weight_scale, **{f"neuron.{k}": v for k, v in self.neuron.items()},
                   **{f"layer {i} neuron.{k}": v for i, ly in enumerate(self.layers)
                      for k, v in ly.get("neuron", {}).items()}}
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ScaLavaError(f"network config: {name} must be a finite number, got {value!r}"[:160])

    def check_classes(self, num_classes: int | None) -> None:
        """The classifier must have an output per class of the data set (None:
        targets that are not class labels)."""
        if num_classes is not None and self.num_classes < num_classes:
            raise ScaLavaError(f"network config: the classifier has {self.num_classes} outputs but the data set "
                               f"has {num_classes} classes")

    @property
    def num_classes(self) -> int:
        return int(self.layers[-1]["out"])


def mnist_vgg_config() -> NetworkConfig:
    """The default: a small VGG-style spiking CNN for 28x28 digits, the kind of
    network SCA prunes (the paper's VGG). Five 3x3 convs, 16-32-32-64-64
    channels, stride 2 instead of pooling so netx can deploy it
    (28 -> 14 -> 7 -> 7 -> 4 -> 4), then one dense classifier (1024 -> 10):
    87 % of the synaptic weights sit in conv layers, T = 16. Sized for CPU
    Lava, whose conv model costs grow with C_in x C_out."""
    convs = [(16, 2), (32, 2), (32, 1), (64, 2), (64, 1)]
    return NetworkConfig(
        input_shape=(1, 28, 28),
        layers=[{"type": "conv", "out": c, "kernel": 3, "stride": s, "padding": 1} for c, s in convs]
        + [{"type": "flatten"}, {"type": "dense", "out": 10}],
    )


def mnist_small_dense_config() -> NetworkConfig:
    """The previous default, kept by name: three stride-2 3x3 convs (16-32-64
    channels, 28 -> 14 -> 7 -> 4), a 128-neuron hidden dense layer, 10 outputs,
    T=16. 84 % of its weights sit in the 1024x128 dense layer."""
    return NetworkConfig(
        input_shape=(1, 28, 28),
        layers=[
            {"type": "conv", "out": 16, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "conv", "out": 32, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "conv", "out": 64, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "flatten"},
            {"type": "dense", "out": 128},
            {"type": "dense", "out": 10},
        ],
    )


def small_config() -> NetworkConfig:
    """A small network for tests and quick notebooks (8-16 channels, 32 hidden)."""
    return NetworkConfig(
        input_shape=(1, 28, 28),
        layers=[
            {"type": "conv", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "conv", "out": 16, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "flatten"},
            {"type": "dense", "out": 32},
            {"type": "dense", "out": 10},
        ],
        num_steps=12,
    )


# Named networks (``--arch NAME``, or a name where a config JSON path is accepted).
ARCHS = {
    "mnist_vgg": mnist_vgg_config,
    "mnist_small_dense": mnist_small_dense_config,
    "tiny": small_config,
}
DEFAULT_ARCH = "mnist_vgg"


def named_config(name: str) -> NetworkConfig:
    """A fresh copy of the named network config."""
    if name not in ARCHS:
        raise ScaLavaError(f"unknown network {name!r} (choose from {', '.join(ARCHS)})")
    return ARCHS[name]()


def default_config() -> NetworkConfig:
    """The default network (:data:`DEFAULT_ARCH`)."""
    return named_config(DEFAULT_ARCH)
