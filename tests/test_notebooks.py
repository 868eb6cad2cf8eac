"""The walkthroughs in notebooks/ run top to bottom (executed with nbclient in
a scratch folder, the way a reader would run them) and are committed without
outputs, so their diffs stay reviewable."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def _ids(paths):
    return [p.stem for p in paths]


def test_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    for expected in ("01_train_prune_deploy.ipynb", "02_hardware_budget.ipynb", "03_bring_your_own_netx.ipynb",
                     "04_bring_your_own_lava_dl_network.ipynb"):
        assert expected in names, f"notebooks/{expected} is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_committed_without_outputs(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{path.name} cell {i} has saved outputs (clear them before committing)"
        assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    repo = NOTEBOOKS_DIR.parent
    before = _repo_files(repo)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # notebooks write only into tempfile folders
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{str(exc)[-4000:]}", pytrace=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert _repo_files(repo) == before, "the notebook left files in the repository"


def _repo_files(repo: Path) -> set[str]:
    """Files under notebooks/ (where a careless notebook would write; the repo
    root is not checked because other processes may write runs/ there)."""
    return {p.name for p in (repo / "notebooks").iterdir() if not p.name.startswith(".")}
