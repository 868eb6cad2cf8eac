"""Cross-check our Loihi 1 energy and latency against SANA-FE, an independent,
calibrated neuromorphic simulator (Boyle et al., IEEE TCAD 2025; PyPI
``sanafe``, GPL-3.0: used only from this script and an optional test, never
imported by the package). ``make sanafe`` installs it into the venv.

For each net (the demo's dense and pruned netx files): the same network is
built on SANA-FE's Loihi architecture (``sanafe/examples/loihi.yaml``) with
our allocation's neuron-to-core mapping (profile ``loihi1_sanafe``), CUBA
neurons as SANA-FE's leaky_integrate_fire soma with its ``input_decay``
(current) and ``leak_decay`` (voltage) set from the file's iDecay/vDecay,
weights in threshold units (threshold = vThMant, the ``<< 6`` of both
dropped), conv synapses on its conv synapse unit, dense ones on the dense or
sparse unit as our allocation stores them. The same MNIST test digits
(rate-regular) are fed to both: ours through the bit-exact fixed-point
evaluator, SANA-FE through its input neurons. SANA-FE delays spikes one step
per layer, so both run T + L steps (L neuron layers, zero input after T): the
same window, every spike of the sample counted in both. Printed per
inference: SANA-FE energy and latency, ours on loihi1 and loihi1_sanafe, the
ratios ours / SANA-FE, and the total spikes of each simulator (SANA-FE's
float CUBA differs from Loihi's fixed point, so spike counts differ a little).

    .venv/bin/python benchmarks/crosscheck_sanafe.py [--dense runs/demo/dense.net]
        [--pruned runs/demo/pruned/pruned.net] [--samples 4] [--json runs/crosscheck.json]

Without the files, ``--make DIR`` trains a small pair first (1 epoch on 1000
digits, SCA pruning to 30 % of the parameters in 2 epochs; a few minutes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sca_lava.data import encode, load_mnist5k
from sca_lava.deploy.measure import measure
from sca_lava.deploy.weights import dense_effective_weights
from sca_lava.hardware.allocation import allocate
from sca_lava.hardware.budget import budget_netx
from sca_lava.netx.reader import read_netx

PROFILES = ("loihi1", "loihi1_sanafe")
SYNAPSE_UNIT = {"conv": "loihi_conv_synapse", "dense": "loihi_dense_synapse", "sparse": "loihi_sparse_synapse"}


def import_sanafe():
    try:
        import sanafe
    except ImportError:
        sys.exit("sanafe is not installed: run `make sanafe` (pip install sanafe into the project venv)")
    return sanafe


def loihi_yaml() -> str:
    sanafe = import_sanafe()
    return str(Path(sanafe.__file__).parent / "examples" / "loihi.yaml")


def connections(layer, view) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre, post, weight) of every structural synapse of a neuron layer, flat
    indices in SLAYER order; weights in threshold units (Lava's fixed point
    without its ``<< 6``)."""
    if layer.kind == "dense":
        w, shift = dense_effective_weights(np.asarray(layer.weight).reshape(view.out_shape[0], -1))
        post, pre = np.meshgrid(np.arange(w.shape[0]), np.arange(w.shape[1]), indexing="ij")
        return pre.ravel(), post.ravel(), (w / 2.0 ** shift).ravel()
    if layer.kind != "conv":
        raise SystemExit(f"layer {layer.index} ({layer.kind}): only conv and dense layers are cross-checked")
    w = np.asarray(layer.weight, dtype=np.float64)
    co, ipg, kh, kw = w.shape
    ci, hi, wi = view.in_shape
    _, ho, wo = view.out_shape
    opg = co // layer.groups
    o, c, ky, kx, oy, ox = np.meshgrid(np.arange(co), np.arange(ipg), np.arange(kh), np.arange(kw),
                                       np.arange(ho), np.arange(wo), indexing="ij")
    iy = oy * layer.stride[0] - layer.padding[0] + ky * layer.dilation[0]
    ix = ox * layer.stride[1] - layer.padding[1] + kx * layer.dilation[1]
    cin = (o // opg) * ipg + c
    ok = (iy >= 0) & (iy < hi) & (ix >= 0) & (ix < wi)
    pre = (cin * hi + iy) * wi + ix
    post = (o * ho + oy) * wo + ox
    return pre[ok], post[ok], w[o, c, ky, kx][ok]


def build(sanafe, arch, spec, alloc, sample: np.ndarray):
    """SANA-FE network of ``spec`` mapped as ``alloc`` (input neurons first),
    fed with one sample (C, H, W, T) or (F, T)."""
    cores = [c for tile in arch.tiles for c in tile.cores]
    net = sanafe.Network()
    x = sample.reshape(-1, sample.shape[-1])
    n_in = x.shape[0]
    in_cores = -(-n_in // 1024)
    if in_cores + alloc.total_cores > len(cores):
        raise SystemExit(f"{alloc.total_cores} cores + {in_cores} input cores exceed SANA-FE's {len(cores)}")
    inp = net.create_neuron_group("input", n_in, model_attributes={})
    for i in range(n_in):
        inp[i].set_attributes(soma_hw_name=f"loihi_inputs[{i % 1024}]",
                              model_attributes={"spikes": [int(s) for s in x[i]]})
        inp[i].map_to_core(cores[i // 1024])
    prev, n_lif = inp, 0
    for j, (layer, la) in enumerate(zip(spec.neuron_layers, alloc.layers)):
        nrn = layer.neuron
        if layer.bias is not None and np.any(layer.bias):
            raise SystemExit(f"layer {layer.index}: biases are not cross-checked")
        attrs = {"threshold": float(nrn.vth_mant), "reset": 0.0,
                 "leak_decay": (4096 - nrn.v_decay) / 4096, "input_decay": (4096 - nrn.i_decay) / 4096}
        v = la.view
        group = net.create_neuron_group(f"l{j}", v.neurons, model_attributes=attrs, soma_hw_name="loihi_lif")
        core_of = alloc.core_of_neuron[j].reshape(-1)
        enc = {t.core: t.encoding for t in la.tiles}
        unit = {}
        for k in range(v.neurons):
            c = int(core_of[k])
            u = SYNAPSE_UNIT["conv" if v.kind == "conv" else enc[c]]
            unit[k] = enc[c]
            group[k].set_attributes(default_synapse_hw_name=u)
            group[k].map_to_core(cores[in_cores + c])
        pre, post, w = connections(layer, v)
        dense_core = np.array([unit[int(p)] == "dense" for p in range(v.neurons)])
        keep = dense_core[post] | (w != 0)  # a sparse-stored core keeps only nonzero synapses
        prev.connect_neurons_sparse(group, {"w": w[keep].tolist()},
                                    list(zip(pre[keep].tolist(), post[keep].tolist())))
        prev, n_lif = group, n_lif + v.neurons
    return net, n_lif


def sanafe_run(spec, alloc, x: np.ndarray) -> dict:
    """Mean per inference over the samples of ``x`` (N, ..., T+L)."""
    sanafe = import_sanafe()
    arch = sanafe.load_arch(loihi_yaml())
    runs = []
    for s in range(x.shape[0]):
        net, _ = build(sanafe, arch, spec, alloc, x[s])
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        r = chip.sim(x.shape[-1], perf_trace=True)
        runs.append({"energy_uj": r["energy"]["total"] * 1e6,
                     "energy_by_unit_uj": {k: v * 1e6 for k, v in r["energy"].items() if k != "total"},
                     "latency_us": r["sim_time"] * 1e6,
                     "spikes": int(sum(r["perf_trace"]["fired"])) - int(x[s].sum()),
                     "hops": int(sum(r["perf_trace"]["hops"]))})
    mean = {k: float(np.mean([r[k] for r in runs])) for k in ("energy_uj", "latency_us", "spikes", "hops")}
    mean["energy_by_unit_uj"] = {k: float(np.mean([r["energy_by_unit_uj"][k] for r in runs]))
                                 for k in runs[0]["energy_by_unit_uj"]}
    return mean


def crosscheck(path: str, samples: int) -> dict:
    spec = read_netx(path)
    t = spec.contract.num_steps if getattr(spec, "contract", None) is not None else 16
    layers = len(spec.neuron_layers)
    x = encode(load_mnist5k().test_x[:samples], t)
    x = np.concatenate([x, np.zeros((*x.shape[:-1], layers), dtype=x.dtype)], axis=-1)  # flush T + L
    rec = measure(path, x, spec=spec)
    ours = {}
    for prof in PROFILES:
        b = budget_netx(path, prof, record=rec, spec=spec)
        ours[prof] = {"energy_uj": b["dynamic_energy_uj"], "latency_us": b["latency_us"], "cores": b["cores"],
                      "breakdown_uj": b["energy_breakdown_uj"]}
    ours_spikes = float(sum(int((s != 0).sum()) for s in rec.layer_spikes.values())) / samples
    start = time.perf_counter()
    sf = sanafe_run(spec, allocate(spec, "loihi1_sanafe"), x)
    sf["seconds"] = time.perf_counter() - start
    main = ours["loihi1_sanafe"]
    return {
        "model": path, "samples": samples, "steps": int(x.shape[-1]), "num_steps": t, "layers": layers,
        "sanafe": sf, "ours": ours, "ours_spikes": ours_spikes,
        "energy_ratio": main["energy_uj"] / sf["energy_uj"],
        "latency_ratio": main["latency_us"] / sf["latency_us"],
        "energy_ratio_loihi1": ours["loihi1"]["energy_uj"] / sf["energy_uj"],
        "latency_ratio_loihi1": ours["loihi1"]["latency_us"] / sf["latency_us"],
        "spike_ratio": ours_spikes / sf["spikes"] if sf["spikes"] else None,
    }


def make_nets(folder: Path) -> tuple[str, str]:
    """A small dense/pruned pair from the CLI (the demo's network, short runs)."""
    cli = [sys.executable, "-m", "sca_lava.cli"]
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(cli + ["train", "--out", str(folder / "dense"), "--epochs", "1", "--train-samples", "1000",
                          "--no-progress"], check=True)
    subprocess.run(cli + ["export", str(folder / "dense" / "model.pt"), "--out", str(folder / "dense.net")],
                   check=True)
    subprocess.run(cli + ["prune", "--from", str(folder / "dense" / "model.pt"), "--out", str(folder / "pruned"),
                          "--epochs", "2", "--train-samples", "1000", "--no-progress"], check=True)
    return str(folder / "dense.net"), str(folder / "pruned" / "pruned.net")


def build_parser() -> argparse.ArgumentParser:
    """The options; the default files are where ``sca-lava demo`` (make demo) writes them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dense", default="runs/demo/dense.net")
    ap.add_argument("--pruned", default="runs/demo/pruned/pruned.net")
    ap.add_argument("--make", metavar="DIR", help="train a small dense/pruned pair into DIR first")
    ap.add_argument("--samples", type=int, default=4, help="MNIST test digits per net (default 4)")
    ap.add_argument("--json", help="write {dense: {energy_ratio, latency_ratio, ...}, pruned: {...}}")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import_sanafe()
    if args.make:
        args.dense, args.pruned = make_nets(Path(args.make))
    for p in (args.dense, args.pruned):
        if not Path(p).is_file():
            sys.exit(f"{p}: no such netx file (run `make demo`, pass --dense/--pruned, or use --make DIR)")
    results = {}
    for name, path in (("dense", args.dense), ("pruned", args.pruned)):
        r = crosscheck(path, args.samples)
        results[name] = r
        sf, o = r["sanafe"], r["ours"]
        print(f"{name}: {path}, {r['samples']} digits x {r['steps']} steps (T={r['num_steps']} + "
              f"{r['layers']} flush), {o['loihi1_sanafe']['cores']} cores")
        print(f"  SANA-FE        energy {sf['energy_uj']:8.3f} uJ  latency {sf['latency_us']:9.2f} us  "
              f"spikes {sf['spikes']:8.0f}  ({sf['seconds']:.1f} s)")
        for prof in PROFILES:
            print(f"  {prof:<14} energy {o[prof]['energy_uj']:8.3f} uJ  latency {o[prof]['latency_us']:9.2f} us  "
                  f"ratio ours/SANA-FE: energy {o[prof]['energy_uj'] / sf['energy_uj']:.3f}, "
                  f"latency {o[prof]['latency_us'] / sf['latency_us']:.3f}")
        print(f"  spikes: ours (fixed point) {r['ours_spikes']:.0f} / SANA-FE {sf['spikes']:.0f} = "
              f"{r['spike_ratio']:.3f}; SANA-FE energy by unit (uJ): "
              + ", ".join(f"{k} {v:.3f}" for k, v in sf["energy_by_unit_uj"].items()))
    if args.json:
        from sca_lava.atomic import write_json

        write_json(args.json, results)
        print(f"wrote {args.json}")
    print(json.dumps({k: {"energy_ratio": round(v["energy_ratio"], 4), "latency_ratio": round(v["latency_ratio"], 4)}
                      for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
