"""Batched, bit-exact PyTorch replica of a netx network running in Lava.

Why: Lava's CPU simulation runs one sample at a time at tens of ms per step,
so the deployed accuracy of a fixed-point network on a whole test set takes
hours. This module rebuilds the same network from its netx HDF5 file as
integer arithmetic in torch (int64 state, convolutions in float32/float64
only where every partial sum is an exactly representable integer) and runs
thousands of samples per batch, on CPU or CUDA.

What is reproduced (lava-nc 0.10.0 / lava-dl 0.6.0, ``Loihi2SimCfg(
select_tag='fixed_pt')``), per layer:

* synapse: one step of delay (Lava sends last step's accumulation first);
  inputs are binary (``!= 0``).
* conv (``PyConvModelFixed``): the file's integer weights as they are
  (netx flips the kernel and Lava flips it back, so it is torch's
  correlation), the sum wrapped to signed 24 bit.
* dense (``PyDenseModelBitAcc`` after netx's ``optimize_weight_bits``): weights
  shifted left by ``scale_bits``, clipped to 8 bit by sign mode, the low
  bits truncated, the sum shifted right again (floor).
* neuron (``PyLifResetModelBitAcc``): activation ``<< 6``, current and voltage
  decays as sign-magnitude ``>> 12`` with ``du = iDecay`` and ``dv = vDecay``,
  the one-shot 24-bit wrap of ``u``, ``v`` clipped to +-(2**23 - 1), bias
  ``bias_mant << 6``, spike when ``v > vThMant << 6``, reset ``v`` to 0.
  netx does not pass ``refDelay`` to Lava, so there is no refractory period.
* flatten: netx flattens (C, H, W) in C order, i.e. torch's ``reshape``.
* reset: every layer's state is zeroed at the step of its window where the
  sample's first input arrives (``reset_interval = T`` in netx), and the
  first ``depth`` steps of each layer's window (the previous sample's tail in
  Lava) are zero, exactly as :func:`sca_lava.deploy.lava_runner.run_lava`
  reports them.

The result therefore equals ``run_lava(..., record_all=True).layer_spikes``
for every layer, sample and step (tested against the real runtime).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sca_lava.deploy.agreement import first_divergence
from sca_lava.errors import ScaLavaError
from sca_lava.metrics import Accuracy, LayerBatch, SpikeCount, SynOps, measure
from sca_lava.netx.reader import LayerSpec, NetxSpec, read_netx
from sca_lava.netx.record import SpikeRecord

_U_MAX = 1 << 23  # 24-bit state: max_uv_val
_WEIGHT_RANGE = (-256, 255)  # 8-bit magnitude + sign, what Lava's synapses accept
_BIAS_RANGE = (-4096, 4095)  # 13-bit bias mantissa


# --------------------------------------------------------------------------- checks


def check_supported(spec: NetxSpec) -> None:
    """Raise :class:`ScaLavaError` for content netx/Lava cannot run or this
    replica does not model, so a result is never silently wrong."""
    where = spec.path
    if spec.has_input_neuron:
        raise ScaLavaError(
            f"{where}: the input layer has a neuron; netx (lava-dl 0.6.0) leaves its input port "
            "unconnected, so Lava cannot feed spikes into such a network (export without input neuron)"
        )
    prev_kind, prev_shape = "input", tuple(spec.input_shape)
    for ly in spec.layers:
        lw = f"{where}: layer {ly.index} ({ly.kind})"
        if ly.kind == "input":
            continue
        if ly.kind == "flatten":
            prev_kind, prev_shape = "flatten", ly.out_shape
            continue
        if ly.kind == "dense" and prev_kind != "flatten" and len(prev_shape) == 3:
            raise ScaLavaError(f"{lw}: a dense layer after a (C, H, W) output needs a flatten layer")
        if ly.kind == "conv" and len(prev_shape) != 3:
            raise ScaLavaError(f"{lw}: a conv layer needs a (C, H, W) input")
        prev_kind, prev_shape = ly.kind, ly.out_shape
        neuron = ly.neuron
        if neuron.type not in ("CUBA", "LOIHI"):
            raise ScaLavaError(f"{lw}: neuron type {neuron.type!r} is not supported (only CUBA-LIF)")
        if ly.kind == "dense" and ly.delay is not None:
            raise ScaLavaError(f"{lw}: synaptic delays are not supported (export without delays)")
        w = np.asarray(ly.weight)
        if not np.issubdtype(w.dtype, np.number) or not np.all(np.isfinite(w)) or np.any(w != np.round(w)):
            raise ScaLavaError(f"{lw}: weights must be integers (a quantised netx export)")
        if w.size and (w.min() < _WEIGHT_RANGE[0] or w.max() > _WEIGHT_RANGE[1]):
            raise ScaLavaError(
                f"{lw}: weights {int(w.min())}..{int(w.max())} exceed the 8-bit synapse range "
                f"{_WEIGHT_RANGE[0]}..{_WEIGHT_RANGE[1]}"
            )
        if ly.kind == "dense" and w.size and not np.any(w):
            raise ScaLavaError(f"{lw}: an all-zero dense weight matrix cannot be loaded by netx")
        if ly.bias is not None:
            b = np.asarray(ly.bias)
            if np.any(b != np.round(b)) or b.min() < _BIAS_RANGE[0] or b.max() > _BIAS_RANGE[1]:
                raise ScaLavaError(f"{lw}: bias must be integers in {_BIAS_RANGE[0]}..{_BIAS_RANGE[1]}")
            if b.size != ly.out_shape[0]:  # netx: one bias per channel (conv) or neuron (dense)
                raise ScaLavaError(f"{lw}: bias of size {b.size} does not fit {ly.out_shape}")


# --------------------------------------------------------------------------- weights


def dense_effective_weights(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """(integer weights, right shift) that Lava's fixed-point Dense applies to
    a netx dense weight: ``a = (W_eff @ s) >> shift``.

    Mirrors ``lava.lib.dl.netx.utils.optimize_weight_bits`` followed by
    ``clip_weights``/``truncate_weights`` in ``PyDenseModelBitAcc``, with the
    same numpy integer operations so edge cases round identically.
    """
    w = np.asarray(weight).astype(np.int64)
    max_w, min_w = int(w.max()), int(w.min())
    if max_w > 254 and min_w < 0:
        w = np.clip(w, -256, 254)
        max_w = int(w.max())
    if min_w < -256 and max_w > 0:
        w = np.clip(w, -256, 254)
        min_w = int(w.min())
    if max_w < 0:
        signed, scale = 0, -256 / min_w
    elif min_w >= 0:
        signed, scale = 0, 255 / max_w
    else:
        signed = 1
        scale = min(127 / max_w if max_w > 0 else np.inf, -128 / min_w)
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / 2**n - np.round(w / 2**n))) != 0:
        n -= 1
    n -= signed
    num_weight_bits = 8 - scale_bits - n
    weight_exp = -scale_bits
    w2 = np.left_shift(w.astype(np.int32), scale_bits)
    # PyDenseModelBitAcc: its own sign mode, clip to 8 bit, truncate
    if w2.min() >= 0:
        lmode = "exc"
    elif w2.max() <= 0:
        lmode = "inh"
    else:
        lmode = "mixed"
    mixed = int(lmode == "mixed")
    w3 = w2.astype(np.int32)
    if lmode == "inh":
        w3 = -w3
    w3 = np.clip(w3, -(2**8) * mixed, 2**8 - 1)
    ntb = 8 - num_weight_bits + mixed
    w3 = (w3 >> ntb) << ntb
    if lmode == "inh":
        w3 = -w3
    if weight_exp > 0:  # cannot happen for weights in range; kept for completeness
        raise ScaLavaError("dense weights need a positive weight exponent, which is not modelled")
    return w3.astype(np.int64), -weight_exp


# --------------------------------------------------------------------------- model


@dataclass
class _Layer:
    spec: LayerSpec
    depth: int  # steps of the previous sample at the start of the window
    weight: object = None  # torch tensor, float32/float64 exact
    shift: int = 0  # dense right shift
    bias: object = None  # int64 tensor broadcastable to (B, *out_shape)
    vth: int = 0
    i_decay: int = 0
    v_decay: int = 0
    dtype: object = None
    fast: bool = False  # static bounds rule out int32 overflow (see _fast_step)
    clamp24: bool = True  # conv sums may leave 24 bit: apply signed_clamp


def _wrap32(x):
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def _decay(x, decay: int):
    """Lava's sign-magnitude decay: sign(x*(4096-d)) * (|x*(4096-d)| >> 12)."""
    import torch

    prod = x * (4096 - decay)
    return torch.sign(prod) * (torch.abs(prod) >> 12)


class FixedPointNet:
    """A netx network as batched integer torch code, equal to Lava's fixed-point run."""

    def __init__(self, spec: NetxSpec, device=None):
        import torch

        check_supported(spec)
        self.spec = spec
        self.device = torch.device(device or "cpu")
        self.layers: list[_Layer] = []
        depth = 1  # no input neuron: the first synapse adds one step
        for ly in spec.layers:
            if ly.neuron is None:
                continue
            w = np.asarray(ly.weight).astype(np.int64)
            shift = 0
            if ly.kind == "dense":
                w, shift = dense_effective_weights(w)
                fan_in = w.shape[1]
            else:
                fan_in = w.shape[1] * w.shape[2] * w.shape[3]
            # float32 is exact while every partial sum stays below 2**24
            exact32 = int(np.abs(w).max(initial=0)) * fan_in < (1 << 24)
            dtype = torch.float32 if exact32 else torch.float64
            bound = int(np.abs(w).max(initial=0)) * fan_in  # max |synaptic sum|
            a_bound = (bound >> shift) + 1
            fast = (a_bound << 6) <= (1 << 24) and all(
                0 <= d <= 4096 for d in (ly.neuron.i_decay, ly.neuron.v_decay))
            bias = None
            if ly.bias is not None and np.any(ly.bias):
                b = np.asarray(ly.bias).astype(np.int64).ravel()
                shape = (1, -1, 1, 1) if ly.kind == "conv" else (1, -1)
                bias = torch.as_tensor(b << 6, device=self.device).reshape(shape)
            self.layers.append(_Layer(
                spec=ly, depth=depth, weight=torch.as_tensor(w, dtype=dtype, device=self.device),
                shift=shift, bias=bias, vth=int(ly.neuron.vth_mant) << 6,
                i_decay=int(ly.neuron.i_decay), v_decay=int(ly.neuron.v_decay), dtype=dtype,
                fast=fast, clamp24=bound >= _U_MAX,
            ))
            depth += 1

    @classmethod
    def from_file(cls, path, input_shape=None, device=None) -> FixedPointNet:
        return cls(read_netx(path, input_shape=input_shape), device=device)

    @property
    def depths(self) -> list[int]:
        return [ly.depth for ly in self.layers]

    def _synapse(self, layer: _Layer, s):
        """Integer synaptic input for all steps at once; s: (B, *in, T) bool."""
        import torch

        ly = layer.spec
        b, t = s.shape[0], s.shape[-1]
        x = s.to(layer.dtype)
        if ly.kind == "conv":
            x = x.permute(0, 4, 1, 2, 3).reshape(b * t, *x.shape[1:4])
            a = torch.nn.functional.conv2d(x, layer.weight, stride=ly.stride, padding=ly.padding,
                                           dilation=ly.dilation, groups=ly.groups)
            a = torch.round(a).to(torch.int64)
            if layer.clamp24:
                a = ((a + _U_MAX) % (1 << 24)) - _U_MAX  # signed_clamp(24)
            return a.reshape(b, t, *a.shape[1:]).permute(0, 2, 3, 4, 1)
        x = x.reshape(b, -1, t)  # flatten (C, H, W) in C order, like netx
        a = torch.einsum("oi,bit->bot", layer.weight, x)
        a = torch.round(a).to(torch.int64)
        return a >> layer.shift  # arithmetic shift = floor, like numpy

    def _neuron(self, layer: _Layer, a):
        """LIF dynamics over time; a: (B, *out, T) int64 synaptic input
        already delayed. Returns spikes (B, *out, T) bool."""
        import torch

        t_steps = a.shape[-1]
        a = a.movedim(-1, 0).contiguous()  # time first: each step is one contiguous block
        out = torch.zeros(a.shape, dtype=torch.bool, device=a.device)
        u = torch.zeros(a.shape[1:], dtype=torch.int64, device=a.device)
        v = torch.zeros_like(u)
        bias = layer.bias if layer.bias is not None else 0
        step = self._fast_step if layer.fast else self._exact_step
        for t in range(layer.depth, t_steps):
            u, v, spk = step(layer, u, v, a[t], bias)
            out[t] = spk
        return out.movedim(0, -1)

    @staticmethod
    def _fast_step(layer: _Layer, u, v, a_t, bias):
        """One step when the layer's static bounds prove that no int32
        overflow can happen in Lava (|a << 6| <= 2**24, decays in 0..4096):
        then |u| <= 2**23 always and only the one-shot 24-bit wrap remains."""
        import torch

        cur = a_t << 6
        if layer.i_decay != 4096:
            cur = cur + (u if layer.i_decay == 0 else
                         torch.div(u * (4096 - layer.i_decay), 4096, rounding_mode="trunc"))
        u = torch.where(cur > _U_MAX, cur - 2 * _U_MAX, torch.where(cur <= -_U_MAX, cur + 2 * _U_MAX, cur))
        vol = u + bias
        if layer.v_decay != 4096:
            vol = vol + (v if layer.v_decay == 0 else
                         torch.div(v * (4096 - layer.v_decay), 4096, rounding_mode="trunc"))
        v = torch.clamp(vol, -_U_MAX + 1, _U_MAX - 1)
        spk = v > layer.vth
        return u, v.masked_fill(spk, 0), spk

    @staticmethod
    def _exact_step(layer: _Layer, u, v, a_t, bias):
        """One step with every int32 wrap of PyLifResetModelBitAcc emulated."""
        import torch

        cur = _wrap32(_decay(u, layer.i_decay))
        cur = _wrap32(cur + _wrap32(a_t << 6))
        wrapped = torch.where(cur > _U_MAX, cur - 2 * _U_MAX, cur)
        u = _wrap32(torch.where(wrapped <= -_U_MAX, cur + 2 * _U_MAX, wrapped))
        vol = _wrap32(_wrap32(_decay(v, layer.v_decay)) + u + bias)
        v = torch.clamp(vol, -_U_MAX + 1, _U_MAX - 1)
        spk = v > layer.vth
        return u, v.masked_fill(spk, 0), spk

    def forward(self, spikes) -> list:
        """All neuron layers' spikes (bool tensors, SLAYER layout) for one batch
        of input spikes (B, C, H, W, T) or (B, F, T)."""
        import torch

        with torch.no_grad():
            s = torch.as_tensor(np.asarray(spikes), device=self.device) != 0
            outs = []
            for layer in self.layers:
                a = self._synapse(layer, s)
                # one step of synaptic delay: input at t is the synapse output of t-1
                a = torch.nn.functional.pad(a[..., :-1], (1, 0))
                s = self._neuron(layer, a)
                outs.append(s)
            return outs


def _check_input(spec: NetxSpec, spikes: np.ndarray) -> None:
    if spikes.ndim not in (3, 5):
        raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {spikes.shape}")
    if tuple(spikes.shape[1:-1]) != tuple(spec.input_shape):
        raise ScaLavaError(
            f"{spec.path}: input shape {tuple(spikes.shape[1:-1])} does not match the network input "
            f"{tuple(spec.input_shape)}"
        )
    if spikes.shape[0] == 0 or spikes.shape[-1] == 0:
        raise ScaLavaError("no samples or no time steps to run")


def _resolve_device(device):
    from sca_lava.device import resolve_device

    return resolve_device(device)


def run_fixed_point(path, spikes, record_all: bool = False, batch_size: int = 128, device=None,
                    progress: bool = True, spec: NetxSpec | None = None):
    """Drop-in for :func:`run_lava`: same arguments and result type
    (:class:`~sca_lava.netx.record.SpikeRecord`), computed batched."""
    from tqdm.auto import tqdm

    spikes = np.asarray(spikes)
    if spikes.ndim not in (3, 5):
        raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {spikes.shape}")
    spec = spec or read_netx(path, input_shape=tuple(spikes.shape[1:-1]))
    _check_input(spec, spikes)
    if batch_size < 1:
        raise ScaLavaError("batch size must be at least 1")
    net = FixedPointNet(spec, device=_resolve_device(device))
    n = spikes.shape[0]
    last = len(net.layers) - 1
    keep = range(len(net.layers)) if record_all else [last]
    chunks: dict[int, list] = {j: [] for j in keep}
    start = time.perf_counter()
    with tqdm(total=n, desc="fixed-point", unit="sample", disable=not progress, leave=False) as bar:
        for lo in range(0, n, batch_size):
            outs = net.forward(spikes[lo:lo + batch_size])
            for j in keep:
                chunks[j].append(outs[j].to("cpu").numpy().astype(np.uint8))
            bar.update(min(batch_size, n - lo))
    seconds = time.perf_counter() - start
    return SpikeRecord(spec=spec, layer_spikes={j: np.concatenate(c) for j, c in chunks.items()},
                       seconds=seconds, source="fixed-point", input=spikes)


# --------------------------------------------------------------------------- evaluation


def fixed_point_batches(net: FixedPointNet, spikes: np.ndarray, labels: np.ndarray | None = None,
                        batch_size: int = 128, bar=None) -> Iterator[LayerBatch]:
    """The evaluator's batches for the one measurement loop
    (:func:`sca_lava.metrics.measure`): what each layer received and emitted."""
    import torch

    for lo in range(0, spikes.shape[0], batch_size):
        x = spikes[lo:lo + batch_size]
        outs = net.forward(x)
        yield LayerBatch([torch.as_tensor(x, device=net.device), *outs[:-1]], outs,
                         None if labels is None else labels[lo:lo + batch_size])
        if bar is not None:
            bar.update(x.shape[0])


@dataclass
class EvaluationReport:
    """Deployed (fixed-point) accuracy and activity of a netx network. SynOps
    are the fan-out count of :mod:`sca_lava.metrics` (every synapse a spike
    reaches, zero weights included), per sample."""

    path: str
    num_samples: int
    num_steps: int
    accuracy: float
    correct: int
    layers: list[dict]
    synops_per_sample: float
    seconds: float
    samples_per_s: float
    device: str
    verify: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "path": self.path, "num_samples": self.num_samples, "num_steps": self.num_steps,
            "accuracy": self.accuracy, "correct": self.correct, "layers": self.layers,
            "synops_per_sample": self.synops_per_sample, "seconds": self.seconds,
            "samples_per_s": self.samples_per_s, "device": self.device, "verify": self.verify,
            **self.extra,
        }


def evaluate_netx(path, spikes, labels, batch_size: int = 128, device=None, verify: int = 0,
                  progress: bool = True, input_shape=None) -> EvaluationReport:
    """Deployed accuracy of the netx file at ``path`` on ``spikes`` (N, C, H, W, T)
    or (N, F, T) with ``labels`` (N,), plus firing rates and SynOps per layer.

    ``verify = k > 0`` also runs the first ``k`` samples in the real Lava
    runtime and reports how many samples differ and where the first diverges.
    """
    from tqdm.auto import tqdm

    spikes = np.asarray(spikes)
    labels = np.asarray(labels).ravel()
    if spikes.ndim not in (3, 5):
        raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {spikes.shape}")
    if labels.shape[0] != spikes.shape[0]:
        raise ScaLavaError(f"{labels.shape[0]} labels for {spikes.shape[0]} samples")
    if batch_size < 1:
        raise ScaLavaError("batch size must be at least 1")
    if verify < 0:
        raise ScaLavaError("--verify must be 0 or a positive number of samples")
    spec = read_netx(path, input_shape=input_shape or tuple(spikes.shape[1:-1]))
    _check_input(spec, spikes)
    dev = _resolve_device(device)
    net = FixedPointNet(spec, device=dev)
    n, t = spikes.shape[0], spikes.shape[-1]
    nl = len(net.layers)
    if labels.size and (labels.min() < 0 or labels.max() >= int(np.prod(spec.output_shape))):
        raise ScaLavaError(f"labels must lie in 0..{int(np.prod(spec.output_shape)) - 1}")
    metrics = [Accuracy(), SynOps([ly.spec for ly in net.layers]), SpikeCount(nl)]
    start = time.perf_counter()
    with tqdm(total=n, desc="evaluate", unit="sample", disable=not progress, leave=False) as bar:
        res = measure(fixed_point_batches(net, spikes, labels, batch_size, bar), metrics)
    seconds = time.perf_counter() - start
    correct = metrics[0].correct
    synops = np.asarray(res["synops"])
    layers = []
    for j, ly in enumerate(net.layers):
        neurons = int(np.prod(ly.spec.out_shape))
        layers.append({
            "layer": j, "file_index": ly.spec.index, "kind": ly.spec.kind,
            "shape": list(ly.spec.out_shape), "neurons": neurons,
            "firing_rate": res["spikes"]["firing_rate"][j],
            "spikes_per_sample": res["spikes"]["spikes_per_sample"][j],
            "synops_per_sample": float(synops[j]),
        })
    report = EvaluationReport(
        path=str(path), num_samples=int(n), num_steps=int(t), accuracy=correct / n, correct=correct,
        layers=layers, synops_per_sample=float(synops.sum()), seconds=seconds,
        samples_per_s=n / seconds if seconds > 0 else float("inf"), device=dev,
    )
    if verify:
        from sca_lava.deploy.lava_runner import run_lava

        k = min(int(verify), n)
        lava = run_lava(str(path), spikes[:k], record_all=True, progress=progress, spec=spec)
        fixed = run_fixed_point(str(path), spikes[:k], record_all=True, batch_size=batch_size,
                                device=dev, progress=False, spec=spec)
        report.verify = first_divergence(fixed.layer_spikes, lava.layer_spikes)
        report.verify["lava_seconds"] = lava.seconds
        report.verify["lava_samples_per_s"] = k / lava.seconds if lava.seconds > 0 else None
    return report
