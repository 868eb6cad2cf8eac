"""sca_lava: train spiking CNNs with lava-dl SLAYER, prune them with SCA,
deploy them as Lava processes and budget them on Loihi-style cores.

Data flows one way through the sub-packages:
data -> models -> training + pruning -> (surgery) -> netx export ->
deploy (Lava run, fixed-point evaluator) + hardware budget -> reports / cli.
"""

# Importing the package stays light (no torch, no Lava): heavy modules are
# imported by the sub-packages that need them, SLAYER through sca_lava._lava_dl.
# lava-dl's CUBA blocks get the compiled CPU integrator however SLAYER is
# imported (before or after sca_lava): sca_lava._hook.
from sca_lava import _hook
from sca_lava.errors import ScaLavaError

_hook.watch()

__all__ = ["ScaLavaError"]
__version__ = "0.1.0"
