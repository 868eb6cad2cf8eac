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
