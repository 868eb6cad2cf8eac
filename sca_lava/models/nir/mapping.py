"""The exact mapping between a Loihi CUBA layer (as SLAYER and netx hold it)
and NIR's continuous-time neurons, written once for export and import.

A SLAYER CUBA block computes, per time step ``t`` (Loihi's fixed point: the
states are integers in units of 2**-12 of SLAYER's float unit, decays act
by a right shift towards zero)::

    u[t] = (1 - iDecay/4096) u[t-1] + sum_j W_ij s_j[t]
    v[t] = (1 - vDecay/4096) v[t-1] + u[t]
    spike where v[t] > vThMant/64, then v[t] = 0

with ``W = w/64`` (``w`` the integers netx stores: even, -256..254, what
SLAYER's ``quantize_8bit`` leaves of a weight: 8 bits in steps of 2). NIR's ``CubaLIF`` is ``tau_syn dI/dt = -I + w_in S``,
``tau_mem dv/dt = (v_leak - v) + R I``, spike where ``v > v_threshold``,
``v = v_reset`` after it. Stepped with forward Euler at a time step ``dt``
(the current first, the voltage from the new current, as SLAYER does) it
is the recurrence above, in float, when::

    tau_syn = dt / (iDecay/4096)      w_in = tau_syn / dt   (x the pool's kernel weight for a pool)
    tau_mem = dt / (vDecay/4096)      r    = tau_mem / dt
    v_threshold = vThMant / 64        v_leak = v_reset = 0
    weights = w / 64 (conv, dense); a pool is SumPool2d with its kernel weight in w_in

``dt`` is not part of NIR: it is the export's parameter (default 1e-4 s,
snnTorch's convention; Norse uses 1e-3) and recorded in the graph's
metadata. A decay of 0 (no leak) has no finite time constant: a layer with
iDecay = 4096 and vDecay = 0 is exported as ``IF`` (``r = 1/dt``); any other
zero decay is refused. Every netx layer also adds one time step of latency
(lava-dl's ``delay_shift``); NIR nodes have none, so an L-layer graph's
output is the netx network's output ``L`` steps earlier (recorded as the
metadata ``sca_lava_latency_steps``).
"""

from __future__ import annotations

import numpy as np

from sca_lava.errors import ScaLavaError

#: default time step (seconds) of the Euler discretisation (snnTorch's convention)
DEFAULT_DT = 1e-4
#: Loihi's decay scale (12 bits) and SLAYER's weight/threshold scale (w_scale)
P_SCALE = 4096
W_SCALE = 64
#: the integer weights netx stores (SLAYER's quantize_8bit: steps of 2, -256..254)
WEIGHT_INT_RANGE = (-256, 254)
WEIGHT_STEP = 2 / W_SCALE

#: metadata keys of an exported graph
META_DT = "sca_lava_dt"
META_LATENCY = "sca_lava_latency_steps"
META_CONTRACT = "sca_lava_contract"


def check_dt(dt) -> float:
    dt = float(dt)
    if not np.isfinite(dt) or not 1e-9 <= dt <= 1.0:
        raise ScaLavaError(f"dt = {dt} s: the time step must be a finite number of seconds in 1e-9..1")
    return dt


def decay_to_tau(decay: int, dt: float) -> float:
    """Time constant of a 12-bit decay (decay > 0)."""
    return dt * P_SCALE / decay


def fraction_to_decay(fraction: float) -> int:
    """The 12-bit decay of a decay fraction ``dt/tau`` (0..1)."""
    return int(np.clip(np.round(fraction * P_SCALE), 0, P_SCALE))


#: relative distance from Loihi's grid that still counts as on it (the float
#: round trip dt/tau, tau/dt of an exported file moves values by a few ulps)
GRID_TOLERANCE = 1e-9


def on_grid(values, step: float, lo: float, hi: float) -> bool:
    """True when ``values / step`` are integers in lo..hi (to GRID_TOLERANCE)."""
    q = np.asarray(values, dtype=np.float64) / step
    return bool(q.size == 0 or (np.all(np.abs(q - np.round(q)) <= GRID_TOLERANCE * np.maximum(1, np.abs(q)))
                                and np.round(q).min() >= lo and np.round(q).max() <= hi))


def on_weight_grid(w: np.ndarray) -> bool:
    """True when ``w`` (float units) are SLAYER-quantised weights."""
    return on_grid(w, WEIGHT_STEP, *(r / 2 for r in WEIGHT_INT_RANGE))


def quantize_weights(w: np.ndarray) -> np.ndarray:
    """SLAYER's weight quantiser (round to the 2/64 grid, clamp to 8 bits), in float units."""
    lo, hi = (r / W_SCALE for r in WEIGHT_INT_RANGE)
    return np.clip(np.round(np.asarray(w, dtype=np.float64) / WEIGHT_STEP) * WEIGHT_STEP, lo, hi)
