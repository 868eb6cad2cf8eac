"""A traced lava-dl network as a NIR graph (:mod:`.mapping` gives the
parameter mapping): conv -> ``Conv2d`` (zero bias), dense -> ``Linear``,
pool -> ``SumPool2d``, flatten -> ``Flatten``, every CUBA neuron group ->
``CubaLIF`` (``IF`` for a layer with no leak), a dense block's axonal
delays -> ``Delay`` after its neurons; ``Input`` and ``Output`` carry the
shapes. Node names are the layer names of every other report (``conv1``,
``conv1_lif``, ...). The file is written by ``nir.write``, atomically."""

from __future__ import annotations

import json
import os

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.models.nir.mapping import (
    DEFAULT_DT,
    META_CONTRACT,
    META_DT,
    META_LATENCY,
    P_SCALE,
    W_SCALE,
    check_dt,
    decay_to_tau,
)


def _neuron(nir, block, label: str, shape, dt: float, gain: float = 1.0):
    """The NIR neuron of a CUBA block (see the mapping's table)."""
    p = block.neuron.device_params
    i_decay, v_decay = (np.asarray(p[k], dtype=np.int64).ravel() for k in ("iDecay", "vDecay"))
    threshold = float(p["vThMant"]) / W_SCALE
    shape = tuple(int(s) for s in shape)

    def full(values) -> np.ndarray:  # one value per neuron; per-channel values along axis 0
        v = np.asarray(values, dtype=np.float64)
        return np.broadcast_to(v.reshape(-1, *([1] * (len(shape) - 1))) if v.size > 1 else v, shape).copy()

    if np.all(i_decay == P_SCALE) and np.all(v_decay == 0):
        return nir.IF(r=full(gain / dt), v_threshold=full(threshold))
    if np.any(i_decay == 0) or np.any(v_decay == 0):
        raise ScaLavaError(f"{label}: a decay of 0 (iDecay {i_decay.tolist()[:4]}, vDecay {v_decay.tolist()[:4]}) "
                           "has no finite time constant in NIR's CubaLIF; only iDecay=4096 with vDecay=0 (IF) is "
                           "exported without leak")
    tau_syn = full(decay_to_tau(i_decay.astype(np.float64), dt))
    tau_mem = full(decay_to_tau(v_decay.astype(np.float64), dt))
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(shape),
                       v_threshold=full(threshold), v_reset=np.zeros(shape), w_in=gain * tau_syn / dt)


def to_nir(graph, dt: float = DEFAULT_DT, contract=None):
    """The NIR graph of a traced network (a :class:`~sca_lava.models.graph.Graph`)."""
    import nir

    from sca_lava.models.export import pool_kernel
    from sca_lava.models.surgery import quantized_weight

    dt = check_dt(dt)
    nodes = {"input": nir.Input(input_type={"input": np.array(graph.input_shape)})}
    chain = ["input"]
    for i, (g, block) in enumerate(zip(graph.layers, graph.blocks)):
        label = graph.label(i)
        if g.kind == "flatten":
            nodes[label] = nir.Flatten(input_type={"input": np.array(g.in_shape)}, start_dim=0, end_dim=-1)
            chain.append(label)
            continue
        gain = 1.0
        if g.kind == "pool":
            kernel = pool_kernel(block) / W_SCALE
            if np.unique(kernel).size != 1:
                raise ScaLavaError(f"{label}: a pool kernel of unequal weights is no SumPool2d")
            gain = float(kernel.ravel()[0])
            nodes[label] = nir.SumPool2d(kernel_size=np.array([g.kernel] * 2), stride=np.array([g.stride] * 2),
                                         padding=np.array([g.padding] * 2))
        else:
            w = quantized_weight(block).double().cpu().numpy()
            if g.kind == "conv":
                nodes[label] = nir.Conv2d(input_shape=tuple(g.in_shape[1:]), weight=w[..., 0],
                                          stride=g.stride, padding=g.padding, dilation=1, groups=1,
                                          bias=np.zeros(w.shape[0]))
            else:
                nodes[label] = nir.Linear(weight=w.reshape(w.shape[0], -1))
        chain.append(label)
        nodes[f"{label}_lif"] = _neuron(nir, block, label, g.out_shape, dt, gain)
        chain.append(f"{label}_lif")
        delay = getattr(block, "delay", None)
        if delay is not None:  # axonal delays as netx deploys them: whole steps
            steps = np.floor(delay.delay.detach().double().cpu().numpy().ravel())
            nodes[f"{label}_delay"] = nir.Delay(delay=np.broadcast_to(steps, g.out_shape).copy() * dt)
            chain.append(f"{label}_delay")
    nodes["output"] = nir.Output(output_type={"output": np.array(graph.output_shape)})
    chain.append("output")
    meta = {META_DT: dt, META_LATENCY: int(sum(g.kind != "flatten" for g in graph.layers))}
    if contract is not None:
        meta[META_CONTRACT] = json.dumps(contract.to_dict(), sort_keys=True)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])), metadata=meta)


def export_nir(graph, path: str | os.PathLike, dt: float = DEFAULT_DT, contract=None):
    """Write a traced network as a NIR file (HDF5, ``nir.write``) atomically;
    returns the NIR graph written."""
    import nir

    from sca_lava.atomic import atomic_path

    g = to_nir(graph, dt, contract)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), g)
    return g
