"""The house's one-way data flow, checked on the package's real imports
(module-level and function-level): stages only import the stages before
them, hardware never imports deploy, nothing imports the commands."""

from __future__ import annotations

import ast
from pathlib import Path

import sca_lava

PKG = Path(sca_lava.__file__).parent

#: stage -> stages it may import (besides itself and the leaf helpers)
# device: the one --device rule (torch + errors only), shared by training and the evaluator
LEAVES = {"errors", "atomic", "configfile", "_lazy", "_lava_dl", "plotting", "device"}
ALLOWED = {
    "data": set(),
    # the reader takes the one conv-size formula from geometry; geometry describes a
    # structure as a NetxSpec (netx's plain data classes, imported inside that function)
    "netx": {"geometry"},
    "geometry": {"netx"},
    "metrics": {"netx"},
    "models": {"data", "geometry", "netx"},
    "training": {"data", "models", "metrics", "netx", "geometry"},
    "pruning": {"data", "models", "training", "netx", "metrics", "geometry", "hardware"},
    "deploy": {"netx", "metrics", "data", "geometry", "models", "training"},
    "hardware": {"netx", "metrics", "geometry"},
}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        mod = ".".join(rel.parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[mod] = {m for m in found if m == "sca_lava" or m.startswith("sca_lava.")}
    return graph


def test_stages_import_only_earlier_stages():
    bad = []
    for mod, deps in _imports().items():
        stage = _stage(mod)
        if stage not in ALLOWED:
            continue
        for dep in deps:
            target = _stage(dep)
            if target in LEAVES or target == stage or target == "__init__":
                continue
            if target not in ALLOWED[stage]:
                bad.append(f"{mod} imports {dep}")
    assert not bad, bad


def test_hardware_never_imports_deploy():
    offenders = [m for m, deps in _imports().items() if _stage(m) == "hardware"
                 and any(_stage(d) == "deploy" for d in deps)]
    assert offenders == []


def test_nothing_imports_the_commands():
    offenders = [f"{m} imports {d}" for m, deps in _imports().items() for d in deps
                 if _stage(d) == "commands" and _stage(m) not in ("commands", "cli", "__main__")]
    assert offenders == []
