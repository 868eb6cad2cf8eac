"""Your own lava-dl network on the command line: ``--model FILE.py:CLASS``
(``--model-kwargs JSON``) names the code that builds it, ``--from FILE.pt``
(alias ``--weights``) its weights: a plain ``state_dict`` as lava-dl's
tutorials save it, or an sca_lava checkpoint of it (a pruned one carries the
kept channels, which are cut into the freshly built module before its
weights load).

Running the file you name is the point (it is your code); a checkpoint never
names code to run: its recorded class is only compared with ``--model``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from sca_lava.errors import ScaLavaError

MAX_KWARGS = 10_000


def add_model_args(p: argparse.ArgumentParser, weights: bool = True) -> None:
    p.add_argument("--model", dest="user_model", default=None, metavar="FILE.py:CLASS",
                   help="your own lava-dl network: the Python file and the torch.nn.Module class in it "
                   "(its blocks: slayer.block.cuba Conv, Pool, Flatten, Dense)")
    p.add_argument("--model-kwargs", default=None, metavar="JSON",
                   help="keyword arguments of the --model class, as a JSON object")


def parse_model_spec(text: str) -> tuple[Path, str]:
    path, sep, name = str(text).rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise ScaLavaError(f"--model {text!r}: write FILE.py:CLASS (e.g. net.py:Network)")
    file = Path(path)
    if file.suffix != ".py" or not file.is_file():
        raise ScaLavaError(f"--model {text!r}: {file} is not a Python file")
    return file, name


def build_user_module(spec: str, kwargs_json: str | None = None):
    """An instance of the class ``spec`` (FILE.py:CLASS) names, built by running
    that file; one-line errors for anything that goes wrong in it."""
    import warnings

    import torch

    from sca_lava._lava_dl import slayer

    slayer()  # lava-dl imported here first, its start-up chatter muted, before the user's file imports it
    file, name = parse_model_spec(spec)
    kwargs = {}
    if kwargs_json:
        if len(kwargs_json) > MAX_KWARGS:
            raise ScaLavaError("--model-kwargs is too long")
        try:
            kwargs = json.loads(kwargs_json)
        except ValueError as exc:
            raise ScaLavaError(f"--model-kwargs is not JSON ({exc})") from None
        if not isinstance(kwargs, dict):
            raise ScaLavaError("--model-kwargs must be a JSON object of keyword arguments")
    modname = f"sca_lava_user_model_{abs(hash(str(file.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(modname, file)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[modname] = module
    try:
        with warnings.catch_warnings():
            # lava-dl's weight_norm=True calls torch's deprecated weight_norm: not the user's to fix
            warnings.filterwarnings("ignore", message="torch.nn.utils.weight_norm is deprecated")
            loader_spec.loader.exec_module(module)
            cls = getattr(module, name, None)
            if cls is None:
                raise ScaLavaError(f"--model: {file} defines no {name!r}")
            net = cls(**kwargs)
    except ScaLavaError:
        raise
    except BaseException as exc:  # the user's code: any failure is theirs to read, in one line
        if isinstance(exc, KeyboardInterrupt):
            raise
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ScaLavaError(f"--model {spec}: building it failed ({type(exc).__name__}: {text})") from None
    if not isinstance(net, torch.nn.Module):
        raise ScaLavaError(f"--model {spec}: {name} is not a torch.nn.Module")
    return net


def user_network(args, input_shape=None, where: str = "--from"):
    """(module, checkpoint state or None) of ``--model`` with the weights of
    ``--from`` (None: untrained). The input shape to trace it on comes from
    the checkpoint, else ``input_shape`` (the data's, or ``--input-shape``)."""
    from sca_lava.models.graph import trace
    from sca_lava.training.checkpoint import (
        is_state_dict,
        load_weights,
        model_from_checkpoint,
        module_name,
        read_torch_file,
        validate_state,
    )

    net = build_user_module(args.user_model, getattr(args, "model_kwargs", None))
    path = getattr(args, "from_ckpt", None)
    if path is None:
        if input_shape is None:
            raise ScaLavaError("pass --input-shape C,H,W (or F): the shape your network's input has")
        trace(net, tuple(input_shape), where=module_name(net))
        return net, None
    state = read_torch_file(path, "weights file")
    if is_state_dict(state):
        shape = input_shape or getattr(args, "input_shape", None)
        if shape is None:
            raise ScaLavaError(f"{path} is a plain state dict: pass --input-shape C,H,W (or F) so the network "
                               "can learn its shapes before its weights load")
        trace(net, tuple(shape), where=module_name(net))
        load_weights(net, state, str(path), strict=True)
        return net, None
    if not isinstance(state, dict) or "model" not in state:
        raise ScaLavaError(f"{path}: neither a state dict nor an sca_lava checkpoint")
    validate_state(state, str(path))
    recorded = state.get("module")
    if recorded and recorded.rsplit(".", 1)[-1] != type(net).__qualname__.rsplit(".", 1)[-1]:
        raise ScaLavaError(f"{path} holds a {recorded}, not the {type(net).__name__} of --model")
    if input_shape is not None and state.get("input_shape") is None:
        state = {**state, "input_shape": list(input_shape)}
    return model_from_checkpoint(state, net, str(path)), state


def network_from_args(args, input_shape=None):
    """(module, state) of the command's network: ``--model`` (and ``--from``),
    or sca_lava's own checkpoint ``--from``."""
    from sca_lava.training.checkpoint import load_trained

    if getattr(args, "user_model", None):
        return user_network(args, input_shape)
    return load_trained(args.from_ckpt)
