"""Data parallelism on ``torch.distributed``, launched by ``torchrun``.

All of our distributed glue lives here; the engine is PyTorch's own
(``init_process_group`` from torchrun's environment, ``DistributedDataParallel``
for the gradients, gloo on CPU and NCCL on GPUs). Semantics:

- ``--batch-size`` is the GLOBAL batch. Global batch k of epoch e is the same
  slice of the same permutation (``default_rng([seed, e])``) as in a single
  process; process r takes its elements r, r+W, r+2W, ... (DistributedSampler's
  interleaving applied per batch). The summed loss and a SUM all-reduce of the
  gradients give the same update as one process over the whole batch (up to
  float summation order), on any number of processes.
- A last batch smaller than the world is padded with the epoch's first samples
  (as DistributedSampler pads), so no process ever gets an empty shard.
- Rank 0 writes files; the others wait at a barrier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from sca_lava.device import resolve_device
from sca_lava.errors import ScaLavaError


@dataclass(frozen=True)
class DistContext:
    """Where this process runs and who it is among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def comm_device(self) -> str:
        """NCCL reduces CUDA tensors, gloo CPU ones."""
        return self.device if self.enabled and self.device.startswith("cuda") else "cpu"

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def all_reduce_(self, tensor: torch.Tensor) -> torch.Tensor:
        """In-place SUM over all processes (no-op in one process)."""
        if self.enabled:
            buf = tensor.to(self.comm_device)
            torch.distributed.all_reduce(buf)
            if buf is not tensor:
                tensor.copy_(buf)
        return tensor

    def all_reduce_sums(self, pairs) -> None:
        """Sum ``getattr(holder, name)`` (tensors or ints) over all processes in
        ONE collective; every process ends with the totals."""
        if not self.enabled:
            return
        pairs = list(pairs)
        values = [getattr(h, n) for h, n in pairs]
        flat = torch.cat([v.detach().reshape(-1).to("cpu", torch.float64) if torch.is_tensor(v)
                          else torch.tensor([float(v)], dtype=torch.float64) for v in values])
        self.all_reduce_(flat)
        at = 0
        for (holder, name), v in zip(pairs, values):
            if torch.is_tensor(v):
                v.copy_(flat[at:at + v.numel()].reshape(v.shape))
                at += v.numel()
            else:  # a Python count keeps its type (int stays int, float stays float)
                total = float(flat[at])
                setattr(holder, name, int(round(total)) if isinstance(v, int) else total)
                at += 1

    def keep_on_main(self, pairs) -> None:
        """After :meth:`all_reduce_sums`: processes other than rank 0 zero their
        copies, so the sum over processes is again the total (rank 0 holds it,
        and rank 0's checkpoint carries it)."""
        if not self.enabled or self.is_main:
            return
        for holder, name in pairs:
            v = getattr(holder, name)
            if torch.is_tensor(v):
                v.zero_()
            else:
                setattr(holder, name, type(v)(0))


def launched_world_size() -> int:
    """The number of processes torchrun started (WORLD_SIZE; 1 when unset)."""
    text = os.environ.get("WORLD_SIZE", "").strip() or "1"
    try:
        world = int(text)
    except ValueError:
        raise ScaLavaError(f"WORLD_SIZE={text!r} is not a number of processes: launch with torchrun") from None
    if world < 1:
        raise ScaLavaError(f"WORLD_SIZE={world} must be >= 1")
    return world


def init_distributed(device: str | None = "auto") -> DistContext:
    """The process's context: one process unless torchrun set WORLD_SIZE > 1,
    in which case the process group is started from torchrun's environment.
    The group then lives as long as the process (see ``sca_lava.cli.run``)."""
    world = launched_world_size()
    if world <= 1:
        return DistContext(device=resolve_device(device))
    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError):
        raise ScaLavaError("WORLD_SIZE is set but RANK is not: launch with torchrun") from None
    dev = resolve_device(device, local_rank=local)
    if not torch.distributed.is_initialized():
        if dev.startswith("cuda"):
            torch.cuda.set_device(torch.device(dev))
        torch.distributed.init_process_group("nccl" if dev.startswith("cuda") else "gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


def shutdown() -> None:
    """Destroy the process group, for a program that goes on without it (the
    CLI does not: a torchrun worker leaves through ``sca_lava.cli.run``)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# --- batches ------------------------------------------------------------------
def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of an epoch: a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def global_batches(n: int, batch_size: int, seed: int, epoch: int, world_size: int = 1) -> list[np.ndarray]:
    """The epoch's global batches (the last one padded to >= world_size samples)."""
    order = epoch_order(n, seed, epoch)
    batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]
    if batches and len(batches[-1]) < world_size:
        short = batches[-1]
        pad = order[np.arange(world_size - len(short)) % n]
        batches[-1] = np.concatenate([short, pad])
    return batches


def shard(batch: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This process's part of a global batch (interleaved like DistributedSampler)."""
    return batch[rank::world_size]


# --- model --------------------------------------------------------------------
class AllLayers(torch.nn.Module):
    """``forward`` = every block's output of a traced network
    (:meth:`~sca_lava.models.graph.Graph.outputs`: the loop and the SCA taps
    need them all), so DistributedDataParallel can wrap it."""

    def __init__(self, graph):
        super().__init__()
        self.net = graph.module
        self.graph = graph

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.graph.outputs(x)


def _sum_hook(_state, bucket):
    """Gradient SUM over processes (DDP averages by default): the loss is a sum
    over the batch, so the sum is one process's gradient over the global batch."""
    fut = torch.distributed.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])


def data_parallel(graph, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel around a traced network's every-block outputs (parameters are
    broadcast from rank 0 here). Buffers (the SCA masks) are not broadcast at
    every step: all processes change them identically."""
    from torch.nn.parallel import DistributedDataParallel

    dev = torch.device(ctx.device)
    ddp = DistributedDataParallel(AllLayers(graph), device_ids=[dev.index] if dev.type == "cuda" else None,
                                  broadcast_buffers=False)
    ddp.register_comm_hook(None, _sum_hook)
    return ddp


def check_world_size(state: dict, ctx: DistContext, path="checkpoint") -> None:
    """Resume only under the world size that wrote the checkpoint."""
    saved = int(state.get("world_size", 1))
    if saved != ctx.world_size:
        raise ScaLavaError(f"{path} was written by {saved} process(es); resume it with the same number "
                           f"(this run has {ctx.world_size})")
