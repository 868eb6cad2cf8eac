"""lava-dl's SLAYER, imported once and quietly.

Importing SLAYER prints a warning about an optional third-party toolbox and
torch one about CUDA; neither concerns a CPU user of sca_lava. The import is
deferred to the first network or trainer so that ``import sca_lava`` and
``sca-lava --help`` stay free of torch and Lava (fast start-up). On the
CPU its leaky integrator runs through a compiled kernel with bit-identical
results (:mod:`sca_lava._slayer_cpu`).
"""

from __future__ import annotations

import contextlib
import functools
import io


@functools.cache
def slayer():
    """The ``lava.lib.dl.slayer`` module (imported with its start-up chatter muted)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lava.lib.dl import slayer as module
    from sca_lava._slayer_cpu import install

    install(module)
    return module
