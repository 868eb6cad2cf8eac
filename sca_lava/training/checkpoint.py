"""Checkpoints: plain dicts of tensors and Python values, written atomically
and read back with ``torch.load(weights_only=True)``. Reading validates the
structure (tensors where tensors go, finite weights, a list history), so a
damaged or foreign checkpoint is a one-line error, never a traceback or a
silently exported NaN network."""

from __future__ import annotations

import os
import pickle
import zipfile

import torch

from sca_lava.atomic import atomic_path, check_input_file
from sca_lava.errors import ScaLavaError

__all__ = ["load_checkpoint", "load_trained", "load_weights", "model_from_checkpoint", "save_checkpoint"]

#: checkpoints larger than this are refused before they are read
MAX_BYTES = 4 << 30


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def read_torch_file(path: str | os.PathLike, what: str = "checkpoint"):
    """``torch.load(weights_only=True)`` of a file checked first, with one-line
    errors (a netx HDF5 file given instead is named as such)."""
    check_input_file(path, what, MAX_BYTES)
    with open(path, "rb") as fh:
        if fh.read(8) == HDF5_MAGIC:
            raise ScaLavaError(f"{path}: is an HDF5 file (a netx network, as exported), not a {what}: give it to "
                               "evaluate, simulate or budget, or pass the .pt file it was exported from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            AttributeError, TypeError, KeyError, IndexError, UnicodeDecodeError, MemoryError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in first or "Unsupported global" in first:
            first = "it holds Python objects beyond tensors; save weights with torch.save(module.state_dict())"
        raise ScaLavaError(f"{path}: unreadable {what} ({first[:160]})") from None


def is_state_dict(state) -> bool:
    """A plain ``module.state_dict()`` (names -> tensors), as lava-dl's tutorials save."""
    return isinstance(state, dict) and bool(state) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def load_checkpoint(path: str | os.PathLike) -> dict:
    """An sca_lava checkpoint, validated (a plain state dict is refused with a
    hint: it needs ``--model``, see :func:`sca_lava.commands._model`)."""
    state = read_torch_file(path)
    if is_state_dict(state):
        raise ScaLavaError(f"{path}: holds the weights of a network of your own (a plain state dict), not an "
                           "sca_lava checkpoint: name its code with --model FILE.py:CLASS")
    if not isinstance(state, dict) or "model" not in state or not ("config" in state or "module" in state):
        raise ScaLavaError(f"{path}: not an sca_lava checkpoint (no model/config)")
    validate_state(state, os.fspath(path))
    return state


def validate_state(state: dict, where: str) -> None:
    """Types of every field the loaders use."""
    weights = state["model"]
    if not isinstance(weights, dict) or not weights:
        raise ScaLavaError(f"{where}: 'model' must map parameter names to tensors")
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ScaLavaError(f"{where}: model entry {str(key)[:60]!r} is {type(value).__name__}, not a tensor")
        if value.is_floating_point() or value.is_complex():
            if value.is_complex():
                raise ScaLavaError(f"{where}: model entry {key!r} is complex")
            if not bool(torch.isfinite(value).all()):
                raise ScaLavaError(f"{where}: model entry {key!r} holds NaN or infinite values")
    if state.get("config") is not None and not isinstance(state["config"], dict):
        raise ScaLavaError(f"{where}: 'config' must be a network config mapping")
    if state.get("module") is not None and not (isinstance(state["module"], str) and len(state["module"]) < 300):
        raise ScaLavaError(f"{where}: 'module' must be the name of the network's class")
    shape = state.get("input_shape")
    if shape is not None and not (isinstance(shape, list) and 1 <= len(shape) <= 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 20 for v in shape)):
        raise ScaLavaError(f"{where}: 'input_shape' must be a list of up to 3 positive sizes")
    for key, kind in (("train_config", dict), ("history", list), ("callbacks", dict), ("optimizer", dict),
                      ("pruning", dict), ("structure", dict)):
        if state.get(key) is not None and not isinstance(state[key], kind):
            raise ScaLavaError(f"{where}: {key!r} must be a {kind.__name__}, got {type(state[key]).__name__}")
    if state.get("history") is not None and not all(isinstance(r, dict) for r in state["history"]):
        raise ScaLavaError(f"{where}: 'history' must be a list of per-epoch records")
    epoch = state.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= 10**6:
        raise ScaLavaError(f"{where}: 'epoch' must be a non-negative integer, got {epoch!r}"[:160])
    if state.get("contract") is not None:
        from sca_lava.netx.contract import InputContract

        InputContract.from_dict(state["contract"], where)
    if "train_config" in state:
        from sca_lava.training.config import TrainConfig

        try:
            TrainConfig.from_dict(state["train_config"])
        except ScaLavaError as exc:
            raise ScaLavaError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ScaLavaError(f"{where}: bad train config ({exc})") from None


def module_name(model: torch.nn.Module) -> str:
    """``package.module.Class`` of a network (recorded in checkpoints, never imported from them)."""
    return f"{type(model).__module__}.{type(model).__qualname__}"


def load_weights(model: torch.nn.Module, weights: dict, where: str, strict: bool = False) -> list[str]:
    """``model.load_state_dict`` with one-line errors for weights of another
    architecture (missing or wrongly shaped tensors); returns unexpected keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    if missing:
        raise ScaLavaError(f"{where}: weights do not match the network (missing {missing[:3]})")
    for key, ref in own.items():
        if tuple(weights[key].shape) != tuple(ref.shape):
            raise ScaLavaError(f"{where}: {key} has shape {tuple(weights[key].shape)} but the network "
                               f"needs {tuple(ref.shape)} (weights of another architecture?)")
    unexpected = [k for k in weights if k not in own]
    if strict and unexpected:
        raise ScaLavaError(f"{where}: weights the network does not have ({unexpected[:3]})")
    model.load_state_dict(weights, strict=False)
    return unexpected


def model_from_checkpoint(state: dict, module: torch.nn.Module | None = None, where: str = "checkpoint"):
    """The network of a checkpoint: sca_lava's own nets are rebuilt from their
    config; a user's module must be given (built by the user's code, never by
    the checkpoint). A pruned checkpoint's ``structure`` (kept channels per
    layer) is cut into the module before its weights are loaded."""
    from sca_lava.models import NetworkConfig, build_network
    from sca_lava.models.graph import trace
    from sca_lava.netx.contract import InputContract

    if module is None:
        if state.get("config") is None:
            raise ScaLavaError(f"{where} holds a network of your own ({state.get('module', 'a user module')}): "
                               "name its code with --model FILE.py:CLASS")
        module = build_network(NetworkConfig.from_dict(state["config"], where))
    shape = state.get("input_shape") or (state.get("contract") or {}).get("input_shape")
    if shape is None:
        raise ScaLavaError(f"{where} records no input shape; pass --input-shape")
    graph = trace(module, tuple(shape), where=module_name(module))
    if state.get("structure"):
        from sca_lava.models.surgery import apply_structure

        module, graph = apply_structure(graph, state["structure"], where)
    unexpected = load_weights(module, state["model"], where)
    if any("sca_" in key for key in unexpected):
        raise ScaLavaError("this is a masked pruning checkpoint: use the surgered pruned.pt next to it "
                           "(or sca_lava.pruning.load_masked)")
    if unexpected:
        raise ScaLavaError(f"{where}: weights the network does not have ({unexpected[:3]})")
    if state.get("contract") is not None:
        module.contract = InputContract.from_dict(state["contract"], where)
    return module


def load_trained(path: str | os.PathLike, module: torch.nn.Module | None = None):
    state = load_checkpoint(path)
    return model_from_checkpoint(state, module, str(path)), state
