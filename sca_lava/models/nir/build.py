"""A NIR chain (:mod:`.chain`) as sca_lava's own lava-dl network: a
:class:`~sca_lava.models.network.SpikingNet` whose
:class:`~sca_lava.models.config.NetworkConfig` records each layer's neuron
parameters, so its checkpoint reloads, trains, prunes, exports and budgets
like any network of sca_lava, no ``--model`` needed.

The conversion to Loihi's fixed point is explicit, layer by layer: decays
become 12-bit integers (``round(4096 dt/tau)``); weights (with every input
gain folded in) and the threshold are multiplied by one positive factor
``scale`` (which leaves the float semantics' spikes unchanged: with no leak
voltage and a reset to 0, the voltage is linear in both) chosen to use the
8-bit weight range, then rounded to SLAYER's grid (weights in steps of
2/64, thresholds of 1/64). Weights already on that grid with a threshold on
its grid (a network exported by sca_lava) keep ``scale = 1``, which makes
export -> import -> export give the same netx file. The error this makes is
measured, not assumed: the float semantics (:mod:`.reference`) and the
fixed-point module run the same sample input spikes and their output
spikes are compared."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.models.nir.mapping import (
    DEFAULT_DT,
    META_CONTRACT,
    META_DT,
    P_SCALE,
    W_SCALE,
    WEIGHT_INT_RANGE,
    check_dt,
    fraction_to_decay,
    on_grid,
    on_weight_grid,
    quantize_weights,
)
from sca_lava.netx.reader import LIF_VTH_MAX as VTH_MANT_MAX


@dataclass
class NirImport:
    """An imported network: the module, its checkpoint (sca_lava's format),
    the float layers it came from and what the conversion did and cost."""

    module: torch.nn.Module
    checkpoint: dict
    layers: list = field(repr=False)
    conversion: list[dict]
    agreement: dict
    dt: float

    def report(self) -> dict:
        return {"dt": self.dt, "layers": self.conversion, "agreement": self.agreement}


def import_nir(source, dt: float | None = None, samples: int = 32, steps: int | None = None,
               rate: float = 0.2, seed: int = 0, inputs=None) -> NirImport:
    """A NIR graph (a ``nir.NIRGraph`` or a file path) as sca_lava's own
    network in Loihi's fixed point. ``dt``: the time step the graph's time
    constants are meant for (default: the one the file records, else
    :data:`~sca_lava.models.nir.mapping.DEFAULT_DT`). The conversion error is
    measured on ``inputs`` (spikes (N, *input_shape, T), e.g. encoded test
    samples) or else on ``samples`` inputs of Bernoulli spikes (``rate``,
    ``seed``) over ``steps`` steps (default: the recorded contract's, else 32)."""
    from sca_lava.models.nir.chain import float_layers
    from sca_lava.models.nir.read import read_nir

    where = "NIR graph"
    if isinstance(source, (str, os.PathLike)):
        where = os.fspath(source)
        source = read_nir(source)
    meta = getattr(source, "metadata", None) or {}
    if not isinstance(meta, dict):
        meta = {}
    dt = check_dt(dt if dt is not None else meta.get(META_DT, DEFAULT_DT))
    input_shape, layers = float_layers(source, dt, where)
    contract = _contract(meta.get(META_CONTRACT), input_shape, where)
    conversion, cfg_layers = [], []
    for ly in layers:
        entry, conv = _fixed(ly, where)
        cfg_layers.append(entry)
        if conv is not None:
            conversion.append(conv)
    module = _build(input_shape, cfg_layers, layers, contract, where)
    what = "given" if inputs is not None else f"Bernoulli({rate}) spikes, seed {seed}"
    if inputs is None:
        steps = int(steps or (contract.num_steps if contract is not None else 32))
        gen = torch.Generator().manual_seed(int(seed))
        inputs = (torch.rand((int(samples), *input_shape, steps), generator=gen) < rate).float()
    agree = {**measure(module, layers, inputs), "inputs": what}
    checkpoint = {"model": module.state_dict(), "config": module.config.to_dict(),
                  "input_shape": list(input_shape), "epoch": 0, "history": [],
                  "contract": contract.to_dict() if contract is not None else None,
                  "nir_import": {"dt": dt, "layers": conversion, "agreement": agree}}
    return NirImport(module, checkpoint, layers, conversion, agree, dt)


def _contract(text, input_shape, where):
    if text is None:
        return None
    from sca_lava.netx.contract import InputContract

    try:
        data = json.loads(text)
    except ValueError:
        raise ScaLavaError(f"{where}: the recorded input contract is not JSON") from None
    contract = InputContract.from_dict(data, where)
    if tuple(contract.input_shape) != tuple(input_shape):
        raise ScaLavaError(f"{where}: the recorded input contract's shape {list(contract.input_shape)} is not the "
                           f"graph's input {list(input_shape)}")
    return contract


def _fixed(ly, where: str) -> tuple[dict, dict | None]:
    """The config entry of a float layer in fixed point, and what changed."""
    if ly.kind == "flatten":
        return {"type": "flatten"}, None
    label = f"{where}: {ly.names[0]!r}"
    i_decay, v_decay = fraction_to_decay(ly.alpha_u), fraction_to_decay(ly.alpha_v)
    w = np.asarray(ly.weight, dtype=np.float64)
    exact = on_weight_grid(w) and on_grid(ly.threshold, 1 / W_SCALE, 1, VTH_MANT_MAX)
    peak = float(np.abs(w).max()) if w.size else 0.0
    if exact:
        scale = 1.0
    elif peak == 0:
        raise ScaLavaError(f"{label}: all its weights are 0")
    else:
        scale = min((WEIGHT_INT_RANGE[1] / W_SCALE) / peak, VTH_MANT_MAX / (ly.threshold * W_SCALE))
    wq = quantize_weights(w * scale)
    mant = int(round(ly.threshold * scale * W_SCALE))
    if mant < 1:
        raise ScaLavaError(f"{label}: its threshold {ly.threshold:g} is below Loihi's resolution at the weights' "
                           "scale (the weights are far larger than the threshold)")
    neuron = {"threshold": mant / W_SCALE, "current_decay": i_decay / P_SCALE, "voltage_decay": v_decay / P_SCALE}
    entry = {"type": ly.kind, "neuron": neuron}
    if ly.kind == "conv":
        entry.update(out=int(w.shape[0]), kernel=ly.kernel, stride=ly.stride, padding=ly.padding)
    elif ly.kind == "pool":
        entry.update(kernel=ly.kernel, stride=ly.kernel)
    else:
        entry["out"] = int(w.shape[0])
        if ly.delay is not None:
            entry["delay"] = True
    ly.fixed_weight = wq
    ref = np.abs(w * scale).max() if w.size else 1.0
    conv = {"layer": ly.names[0], "kind": ly.kind, "scale": scale, "iDecay": i_decay, "vDecay": v_decay,
            "vThMant": mant, "decay_error": max(abs(i_decay / P_SCALE - ly.alpha_u), abs(v_decay / P_SCALE - ly.alpha_v)),
            "weight_error": float(np.abs(wq - w * scale).max() / ref) if ref else 0.0,
            "threshold_error": abs(mant / W_SCALE - ly.threshold * scale) / (ly.threshold * scale)}
    return entry, conv


def _build(input_shape, cfg_layers, layers, contract, where):
    from sca_lava.models.config import NetworkConfig
    from sca_lava.models.network import build_network
    from sca_lava.models.surgery import set_weight

    try:
        config = NetworkConfig(input_shape=tuple(input_shape), layers=cfg_layers,
                               num_steps=contract.num_steps if contract is not None else 16)
        config.validate()
    except ScaLavaError as exc:
        raise ScaLavaError(f"{where}: {str(exc).removeprefix('network config: ')}") from None
    net = build_network(config)
    with torch.no_grad():
        for block, ly in zip(net.blocks, layers):
            if ly.kind == "flatten":
                continue
            w = torch.from_numpy(np.asarray(ly.fixed_weight, dtype=np.float32))
            if ly.kind == "pool":
                block.synapse.weight.fill_(float(w))
                continue
            set_weight(block.synapse, w.reshape(*w.shape, *([1] * (5 - w.dim()))))
            if ly.delay is not None:
                block.delay.delay.copy_(torch.from_numpy(ly.delay.astype(np.float32)))
    if contract is not None:
        net.contract = contract
    return net


@torch.no_grad()
def measure(module, layers, inputs) -> dict:
    """Spike agreement of the fixed-point module with the float semantics of
    its NIR layers on input spikes (N, *input_shape, T)."""
    from sca_lava.models.nir.reference import agreement, run_float

    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    shape = tuple(module.config.input_shape)
    if x.dim() != len(shape) + 2 or tuple(x.shape[1:-1]) != shape:
        raise ScaLavaError(f"inputs must be spikes (N, {', '.join(map(str, shape))}, T), got {tuple(x.shape)}")
    module.eval()
    return agreement(run_float(layers, x), module(x))
