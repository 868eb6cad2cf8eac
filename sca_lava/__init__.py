"""sca_lava: train spiking CNNs with lava-dl SLAYER, prune them with SCA,
deploy them as Lava processes and budget them on Loihi-style cores.

Data flows one way through the sub-packages:
data -> models -> training + pruning -> (surgery) -> netx export ->
deploy (Lava run, fixed-point evaluator) + hardware budget -> reports / cli.
"""

import contextlib as _contextlib
import io as _io

from sca_lava.errors import ScaLavaError

# lava-dl prints a warning about an optional third-party toolbox and torch one
# about CUDA when SLAYER is imported; neither concerns a CPU user of sca_lava.
with _contextlib.redirect_stdout(_io.StringIO()), _contextlib.redirect_stderr(_io.StringIO()):
    import lava.lib.dl.slayer  # noqa: F401

__all__ = ["ScaLavaError"]
__version__ = "0.1.0"
