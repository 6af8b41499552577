"""One consistent look for every figure: sizes, colour maps, slot boundaries, saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from numerics.core.io import atomic_write

SEQUENTIAL = "magma_r"
DIVERGING = "RdBu_r"
SLOT_LINE = {"color": "#1f77b4", "linewidth": 1.6}

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
})


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 3.4, height: float = 3.0
               ) -> tuple[Figure, list]:
    """A figure with ``nrows x ncols`` axes (returned flat, row-major)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False, constrained_layout=True)
    return fig, [ax for row in axes for ax in row]


def mark_slots(ax, offsets: Sequence[int], axis: str = "both", repeat: int = 1) -> None:
    """Draw slot boundaries at the internal ``offsets`` (0 < o < d), ``repeat`` times tiled.

    ``repeat`` tiles the boundaries along x for unfolded tensors (d_z x d_z^(m-1)).
    """
    d = offsets[-1]
    inner = [o for o in offsets[1:-1]]
    if axis in ("both", "y"):
        for o in inner:
            ax.axhline(o - 0.5, **SLOT_LINE)
    if axis in ("both", "x"):
        for r in range(repeat):
            for o in inner:
                ax.axvline(r * d + o - 0.5, **SLOT_LINE)
            if r > 0:
                ax.axvline(r * d - 0.5, color="black", linewidth=0.8)


def save(fig: Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``name.png`` and ``name.pdf`` in ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{name}.{ext}"

        def write(handle: IO[Any], fmt: str = ext) -> None:
            fig.savefig(handle, format=fmt, bbox_inches="tight")

        atomic_write(path, write, "wb")
        paths.append(path)
    plt.close(fig)
    return paths
