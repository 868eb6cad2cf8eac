"""NIR's float semantics of an imported chain, run in float64 (forward
Euler steps of ``dt``, :class:`~sca_lava.models.nir.chain.FloatLayer`), with
the one-step latency every Loihi layer adds, so that comparing it with the
fixed-point module isolates the error the conversion makes (decays,
weights and thresholds rounded to Loihi's integers, states truncated)."""

from __future__ import annotations

import numpy as np
import torch


def run_float(layers, x: torch.Tensor) -> torch.Tensor:
    """Output spikes (N, *out_shape, T) of the float chain for input spikes
    ``x`` (N, *input_shape, T)."""
    import torch.nn.functional as F

    x = x.to(torch.float64)
    n, steps = x.shape[0], x.shape[-1]
    for ly in layers:
        if ly.kind == "flatten":
            x = x.reshape(n, -1, steps)
            continue
        xt = x.movedim(-1, 1).reshape(n * steps, *ly.in_shape)
        if ly.kind == "conv":
            z = F.conv2d(xt, torch.from_numpy(np.asarray(ly.weight, dtype=np.float64)), stride=ly.stride,
                         padding=ly.padding)
        elif ly.kind == "pool":
            c = ly.in_shape[0]
            kernel = torch.full((c, 1, ly.kernel, ly.kernel), float(ly.weight), dtype=torch.float64)
            z = F.conv2d(xt, kernel, stride=ly.kernel, groups=c)
        else:
            z = xt.reshape(n * steps, -1) @ torch.from_numpy(np.asarray(ly.weight, dtype=np.float64)).T
        z = z.reshape(n, steps, *ly.out_shape).movedim(1, -1)
        u = torch.zeros(z.shape[:-1], dtype=torch.float64)
        v = torch.zeros_like(u)
        out = torch.zeros_like(z)
        for t in range(steps):
            u = (1 - ly.alpha_u) * u + z[..., t]
            v = (1 - ly.alpha_v) * v + u
            spike = v > ly.threshold
            v = torch.where(spike, torch.zeros_like(v), v)
            if t + 1 < steps:  # Loihi's one step of latency per layer
                out[..., t + 1] = spike.to(torch.float64)
        if ly.delay is not None:
            out = _delay(out, ly.delay)
        x = out
    return x


def _delay(out: torch.Tensor, steps: np.ndarray) -> torch.Tensor:
    shifted = torch.zeros_like(out)
    total = out.shape[-1]
    for i, d in enumerate(steps.astype(int)):
        if d < total:
            shifted[:, i, ..., d:] = out[:, i, ..., :total - d]
    return shifted


def agreement(reference: torch.Tensor, fixed: torch.Tensor) -> dict:
    """How far the fixed-point module's output spikes are from the float
    semantics': per (sample, neuron, step), in spike counts and in class
    decisions (the neuron with the most spikes; ties go to the lowest)."""
    n, steps = reference.shape[0], reference.shape[-1]
    ref, fix = (s.detach().cpu().double().reshape(n, -1, steps) for s in (reference, fixed))
    counts_ref, counts_fix = ref.sum(-1), fix.sum(-1)
    return {
        "samples": int(n),
        "steps": int(ref.shape[-1]),
        "spike_agreement": float((ref == fix).double().mean()),
        "samples_identical": float(torch.all((ref == fix).reshape(n, -1), dim=1).double().mean()),
        "class_agreement": float((counts_ref.argmax(1) == counts_fix.argmax(1)).double().mean()),
        "output_spikes_float": int(ref.sum()),
        "output_spikes_fixed": int(fix.sum()),
    }
