"""Signals and Lava's child processes.

Lava runs every process model (and its shared-memory and watchdog managers)
in a forked child. Left alone, SIGTERM or SIGHUP to the command kills only
the parent and leaves the children running for ever (parent pid 1), and a
terminal's Ctrl-C (SIGINT to the whole process group) also hits the
children, which then wedge the runtime. :func:`lava_guard` around a Lava
run makes both safe:

* every child forked inside it gets a parent-death signal (Linux
  ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes), so no child can
  outlive the command, even after ``kill -9``; children ignore SIGINT and
  SIGHUP (the parent handles them) and keep the default SIGTERM;
* SIGTERM, SIGHUP and SIGINT in the parent raise :class:`Interrupted`; the
  guard then stops the runtime (gracefully for a few seconds, then by
  ending the children) and the CLI prints one line and exits 128 + signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading

from sca_lava.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
PR_SET_PDEATHSIG = 1
#: seconds a graceful ``net.stop()`` may take after a signal before the children are ended
STOP_TIMEOUT = 5.0

_state = {"depth": 0, "parent": None, "hooked": False}


def _child_after_fork() -> None:
    """In a child forked inside a guard: die with the parent, leave SIGINT /
    SIGHUP to it, default SIGTERM (so ``Process.terminate`` works)."""
    if _state["depth"] <= 0:
        return
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != _state["parent"]:  # the parent died before prctl took effect
        os._exit(1)
    for sig in (signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(Exception):
            signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(Exception):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _state["depth"] = 0  # a grandchild's guard is its own business


def end_children(timeout: float = 2.0) -> list[int]:
    """Terminate, then kill, every multiprocessing child of this process."""
    children = multiprocessing.active_children()
    for p in children:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in children:
        with contextlib.suppress(Exception):
            p.join(timeout)
    for p in children:
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.kill()
                p.join(timeout)
    return [p.pid for p in children]


class LavaGuard:
    """What :func:`lava_guard` yields: ``stop(net)`` stops a Lava network
    (bounded in time after a signal) and ``signum`` is the signal caught."""

    def __init__(self):
        self.signum: int | None = None
        self.pending = False  # raised in the main thread but not yet seen unwinding

    def caught(self, signum: int) -> None:
        """Called by the handler. Python swallows exceptions raised inside some
        callbacks (at-fork hooks, finalizers), so until the guard sees the
        exception unwind, the signal is re-sent every half second."""
        first = self.signum is None
        self.signum, self.pending = signum, True
        if first:
            threading.Thread(target=self._redeliver, daemon=True).start()

    def _redeliver(self) -> None:
        import time

        for _ in range(120):
            time.sleep(0.5)
            if not self.pending:
                return
            with contextlib.suppress(Exception):
                signal.pthread_kill(threading.main_thread().ident, self.signum)

    def stop(self, net) -> None:
        if self.signum is not None:
            self.pending = False  # the exception is unwinding through run_lava
        if self.signum is None:
            with contextlib.suppress(Exception):
                net.stop()
            return
        # after a signal the runtime may be mid-message: try, but never wait for ever
        worker = threading.Thread(target=_quiet_stop, args=(net,), daemon=True)
        worker.start()
        worker.join(STOP_TIMEOUT)
        end_children()


def _quiet_stop(net) -> None:
    with contextlib.suppress(Exception):
        net.stop()


@contextlib.contextmanager
def lava_guard():
    """Guard a Lava run (see module docstring). Nested guards share the outer one."""
    guard = LavaGuard()
    main = threading.current_thread() is threading.main_thread()
    if not _state["hooked"]:
        os.register_at_fork(after_in_child=_child_after_fork)
        _state["hooked"] = True
    previous = {}
    if main and _state["depth"] == 0:
        def handler(signum, frame):
            guard.caught(signum)
            raise Interrupted(signum)

        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    _state["depth"] += 1
    _state["parent"] = os.getpid()
    try:
        yield guard
    except Interrupted as exc:
        guard.signum, guard.pending = exc.signum, False
        end_children()
        raise
    finally:
        _state["depth"] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)
