"""Checkpoints: plain dicts of tensors and Python values, written atomically
and read back with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import pickle
import zipfile

import torch

from sca_lava.atomic import atomic_path
from sca_lava.errors import ScaLavaError


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    if not os.path.exists(path):
        raise ScaLavaError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScaLavaError(f"{path}: unreadable checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ScaLavaError(f"{path}: not an sca_lava checkpoint (no model/config)")
    return state
