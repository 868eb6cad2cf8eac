"""Run a netx HDF5 network as real Lava processes (``Loihi2SimCfg``, fixed
point) and stream many samples through one network instance.

Why streaming: building a Lava network per sample is slow and leaks memory,
so the network is built once with ``reset_interval = T`` (netx resets every
layer's current and voltage at the start of each sample, layer by layer along
the pipeline) and all samples are fed back to back from one RingBuffer.

Pipeline attribution: every synapse in Lava delays by one step, exactly like
SLAYER's ``delay_shift``. So the first ``d`` steps of layer ``j``'s output
window for sample ``k`` (``d`` = the layer's pipeline depth) still carry the
tail of sample ``k-1``; SLAYER cuts that tail off and has structural zeros
there. :func:`run_lava` attributes those steps to the sample that caused them,
which makes the per-sample spikes comparable to SLAYER's one to one.

The runtime is always stopped, also when the run fails.
"""

from __future__ import annotations

import contextlib
import io as _io
import logging
import warnings

import numpy as np

from sca_lava.deploy.guard import lava_guard
from sca_lava.deploy.modes import MODES, default_mode, pipeline_depths, state_layers
from sca_lava.errors import ScaLavaError
from sca_lava.netx.record import SpikeRecord, first_divergence, make_drive, read_for
from sca_lava.netx.spec import NetxSpec


def import_lava():
    """Import Lava's runtime. Lava calls ``multiprocessing.set_start_method('fork')``
    at import time, which fails if anything (a tqdm progress bar's lock, for
    one) already fixed the start method; the default context is unset again
    in that case, since Lava's processes need 'fork' anyway."""
    import multiprocessing
    import sys

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules:
        default = multiprocessing.context._default_context
        actual = default._actual_context
        if actual is not None:
            if actual._name != "fork":
                raise ScaLavaError(f"Lava needs the 'fork' multiprocessing start method, but it is set to {actual._name!r}")
            default._actual_context = None
    from sca_lava._lava_dl import slayer

    slayer()  # netx imports SLAYER: mute its start-up chatter first
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    return netx, RunSteps, Loihi2SimCfg, io


#: netx ``reset_offset`` of a network without input neuron: the source feeds the
#: first synapse, which adds one step, so its first layer resets one step later.
RESET_OFFSET = 1


def to_lava_input(spikes: np.ndarray, flat: bool = False) -> np.ndarray:
    """(N, C, H, W, T) -> (W, H, C, N*T); (N, F, T) -> (F, N*T); with
    ``flat`` any (N, *shape, T) -> (C*H*W, N*T) in C order (netx's flatten)."""
    n, t = spikes.shape[0], spikes.shape[-1]
    if flat:
        spikes = spikes.reshape(n, -1, t)
    if spikes.ndim == 5:
        return np.ascontiguousarray(spikes.transpose(3, 2, 1, 0, 4)).reshape(*spikes.shape[3:0:-1], n * t)
    if spikes.ndim == 3:
        return np.ascontiguousarray(spikes.transpose(1, 0, 2)).reshape(spikes.shape[1], n * t)
    raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {spikes.shape}")


def from_lava_output(data: np.ndarray, n: int, t: int, depth: int) -> np.ndarray:
    """Lava sink data (W, H, C, N*T) or (F, N*T) -> SLAYER layout with pipeline
    attribution (see module docstring)."""
    per_sample = data.reshape(-1, n, t).copy()
    per_sample[:, :, :depth] = 0  # the previous sample's tail, cut off by SLAYER
    if data.ndim == 4:
        w, h, c = data.shape[:3]
        return per_sample.reshape(w, h, c, n, t).transpose(3, 2, 1, 0, 4)
    return per_sample.transpose(1, 0, 2)


def _to_slayer(arr: np.ndarray) -> np.ndarray:
    """One sample's Lava array (W, H, C[, T]) or (F[, T]) -> SLAYER (C, H, W[, T])."""
    if arr.ndim >= 3:
        return arr.transpose(2, 1, 0, *range(3, arr.ndim))
    return arr


def _build(netx, spec: NetxSpec, reset_interval, reset_offset):
    with contextlib.redirect_stdout(_io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {}
        if not spec.has_input_neuron:
            kwargs["input_shape"] = spec.lava_input_shape
        net = netx.hdf5.Network(net_config=spec.path, num_layers=spec.num_layers,
                                reset_interval=reset_interval, reset_offset=reset_offset, **kwargs)
    if len(net.layers) != len(spec.neuron_layers):
        raise ScaLavaError(f"{spec.path}: netx built {len(net.layers)} layers, expected {len(spec.neuron_layers)}")
    return net


def _connect_drive(io, net, spec: NetxSpec, data: np.ndarray | None):
    """Spikes into the first synapse, or into the input neuron's a_in."""
    if data is None:
        return None
    source = io.source.RingBuffer(data=data.astype(np.int32))
    if spec.has_input_neuron:
        source.s_out.connect(net.in_layer.neuron.a_in)
    else:
        source.s_out.connect(net.inp)
    return source


def run_lava(
    path: str | None,
    spikes: np.ndarray | None = None,
    record_all: bool = False,
    chunk: int = 10,
    progress: bool = True,
    spec: NetxSpec | None = None,
    *,
    bias: np.ndarray | None = None,
    steps: int | None = None,
    mode: str | None = None,
    reset_interval: int | None = None,
    record_state=False,
) -> SpikeRecord:
    """Run N samples through the netx network in the Lava runtime and return
    its :class:`SpikeRecord` (the evaluator's twin: same arguments).

    ``spikes`` (N, *input_shape, T): into the first synapse, or into the input
    neuron's ``a_in`` when the input layer has one; ``bias`` (N, *input_shape)
    with ``steps``: the input layer's ``bias_mant`` per sample. ``mode``
    ``"stream"`` (default for CUBA-LIF without delays) streams all samples
    through one network reset every T steps; ``"fresh"`` (SDNN, delays)
    builds one network per sample, optionally reset every ``reset_interval``
    steps, and can record layers' state per step (``record_state``: True for
    every recorded layer, or their indices; reading state is slow in Lava).
    ``record_all`` keeps every neuron layer's output, else only the last.
    """
    import time

    if spec is None:
        spec = read_for(path, spikes, bias)
    drive = make_drive(spec, spikes, bias, steps)
    mode = mode or default_mode(spec)
    if mode not in MODES:
        raise ScaLavaError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "stream" and default_mode(spec) == "fresh":
        raise ScaLavaError(f"{spec.path}: SDNN or delayed networks cannot be streamed with resets; use mode 'fresh'")
    if record_state and mode != "fresh":
        raise ScaLavaError("per-step state is recorded only in mode 'fresh'")
    recorded = list(range(len(spec.neuron_layers))) if record_all else [len(spec.neuron_layers) - 1]
    with_state = state_layers(record_state, recorded)

    from sca_lava.progress import progress_bar

    netx, RunSteps, Loihi2SimCfg, io = import_lava()
    logging.getLogger("lava").setLevel(logging.ERROR)
    n, t = drive.samples, drive.steps
    graded = [ly.neuron.graded for ly in spec.neuron_layers]
    depths = pipeline_depths(spec)
    offset = 0 if spec.has_input_neuron else RESET_OFFSET
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={
        io.extractor.Extractor: io.extractor.PyLoihiExtractorModel})  # it has no fixed_pt tag
    start = time.perf_counter()
    outs: dict[int, list] = {j: [] for j in recorded}
    states: dict[int, dict[str, list]] = {j: {} for j in with_state}
    with progress_bar(total=n, desc="Lava", unit="sample", enabled=progress) as bar:
        if mode == "stream":
            raw = _run_stream(netx, RunSteps, io, cfg, spec, drive, recorded, offset, chunk, bar)
            for j in recorded:
                outs[j] = [from_lava_output(raw[j], n, t, depths[j])]
        else:
            interval = None if spec.sdnn else reset_interval
            for k in range(n):
                data, st = _run_fresh(netx, RunSteps, io, cfg, spec, drive.batch(k, k + 1), recorded,
                                      interval, offset, with_state)
                for j in recorded:
                    outs[j].append(_to_slayer(data[j])[None])
                for j in with_state:
                    for key, v in st.get(j, {}).items():
                        states[j].setdefault(key, []).append(_to_slayer(v)[None])
                bar.update(1)
    seconds = time.perf_counter() - start
    layer_spikes = {}
    for j in recorded:
        arr = np.concatenate(outs[j])
        layer_spikes[j] = arr.astype(np.int32) if graded[j] else (arr != 0).astype(np.uint8)
    extra = {"mode": mode, "depths": depths, "reset_interval": t if mode == "stream" else reset_interval}
    if drive.bias is not None:
        extra["bias"] = drive.bias
    if record_state:
        extra["state"] = {j: {k: np.concatenate(v) for k, v in st.items()} for j, st in states.items()}
    return SpikeRecord(spec=spec, layer_spikes=layer_spikes, seconds=seconds, source="lava",
                       input=drive.received, extra=extra)


class _Taps:
    """Every recorded layer's output, one array per step, through Lava
    ``Extractor`` processes. Why not a RingBuffer sink: its buffer is read
    back with ``Var.get``, which Lava sends one element per message (16 of
    18.7 s of a 12-sample run of the small net, every layer recorded).

    A run is cut into blocking pieces of at most :attr:`BUFFER` steps, drained
    after each: an extractor's channel holds that many arrays, so it never
    blocks, and an error in a Lava process still surfaces from ``net.run``
    (a reader waiting on a non-blocking run would wait for ever)."""

    BUFFER = 64  # arrays per extractor channel: Lava's own channel size (pypy_channel_size)

    def __init__(self, io, layers, recorded):
        self.ext = {}
        for j in recorded:
            self.ext[j] = io.extractor.Extractor(shape=layers[j].out.shape, buffer_size=self.BUFFER)
            layers[j].out.connect(self.ext[j].in_port)
        self.steps: dict[int, list] = {j: [] for j in recorded}

    def run(self, net, RunSteps, cfg, steps: int, guard) -> None:
        """``steps`` steps of ``net``, every tapped layer's output collected."""
        done = 0
        while done < steps:
            piece = min(self.BUFFER, steps - done)
            net.run(condition=RunSteps(num_steps=piece), run_cfg=cfg)
            guard.checkpoint()  # the run is up: a pending signal stops it here
            for _ in range(piece):
                for j, e in self.ext.items():
                    self.steps[j].append(e.receive())
            done += piece

    def data(self) -> dict[int, np.ndarray]:
        """{layer: (*Lava shape, steps)}, the layout of a RingBuffer sink's data."""
        return {j: np.stack(v, -1) for j, v in self.steps.items()}


def _wired(netx, io, spec: NetxSpec, drive, recorded, reset_interval, reset_offset):
    """The network built, its input connected and every recorded layer
    tapped: (net, layers, taps)."""
    net = _build(netx, spec, reset_interval, reset_offset)
    layers = list(net.layers)
    data = None if drive.spikes is None else to_lava_input(drive.spikes, flat=spec.flat_input)
    _connect_drive(io, net, spec, data)
    return net, layers, _Taps(io, layers, recorded)


def _run_stream(netx, RunSteps, io, cfg, spec, drive, recorded, offset, chunk, bar) -> dict[int, np.ndarray]:
    """All samples back to back through one network reset every T steps."""
    n, t = drive.samples, drive.steps
    net, layers, taps = _wired(netx, io, spec, drive, recorded, t, offset)
    bias_var = net.in_layer.neuron.bias_mant if drive.bias is not None else None
    if bias_var is not None:
        bias_var.init = _lava_bias(drive.bias[0])
    with lava_guard() as guard:  # signals stop the runtime; no child outlives us
        try:
            done = 0
            while done < n:
                if bias_var is not None:  # one sample per run: its bias, then T steps
                    if done:
                        bias_var.set(_lava_bias(drive.bias[done]))
                    step = 1
                else:
                    step = min(chunk, n - done)
                taps.run(net, RunSteps, cfg, step * t, guard)
                done += step
                bar.update(step)
            return taps.data()
        finally:
            guard.stop(net)


def _lava_bias(b: np.ndarray) -> np.ndarray:
    """One sample's bias (C, H, W) or (F,) -> Lava's (W, H, C) int32."""
    return np.ascontiguousarray(b.transpose(2, 1, 0) if b.ndim == 3 else b).astype(np.int32)


_STATE_VARS = {"lif": ("u", "v"), "sigma_delta": ("sigma",), "sigma": ("sigma",), "delta": ()}


def _run_fresh(netx, RunSteps, io, cfg, spec, drive, recorded, interval, offset, with_state):
    """One sample in its own network from zero state (step by step when
    recording the state of layers ``with_state``). Returns ({layer: (W, H, C, T) output},
    {layer: {var: (..., T)}})."""
    t = drive.steps
    net, layers, taps = _wired(netx, io, spec, drive, recorded, interval, offset)
    if drive.bias is not None:
        net.in_layer.neuron.bias_mant.init = _lava_bias(drive.bias[0])
    states: dict[int, dict[str, list]] = {j: {} for j in with_state}
    with lava_guard() as guard:  # signals stop the runtime; no child outlives us
        try:
            if with_state:
                for _ in range(t):
                    taps.run(net, RunSteps, cfg, 1, guard)
                    for j in with_state:
                        model = spec.neuron_layers[j].neuron.model
                        for var in _STATE_VARS[model]:
                            states[j].setdefault(var, []).append(np.asarray(getattr(layers[j].neuron, var).get()))
            else:
                taps.run(net, RunSteps, cfg, t, guard)
            out = taps.data()
        finally:
            guard.stop(net)
    st = {j: {k: np.stack(v, -1) for k, v in d.items()} for j, d in states.items() if d}
    return out, st


def cross_check(fixed: SpikeRecord, spikes, bias, n: int, *, progress: bool = False,
                lava: SpikeRecord | None = None) -> dict:
    """The evaluator's every-layer record of the first ``n`` samples against
    the real Lava runtime on them (run here, or ``lava``, a record of them):
    samples checked, mismatching samples and the first mismatch (layer and
    step), the fraction of identical samples, Lava's time."""
    if lava is None:
        lava = run_lava(fixed.spec.path, None if spikes is None else np.asarray(spikes)[:n], record_all=True,
                        progress=progress, spec=fixed.spec, bias=None if bias is None else np.asarray(bias)[:n],
                        steps=fixed.output.shape[-1], mode=fixed.extra.get("mode"))
    check = first_divergence({j: s[:n] for j, s in fixed.layer_spikes.items()},
                             {j: s[:n] for j, s in lava.layer_spikes.items()})
    check["agreement"] = 1.0 - check["mismatching_samples"] / n
    check["lava_seconds"] = lava.seconds
    check["lava_samples_per_s"] = n / lava.seconds if lava.seconds > 0 else None
    return check
