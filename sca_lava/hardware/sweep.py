"""What-if core counts for an architecture at several channel-keep fractions,
without training: a plain layer list becomes a :class:`NetxSpec` whose weights
are all nonzero (the worst case for synaptic memory)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import layer_shapes, netx_spec
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.profile import load_profile
from sca_lava.netx.reader import NetxSpec

ARCHS_DIR = Path(__file__).resolve().parent / "archs"


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
