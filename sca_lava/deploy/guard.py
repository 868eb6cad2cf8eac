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
#: seconds a signal may wait for the run to come up before it interrupts regardless
FORCE_AFTER = 20.0

_state = {"depth": 0, "parent": None, "hooked": False, "forking": False}


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
    _state["forking"] = False


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
    """What :func:`lava_guard` yields. ``checkpoint()`` marks a safe point
    between ``net.run`` calls (the run is up; a pending signal is raised
    there); ``stop(net)`` stops the network, bounded in time after a signal.

    Why raising is deferred: Python swallows an exception raised by a signal
    handler inside some callbacks (at-fork hooks while Lava forks, object
    finalizers), and a runtime interrupted while it starts cannot be stopped
    cleanly (its shared memory leaks). So the handler raises only outside a
    fork and once the run is up, or after :data:`FORCE_AFTER` seconds in any
    case; until the exception is seen unwinding, the signal is re-sent."""

    def __init__(self):
        self.signum: int | None = None
        self.first_at: float | None = None
        self.pending = False  # a signal came; its exception has not unwound yet
        self.running = False

    def caught(self, signum: int) -> None:
        import time

        first = self.signum is None
        self.signum, self.pending = signum, True
        if first:
            self.first_at = time.monotonic()
            threading.Thread(target=self._redeliver, daemon=True).start()

    def should_raise(self) -> bool:
        import time

        if _state["forking"]:
            return False
        return self.running or time.monotonic() - (self.first_at or 0) > FORCE_AFTER

    def _redeliver(self) -> None:
        import time

        for _ in range(240):
            time.sleep(0.5)
            if not self.pending:
                return
            with contextlib.suppress(Exception):
                signal.pthread_kill(threading.main_thread().ident, self.signum)

    def checkpoint(self) -> None:
        self.running = True
        if self.signum is not None:
            self.pending = False
            raise Interrupted(self.signum)

    def stop(self, net) -> None:
        if self.signum is None:
            with contextlib.suppress(Exception):
                net.stop()
            return
        self.pending = False  # the exception is unwinding through the runner
        # after a signal the runtime may be mid-message: try, but never wait for ever
        worker = threading.Thread(target=_quiet_stop, args=(net,), daemon=True)
        worker.start()
        worker.join(STOP_TIMEOUT)
        end_children()


def _quiet_stop(net) -> None:
    with contextlib.suppress(Exception):
        net.stop()


def _before_fork() -> None:
    _state["forking"] = True


def _after_fork_in_parent() -> None:
    _state["forking"] = False


@contextlib.contextmanager
def lava_guard():
    """Guard a Lava run (see module docstring). Nested guards share the outer one."""
    guard = LavaGuard()
    main = threading.current_thread() is threading.main_thread()
    if not _state["hooked"]:
        # registered last, so "before" runs first and "after" last around other hooks
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                            after_in_child=_child_after_fork)
        _state["hooked"] = True
    previous = {}
    if main and _state["depth"] == 0:
        def handler(signum, frame):
            guard.caught(signum)
            if guard.should_raise():
                raise Interrupted(signum)

        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    _state["depth"] += 1
    _state["parent"] = os.getpid()
    try:
        yield guard
        if guard.signum is not None:  # came too late to interrupt anything
            guard.pending = False
            raise Interrupted(guard.signum)
    except Interrupted as exc:
        guard.signum, guard.pending = exc.signum, False
        end_children()
        raise
    finally:
        _state["depth"] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)
