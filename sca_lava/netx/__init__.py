"""The netx HDF5 format: reading any file lava-dl's netx can load into plain
layer descriptions (no torch, no Lava), shared by the deployment, the
fixed-point evaluator and the hardware budget."""

from sca_lava.netx.reader import LayerSpec, NetxSpec, NeuronSpec, read_netx
from sca_lava.netx.record import SpikeRecord

__all__ = ["LayerSpec", "NetxSpec", "NeuronSpec", "SpikeRecord", "read_netx"]
