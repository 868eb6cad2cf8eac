"""The compiled CPU leaky integrator equals lava-dl's own, bit for bit.

lava-dl's Python-loop functions are kept beside the kernels
(``leaky_integrator._sca_lava_reference``), so every comparison here runs the
same inputs through both: states, spikes and gradients must be identical, in
one call and over training steps of a whole network."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from sca_lava._lava_dl import slayer
from sca_lava._slayer_cpu import select
from sca_lava.data import encode, load_mnist5k
from sca_lava.models import build_network, default_config

THRESHOLD = 1.25 + 0.01 / 4096  # a CUBA threshold with lava-dl's epsilon, as cuba.Neuron passes it
W_SCALE = 4096  # cuba.Neuron's s_scale


def _li():
    return slayer().neuron.dynamics.leaky_integrator


@pytest.fixture
def dynamics():
    """Switch lava-dl's module functions between its reference and the kernels."""

    def use(which):
        select(slayer(), "reference" if which == "reference" else "kernel")

    yield use
    use("fast")


def _run(use, which, inp, decay, state, threshold):
    use(which)
    out = _li()._LIDynamics.apply(inp, decay, state, threshold, W_SCALE)
    grad = torch.autograd.grad(out, inp, torch.linspace(-1, 1, out.numel()).reshape(out.shape))[0]
    return out, grad


def test_the_kernels_are_installed():
    li = _li()
    assert li._sca_lava_reference is not None
    assert li._li_dynamics_fwd.__module__ == "sca_lava._slayer_cpu"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(8, 16, 14, 14, 16), (3, 10, 16), (4, 7, 1), (2, 5, 33)])
def test_states_and_gradients_equal_lava_dl(dynamics, threads, shape):
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(sum(shape) + threads)
    for scale in (0.3, 3.0, 3000.0):
        inp = (torch.randn(shape, generator=gen) * scale).requires_grad_()
        # reset-free (the current), CUBA's threshold, and one whose float32 rounding crosses an integer
        for threshold in (-1, THRESHOLD, (2**24 + 0.5) / W_SCALE):
            for state in (torch.zeros(shape[:-1]), torch.randn(shape[:-1], generator=gen)):
                for decay in (torch.tensor([122.0]), torch.tensor([4095.0]), torch.tensor([0.0])):
                    ref = _run(dynamics, "reference", inp, decay, state, threshold)
                    fast = _run(dynamics, "fast", inp, decay, state, threshold)
                    assert torch.equal(ref[0], fast[0]), (shape, scale, threshold)
                    assert torch.equal(ref[1], fast[1]), (shape, scale, threshold)


def test_a_learnable_decay_gets_lava_dls_gradient(dynamics):
    """sca_lava's decays are fixed (their gradient is skipped); a learnable one
    gets the gradient lava-dl sums, bit for bit."""
    inp = (torch.randn(6, 5, 4, 20) * 2).requires_grad_()
    grads = []
    for which in ("reference", "fast"):
        dynamics(which)
        decay = torch.tensor([300.0], requires_grad=True)
        out = _li()._LIDynamics.apply(inp, decay, torch.zeros(6, 5, 4), THRESHOLD, W_SCALE)
        grads.append(torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum(),
                                         [inp, decay]))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


def test_per_neuron_decays_take_lava_dls_path(dynamics):
    """Only one shared decay per layer is compiled; others get lava-dl's own loop."""
    inp = torch.randn(2, 3, 8).requires_grad_()
    decay = torch.tensor([100.0, 200.0, 300.0])
    ref = _run(dynamics, "reference", inp, decay, torch.zeros(2, 3), THRESHOLD)
    fast = _run(dynamics, "fast", inp, decay, torch.zeros(2, 3), THRESHOLD)
    assert torch.equal(ref[0], fast[0]) and torch.equal(ref[1], fast[1])


def test_training_steps_of_the_default_net_are_bit_identical(dynamics):
    """Forward, backward and Adam on mnist_vgg: every weight equal after the steps
    (the kernels also keep torch's thread settings: numba's OpenMP layer reset them)."""
    torch.set_num_threads(2)
    cfg = default_config()
    x = torch.from_numpy(encode(load_mnist5k().train_x[:8], cfg.num_steps)).float()
    weights = {}
    for which in ("reference", "fast"):
        dynamics(which)
        net = build_network(cfg, seed=3)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(3):
            out = net(x)
            loss = ((out.mean(-1) - 0.1) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert torch.get_num_threads() == 2
        weights[which] = [p.detach().clone() for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(weights["reference"], weights["fast"]))


def test_a_forked_child_runs_the_kernels():
    """Lava and data workers fork; the parent's worker threads do not exist in the child."""
    code = (
        "import os, torch\n"
        "from sca_lava.models import build_network\n"
        "from sca_lava.models.config import named_config\n"
        "torch.set_num_threads(2)\n"
        "net = build_network(named_config(\"tiny\"))\n"
        "x = (torch.rand(2, 1, 28, 28, 12) < 0.2).float()\n"
        "a = net(x).sum().item()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    torch.set_num_threads(1)\n"  # torch's own OpenMP pool is not fork-safe either
        "    os._exit(0 if net(x).sum().item() == a else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=240).returncode == 0


def test_the_reference_can_be_asked_for():
    code = ("from sca_lava._lava_dl import slayer\n"
            "li = slayer().neuron.dynamics.leaky_integrator\n"
            "assert li._li_dynamics_fwd.__module__ == li.__name__, li._li_dynamics_fwd.__module__\n")
    env = {**os.environ, "SCA_LAVA_REFERENCE_DYNAMICS": "1"}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=240).returncode == 0


@pytest.mark.parametrize("first", ["sca_lava", "lava.lib.dl.slayer"])
def test_importing_sca_lava_gives_a_users_own_slayer_the_compiled_integrator(first):
    """Issue 28: a user who imports lava-dl's SLAYER directly (before or after
    sca_lava) trains with the compiled kernel, not lava-dl's Python loop."""
    import subprocess
    import sys

    other = "lava.lib.dl.slayer" if first == "sca_lava" else "sca_lava"
    code = (f"import {first}; import {other}; from lava.lib.dl import slayer; "
            "print(slayer.neuron.dynamics.leaky_integrator._li_dynamics_fwd.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "sca_lava._slayer_cpu"
