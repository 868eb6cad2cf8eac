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

import numpy as np

from sca_lava.deploy.guard import lava_guard
from sca_lava.errors import ScaLavaError
from sca_lava.netx.reader import NetxSpec, read_netx
from sca_lava.netx.record import SpikeRecord

#: the runner's result is the shared record (kept under its old name)
LavaResult = SpikeRecord


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


#: netx ``reset_offset`` aligning every layer's reset with its sample start:
#: the source feeds the first synapse, which adds one step, so the first layer
#: resets one step later than netx's default (input-neuron files are refused).
RESET_OFFSET = 1


def pipeline_depths(spec: NetxSpec) -> list[int]:
    """Steps of the previous sample's tail at the start of each neuron layer's
    window (see module docstring): one synapse delay per layer."""
    return [1 + i for i in range(len(spec.neuron_layers))]


def to_lava_input(spikes: np.ndarray) -> np.ndarray:
    """(N, C, H, W, T) -> (W, H, C, N*T); (N, F, T) -> (F, N*T)."""
    n, t = spikes.shape[0], spikes.shape[-1]
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


def run_lava(
    path: str,
    spikes: np.ndarray,
    record_all: bool = False,
    chunk: int = 10,
    progress: bool = True,
    spec: NetxSpec | None = None,
) -> LavaResult:
    """Stream ``spikes`` (N, C, H, W, T) or (N, F, T) through the netx network
    at ``path`` in the Lava runtime and return its spikes.

    ``record_all`` keeps every neuron layer's spikes (for agreement per layer
    and activity counts); otherwise only the output layer is recorded.
    """
    import time

    spikes = np.asarray(spikes)
    if spikes.ndim not in (3, 5):
        raise ScaLavaError(f"input spikes must be (N, C, H, W, T) or (N, F, T), got shape {spikes.shape}")
    spec = spec or read_netx(path, input_shape=tuple(spikes.shape[1:-1]))
    if tuple(spikes.shape[1:-1]) != tuple(spec.input_shape):
        raise ScaLavaError(
            f"{path}: input shape {tuple(spikes.shape[1:-1])} does not match the network input {tuple(spec.input_shape)}"
        )
    n, t = spikes.shape[0], spikes.shape[-1]
    if n == 0 or t == 0:
        raise ScaLavaError("no samples or no time steps to run")
    if spec.has_input_neuron:
        # lava-dl 0.6.0's netx Input block never connects its InPort to its neuron, so
        # connecting a source fails to compile ("No subcompiler ... PyInputModel")
        raise ScaLavaError(
            f"{path}: the input layer has a neuron; netx (lava-dl 0.6.0) leaves its input port "
            "unconnected, so Lava cannot feed spikes into such a network (export without input neuron)"
        )

    from tqdm.auto import tqdm

    netx, RunSteps, Loihi2SimCfg, io = import_lava()

    logging.getLogger("lava").setLevel(logging.ERROR)
    lava_input_shape = tuple(spec.input_shape[::-1])
    with contextlib.redirect_stdout(_io.StringIO()):
        net = netx.hdf5.Network(
            net_config=path,
            input_shape=None if spec.layers[0].kind == "input" else lava_input_shape,
            reset_interval=t,
            reset_offset=RESET_OFFSET,
        )
    neuron_layers = list(net.layers)
    if len(neuron_layers) != len(spec.neuron_layers):
        raise ScaLavaError(f"{path}: netx built {len(neuron_layers)} layers, expected {len(spec.neuron_layers)}")
    source = io.source.RingBuffer(data=to_lava_input(spikes).astype(np.int32))
    source.s_out.connect(net.inp)
    recorded = range(len(neuron_layers)) if record_all else [len(neuron_layers) - 1]
    sinks = {}
    for j in recorded:
        sink = io.sink.RingBuffer(shape=neuron_layers[j].out.shape, buffer=n * t)
        neuron_layers[j].out.connect(sink.a_in)
        sinks[j] = sink

    depths = pipeline_depths(spec)
    start = time.perf_counter()
    with lava_guard() as guard:  # signals stop the runtime; no child outlives us
        try:
            cfg = Loihi2SimCfg(select_tag="fixed_pt")
            done = 0
            with tqdm(total=n, desc="Lava", unit="sample", disable=not progress, leave=False) as bar:
                while done < n:
                    step = min(chunk, n - done)
                    net.run(condition=RunSteps(num_steps=step * t), run_cfg=cfg)
                    guard.checkpoint()  # the run is up: a pending signal stops it here
                    done += step
                    bar.update(step)
            raw = {j: s.data.get() for j, s in sinks.items()}
        finally:
            guard.stop(net)
    seconds = time.perf_counter() - start
    layer_spikes = {j: (from_lava_output(raw[j], n, t, depths[j]) != 0).astype(np.uint8) for j in raw}
    return SpikeRecord(spec=spec, layer_spikes=layer_spikes, seconds=seconds, source="lava", input=spikes)
