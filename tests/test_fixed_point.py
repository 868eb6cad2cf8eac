"""The batched fixed-point evaluator against the real Lava runtime: spikes of
every layer, sample and time step must be identical. Files are written with
plain h5py in lava-dl's layout, plus one exported from SLAYER blocks."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sca_lava.deploy.evaluate import EvaluationReport, evaluate_netx
from sca_lava.deploy.fixed_point import FixedPointNet, run_fixed_point
from sca_lava.deploy.weights import dense_effective_weights
from sca_lava.errors import ScaLavaError
from sca_lava.netx.reader import conv_output_hw, read_netx
from sca_lava.netx.record import first_divergence

# --------------------------------------------------------------------------- file factory


def _neuron(g, vth=80, i_decay=1024, v_decay=128, graded=False, **extra):
    n = g.create_group("neuron")
    n.create_dataset("type", (1,), "S10", [extra.pop("ntype", "CUBA").encode()])
    n.create_dataset("iDecay", data=i_decay)
    n.create_dataset("vDecay", data=v_decay)
    n.create_dataset("vThMant", data=vth)
    n.create_dataset("refDelay", data=1)
    n.create_dataset("gradedSpike", data=graded)
    for k, v in extra.items():
        n.create_dataset(k, data=v)


def write_net(path, in_shape, layers, input_neuron=None):
    """layers: dicts with 'type' and datasets; 'neuron' holds _neuron kwargs."""
    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        g = root.create_group("0")
        g.create_dataset("type", (1,), "S10", [b"input"])
        g.create_dataset("shape", data=np.array(in_shape))
        if input_neuron is not None:
            _neuron(g, **input_neuron)
        shape = tuple(in_shape)
        for i, ly in enumerate(layers, 1):
            g = root.create_group(str(i))
            g.create_dataset("type", (1,), "S10", [ly["type"].encode()])
            if ly["type"] == "conv":  # netx reads the output shape from the file
                hw = conv_output_hw(shape[1:], ly["weight"].shape[2:], tuple(ly["stride"]),
                                    tuple(ly["padding"]), tuple(ly["dilation"]))
                shape = (ly["weight"].shape[0], *hw)
                g.create_dataset("shape", data=np.array(shape))
            elif ly["type"] == "flatten":
                shape = (int(np.prod(shape)),)
                g.create_dataset("shape", data=np.array(shape))
            for k, v in ly.items():
                if k not in ("type", "neuron"):
                    g.create_dataset(k, data=v)
            if "neuron" in ly:
                _neuron(g, **ly["neuron"])
    return str(path)


def conv(rng, cin, cout, k, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1, lo=-100, hi=120,
         bias=None, **neuron):
    w = rng.integers(lo, hi, size=(cout, cin // groups, *k)) * 2
    ly = {"type": "conv", "inChannels": cin, "outChannels": cout, "kernelSize": np.array(k),
          "stride": np.array(stride), "padding": np.array(pad), "dilation": np.array(dil),
          "groups": groups, "weight": w, "neuron": neuron}
    if bias is not None:
        ly["bias"] = np.asarray(bias)
    return ly


def dense(rng, fin, fout, lo=-128, hi=127, step=2, bias=None, **neuron):
    ly = {"type": "dense", "shape": np.array([fout]),
          "weight": rng.integers(lo, hi, size=(fout, fin)) * step, "neuron": neuron}
    if bias is not None:
        ly["bias"] = np.asarray(bias)
    return ly


FLATTEN = {"type": "flatten"}  # its shape is written by write_net


def spikes(rng, shape, n, t, p=0.4):
    return (rng.random((n, *shape, t)) < p).astype(np.uint8)


def assert_same_as_lava(path, x, require_activity=True):
    from sca_lava.deploy.lava_runner import run_lava

    lava = run_lava(path, x, record_all=True, progress=False)
    fixed = run_fixed_point(path, x, record_all=True, batch_size=3, progress=False)
    assert sorted(lava.layer_spikes) == sorted(fixed.layer_spikes)
    for j, ref in lava.layer_spikes.items():
        got = fixed.layer_spikes[j]
        assert got.shape == ref.shape, j
        assert got.sum() > 0 or ref.sum() == 0
        assert np.array_equal(got, ref), (j, first_divergence(fixed.layer_spikes, lava.layer_spikes))
    # activity must be nontrivial for the check to mean something
    if require_activity:
        assert all(s.sum() > 0 for s in lava.layer_spikes.values())
    else:
        assert lava.layer_spikes[0].sum() > 0
    return lava


# --------------------------------------------------------------------------- Lava equality


@pytest.mark.lava
def test_conv_stack_non_square_matches_lava(tmp_path):
    rng = np.random.default_rng(1)
    layers = [
        conv(rng, 2, 5, (3, 2), stride=(2, 1), pad=(1, 0), vth=60, i_decay=0, v_decay=128,
             bias=[3, -2, 0, 5, 1]),
        conv(rng, 5, 4, (2, 3), stride=(1, 2), pad=(1, 1), vth=150, i_decay=4096, v_decay=0),
        FLATTEN,
        dense(rng, 4 * 6 * 3, 7, vth=40, i_decay=1024, v_decay=512),
        dense(rng, 7, 3, lo=0, hi=127, vth=20, i_decay=2048, v_decay=4096),
    ]
    spec_shape = (2, 9, 7)
    path = write_net(tmp_path / "a.net", spec_shape, layers)
    spec = read_netx(path)
    assert [ly.out_shape for ly in spec.neuron_layers][:2] == [(5, 5, 6), (4, 6, 3)]
    assert_same_as_lava(path, spikes(rng, spec_shape, 5, 10))


@pytest.mark.lava
def test_grouped_dilated_conv_matches_lava(tmp_path):
    rng = np.random.default_rng(2)
    layers = [
        conv(rng, 4, 6, (3, 3), pad=(2, 1), dil=(2, 1), groups=2, vth=50, i_decay=512, v_decay=64),
        conv(rng, 6, 3, (1, 1), stride=(2, 2), vth=30, i_decay=4095, v_decay=1, bias=[-4, 2, 7]),
        FLATTEN,
        dense(rng, 3 * 4 * 3, 4, lo=-127, hi=0, step=1, vth=5, i_decay=100, v_decay=300),
    ]
    layers[-1]["weight"][:, ::2] = np.abs(layers[-1]["weight"][:, ::2])  # mixed, odd weights
    path = write_net(tmp_path / "b.net", (4, 8, 5), layers)
    assert_same_as_lava(path, spikes(rng, (4, 8, 5), 4, 9, p=0.5))


@pytest.mark.lava
def test_dense_only_sign_modes_and_wrap_match_lava(tmp_path):
    """Excitatory ~230 weights on 1200 inputs overflow Lava's 24-bit current
    (one-shot wrap); inhibitory and max==0 matrices exercise the weight exponent."""
    rng = np.random.default_rng(3)
    big = dense(rng, 1200, 6, lo=200, hi=256, step=1, vth=1000, i_decay=4096, v_decay=4096)
    inh = dense(rng, 6, 5, lo=-64, hi=-1, step=4, vth=1, i_decay=1500, v_decay=100,
                bias=[4000, 3000, 2000, 4095, 1000])
    zero_max = dense(rng, 5, 4, lo=-64, hi=0, step=3, vth=2, i_decay=200, v_decay=200,
                     bias=[20, 25, 30, 35])
    zero_max["weight"][0, 0] = 0
    out = dense(rng, 4, 3, lo=1, hi=60, step=1, vth=3, i_decay=3000, v_decay=900)
    path = write_net(tmp_path / "c.net", (1200,), [big, inh, zero_max, out])
    x = spikes(rng, (1200,), 4, 10, p=0.48)
    assert_same_as_lava(path, x)
    # the wrap really happened somewhere: some step's input exceeds 2**23 / 64
    w, shift = dense_effective_weights(big["weight"])
    assert ((w @ x[0].astype(np.int64)) >> shift).max() > (1 << 17)


@pytest.mark.lava
def test_slayer_exported_net_matches_lava(tmp_path):
    import torch
    from lava.lib.dl import slayer

    from sca_lava.models.export import export_blocks_hdf5

    torch.manual_seed(0)
    neuron = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.03}
    blocks = [
        slayer.block.cuba.Conv(neuron, 1, 6, 3, stride=2, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(neuron, 6, 8, (3, 2), stride=1, padding=0, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(neuron, 8 * 3 * 4, 5, weight_scale=3),
    ]
    path = str(tmp_path / "s.net")
    x = spikes(np.random.default_rng(4), (1, 10, 9), 4, 12, p=0.5)
    with torch.no_grad():
        h = torch.as_tensor(x, dtype=torch.float32)
        slayer_out = []
        for b in blocks:
            h = b(h)
            slayer_out.append(h)
    export_blocks_hdf5(path, [1, 10, 9], blocks)
    lava = assert_same_as_lava(path, x)
    # and SLAYER agrees too (its 8-bit quantisation models the chip)
    assert np.array_equal(lava.layer_spikes[2], slayer_out[-1].numpy().astype(np.uint8))


@pytest.mark.lava
@pytest.mark.parametrize("seed", [20, 21, 22])
def test_random_architectures_match_lava(tmp_path, seed):
    """Seeded random shapes, kernels, strides, paddings, thresholds and decays."""
    rng = np.random.default_rng(seed)

    def neuron():
        decays = [0, 4096, int(rng.integers(1, 4096)), int(rng.integers(1, 4096))]
        return {"vth": int(rng.integers(10, 200)), "i_decay": int(rng.choice(decays)),
                "v_decay": int(rng.choice(decays))}

    shape = (int(rng.integers(1, 4)), int(rng.integers(6, 11)), int(rng.integers(5, 11)))
    layers, cur = [], shape
    for _ in range(2):
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        st = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pd = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
        cout = int(rng.integers(2, 6))
        bias = rng.integers(-20, 40, cout) if rng.random() < 0.5 else None
        layers.append(conv(rng, cur[0], cout, k, stride=st, pad=pd, bias=bias, **neuron()))
        cur = (cout, *conv_output_hw(cur[1:], k, st, pd, (1, 1)))
    layers += [FLATTEN, dense(rng, int(np.prod(cur)), 5, **neuron())]
    path = write_net(tmp_path / f"r{seed}.net", shape, layers)
    assert_same_as_lava(path, spikes(rng, shape, 3, 10, p=0.5), require_activity=False)


@pytest.mark.lava
def test_evaluate_verify_reports_agreement(tmp_path):
    rng = np.random.default_rng(5)
    layers = [conv(rng, 1, 3, (3, 3), stride=(2, 2), pad=(1, 1), vth=40),
              FLATTEN, dense(rng, 3 * 4 * 4, 4, vth=20)]
    path = write_net(tmp_path / "e.net", (1, 7, 7), layers)
    x = spikes(rng, (1, 7, 7), 6, 8, p=0.5)
    labels = rng.integers(0, 4, 6)
    report = evaluate_netx(path, x, labels, batch_size=4, verify=3, progress=False)
    assert report.verify["samples"] == 3
    assert report.verify["mismatching_samples"] == 0
    assert report.verify["first_mismatch"] is None
    json.dumps(report.to_dict())


# --------------------------------------------------------------------------- no Lava


@pytest.mark.lava
def test_input_neuron_driven_by_a_in_and_by_bias_matches_lava(tmp_path):
    """An input layer with a neuron (Intel's PilotNet, tiny.net) runs in both
    runners, driven by integer values into its a_in or by a per-sample bias,
    streamed over several samples; every layer equals Lava at every step
    (refused with "input layer has a neuron" before)."""
    from sca_lava.deploy.lava_runner import run_lava

    rng = np.random.default_rng(6)
    layers = [conv(rng, 1, 3, (3, 3), vth=30, bias=[20, 0, -5]), FLATTEN, dense(rng, 27, 4, vth=20)]
    path = write_net(tmp_path / "i.net", (1, 5, 5), layers,
                     input_neuron={"vth": 2, "i_decay": 4096, "v_decay": 1024})
    x = rng.integers(0, 4, size=(3, 1, 5, 5, 7))
    lava = assert_same_as_lava(path, x)
    assert lava.extra["depths"] == [0, 1, 2]
    bias = rng.integers(0, 60, size=(3, 1, 5, 5))
    ref = run_lava(path, None, bias=bias, steps=7, record_all=True, progress=False)
    got = run_fixed_point(path, None, bias=bias, steps=7, record_all=True, progress=False)
    for j in ref.layer_spikes:
        assert ref.layer_spikes[j].any() and np.array_equal(got.layer_spikes[j], ref.layer_spikes[j]), j
    assert not got.input.any() and np.array_equal(got.extra["bias"], bias)  # a bias drive sends no events


@pytest.mark.lava
def test_dense_delays_match_lava_in_fresh_runs(tmp_path):
    """Dense synaptic delays (PyDelayDenseModelBitAcc: per output neuron, per
    input, clipped at 62) equal Lava at every step; such networks run each
    sample from zero state (delayed spikes would cross sample borders)."""
    from sca_lava.deploy.lava_runner import run_lava

    rng = np.random.default_rng(16)
    l1 = dense(rng, 6, 5, lo=-20, hi=120, vth=40, bias=np.full(5, 3))
    l1["delay"] = np.array([0, 1, 2, 3, 70], dtype=float)  # one per output neuron; 70 -> 62
    l2 = dense(rng, 5, 4, lo=-10, hi=120, vth=30)
    l2["delay"] = np.array([2, 0, 1, 3, 1])  # one per input
    path = write_net(tmp_path / "d.net", (6,), [l1, l2])
    x = spikes(rng, (6,), 2, 14, p=0.5)
    fixed = run_fixed_point(path, x, record_all=True, progress=False)
    assert fixed.extra["mode"] == "fresh"
    lava = run_lava(path, x, record_all=True, progress=False)
    for j in lava.layer_spikes:
        assert lava.layer_spikes[j].any() and np.array_equal(fixed.layer_spikes[j], lava.layer_spikes[j]), j


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda ly: ly.update(weight=ly["weight"] * 0.5 + 0.25), "integers"),
        (lambda ly: ly.update(weight=ly["weight"] * 4), "8-bit"),
        (lambda ly: ly["neuron"].update(ntype="RF"), "CUBA"),
        (lambda ly: ly["neuron"].update(vth=np.array([5, 6, 7])), "per-neuron"),
        (lambda ly: ly.update(bias=np.array([1, 2])), "bias"),
        (lambda ly: ly.update(bias=np.array([1.5, 2, 3])), "bias"),
        (lambda ly: ly.update(weight=ly["weight"] * 0), "all-zero"),
    ],
)
def test_unsupported_content_is_a_one_line_error(tmp_path, mutate, match):
    rng = np.random.default_rng(7)
    ly = dense(rng, 4, 3, lo=-60, hi=60, vth=10)
    mutate(ly)
    path = write_net(tmp_path / "bad.net", (4,), [ly])
    with pytest.raises(ScaLavaError, match=match) as info:
        run_fixed_point(path, spikes(rng, (4,), 2, 5), progress=False)
    assert "\n" not in str(info.value)


def test_bad_inputs_are_errors(tmp_path):
    rng = np.random.default_rng(8)
    path = write_net(tmp_path / "d.net", (4,), [dense(rng, 4, 3)])
    with pytest.raises(ScaLavaError, match="input shape"):
        run_fixed_point(path, spikes(rng, (5,), 2, 5), progress=False)
    with pytest.raises(ScaLavaError, match="labels"):
        evaluate_netx(path, spikes(rng, (4,), 2, 5), [0, 1, 2], progress=False)
    with pytest.raises(ScaLavaError, match="labels must"):
        evaluate_netx(path, spikes(rng, (4,), 2, 5), [0, 7], progress=False)
    with pytest.raises(ScaLavaError, match="no such"):
        run_fixed_point(tmp_path / "missing.net", spikes(rng, (4,), 2, 5), progress=False)
    with pytest.raises(ScaLavaError, match="CUDA|device"):
        evaluate_netx(path, spikes(rng, (4,), 2, 5), [0, 1], device="cuda:7", progress=False)


def test_dense_effective_weights_match_lava_functions():
    """Our copy of netx's optimize_weight_bits + Lava's clip/truncate equals
    the library functions on many random matrices (all sign modes)."""
    import contextlib
    import io

    from sca_lava.deploy.lava_runner import import_lava

    import_lava()  # before any lava.lib.dl.netx import: Lava sets the start method then
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    rng = np.random.default_rng(9)
    for trial in range(300):
        lo, hi = sorted(rng.integers(-256, 256, size=2))
        hi = max(hi, lo + 1)
        w = rng.integers(lo, hi + 1, size=(5, 7)) * int(rng.choice([1, 2, 4, 8]))
        w = np.clip(w, -256, 255)
        if not w.any():
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            w2, bits, exp, _ = optimize_weight_bits(w.copy())
        mode = determine_sign_mode(w2)
        ref = truncate_weights(clip_weights(w2, mode, num_bits=8), mode, bits)
        got, shift = dense_effective_weights(w)
        assert shift == -exp, trial
        assert np.array_equal(got, ref), trial


def test_synops_and_rates_use_metrics_definitions(tmp_path):
    from sca_lava.metrics import firing_rate, synops

    rng = np.random.default_rng(10)
    layers = [conv(rng, 2, 3, (3, 3), stride=(2, 2), pad=(1, 1), vth=30),
              FLATTEN, dense(rng, 3 * 3 * 3, 4, vth=15)]
    path = write_net(tmp_path / "m.net", (2, 6, 5), layers)
    x = spikes(rng, (2, 6, 5), 7, 8, p=0.5)
    report = evaluate_netx(path, x, rng.integers(0, 4, 7), batch_size=3, progress=False)
    res = run_fixed_point(path, x, record_all=True, progress=False)
    spec = read_netx(path)
    conv_l, dense_l = spec.neuron_layers
    assert report.layers[0]["synops_per_sample"] == pytest.approx(synops(conv_l, x) / 7)
    flat = res.layer_spikes[0].reshape(7, -1, 8)
    assert report.layers[1]["synops_per_sample"] == pytest.approx(synops(dense_l, flat) / 7)
    for j in (0, 1):
        assert report.layers[j]["firing_rate"] == pytest.approx(firing_rate(res.layer_spikes[j]))
    d = report.to_dict()
    assert d["num_samples"] == 7 and d["num_steps"] == 8
    assert isinstance(report, EvaluationReport)


def test_accuracy_counts_argmax_of_output_spikes(tmp_path):
    rng = np.random.default_rng(11)
    path = write_net(tmp_path / "acc.net", (6,), [dense(rng, 6, 3, lo=0, hi=127, vth=10)])
    x = spikes(rng, (6,), 9, 6, p=0.6)
    res = run_fixed_point(path, x, progress=False)
    preds = res.predictions()
    labels = preds.copy()
    labels[:3] = (labels[:3] + 1) % 3
    report = evaluate_netx(path, x, labels, batch_size=4, progress=False)
    assert report.correct == 6 and report.accuracy == pytest.approx(6 / 9)


def test_reset_depth_and_batch_independence(tmp_path):
    """Each sample is independent of its batch neighbours, and layer j's first
    j+1 steps are zero (the previous sample's tail in Lava)."""
    rng = np.random.default_rng(12)
    layers = [dense(rng, 8, 6, vth=5, bias=np.full(6, 200)), dense(rng, 6, 4, vth=5, bias=np.full(4, 300))]
    path = write_net(tmp_path / "r.net", (8,), layers)
    x = spikes(rng, (8,), 5, 7)
    net = FixedPointNet.from_file(path)
    assert net.depths == [1, 2]
    whole = run_fixed_point(path, x, record_all=True, batch_size=5, progress=False).layer_spikes
    one = run_fixed_point(path, x, record_all=True, batch_size=1, progress=False).layer_spikes
    for j, d in enumerate(net.depths):
        assert np.array_equal(whole[j], one[j])
        assert not whole[j][..., :d].any()
        assert whole[j][..., d:].any()  # biases make them fire right after reset


def test_fast_and_exact_neuron_paths_agree(tmp_path):
    """The bound-checked fast step equals the step that emulates every int32
    wrap, on nets with and without overflow-prone inputs."""
    rng = np.random.default_rng(13)
    layers = [conv(rng, 2, 4, (3, 3), pad=(1, 1), vth=20, i_decay=0, v_decay=0, bias=[9, -9, 0, 3]),
              FLATTEN, dense(rng, 4 * 5 * 4, 6, vth=300, i_decay=700, v_decay=2000),
              dense(rng, 6, 3, lo=0, hi=127, vth=30, i_decay=4096, v_decay=4096)]
    path = write_net(tmp_path / "f.net", (2, 5, 4), layers)
    x = spikes(rng, (2, 5, 4), 6, 12, p=0.6)
    fast = FixedPointNet.from_file(path)
    exact = FixedPointNet.from_file(path)
    assert all(ly.fast for ly in fast.layers)
    for ly in exact.layers:
        ly.fast = False
    for a, b in zip(fast.forward(x), exact.forward(x)):
        assert np.array_equal(a.numpy(), b.numpy())
        assert a.any()


# --------------------------------------------------------------------------- CPU / CUDA exactness


def _graded_net(tmp_path, rng):
    """An SDNN net whose 1x1 conv (weights x fan-in < 128) receives the delta
    input layer's payloads, which exceed 2**17 when the input swings sign."""
    sd = {"ntype": "SDNN", "vth": 8}
    layers = [conv(rng, 1, 4, (1, 1), lo=-30, hi=30, **sd), FLATTEN, dense(rng, 144, 10, **sd)]
    x = rng.integers(-2047, 2048, (3, 1, 6, 6, 6))
    return write_net(tmp_path / "graded.net", (1, 6, 6), layers, input_neuron=sd), x


def test_graded_synapses_sum_in_float64(tmp_path):
    """The evaluator took 2**17 as the largest graded payload and summed such a
    conv in float32 (where TF32 on a GPU rounds payloads above 2048); the
    delta input layer alone sends more, and a wrapped int32 delta up to 2**25."""
    import torch

    path, x = _graded_net(tmp_path, np.random.default_rng(5))
    rec = run_fixed_point(path, x, record_all=True, progress=False)
    assert np.abs(rec.layer_spikes[0]).max() > 1 << 17  # the old bound does not hold
    net = FixedPointNet(read_netx(path))
    assert [ly.dtype for ly in net.layers[1:]] == [torch.float64, torch.float64]


def test_exact_cuda_math_turns_tf32_off_and_restores():
    import torch

    from sca_lava.device import exact_cuda_math

    b = torch.backends
    before = (b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32,
              torch.get_float32_matmul_precision())
    b.cudnn.allow_tf32, b.cudnn.benchmark, b.cuda.matmul.allow_tf32 = True, True, True
    torch.set_float32_matmul_precision("medium")
    try:
        with exact_cuda_math():
            assert (b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32,
                    torch.get_float32_matmul_precision()) == (False, True, False, False, "highest")
        assert (b.cudnn.allow_tf32, b.cudnn.benchmark, b.cuda.matmul.allow_tf32,
                torch.get_float32_matmul_precision()) == (True, True, True, "medium")
    finally:
        b.cudnn.allow_tf32, b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32 = before[:4]
        torch.set_float32_matmul_precision(before[4])


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_cpu_spikes(tmp_path):
    """On a GPU with TF32 enabled by the user (torch's cuDNN default), the
    evaluator still gives the CPU's spikes and payloads bit for bit: graded
    SDNN payloads above 2048, and a SLAYER-exported CUBA net."""
    import torch

    from sca_lava.models import build_network
    from sca_lava.models.config import small_config

    rng = np.random.default_rng(7)
    graded, gx = _graded_net(tmp_path, rng)
    cuba = tmp_path / "cuba.net"
    build_network(small_config(), seed=3).export_hdf5(cuba)
    cx = spikes(rng, (1, 28, 28), 16, 12, p=0.3)
    b = torch.backends
    before = (b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32)
    b.cudnn.allow_tf32 = b.cuda.matmul.allow_tf32 = True
    try:
        for path, x in ((graded, gx), (str(cuba), cx)):
            cpu = run_fixed_point(path, x, record_all=True, device="cpu", progress=False)
            gpu = run_fixed_point(path, x, record_all=True, device="cuda", progress=False)
            for j in cpu.layer_spikes:
                assert np.array_equal(cpu.layer_spikes[j], gpu.layer_spikes[j]), (path, j)
        assert b.cudnn.allow_tf32 and b.cuda.matmul.allow_tf32  # the user's setting is back
    finally:
        b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32 = before
