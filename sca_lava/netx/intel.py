"""Intel's own netx networks and ground truth, as the lava-dl 0.6.0 wheel
installs them (``site-packages/tests/lava/lib/dl/netx/``), and the one place
that knows how each is driven (used by the tests, the benchmark, the
notebook and docs/intel.md).

Intel's arrays are in Lava's axis order (x, y, f[, t]) = (W, H, C[, T]);
:func:`to_slayer` turns them into SLAYER's (C, H, W[, T]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sca_lava.errors import ScaLavaError

#: network -> path of its netx file below the root
FILES = {
    "tiny": "tiny.net",
    "pilotnet_lif": "gts/pilotnet_lif/network.net",
    "pilotnet_sdnn": "gts/pilotnet_sdnn/network.net",
    "pilotnet_sdnn_square": "gts/pilotnet_sdnn/square_network.net",
    "ntidigits": "gts/ntidigits/ntidigits.net",
    "mnist": "mnist.net",
}

#: the PilotNet LIF recording: reset every 17 steps (its input pattern repeats
#: with that period), 24 steps per layer (25 for the last), layer names in order
PILOTNET_LIF_RESET = 17
PILOTNET_LIF_LAYERS = ("input", "conv-0", "conv-1", "conv-2", "conv-3", "conv-4", "fc-0", "fc-1", "fc-2", "fc-3")


def intel_netx_root() -> Path:
    """Folder of Intel's netx test files in the installed lava-dl wheel."""
    import importlib.metadata as md

    try:
        files = md.files("lava-dl") or []
    except md.PackageNotFoundError:
        raise ScaLavaError("lava-dl is not installed, so Intel's netx files are not available") from None
    for f in files:
        if str(f).replace("\\", "/").endswith("lib/dl/netx/tiny.net"):
            root = Path(f.locate()).parent
            if (root / "gts").is_dir():
                return root
    raise ScaLavaError("the installed lava-dl has no tests/lava/lib/dl/netx folder (Intel's netx files)")


def intel_file(name: str) -> Path:
    if name not in FILES:
        raise ScaLavaError(f"unknown Intel network {name!r} (known: {', '.join(FILES)})")
    return intel_netx_root() / FILES[name]


def to_slayer(arr: np.ndarray) -> np.ndarray:
    """Lava (W, H, C[, T]) or (F[, T]) -> SLAYER (C, H, W[, T]) / (F[, T])."""
    arr = np.asarray(arr)
    if arr.ndim >= 3:
        return arr.transpose(2, 1, 0, *range(3, arr.ndim))
    return arr


def load_gt(rel: str) -> np.ndarray:
    """One ground-truth array (path below the root), in SLAYER axis order."""
    return to_slayer(np.load(intel_netx_root() / rel))


def pilotnet_lif_image() -> np.ndarray:
    """PilotNet LIF's input-layer bias (Intel drives it through
    ``net.in_layer.neuron.bias_mant``): (1, 3, 66, 200)."""
    return load_gt("gts/pilotnet_lif/image.npy").astype(np.int64)[None]


def pilotnet_sdnn_input(steps: int = 9, square: bool = False) -> np.ndarray:
    """PilotNet SDNN's graded input frame into the input neuron's a_in, held
    for ``steps`` steps as Intel's RingBuffer of one frame does: (1, 3, 33, W, T)."""
    x = np.load(intel_netx_root() / "gts/pilotnet_sdnn/input.npy")  # (100, 33, 3, 1)
    if square:
        x = x[:33]
    return to_slayer(np.repeat(x, steps, axis=-1))[None].astype(np.int64)
