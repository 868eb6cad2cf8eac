"""Figures without pyplot: a plain ``matplotlib.figure.Figure`` renders to PNG
with no global backend switch, so library plots neither need a display nor
disturb a notebook's inline figures."""

from __future__ import annotations

import os

from sca_lava.atomic import atomic_path


def new_figure(nrows: int = 1, ncols: int = 1, figsize=(6, 3.5), squeeze: bool = True):
    """(figure, axes) like ``plt.subplots``, detached from pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> str:
    """Write a PNG atomically."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return str(path)
