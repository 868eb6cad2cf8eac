"""Hardware profiles: a chip's limits and per-operation costs as YAML data.

Every number in a profile is written as ``{value: X, source: "..."}`` or
``{value: X, assumption: "..."}`` so no figure enters a budget without saying
where it comes from. The schema is :data:`SCHEMA` (checked as a JSON schema
with jsonschema); it is documented for users in
``hardware_profiles/README.md``. Files are read through
:mod:`sca_lava.configfile` (size and nesting caps, UTF-8, no YAML aliases).
Any problem is a one-line :class:`ScaLavaError` naming the file and the field.
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
#: optional sections (all their fields required when present): ``compiler`` = Intel's Loihi 2
#: compiler's per-core resources in its own units (its per-core distribution table), counted
#: by sca_lava.hardware.compiler when ``mapping.tile_split`` is ``compiler``
OPTIONAL: dict[str, dict[str, str]] = {
    "compiler": {
        "word_bits": "count",  # bits of one synaptic-memory word
        "max_synapse_words": "count",  # SynMem words per core
        "dense_synapse_bits": "count",  # bits per dense-layer synapse in a word
        "conv_synapse_bits": "count",  # bits per stored conv kernel weight in a word
        "neuron_memory_words": "count",  # words shared by neuron state and the output axon map
        "words_per_neuron": "count",
        "words_per_axon_map": "count0",
        "max_axon_in": "count",  # input-axon entries per core
    },
}
TOP_LEVEL_TEXT = ("name", "description")
#: optional top-level section: measured comparisons, name -> {value: number, source: text[, kind: ...]};
#: kind "check" (default): an independent cross-check; "fit": the residual of a calibration on that measurement
VALIDATION = "validation"
CHECK_KINDS = ("check", "fit")
MODES = ("dense", "sparse")
#: how the mapper may cut a layer into per-core tiles: "any" = any equal split of channels,
#: rows and columns (NxTF-like search); "halve" = only halvings of the layer; "compiler" = as
#: Intel's Loihi 2 compiler does, counted in its units (section ``compiler``)
SPLITS = ("any", "halve", "compiler")


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


#: a profile is a few KB; anything far larger is not one
MAX_PROFILE_BYTES = 256 * 1024
MAX_PROFILE_DEPTH = 6


def profiles_dir() -> Path:
    """The shipped profiles: ``hardware_profiles/`` at the top of a checkout (the
    one source), installed by a wheel as ``sca_lava/hardware/profiles/`` (package
    data, so a plain ``pip install`` finds them); override with $SCA_LAVA_PROFILES."""
    env = os.environ.get("SCA_LAVA_PROFILES")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    installed = here / "profiles"
    return installed if installed.is_dir() else here.parents[1] / "hardware_profiles"


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
    """Load and validate a profile by name (``loihi2``) or by path: size and
    nesting caps, UTF-8 only, YAML aliases refused (configfile), then the
    JSON schema of :data:`SCHEMA`."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    from sca_lava.configfile import load_structured

    path = resolve_profile_path(name_or_path)
    data = load_structured(path, "hardware profile", max_bytes=MAX_PROFILE_BYTES, max_depth=MAX_PROFILE_DEPTH)
    return validate_profile(data, str(path))


_VALUE = {
    "count": {"type": "integer", "minimum": 1},
    "count0": {"type": "integer", "minimum": 0},
    "num": {"type": "number", "minimum": 0},
    "bool": {"type": "boolean"},
    "split": {"enum": list(SPLITS)},
    "modes": {"type": "array", "minItems": 1, "items": {"enum": list(MODES)}},
}
_TEXT = {"type": "string", "pattern": r"\S"}


def json_schema() -> dict:
    """The profile format as a JSON schema (draft 2020-12), built from :data:`SCHEMA`."""
    def entry(kind):
        return {"type": "object", "required": ["value"], "additionalProperties": False,
                "properties": {"value": _VALUE[kind], "source": _TEXT, "assumption": _TEXT},
                "oneOf": [{"required": ["source"]}, {"required": ["assumption"]}]}

    sections = {sec: {"type": "object", "additionalProperties": False, "required": list(fields),
                      "properties": {k: entry(kind) for k, kind in fields.items()}}
                for sec, fields in {**SCHEMA, **OPTIONAL}.items()}
    check = {"type": "object", "additionalProperties": False, "required": ["value", "source"],
             "properties": {"value": _VALUE["num"], "source": _TEXT, "kind": {"enum": list(CHECK_KINDS)}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "additionalProperties": False, "required": list(SCHEMA),
        "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                       VALIDATION: {"type": "object", "additionalProperties": check}, **sections},
    }


def _problem(error) -> tuple[str, str]:
    """(dotted field, one-line problem) of a jsonschema error, in the loader's words."""
    path = [str(p) for p in error.absolute_path]
    if "value" in path[1:]:  # the field, not the position inside its value
        path = path[:path.index("value", 1)]
    fld = ".".join(path)
    v, inst = error.validator, error.instance
    if v == "required":
        missing = error.message.split("'")[1]
        fld = ".".join([*path, missing])
        return fld, "missing section" if not path else "missing field"
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(error.schema.get("properties", {})))
        allowed = ", ".join(error.schema.get("properties", {}))
        if path and path[-1] not in SCHEMA and path[-1] not in OPTIONAL and path[0] != VALIDATION:  # an entry
            return fld, f"unknown key {extra[0]!r} (allowed: value, source, assumption)"
        return ".".join([*path, str(extra[0])]), f"unknown key (allowed: {allowed})"
    if v == "oneOf":
        return fld, "needs exactly one non-empty 'source:' or 'assumption:'"
    if v == "pattern":
        return ".".join(path[:-1]), "needs exactly one non-empty 'source:' or 'assumption:'"
    if v == "type" and error.validator_value == "object":
        return fld, ("must be {value: ..., source: ...} or {value: ..., assumption: ...}" if len(path) >= 2
                     else "must be a mapping of fields" if path else "a hardware profile must be a YAML mapping")
    if v == "type" and error.validator_value == "integer" and isinstance(inst, (int, float)) \
            and not isinstance(inst, bool):
        return fld, f"must be an integer, got {inst!r}"
    if v == "type":
        want = {"number": "a number", "integer": "a number", "boolean": "true or false",
                "string": "a string", "array": f"a non-empty list of {', '.join(MODES)}"}
        return fld, f"must be {want.get(error.validator_value, error.validator_value)}, got {inst!r}"
    if v == "minimum":
        return fld, (f"must not be negative, got {inst!r}" if inst < 0 else f"must be positive, got {inst!r}")
    if v == "enum" and path and path[-1] == "kind":
        return fld, f"must be one of {', '.join(CHECK_KINDS)}, got {inst!r}"
    if v == "enum":
        choices = SPLITS if "mapping" in path else MODES
        return fld, (f"must be one of {', '.join(choices)}, got {inst!r}" if "mapping" in path
                     else f"must be a non-empty list of {', '.join(MODES)}, got {inst!r}")
    if v == "minItems":
        return fld, f"must be a non-empty list of {', '.join(MODES)}, got {inst!r}"
    return fld, " ".join(error.message.split())[:160]


def _err(path: str, fld: str, problem: str) -> ScaLavaError:
    return ScaLavaError(f"{path}: field '{fld}': {problem}")


def validate_profile(data, path: str = "<profile>") -> Profile:
    """Check ``data`` (parsed YAML) against :func:`json_schema` (jsonschema);
    the first problem is a one-line error naming the file and the field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        if not error.absolute_path and error.validator == "type":
            raise ScaLavaError(f"{path}: a hardware profile must be a YAML mapping")
        raise _err(path, *_problem(error))
    if data["mapping"]["tile_split"]["value"] == "compiler" and "compiler" not in data:
        raise _err(path, "compiler", "missing section (mapping.tile_split: compiler counts the compiler's units)")
    values: dict[str, object] = {}
    basis: dict[str, str] = {}
    present = {**SCHEMA, **{sec: f for sec, f in OPTIONAL.items() if sec in data}}
    for section, fields in present.items():
        for key, kind in fields.items():
            fld, entry = f"{section}.{key}", data[section][key]
            cited = "source" if "source" in entry else "assumption"
            basis[fld] = f"{cited}: {entry[cited].strip()}"
            values[fld] = _value(path, fld, kind, entry["value"])
    validation = {str(k): {"value": _value(path, f"{VALIDATION}.{k}", "num", e["value"]), "source": e["source"].strip(),
                           "kind": e.get("kind", "check")}
                  for k, e in data.get(VALIDATION, {}).items()}
    return Profile(name=data.get("name", Path(path).stem), path=path, description=str(data.get("description", "")),
                   values=values, basis=basis, validation=validation)


def _value(path: str, fld: str, kind: str, v):
    """A schema-checked value in its Python type (numbers also finite)."""
    if kind == "modes":
        return tuple(dict.fromkeys(v))
    if kind in ("bool", "split"):
        return v
    if v != v or v in (float("inf"), float("-inf")):
        raise _err(path, fld, f"must be finite, got {v!r}")
    return int(v) if kind in ("count", "count0") else float(v)
