"""Atomic file writes and path checks.

A write goes to a temporary file in the target folder, is flushed to disk,
then renamed over the target, so a crash never leaves half a checkpoint or
export. The file gets the mode the umask allows (as ``open`` would), not
``mkstemp``'s 0600. Temporary files left by a killed writer (our own naming,
``.NAME.PID-XXXXXXXX.tmp``, of a process that no longer runs) are removed on
the next write of the same target.

The checks let a command refuse a bad input (a FIFO or device would block
the read forever) or output path (a folder where a file goes, /proc, an
unwritable folder) in one line before any expensive work.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from sca_lava.errors import ScaLavaError

#: file systems no output may go to
FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")
#: temporary files of the old naming (mkstemp, no pid) older than this are stale
LEGACY_STALE_SECONDS = 3600


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no portable read-only query; restore at once
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by writers that died."""
    ours = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)-[0-9a-f]{{8}}\.tmp$")
    legacy = re.compile(rf"^\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = ours.match(entry.name)
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if m:
                pid = int(m.group(1))
                if pid == os.getpid() or _pid_alive(pid):
                    continue
            elif not (legacy.match(entry.name) and now - entry.stat().st_mtime > LEGACY_STALE_SECONDS):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it to ``target`` only
    if the block finishes without an exception (after fsyncing the data; the
    folder is fsynced after the rename so the new name is durable too)."""
    target = Path(target)
    check_output_path(target, "file")
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target)
    tmp_path = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    os.close(fd)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # writers like h5py may recreate the file
        _fsync_path(tmp_path)
        os.replace(tmp_path, target)
        with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
            _fsync_path(target.parent, directory=True)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: str | os.PathLike, obj) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# --- path checks ---------------------------------------------------------------

def check_input_file(path: str | os.PathLike, what: str, max_bytes: int | None = None) -> Path:
    """``path`` is an existing, readable regular file (not a FIFO, device or
    folder, which would block or fail late), at most ``max_bytes`` long."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ScaLavaError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise ScaLavaError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ScaLavaError(f"{path}: is a folder, not a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise ScaLavaError(f"{path}: not a regular file (a FIFO, socket or device cannot be a {what})")
    if not os.access(path, os.R_OK):
        raise ScaLavaError(f"{path}: the {what} is not readable (permission denied)")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ScaLavaError(f"{path}: the {what} is too large ({st.st_size:,} bytes; at most {max_bytes:,})")
    return path


def check_output_path(path: str | os.PathLike, kind: str = "file") -> Path:
    """Refuse, before any work, an output ``path`` that cannot be written:
    ``kind`` "file" (an existing folder or non-regular file is in the way) or
    "dir" (an existing non-folder is in the way); /proc, /sys and /dev; a
    parent that is a file or is not writable."""
    path = Path(path)
    text = os.path.abspath(path)
    for root in FORBIDDEN_ROOTS:
        if text == root or text.startswith(root + "/"):
            raise ScaLavaError(f"{path}: outputs cannot go under {root}")
    _check_name_lengths(path, text, kind)
    try:
        return _check_output_path(path, text, kind)
    except OSError as exc:  # e.g. a loop of links
        raise ScaLavaError(f"{path}: cannot write here ({exc.strerror or type(exc).__name__})") from None


#: what :func:`atomic_path` adds to a file name for its temporary file: ``.NAME.PID-XXXXXXXX.tmp``
TEMP_NAME_EXTRA = len(".") + len(".4194304-") + 8 + len(".tmp")


def _check_name_lengths(path: Path, text: str, kind: str) -> None:
    """Every name in ``path`` fits the file system (255 bytes on Linux file
    systems), a file's name with room for its temporary name; the whole path too."""
    try:
        name_max, path_max = os.pathconf("/", "PC_NAME_MAX"), os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    if len(os.fsencode(text)) >= path_max:
        raise ScaLavaError(f"{str(path)[:60]}...: the path is {len(os.fsencode(text))} bytes long; the file system "
                           f"allows {path_max - 1}")
    parts = Path(text).parts
    for i, part in enumerate(parts):
        room = name_max - (TEMP_NAME_EXTRA if kind == "file" and i == len(parts) - 1 else 0)
        if len(os.fsencode(part)) > room:
            raise ScaLavaError(f"{part[:40]}...: this name is {len(os.fsencode(part))} bytes long; the file system "
                               f"allows {room} here" + (" (a file is written under a temporary name first)"
                                                          if room < name_max else ""))


def _check_output_path(path: Path, text: str, kind: str) -> Path:
    if path.exists() or path.is_symlink():
        if kind == "file" and path.is_dir():
            raise ScaLavaError(f"{path}: is an existing folder; give a file name")
        if kind == "file" and not path.is_file():
            raise ScaLavaError(f"{path}: exists and is not a regular file")
        if kind == "dir" and not path.is_dir():
            raise ScaLavaError(f"{path}: exists and is not a folder")
        if kind == "dir" and not os.access(path, os.W_OK | os.X_OK):
            raise ScaLavaError(f"{path}: the output folder is not writable")
    parent = Path(os.path.dirname(text))
    while not parent.exists():
        if parent.is_symlink():
            raise ScaLavaError(f"{path}: {parent} is a dangling link")
        parent = parent.parent
    if not parent.is_dir():
        raise ScaLavaError(f"{path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) and not (kind == "dir" and path.is_dir()):
        raise ScaLavaError(f"{path}: {parent} is not writable")
    return path
