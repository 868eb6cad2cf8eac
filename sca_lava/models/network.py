"""A SLAYER network made only of lava-dl ``slayer.block.cuba`` blocks, so its
8-bit quantised weights and CUBA dynamics are exactly what netx deploys."""

from __future__ import annotations

import os

import torch

from sca_lava.atomic import atomic_path
from sca_lava.errors import ScaLavaError
from sca_lava.geometry import layer_shapes
from sca_lava.models.config import NetworkConfig


class SpikingNet(torch.nn.Module):
    """Blocks in config order. ``forward`` takes spikes (N, C, H, W, T) and
    returns output spikes (N, classes, T); ``forward_all`` returns every
    block's output (flatten included) for monitoring and comparisons.
    ``contract`` (an ``InputContract``, set by training) is written into
    every export and checkpoint of the network."""

    contract = None

    def __init__(self, config: NetworkConfig):
        super().__init__()
        from sca_lava._lava_dl import slayer as _slayer

        slayer = _slayer()

        config.validate()
        self.config = config
        neuron = {**config.neuron, "requires_grad": False}
        blocks = []
        for g in layer_shapes(config.input_shape, config.layers):
            if g.kind == "conv":
                blocks.append(slayer.block.cuba.Conv(
                    neuron, g.in_shape[0], g.out, g.kernel, stride=g.stride, padding=g.padding,
                    weight_scale=config.weight_scale, weight_norm=False))
                blocks[-1].neuron.shape = torch.Size(g.out_shape)  # known before any forward (export needs it)
            elif g.kind == "flatten":
                blocks.append(slayer.block.cuba.Flatten())
                blocks[-1].shape = [g.out_shape[0], 1, 1]  # what SLAYER sets on its first forward
            else:
                blocks.append(slayer.block.cuba.Dense(
                    neuron, g.in_shape[0], g.out, weight_scale=config.weight_scale, weight_norm=False))
                blocks[-1].neuron.shape = torch.Size(g.out_shape)
            shape = g.out_shape
        self.blocks = torch.nn.ModuleList(blocks)
        self.output_shape = shape

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        expected = tuple(self.config.input_shape)
        if x.dim() != 5 or tuple(x.shape[1:4]) != expected:
            raise ScaLavaError(f"input must be (N, {', '.join(map(str, expected))}, T), got {tuple(x.shape)}")
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[-1]

    def export_hdf5(self, path: str | os.PathLike, contract=None) -> None:
        """Write the netx file atomically with its input contract (``contract``
        or the network's own; see :func:`export_blocks_hdf5`)."""
        export_blocks_hdf5(path, self.config.input_shape, self.blocks,
                           contract=contract if contract is not None else self.contract)


def export_blocks_hdf5(path: str | os.PathLike, input_shape, blocks, contract=None) -> None:
    """Write lava-dl blocks as a netx file, atomically: an ``input`` layer that
    carries the (C, H, W) shape (so netx needs no ``input_shape``), then each
    block's own ``export_hdf5``, and the input contract (an object with
    ``write_hdf5``, e.g. ``sca_lava.netx.contract.InputContract``) when given.
    Blocks must know their shapes (a forward pass or :class:`SpikingNet` sets
    them)."""
    import h5py
    import numpy as np

    if contract is not None and tuple(contract.input_shape) != tuple(input_shape):
        raise ScaLavaError(f"input contract shape {tuple(contract.input_shape)} does not match the "
                           f"network input {tuple(input_shape)}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        if contract is not None:
            contract.write_hdf5(f)
        layer = f.create_group("layer")
        inp = layer.create_group("0")
        inp.create_dataset("type", (1,), "S10", [b"input"])
        inp.create_dataset("shape", data=np.array(input_shape))
        for i, block in enumerate(blocks):
            block.export_hdf5(layer.create_group(str(i + 1)))


def build_network(config: NetworkConfig, seed: int = 0) -> SpikingNet:
    """Build with deterministic initial weights."""
    torch.manual_seed(seed)
    return SpikingNet(config)
