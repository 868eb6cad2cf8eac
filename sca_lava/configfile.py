"""Reading JSON/YAML files a user hands us (network configs, architectures,
hardware profiles) defensively, and checking them against a JSON schema.

One reader so that every such file gets the same limits: a size cap before
reading, strict UTF-8, no YAML aliases (an alias bomb expands 9^9 times on
output), a nesting cap, and ``jsonschema`` validation with a one-line
message naming the offending field. A leaf module (no torch, no Lava).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sca_lava.atomic import check_input_file
from sca_lava.errors import ScaLavaError

MAX_BYTES = 1 << 20  # 1 MiB: far above any real config
MAX_DEPTH = 32


def _yaml_loader():
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases (``*name``)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ScaLavaError(f"YAML aliases are not accepted (alias *{event.anchor} at line "
                                   f"{event.start_mark.line + 1})")
            return super().compose_node(parent, index)

    return NoAliasLoader


def depth(obj, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of lists/dicts (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((c, d + 1) for c in children)
    return deepest


def check_finite(obj, where: str) -> None:
    """Every float in parsed data is finite (JSON readers accept NaN, Infinity
    and 1e400; schemas cannot say "finite"). Iterative, like :func:`depth`."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ScaLavaError(f"{where}: a number is not finite ({node})")


def load_structured(path: str | os.PathLike, what: str, max_bytes: int = MAX_BYTES,
                    max_depth: int = MAX_DEPTH):
    """Parse a JSON (``.json``) or YAML (anything else) file with the limits above."""
    import yaml

    path = check_input_file(path, what, max_bytes)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScaLavaError(f"{path}: the {what} is not UTF-8 text (byte {exc.start})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)
    except json.JSONDecodeError as exc:
        raise ScaLavaError(f"{path}: invalid JSON in the {what} ({exc.msg} at line {exc.lineno})") from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScaLavaError(f"{path}: invalid YAML in the {what} ({first[:120]})") from None
    except RecursionError:
        raise ScaLavaError(f"{path}: the {what} is nested too deeply") from None
    except ScaLavaError as exc:
        raise ScaLavaError(f"{path}: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. int() of a 5000-digit literal
        raise ScaLavaError(f"{path}: unreadable {what} ({str(exc)[:120]})") from None
    if depth(data, max_depth) > max_depth:
        raise ScaLavaError(f"{path}: the {what} is nested more than {max_depth} levels deep")
    return data


def validate(data, schema: dict, where: str) -> None:
    """Check ``data`` against a JSON schema; the error names the field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    field = "/".join(str(p) for p in error.absolute_path) or "top level"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise ScaLavaError(f"{where}: {field}: {message}")
