"""Data parallelism on torch.distributed (gloo, CPU): two real processes
launched by torchrun train the small net with SCA on real MNIST-5k digits.
Every structure update must give identical masks on both ranks, and the same
ranking inputs (activity within 1e-6, spike counts of the synops budget's cost
model exactly) and masks as one process over the same global batches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sca_lava.errors import ScaLavaError
from sca_lava.training.distributed import DistContext, check_world_size, global_batches, shard

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun_env() -> dict:
    """One thread per worker, this checkout first on the path, and faulthandler
    on, so a hung worker sent SIGABRT prints every thread's Python stack."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1",
            "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    """(stdout, stderr) of a torchrun (a run here takes 15-60 s); on a hang,
    SIGABRT to the workers still alive (faulthandler prints where they hang),
    SIGTERM to torchrun and SIGKILL for any worker left, so a hung run fails
    with the stacks and without orphans (subprocess.run's timeout SIGKILLs
    torchrun alone and its workers live on)."""
    import signal
    import time

    import psutil

    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        workers = psutil.Process(proc.pid).children(recursive=True)
        for w in workers:
            try:
                w.send_signal(signal.SIGABRT)
            except psutil.NoSuchProcess:
                pass
        time.sleep(5)
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for w in workers:  # they hold the pipes open: reading to the end needs them gone
            try:
                w.kill()
            except psutil.NoSuchProcess:
                pass
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{(out or '')[-2000:]}{(err or '')[-8000:]}")


def test_global_batches_are_the_single_process_order_split_over_ranks():
    for world in (1, 2, 3):
        batches = global_batches(50, 16, seed=3, epoch=2, world_size=world)
        assert [len(b) for b in batches[:-1]] == [16, 16, 16]
        single = np.concatenate(global_batches(50, 16, seed=3, epoch=2))
        assert np.array_equal(np.concatenate(batches)[:50], single)  # same order whatever the world
        for b in batches:
            parts = [shard(b, r, world) for r in range(world)]
            assert all(len(p) for p in parts)  # nobody gets an empty shard
            assert sorted(np.concatenate(parts).tolist()) == sorted(b.tolist())
    assert not np.array_equal(np.concatenate(global_batches(50, 16, 3, 2)),
                              np.concatenate(global_batches(50, 16, 3, 3)))  # a new order per epoch
    padded = global_batches(33, 16, seed=0, epoch=0, world_size=2)[-1]
    assert len(padded) == 2 and padded[1] == np.random.default_rng([0, 0]).permutation(33)[0]


def test_resume_refuses_another_world_size():
    check_world_size({"world_size": 2}, DistContext(rank=0, world_size=2))
    with pytest.raises(ScaLavaError, match="written by 2 process"):
        check_world_size({"world_size": 2}, DistContext())
    with pytest.raises(ScaLavaError, match="written by 1 process"):
        check_world_size({}, DistContext(rank=1, world_size=2))


def test_a_bad_world_size_is_a_one_line_error(monkeypatch):
    from sca_lava.training.distributed import init_distributed

    for bad, msg in (("two", "not a number of processes"), ("0", "must be >= 1")):
        monkeypatch.setenv("WORLD_SIZE", bad)
        with pytest.raises(ScaLavaError, match=msg):
            init_distributed("cpu")


def test_two_gloo_processes_rank_and_mask_like_one(tmp_path):
    sys.path.insert(0, str(HERE))
    try:
        import dist_worker
    finally:
        sys.path.remove(str(HERE))
    out = str(tmp_path / "rankRANK.pt")
    env = _torchrun_env()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           f"--master_port={_free_port()}", str(HERE / "dist_worker.py"), out]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    single = dist_worker.run(str(tmp_path / "single.pt"), world=False)  # meanwhile, one process
    log, _ = _finish(proc)
    assert proc.returncode == 0, log[-3000:]
    ranks = [torch.load(out.replace("RANK", str(r)), weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert len(single) >= 2 and all(len(r["updates"]) == len(single) for r in ranks)
    changed = False
    for k, ref in enumerate(single):
        a, b = ranks[0]["updates"][k], ranks[1]["updates"][k]
        for i in ref["masks"]:
            assert torch.equal(a["masks"][i], b["masks"][i]), f"update {k}: ranks disagree on block {i}"
            assert torch.equal(a["masks"][i], ref["masks"][i]), f"update {k}: block {i} differs from one process"
            changed |= not bool(ref["masks"][i].all())
            # every rank saw half of each global batch: the sync counted both halves
            assert a["batches"][i] == b["batches"][i] == 2 * ref["batches"][i]
            assert torch.allclose(a["scores"][i], ref["scores"][i], rtol=0, atol=1e-6)
            assert torch.equal(a["scores"][i], b["scores"][i]) and torch.equal(a["signal"][i], b["signal"][i])
            assert torch.allclose(a["signal"][i], ref["signal"][i], rtol=1e-6, atol=1e-9)
        assert ref["costs"], "the synops budget must use the cost taps"
        for i in ref["costs"]:  # spike counts of the whole epoch, summed exactly
            assert torch.equal(a["costs"][i], ref["costs"][i]) and torch.equal(b["costs"][i], ref["costs"][i])
    assert changed, "no channel was pruned: the test would not see a wrong ranking"
    assert ranks[0]["history"] == ranks[1]["history"]


def test_torchrun_cli_resumes_under_the_same_world_size_only(tmp_path, capsys):
    """`torchrun -m sca_lava train` on 2 gloo processes: stop after epoch 1, resume
    under 2 processes to the end; resuming in 1 process is a one-line error."""
    from sca_lava.cli import main
    from sca_lava.training import load_checkpoint

    out = tmp_path / "run"
    env = _torchrun_env()
    common = ["train", "--device", "cpu", "--out", str(out), "--no-progress"]
    first = ["--config", "tiny", "--epochs", "2", "--train-samples", "64", "--test-samples", "32",
             "--batch-size", "16", "--stop-after", "1"]
    for extra in (first, ["--resume"]):  # the resumed run takes its settings from the checkpoint
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               f"--master_port={_free_port()}", "-m", "sca_lava", *common, *extra]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = _finish(proc)
        assert proc.returncode == 0, stdout[-2000:] + stderr[-3000:]
        assert sum(line.startswith("epoch ") for line in stdout.splitlines()) == 1  # rank 0 alone logs
    state = load_checkpoint(out / "model.pt")
    assert state["world_size"] == 2 and state["epoch"] == 2 and len(state["history"]) == 2
    assert main([*common, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by 2 process(es)" in err[0]
