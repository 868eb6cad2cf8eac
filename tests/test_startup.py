"""Start-up stays light: ``import sca_lava`` and building the CLI parser
(what ``sca-lava --help`` does) import neither torch nor Lava, and SLAYER's
start-up chatter stays muted when it is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "lava", "h5py", "scipy", "matplotlib")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.split()


def test_import_package_is_light():
    assert _loaded_after("import sca_lava") == []


def test_cli_parser_is_light():
    assert _loaded_after("from sca_lava.cli import build_parser\nbuild_parser()") == []


def test_help_runs_without_heavy_imports():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "sca_lava.cli", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage: sca-lava" in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("torch", "lava")}


def test_slayer_import_is_quiet():
    out = subprocess.run([sys.executable, "-c", "from sca_lava._lava_dl import slayer; slayer()"],
                         capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout == "" and "Prophesee" not in out.stderr
