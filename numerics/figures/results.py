"""Result figures: arrays in, figure out (the registry computes the arrays from library calls).

Each function returns a :class:`numerics.figures.proof.PlottedFigure` whose ``arrays`` hold
exactly what is drawn, so tests can check the picture against the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

from numerics.core.errors import DataError
from numerics.core.figure_style import DIVERGING, SEQUENTIAL, new_figure
from numerics.figures.proof import PlottedFigure


def _annotate(ax, data: np.ndarray, fmt: str = "{:.2f}") -> None:
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                color="black" if v > 0.5 else "white")


def r2_matrices_figure(matrices: Mapping[str, np.ndarray],
                       permutations: Mapping[str, Sequence[int]] | None = None
                       ) -> PlottedFigure:
    """Heatmaps of R² matrices (true slot x inferred slot), one panel per model.

    ``matrices[name]``: (K, K_hat) with entries in [0, 1]; matched cells (``permutations[name][k]``
    is the inferred slot matched to true slot k) are outlined.
    """
    if not matrices:
        raise DataError("no R² matrices to plot")
    fig, axes = new_figure(ncols=len(matrices), width=3.0, height=2.8)
    arrays = {}
    for ax, (name, r2) in zip(axes, matrices.items(), strict=True):
        r2 = np.asarray(r2, dtype=float)
        if r2.ndim != 2 or np.any(r2 < 0) or np.any(r2 > 1 + 1e-9):
            raise DataError(f"R² matrix {name!r} must be 2-D with entries in [0, 1]")
        ax.imshow(r2, vmin=0, vmax=1, cmap=SEQUENTIAL.removesuffix("_r"))
        _annotate(ax, r2)
        if permutations and name in permutations:
            for k, j in enumerate(permutations[name]):
                ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, k - 0.5), 1, 1, fill=False,
                                                          edgecolor="#2ca02c", linewidth=2))
        ax.set_xticks(range(r2.shape[1]), [f"$\\hat z_{{B_{j + 1}}}$" for j in range(r2.shape[1])])
        ax.set_yticks(range(r2.shape[0]), [f"$z_{{B_{k + 1}}}$" for k in range(r2.shape[0])])
        ax.set_xlabel("inferred slot")
        ax.set_ylabel("true slot")
        ax.set_title(name)
        arrays[name] = r2
    fig.suptitle("slot identifiability: $R^2$ of true slot from inferred slot")
    return PlottedFigure(fig, arrays)


def support_figure(train: np.ndarray, ood: np.ndarray, ood_error: np.ndarray,
                   labels: tuple[str, str] = ("$z_{B_1}$ (1st coord.)", "$z_{B_2}$ (1st coord.)"),
                   title: str = "") -> PlottedFigure:
    """Training support versus Cartesian-product extension, OOD points coloured by error.

    ``train``: (n, 2) training latents (two coordinates from two slots); ``ood``: (m, 2) points of
    Z_CPE outside the support; ``ood_error``: (m,) per-point reconstruction error.
    """
    train, ood, err = (np.asarray(a, dtype=float) for a in (train, ood, ood_error))
    if train.ndim != 2 or train.shape[1] != 2 or ood.ndim != 2 or ood.shape[1] != 2:
        raise DataError("train and ood must be (n, 2) arrays")
    if err.shape != (ood.shape[0],):
        raise DataError(f"ood_error must have shape ({ood.shape[0]},), got {err.shape}")
    fig, axes = new_figure(ncols=1, width=4.2, height=3.6)
    ax = axes[0]
    ax.scatter(train[:, 0], train[:, 1], s=3, color="0.7", label="training support")
    sc = ax.scatter(ood[:, 0], ood[:, 1], s=6, c=err, cmap=SEQUENTIAL,
                    norm=matplotlib.colors.LogNorm(vmin=max(err.min(), 1e-8), vmax=err.max()),
                    label="$Z_{CPE}$ \\ support")
    fig.colorbar(sc, ax=ax, label="OOD error per point (encode, then decode)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(loc="upper left", markerscale=3)
    ax.set_title(title or "training support and Cartesian-product extension")
    return PlottedFigure(fig, {"train": train, "ood": ood, "ood_error": err})


def recovery_grid_figure(sis: np.ndarray, generator_orders: Sequence[int],
                         model_orders: Sequence[str | int]) -> PlottedFigure:
    """SIS for each (generator order, model order) pair: matched and mismatched orders.

    ``sis``: (len(generator_orders), len(model_orders)).
    """
    sis = np.asarray(sis, dtype=float)
    if sis.shape != (len(generator_orders), len(model_orders)):
        raise DataError(f"sis has shape {sis.shape}, expected "
                        f"({len(generator_orders)}, {len(model_orders)})")
    fig, axes = new_figure(ncols=1, width=4.0, height=3.2)
    ax = axes[0]
    ax.imshow(sis, vmin=-0.2, vmax=1, cmap=DIVERGING.removesuffix("_r"))
    _annotate(ax, sis)
    ax.set_xticks(range(len(model_orders)), [str(m) for m in model_orders])
    ax.set_yticks(range(len(generator_orders)), [str(n) for n in generator_orders])
    ax.set_xlabel("model (decoder) interaction order")
    ax.set_ylabel("generator interaction order $n$")
    ax.set_title("recovery (SIS) vs interaction order")
    return PlottedFigure(fig, {"sis": sis})


def block_grid_figure(fraction: Sequence[Sequence[float]], text: Sequence[Sequence[str]],
                      generator_orders: Sequence[int], columns: Sequence[str], layout: str
                      ) -> PlottedFigure:
    """Fraction of runs identified per (generator order, decoder) cell of the block grid.

    ``fraction``: (len(generator_orders), len(columns)) in [0, 1] (NaN: no runs); ``text``:
    the annotation of each cell (counts and the theory's prediction).
    """
    data = np.asarray(fraction, dtype=float)
    if data.shape != (len(generator_orders), len(columns)):
        raise DataError(f"fraction has shape {data.shape}, expected "
                        f"({len(generator_orders)}, {len(columns)})")
    fig, axes = new_figure(ncols=1, width=1.3 * len(columns) + 1.6,
                           height=0.9 * len(generator_orders) + 1.2)
    ax = axes[0]
    ax.imshow(data, vmin=0, vmax=1, cmap="Greens")
    for i, row in enumerate(text):
        for j, label in enumerate(row):
            shade = data[i, j] if data[i, j] == data[i, j] else 0.0
            ax.text(j, i, label, ha="center", va="center", fontsize=7,
                    color="white" if shade > 0.6 else "black")
    ax.set_xticks(range(len(columns)), list(columns), rotation=20)
    ax.set_yticks(range(len(generator_orders)), [str(n) for n in generator_orders])
    ax.set_xlabel("decoder")
    ax.set_ylabel("generator interaction order $n$")
    ax.set_title(f"runs identified (reconstructs and h slot-wise), {layout} slots")
    return PlottedFigure(fig, {"fraction": data})


def conjecture_figure(orders: Sequence[int], slotwise_fraction: Sequence[float],
                      trials: Sequence[int], seconds: Sequence[float]) -> PlottedFigure:
    """Conjecture runner: fraction of trials whose ambiguity space is slot-wise, per order N."""
    frac = np.asarray(slotwise_fraction, dtype=float)
    if not (len(orders) == len(frac) == len(trials) == len(seconds)):
        raise DataError("orders, slotwise_fraction, trials and seconds must have equal length")
    fig, axes = new_figure(ncols=2, width=3.2, height=2.8)
    axes[0].bar([str(n) for n in orders], frac, color="#2ca02c")
    for i, (f, t) in enumerate(zip(frac, trials, strict=True)):
        axes[0].text(i, f + 0.02, f"{round(f * t)}/{t}", ha="center")
    axes[0].set_ylim(0, 1.15)
    axes[0].set_xlabel("interaction order $N$")
    axes[0].set_ylabel("trials with slot-wise ambiguities only")
    axes[1].bar([str(n) for n in orders], seconds, color="#1f77b4")
    axes[1].set_xlabel("interaction order $N$")
    axes[1].set_ylabel("seconds per trial")
    fig.suptitle("conjecture runner: generators of exact order $N$, affine fields")
    return PlottedFigure(fig, {"slotwise_fraction": frac, "seconds": np.asarray(seconds)})


def jacobian_maps_figure(image: np.ndarray, jacobian: np.ndarray) -> PlottedFigure:
    """Per-slot Jacobian maps of a decoder: the image, then J_{p,k} normalised over slots.

    ``image``: (H, W, 3) in [0, 1]; ``jacobian``: (K, H, W) non-negative.
    """
    jac = np.asarray(jacobian, dtype=float)
    if jac.ndim != 3 or np.any(jac < 0):
        raise DataError("jacobian must be a non-negative (K, H, W) array")
    total = jac.sum(0, keepdims=True)
    norm = np.divide(jac, total, out=np.zeros_like(jac), where=total > 0)
    fig, axes = new_figure(ncols=jac.shape[0] + 1, width=1.9, height=2.1)
    axes[0].imshow(np.clip(image, 0, 1))
    axes[0].set_title("image")
    for k, ax in enumerate(axes[1:]):
        ax.imshow(norm[k], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"slot {k + 1}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("decoder Jacobian per slot (normalised over slots)")
    return PlottedFigure(fig, {"normalized_jacobian": norm})


def independence_figure(matrix: np.ndarray, labels: Sequence[str], rank: int, needed: int,
                        title: str = "") -> PlottedFigure:
    """The sufficient-independence matrix (outputs x stacked derivative columns) and its rank.

    Each column is drawn scaled to max |entry| = 1 (column scaling leaves the rank unchanged);
    all-zero columns stay zero. Arrays: ``"matrix"`` (as given) and ``"scaled"`` (as drawn).
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[1] != len(labels):
        raise DataError("matrix must be (d_x, len(labels))")
    fig, axes = new_figure(ncols=1, width=max(3.5, 0.35 * len(labels)), height=3.4)
    ax = axes[0]
    col_max = np.abs(m).max(axis=0)
    scaled = np.divide(m, col_max, out=np.zeros_like(m), where=col_max > 0)
    im = ax.imshow(scaled, cmap=DIVERGING, vmin=-1, vmax=1, aspect="auto")
    fig.colorbar(im, ax=ax, shrink=0.8, label="entry / max |column|")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_ylabel("output $f_l$")
    verdict = "full column rank" if rank == needed else "rank deficient"
    ax.set_title(title or f"sufficient independence: rank {rank} / {needed} ({verdict})")
    return PlottedFigure(fig, {"matrix": m, "scaled": scaled})


def ambiguity_figure(names: Sequence[str], dimensions: Sequence[int],
                     slotwise_dimensions: Sequence[int]) -> PlottedFigure:
    """Dimension of the ambiguity space against its slot-wise part, per generator."""
    dims, slot = np.asarray(dimensions), np.asarray(slotwise_dimensions)
    if not (len(names) == len(dims) == len(slot)):
        raise DataError("names, dimensions and slotwise_dimensions must have equal length")
    fig, axes = new_figure(ncols=1, width=max(3.6, 1.1 * len(names)), height=3.0)
    ax = axes[0]
    x = np.arange(len(names))
    ax.bar(x - 0.2, dims, width=0.4, label="all solutions $v$", color="#d62728")
    ax.bar(x + 0.2, slot, width=0.4, label="slot-wise solutions", color="#2ca02c")
    ax.set_xticks(x, names, rotation=20)
    ax.set_ylabel("dimension")
    ax.legend()
    ax.set_title("ambiguities $v$ with $Df\\cdot v$ in the class")
    return PlottedFigure(fig, {"dimension": dims, "slotwise_dimension": slot})
