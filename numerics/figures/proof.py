"""Proof figures (the paper's Figure 1, computed): dense D^n f, block-diagonal D^{n+1} f.

At most n-th order interaction across slots means every (n+1)-th order partial mixing >= 2
slots vanishes: the aggregated tensor |D^{n+1} f| is block diagonal, while |D^n f| is dense. The
counterexample f~ keeps the block structure across slots but its within-slot block splits into
sub-blocks (it violates sufficient independence: the slot could be split further).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import matplotlib
import numpy as np
import sympy
from matplotlib.figure import Figure

from numerics.core.figure_style import SEQUENTIAL, mark_slots, new_figure
from numerics.figures.derivatives import (
    DerivativeTensor,
    cross_slot_mask,
    derivative_tensor,
    jacobian_magnitude,
)
from theory.slots import Slots


@dataclass(frozen=True)
class PlottedFigure:
    """A figure and the exact arrays it shows (for tests and re-use)."""

    figure: Figure
    arrays: dict[str, np.ndarray]


def plot_tensor(ax, tensor: DerivativeTensor, title: str) -> np.ndarray:
    """Heatmap of an aggregated derivative tensor (unfolded for order >= 3).

    Identically-zero entries are drawn white. Returns the plotted 2-D array.
    """
    if tensor.order == 1 and tensor.values.ndim == 2:
        data, zero = tensor.values, tensor.exact_zero
        d = tensor.values.shape[1]
        ax.set_xlabel("latent $z_i$")
        ax.set_ylabel("output $f_l$")
        axis, repeat = "x", 1
    else:
        d = len(tensor.labels)
        data = tensor.values.reshape(d, -1)
        zero = tensor.exact_zero.reshape(d, -1)
        ax.set_ylabel("$i_1$")
        ax.set_xlabel("$(i_2, \\ldots, i_m)$" if tensor.order > 2 else "$i_2$")
        axis, repeat = "both", d ** (tensor.order - 2) if tensor.order > 1 else 1
    masked = np.ma.array(data, mask=zero)
    cmap = matplotlib.colormaps[SEQUENTIAL].with_extremes(bad="white")
    im = ax.imshow(masked, cmap=cmap, interpolation="nearest", aspect="auto")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="mean $\\sum_l |\\partial f_l|$")
    mark_slots(ax, tensor.offsets, axis=axis, repeat=repeat)
    names = [f"${s}$" for s in _tex(tensor.labels)]
    if d <= 8 and data.shape[1] == d:
        ax.set_xticks(range(d), names, rotation=90)
    elif d <= 8 and tensor.order == 3:
        ax.set_xticks([i * d + (d - 1) / 2 for i in range(d)], names)
        ax.set_xlabel("$i_2$ (blocks), $i_3$ (within block)")
    if d <= 8 and data.shape[0] == d:
        ax.set_yticks(range(d), names)
    ax.set_title(title)
    return np.where(zero, 0.0, data)


def _tex(labels: tuple[str, ...]) -> list[str]:
    """Symbol names as TeX: ``z1_2`` -> ``z_{1,2}``, ``x1`` -> ``x_{1}``, ``u`` -> ``u``."""
    out = []
    for s in labels:
        m = re.fullmatch(r"([A-Za-z]+)(\d*)(?:_(\d+))?", s)
        if m is None:
            out.append(s)
            continue
        head, k, i = m.groups()
        sub = ",".join(x for x in (k, i) if x)
        out.append(f"{head}_{{{sub}}}" if sub else head)
    return out


def _tensor(f: sympy.Matrix, slots: Slots, order: int, points: np.ndarray) -> DerivativeTensor:
    if order == 1:
        return jacobian_magnitude(f, slots, points)
    return derivative_tensor(f, slots, order, points)


def block_structure_figure(f: sympy.Matrix, slots: Slots, n: int, points: np.ndarray,
                           title: str = "") -> PlottedFigure:
    """Figure 1 panel pair for a generator of interaction order n: |D^n f| and |D^{n+1} f|.

    For n = 0 the single panel is the Jacobian (outputs x latents): each output row is non-zero
    in one slot only. ``points``: (n_points, d_z). Arrays: ``"D^n"`` (absent for n = 0),
    ``"D^{n+1}"`` (unfolded, exact zeros where identically zero) and ``"cross_mask"``.
    """
    panels = [n + 1] if n == 0 else [n, n + 1]
    fig, axes = new_figure(ncols=len(panels), width=3.8, height=3.3)
    arrays: dict[str, np.ndarray] = {}
    for ax, m in zip(axes, panels, strict=True):
        tensor = _tensor(f, slots, m, points)
        kind = "dense" if m == n else "block diagonal across slots"
        key = "D^n" if m == n else "D^{n+1}"
        arrays[key] = plot_tensor(ax, tensor, f"$|D^{{{m}}} f|$ ({kind})")
        if m == n + 1 and m >= 2:
            arrays["cross_mask"] = cross_slot_mask(slots, m).reshape(slots.dim, -1)
    if n == 0:
        jac = arrays["D^{n+1}"]
        owner = np.asarray(slots.slot_of)
        arrays["cross_mask"] = np.array(
            [[owner[i] != owner[int(np.argmax(row))] for i in range(slots.dim)] for row in jac]
        )
    fig.suptitle(title or f"interaction order n = {n}: slots {slots}")
    return PlottedFigure(fig, arrays)


def split_slot_figure(f: sympy.Matrix, f_split: sympy.Matrix, slots: Slots, n: int,
                      points: np.ndarray) -> PlottedFigure:
    """|D^{n+1} f| beside |D^{n+1} f~| for a counterexample whose within-slot block splits.

    Arrays ``"f"`` and ``"f_split"``: the unfolded tensors (exact zeros where identically zero).
    """
    fig, axes = new_figure(ncols=2, width=3.8, height=3.3)
    arrays = {
        "f": plot_tensor(axes[0], _tensor(f, slots, n + 1, points),
                         f"$|D^{{{n + 1}}} f|$: dense within slots"),
        "f_split": plot_tensor(axes[1], _tensor(f_split, slots, n + 1, points),
                               f"$|D^{{{n + 1}}} \\tilde f|$: a slot block splits"),
    }
    fig.suptitle("sufficient independence: within-slot interaction")
    return PlottedFigure(fig, arrays)
