"""Atomic writes: the umask decides the mode (not mkstemp's 0600), the data
and the folder are flushed, a failed write leaves the old file, and temp
files of killed writers are cleaned on the next write; path checks refuse
bad outputs before any work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sca_lava.atomic import atomic_path, check_input_file, check_output_path, write_text
from sca_lava.errors import ScaLavaError


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode  # old code: always 0600


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_temp_files_of_killed_writers_are_cleaned(tmp_path):
    target = tmp_path / "model.pt"
    # a writer killed with SIGKILL in the middle of its write
    code = (f"from sca_lava.atomic import atomic_path\nimport os, signal\n"
            f"with atomic_path({str(target)!r}) as tmp:\n    tmp.write_bytes(b'x' * 1000)\n"
            f"    os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".model.pt.") and left[0].endswith(".tmp")
    alive = tmp_path / f".model.pt.{os.getpid()}-0badcafe.tmp"  # ours, in flight: kept
    alive.write_text("")
    write_text(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.pt", alive.name])


def test_output_paths_are_checked_before_work(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    for path, kind, message in [
        (tmp_path / "folder", "file", "existing folder"),
        (tmp_path / "file", "dir", "not a folder"),
        (tmp_path / "file" / "x.json", "file", "is a file, not a folder"),
        ("/proc/x.json", "file", "under /proc"),
        ("/sys/x", "dir", "under /sys"),
        ("/dev/null", "file", "under /dev"),
    ]:
        with pytest.raises(ScaLavaError, match=message):
            check_output_path(path, kind)
    assert check_output_path(tmp_path / "new" / "deeper" / "x.json") == tmp_path / "new" / "deeper" / "x.json"


def test_input_files_must_be_regular(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in [(fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                          (tmp_path, "is a folder"), (tmp_path / "none", "no such")]:
        with pytest.raises(ScaLavaError, match=message):
            check_input_file(path, "thing")
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ScaLavaError, match="too large"):
        check_input_file(tmp_path / "big", "thing", max_bytes=10)


def test_names_longer_than_the_file_system_allows_are_one_line_errors(tmp_path):
    """Issue 32: an output name over 255 bytes raised OSError(ENAMETOOLONG)
    from a stat; a file name that fits but whose temporary name
    (.NAME.PID-XXXXXXXX.tmp) does not failed only after the work."""
    with pytest.raises(ScaLavaError, match="300 bytes long; the file system allows 255"):
        check_output_path(tmp_path / ("d" * 300), "dir")
    with pytest.raises(ScaLavaError, match="allows 2.. here .a file is written under a temporary name first"):
        check_output_path(tmp_path / ("f" * 250), "file")
    longest = tmp_path / ("f" * 200)
    write_text(longest, "fits")  # the temporary name fits too
    assert longest.read_text() == "fits"
    with pytest.raises(ScaLavaError, match="the path is .* bytes long"):
        check_output_path(tmp_path / "/".join(["p" * 200] * 25), "file")
