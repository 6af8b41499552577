"""Derivative tensors D^m f of a sympy generator, aggregated for plotting.

For a generator f : R^{d_z} -> R^{d_x} and order m, the plotted tensor is

    T[i_1, ..., i_m] = mean_{z in points} sum_l |d^m f_l / dz_{i_1} ... dz_{i_m} (z)|,

shape (d_z,)^m, together with a boolean mask of the entries that are *identically* zero
symbolically (those are set to exactly 0.0 in ``values``), so a block-diagonal D^{n+1} f shows
exact zeros off its slot blocks. Derivatives are computed once per sorted multi-index (they are
symmetric) and reused across orders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy

from numerics.core.errors import DataError
from theory.slots import Slots


@dataclass(frozen=True)
class DerivativeTensor:
    """Aggregated |D^m f| of a generator.

    ``values``: (d_z,)*m (or (d_x, d_z) for ``jacobian``); ``exact_zero``: same shape, True where
    the symbolic derivative is identically zero; ``offsets``: slot boundaries (length K+1).
    """

    order: int
    values: np.ndarray
    exact_zero: np.ndarray
    offsets: tuple[int, ...]
    labels: tuple[str, ...]

    def unfolded(self) -> np.ndarray:
        """The tensor as a (d_z, d_z^(m-1)) matrix (mode-1 unfolding), for heatmaps."""
        d = len(self.labels)
        return self.values.reshape(d, -1) if self.order > 1 else self.values.reshape(1, -1)


def sample_points(slots: Slots, n_points: int, seed: int, low: float = -1.0,
                  high: float = 1.0) -> np.ndarray:
    """``n_points`` uniform points in [low, high]^{d_z}, seeded: (n_points, d_z)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(n_points, slots.dim))


def _evaluate(exprs: list[sympy.Expr], slots: Slots, points: np.ndarray) -> np.ndarray:
    """Evaluate expressions at points: returns (len(exprs), n_points) float64."""
    fn = sympy.lambdify(slots.symbols, exprs, modules="numpy")
    cols = [points[:, i] for i in range(slots.dim)]
    with np.errstate(all="ignore"):  # non-finite values are reported below
        raw = fn(*cols)
    out = np.stack([np.broadcast_to(np.asarray(v, dtype=float), points.shape[:1]) for v in raw])
    if not np.all(np.isfinite(out)):
        raise DataError("a derivative is not finite at the sampled points: choose another box")
    return out


def derivative_tensor(f: sympy.Matrix, slots: Slots, order: int, points: np.ndarray
                      ) -> DerivativeTensor:
    """Aggregated magnitude of the order-``order`` derivative tensor of ``f`` at ``points``.

    ``points``: (n_points, d_z). Returns values of shape (d_z,)*order.
    """
    if order < 1:
        raise DataError(f"derivative order must be >= 1, got {order}")
    f = slots.check_generator(f)
    z = slots.symbols
    d = slots.dim
    index_tuples = list(itertools.combinations_with_replacement(range(d), order))
    cache: dict[tuple[int, ...], list[sympy.Expr]] = {(): list(f)}
    for m in range(1, order + 1):
        for idx in itertools.combinations_with_replacement(range(d), m):
            parent = cache[idx[:-1]]
            cache[idx] = [sympy.diff(e, z[idx[-1]]) for e in parent]
    values = np.zeros((d,) * order)
    zero = np.ones((d,) * order, dtype=bool)
    nonzero = [(idx, e) for idx in index_tuples for e in cache[idx] if e != 0]
    sums: dict[tuple[int, ...], np.ndarray] = {}
    if nonzero:
        vals = _evaluate([e for _, e in nonzero], slots, points)
        for (idx, _), v in zip(nonzero, vals, strict=True):
            sums[idx] = sums.get(idx, 0.0) + np.abs(v)
    for idx, s in sums.items():
        mean = float(np.mean(s))
        for perm in set(itertools.permutations(idx)):
            values[perm] = mean
            zero[perm] = False
    return DerivativeTensor(order, values, zero, slots.offsets, tuple(str(s) for s in z))


def jacobian_magnitude(f: sympy.Matrix, slots: Slots, points: np.ndarray) -> DerivativeTensor:
    """mean_z |df_l/dz_i(z)| as a (d_x, d_z) matrix with its exact-zero mask."""
    f = slots.check_generator(f)
    entries = [(l, i, sympy.diff(f[l], s)) for l in range(f.rows)
               for i, s in enumerate(slots.symbols)]
    values = np.zeros((f.rows, slots.dim))
    zero = np.ones_like(values, dtype=bool)
    nonzero = [(l, i, e) for l, i, e in entries if e != 0]
    if nonzero:
        vals = _evaluate([e for *_, e in nonzero], slots, points)
        for (l, i, _), v in zip(nonzero, vals, strict=True):
            values[l, i] = float(np.mean(np.abs(v)))
            zero[l, i] = False
    return DerivativeTensor(1, values, zero, slots.offsets, tuple(str(s) for s in slots.symbols))


def cross_slot_mask(slots: Slots, order: int) -> np.ndarray:
    """Boolean (d_z,)*order mask of the entries whose indices come from >= 2 slots."""
    slot_of = np.asarray(slots.slot_of)
    grids = np.meshgrid(*([slot_of] * order), indexing="ij")
    first = grids[0]
    return np.any(np.stack([g != first for g in grids]), axis=0)
