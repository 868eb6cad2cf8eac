"""A small harness for hostile-input tests: run the CLI in-process (fast) or
as a subprocess (real exit code), with a deadline so that a hang is a
finding, not a stuck suite, and classify the outcome.

``run_cli(argv)`` returns an :class:`Outcome`; ``outcome.clean`` is what
every hostile case must be: exit code 2, exactly one line on stderr (the
``sca-lava ...: error:`` line, after dropping third-party start-up chatter),
no ``Traceback``, no child process left behind. Used by
tests/test_hostile_inputs.py; netx-file cases can reuse it.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field

#: lines some dependencies print at import time (not ours, not errors)
NOISE = ("Prophesee", "prophesee", "CUDA", "cuda")


class Hang(BaseException):
    """The case ran past its deadline."""


@dataclass
class Outcome:
    name: str
    code: int | None
    stdout: str
    stderr: str
    children: list[int] = field(default_factory=list)
    hung: bool = False
    crashed: str | None = None  # an exception other than the CLI's own handling

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip() and not any(n in ln for n in NOISE)
                and not ln.startswith("warning: ")]

    @property
    def kind(self) -> str:
        """clean | traceback | hang | success | wrong-code | multi-line | orphans."""
        if self.hung:
            return "hang"
        if self.crashed or "Traceback" in self.stderr:
            return "traceback"
        if self.children:
            return "orphans"
        if self.code == 0:
            return "success"
        if self.code != 2:
            return "wrong-code"
        if len(self.error_lines) != 1 or "error:" not in self.error_lines[0]:
            return "multi-line"
        return "clean"

    @property
    def clean(self) -> bool:
        return self.kind == "clean"


def _children() -> list[int]:
    import multiprocessing

    kids = [p.pid for p in multiprocessing.active_children()]
    try:
        import psutil

        kids += [c.pid for c in psutil.Process().children(recursive=True)
                 if c.status() != psutil.STATUS_ZOMBIE]
    except ImportError:
        pass
    return sorted(set(kids))


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM)."""
    def fire(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list, name: str = "", timeout: float = 30.0) -> Outcome:
    """``sca_lava.cli.main(argv)`` in this process, stdout/stderr captured."""
    from sca_lava.cli import main

    before = set(_children())
    out, err = io.StringIO(), io.StringIO()
    code, hung, crashed = None, False, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with deadline(timeout):
                code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except Hang:
            hung = True
        except Exception:  # a bug: what the CLI would print as a traceback
            crashed = traceback.format_exc()
            err.write(crashed)
    left = [pid for pid in _children() if pid not in before]
    return Outcome(name or " ".join(map(str, argv))[:80], code, out.getvalue(), err.getvalue(), left, hung, crashed)


def run_cli_subprocess(argv: list, name: str = "", timeout: float = 120.0, cwd=None) -> Outcome:
    """The real command (``python -m sca_lava.cli``) with its exit code."""
    env = dict(os.environ)
    try:
        p = subprocess.run([sys.executable, "-m", "sca_lava.cli", *map(str, argv)], capture_output=True,
                           text=True, timeout=timeout, cwd=cwd, env=env)
        return Outcome(name or " ".join(map(str, argv))[:80], p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as exc:
        return Outcome(name, None, str(exc.stdout or ""), str(exc.stderr or ""), hung=True)


def tally(outcomes: list[Outcome]) -> Counter:
    return Counter(o.kind for o in outcomes)


def report(outcomes: list[Outcome], limit: int = 12) -> str:
    """Counts and the first non-clean cases, for an assertion message."""
    counts = tally(outcomes)
    lines = [f"{len(outcomes)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    for o in [o for o in outcomes if not o.clean][:limit]:
        last = (o.crashed or o.stderr).strip().splitlines()[-1:] or [""]
        lines.append(f"  [{o.kind}] {o.name}: code {o.code}: {last[0][:200]}")
    return "\n".join(lines)
