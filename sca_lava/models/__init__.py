"""Deployable SLAYER networks built from a declarative layer list."""

from sca_lava._lazy import lazy_exports

_EXPORTS = {
    "NetworkConfig": "config",
    "default_config": "config",
    "SpikingNet": "network",
    "build_network": "network",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
