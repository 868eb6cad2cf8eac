"""One spike record for every simulator of a netx network.

The Lava runner, the fixed-point evaluator (and SLAYER, through the same
layout) all return a :class:`SpikeRecord`; the hardware budget and the
agreement checks take one. It lives beside the reader because it describes a
run of a netx file and must not pull in torch or Lava.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sca_lava.netx.spec import NetxSpec


@dataclass
class SpikeRecord:
    """Spikes (or graded payloads) per neuron layer in SLAYER layout:
    (N, C, H, W, T) or (N, F, T), keyed by position among neuron layers.

    ``input`` is what the first neuron layer received (None when the network
    was driven some other way, e.g. through its input layer's bias);
    ``source`` names the simulator ("lava", "fixed-point", "slayer").
    """

    spec: NetxSpec
    layer_spikes: dict[int, np.ndarray]
    seconds: float
    source: str = "lava"
    input: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        return self.layer_spikes[len(self.spec.neuron_layers) - 1]

    @property
    def complete(self) -> bool:
        """Every neuron layer was recorded (what the budget needs)."""
        return len(self.layer_spikes) == len(self.spec.neuron_layers)

    def predictions(self) -> np.ndarray:
        """Class = output neuron with the most spikes (ties: lowest index)."""
        return predictions(self.output)


@dataclass
class Drive:
    """What drives a netx network for N samples of T steps, in SLAYER layout.

    ``spikes`` (N, *input_shape, T): spikes into the first synapse, or, for a
    network whose input layer has a neuron, values into that neuron's
    ``a_in`` (graded for an SDNN input layer). ``bias`` (N, *input_shape):
    the input layer's ``bias_mant`` per sample (Intel's way of driving
    PilotNet: ``net.in_layer.neuron.bias_mant.init = image``).
    """

    spikes: np.ndarray | None
    bias: np.ndarray | None
    samples: int
    steps: int

    def batch(self, lo: int, hi: int) -> Drive:
        return Drive(None if self.spikes is None else self.spikes[lo:hi],
                     None if self.bias is None else self.bias[lo:hi], min(hi, self.samples) - lo, self.steps)

    @property
    def array(self) -> np.ndarray:
        return self.spikes if self.spikes is not None else self.bias

    @property
    def received(self) -> np.ndarray:
        """What the first neuron layer receives as input events (N, *shape, T):
        the spikes, or none at all for a bias-driven input layer."""
        if self.spikes is not None:
            return self.spikes
        return np.zeros((*self.bias.shape, self.steps), dtype=np.uint8)


#: largest |value| into an input neuron's a_in: << 6 (LIF) or << 12 (SDNN) stays in 24 bits
_A_IN_MAX = {"lif": (1 << 15) - 1, "delta": (1 << 11) - 1}


def make_drive(spec: NetxSpec, spikes=None, bias=None, steps: int | None = None) -> Drive:
    """Check a drive against ``spec`` (shapes, integers, ranges), one-line errors."""
    from sca_lava.errors import ScaLavaError

    shape = tuple(spec.input_shape)
    if (spikes is None) == (bias is None):
        raise ScaLavaError("give either input spikes or an input-layer bias (not both, not neither)")
    first = spec.neuron_layers[0]
    if spikes is not None:
        x = np.asarray(spikes)
        if x.ndim != 2 + len(shape):
            raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {x.shape}")
        if tuple(x.shape[1:-1]) != shape:
            raise ScaLavaError(f"{spec.path}: input shape {tuple(x.shape[1:-1])} does not match the network "
                               f"input {shape} (expected (N, {', '.join(map(str, shape))}, T))")
        if x.shape[0] == 0 or x.shape[-1] == 0:
            raise ScaLavaError("no samples or no time steps to run")
        if steps is not None and steps != x.shape[-1]:
            raise ScaLavaError(f"--steps {steps} contradicts the input's {x.shape[-1]} time steps")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise ScaLavaError(f"input spikes must be numbers, got dtype {x.dtype}")
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ScaLavaError("input spikes must be finite integers (0/1 spikes, or graded integer payloads)")
        if first.kind == "input":
            lim = _A_IN_MAX["delta" if first.neuron.model == "delta" else "lif"]
            if x.size and np.abs(x).max() > lim:
                raise ScaLavaError(f"input values must lie in -{lim}..{lim} for this input neuron "
                                   f"(24-bit state), got up to {int(np.abs(x).max())}")
        elif x.size and (x.min() < 0 or x.max() > 1):  # Lava's first synapse reads them as bool
            raise ScaLavaError(f"input spikes into the first synapse are binary (0 or 1), got values "
                               f"{int(x.min())}..{int(x.max())}")
        return Drive(x, None, int(x.shape[0]), int(x.shape[-1]))
    if first.kind != "input" or first.neuron.model != "lif":
        raise ScaLavaError(f"{spec.path}: an input bias drives only a CUBA-LIF input layer with a neuron; "
                           "give input spikes (N, *shape, T)")
    b = np.asarray(bias)
    if tuple(b.shape[1:]) != shape:
        raise ScaLavaError(f"{spec.path}: input bias shape {tuple(b.shape[1:])} does not match the network input "
                           f"{shape} (expected (N, {', '.join(map(str, shape))}))")
    if b.shape[0] == 0:
        raise ScaLavaError("no samples to run")
    if steps is None or steps < 1:
        raise ScaLavaError("a bias-driven input needs the number of time steps (--steps T)")
    if not np.issubdtype(b.dtype, np.number) or np.iscomplexobj(b) or not np.all(np.isfinite(b)) \
            or np.any(b != np.round(b)):
        raise ScaLavaError("the input bias must be finite integers (bias_mant)")
    if b.size and (b.min() < -4096 or b.max() > 4095):
        raise ScaLavaError(f"the input bias {int(b.min())}..{int(b.max())} exceeds the 13-bit bias mantissa "
                           "-4096..4095")
    return Drive(None, b.astype(np.int64), int(b.shape[0]), int(steps))


def read_for(path, spikes=None, bias=None, input_shape=None) -> NetxSpec:
    """Read a netx file whose input shape may have to come from the drive:
    ``input_shape``, else the spikes' (N, *shape, T) or the bias's (N, *shape)."""
    from sca_lava.netx.reader import read_netx

    if input_shape is None:
        arr = np.asarray(spikes if spikes is not None else bias)
        input_shape = (tuple(arr.shape[1:-1]) if spikes is not None else tuple(arr.shape[1:])) or None
    return read_netx(path, input_shape=input_shape)


def first_divergence(fixed: dict[int, np.ndarray], lava: dict[int, np.ndarray]) -> dict:
    """Count samples whose spikes differ in any layer; for the first one, the
    lowest layer that differs (the root cause: later layers follow it) and the
    first time step it differs at."""
    layers = sorted(lava)
    n = next(iter(lava.values())).shape[0]
    bad = np.zeros(n, dtype=bool)
    for j in layers:
        bad |= (fixed[j] != lava[j]).reshape(n, -1).any(1)
    result = {"samples": int(n), "mismatching_samples": int(bad.sum()), "first_mismatch": None}
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        for j in layers:
            diff = fixed[j][k] != lava[j][k]
            if diff.any():
                steps = np.flatnonzero(diff.reshape(-1, diff.shape[-1]).any(0))
                result["first_mismatch"] = {"sample": k, "layer": int(j), "step": int(steps[0]),
                                            "neurons": int(diff.any(-1).sum())}
                break
    return result


def predictions(output_spikes):
    """The one decision rule: class = the output neuron with the most spikes
    (ties: the lowest index) of (N, *output_shape, T) spikes, numpy or torch
    (the result is of the same kind)."""
    out = output_spikes
    return out.reshape(out.shape[0], -1, out.shape[-1]).sum(-1).argmax(1)
