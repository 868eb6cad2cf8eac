"""One device rule for training, pruning, the demo and the evaluator:
``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when present, else CPU). A
leaf helper (imports only torch and errors) so deploy and training share it
without importing each other."""

from __future__ import annotations

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
