"""Static images -> SLAYER input spikes (N, C, H, W, T).

Default ``rate-regular``: a deterministic rate code. Each pixel of intensity
p in [0, 1] integrates p per step and spikes when the accumulator crosses 1
(spike at step t iff floor((t+1)p) > floor(tp)), so it fires round(p*T)
times, evenly spaced. No random generator is involved, so SLAYER, the Lava
RingBuffer and the fixed-point evaluator see bit-identical inputs and the
same command always gives the same numbers.

``rate-poisson``: Bernoulli spikes with probability p per step from a
generator seeded by (seed, sample index): reproducible, but noisier.
"""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError

ENCODINGS = ("rate-regular", "rate-poisson")


def encode(images: np.ndarray, num_steps: int, method: str = "rate-regular", seed: int = 0,
           first_index: int = 0, indices=None) -> np.ndarray:
    """Encode float images (N, C, H, W) or flat samples (N, F) in [0, 1] as
    uint8 spikes (N, C, H, W, T) / (N, F, T).
    ``indices`` (or ``first_index + i``) are the samples' positions in their
    data set: rate-poisson noise depends on (seed, index) only, never on the
    batch a sample lands in."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (2, 4):
        raise ScaLavaError(f"images must be (N, C, H, W) or (N, F), got shape {images.shape}")
    if num_steps < 1:
        raise ScaLavaError(f"num_steps must be >= 1, got {num_steps}")
    p = np.clip(images, 0.0, 1.0)[..., None]
    if method == "rate-regular":
        t = np.arange(num_steps + 1, dtype=np.float32)
        # quantise p first so float rounding cannot differ between callers
        q = np.round(p * 1024).astype(np.int64)
        acc = (q * t.astype(np.int64)) // 1024
        return (acc[..., 1:] > acc[..., :-1]).astype(np.uint8)
    if method == "rate-poisson":
        out = np.empty(images.shape + (num_steps,), dtype=np.uint8)
        index = np.arange(first_index, first_index + len(images)) if indices is None else np.asarray(indices)
        if index.shape != (len(images),):
            raise ScaLavaError(f"encode: {len(images)} images but {index.size} sample indices")
        for i in range(len(images)):
            rng = np.random.default_rng([int(seed), int(index[i])])
            out[i] = rng.random(out.shape[1:], dtype=np.float32) < p[i]
        return out
    raise ScaLavaError(f"unknown encoding {method!r} (choose from {', '.join(ENCODINGS)})")
