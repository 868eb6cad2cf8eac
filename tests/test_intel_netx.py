"""Intel's own netx networks and ground truth (lava-dl 0.6.0 wheel,
site-packages/tests/lava/lib/dl/netx/) through the reader, the fixed-point
evaluator, the Lava runner, the budget and the CLI.

What the recordings cover, and why the comparisons are set up as they are:

* PilotNet LIF (``gts/pilotnet_lif``): one sample driven through the input
  layer's bias (``image.npy``), 24 recorded steps per layer (25 for fc-3).
  Its input pattern repeats every 17 steps, i.e. the recording was made with
  ``reset_interval=17``; netx resets layer k at step k (mod 17), so the first
  k steps of layer k are its own dynamics from zero state, and steps 17+k..
  repeat steps k... Spikes and currents ``-u`` of every layer equal the
  recording at every step; voltages ``-v`` equal it wherever the neuron did
  not spike - where it spiked the recording holds 128 while Lava's
  ``PyLifResetModelBitAcc`` (and the evaluator) hold the reset value 0.
  fc-3's ``-u``/``-v`` agree for the first 8 steps only: after that the
  recording is not consistent with the recorded fc-2 spikes that feed it
  (e.g. a current at step 22 with no fc-2 spike at 21), so it cannot come
  from the same run; fc-3's spikes (``fc-3-s``, none) agree at all 25 steps.
* tiny.net (``gts/tinynet``): Intel's own criterion (test_hdf5.py): with a
  reset every 17 steps, Lava's output steps 2..16 equal ``output.npy``'s
  steps 1..15.
* PilotNet SDNN: ``output.npy`` is the sigma output over 9 steps of one input
  frame held constant (a RingBuffer of one frame), as Intel's test runs it.
* ntidigits (axonal delays, a trailing 'average' layer netx cannot build):
  the output at step t equals ``output.npy`` at step t+1 for all 2999 steps
  (the recording has no first-synapse delay).
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

from sca_lava.errors import ScaLavaError

try:
    from sca_lava.netx.intel import (
        FILES,
        PILOTNET_LIF_LAYERS,
        PILOTNET_LIF_RESET,
        intel_file,
        intel_netx_root,
        load_gt,
        pilotnet_lif_image,
        pilotnet_sdnn_input,
    )

    ROOT = intel_netx_root()
except ScaLavaError as exc:  # pragma: no cover - depends on the installed wheel
    pytest.skip(f"Intel's netx files are not installed: {exc}", allow_module_level=True)


def _spec(name):
    from sca_lava.netx import read_netx

    return read_netx(intel_file(name))


def _gt_name(name: str, suffix: str) -> str:
    if name == "fc-3" and suffix == "":
        suffix = "-s"
    return f"gts/pilotnet_lif/{name}{suffix}.npy"


def assert_pilotnet_lif_recording(rec, steps: int) -> None:
    """``rec``: a record_state run of PilotNet LIF from image.npy, reset every
    17 steps; compare its first ``steps`` steps with Intel's recording."""
    for j, name in enumerate(PILOTNET_LIF_LAYERS):
        spikes = rec.layer_spikes[j][0]
        gt = load_gt(_gt_name(name, ""))
        assert np.array_equal(spikes[..., :steps], gt[..., :steps].astype(spikes.dtype)), name
        if name == "input":
            continue  # the input layer's state is not recorded
        cut = min(steps, 8) if name == "fc-3" else steps  # see the module docstring
        u, v = rec.extra["state"][j]["u"][0], rec.extra["state"][j]["v"][0]
        assert np.array_equal(u[..., :cut], load_gt(_gt_name(name, "-u"))[..., :cut].astype(np.int64)), name
        gv = load_gt(_gt_name(name, "-v"))[..., :cut].astype(np.int64)
        spiked = spikes[..., :cut] > 0
        assert np.array_equal(v[..., :cut][~spiked], gv[~spiked]), name
        assert np.all(v[..., :cut][spiked] == 0) and np.all(gv[spiked] == 128), name
    assert rec.layer_spikes[1][0].sum() > 0  # the check means something
    if steps > 8:
        assert rec.layer_spikes[8][0].sum() > 0


def test_every_intel_file_is_read_as_netx_reads_it():
    from sca_lava.netx.reader import read_netx

    kinds = {name: read_netx(ROOT / rel) for name, rel in FILES.items()}
    lif = kinds["pilotnet_lif"]
    assert lif.has_input_neuron and lif.neuron_layers[-1].weight.shape == (1, 10)  # 1-D weight, as netx
    assert kinds["pilotnet_sdnn"].sdnn and kinds["pilotnet_sdnn"].neuron_layers[-1].neuron.model == "sigma"
    assert kinds["ntidigits"].dropped == [(5, "average")] and kinds["ntidigits"].num_layers == 5
    assert kinds["ntidigits"].neuron_layers[0].delay.max() == 62
    assert kinds["mnist"].neuron_layers[-1].neuron.default  # dense without neuron: netx's integrator
    assert kinds["tiny"].neuron_layers[1].weight.ndim == 4  # 5-D (out, in, kh, kw, 1) read as 4-D


def test_pilotnet_lif_evaluator_reproduces_every_recorded_layer():
    from sca_lava.deploy.fixed_point import run_fixed_point

    rec = run_fixed_point(None, bias=pilotnet_lif_image(), steps=25, spec=_spec("pilotnet_lif"), record_all=True,
                          mode="fresh", reset_interval=PILOTNET_LIF_RESET, record_state=True, progress=False)
    assert_pilotnet_lif_recording(rec, steps=24)
    fc3 = load_gt("gts/pilotnet_lif/fc-3-s.npy")
    assert np.array_equal(rec.layer_spikes[9][0], fc3.astype(np.uint8))  # all 25 steps
    kw = {"bias": pilotnet_lif_image(), "steps": 2, "spec": _spec("pilotnet_lif"), "mode": "fresh",
          "reset_interval": PILOTNET_LIF_RESET, "progress": False}
    part = run_fixed_point(None, record_all=True, record_state=[3], **kw)  # the state of layer 3 only
    assert list(part.extra["state"]) == [3]
    assert all(np.array_equal(part.extra["state"][3][k], rec.extra["state"][3][k][..., :2]) for k in ("u", "v"))
    with pytest.raises(ScaLavaError, match=r"layer\(s\) \[3\] are not recorded"):
        run_fixed_point(None, record_state=[3], **kw)  # only the last layer is recorded


def test_tinynet_output_matches_intel_criterion():
    from sca_lava.deploy.fixed_point import run_fixed_point

    bias = load_gt("gts/tinynet/input_bias.npy").astype(np.int64)[None]
    rec = run_fixed_point(None, bias=bias, steps=17, spec=_spec("tiny"), mode="fresh", reset_interval=17,
                          progress=False)
    gt = np.load(ROOT / "gts/tinynet/output.npy")[0]  # (36, 1, 1, 16), SLAYER layout
    out = rec.output[0]
    assert gt[..., 1:].sum() > 0
    assert np.array_equal(out[..., 2:17], gt[..., 1:].astype(np.uint8))


def test_pilotnet_sdnn_output_reproduced():
    from sca_lava.deploy.fixed_point import run_fixed_point

    rec = run_fixed_point(None, pilotnet_sdnn_input(9), spec=_spec("pilotnet_sdnn"), record_all=True,
                          progress=False)
    assert rec.extra["mode"] == "fresh"  # netx never resets SDNN state
    gt = np.load(ROOT / "gts/pilotnet_sdnn/output.npy")
    assert np.array_equal(rec.output.reshape(1, -1), gt.astype(np.int32))
    assert rec.layer_spikes[0].dtype == np.int32 and np.abs(rec.layer_spikes[3]).max() > 1  # graded


def test_ntidigits_output_reproduced_with_delays():
    from sca_lava.deploy.fixed_point import run_fixed_point

    x = np.load(ROOT / "gts/ntidigits/input.npy").reshape(1, 1, 1, 64, -1)
    rec = run_fixed_point(None, x, spec=_spec("ntidigits"), progress=False)
    gt = np.load(ROOT / "gts/ntidigits/output.npy")
    out = rec.output[0]
    assert gt.sum() > 1000 and out.shape == gt.shape
    assert np.array_equal(out[:, :-1], gt[:, 1:].astype(np.uint8))


def test_mnist_runs():
    from sca_lava.data import encode, load_mnist5k
    from sca_lava.deploy.evaluate import evaluate_netx

    data = load_mnist5k()
    x = encode(data.test_x[:6], 8).reshape(6, 784, 8)
    report = evaluate_netx(None, x, data.test_y[:6], spec=_spec("mnist"), progress=False)
    assert report.num_samples == 6 and [ly["shape"] for ly in report.layers] == [[784], [512], [512], [10]]


def test_budget_runs_on_every_intel_file_on_both_profiles():
    from sca_lava.deploy.measure import measure
    from sca_lava.hardware.budget import budget_netx

    spec = _spec("pilotnet_sdnn_square")
    record = measure(spec.path, pilotnet_sdnn_input(3, square=True), spec=spec)
    for prof in ("loihi1", "loihi2"):
        for name in FILES:
            res = budget_netx(ROOT / FILES[name], prof, spec=_spec(name))
            assert res["cores"] >= len(_spec(name).neuron_layers), (name, prof)
        res = budget_netx(spec.path, prof, record=record, spec=spec)
        assert res["dynamic_energy_uj"] > 0 and res["samples"] == 1


def _cli(args) -> tuple[int, str, str]:
    from sca_lava.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_cli_evaluate_pilotnet_from_image_in_lava_layout(tmp_path):
    model = str(intel_file("pilotnet_lif"))
    image = str(ROOT / "gts/pilotnet_lif/image.npy")
    code, out, err = _cli(["evaluate", model, "--input", image, "--steps", "4", "--no-progress",
                           "--json", str(tmp_path / "e.json")])
    assert code == 0, err
    assert "input-layer bias, lava layout, 1 samples, T=4" in out and "no labels" in out
    code, _, err = _cli(["evaluate", model, "--input", image, "--layout", "slayer"])
    assert code == 2 and "does not fit the network input; expected" in err and err.count("\n") == 1
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 7)))
    code, _, err = _cli(["budget", model, "--input", str(bad), "--out", str(tmp_path / "b")])
    assert code == 2 and "(N, 3, 66, 200" in err and "Traceback" not in err


# --------------------------------------------------------------------------- wrong successes (issue 30, item 6)


def test_a_silent_layer_is_said_loudly_in_evaluate_and_budget(tmp_path):
    """mnist.net's input neuron never reaches its threshold with MNIST-5k's
    binary spikes: every layer is silent, the accuracy is chance (it exited 0
    without a word). Now evaluate and budget say so on stderr."""
    model = str(intel_file("mnist"))
    code, out, err = _cli(["evaluate", model, "--samples", "40", "--steps", "8", "--no-progress"])
    assert code == 0 and "SILENT LAYER: layers input, dense1, dense2, dense3" in err, err
    code, _, err = _cli(["budget", model, "--samples", "4", "--steps", "8", "--out", str(tmp_path / "b"),
                         "--no-plots"])
    assert code == 0 and "SILENT LAYER: layers input" in err, err


@pytest.mark.lava
def test_simulate_says_when_the_output_is_silent():
    code, out, err = _cli(["simulate", str(intel_file("mnist")), "--samples", "2", "--steps", "8", "--no-progress"])
    assert code == 0 and "SILENT LAYER: layer dense3 (the output) emitted no spike in 2 samples x 8 steps" in err


def test_a_frame_too_short_for_the_network_depth_is_explained(tmp_path):
    """docs/intel.md fed PilotNet SDNN its one-step input.npy: it reaches the
    first layers only, the output has 0 events. Repeated over 9 steps (as
    Intel's test holds the frame), the output answers and nothing is silent."""
    model = str(intel_file("pilotnet_sdnn"))
    frame = ROOT / "gts/pilotnet_sdnn/input.npy"
    code, _, err = _cli(["evaluate", model, "--input", str(frame), "--no-progress"])
    assert code == 0 and "SILENT LAYER: layer dense4 " in err and "T=1 is shorter than the 9 layers" in err, err
    held = tmp_path / "frame9.npy"
    np.save(held, np.repeat(np.load(frame), 9, axis=-1))
    code, out, err = _cli(["evaluate", model, "--input", str(held), "--no-progress"])
    assert code == 0 and "SILENT" not in err, err
    assert "dense4   dense  1               0.8889" in out  # the output's events in 8 of 9 steps


def test_budget_says_when_it_prices_random_spikes_and_inputs_are_asked_for(tmp_path):
    """ntidigits.net has no input contract and a 1x1x64 input: budget priced
    Bernoulli p=0.2 spikes and said so only in the JSON; evaluate/simulate
    complained about a (2, 1, 28, 28, 16) input the user never passed."""
    model = str(intel_file("ntidigits"))
    code, _, err = _cli(["budget", model, "--samples", "2", "--out", str(tmp_path / "b"), "--no-plots"])
    assert code == 0 and "not of real inputs; give --input" in err and "Bernoulli random spikes p=0.2" in err, err
    for command in ("evaluate", "simulate"):
        code, _, err = _cli([command, model, "--samples", "2"])
        assert code == 2 and err.count("\n") == 1, err
        assert "the network takes input (1, 1, 64) but the default data set mnist5k has (1, 28, 28)" in err
        assert "give --input FILE.npy with spikes (N, 1, 1, 64, T)" in err


# --------------------------------------------------------------------------- Lava (slow: keep few and short)


@pytest.mark.lava
def test_pilotnet_lif_lava_runner_reproduces_the_first_steps():
    """Two steps (Lava compiles and runs PilotNet at several s per step on
    2 cores): the steps where every layer shows its own dynamics from zero
    state, before its first input and reset arrive. State is read from the
    layers Intel recorded it for (not the input layer: Lava reads a variable
    one element per message, and its 2 x 39600 would be a fifth of the run)."""
    from sca_lava.deploy.lava_runner import run_lava

    with_state = range(1, len(PILOTNET_LIF_LAYERS))
    rec = run_lava(None, bias=pilotnet_lif_image(), steps=2, spec=_spec("pilotnet_lif"), record_all=True,
                   mode="fresh", reset_interval=PILOTNET_LIF_RESET, record_state=with_state, progress=False)
    assert sorted(rec.extra["state"]) == list(with_state)
    assert_pilotnet_lif_recording(rec, steps=2)


@pytest.mark.lava
def test_pilotnet_sdnn_and_tiny_in_lava():
    from sca_lava.deploy.lava_runner import run_lava

    rec = run_lava(None, pilotnet_sdnn_input(9), spec=_spec("pilotnet_sdnn"), progress=False)
    assert np.array_equal(rec.output.reshape(1, -1), np.load(ROOT / "gts/pilotnet_sdnn/output.npy").astype(np.int32))
    bias = load_gt("gts/tinynet/input_bias.npy").astype(np.int64)[None]
    rec = run_lava(None, bias=bias, steps=17, spec=_spec("tiny"), mode="fresh", reset_interval=17, progress=False)
    gt = np.load(ROOT / "gts/tinynet/output.npy")[0]
    assert np.array_equal(rec.output[0][..., 2:17], gt[..., 1:].astype(np.uint8))
