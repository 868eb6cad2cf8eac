"""Batched, bit-exact PyTorch replica of a netx network running in Lava.

Why: Lava's CPU simulation runs one sample at a time at tens of ms per step,
so the deployed accuracy of a fixed-point network on a whole test set takes
hours. This module rebuilds the same network from its :class:`NetxSpec` as
integer arithmetic in torch (int64 state, convolutions in float32/float64
only where every partial sum is an exactly representable integer: float32 for
binary spikes while sums stay below 2**24, float64 for graded payloads; on
CUDA without TF32, see :func:`sca_lava.device.exact_cuda_math`) and runs many samples per
batch, on CPU or CUDA.

What is reproduced (lava-nc 0.10.0 / lava-dl 0.6.0, ``Loihi2SimCfg(
select_tag='fixed_pt')``), per layer:

* synapse: one step of delay (Lava sends last step's accumulation first);
  binary inputs are ``!= 0``, graded payloads (after an SDNN layer) are used
  as integers. conv (``PyConvModelFixed``): the file's integer weights as
  they are (netx flips the kernel and Lava flips it back, so it is torch's
  correlation), the sum wrapped to signed 24 bit. dense
  (``PyDenseModelBitAcc`` after netx's ``optimize_weight_bits``): weights
  shifted left by ``scale_bits``, clipped to 8 bit by sign mode, the low bits
  truncated, the sum shifted right again (floor); with synaptic delays
  (``PyDelayDenseModelBitAcc``) each delay class is shifted on its own and
  arrives ``1 + delay`` steps later.
* CUBA-LIF neuron (``PyLifResetModelBitAcc``): activation ``<< 6``, current
  and voltage decays as sign-magnitude ``>> 12`` with ``du = iDecay`` and
  ``dv = vDecay``, the one-shot 24-bit wrap of ``u``, ``v`` clipped to
  +-(2**23 - 1), bias ``bias_mant << 6``, spike when ``v > vThMant << 6``,
  reset ``v`` to 0. netx does not pass ``refDelay`` to Lava. An input layer
  with a neuron takes its drive directly (no synapse): values into ``a_in``
  or a per-sample ``bias_mant`` (Intel's PilotNet).
* sigma-delta (``PySigmaDeltaModelFixed``, ``PyDeltaModelFixed``,
  ``PySigmaModelFixed`` with netx's ``spike_exp = state_exp = 6``):
  ``sigma += a``; ``act = ReLU(sigma + bias << 12)``; ``delta = act - act_prev
  + residue``; sent ``delta >> 6`` where ``|delta| >= vThMant << 12``, the
  rest kept as residue; the SDNN input layer encodes ``a_in << 12`` the same
  way without ReLU; a ``sigma_output`` layer sends its ``sigma``.
* flatten: netx flattens (C, H, W) in C order, i.e. torch's ``reshape``.

Two ways to run N samples (``mode``), the same in :func:`run_lava`:

* ``"stream"`` (CUBA-LIF without delays, the default there): one network,
  reset every ``T`` steps (netx ``reset_interval``), layer ``k`` resetting at
  step ``depth_k`` of each window; the first ``depth_k`` steps of its window
  (the previous sample's tail in Lava) are reported as zero, so samples are
  independent.
* ``"fresh"`` (SDNN, delays, or on request): every sample starts from zero
  state, as if run alone, optionally with resets every ``reset_interval``
  steps; nothing is masked, so the first steps show each layer's own
  dynamics (what Intel's recordings hold).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sca_lava.deploy.modes import (
    MODES,
    check_supported,
    default_mode,
    pipeline_depths,
    state_layers,
)
from sca_lava.deploy.weights import dense_effective_weights
from sca_lava.device import exact_cuda_math
from sca_lava.errors import ScaLavaError
from sca_lava.metrics import LayerBatch
from sca_lava.netx.reader import LayerSpec, NetxSpec, read_netx
from sca_lava.netx.record import Drive, SpikeRecord, make_drive, read_for

_U_MAX = 1 << 23  # 24-bit state: max_uv_val


# --------------------------------------------------------------------------- model


@dataclass
class _Layer:
    spec: LayerSpec
    pos: int  # position among neuron layers
    depth: int  # reset step within a window (see pipeline_depths)
    model: str  # lif | sigma_delta | delta | sigma
    weight: object = None  # conv: tensor; dense: tensor, or list of (delay, tensor)
    shift: int = 0  # dense right shift
    graded_in: bool = False  # the synapse receives integer payloads, not binary spikes
    bias: object = None  # int64 tensor broadcastable to (B, *out_shape), already shifted
    vth: int = 0  # threshold in state units
    i_decay: int = 0
    v_decay: int = 0
    dtype: object = None
    fast: bool = False  # static bounds rule out int32 overflow (see _fast_step)
    clamp24: bool = True  # conv sums may leave 24 bit: apply signed_clamp
    wrap32: bool = False  # graded dense sums may leave int32 (numpy int32 dot in Lava)


def _wrap32(x):
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def _decay(x, decay: int):
    """Lava's sign-magnitude decay: sign(x*(4096-d)) * (|x*(4096-d)| >> 12)."""
    import torch

    prod = x * (4096 - decay)
    return torch.sign(prod) * (torch.abs(prod) >> 12)


#: largest |payload| a graded layer sends: a delta >> 6 of an int32 that may wrap (Lava keeps
#: the state in int32 numpy arrays; "24 bit" is only declared), a sigma_output layer its int32 sigma.
#: So a graded synapse always sums in float64, exact while the bound stays below 2**53.
_PAYLOAD_MAX = {"delta": 1 << 25, "sigma_delta": 1 << 25, "sigma": 1 << 31}


class FixedPointNet:
    """A netx network as batched integer torch code, equal to Lava's fixed-point run."""

    def __init__(self, spec: NetxSpec, device=None):
        import torch

        check_supported(spec)
        self.spec = spec
        self.device = torch.device(device or "cpu")
        self.layers: list[_Layer] = []
        for pos, (ly, depth) in enumerate(zip(spec.neuron_layers, pipeline_depths(spec))):
            self.layers.append(self._build(ly, pos, depth))

    def _build(self, ly: LayerSpec, pos: int, depth: int) -> _Layer:
        import torch

        n = ly.neuron
        layer = _Layer(spec=ly, pos=pos, depth=depth, model=n.model, graded_in=ly.input_message_bits > 0)
        if n.model == "lif":
            layer.vth, layer.i_decay, layer.v_decay = int(n.vth_mant) << 6, int(n.i_decay), int(n.v_decay)
        else:
            layer.vth = int(n.vth_mant) << 12
        if ly.bias is not None and np.any(ly.bias):
            b = np.asarray(ly.bias).astype(np.int64)
            b = b << (6 if n.model == "lif" else 12)
            shape = (1, -1, 1, 1) if (ly.kind == "conv" and b.ndim == 1) else (1, *b.shape)
            layer.bias = torch.as_tensor(b, device=self.device).reshape(shape)
        if ly.kind == "input":
            # a_in is capped at 2**15 (make_drive) and decays at 0..4096 (the reader): no overflow
            layer.fast = n.model == "lif"
            return layer
        w = np.asarray(ly.weight).astype(np.int64)
        if ly.kind == "dense":
            w, layer.shift = dense_effective_weights(w)
            fan_in = w.shape[1]
        else:
            fan_in = w.shape[1] * w.shape[2] * w.shape[3]
        amp = _PAYLOAD_MAX[self.layers[-1].model] if layer.graded_in else 1
        bound = int(np.abs(w).max(initial=0)) * fan_in * amp  # max |synaptic sum|
        # float32 is exact while every partial sum stays below 2**24
        layer.dtype = torch.float32 if bound < (1 << 24) else torch.float64
        layer.clamp24 = bound >= _U_MAX
        layer.wrap32 = bound >= (1 << 31)
        a_bound = (bound >> layer.shift) + 1
        layer.fast = n.model == "lif" and (a_bound << 6) <= (1 << 24) and all(
            0 <= d <= 4096 for d in (layer.i_decay, layer.v_decay))
        if ly.kind == "dense" and ly.delay is not None and ly.delay.any():
            layer.weight = [(int(k), torch.as_tensor(np.where(ly.delay == k, w, 0), dtype=layer.dtype,
                                                     device=self.device))
                            for k in np.unique(ly.delay)]
        else:
            layer.weight = torch.as_tensor(w, dtype=layer.dtype, device=self.device)
        return layer

    @classmethod
    def from_file(cls, path, input_shape=None, device=None) -> FixedPointNet:
        return cls(read_netx(path, input_shape=input_shape), device=device)

    @property
    def depths(self) -> list[int]:
        return [ly.depth for ly in self.layers]

    def _synapse(self, layer: _Layer, s):
        """Integer synaptic input for all steps at once, delayed as in Lava;
        s: (B, *in, T) bool or int64 payloads."""
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
            a = a.reshape(b, t, *a.shape[1:]).permute(0, 2, 3, 4, 1)
            return torch.nn.functional.pad(a[..., :-1], (1, 0))
        x = x.reshape(b, -1, t)  # flatten (C, H, W) in C order, like netx
        classes = layer.weight if isinstance(layer.weight, list) else [(0, layer.weight)]
        out = None
        for k, w in classes:
            a = torch.round(torch.einsum("oi,bit->bot", w, x)).to(torch.int64)
            if layer.wrap32:
                a = _wrap32(a)
            a = a >> layer.shift  # arithmetic shift = floor, like numpy; per delay class
            if out is None:
                out = torch.zeros_like(a)
            if k + 1 < t:
                out[..., k + 1:] += a[..., :t - k - 1]
        return out

    def _resets(self, layer: _Layer, t_steps: int, reset_interval: int | None) -> set[int]:
        if layer.model != "lif" or not reset_interval:
            return set()
        return {t for t in range(t_steps) if t % reset_interval == layer.depth % reset_interval}

    def _neuron(self, layer: _Layer, a, drive_bias=None, reset_interval=None, state=None):
        """Neuron dynamics over time; a: (B, *out, T) int64 input already
        delayed. Returns (B, *out, T) bool spikes (LIF) or int64 payloads."""
        import torch

        t_steps = a.shape[-1]
        a = a.movedim(-1, 0).contiguous()  # time first: each step is one contiguous block
        resets = self._resets(layer, t_steps, reset_interval)
        bias = layer.bias if layer.bias is not None else 0
        if drive_bias is not None:
            bias = bias + (drive_bias << 6)
        if layer.model == "lif":
            out = torch.zeros(a.shape, dtype=torch.bool, device=a.device)
            u = torch.zeros(a.shape[1:], dtype=torch.int64, device=a.device)
            v = torch.zeros_like(u)
            step = self._fast_step if layer.fast else self._exact_step
            rec_u, rec_v = ([], []) if state is not None else (None, None)
            for t in range(t_steps):
                if t in resets:
                    u, v = torch.zeros_like(u), torch.zeros_like(v)
                u, v, spk = step(layer, u, v, a[t], bias)
                out[t] = spk
                if rec_u is not None:
                    rec_u.append(u)
                    rec_v.append(v)
            if state is not None:
                state["u"] = torch.stack(rec_u, -1)
                state["v"] = torch.stack(rec_v, -1)
            return out.movedim(0, -1)
        return self._sdnn(layer, a, bias, state).movedim(0, -1)

    @staticmethod
    def _sdnn(layer: _Layer, a, bias, state):
        """Sigma-delta dynamics, numpy int32 arithmetic as Lava's fixed-point models."""
        import torch

        out = torch.zeros(a.shape, dtype=torch.int64, device=a.device)
        zero = torch.zeros(a.shape[1:], dtype=torch.int64, device=a.device)
        sigma, act, residue = zero, zero, zero
        sig_rec = [] if state is not None else None
        for t in range(a.shape[0]):
            if layer.model == "delta":
                new_act = _wrap32(a[t] << 12)
            else:
                sigma = _wrap32(sigma + a[t])
                if sig_rec is not None:
                    sig_rec.append(sigma)
                if layer.model == "sigma":
                    out[t] = sigma
                    continue
                new_act = torch.clamp(_wrap32(sigma + bias), min=0)
            delta = _wrap32(_wrap32(new_act - act) + residue)
            s = torch.where(torch.abs(delta) >= layer.vth, delta, zero)
            residue = _wrap32(delta - s)
            act = new_act
            out[t] = s >> 6
        if state is not None and sig_rec:
            state["sigma"] = torch.stack(sig_rec, -1)
        return out

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

    def forward(self, spikes=None, bias=None, steps: int | None = None, mode: str = "stream",
                reset_interval: int | None = None, states: list | None = None) -> list:
        """All neuron layers' outputs (SLAYER layout: bool spikes, or int64
        payloads for SDNN layers) for one batch. ``spikes`` (B, *in, T), or
        ``bias`` (B, *in) with ``steps`` for a bias-driven input layer.
        ``mode`` and ``reset_interval``: see the module docstring (stream
        resets every T steps). ``states``: a list that receives one dict per
        layer with its per-step state (``u``, ``v`` or ``sigma``)."""
        import torch

        if mode not in MODES:
            raise ScaLavaError(f"mode must be one of {MODES}, got {mode!r}")
        with torch.no_grad(), exact_cuda_math():
            if spikes is not None:
                x = torch.as_tensor(np.asarray(spikes), device=self.device)
                t = x.shape[-1]
            else:
                t = int(steps)
                x = torch.zeros((*np.asarray(bias).shape, t), dtype=torch.int64, device=self.device)
            interval = t if mode == "stream" else reset_interval
            if self.spec.sdnn:
                interval = None  # netx ignores reset_interval for SDNN
            outs = []
            s = x
            for layer in self.layers:
                state = {} if states is not None else None
                if layer.spec.kind == "input":
                    a = s.to(torch.int64)  # the drive enters the neuron's a_in directly
                    drive_bias = None
                    if bias is not None:
                        b = torch.as_tensor(np.asarray(bias), dtype=torch.int64, device=self.device)
                        drive_bias = b
                    out = self._neuron(layer, a, drive_bias, interval, state)
                else:
                    inp = s.to(torch.int64) if layer.graded_in else (s != 0)
                    out = self._neuron(layer, self._synapse(layer, inp), None, interval, state)
                s = out
                if mode == "stream" and layer.depth:
                    out = out.clone()
                    out[..., :layer.depth] = 0  # the previous sample's tail in Lava's stream
                outs.append(out)
                if states is not None:
                    states.append(state)
            return outs


def _resolve_device(device):
    from sca_lava.device import resolve_device

    return resolve_device(device)


def _as_numpy(t, graded: bool) -> np.ndarray:
    arr = t.to("cpu").numpy()
    return arr.astype(np.int32) if graded else arr.astype(np.uint8)


def run_fixed_point(path, spikes=None, record_all: bool = False, batch_size: int = 128, device=None,
                    progress: bool = True, spec: NetxSpec | None = None, *, bias=None,
                    steps: int | None = None, mode: str | None = None, reset_interval: int | None = None,
                    record_state=False) -> SpikeRecord:
    """Drop-in for :func:`run_lava`: same arguments and result type
    (:class:`~sca_lava.netx.record.SpikeRecord`), computed batched.

    ``record_state`` keeps the per-step ``u``/``v`` (LIF) or ``sigma`` (SDNN)
    of every recorded layer (True) or of the given layer indices in
    ``record.extra["state"][j]``.
    """
    from sca_lava.progress import progress_bar

    if spec is None:
        spec = read_for(path, spikes, bias)
    drive = make_drive(spec, spikes, bias, steps)
    if batch_size < 1:
        raise ScaLavaError("batch size must be at least 1")
    mode = mode or default_mode(spec)
    net = FixedPointNet(spec, device=_resolve_device(device))
    last = len(net.layers) - 1
    keep = range(len(net.layers)) if record_all else [last]
    chunks: dict[int, list] = {j: [] for j in keep}
    state_chunks: dict[int, dict[str, list]] = {j: {} for j in state_layers(record_state, keep)}
    start = time.perf_counter()
    with progress_bar(total=drive.samples, desc="fixed-point", unit="sample", enabled=progress) as bar:
        for lo in range(0, drive.samples, batch_size):
            d = drive.batch(lo, lo + batch_size)
            states = [] if record_state else None
            outs = net.forward(d.spikes, d.bias, drive.steps, mode, reset_interval, states)
            for j in keep:
                chunks[j].append(_as_numpy(outs[j], net.layers[j].model != "lif"))
                if states is not None and j in state_chunks:
                    for k, v in states[j].items():
                        state_chunks[j].setdefault(k, []).append(v.to("cpu").numpy())
            bar.update(d.samples)
    seconds = time.perf_counter() - start
    extra = {"mode": mode, "depths": net.depths, "reset_interval": drive.steps if mode == "stream" else reset_interval}
    if drive.bias is not None:
        extra["bias"] = drive.bias
    if record_state:
        extra["state"] = {j: {k: np.concatenate(v) for k, v in st.items()} for j, st in state_chunks.items()}
    return SpikeRecord(spec=spec, layer_spikes={j: np.concatenate(c) for j, c in chunks.items()},
                       seconds=seconds, source="fixed-point", input=drive.received, extra=extra)


# --------------------------------------------------------------------------- evaluation


def fixed_point_batches(net: FixedPointNet, drive: Drive, labels: np.ndarray | None = None,
                        batch_size: int = 128, bar=None, mode: str = "stream") -> Iterator[LayerBatch]:
    """The evaluator's batches for the one measurement loop
    (:func:`sca_lava.metrics.measure`): what each layer received and emitted
    (graded SDNN payloads as events: one per nonzero payload)."""
    import torch

    for lo in range(0, drive.samples, batch_size):
        d = drive.batch(lo, lo + batch_size)
        outs = [o if ly.model == "lif" else o != 0 for o, ly in zip(net.forward(d.spikes, d.bias, drive.steps, mode),
                                                                  net.layers)]
        yield LayerBatch([torch.as_tensor(d.received, device=net.device), *outs[:-1]], outs,
                         None if labels is None else labels[lo:lo + batch_size])
        if bar is not None:
            bar.update(d.samples)
