"""One device rule for training, pruning, the demo and the evaluator:
``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when present, else CPU). A
leaf helper (imports only torch and errors) so deploy and training share it
without importing each other. :func:`exact_cuda_math`: the GPU settings under
which float sums of integers stay exact, as on the CPU."""

from __future__ import annotations

from contextlib import contextmanager

from sca_lava.errors import ScaLavaError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | None = "auto", local_rank: int | None = None) -> str:
    """The torch device string for a user's choice. Under ``torchrun`` a bare
    ``cuda`` means this process's GPU (``cuda:LOCAL_RANK``)."""
    import torch

    name = "auto" if device in (None, "") else str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ScaLavaError(f"device {name!r} requested but CUDA is not available (use --device cpu)")
        if name == "cuda" and local_rank is not None:
            name = f"cuda:{local_rank}"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ScaLavaError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type not in ("cpu", "cuda"):
        raise ScaLavaError(f"unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ScaLavaError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return str(dev)


@contextmanager
def exact_cuda_math():
    """cuDNN and cuBLAS on the GPU as exact as the CPU for the synapse sums:
    no TF32 (a 10-bit mantissa would round the inputs of a float32 sum),
    deterministic algorithms and no autotuning (the same algorithm on every
    run). Restored afterwards; the flags do nothing on the CPU."""
    import torch

    b = torch.backends
    saved = (b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32,
             torch.get_float32_matmul_precision())
    b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark = False, True, False
    b.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32 = saved[:4]
        torch.set_float32_matmul_precision(saved[4])
