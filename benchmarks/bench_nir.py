"""NIR cross-framework check with snnTorch (optional: `make snntorch`), both ways.

snnTorch -> sca_lava: a spiking CNN built and trained in snnTorch (bias-free Conv2d and Linear,
`Synaptic` CUBA neurons that reset to zero at once), exported with snnTorch's own `export_to_nir`,
written with `nir.write`, imported here (`sca-lava import`: Loihi fixed point), compared with snnTorch
on the MNIST-5k test digits, then SCA-pruned, exported to netx, run in Lava (a few digits, spike for
spike against SLAYER) and in the evaluator (all test digits, bit-exact with Lava), budgeted on Loihi 2.

sca_lava -> snnTorch: the tiny net trained and SCA-pruned here, exported with `export_nir`, read with
`nir.read`, imported with snnTorch's `import_from_nir` and run there, compared with the deployed netx file.

Every netx layer adds one step of latency and NIR nodes none (docs/nir.md), so sca_lava's side gets the
input followed by L empty steps (L layers) and its steps L.. are compared with snnTorch's 0..T-1: output
spikes per (digit, neuron, step), spike counts, and class decisions (most spikes; ties to the lowest).

  python benchmarks/bench_nir.py [--train 2000] [--test 500] [--epochs 3] [--steps 16] [--lava-samples 4]
      [--json runs/bench_nir.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from sca_lava.data import encode, load_mnist5k

T_DEFAULT = 16


def snntorch_net(seed: int = 0):
    """Conv 1->8 (3x3, stride 2) -> Synaptic -> Flatten -> Linear 1568->10 -> Synaptic, as snnTorch's
    tutorials write one; per-neuron parameter tensors so that its NIR export has shapes."""
    import snntorch as snn

    torch.manual_seed(seed)

    def neurons(shape, **kw):
        return snn.Synaptic(alpha=torch.full(shape, 0.75), beta=torch.full(shape, 0.97),
                            threshold=torch.full(shape, 1.25), init_hidden=True, reset_mechanism="zero",
                            reset_delay=False, **kw)

    return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), neurons((8, 14, 14)),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10, bias=False),
                               neurons((10,), output=True))


def run_sequential(net, spikes: np.ndarray, batch: int = 64) -> np.ndarray:
    """Output spikes (N, 10, T) of a batched snnTorch net."""
    from snntorch import utils

    x = torch.from_numpy(spikes).float()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            utils.reset(net)
            out.append(torch.stack([net(x[i:i + batch, ..., t])[0] for t in range(x.shape[-1])], -1))
    return torch.cat(out).numpy()


def run_imported(module, spikes: np.ndarray) -> np.ndarray:
    """Output spikes (N, 10, T) of a net snnTorch's ``import_from_nir`` built (one digit at a time: its
    Flatten from NIR has start_dim 0, which flattens a batch too)."""
    from snntorch import utils

    x = torch.from_numpy(spikes).float()
    out = []
    with torch.no_grad():
        for sample in x:
            utils.reset(module)
            state, steps = None, []
            for t in range(x.shape[-1]):
                y, state = module(sample[..., t], state)
                steps.append(y.reshape(-1))
            out.append(torch.stack(steps, -1))
    return torch.stack(out).numpy()


def train_snntorch(net, data, steps: int, epochs: int, batch: int = 32, lr: float = 2e-3, seed: int = 0):
    from snntorch import functional as SF
    from snntorch import utils

    gen = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(encode(data.train_x, steps)).float()
    y_all = torch.from_numpy(data.train_y).long()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = SF.ce_rate_loss()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            utils.reset(net)
            spk = torch.stack([net(x_all[idx][..., t])[0] for t in range(steps)])
            loss = loss_fn(spk, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def padded(spikes: np.ndarray, latency: int) -> np.ndarray:
    return np.concatenate([spikes, np.zeros((*spikes.shape[:-1], latency), spikes.dtype)], -1)


def compare(ours: np.ndarray, theirs: np.ndarray, latency: int, labels: np.ndarray) -> dict:
    """sca_lava's output (run on the padded input) against the other framework's, latency-aligned."""
    n, steps = theirs.shape[0], theirs.shape[-1]
    a = ours.reshape(n, -1, ours.shape[-1])[..., latency:latency + steps]
    b = theirs.reshape(n, -1, steps)
    ca, cb = a.sum(-1).argmax(1), b.sum(-1).argmax(1)
    return {"digits": int(n), "spike_agreement": float((a == b).mean()),
            "identical_digits": float((a == b).reshape(n, -1).all(1).mean()),
            "class_agreement": float((ca == cb).mean()), "accuracy_sca_lava": float((ca == labels).mean()),
            "accuracy_snntorch": float((cb == labels).mean()), "output_spikes_sca_lava": int(a.sum()),
            "output_spikes_snntorch": int(b.sum())}


def deploy(small, net_path: Path, test_spikes: np.ndarray, labels: np.ndarray, lava_samples: int) -> dict:
    """Lava (spike for spike against SLAYER), the evaluator's accuracy and a Loihi 2 budget of a netx file."""
    from sca_lava.deploy.agreement import compare_with_slayer
    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.hardware.budget import budget_netx

    agreement, _ = compare_with_slayer(small, str(net_path), test_spikes[:lava_samples], labels[:lava_samples],
                                       record_all=True, progress=False)
    record = run_fixed_point(str(net_path), test_spikes, record_all=True, progress=False)
    b = budget_netx(str(net_path), "loihi2", record=record)
    counts = record.output.reshape(len(test_spikes), -1, test_spikes.shape[-1]).sum(-1)
    return {"lava_digits": lava_samples, "lava_spike_agreement_with_slayer": agreement.spike_agreement,
            "deployed_accuracy": float((counts.argmax(1) == labels).mean()), "cores": b["cores"],
            "dynamic_energy_uj": b["dynamic_energy_uj"], "latency_us": b["latency_us"]}


def snntorch_to_sca_lava(data, out: Path, steps: int, epochs: int, lava_samples: int, prune_epochs: int) -> dict:
    import nir
    from snntorch.export_nir import export_to_nir

    from sca_lava.models.graph import trace
    from sca_lava.models.nir import import_nir
    from sca_lava.models.nir.reference import run_float
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig
    from sca_lava.training.checkpoint import save_checkpoint

    t0 = time.perf_counter()
    net = train_snntorch(snntorch_net(), data, steps, epochs)
    graph = export_to_nir(net.eval(), torch.zeros(1, 1, 28, 28), ignore_dims=[0])
    nir.write(str(out / "snntorch.nir"), graph)
    test = encode(data.test_x, steps)
    imported = import_nir(out / "snntorch.nir", inputs=test)  # the conversion's error, on real digits
    save_checkpoint(out / "snntorch_imported.pt", imported.checkpoint)
    ours = imported.module.eval()
    latency = sum(g.kind != "flatten" for g in trace(ours, (1, 28, 28)).layers)
    with torch.no_grad():
        mine = ours(torch.from_numpy(padded(test, latency)).float()).numpy()
    theirs = run_sequential(net, test)
    float_nir = run_float(imported.layers, torch.from_numpy(padded(test, latency)).float()).numpy()
    row = {"trained_in_snntorch_s": round(time.perf_counter() - t0, 1), "conversion": imported.conversion,
           "fixed_vs_float_nir": imported.agreement,
           "float_nir_vs_snntorch": compare(float_nir, theirs, latency, data.test_y),
           "imported_vs_snntorch": compare(mine, theirs, latency, data.test_y)}
    small, rep = prune_and_shrink(ours, data, PruneConfig(budget="energy=0.5", profile="loihi2", ramp_epochs=1),
                                  TrainConfig(epochs=prune_epochs, batch_size=32, num_steps=steps, seed=0),
                                  out_dir=out / "snntorch_pruned", log=None)
    row["pruned"] = {"kept_channels": [g.out for g in trace(small, (1, 28, 28)).prunable],
                     "energy_fraction": rep["budget"]["cost_fraction"],
        **deploy(small, out / "snntorch_pruned" / "pruned.net", test, data.test_y, lava_samples)}
    return row


def sca_lava_to_snntorch(data, out: Path, steps: int, epochs: int, prune_epochs: int) -> dict:
    import nir
    from snntorch.import_nir import import_from_nir

    from sca_lava.deploy.fixed_point import run_fixed_point
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config
    from sca_lava.models.graph import trace
    from sca_lava.models.nir import export_nir
    from sca_lava.pruning import PruneConfig, prune_and_shrink
    from sca_lava.training import TrainConfig, Trainer

    cfg = small_config()
    cfg.num_steps = steps
    trainer = Trainer(build_network(cfg, seed=0), TrainConfig(epochs=epochs, batch_size=32, seed=0, num_steps=steps))
    trainer.fit(data, progress=False, log=None)
    small, _ = prune_and_shrink(trainer.model, data, PruneConfig(budget="energy=0.5", profile="loihi2",
                                                                 ramp_epochs=1),
                                TrainConfig(epochs=prune_epochs, batch_size=32, num_steps=steps, seed=0),
                                out_dir=out / "ours_pruned", log=None)
    graph = trace(small, (1, 28, 28))
    export_nir(graph, out / "ours_pruned.nir")
    theirs = import_from_nir(nir.read(str(out / "ours_pruned.nir")))
    test = encode(data.test_x, steps)
    latency = sum(g.kind != "flatten" for g in graph.layers)
    deployed = run_fixed_point(str(out / "ours_pruned" / "pruned.net"), padded(test, latency), progress=False)
    return {"kept_channels": [g.out for g in graph.prunable],
            "deployed_netx_vs_snntorch": compare(deployed.output, run_imported(theirs, test), latency, data.test_y)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=2000, help="training digits (of MNIST-5k's 4000)")
    ap.add_argument("--test", type=int, default=500, help="test digits compared (of 1000)")
    ap.add_argument("--epochs", type=int, default=3, help="dense training epochs on either side")
    ap.add_argument("--prune-epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=T_DEFAULT)
    ap.add_argument("--lava-samples", type=int, default=4)
    ap.add_argument("--out", default="runs/bench_nir")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import snntorch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_mnist5k(seed=0).subset(train=args.train, test=args.test)
    result = {"snntorch": snntorch.__version__, "nir": __import__("nir").version, "steps": args.steps,
              "train_digits": args.train, "test_digits": args.test,
              "snntorch_to_sca_lava": snntorch_to_sca_lava(data, out, args.steps, args.epochs, args.lava_samples,
                                                           args.prune_epochs),
              "sca_lava_to_snntorch": sca_lava_to_snntorch(data, out, args.steps, args.epochs, args.prune_epochs)}
    a, b = result["snntorch_to_sca_lava"], result["sca_lava_to_snntorch"]
    i, d = a["imported_vs_snntorch"], b["deployed_netx_vs_snntorch"]
    print(f"snnTorch {result['snntorch']}, NIR {result['nir']}, T={args.steps}, {args.test} test digits")
    print("| direction | spike agreement | identical digits | class agreement | accuracy here | accuracy snnTorch |")
    print("|---|---|---|---|---|---|")
    f = a["float_nir_vs_snntorch"]
    print(f"| snnTorch -> NIR, float semantics (sca_lava's reference) | {f['spike_agreement']:.4f} | "
          f"{f['identical_digits']:.3f} | {f['class_agreement']:.3f} | {f['accuracy_sca_lava']:.3f} | "
          f"{f['accuracy_snntorch']:.3f} |")
    print(f"| snnTorch -> NIR -> sca_lava (fixed point) | {i['spike_agreement']:.4f} | {i['identical_digits']:.3f} | "
          f"{i['class_agreement']:.3f} | {i['accuracy_sca_lava']:.3f} | {i['accuracy_snntorch']:.3f} |")
    print(f"| sca_lava pruned netx -> NIR -> snnTorch | {d['spike_agreement']:.4f} | {d['identical_digits']:.3f} | "
          f"{d['class_agreement']:.3f} | {d['accuracy_sca_lava']:.3f} | {d['accuracy_snntorch']:.3f} |")
    p = a["pruned"]
    print(f"imported snnTorch net pruned to {p['kept_channels']} channels ({p['energy_fraction']:.2f} of the dense "
          f"energy): Lava = SLAYER on {p['lava_digits']} digits: {p['lava_spike_agreement_with_slayer']:.2f}; "
          f"deployed accuracy {p['deployed_accuracy']:.3f}; Loihi 2: {p['cores']} cores, "
          f"{p['dynamic_energy_uj']:.3g} uJ per inference")
    if args.json:
        from sca_lava.atomic import write_json

        write_json(args.json, result)


if __name__ == "__main__":
    main()
