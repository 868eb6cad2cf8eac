"""Progress bars that suit where they are written. On a terminal: tqdm's
redrawn bar. In a log file or a pipe (stderr not a terminal), where every
redraw is a carriage return (98 of them in 7 KB of demo output): a plain
line at the start and then every :data:`LOG_EVERY` seconds, no ``\\r``. In a
notebook: tqdm's widget."""

from __future__ import annotations

import sys

#: seconds between two progress lines in a log
LOG_EVERY = 30.0


class _Lines:
    """A stream for tqdm that turns its redraws into whole lines (the blank
    redraw that clears a finished bar becomes nothing)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        for part in text.replace("\n", "\r").split("\r"):
            if part.strip():
                self.stream.write(part.rstrip() + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 enabled: bool = True, leave: bool = False):
    """A tqdm bar for ``iterable`` or ``total`` steps (``enabled`` False: none)."""
    from tqdm.auto import tqdm as auto
    from tqdm.autonotebook import tqdm as notebook
    from tqdm.std import tqdm as plain

    if not enabled:
        return plain(iterable, total=total, disable=True)
    stream = sys.stderr
    if notebook is not plain or (hasattr(stream, "isatty") and stream.isatty()):
        return auto(iterable, total=total, desc=desc, unit=unit, leave=leave)
    return plain(iterable, total=total, desc=desc, unit=unit, leave=leave, file=_Lines(stream), ascii=True,
                 mininterval=LOG_EVERY, maxinterval=LOG_EVERY, dynamic_ncols=False, ncols=80)
