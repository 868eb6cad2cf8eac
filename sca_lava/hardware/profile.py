"""Hardware profiles: a chip's limits and per-operation costs as YAML data.

Every number in a profile is written as ``{value: X, source: "..."}`` or
``{value: X, assumption: "..."}`` so no figure enters a budget without saying
where it comes from. The schema is :data:`SCHEMA`; it is documented for users
in ``hardware_profiles/README.md``. Any problem (missing field, unknown key,
negative or non-numeric value) is a one-line :class:`ScaLavaError` naming the
file and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sca_lava.errors import ScaLavaError

#: section -> field -> kind: "count" (positive integer), "count0" (integer >= 0),
#: "num" (number >= 0), "modes" (list of dense/sparse), "bool", "split" (one of SPLITS)
SCHEMA: dict[str, dict[str, str]] = {
    "chip": {"cores_per_chip": "count"},
    "core": {
        "max_neurons": "count",
        "max_synapse_bits": "count",
        "max_input_axons": "count",
        "max_output_axons": "count",
        "shared_memory_bits": "count0",  # 0 = no pool shared by synapses/state/axons
        "neuron_state_bits": "count0",
        "axon_entry_bits": "count0",
    },
    "synapse_encoding": {
        "weight_bits": "count",
        "index_bits": "count0",
        "header_bits": "count0",
        "group_size": "count",
        "modes": "modes",
        "conv_weight_sharing": "bool",  # a conv kernel stored once per core, indexed by position
    },
    "mapping": {"tile_split": "split"},
    "energy_pj": {
        "synop_dense": "num",  # per synaptic event, by synapse storage (SANA-FE's three units)
        "synop_sparse": "num",
        "synop_conv": "num",
        "neuron_active": "num",
        "neuron_inactive": "num",
        "spike_out": "num",  # per spike a neuron emits
        "spike_message": "num",  # per message delivered to a core
        "spike_hop": "num",
    },
    "routing": {"hops_per_message": "num", "message_bits": "count", "graded_payload_bits": "count0"},
    "static": {"power_mw_per_chip": "num"},
    "timing_ns": {
        "step_overhead": "num",
        "synop_dense": "num",
        "synop_sparse": "num",
        "synop_conv": "num",
        "neuron_active": "num",
        "neuron_inactive": "num",
        "spike_out": "num",
        "spike_message": "num",
    },
}
TOP_LEVEL_TEXT = ("name", "description")
#: optional top-level section: measured cross-checks, name -> {value: number, source: text}
VALIDATION = "validation"
MODES = ("dense", "sparse")
#: how the mapper may cut a layer into per-core tiles: "any" = any equal split of channels,
#: rows and columns (NxTF-like search); "halve" = only halvings of the layer (Loihi 2's compiler)
SPLITS = ("any", "halve")


@dataclass
class Profile:
    """A validated profile. ``p["core.max_neurons"]`` gives a value,
    ``p.basis["core.max_neurons"]`` its ``source:``/``assumption:`` text."""

    name: str
    path: str
    description: str
    values: dict[str, object]
    basis: dict[str, str] = field(default_factory=dict)
    validation: dict[str, dict] = field(default_factory=dict)  # measured cross-checks (uncertainty.py)

    def __getitem__(self, key: str):
        return self.values[key]

    @property
    def assumptions(self) -> dict[str, str]:
        return {k: v[len("assumption: "):] for k, v in self.basis.items() if v.startswith("assumption: ")}


def profiles_dir() -> Path:
    """``hardware_profiles/`` next to the package (repo root of a checkout or
    editable install); override with $SCA_LAVA_PROFILES."""
    env = os.environ.get("SCA_LAVA_PROFILES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "hardware_profiles"


def available_profiles() -> list[str]:
    d = profiles_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def resolve_profile_path(name_or_path: str | os.PathLike) -> Path:
    """A path to a YAML file, or a bare name looked up in :func:`profiles_dir`."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists() or os.sep in str(name_or_path):
        if not p.is_file():
            raise ScaLavaError(f"{p}: no such hardware profile file")
        return p
    cand = profiles_dir() / f"{name_or_path}.yaml"
    if not cand.is_file():
        have = ", ".join(available_profiles()) or "none"
        raise ScaLavaError(f"unknown hardware profile {str(name_or_path)!r} (available: {have}; or pass a YAML path)")
    return cand


def load_profile(name_or_path: str | os.PathLike | Profile) -> Profile:
    """Load and validate a profile by name (``loihi2``) or by path."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    import yaml

    path = resolve_profile_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        msg = str(exc).replace("\n", " ")
        raise ScaLavaError(f"{path}: not valid YAML ({msg})") from None
    return validate_profile(data, str(path))


def _err(path: str, fld: str, problem: str) -> ScaLavaError:
    return ScaLavaError(f"{path}: field '{fld}': {problem}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate_profile(data, path: str = "<profile>") -> Profile:
    """Check ``data`` (parsed YAML) against :data:`SCHEMA`."""
    if not isinstance(data, dict):
        raise ScaLavaError(f"{path}: a hardware profile must be a YAML mapping")
    for key in data:
        if key not in SCHEMA and key not in TOP_LEVEL_TEXT and key != VALIDATION:
            raise _err(path, str(key), f"unknown key (allowed: {', '.join((*TOP_LEVEL_TEXT, *SCHEMA, VALIDATION))})")
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise _err(path, "name", "must be a string")
    values: dict[str, object] = {}
    basis: dict[str, str] = {}
    for section, fields in SCHEMA.items():
        sec = data.get(section)
        if sec is None:
            raise _err(path, section, "missing section")
        if not isinstance(sec, dict):
            raise _err(path, section, "must be a mapping of fields")
        for key in sec:
            if key not in fields:
                raise _err(path, f"{section}.{key}", f"unknown key (allowed: {', '.join(fields)})")
        for key, kind in fields.items():
            fld = f"{section}.{key}"
            if key not in sec:
                raise _err(path, fld, "missing field")
            entry = sec[key]
            if not isinstance(entry, dict) or "value" not in entry:
                raise _err(path, fld, "must be {value: ..., source: ...} or {value: ..., assumption: ...}")
            extra = set(entry) - {"value", "source", "assumption"}
            if extra:
                raise _err(path, fld, f"unknown key {sorted(extra)[0]!r} (allowed: value, source, assumption)")
            cited = [k for k in ("source", "assumption") if isinstance(entry.get(k), str) and entry[k].strip()]
            if len(cited) != 1:
                raise _err(path, fld, "needs exactly one non-empty 'source:' or 'assumption:'")
            basis[fld] = f"{cited[0]}: {entry[cited[0]].strip()}"
            values[fld] = _check_value(path, fld, kind, entry["value"])
    validation = _validation(path, data.get(VALIDATION, {}))
    return Profile(name=name, path=path, description=str(data.get("description", "")), values=values,
                   basis=basis, validation=validation)


def _validation(path: str, sec) -> dict[str, dict]:
    if not isinstance(sec, dict):
        raise _err(path, VALIDATION, "must be a mapping of {value: number, source: text}")
    out = {}
    for key, entry in sec.items():
        fld = f"{VALIDATION}.{key}"
        if not isinstance(entry, dict) or set(entry) != {"value", "source"}:
            raise _err(path, fld, "must be {value: number, source: text}")
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise _err(path, fld, "needs a non-empty 'source:'")
        out[str(key)] = {"value": _check_value(path, fld, "num", entry["value"]), "source": entry["source"].strip()}
    return out


def _check_value(path: str, fld: str, kind: str, v):
    if kind == "bool":
        if not isinstance(v, bool):
            raise _err(path, fld, f"must be true or false, got {v!r}")
        return v
    if kind == "split":
        if v not in SPLITS:
            raise _err(path, fld, f"must be one of {', '.join(SPLITS)}, got {v!r}")
        return v
    if kind == "modes":
        if not isinstance(v, list) or not v or any(m not in MODES for m in v):
            raise _err(path, fld, f"must be a non-empty list of {', '.join(MODES)}, got {v!r}")
        return tuple(dict.fromkeys(v))
    if not _is_number(v):
        raise _err(path, fld, f"must be a number, got {v!r}")
    if v != v or v in (float("inf"), float("-inf")):
        raise _err(path, fld, f"must be finite, got {v!r}")
    if v < 0:
        raise _err(path, fld, f"must not be negative, got {v!r}")
    if kind in ("count", "count0"):
        if float(v) != int(v):
            raise _err(path, fld, f"must be an integer, got {v!r}")
        if kind == "count" and v < 1:
            raise _err(path, fld, f"must be positive, got {v!r}")
        return int(v)
    return float(v)
