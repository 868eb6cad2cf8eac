"""sca_lava's own networks: lava-dl ``slayer.block.cuba`` blocks built from a
:class:`~sca_lava.models.config.NetworkConfig`, written the way lava-dl's
tutorials write a network (a ``ModuleList`` of blocks, ``forward`` looping
over them), so they go through exactly the path a user's own module takes
(:func:`sca_lava.models.graph.trace`)."""

from __future__ import annotations

import os

import torch

from sca_lava.errors import ScaLavaError
from sca_lava.geometry import layer_shapes
from sca_lava.models.config import NetworkConfig


class SpikingNet(torch.nn.Module):
    """Blocks in config order. ``forward`` takes spikes (N, C, H, W, T) and
    returns output spikes (N, classes, T). ``contract`` (an
    ``InputContract``, set by training) is written into every export and
    checkpoint of the network; ``config`` only says how it was built."""

    contract = None

    def __init__(self, config: NetworkConfig):
        super().__init__()
        from sca_lava._lava_dl import slayer as _slayer

        slayer = _slayer()

        config.validate()
        self.config = config
        blocks = []
        for g, ly in zip(layer_shapes(config.input_shape, config.layers), config.layers):
            neuron = {**config.neuron, **ly.get("neuron", {}), "requires_grad": False}
            if g.kind == "conv":
                blocks.append(slayer.block.cuba.Conv(
                    neuron, g.in_shape[0], g.out, g.kernel, stride=g.stride, padding=g.padding,
                    weight_scale=config.weight_scale, weight_norm=False))
            elif g.kind == "pool":
                blocks.append(slayer.block.cuba.Pool(neuron, g.kernel, stride=g.stride, padding=g.padding,
                                                     weight_scale=config.weight_scale))
            elif g.kind == "flatten":
                blocks.append(slayer.block.cuba.Flatten())
            else:
                blocks.append(slayer.block.cuba.Dense(
                    neuron, g.in_shape[0], g.out, weight_scale=config.weight_scale, weight_norm=False,
                    delay=bool(ly.get("delay", False))))
        self.blocks = torch.nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = tuple(self.config.input_shape)
        if x.dim() != len(expected) + 2 or tuple(x.shape[1:-1]) != expected:
            raise ScaLavaError(f"input must be (N, {', '.join(map(str, expected))}, T), got {tuple(x.shape)}")
        for block in self.blocks:
            x = block(x)
        return x

    def export_hdf5(self, path: str | os.PathLike, contract=None) -> None:
        """Write the netx file atomically with its input contract (``contract``
        or the network's own); see :func:`sca_lava.models.export.export_netx`."""
        from sca_lava.models.export import export_netx
        from sca_lava.models.graph import trace

        export_netx(trace(self, self.config.input_shape), path,
                    contract=contract if contract is not None else self.contract)


def build_network(config: NetworkConfig, seed: int = 0) -> SpikingNet:
    """Build with deterministic initial weights; its blocks know their shapes
    (one forward pass on zeros, as lava-dl needs before export)."""
    from sca_lava.models.graph import trace

    torch.manual_seed(seed)
    net = SpikingNet(config)
    trace(net, config.input_shape)
    return net
