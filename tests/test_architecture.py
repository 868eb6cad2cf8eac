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
# progress: the one progress-bar rule (tqdm on a terminal, plain lines in a log)
LEAVES = {"errors", "atomic", "configfile", "_lazy", "_lava_dl", "plotting", "device", "progress"}
ALLOWED = {
    "data": set(),
    # netx is a leaf stage (its plain data classes and the conv-size formula live in
    # netx.spec); geometry describes a candidate structure as a NetxSpec
    "netx": set(),
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


#: Lava modules whose import runs ``multiprocessing.set_start_method('fork')``
LAVA_RUNTIME = ("lava.lib.dl.netx", "lava.proc", "lava.magma")


def _lava_runtime_import(node) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    elif isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        return False
    return any(n == m or n.startswith(m + ".") for n in names for m in LAVA_RUNTIME)


def test_lava_runtime_is_imported_only_through_import_lava():
    """Importing netx or Lava's runtime sets the 'fork' start method and fails
    ("context has already been set") once anything (a tqdm lock) fixed it, so
    the failure depended on test order. ``deploy.lava_runner.import_lava``
    handles that; every other import of those modules must come after a call
    of it in the same function."""
    root = PKG.parent
    bad = []
    for path in [*PKG.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "benchmarks").glob("*.py")]:
        tree = ast.parse(path.read_text())
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in ast.walk(tree):
            if not _lava_runtime_import(node):
                continue
            owner = max((f for f in funcs if f.lineno <= node.lineno <= f.end_lineno), key=lambda f: f.lineno,
                        default=None)
            if owner is not None and owner.name == "import_lava" and path.name == "lava_runner.py":
                continue
            calls = [c.lineno for c in ast.walk(owner) if isinstance(c, ast.Call)
                     and getattr(c.func, "id", getattr(c.func, "attr", None)) == "import_lava"] if owner else []
            if not any(line < node.lineno for line in calls):
                bad.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not bad, bad


def test_the_wheel_lists_every_sub_package():
    """pyproject names the packages explicitly (hardware_profiles/ is mapped into the
    wheel as sca_lava.hardware.profiles): a new sub-package must be listed or the
    wheel would lack it."""
    import re

    text = (PKG.parent / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(sca_lava[a-z_.]*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    tree = {".".join(p.parent.relative_to(PKG.parent).parts) for p in PKG.rglob("__init__.py")}
    assert listed == tree | {"sca_lava.hardware.profiles"}
    assert '"sca_lava.hardware.profiles" = "hardware_profiles"' in text


def _module_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports, at module level or inside
    functions (``from pkg import name`` counts as importing ``pkg.name`` when
    that is a module, else ``pkg``)."""
    modules = {".".join(p.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
               for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        mod = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[mod] = {d for d in deps if d in modules and d != mod}
    return graph


def test_no_import_cycles_between_package_modules():
    """Issue 29: no module reaches itself through imports, counting imports
    inside functions (they hid three circles: deploy's evaluator/agreement/
    runner, geometry/netx reader, the training checkpoint/trainer/distributed)."""
    graph = _module_graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles
