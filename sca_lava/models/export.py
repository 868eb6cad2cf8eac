"""Write a traced network as a netx HDF5 file (lava-dl's format).

Blocks export themselves, as lava-dl intends: conv, dense and flatten blocks
through their own ``export_hdf5`` (called on a copy, because lava-dl's export
switches weight normalisation off on the block it exports). A SLAYER pool,
which netx 0.6 cannot build, is written as what it computes: a depthwise
convolution (groups = channels, the pool's quantised kernel repeated per
channel, stride = kernel), bit-exact with SLAYER in the evaluator and in
Lava. Every layer group carries the layer's name (``conv1``, ``pool1``,
``dense2``, ...) as the attribute ``sca_lava_name`` (netx reads no
attributes), so reports of the file and of the module name layers alike.
"""

from __future__ import annotations

import copy
import os

import numpy as np

from sca_lava.atomic import atomic_path
from sca_lava.errors import ScaLavaError
from sca_lava.netx.spec import NAME_ATTR


def export_netx(graph, path: str | os.PathLike, contract=None) -> None:
    """Write a traced network's file atomically (see :func:`export_blocks_hdf5`),
    its layers named as the graph names them."""
    export_blocks_hdf5(path, graph.input_shape, graph.blocks, contract,
                       names=[graph.label(i) for i in range(len(graph.layers))])


def export_blocks_hdf5(path: str | os.PathLike, input_shape, blocks, contract=None, names=None) -> None:
    """Write lava-dl blocks as a netx file, atomically: an ``input`` layer
    that carries the (C, H, W) or (F,) shape (so netx needs no
    ``input_shape``), every block, and the input contract (an object with
    ``write_hdf5``, e.g. ``sca_lava.netx.contract.InputContract``) when
    given. Blocks must know their shapes (a forward pass sets them)."""
    import h5py

    if contract is not None and tuple(contract.input_shape) != tuple(input_shape):
        raise ScaLavaError(f"input contract shape {tuple(contract.input_shape)} does not match the "
                           f"network input {tuple(input_shape)}")
    from sca_lava._lava_dl import slayer

    pool_type = slayer().block.base.AbstractPool
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        if contract is not None:
            contract.write_hdf5(f)
        layer = f.create_group("layer")
        inp = layer.create_group("0")
        inp.create_dataset("type", (1,), "S10", [b"input"])
        inp.create_dataset("shape", data=np.array(input_shape))
        for i, block in enumerate(blocks):
            group = layer.create_group(str(i + 1))
            if isinstance(block, pool_type):
                write_pool(group, block)
            else:
                copy.deepcopy(block).export_hdf5(group)
            if names is not None:
                group.attrs[NAME_ATTR] = names[i]


def pool_kernel(block):
    """A SLAYER pool's quantised kernel (kh, kw) in the integer units netx stores."""
    import torch

    syn = block.synapse
    with torch.no_grad():
        w = syn.pre_hook_fx(syn.weight, descale=True) if syn.pre_hook_fx is not None else syn.weight
    return w.reshape(w.shape[2:4]).cpu().numpy()


def write_pool(group, block) -> None:
    """A pool block as the depthwise conv layer it is (see the module doc)."""
    syn = block.synapse
    c = int(block.neuron.shape[0])
    kernel = pool_kernel(block)
    group.create_dataset("type", (1,), "S10", [b"conv"])
    group.create_dataset("shape", data=np.array(block.neuron.shape))
    group.create_dataset("inChannels", data=c)
    group.create_dataset("outChannels", data=c)
    for name, value in (("kernelSize", syn.kernel_size), ("stride", syn.stride), ("padding", syn.padding),
                        ("dilation", syn.dilation)):
        group.create_dataset(name, data=np.array(value[:2]))
    group.create_dataset("groups", data=c)
    group.create_dataset("weight", data=np.repeat(kernel[None, None], c, axis=0))
    for key, value in block.neuron.device_params.items():
        group.create_dataset(f"neuron/{key}", data=value)
