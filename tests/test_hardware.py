"""Hardware budget: profiles, core allocation, Lava activity counts, energy, CLI.

Real netx files written with h5py, real SLAYER blocks, the real Lava runtime."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sca_lava.deploy.measure import measure
from sca_lava.errors import ScaLavaError
from sca_lava.hardware.activity import count_activity, decay_horizon
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.budget import budget_netx, compare
from sca_lava.hardware.compiler import COMPILER_LIMITS
from sca_lava.hardware.energy import estimate, op_energy_pj
from sca_lava.hardware.profile import (
    available_profiles,
    load_profile,
    profiles_dir,
    validate_profile,
)
from sca_lava.hardware.sweep import arch_spec, load_arch, sweep
from sca_lava.hardware.usage import LIMITS
from sca_lava.hardware.views import syn_view, tile_counts
from sca_lava.metrics import fanout_map, synops
from sca_lava.netx.reader import LayerSpec, NetxSpec, NeuronSpec, conv_output_hw, read_netx

NEURON = NeuronSpec("CUBA", vth_mant=80, i_decay=1024, v_decay=128)


def _raw(name="loihi1") -> dict:
    return yaml.safe_load((profiles_dir() / f"{name}.yaml").read_text())


def small_profile(tmp_path=None, **core) -> object:
    """loihi1 with smaller cores, so tiny nets need several cores per layer."""
    raw = _raw("loihi1")
    for k, v in core.items():
        sec, key = k.split("__")
        raw[sec][key]["value"] = v
    return validate_profile(raw, "small-test-profile")


# --------------------------------------------------------------------------- third-party netx files


def write_netx(path, in_shape, convs, dense_out, seed=0, sparsity=0.0, vth=80):
    """A netx file as a third party writes it with plain h5py: input layer
    with shape, conv layers, flatten, dense; ``type`` as S10 bytes and a
    ``neuron/{type,iDecay,vDecay,vThMant,refDelay}`` group."""
    rng = np.random.default_rng(seed)

    def neuron(g):
        n = g.create_group("neuron")
        n.create_dataset("type", (1,), "S10", [b"CUBA"])
        n.create_dataset("iDecay", data=1024)
        n.create_dataset("vDecay", data=128)
        n.create_dataset("vThMant", data=vth)
        n.create_dataset("refDelay", data=1)

    with h5py.File(path, "w") as f:
        root = f.create_group("layer")
        g = root.create_group("0")
        g.create_dataset("type", (1,), "S10", [b"input"])
        g.create_dataset("shape", data=np.array(in_shape))
        shape, i = tuple(in_shape), 1
        for co, k, s, p in convs:
            g = root.create_group(str(i))
            i += 1
            g.create_dataset("type", (1,), "S10", [b"conv"])
            w = rng.integers(-60, 61, size=(co, shape[0], k, k)) * 2
            w[rng.random(w.shape) < sparsity] = 0
            g.create_dataset("weight", data=w)
            g.create_dataset("stride", data=np.array([s, s]))
            g.create_dataset("padding", data=np.array([p, p]))
            g.create_dataset("dilation", data=np.array([1, 1]))
            g.create_dataset("groups", data=1)
            shape = (co, *conv_output_hw(shape[1:], (k, k), (s, s), (p, p), (1, 1)))
            g.create_dataset("shape", data=np.array(shape))
            neuron(g)
        g = root.create_group(str(i))
        i += 1
        g.create_dataset("type", (1,), "S10", [b"flatten"])
        fin = int(np.prod(shape))
        g.create_dataset("shape", data=np.array([fin]))
        g = root.create_group(str(i))
        g.create_dataset("type", (1,), "S10", [b"dense"])
        g.create_dataset("weight", data=rng.integers(-60, 61, size=(dense_out, fin)) * 2)
        g.create_dataset("shape", data=np.array([dense_out]))
        neuron(g)
    return str(path)


def random_spikes(shape, n, t, p=0.3, seed=0):
    return (np.random.default_rng(seed).random((n, *shape, t)) < p).astype(np.uint8)


# --------------------------------------------------------------------------- profiles


def test_shipped_profiles_load_and_cite_every_number():
    assert {"loihi1", "loihi1_sanafe", "loihi2", "tiny_chip"} <= set(available_profiles())
    for name in ("loihi1", "loihi1_sanafe", "loihi2", "tiny_chip"):
        p = load_profile(name)
        assert set(p.basis) == set(p.values)
        assert all(b.startswith(("source: ", "assumption: ")) for b in p.basis.values())
    # Loihi 2 has no published per-op energies: they must all be assumptions
    l2 = load_profile("loihi2")
    assert all(k in l2.assumptions for k in l2.values if k.startswith(("energy_pj.", "timing_ns.")))
    assert load_profile(profiles_dir() / "loihi1.yaml").name == "loihi1"


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (lambda r: r["core"].pop("max_neurons"), "core.max_neurons", "missing field"),
        (lambda r: r["energy_pj"]["synop_conv"].update(value=-1.0), "energy_pj.synop_conv", "negative"),
        (lambda r: r["chip"]["cores_per_chip"].update(value="many"), "chip.cores_per_chip", "number"),
        (lambda r: r["core"].update(max_dendrites={"value": 3, "source": "x"}), "core.max_dendrites", "unknown key"),
        (lambda r: r.update(colour="blue"), "colour", "unknown key"),
        (lambda r: r.pop("timing_ns"), "timing_ns", "missing section"),
        (lambda r: r["core"]["max_neurons"].update(value=10.5), "core.max_neurons", "integer"),
        (lambda r: r["static"]["power_mw_per_chip"].pop("source"), "static.power_mw_per_chip", "source"),
        (lambda r: r["synapse_encoding"]["modes"].update(value=["zip"]), "synapse_encoding.modes", "list"),
    ],
)
def test_profile_validation_names_file_field_and_problem(tmp_path, mutate, field, problem):
    raw = _raw("loihi1")
    mutate(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScaLavaError) as exc:
        load_profile(str(path))
    msg = str(exc.value)
    assert str(path) in msg and f"'{field}'" in msg and problem in msg, msg
    assert "\n" not in msg


def test_unknown_profile_name_lists_available():
    with pytest.raises(ScaLavaError, match="available: .*loihi1"):
        load_profile("loihi9")


# --------------------------------------------------------------------------- allocation properties


def _brute_counts(v, box):
    """Synapses into a tile, by enumerating every synapse (for the einsum)."""
    c0, c1, r0, r1, q0, q1 = box
    ci, hi, wi = v.in_shape
    ns = np.zeros((ci, hi, wi), np.int64)
    nn = np.zeros_like(ns)
    kh, kw = v.struct.shape[2:]
    for co in range(c0, c1):
        for oy in range(r0, r1):
            for ox in range(q0, q1):
                for c in range(ci):
                    for ky in range(kh):
                        for kx in range(kw):
                            y = oy * v.stride[0] - v.padding[0] + ky * v.dilation[0]
                            x = ox * v.stride[1] - v.padding[1] + kx * v.dilation[1]
                            if 0 <= y < hi and 0 <= x < wi and v.struct[co, c, ky, kx]:
                                ns[c, y, x] += 1
                                nn[c, y, x] += int(v.nz[co, c, ky, kx])
    return ns, nn


@st.composite
def nets(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(3, 9)), draw(st.integers(3, 9)))
    layers = [LayerSpec(0, "input", shape, shape)]
    sparsity = draw(st.sampled_from([0.0, 0.3, 0.8]))
    for _ in range(draw(st.integers(1, 2))):
        groups = draw(st.sampled_from([1, 1, shape[0]]))
        co = groups * draw(st.integers(1, 4))
        k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        p = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
        d = (draw(st.integers(1, 2)), 1)
        hw = conv_output_hw(shape[1:], k, s, p, d)
        if min(hw) < 1:
            break
        w = rng.integers(-5, 6, size=(co, shape[0] // groups, *k)) * 2
        w[rng.random(w.shape) < sparsity] = 0
        out = (co, *hw)
        layers.append(LayerSpec(len(layers), "conv", shape, out, weight=w, neuron=NEURON, kernel=k, stride=s,
                                padding=p, dilation=d, groups=groups))
        shape = out
    if draw(st.booleans()) or len(layers) == 1:
        fin = int(np.prod(shape))
        layers.append(LayerSpec(len(layers), "flatten", shape, (fin,)))
        fo = draw(st.integers(1, 8))
        w = rng.integers(-5, 6, size=(fo, fin)) * 2
        w[rng.random(w.shape) < sparsity] = 0
        layers.append(LayerSpec(len(layers), "dense", (fin,), (fo,), weight=w, neuron=NEURON))
    return NetxSpec("hypothesis-net", layers[0].in_shape, layers)


@st.composite
def profiles(draw):
    raw = _raw(draw(st.sampled_from(["loihi1", "loihi2", "tiny_chip"])))
    raw["compiler"] = copy.deepcopy(_raw("loihi2")["compiler"])  # units of tile_split: compiler
    raw["compiler"]["max_synapse_words"]["value"] = draw(st.integers(4, 3000))
    raw["compiler"]["neuron_memory_words"]["value"] = draw(st.integers(4, 400))
    raw["compiler"]["max_axon_in"]["value"] = draw(st.integers(4, 800))
    raw["core"]["max_neurons"]["value"] = draw(st.integers(1, 80))
    raw["core"]["max_synapse_bits"]["value"] = draw(st.integers(50, 40000))
    raw["core"]["max_input_axons"]["value"] = draw(st.integers(4, 800))
    raw["core"]["max_output_axons"]["value"] = draw(st.integers(4, 800))
    raw["core"]["shared_memory_bits"]["value"] = draw(st.sampled_from([0, 3000, 60000]))
    raw["synapse_encoding"]["modes"]["value"] = draw(st.sampled_from([["dense"], ["sparse"], ["dense", "sparse"]]))
    raw["synapse_encoding"]["group_size"]["value"] = draw(st.integers(1, 64))
    raw["chip"]["cores_per_chip"]["value"] = draw(st.integers(1, 128))
    raw["synapse_encoding"]["conv_weight_sharing"]["value"] = draw(st.booleans())
    raw["mapping"]["tile_split"]["value"] = draw(st.sampled_from(["any", "halve", "compiler"]))
    return validate_profile(raw, "hypothesis-profile")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spec=nets(), prof=profiles())
def test_allocation_properties(spec, prof):
    try:
        alloc = allocate(spec, prof)
    except ScaLavaError as exc:
        assert "single neuron" in str(exc)
        assume(False)
    lim = alloc.limits
    cores_seen = set()
    for j, la in enumerate(alloc.layers):
        v = la.view
        # every neuron on exactly one core: tiles partition the output
        cover = np.zeros(v.out_shape, np.int64)
        for t in la.tiles:
            cover[t.c[0]:t.c[1], t.r[0]:t.r[1], t.q[0]:t.q[1]] += 1
            assert t.core not in cores_seen
            cores_seen.add(t.core)
            for k, cap in lim.items():  # no core over any limit
                assert t.usage[k] <= cap, (k, t.usage, lim)
        assert (cover == 1).all()
        assert (alloc.core_of_neuron[j] >= 0).all()
        assert la.cores >= la.lower_bound >= 1
        # synapses into the cores add up to the metrics fan-out
        layer = spec.neuron_layers[j]
        assert sum(t.synapses for t in la.tiles) == fanout_map(layer).sum()
        whole = tile_counts(v, 0, v.out_shape[0], 0, v.out_shape[1], 0, v.out_shape[2])[1]
        assert sum(t.nonzero_synapses for t in la.tiles) == whole.sum()
        if prof["mapping.tile_split"] == "compiler":  # every core reserves at least the neurons it holds
            assert all(t.usage["neurons"] >= (t.c[1] - t.c[0]) * (t.r[1] - t.r[0]) * (t.q[1] - t.q[0])
                       for t in la.tiles)
        # output axons of layer j = input axons of layer j+1 (the bit model counts both)
        elif j + 1 < len(alloc.layers):
            nxt = alloc.layers[j + 1]
            assert sum(t.usage["output_axons"] for t in la.tiles) == sum(
                t.usage["input_axons"] for t in nxt.tiles)
    assert cores_seen == set(range(alloc.total_cores))
    assert alloc.chips == -(-alloc.total_cores // prof["chip.cores_per_chip"])


@settings(max_examples=15, deadline=None)
@given(spec=nets(), data=st.data())
def test_tile_counts_match_enumeration(spec, data):
    j = data.draw(st.integers(0, len(spec.neuron_layers) - 1))
    v = syn_view(spec.neuron_layers[j], j)
    co, ho, wo = v.out_shape
    c0 = data.draw(st.integers(0, co - 1))
    r0 = data.draw(st.integers(0, ho - 1))
    q0 = data.draw(st.integers(0, wo - 1))
    box = (c0, data.draw(st.integers(c0 + 1, co)), r0, data.draw(st.integers(r0 + 1, ho)), q0,
           data.draw(st.integers(q0 + 1, wo)))
    ns, nn, y0, x0 = tile_counts(v, *box)
    bs, bn = _brute_counts(v, box)
    assert bs.sum() == ns.sum() and bn.sum() == nn.sum()
    assert np.array_equal(bs[:, y0:y0 + ns.shape[1], x0:x0 + ns.shape[2]], ns)
    assert np.array_equal(bn[:, y0:y0 + nn.shape[1], x0:x0 + nn.shape[2]], nn)


def _conv_spec(ci, co, k, hw, pad):
    w = np.random.default_rng(0).integers(1, 60, size=(co, ci, k, k)) * 2  # all nonzero
    out = (co, *conv_output_hw((hw, hw), (k, k), (1, 1), (pad, pad), (1, 1)))
    return NetxSpec("conv", (ci, hw, hw), [LayerSpec(0, "input", (ci, hw, hw), (ci, hw, hw)), LayerSpec(
        1, "conv", (ci, hw, hw), out, weight=w, neuron=NEURON, kernel=(k, k), padding=(pad, pad))])


def _documented_conv_cores(ci, co, k, h, prof):
    """docs/hardware.md's rule for a weight-shared conv layer (stride 1, the
    last layer): the fewest equal tiles (cg channels x rh x rw) with neurons
    <= max_neurons, input axons (the tile's input window, ci x (rh+k-1) x
    (rw+k-1), clipped to the map) <= max_input_axons, kernel slice bits
    (cg x ci x k x k weights + one header per group of each input channel's
    list) <= max_synapse_bits; no dependence on the number of synapses."""
    wb, hb, g = (prof[f"synapse_encoding.{f}"] for f in ("weight_bits", "header_bits", "group_size"))
    best = None
    for rh in sorted({-(-h // n) for n in range(1, h + 1)}):
        for rw in sorted({-(-h // n) for n in range(1, h + 1)}):
            win = ci * min(h, rh + k - 1) * min(h, rw + k - 1)
            for cg in range(1, co + 1):
                bits = ci * (cg * k * k * wb + -(-cg * k * k // g) * hb)
                if cg * rh * rw > prof["core.max_neurons"] or win > prof["core.max_input_axons"] or (
                        bits > prof["core.max_synapse_bits"] or cg * rh * rw > prof["core.max_output_axons"]):
                    break
                n = -(-co // cg) * -(-h // rh) * -(-h // rw)
                best = n if best is None else min(best, n)
    return best


def test_conv_cores_follow_neurons_and_kernel_not_synapses():
    prof = load_profile("loihi1")
    seen = {}
    for ci, co, k, h in [(32, 64, 3, 16), (32, 64, 3, 32), (8, 64, 3, 16), (32, 64, 5, 16), (64, 32, 3, 8)]:
        spec = _conv_spec(ci, co, k, h, pad=k // 2)
        a = allocate(spec, prof)
        la = a.layers[0]
        assert la.cores == _documented_conv_cores(ci, co, k, h, prof), (ci, co, k, h)
        for t in la.tiles:  # each core stores its kernel slice once (dense mode: every tap)
            cg = t.c[1] - t.c[0]
            assert t.usage["synapse_bits"] == ci * (cg * k * k * 8 + -(-cg * k * k // 64) * 10)
        seen[(ci, co, k, h)] = (la.cores, sum(t.synapses for t in la.tiles))
    # 4x the neurons (32x32 map): 4x the synapses and 4x the cores
    assert seen[(32, 64, 3, 32)][0] == 4 * seen[(32, 64, 3, 16)][0]
    # a quarter of the input channels: a quarter of the synapses, but the same neurons bind the cores
    assert seen[(8, 64, 3, 16)][1] * 4 == seen[(32, 64, 3, 16)][1]
    assert seen[(8, 64, 3, 16)][0] == seen[(32, 64, 3, 16)][0] == 16 == 64 * 16 * 16 // 1024
    # storing every synapse separately (no weight sharing) needs far more cores for the same layer
    raw = _raw("loihi1")
    raw["synapse_encoding"]["conv_weight_sharing"]["value"] = False
    unshared = allocate(_conv_spec(32, 64, 3, 16, 1), validate_profile(raw, "no-sharing"))
    assert unshared.total_cores > 2 * seen[(32, 64, 3, 16)][0]
    assert unshared.layers[0].binding_limit(unshared.limits) == "synapse_bits"


def test_dense_layer_with_large_fan_in_is_split_by_synaptic_memory():
    w = np.random.default_rng(1).integers(1, 60, size=(256, 2048)) * 2
    spec = NetxSpec("dense", (2048,), [LayerSpec(0, "input", (2048,), (2048,)),
                                        LayerSpec(1, "dense", (2048,), (256,), weight=w, neuron=NEURON)])
    l1 = allocate(spec, "loihi1")
    la = l1.layers[0]
    # Loihi 1, dense mode: 2048 axons x (cg x 8 bits + one 10-bit header) <= 128 KiB -> cg = 62
    assert la.tile_shape[0] == 62 and la.cores == 5
    assert la.binding_limit(l1.limits) == "synapse_bits"
    # Loihi 2 as Intel's compiler splits it: SynMem words of 4 synapses, 2048 x ceil(n / 4) <= 12000;
    # parts n = 1 (131072 words) -> x11 (24 neurons: 12288 words) -> x2 = 22 parts of 12 neurons (6144)
    l2 = allocate(spec, "loihi2")
    la2 = l2.layers[0]
    assert la2.binding_limit(l2.limits) == "synapse_words"
    assert la2.tile_shape[0] == 12 and la2.cores == 22
    assert all(t.usage["synapse_words"] == 2048 * 3 for t in la2.tiles[:-1])
    assert max(t.usage["neurons"] for t in la2.tiles) < 0.01 * l2.limits["neurons"]


def test_halving_granularity_uses_only_halved_tiles():
    spec = _conv_spec(16, 48, 3, 24, 1)
    raw = _raw("loihi1")
    raw["mapping"]["tile_split"]["value"] = "halve"
    raw["core"]["max_neurons"]["value"] = 512
    a = allocate(spec, validate_profile(raw, "halving"))
    assert a.total_cores > 1
    cg, rh, rw = a.layers[0].tile_shape
    halvings = lambda n: {-(-n // (1 << e)) for e in range(8)}  # noqa: E731
    assert cg in halvings(48) and rh in halvings(24) and rw in halvings(24)


def test_pruned_network_takes_fewer_cores_and_zero_weights_need_no_storage(tmp_path):
    prof = small_profile(core__max_neurons=64)
    big = read_netx(write_netx(tmp_path / "d.net", (1, 12, 12), [(8, 3, 1, 1), (8, 3, 2, 1)], 10))
    small = read_netx(write_netx(tmp_path / "p.net", (1, 12, 12), [(3, 3, 1, 1), (4, 3, 2, 1)], 10))
    a, b = allocate(big, prof), allocate(small, prof)
    assert b.total_cores < a.total_cores
    sparse = read_netx(write_netx(tmp_path / "s.net", (1, 12, 12), [(8, 3, 1, 1), (8, 3, 2, 1)], 10,
                                  sparsity=0.7))
    s = allocate(sparse, prof)
    bits = [ly["synapse_bits"] for ly in s.summary()["layers"]]
    full = [ly["synapse_bits"] for ly in a.summary()["layers"]]
    assert bits[1] < full[1]
    assert any(t.encoding == "sparse" for t in s.tiles)


def test_max_chips_error_names_layer_and_limit(tmp_path):
    path = write_netx(tmp_path / "m.net", (1, 12, 12), [(8, 3, 1, 1)], 10)
    prof = small_profile(core__max_neurons=16, chip__cores_per_chip=4)
    with pytest.raises(ScaLavaError, match=r"more than --max-chips 1; largest is layer 1 \(conv 8x12x12\).*bound by"):
        allocate(read_netx(path), prof, max_chips=1)
    assert allocate(read_netx(path), prof, max_chips=100).chips > 1


def test_neuron_too_big_for_any_core_is_an_error(tmp_path):
    path = write_netx(tmp_path / "f.net", (4, 8, 8), [(2, 3, 1, 1)], 4)
    prof = small_profile(core__max_input_axons=20)
    with pytest.raises(ScaLavaError, match=r"layer 3 \(dense 4\).*input axons.*core.max_input_axons"):
        allocate(read_netx(path), prof)


def _conv_net(in_shape, out_ch, k, stride, pad, dense_out=None):
    """An input layer, one conv (all weights nonzero) and optionally flatten + dense."""
    ci, h, w = in_shape
    out = (out_ch, *conv_output_hw((h, w), (k, k), stride, pad, (1, 1)))
    wts = np.random.default_rng(0).integers(1, 60, size=(out_ch, ci, k, k)) * 2
    layers = [LayerSpec(0, "input", in_shape, in_shape),
              LayerSpec(1, "conv", in_shape, out, weight=wts, neuron=NEURON, kernel=(k, k), stride=stride, padding=pad)]
    if dense_out:
        fin = int(np.prod(out))
        layers += [LayerSpec(2, "flatten", out, (fin,)),
                   LayerSpec(3, "dense", (fin,), (dense_out,), weight=np.ones((dense_out, fin)) * 2, neuron=NEURON)]
    return NetxSpec("conv", in_shape, layers)


def test_compiler_units_cut_conv_layers_in_power_of_two_column_blocks():
    """Loihi 2 as Intel's compiler fills a core: 2^k columns of whole channels and rows,
    every core reserving a whole block (the last one too), bound by neuron memory
    (2 words per neuron + 1 per AxonMap entry <= 8192)."""
    # 64 x 2 x 20 feeding a dense layer (one map entry per neuron), PilotNet's last conv:
    # 32 columns (one core, 4096 reserved: 8192 + 2560 words) do not fit, 16 do (4096 + 2048)
    a = allocate(_conv_net((64, 4, 22), 64, 3, (1, 1), (0, 0), dense_out=4), "loihi2")
    la = a.layers[0]  # the input layer has no neuron
    assert la.cores == 2 and la.tile_shape == (64, 2, 16)
    assert [t.q for t in la.tiles] == [(0, 16), (16, 20)]
    assert [t.usage["neurons"] for t in la.tiles] == [2048, 2048]
    assert [t.usage["axon_map"] for t in la.tiles] == [2048, 512]
    assert la.binding_limit(a.limits) == "neuron_words"
    # the kernel once per core: per (input channel, tap) ceil(64 x 6 / 64) = 6 words
    assert all(t.usage["synapse_words"] == 64 * 9 * 6 for t in la.tiles)
    # one column of 64 x 64 neurons needs 8192 + map words: rows are halved instead (2^k rows)
    b = allocate(_conv_net((4, 66, 6), 64, 3, (1, 1), (0, 0)), "loihi2")
    assert b.layers[0].tile_shape == (64, 32, 1) and b.layers[0].cores == 2 * 4
    # a kernel slice over SynMem (128 x 9 x ceil(128 x 6 / 64) = 13824 > 12000 words): half the
    # channels per core, still in column blocks (64 x 8 x 4: 4096 + 2048 words)
    c = allocate(_conv_spec(128, 128, 3, 8, 1), "loihi2")
    assert c.layers[0].tile_shape == (64, 8, 4) and c.layers[0].cores == 4
    assert all(t.usage["synapse_words"] == 128 * 9 * 6 for t in c.layers[0].tiles)


def test_compiler_units_need_their_section_and_finite_values(tmp_path):
    raw = _raw("loihi2")
    raw.pop("compiler")
    with pytest.raises(ScaLavaError, match=r"field 'compiler': missing section \(mapping.tile_split: compiler"):
        validate_profile(raw, "no-units")
    for bad, problem in ((float("nan"), "got nan"), (float("-inf"), "got -inf"), (-3, "negative"), (2.5, "integer")):
        raw = _raw("loihi2")
        raw["compiler"]["max_synapse_words"]["value"] = bad
        with pytest.raises(ScaLavaError, match=rf"field 'compiler.max_synapse_words': .*{problem}"):
            validate_profile(raw, "bad-units")
    raw = _raw("loihi2")  # the section may stay when another split is chosen (then unused)
    raw["mapping"]["tile_split"]["value"] = "halve"
    assert allocate(_conv_spec(2, 4, 3, 8, 1), validate_profile(raw, "halve")).limits.keys() >= {"shared_bits"}


def test_static_energy_of_a_structure_prices_its_chips_steps_and_busiest_layer(tmp_path):
    from sca_lava.hardware.energy import layer_work_ns, static_energy_pj, step_time_ns

    spec = read_netx(write_netx(tmp_path / "s.net", (2, 12, 12), [(8, 3, 1, 1), (8, 3, 2, 1)], 10))
    x = random_spikes((2, 12, 12), 3, 8, seed=1)
    ls = {0: random_spikes((8, 12, 12), 3, 8, seed=2), 1: random_spikes((8, 6, 6), 3, 8, seed=3),
          2: random_spikes((10,), 3, 8, seed=4)}
    raw = _raw("loihi2")
    results = {}
    for cpc in (128, 1):  # every chip used draws the static power
        raw["chip"]["cores_per_chip"]["value"] = cpc
        prof = validate_profile(raw, f"cpc{cpc}")
        alloc = allocate(spec, prof)
        act = count_activity(alloc, x, ls)
        counts = [{"synop": ly["synops_stored"], "neuron_active": ly["neuron_active"],
                   "neuron_inactive": ly["neuron_inactive"], "spike_out": ly["spikes_out"]} for ly in act.per_layer]
        work = layer_work_ns(alloc, counts, 8)
        results[cpc] = (static_energy_pj(alloc, 8, work), alloc.chips, estimate(alloc, act)["static_energy_uj"])
        busiest = max(w / la.cores for w, la in zip(work, alloc.layers))
        assert step_time_ns(alloc, work) == pytest.approx(prof["timing_ns.step_overhead"] + busiest)
        # the mean work per core never exceeds the busiest core of each step (the budget's latency)
        assert results[cpc][0] <= results[cpc][2] * 1e6 * (1 + 1e-9)
        assert static_energy_pj(alloc, 8) < results[cpc][0]  # idle steps: the floor
    assert results[1][1] == allocate(spec, "loihi2").total_cores > 1
    assert results[1][0] == pytest.approx(results[128][0] * results[1][1])


def test_sweep_vgg16_cores_fall_with_keep():
    arch = load_arch("vgg16_cifar")
    rows = sweep(arch, [1.0, 0.5, 0.1], "loihi1")
    assert rows[0]["cores"] is None and "4608 input axons" in rows[0]["error"]
    assert rows[1]["cores"] > rows[2]["cores"] >= rows[2]["lower_bound_cores"]
    spec = arch_spec(arch, 0.5)
    assert spec.neuron_layers[0].out_shape == (32, 32, 32)
    assert spec.neuron_layers[-1].out_shape == (10,)


def test_decay_horizon():
    assert decay_horizon(0) == float("inf")
    assert decay_horizon(4096) == 1
    h = decay_horizon(1024)
    x = (1 << 23) - 1
    for _ in range(h):
        x = x * (4096 - 1024) >> 12
    assert x == 0


def test_op_energy_prices_synaptic_events_by_layer_kind():
    sf = load_profile("loihi1_sanafe")
    conv, dense, inp = (op_energy_pj(sf, k) for k in ("conv", "dense", "input"))
    assert (conv["synop"], dense["synop"], inp["synop"]) == (24.0, 35.5, 33.6)  # SANA-FE's three units
    assert op_energy_pj(sf, "dense", encoding="sparse")["synop"] == 33.6
    assert conv["message"] == pytest.approx(111.0 + 2.0 * 3.6)  # message out + mean hops
    assert conv["neuron_active"] == pytest.approx(51.2 + 21.6) and conv["spike_out"] == 69.3
    with pytest.raises(ScaLavaError, match="unknown layer kind"):
        op_energy_pj(sf, "pool")


def test_estimate_uses_each_layers_kind_and_encoding(tmp_path):
    path = write_netx(tmp_path / "k.net", (1, 8, 8), [(4, 3, 1, 1)], 5, sparsity=0.5)
    prof = load_profile("tiny_chip")  # different prices per synapse unit
    alloc = allocate(read_netx(path), prof)
    x = random_spikes((1, 8, 8), 2, 6, seed=1)
    layer_spikes = {0: random_spikes((4, 8, 8), 2, 6, seed=2), 1: random_spikes((5,), 2, 6, seed=3)}
    act = count_activity(alloc, x, layer_spikes)
    res = estimate(alloc, act)
    pc = act.per_core
    expect = 0.0
    for la in alloc.layers:
        for t in la.tiles:
            e = op_energy_pj(prof, la.view.kind, t.encoding)
            expect += (pc["synops_stored"][t.core] * e["synop"] + pc["neuron_active"][t.core] * e["neuron_active"]
                       + pc["neuron_inactive"][t.core] * e["neuron_inactive"]
                       + pc["spikes_out"][t.core] * e["spike_out"] + pc["spikes_in"][t.core] * e["message"])
    expect += act.host_spikes_out * op_energy_pj(prof, "dense")["message"]
    assert res["dynamic_energy_uj"] == pytest.approx(expect * 1e-6)
    conv_only = sum(pc["synops_stored"][t.core] for t in alloc.layers[0].tiles) * prof["energy_pj.synop_conv"]
    assert res["per_layer_energy"][0]["synop_uj"] == pytest.approx(conv_only * 1e-6)


# --------------------------------------------------------------------------- activity: Lava vs SLAYER


@pytest.mark.lava
def test_lava_activity_equals_slayer_analytic_counts(tmp_path):
    import torch
    from lava.lib.dl import slayer

    from sca_lava.models.export import export_blocks_hdf5

    torch.manual_seed(0)
    neuron = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.03}
    blocks = [
        slayer.block.cuba.Conv(neuron, 2, 6, 3, stride=1, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(neuron, 6, 8, 3, stride=2, padding=1, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(neuron, 8 * 4 * 4, 6, weight_scale=3),
    ]
    x = random_spikes((2, 8, 8), 3, 12, p=0.4, seed=3)
    with torch.no_grad():
        h = torch.as_tensor(x, dtype=torch.float32)
        outs = []
        for b in blocks:
            h = b(h)
            outs.append(h.numpy().astype(np.uint8))
    slayer_spikes = {0: outs[0], 1: outs[1], 2: outs[3]}
    path = str(tmp_path / "s.net")
    export_blocks_hdf5(path, [2, 8, 8], blocks)
    prof = small_profile(core__max_neurons=48)
    spec = read_netx(path)
    alloc = allocate(spec, prof)
    assert all(la.cores > 1 for la in alloc.layers[:2])  # counts really split over cores

    rec = measure(path, x, verify=len(x), spec=spec)  # fixed-point evaluator, Lava on every sample
    assert rec.source == "fixed-point" and rec.extra["verify"]["samples"] == len(x)
    assert rec.extra["verify"]["mismatching_samples"] == 0 and rec.extra["verify"]["agreement"] == 1.0
    res = budget_netx(path, prof, record=rec, alloc=alloc)
    assert res["activity_source"] == "fixed-point" and res["verify"]["agreement"] == 1.0
    ref = count_activity(alloc, x, slayer_spikes)  # analytic, from SLAYER's spikes
    for q, arr in ref.per_core.items():
        assert np.allclose(res["per_core"][q], arr), q
    assert all(s.sum() > 0 for s in slayer_spikes.values())
    # and per layer they are the metrics definitions
    inputs = [x, outs[0], outs[1]]
    for j, (layer, lay) in enumerate(zip(spec.neuron_layers, ref.per_layer)):
        xin = inputs[j].reshape(len(x), *layer.in_shape, x.shape[-1])
        assert lay["synops"] == pytest.approx(synops(layer, xin) / len(x))
        assert lay["spikes_out"] == pytest.approx(slayer_spikes[j].sum() / len(x))
        assert lay["neuron_active"] + lay["neuron_inactive"] == pytest.approx(layer.num_neurons * x.shape[-1])
        assert lay["neuron_active"] >= lay["spikes_out"]
    # energy = counts x energy per op
    e = estimate(alloc, ref)
    assert res["dynamic_energy_uj"] == pytest.approx(e["dynamic_energy_uj"])
    tot = ref.totals()
    assert len({prof[f"energy_pj.synop_{k}"] for k in ("dense", "sparse", "conv")}) == 1  # loihi1: one price
    expect = (tot["synops_stored"] * prof["energy_pj.synop_conv"] + tot["neuron_active"] * prof["energy_pj.neuron_active"]
              + tot["neuron_inactive"] * prof["energy_pj.neuron_inactive"]
              + tot["spikes_out"] * prof["energy_pj.spike_out"]
              + (tot["spikes_in"] + ref.host_spikes_out) * (prof["energy_pj.spike_message"]
                                                           + prof["routing.hops_per_message"] * prof["energy_pj.spike_hop"]))
    assert res["dynamic_energy_uj"] == pytest.approx(expect * 1e-6)
    assert res["latency_us"] >= x.shape[-1] * prof["timing_ns.step_overhead"] * 1e-3
    assert res["static_energy_uj"] == pytest.approx(prof["static.power_mw_per_chip"] * res["chips"]
                                                    * res["latency_us"] * 1e-3)


# --------------------------------------------------------------------------- CLI and API on a third-party file


@pytest.mark.lava
def test_cli_budget_third_party_file_with_compare(tmp_path, capsys):
    from sca_lava.cli import main

    dense = write_netx(tmp_path / "dense.net", (1, 10, 10), [(6, 3, 2, 1), (8, 3, 1, 1)], 5)
    pruned = write_netx(tmp_path / "pruned.net", (1, 10, 10), [(3, 3, 2, 1), (4, 3, 1, 1)], 5)
    out = tmp_path / "out"
    rc = main(["budget", dense, "--compare", pruned, "--profile", "loihi1", "--samples", "2", "--steps", "8",
               "--verify", "1", "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "budget.json").read_text())
    d, p = report["budgets"]
    for r in (d, p):
        assert r["cores"] >= 1 and r["dynamic_energy_uj"] > 0 and r["latency_us"] > 0
        assert r["static_energy_uj"] > 0 and r["assumptions"]
    assert p["dynamic_energy_uj"] < d["dynamic_energy_uj"]
    assert report["compare"]["ratio"]["dynamic_energy_uj"] < 1
    for name in ("cores_per_layer.png", "energy_breakdown.png", "core_utilisation.png"):
        assert (out / name).stat().st_size > 1000
    assert d["activity_source"] == "fixed-point" and d["verify"]["samples"] == 1
    assert d["uncertainty"]["sourced"] + d["uncertainty"]["assumed"] == len(load_profile("loihi1").values)
    text = capsys.readouterr().out
    assert "cores" in text and "uJ" in text and "uncertainty:" in text and "Lava cross-check on 1 samples" in text


def test_cli_errors_exit_2(tmp_path, capsys):
    from sca_lava.cli import main

    path = write_netx(tmp_path / "m.net", (1, 12, 12), [(8, 3, 1, 1)], 10)
    bad = tmp_path / "bad.yaml"
    raw = _raw("loihi2")
    raw["core"]["max_neurons"]["value"] = -3
    bad.write_text(yaml.safe_dump(raw))
    assert main(["budget", path, "--profile", str(bad), "--allocation-only", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "core.max_neurons" in err and str(bad) in err and len(err.strip().splitlines()) == 1
    tiny = tmp_path / "tiny.yaml"
    raw = _raw("loihi1")
    raw["chip"]["cores_per_chip"]["value"] = 1
    raw["core"]["max_neurons"]["value"] = 100
    tiny.write_text(yaml.safe_dump(raw))
    assert main(["budget", path, "--profile", str(tiny), "--allocation-only", "--max-chips", "1",
                 "--out", str(tmp_path)]) == 2
    assert "--max-chips 1" in capsys.readouterr().err


def test_cli_allocation_only_and_sweep(tmp_path, capsys):
    from sca_lava.cli import main

    path = write_netx(tmp_path / "m.net", (1, 20, 20), [(8, 3, 1, 1), (4, 3, 2, 1)], 10)
    assert main(["budget", path, "--profile", "tiny_chip", "--allocation-only", "--out", str(tmp_path / "a")]) == 0
    r = json.loads((tmp_path / "a" / "budget.json").read_text())["budgets"][0]
    assert r["dynamic_energy_uj"] is None and r["cores"] == sum(ly["cores"] for ly in r["layers"])
    assert main(["budget", "--sweep", "--arch", "mnist_small", "--keep", "1,0.25", "--profile", "loihi1",
                 "--out", str(tmp_path / "s")]) == 0
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["rows"]
    assert rows[0]["cores"] >= rows[1]["cores"]
    assert (tmp_path / "s" / "sweep_cores.png").exists()
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"input": [2, 8, 8], "layers": [{"type": "conv", "out": 4, "kernel": 3},
                                                               {"type": "flatten"}, {"type": "dense", "out": 3}]}))
    assert main(["budget", "--sweep", "--arch", str(arch), "--keep", "0.5", "--out", str(tmp_path / "j")]) == 0


def test_compare_api_ratios(tmp_path):
    a = budget_netx(write_netx(tmp_path / "a.net", (1, 10, 10), [(8, 3, 1, 1)], 5), "tiny_chip")
    b = budget_netx(write_netx(tmp_path / "b.net", (1, 10, 10), [(2, 3, 1, 1)], 5), "tiny_chip")
    c = compare(a, b)
    assert c["ratio"]["cores"] == b["cores"] / a["cores"] < 1
    assert c["cores_per_layer"]["dense"] == [ly["cores"] for ly in a["layers"]]


def test_budget_takes_a_record_and_hardware_never_imports_deploy(tmp_path):
    import ast

    path = write_netx(tmp_path / "r.net", (1, 6, 6), [(2, 3, 1, 1)], 3)
    with pytest.raises(ScaLavaError, match="takes a SpikeRecord"):
        budget_netx(path, "loihi1", random_spikes((1, 6, 6), 1, 4))
    pkg = Path(__file__).resolve().parents[1] / "sca_lava" / "hardware"
    for f in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("sca_lava.deploy") for n in names), f"{f.name} imports {names}"


def test_limits_table_matches_profile_fields():
    p = load_profile("loihi2")
    for field in (*LIMITS.values(), *COMPILER_LIMITS.values()):
        assert isinstance(p[field], int)
    assert Path(p.path).name == "loihi2.yaml"
    assert copy.deepcopy(p).values == p.values


# --------------------------------------------------------------------------- hostile profiles, package data


def _valid_text() -> str:
    return (profiles_dir() / "loihi1.yaml").read_text()


HOSTILE_PROFILES = {
    "not-utf8": (lambda: _valid_text().encode() + b"\ndescription: \xff\xfe\n", "not UTF-8"),
    "alias-bomb": (lambda: (_valid_text().replace("description:", "old_description:", 1).split("old_description:")[0]
                            + "".join(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i else '"lol"'] * 9) + "]\n"
                                      for i in range(9)) + _valid_text().split("\n", 4)[4]).encode(), "aliases"),
    "deep-nesting": (lambda: (_valid_text() + "description: " + "[" * 200 + "]" * 200 + "\n").encode(), "nested"),
    "huge": (lambda: (_valid_text() + "# " + "x" * 300_000 + "\n").encode(), "large"),
    "nan": (lambda: _valid_text().replace("value: 81.0", "value: .nan").encode(), "energy_pj.neuron_active"),
    "-inf-energy": (lambda: _valid_text().replace("value: 23.6", "value: -.inf", 1).encode(), "energy_pj.synop_dense"),
    "nan-limit": (lambda: _valid_text().replace("value: 1048576", "value: .nan").encode(), "core.max_synapse_bits"),
    "negative-limit": (lambda: _valid_text().replace("value: 4096", "value: -4096", 1).encode(),
                       "core.max_input_axons"),
    "inf-power": (lambda: _valid_text().replace("value: 104.4", "value: .inf").encode(), "static.power_mw_per_chip"),
    "nan-compiler-unit": (lambda: (profiles_dir() / "loihi2.yaml").read_text().replace(
        "max_synapse_words: {value: 12000", "max_synapse_words: {value: .nan").encode(), "compiler.max_synapse_words"),
    "bool-as-count": (lambda: _valid_text().replace("value: 1024,", "value: true,", 1).encode(), "core.max_neurons"),
    "bad-split": (lambda: _valid_text().replace("value: any", "value: thirds").encode(), "mapping.tile_split"),
    "not-a-mapping": (lambda: b"- just\n- a list\n", "mapping"),
    "empty-source": (lambda: _valid_text().replace('source: "Davies et al., IEEE Micro', 'source: "  ", x: "', 1)
                     .encode(), "chip.cores_per_chip"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PROFILES))
def test_hostile_profiles_are_one_line_errors(tmp_path, capsys, case):
    from sca_lava.cli import main

    make, expect = HOSTILE_PROFILES[case]
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(make())
    net = write_netx(tmp_path / "m.net", (1, 6, 6), [(2, 3, 1, 1)], 3)
    assert main(["budget", net, "--profile", str(bad), "--allocation-only", "--no-plots",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and expect in err, err
    assert len(err) < 400  # an alias bomb must not expand into the message


def test_profile_json_schema_is_a_valid_schema():
    import jsonschema

    from sca_lava.hardware.profile import json_schema

    jsonschema.Draft202012Validator.check_schema(json_schema())
    for name in available_profiles():
        jsonschema.validate(yaml.safe_load((profiles_dir() / f"{name}.yaml").read_text()), json_schema())


@pytest.mark.slow
def test_wheel_ships_the_profiles(tmp_path):
    """A non-editable install (a wheel in a scratch venv that reuses the project
    venv's packages, --no-deps) finds --profile loihi2."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    for tree in ("sca_lava", "hardware_profiles"):
        shutil.copytree(root / tree, src / tree, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, env=env, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("sca_lava-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # reuse, no deps
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, env=env, cwd=tmp_path)
    net = write_netx(tmp_path / "m.net", (1, 6, 6), [(2, 3, 1, 1)], 3)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import sca_lava; print(sca_lava.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert str(site) in where  # the wheel's copy, not a checkout
    r = subprocess.run([str(venv / "bin" / "sca-lava"), "budget", net, "--profile", "loihi2",
                        "--allocation-only", "--no-plots", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on loihi2:" in r.stdout and "cores" in r.stdout
    shipped = next(site.glob("sca_lava/hardware/profiles"))  # hardware_profiles/ installed as package data
    assert sorted(p.name for p in shipped.glob("*.yaml")) == sorted(p.name for p in (root / "hardware_profiles").glob("*.yaml"))
