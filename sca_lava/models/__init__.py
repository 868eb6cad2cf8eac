"""Deployable SLAYER networks built from a declarative layer list."""

from sca_lava.models.config import NetworkConfig, default_config
from sca_lava.models.network import SpikingNet, build_network

__all__ = ["NetworkConfig", "SpikingNet", "build_network", "default_config"]
