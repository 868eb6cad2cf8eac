"""The cost taps' active neuron-step count: the fast first-event path (a
horizon spanning the window) equals the step-by-step definition on random
events and geometries, and the windowed path follows the horizon."""

import numpy as np
import pytest
import torch

from sca_lava.geometry import LayerGeometry
from sca_lava.pruning.tally import active_steps, active_steps_windowed


def brute_force(fired: np.ndarray, geo: LayerGeometry, horizon: float) -> float:
    """Per output position and step: any event in the receptive field within
    the last ``horizon`` steps (loops, no tricks)."""
    n, t = fired.shape[0], fired.shape[-1]
    if geo.kind != "conv":
        ev = fired.reshape(n, t) > 0
        return float(sum(ev[i, max(0, s - int(min(horizon, t)) + 1):s + 1].any()
                         for i in range(n) for s in range(t)))
    h, w = fired.shape[1:3]
    k, st, p = geo.kernel, geo.stride, geo.padding
    ho, wo = (h + 2 * p - k) // st + 1, (w + 2 * p - k) // st + 1
    padded = np.pad(fired > 0, ((0, 0), (p, p), (p, p), (0, 0)))
    total = 0
    for oy in range(ho):
        for ox in range(wo):
            field = padded[:, oy * st:oy * st + k, ox * st:ox * st + k, :].any(axis=(1, 2))  # (n, t)
            for s in range(t):
                total += field[:, max(0, s - int(min(horizon, t)) + 1):s + 1].any(axis=1).sum()
    return float(total)


@pytest.mark.parametrize("seed", range(12))
def test_active_steps_equal_the_definition(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.choice([1, 3, 5]))
    geo = LayerGeometry(block=0, kind="conv", in_shape=(2, 9, 9), out_shape=(4, 5, 5), kernel=k,
                        stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, k // 2 + 1)))
    t = int(rng.integers(3, 10))
    fired = (rng.random((3, 9, 9, t)) < rng.choice([0.01, 0.05, 0.3])).astype(np.float32)
    x = torch.from_numpy(fired)
    for horizon in (1, 2, t - 1, t, float("inf")):
        want = brute_force(fired, geo, horizon)
        assert active_steps(x, geo, horizon) == want
        assert active_steps_windowed(x, geo, horizon) == want
    dense = LayerGeometry(block=0, kind="dense", in_shape=(7,), out_shape=(3,))
    events = (rng.random((4, 1, t)) < 0.2).astype(np.float32)
    for horizon in (1, t, float("inf")):
        assert active_steps(torch.from_numpy(events), dense, horizon) == brute_force(events, dense, horizon)
