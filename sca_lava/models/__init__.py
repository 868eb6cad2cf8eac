"""Deployable SLAYER networks built from a declarative layer list."""

from sca_lava._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "config": "NetworkConfig default_config",
    "network": "SpikingNet build_network",
    "graph": "Graph trace",
    "export": "export_netx",
})
