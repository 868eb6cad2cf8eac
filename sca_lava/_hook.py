"""The compiled leaky integrator for every lava-dl user, however SLAYER is imported.

``import sca_lava`` calls :func:`watch`: if lava-dl's leaky integrator module
is loaded already, the compiled kernels (:mod:`sca_lava._slayer_cpu`) are
installed at once; otherwise an import hook installs them the moment lava-dl
loads it (``from lava.lib.dl import slayer`` in a user's script, before or
after ``import sca_lava``). Installed packages are not touched; only the
module's two functions are swapped in memory, bit-identical (see
``_slayer_cpu``). ``SCA_LAVA_REFERENCE_DYNAMICS=1`` keeps lava-dl's loop.
Standard library only, so ``import sca_lava`` stays light.
"""

from __future__ import annotations

import importlib.abc
import sys

TARGET = "lava.lib.dl.slayer.neuron.dynamics.leaky_integrator"


def _install(module) -> None:
    from sca_lava._slayer_cpu import install_into

    install_into(module)


class _Loader(importlib.abc.Loader):
    """lava-dl's own loader, then the kernels."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _install(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of :data:`TARGET` so the
    kernels go in right after lava-dl's module has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def watch() -> None:
    """Install now if lava-dl's integrator is loaded, else when it loads (once)."""
    module = sys.modules.get(TARGET)
    if module is not None:
        _install(module)
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
