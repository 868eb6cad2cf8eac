"""What-if core counts for an architecture at several channel-keep fractions,
without training: a plain layer list becomes a :class:`NetxSpec` whose weights
are all nonzero (the worst case for synaptic memory)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import LAYER_SCHEMA, layer_shapes, netx_spec
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.profile import load_profile
from sca_lava.netx.reader import NetxSpec

ARCHS_DIR = Path(__file__).resolve().parent / "archs"


#: an architecture file: a layer list and its input (a network config file is one too)
ARCH_SCHEMA = {
    "type": "object",
    "required": ["layers"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 100},
        "input": {"type": "array", "minItems": 3, "maxItems": 3,
                  "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
        "input_shape": {"$ref": "#/properties/input"},
        "layers": {"type": "array", "minItems": 1, "maxItems": 256, "items": LAYER_SCHEMA},
        "num_steps": {"type": "integer", "minimum": 1}, "neuron": {"type": "object"},
        "weight_scale": {"type": "number"},
    },
}


def load_arch(name_or_path: str | os.PathLike) -> dict:
    """Read ``{input: [C, H, W], layers: [...]}`` (YAML or JSON, through the
    one defensive reader and a schema); a bare name resolves to
    ``sca_lava/hardware/archs/NAME.yaml``. ``input_shape`` is accepted for
    ``input`` (the training config's key)."""
    from sca_lava.configfile import load_structured, validate

    p = Path(name_or_path)
    if not p.exists():
        cand = ARCHS_DIR / f"{name_or_path}.yaml"
        if not cand.is_file():
            have = ", ".join(sorted(x.stem for x in ARCHS_DIR.glob("*.yaml")))
            raise ScaLavaError(f"{name_or_path}: no such architecture file (shipped: {have})")
        p = cand
    data = load_structured(p, "architecture")
    validate(data, ARCH_SCHEMA, str(p))
    shape = data.get("input", data.get("input_shape"))
    if shape is None:
        raise ScaLavaError(f"{p}: field 'input' must be [C, H, W]")
    return {"path": str(p), "input": [int(s) for s in shape], "layers": list(data["layers"]),
            "name": data.get("name", p.stem)}


def arch_spec(arch: dict, keep: float = 1.0) -> NetxSpec:
    """Build a NetxSpec with all-nonzero weights; every hidden layer keeps
    ceil(keep x out) channels/features (the classifier keeps all)."""
    if not 0 < keep <= 1:
        raise ScaLavaError(f"keep fraction must be in (0, 1], got {keep}")
    where = arch.get("path", "architecture")
    geo = [g for g in layer_shapes(arch["input"], arch["layers"], where) if g.kind != "flatten"]
    active = [max(1, math.ceil(keep * g.out)) if g.prunable else g.out for g in geo]
    return netx_spec(arch, active, name=f"{arch.get('name', 'arch')}@keep={keep:g}")


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
