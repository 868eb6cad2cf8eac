"""Data-parallel training speed and the cost of SCA's synchronisation.

Prints, side by side, SCA training samples/s of the default network on real
MNIST-5k digits with 1 and 2 processes on CPU (gloo, one thread per
process) and, when CUDA is present, on 1 GPU and on every GPU
(NCCL); plus what the SCA synchronisation costs under data parallelism:
the per-step all-reduce of the regrowth gradients (one value per prunable
channel) and the one all-reduce of the activity sums before each structure
update, in ms and as a share of an epoch. Figures only, never asserted.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py [--samples 512] [--epochs 2]

Each configuration is a real ``torchrun --nproc_per_node=P`` launch of this
file in worker mode; the first epoch is a warm-up, the others are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args) -> None:
    import torch

    from sca_lava.data import load_mnist5k
    from sca_lava.models import build_network, default_config
    from sca_lava.pruning import PruneConfig, SCAPruner
    from sca_lava.training import TrainConfig, Trainer
    from sca_lava.training.distributed import init_distributed

    dist = init_distributed(args.device)
    if dist.device == "cpu":
        torch.set_num_threads(args.threads)
    data = load_mnist5k(seed=0).subset(train=args.samples, test=64)
    pruner = SCAPruner(PruneConfig(budget="params=0.5", seed=0))
    trainer = Trainer(build_network(default_config(), seed=0),
                      TrainConfig(epochs=args.epochs + 1, batch_size=args.batch_size, seed=0), [pruner], dist=dist)

    def sync_cuda():
        if dist.device.startswith("cuda"):
            torch.cuda.synchronize()

    trainer.train_epoch(data, progress=False)  # warm-up (lava-dl kernels, allocator, gloo/NCCL rings)
    trainer.epoch += 1
    dist.barrier()
    sync_cuda()
    start = time.perf_counter()
    for _ in range(args.epochs):
        trainer.train_epoch(data, progress=False)
        trainer.epoch += 1
    sync_cuda()
    epoch_s = (time.perf_counter() - start) / args.epochs
    steps = -(-args.samples // args.batch_size)

    def timed(fn, reps=50) -> float:
        dist.barrier()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        sync_cuda()
        return (time.perf_counter() - t) / reps * 1e3

    step_ms = update_ms = 0.0
    if dist.enabled:
        gates = list(pruner.gates.values())
        flat = torch.cat([g.pending for g in gates])
        step_ms = timed(lambda: dist.all_reduce_(flat))
        update_ms = timed(pruner.sync_accumulators)
    if dist.is_main:
        values = sum(g.grad_acc.numel() for g in pruner.gates.values())
        Path(args.result).write_text(json.dumps({
            "processes": dist.world_size, "device": dist.device, "epoch_s": epoch_s,
            "samples_per_s": args.samples / epoch_s, "steps_per_epoch": steps,
            "step_allreduce_ms": step_ms, "update_allreduce_ms": update_ms,
            "sync_per_update_ms": step_ms * steps + update_ms, "channels": values}))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # as sca_lava.cli.run: no process-group teardown after the last collective (docs/scaling.md)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(procs: int, device: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "r.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        if device == "cpu":
            env["OMP_NUM_THREADS"] = str(args.threads)
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--nnodes=1",
               f"--master_port={_free_port()}", __file__, "--worker", "--device", device,
               "--samples", str(args.samples), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--result", str(result)]
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{procs} x {device} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        out = json.loads(result.read_text())
        out["wall_s"] = time.perf_counter() - t
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=512, help="training samples per epoch (global)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    p.add_argument("--batch-size", type=int, default=32, help="global batch")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per CPU process (default 1: P processes use P cores; more threads "
                   "than free cores make OpenMP spin and the figures meaningless)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    import torch

    runs = [(1, "cpu"), (2, "cpu")]
    if torch.cuda.is_available():
        runs += [(1, "cuda")] + ([(torch.cuda.device_count(), "cuda")] if torch.cuda.device_count() > 1 else [])
    print(f"SCA training, default net (T=16), {args.samples} MNIST-5k samples/epoch, global batch "
          f"{args.batch_size}, {os.cpu_count()} CPU cores, {args.threads} thread(s) per CPU process, "
          f"load average {os.getloadavg()[0]:.1f}" + (f", {torch.cuda.get_device_name(0)}"
                                                             if torch.cuda.is_available() else ""))
    print(f"{'procs':>5} {'device':<7} {'samples/s':>10} {'epoch s':>8} {'step AR ms':>11} "
          f"{'update AR ms':>13} {'sync/update ms':>15} {'sync % epoch':>13} {'wall s':>7}")
    base = None
    for procs, device in runs:
        r = launch(procs, device, args)
        base = base or r["samples_per_s"]
        share = 100 * r["sync_per_update_ms"] / 1e3 / r["epoch_s"]
        print(f"{procs:>5} {device:<7} {r['samples_per_s']:>10.1f} {r['epoch_s']:>8.2f} "
              f"{r['step_allreduce_ms']:>11.3f} {r['update_allreduce_ms']:>13.3f} "
              f"{r['sync_per_update_ms']:>15.2f} {share:>12.2f}% {r['wall_s']:>7.0f}", flush=True)
    print("step AR: one all-reduce of the regrowth gradients (every step); update AR: the one all-reduce "
          "of all SCA accumulators before a structure update; sync/update = steps x step AR + update AR "
          "(one update per epoch)")


if __name__ == "__main__":
    main()
