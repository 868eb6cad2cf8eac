"""Lazy package exports (PEP 562), so that importing a sub-package for one
light name (a list of choices for the CLI, say) does not import torch."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, modules: dict[str, str]):
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package whose public
    names (``modules``: sub-module -> its exported names, space separated)
    are imported on first use."""
    exports = {name: mod for mod, names in modules.items() for name in names.split()}

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return sorted(exports), __getattr__, __dir__
