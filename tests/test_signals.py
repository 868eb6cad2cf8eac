"""Signals during Lava runs: SIGTERM stops the runtime, the command exits
with one line and 128 + 15, and no Lava child outlives it; children forked
inside the guard die with a parent killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest


def _wait_for(predicate, seconds: float):
    """Poll until predicate() is true or the deadline passes (a safety net, not a timing assertion)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def _alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.lava
def test_sigterm_during_a_lava_run_stops_it_without_orphans(tmp_path):
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config

    path = tmp_path / "small.net"
    build_network(small_config()).export_hdf5(path)
    p = subprocess.Popen([sys.executable, "-m", "sca_lava.cli", "simulate", str(path), "--samples", "1000",
                          "--steps", "12"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        parent = psutil.Process(p.pid)
        kids = _wait_for(lambda: [c.pid for c in parent.children(recursive=True)]
                         if len(parent.children(recursive=True)) >= 4 else None, 240)
        assert kids, "Lava never started its processes"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    lines = [ln for ln in err.splitlines() if ln.strip() and "rophesee" not in ln and "Lava:" not in ln
             and ln.strip(" \r")]
    assert p.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "Traceback" not in err
    assert lines[-1] == "sca-lava simulate: interrupted by SIGTERM; Lava runtime stopped"
    assert _wait_for(lambda: not _alive(kids), 10) is not False
    assert _alive(kids) == []  # old code: 15-19 orphans, parent pid 1


def test_children_forked_in_the_guard_die_with_a_killed_parent(tmp_path):
    code = textwrap.dedent("""
        import multiprocessing as mp, sys, time
        from sca_lava.deploy.guard import lava_guard
        with lava_guard():
            child = mp.get_context("fork").Process(target=time.sleep, args=(600,))
            child.start()
            print(child.pid, flush=True)
            time.sleep(600)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(p.stdout.readline())
    assert _alive([child]) == [child]
    p.kill()  # SIGKILL: no handler can run; only the parent-death signal helps
    p.wait()
    try:
        assert _wait_for(lambda: not _alive([child]), 30)
    finally:
        if _alive([child]):
            os.kill(child, signal.SIGKILL)


# --------------------------------------------------------------------------- stalls and Lava's own errors

_RUN_BROKEN = textwrap.dedent("""
    import sys, h5py, numpy as np
    from sca_lava.models import build_network
    from sca_lava.models.config import small_config
    from sca_lava.netx import read_netx
    from sca_lava.deploy.lava_runner import run_lava
    path, how = sys.argv[1], sys.argv[2]
    build_network(small_config()).export_hdf5(path)
    spec = read_netx(path)  # validated; then the file changes under the run (what netx reads)
    with h5py.File(path, "a") as f:
        if how == "float-shape":  # Lava's runtime then waits for ever
            shape = f["layer/0/shape"][()]
            del f["layer/0/shape"]
            f["layer/0/shape"] = shape.astype(float)
        else:  # netx hands Lava the dataset object: the runtime fails while it starts
            f["layer/1/neuron"].create_dataset("messageBits", data=3)
    x = (np.random.default_rng(0).random((2, 1, 28, 28, 4)) < 0.3).astype(np.uint8)
    try:
        run_lava(path, x, spec=spec, progress=False)
    except BaseException as exc:
        import multiprocessing
        left = [p.pid for p in multiprocessing.active_children() if p.is_alive()]
        print(type(exc).__name__, "|", str(exc).splitlines()[0] if str(exc) else "", "| children", left, flush=True)
        raise SystemExit(3)
""")


def _run_broken(tmp_path, how: str, stall: float = 4) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCA_LAVA_STALL_SECONDS": str(stall)}
    try:
        return subprocess.run([sys.executable, "-c", _RUN_BROKEN, str(tmp_path / "net.net"), how], env=env,
                              capture_output=True, text=True, timeout=150)
    except subprocess.TimeoutExpired as exc:  # the old code: a hang
        pytest.fail(f"the Lava run hung ({how}): {str(exc.stderr)[-500:]}")


@pytest.mark.lava
def test_a_deadlocked_lava_run_is_stopped_by_the_watchdog(tmp_path):
    """Issue 32: a float input shape made Lava's runtime wait for ever (13
    idle processes after 180 s). The reader refuses such files now; this
    changes the file after it was read, so the deadlock still happens and the
    watchdog must end it: Stalled, no child left, the process exits."""
    p = _run_broken(tmp_path, "float-shape")
    assert p.returncode == 3, p.stderr[-2000:]
    kind, message, children = p.stdout.strip().splitlines()[-1].split(" | ")
    assert kind == "Stalled" and "made no progress for" in message and children == "children []"


@pytest.mark.lava
def test_an_error_while_lava_starts_leaves_no_child(tmp_path):
    """A Lava error while its runtime starts (here netx's messageBits) used to
    leave every child running, and the interpreter waited for them at exit
    for ever. Now the error propagates, the children are ended, the process exits."""
    p = _run_broken(tmp_path, "message-bits", stall=600)
    assert p.returncode == 3, p.stderr[-2000:]
    kind, _, children = p.stdout.strip().splitlines()[-1].split(" | ")
    assert kind != "Stalled" and children == "children []"


def _guarded_wait(work_seconds: float, limit: float):
    """Wait in a guard on a forked child that sends after ``work_seconds``
    of CPU work (0: never sends, sleeping): what the watchdog sees of a run."""
    import multiprocessing as mp

    from sca_lava.deploy.guard import lava_guard

    def child(conn, seconds):
        end = time.process_time() + seconds
        while seconds and time.process_time() < end:
            pass
        if seconds:
            conn.send("done")
        time.sleep(600)

    os.environ["SCA_LAVA_STALL_SECONDS"] = str(limit)
    try:
        ours, theirs = mp.get_context("fork").Pipe()
        with lava_guard():
            kid = mp.get_context("fork").Process(target=child, args=(theirs, work_seconds), daemon=True)
            kid.start()
            return ours.recv(), kid
    finally:
        del os.environ["SCA_LAVA_STALL_SECONDS"]


def test_the_watchdog_stops_an_idle_wait_and_spares_a_busy_one():
    from sca_lava.errors import Stalled

    start = time.monotonic()
    with pytest.raises(Stalled, match="made no progress for"):
        _guarded_wait(0, limit=2)
    assert time.monotonic() - start < 30
    import multiprocessing as mp

    assert [p for p in mp.active_children() if p.is_alive()] == []
    got, kid = _guarded_wait(4, limit=2)  # twice the limit of CPU work without a step: not a stall
    assert got == "done"
    kid.kill()


def test_a_stopped_command_is_not_a_stalled_run(tmp_path):
    """Ctrl-Z (SIGSTOP) for longer than the limit, then SIGCONT: the time the
    process did not run is no evidence of a deadlock."""
    code = textwrap.dedent("""
        import multiprocessing as mp, os, sys, time
        os.environ["SCA_LAVA_STALL_SECONDS"] = "3"
        from sca_lava.deploy.guard import lava_guard
        def child(conn):
            time.sleep(7)
            conn.send("done")
        ours, theirs = mp.get_context("fork").Pipe()
        with lava_guard():
            kid = mp.get_context("fork").Process(target=child, args=(theirs,), daemon=True)
            kid.start()
            print("waiting", flush=True)
            print(ours.recv(), flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        p.send_signal(signal.SIGSTOP)
        time.sleep(5)
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and out.strip() == "done", err[-2000:]
