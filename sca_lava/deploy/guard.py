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
  ending the children) and the CLI prints one line and exits 128 + signal;
* a watchdog thread stops a run that makes no progress: no step finished and
  the whole process tree idle (under :data:`BUSY_CPU_SECONDS` of CPU) for
  :func:`stall_seconds` - a deadlock, e.g. a child that died while the
  parent waits on its channel. It raises :class:`~sca_lava.errors.Stalled`
  in the main thread the way a signal does (one-line error, exit 2);
* any exception leaving a run (Lava's own, raised while the runtime starts)
  stops the runtime with a bounded wait and ends the children, so the
  interpreter never waits at exit for children that will never finish.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import sys
import threading
import time

from sca_lava.errors import Interrupted, ScaLavaError, Stalled

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
PR_SET_PDEATHSIG = 1
#: seconds a graceful ``net.stop()`` may take after a signal before the children are ended
STOP_TIMEOUT = 5.0
#: seconds a signal may wait for the run to come up before it interrupts regardless
FORCE_AFTER = 20.0
#: seconds without a finished step and with an idle process tree before a run counts as stalled
STALL_SECONDS = 60.0
#: CPU seconds the run's processes must use to count as working; a deadlocked runtime polls
#: for about 0.05 s a minute, the slowest real run (a crowded 2-core machine) uses seconds
BUSY_CPU_SECONDS = 0.5
#: how the watchdog wakes the main thread (pthread_kill: only that thread receives it)
STALL_SIGNAL = signal.SIGUSR1
WATCH_INTERVAL = 1.0

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
    """Terminate, then kill, every multiprocessing child of this process and
    wait for each. The base class's ``join`` is called: Lava's
    ``SystemProcess.join`` takes no timeout (a TypeError, so no wait at all)."""
    join = multiprocessing.Process.join
    children = multiprocessing.active_children()
    for p in children:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in children:
        with contextlib.suppress(Exception):
            join(p, timeout)
    for p in children:
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.kill()
                join(p, timeout)
    return [p.pid for p in children]


def stall_seconds() -> float:
    """The stall limit: ``SCA_LAVA_STALL_SECONDS`` or :data:`STALL_SECONDS`."""
    text = os.environ.get("SCA_LAVA_STALL_SECONDS", "").strip()
    if not text:
        return STALL_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ScaLavaError(f"SCA_LAVA_STALL_SECONDS must be a positive number of seconds, got {text!r}")
    return value


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and all its
    descendants, from Linux's /proc (Lava forks, so it runs on Linux only)."""
    parent, used = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:  # the process ended meanwhile
            continue
        fields = raw[raw.rfind(b")") + 2:].split()  # after the command name, which may hold spaces
        pid = int(entry.name)
        parent[pid], used[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / os.sysconf("SC_CLK_TCK")


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
        self.progress_at = time.monotonic()  # the last finished piece of the run
        self.stalled: float | None = None  # seconds without progress, once the watchdog fired

    def caught(self, signum: int) -> None:
        first = self.signum is None
        self.signum, self.pending = signum, True
        if first:
            self.first_at = time.monotonic()
            threading.Thread(target=self._redeliver, daemon=True).start()

    def should_raise(self) -> bool:
        if _state["forking"]:
            return False
        return self.running or self.stalled is not None or time.monotonic() - (self.first_at or 0) > FORCE_AFTER

    def exception(self) -> Interrupted:
        """What unwinds the run: :class:`Stalled` after the watchdog, else the signal's."""
        if self.signum == STALL_SIGNAL and self.stalled is not None:
            return Stalled(self.signum, self.stalled)
        return Interrupted(self.signum)

    def watch(self, done: threading.Event, limit: float) -> None:
        """The watchdog (a thread): wake the main thread once the run has neither
        finished a piece nor used :data:`BUSY_CPU_SECONDS` of CPU for ``limit`` s."""
        root = os.getpid()
        mark_at, mark_cpu = time.monotonic(), tree_cpu_seconds(root)
        polled = mark_at
        while not done.wait(WATCH_INTERVAL):
            now, cpu = time.monotonic(), tree_cpu_seconds(root)
            suspended = now - polled > 5 * WATCH_INTERVAL  # stopped (Ctrl-Z, SIGSTOP) or asleep: no verdict
            polled = now
            if suspended or cpu - mark_cpu >= BUSY_CPU_SECONDS or self.progress_at > mark_at:
                mark_at, mark_cpu = now, cpu
            elif now - mark_at >= limit and self.signum is None:
                self.stalled = now - mark_at
                self.caught(STALL_SIGNAL)
                with contextlib.suppress(Exception):
                    signal.pthread_kill(threading.main_thread().ident, STALL_SIGNAL)
                return

    def _redeliver(self) -> None:
        for _ in range(240):
            time.sleep(0.5)
            if not self.pending:
                return
            with contextlib.suppress(Exception):
                signal.pthread_kill(threading.main_thread().ident, self.signum)

    def checkpoint(self) -> None:
        self.running = True
        self.progress_at = time.monotonic()
        if self.signum is not None:
            self.pending = False
            raise self.exception()

    def stop(self, net) -> None:
        """Stop ``net`` (call it in a ``finally``): a plain ``net.stop()`` after a
        good run; after a signal, a stall or any exception in flight, a bounded
        try and then the children ended."""
        if self.signum is None and sys.exc_info()[0] is None:
            with contextlib.suppress(Exception):
                net.stop()
            return
        self.pending = False  # the exception is unwinding through the runner
        # the runtime may be mid-message or never started: try, but never wait for ever
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
    limit = stall_seconds()
    guard = LavaGuard()
    main = threading.current_thread() is threading.main_thread()
    if not _state["hooked"]:
        # registered last, so "before" runs first and "after" last around other hooks
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                            after_in_child=_child_after_fork)
        _state["hooked"] = True
    previous = {}
    done = threading.Event()
    if main and _state["depth"] == 0:
        def handler(signum, frame):
            if signum != STALL_SIGNAL:
                guard.caught(signum)
            elif guard.stalled is None:
                return  # not ours
            if guard.should_raise():
                raise guard.exception()

        for sig in (*SIGNALS, STALL_SIGNAL):
            previous[sig] = signal.signal(sig, handler)
        threading.Thread(target=guard.watch, args=(done, limit), daemon=True,
                         name="lava-watchdog").start()
    _state["depth"] += 1
    _state["parent"] = os.getpid()
    try:
        yield guard
        if guard.signum is not None:  # came too late to interrupt anything
            guard.pending = False
            raise guard.exception()
    except Interrupted as exc:
        guard.signum, guard.pending = exc.signum, False
        end_children()
        raise
    except BaseException:  # Lava's own error: no child may keep the interpreter waiting at exit
        end_children()
        raise
    finally:
        done.set()
        _state["depth"] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)
