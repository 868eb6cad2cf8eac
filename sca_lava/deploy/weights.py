"""The weights Lava's fixed-point synapses really apply to a netx file's
weights (netx's bit optimisation, clipping and truncation), mirrored in
numpy for the evaluator."""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError


def dense_effective_weights(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """(integer weights, right shift) that Lava's fixed-point Dense applies to
    a netx dense weight: ``a = (W_eff @ s) >> shift``.

    Mirrors ``lava.lib.dl.netx.utils.optimize_weight_bits`` followed by
    ``clip_weights``/``truncate_weights`` in ``PyDenseModelBitAcc``, with the
    same numpy integer operations so edge cases round identically.
    """
    w = np.asarray(weight).astype(np.int64)
    max_w, min_w = int(w.max()), int(w.min())
    if max_w > 254 and min_w < 0:
        w = np.clip(w, -256, 254)
        max_w = int(w.max())
    if min_w < -256 and max_w > 0:
        w = np.clip(w, -256, 254)
        min_w = int(w.min())
    if max_w < 0:
        signed, scale = 0, -256 / min_w
    elif min_w >= 0:
        signed, scale = 0, 255 / max_w
    else:
        signed = 1
        scale = min(127 / max_w if max_w > 0 else np.inf, -128 / min_w)
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / 2**n - np.round(w / 2**n))) != 0:
        n -= 1
    n -= signed
    num_weight_bits = 8 - scale_bits - n
    weight_exp = -scale_bits
    w2 = np.left_shift(w.astype(np.int32), scale_bits)
    # PyDenseModelBitAcc: its own sign mode, clip to 8 bit, truncate
    if w2.min() >= 0:
        lmode = "exc"
    elif w2.max() <= 0:
        lmode = "inh"
    else:
        lmode = "mixed"
    mixed = int(lmode == "mixed")
    w3 = w2.astype(np.int32)
    if lmode == "inh":
        w3 = -w3
    w3 = np.clip(w3, -(2**8) * mixed, 2**8 - 1)
    ntb = 8 - num_weight_bits + mixed
    w3 = (w3 >> ntb) << ntb
    if lmode == "inh":
        w3 = -w3
    if weight_exp > 0:  # cannot happen for weights in range; kept for completeness
        raise ScaLavaError("dense weights need a positive weight exponent, which is not modelled")
    return w3.astype(np.int64), -weight_exp
