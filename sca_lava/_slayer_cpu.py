"""A compiled CPU kernel for SLAYER's leaky integrator, bit-identical to lava-dl's.

On the CPU, lava-dl 0.6 runs the CUBA neuron's two leaky integrators (current
and voltage) as a Python loop over time steps in int64 tensor arithmetic,
writing into the strided time axis: on ``mnist_vgg`` that is about half of a
training step. :func:`install` replaces lava-dl's two module functions
``_li_dynamics_fwd`` / ``_li_dynamics_bwd`` (which its ``_LIDynamics`` autograd
function calls; nothing is edited on disk) with numba kernels that do the same
integer arithmetic per neuron in one pass, with the same roundings and
casts, so states, spikes and gradients are equal bit for bit
(``tests/test_slayer_cpu.py`` checks it against lava-dl's own functions).

Only the case sca_lava's networks use is taken: float32 CPU tensors and one
shared decay per layer. Anything else (CUDA, which keeps lava-dl's CUDA
kernel; per-neuron decays; other dtypes) goes to lava-dl's functions, and so
does everything when ``SCA_LAVA_REFERENCE_DYNAMICS=1`` is set.
"""

from __future__ import annotations

import os
import threading

import numpy as np

try:
    import numba
except ImportError:  # lava-dl's loop still works, only slower
    numba = None

_SHIFT = 12  # lava-dl's decays are 12-bit fixed point: y <- (y * (4096 - decay)) >> 12
_lock = threading.Lock()  # numba's workqueue threads take one launch at a time
_kernels: dict = {}


def _li_forward(x, decay_int, state, threshold, w_scale, out):
    # lava-dl: old = (state * w_scale).to(int64); per step
    # new = right_shift_to_zero(old * decay_int, 12) + (w_scale * x[n]).to(int64),
    # out[n] = new / w_scale (float32), reset where new >= threshold (compared in float32)
    neurons, steps = x.shape
    ws = np.float32(w_scale)
    thr = np.float32(threshold)
    resets = threshold > 0
    for i in numba.prange(neurons):
        old = np.int64(state[i] * ws)
        for n in range(steps):
            p = old * decay_int
            shifted = p >> _SHIFT if p > 0 else -((-p) >> _SHIFT)
            new = shifted + np.int64(ws * x[i, n])
            out[i, n] = np.float32(new) / ws
            if resets and np.float32(new) >= thr:
                old = 0
            else:
                old = new


def _li_backward(grad_out, decay, grad_in):
    # lava-dl: g[T-1] = go[T-1]; g[n] = decay * g[n+1] + go[n] (float32, mul then add)
    neurons, steps = grad_out.shape
    for i in numba.prange(neurons):
        acc = grad_out[i, steps - 1]
        grad_in[i, steps - 1] = acc
        for n in range(steps - 2, -1, -1):
            acc = np.float32(decay * acc) + grad_out[i, n]
            grad_in[i, n] = acc


def _kernel(name: str, parallel: bool):
    key = (name, parallel)
    if key not in _kernels:
        if numba.config.THREADING_LAYER == "default":
            # numba would pick OpenMP, share torch's libgomp and reset torch's thread count
            numba.config.THREADING_LAYER = "workqueue"
        fn = {"forward": _li_forward, "backward": _li_backward}[name]
        # only the parallel kernels are cached on disk (one variant per function in the cache)
        _kernels[key] = numba.njit(parallel=parallel, cache=parallel, nogil=True)(fn)
    return _kernels[key]


_launcher_pid = os.getpid()


def _run(name: str, *args) -> None:
    """Run a kernel on torch's thread count. A forked child (a Lava or data
    worker) cannot use the parent's worker threads, so it runs the serial one."""
    import torch

    parallel = os.getpid() == _launcher_pid and torch.get_num_threads() > 1
    with _lock:
        if parallel:
            numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
        _kernel(name, parallel)(*args)


def _takes(input, decay, state=None) -> bool:
    import torch

    return (input.device.type == "cpu" and input.dtype == torch.float32 and input.dim() >= 2
            and input.shape[-1] >= 1 and decay.numel() == 1 and decay.device.type == "cpu"
            and (state is None or (state.device.type == "cpu" and state.dtype == torch.float32
                                   and state.numel() in (1, input[..., 0].numel()))))


def install(slayer) -> bool:
    """Route lava-dl's CPU leaky integrator through the compiled kernels (once;
    idempotent). Returns whether the fast path is in place."""
    return install_into(slayer.neuron.dynamics.leaky_integrator)


def install_into(li) -> bool:
    """:func:`install` on lava-dl's ``leaky_integrator`` module itself (what
    the import hook of :mod:`sca_lava._hook` calls the moment it is imported)."""
    if getattr(li, "_sca_lava_reference", None) is not None:
        return True
    if os.environ.get("SCA_LAVA_REFERENCE_DYNAMICS", "") not in ("", "0"):
        return False
    if numba is None:
        return False
    import torch

    ref_fwd, ref_bwd = li._li_dynamics_fwd, li._li_dynamics_bwd

    def fwd(input, decay, state, threshold, w_scale, dtype=torch.int32):
        if dtype != torch.int64 or not _takes(input, decay, state):
            return ref_fwd(input, decay, state, threshold, w_scale, dtype=dtype)
        x = input.detach().contiguous()
        steps = x.shape[-1]
        neurons = x.numel() // steps
        st = state.detach().reshape(-1)
        st = (st.expand(neurons) if st.numel() == 1 else st).contiguous()
        decay_int = (1 << _SHIFT) - int(decay.detach().to(torch.int64).reshape(()))
        out = torch.empty_like(x)
        _run("forward", x.reshape(neurons, steps).numpy(), decay_int, st.numpy(), float(threshold * w_scale),
             int(w_scale), out.reshape(neurons, steps).numpy())
        return out

    def bwd(grad_output, output, decay):
        if not _takes(grad_output, decay):
            return ref_bwd(grad_output, output, decay)
        go = grad_output.contiguous()
        steps = go.shape[-1]
        neurons = go.numel() // steps
        factor = (1 - decay / (1 << _SHIFT)).detach().reshape(())  # float32, as lava-dl computes it
        grad_input = torch.empty_like(go)
        _run("backward", go.reshape(neurons, steps).numpy(), np.float32(factor.item()),
             grad_input.reshape(neurons, steps).numpy())
        if not decay.requires_grad:  # a fixed decay (sca_lava's neurons): autograd drops this gradient
            return grad_input, None
        # the decay's gradient exactly as lava-dl sums it (one shared decay)
        grad_decay = torch.sum((grad_input[..., 1:] * output[..., :-1]).flatten(), dim=0, keepdim=True)
        return grad_input, grad_decay

    li._sca_lava_reference, li._sca_lava_kernels = (ref_fwd, ref_bwd), (fwd, bwd)
    li._li_dynamics_fwd, li._li_dynamics_bwd = fwd, bwd
    return True


def select(slayer, which: str) -> None:
    """Point lava-dl's leaky integrator at the ``"kernel"`` or at lava-dl's own
    ``"reference"`` loop (benchmarks and tests compare the two; needs :func:`install`)."""
    li = slayer.neuron.dynamics.leaky_integrator
    li._li_dynamics_fwd, li._li_dynamics_bwd = {"kernel": li._sca_lava_kernels,
                                                 "reference": li._sca_lava_reference}[which]
