"""Start-up stays light: ``import sca_lava`` and building the CLI parser
(what ``sca-lava --help`` does) import neither torch nor Lava, and SLAYER's
start-up chatter stays muted when it is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "lava", "h5py", "scipy", "matplotlib", "nir")


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
    assert not {m for m in imported if m.split(".")[0] in ("torch", "lava", "nir")}


def test_slayer_import_is_quiet_and_lava_imports_after_the_start_method_was_fixed():
    """One fresh interpreter: SLAYER's import prints nothing; then, with the
    default multiprocessing context already fixed (what a tqdm lock does),
    Lava still imports through import_lava and runs with 'fork' (a bare
    import fails: "context has already been set")."""
    code = ("import multiprocessing as mp; mp.RLock(); "
            "from sca_lava._lava_dl import slayer; slayer(); print('--', flush=True); "
            "from sca_lava.deploy.lava_runner import import_lava; import_lava(); print(mp.get_start_method())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("--\n") and out.stdout.split()[-1] == "fork"
    assert "Prophesee" not in out.stderr


def test_a_bad_netx_file_fails_before_torch_and_lava_are_imported(tmp_path):
    """evaluate and simulate read the file first: a corrupt one is a one-line
    error in a fraction of a second, not after seconds of importing torch."""
    bad = tmp_path / "corrupt.net"
    bad.write_bytes(b"\x89HDF\r\n garbage")
    for command in ("evaluate", "simulate"):
        code = (f"from sca_lava.cli import main\nassert main([{command!r}, {str(bad)!r}]) == 2")
        assert [m for m in _loaded_after(code) if m in ("torch", "lava")] == [], command
