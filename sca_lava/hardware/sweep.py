"""What-if core counts for an architecture at several channel-keep fractions,
without training: a plain layer list becomes a :class:`NetxSpec` whose weights
are all nonzero (the worst case for synaptic memory)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.profile import load_profile
from sca_lava.netx.reader import LayerSpec, NetxSpec, NeuronSpec, conv_output_hw

ARCHS_DIR = Path(__file__).resolve().parent / "archs"
_NEURON = NeuronSpec("CUBA", vth_mant=80, i_decay=1024, v_decay=128)


def load_arch(name_or_path: str | os.PathLike) -> dict:
    """Read ``{input: [C, H, W], layers: [...]}`` (YAML or JSON); a bare name
    resolves to ``sca_lava/hardware/archs/NAME.yaml``. ``input_shape`` is
    accepted for ``input`` (the training config's key)."""
    import yaml

    p = Path(name_or_path)
    if not p.is_file():
        cand = ARCHS_DIR / f"{name_or_path}.yaml"
        if not cand.is_file():
            have = ", ".join(sorted(x.stem for x in ARCHS_DIR.glob("*.yaml")))
            raise ScaLavaError(f"{name_or_path}: no such architecture file (shipped: {have})")
        p = cand
    try:
        text = p.read_text()
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScaLavaError(f"{p}: cannot parse architecture ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "layers" not in data:
        raise ScaLavaError(f"{p}: an architecture needs 'input: [C, H, W]' and 'layers: [...]'")
    shape = data.get("input", data.get("input_shape"))
    if shape is None or len(shape) != 3:
        raise ScaLavaError(f"{p}: field 'input' must be [C, H, W]")
    return {"path": str(p), "input": [int(s) for s in shape], "layers": list(data["layers"]),
            "name": data.get("name", p.stem)}


def arch_spec(arch: dict, keep: float = 1.0) -> NetxSpec:
    """Build a NetxSpec with all-nonzero weights; every hidden layer keeps
    ceil(keep x out) channels/features (the classifier keeps all)."""
    if not 0 < keep <= 1:
        raise ScaLavaError(f"keep fraction must be in (0, 1], got {keep}")
    shape = tuple(arch["input"])
    layers = [LayerSpec(0, "input", shape, shape)]
    synaptic = [i for i, ly in enumerate(arch["layers"]) if ly.get("type") in ("conv", "dense")]
    where = arch.get("path", "architecture")
    for i, ly in enumerate(arch["layers"]):
        kind = ly.get("type")
        idx = len(layers)
        if kind == "flatten":
            out = (int(np.prod(shape)),)
            layers.append(LayerSpec(idx, "flatten", shape, out))
        elif kind in ("conv", "dense"):
            if "out" not in ly:
                raise ScaLavaError(f"{where}: layer {i} needs 'out'")
            n_out = int(ly["out"])
            if i != synaptic[-1]:
                n_out = max(1, math.ceil(keep * n_out))
            if kind == "dense":
                fin = int(np.prod(shape))
                out = (n_out,)
                layers.append(LayerSpec(idx, "dense", (fin,), out, weight=np.ones((n_out, fin), np.int8),
                                        neuron=_NEURON))
            else:
                if len(shape) != 3:
                    raise ScaLavaError(f"{where}: conv layer {i} after flatten")
                k = int(ly.get("kernel", 3))
                s, p = int(ly.get("stride", 1)), int(ly.get("padding", 0))
                g = int(ly.get("groups", 1))
                hw = conv_output_hw(shape[1:], (k, k), (s, s), (p, p), (1, 1))
                if min(hw) < 1:
                    raise ScaLavaError(f"{where}: conv layer {i} output would be empty for input {shape}")
                out = (n_out, *hw)
                layers.append(LayerSpec(idx, "conv", shape, out, weight=np.ones((n_out, shape[0] // g, k, k), np.int8),
                                        neuron=_NEURON, kernel=(k, k), stride=(s, s), padding=(p, p), groups=g))
        else:
            raise ScaLavaError(f"{where}: layer {i} has unknown type {kind!r} (conv, flatten, dense)")
        shape = out
    return NetxSpec(path=f"{arch.get('name', 'arch')}@keep={keep:g}", input_shape=tuple(arch["input"]),
                    layers=layers)


def sweep(arch, keeps, profile, max_chips: int | None = None) -> list[dict]:
    """Cores and chips per keep fraction (allocation only, no activity). A
    fraction that cannot be mapped (a neuron too big for a core, or more than
    ``max_chips``) gives a row with ``cores: None`` and the ``error``."""
    arch = arch if isinstance(arch, dict) else load_arch(arch)
    prof = load_profile(profile)
    rows = []
    for keep in keeps:
        try:
            alloc = allocate(arch_spec(arch, keep), prof, max_chips=max_chips, dense_weights=True)
        except ScaLavaError as exc:
            rows.append({"keep": keep, "cores": None, "chips": None, "error": str(exc)})
            continue
        s = alloc.summary()
        rows.append({"keep": keep, "cores": alloc.total_cores, "chips": alloc.chips,
                     "lower_bound_cores": sum(la.lower_bound for la in alloc.layers),
                     "cores_per_layer": [ly["cores"] for ly in s["layers"]],
                     "binding_limits": [ly["binding_limit"] for ly in s["layers"]],
                     "neurons": sum(ly["neurons"] for ly in s["layers"]),
                     "synapses": sum(ly["synapses"] for ly in s["layers"])})
    return rows
