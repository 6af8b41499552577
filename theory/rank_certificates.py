"""Certificates of the rank of the derivative matrix, and :class:`IndependenceResult`, the
outcome every route of :func:`theory.independence.sufficient_independence` returns.

* :func:`modular_certificate`: full column rank modulo a prime at a seeded random point, from
  the coefficients and the monomials' derivatives (polynomial outputs; a lower bound of the
  rank over Q);
* :func:`exp_linear_certificate`: the same for f = P(z) + sum_k d_k exp(a_k . z_k), with the
  exponentials as independent indeterminates;
* :func:`numeric_full_rank`: full rank at a rational point certified by high-precision
  evaluation with a margin (functions outside the exp-rational class);
* :func:`kernel_certificate`: a deficiency certified by explicit polynomial kernel vectors
  (Cramer's rule on a block non-singular at the point, verified by exact polynomial
  arithmetic), see the module docstring of :mod:`theory.independence`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias, TypedDict

import mpmath
import numpy as np
import sympy
from sympy.polys.matrices import DomainMatrix

import theory.modular as modular
from theory.derivative_matrix import (
    POINTS,
    SEED,
    ExactMatrix,
    derivative_label,
    derivative_multi_indices,
    random_points,
)
from theory.slots import Slots, exponent_vectors

__all__ = ["DIGITS", "DenseOutputs", "IndependenceProgress", "IndependenceResult", "KernelVector",
           "Outputs", "exp_linear_certificate", "kernel_certificate", "kernel_result",
           "modular_certificate", "modular_full_rank", "numeric_full_rank"]

#: Decimal digits of the high-precision evaluation of :func:`numeric_full_rank`.
DIGITS = 50


@dataclass(frozen=True)
class IndependenceResult:
    """Outcome of :func:`sufficient_independence`.

    ``holds``: True (certified), False (certified failure) or None (undecided); ``rank`` of the
    derivative matrix (the best rank seen when undecided) out of ``needed`` = number of columns;
    ``columns``: labels of the derivative columns; ``witness_point``: a latent point where full
    rank was verified exactly; ``dependent_columns``: labels in the support of the nullspace
    when it fails; ``note``: how the answer was reached.
    """

    holds: bool | None
    order: int
    rank: int
    needed: int
    method: str
    columns: tuple[str, ...]
    witness_point: dict[sympy.Symbol, sympy.Rational] | None
    dependent_columns: tuple[str, ...] = ()
    note: str = field(default="")


class IndependenceProgress(TypedDict):
    """How far a decision of sufficient independence got: the ``stage`` running and the best
    ``rank`` seen so far (reported when a time budget runs out)."""

    stage: str
    rank: int


def numeric_full_rank(rows: list[list[sympy.Expr]], slots: Slots, needed: int
                       ) -> tuple[dict[sympy.Symbol, sympy.Rational] | None, int]:
    """A rational point where the matrix has full column rank, certified in high precision.

    Entries are evaluated with ``evalf(DIGITS)`` (accurate to about 10^-DIGITS relative) and
    the singular values computed with mpmath at the same precision; full rank is accepted only
    when sigma_min > 10^-(DIGITS / 2) * max(1, sigma_max), a margin far above both errors
    (Weyl's inequality). Points have positive coordinates (domains of log, sqrt).
    """
    rng = random.Random(SEED)
    best = 0
    for _ in range(POINTS):
        point = {s: sympy.Rational(rng.randint(1, 89), rng.randint(7, 61)) for s in slots.symbols}
        with mpmath.workdps(DIGITS):
            values = [[sympy.N(e.xreplace(point), DIGITS) for e in row] for row in rows]
            if any(not (v.is_real and v.is_finite) for row in values for v in row):
                continue
            a = mpmath.matrix([[mpmath.mpf(str(v)) for v in row] for row in values])
            sigma = mpmath.svd_r(a, compute_uv=False)
            top = max([abs(v) for v in sigma] + [mpmath.mpf(1)])
            rank = sum(1 for v in sigma if abs(v) > mpmath.mpf(10) ** (-DIGITS // 2) * top)
        best = max(best, rank)
        if rank == needed:
            return point, rank
    return None, best


@dataclass(frozen=True)
class DenseOutputs:
    """Outputs that all have the same monomials: ``coefficients[l][mu]`` is the exact rational
    coefficient of the monomial with exponent vector ``monomials[mu]`` in output l."""

    coefficients: Sequence[Sequence[modular.ExactRational]]
    monomials: list[tuple[int, ...]]


Outputs: TypeAlias = "Sequence[sympy.Poly | modular.Terms | None] | DenseOutputs"
"""Polynomial outputs for the modular certificates: each a ``sympy.Poly`` in the latents, its
(exponent vector, rational) terms, or None when it is not a polynomial; or
:class:`DenseOutputs`."""


def modular_full_rank(polys: Outputs, gens: tuple[sympy.Symbol, ...],
                       indices: list[tuple[sympy.Symbol, ...]]
                       ) -> dict[sympy.Symbol, sympy.Rational] | None:
    """A random point where [D_alpha f_l] has full column rank modulo a prime, else None.

    ``polys``: the outputs as ``sympy.Poly`` in ``gens`` (the latents, then any formal
    constants), as (exponent vector, rational) terms, or as :class:`DenseOutputs`; None for a
    non-polynomial output. Only for
    polynomial outputs: the rank is computed from the coefficient matrix and the
    derivatives of the monomials (:func:`theory.modular.derivative_matrix_rank`), without
    symbolic differentiation. Full rank modulo p implies full rank over Q; when the rank modulo
    p is short (or p divides a denominator) the caller decides exactly over Q instead.
    """
    latents = gens
    dense: DenseOutputs | None = None
    terms: list[modular.Terms] = []
    if isinstance(polys, DenseOutputs):
        if len(polys.coefficients) < len(indices):
            return None
        dense = polys
    else:
        if any(p is None for p in polys) or len(polys) < len(indices):
            return None
        terms = [p.terms() if isinstance(p, sympy.Poly) else p for p in polys if p is not None]
    exponents = exponent_vectors(latents, indices)
    for point in random_points(latents):
        values = [point[s] for s in latents]
        if dense is not None:
            matrix = modular.derivative_matrix_dense(dense.coefficients, dense.monomials,
                                                     exponents, values)
            rank = None if matrix is None else modular.rank_mod(matrix)
        else:
            rank = modular.derivative_matrix_rank_terms(terms, exponents, values)
        if rank == len(indices):
            return point
    return None


@dataclass(frozen=True)
class KernelVector:
    """A verified polynomial relation sum_j c_j(z) D_{alpha_j} f(z) = 0 among the columns.

    ``coefficients``: column index -> c_j as a sympy expression (polynomial in the latents, and
    in the exponential indeterminates of the exp-rational form when f is transcendental);
    ``free_column``: the column whose coefficient is the determinant det A(z) of the Cramer
    block, non-zero at the point where it was found.
    """

    coefficients: dict[int, sympy.Expr]
    free_column: int


def kernel_certificate(exact: ExactMatrix, point: dict[sympy.Symbol, sympy.Rational],
                       reduced: DomainMatrix, pivots: tuple[int, ...]) -> list[KernelVector]:
    """Polynomial kernel vectors of M(z) built at ``point`` and verified exactly (module doc).

    ``reduced``, ``pivots``: the reduced row echelon form of M(point). For each free column j
    the vector c (c_j = det A, c_P = -adj(A) M_{R,j}, A = M_{R,P}, R rows where A(point) is
    invertible) is kept iff M(z) c(z) = 0 holds as a polynomial identity on every row. Returns
    the verified vectors (possibly fewer than the free columns when the point was unlucky).
    """
    at = reduced.to_Matrix()
    at_point = exact.at_point(point)
    if at_point is None:  # the point is outside the domain: nothing can be verified there
        return []
    m_point = at_point.to_Matrix()
    ring_rows, ring = exact.ring_rows()
    out = []
    for j in (c for c in range(exact.shape[1]) if c not in pivots):
        used = [p for r, p in enumerate(pivots) if at[r, j] != 0]
        if used:
            sub = m_point.extract(list(range(exact.shape[0])), used).T
            _, rows = DomainMatrix.from_Matrix(sub).to_field().rref()
            block = DomainMatrix([[ring_rows[r][p] for p in used] for r in rows],
                                 (len(used), len(used)), ring)
            rhs = DomainMatrix([[ring_rows[r][j]] for r in rows], (len(used), 1), ring)
            adj, det = block.adj_det()
            other = (adj * rhs).to_Matrix()
            coeffs = {j: det, **{p: -ring.from_sympy(other[i, 0]) for i, p in enumerate(used)}}
        else:  # an identically zero column at the point: the relation is c_j = 1
            coeffs = {j: ring.one}
        if all(sum((row[c] * v for c, v in coeffs.items()), ring.zero) == ring.zero
               for row in ring_rows):
            out.append(KernelVector({c: ring.to_sympy(v) for c, v in coeffs.items()}, j))
    return out


def kernel_result(exact: ExactMatrix, point: dict[sympy.Symbol, sympy.Rational],
                  dm: DomainMatrix, order: int, needed: int, labels: tuple[str, ...],
                  shortage: str) -> IndependenceResult | None:
    """holds = False from verified kernel vectors at the best point, or None if none verifies."""
    reduced, pivots = dm.rref()
    seen = len(pivots)
    vectors = kernel_certificate(exact, point, reduced, tuple(pivots))
    if not vectors:
        return None
    dependent = tuple(labels[c] for c in sorted({c for v in vectors for c in v.coefficients}))
    exact_rank = len(vectors) == needed - seen
    bound = (f"generic rank {seen}" if exact_rank
             else f"generic rank <= {needed - len(vectors)} (rank {seen} at a random point)")
    first = vectors[0]
    shown = " + ".join(f"({first.coefficients[c]})*{labels[c]}"
                       for c in sorted(first.coefficients))
    return IndependenceResult(
        False, order, seen if exact_rank else needed - len(vectors), needed,
        "kernel-certificate", labels, None, dependent,
        shortage + f"{bound} < {needed}, certified by {len(vectors)} polynomial kernel"
        f" vector(s) checked by exact polynomial arithmetic, e.g. {shown[:300]} = 0")


def modular_certificate(outputs: Outputs, slots: Slots, order: int
                        ) -> IndependenceResult | None:
    """The fast first step of :func:`sufficient_independence` for polynomial outputs, given as
    ``sympy.Poly`` in the latents, as lists of (exponent vector, rational coefficient), or as
    :class:`DenseOutputs` (every output has the same exponent vectors: the fast dense route):
    the certified full rank modulo the prime at a seeded random point (the same points and the
    same result as :func:`sufficient_independence` for the same f), or None when it does not
    certify (the caller then decides with :func:`sufficient_independence`). Order n >= 1."""
    indices = derivative_multi_indices(slots, order)
    labels = tuple(derivative_label(v) for v in indices)
    certified = modular_full_rank(outputs, slots.symbols, indices)
    if certified is None:
        return None
    needed = len(indices)
    return IndependenceResult(True, order, needed, needed, "random-rational-points", labels,
                              certified, (), "full column rank at a random point, certified"
                              f" exactly modulo the prime {modular.PRIME} (a lower bound of"
                              " the rank over Q)")


def exp_linear_certificate(poly_terms: Sequence[modular.Terms],
                           exp_terms: Sequence[Sequence[tuple[int, sympy.Rational]]],
                           forms: Sequence[Sequence[sympy.Rational]], slots: Slots, order: int
                           ) -> IndependenceResult | None:
    """Full rank for f_l = P_l(z) + sum_k d_lk exp(a_k . z_{B_k}), certified modulo the prime.

    ``poly_terms``: the polynomial parts as (exponent vector, rational) terms; ``exp_terms``:
    per output the pairs (slot k, d_lk); ``forms``: a_k, the rational coefficients of slot k's
    linear form (one per latent of the slot). With Y_k = exp(a_k . z_{B_k}),
    D_alpha (d Y_k) = d a_k^alpha Y_k when alpha lies in slot k (else 0), so the derivative
    matrix at (z0, Y0) is that of the polynomial part plus these columns, computed exactly
    modulo the prime. Exponentials of linear forms in different slots are algebraically
    independent over C(z), so full rank at a point of (z, Y) certifies full generic rank of the
    true matrix (the argument of the exp-rational route). None when it does not certify."""
    indices = derivative_multi_indices(slots, order)
    labels = tuple(derivative_label(v) for v in indices)
    needed = len(indices)
    if len(poly_terms) < needed:
        return None
    latents = slots.symbols
    exponents = exponent_vectors(latents, indices)
    ys = tuple(sympy.Dummy(f"Y{k}") for k in range(slots.K))
    offsets = slots.offsets
    for point in random_points((*latents, *ys)):
        matrix = modular.derivative_matrix_terms(poly_terms, exponents,
                                                 [point[s] for s in latents])
        if matrix is None:
            continue
        column = np.zeros((slots.K, needed), dtype=np.int64)  # a_k^alpha Y0_k mod p
        usable = True
        for k in range(slots.K):
            y = modular.residue(point[ys[k]])
            a = modular.residues([sympy.Rational(c) for c in forms[k]])
            if y is None or a is None:
                usable = False
                break
            for j, e in enumerate(exponents):
                inside = all(x == 0 for i, x in enumerate(e)
                             if not offsets[k] <= i < offsets[k + 1])
                if inside:
                    value = y
                    for i in range(offsets[k], offsets[k + 1]):
                        value = value * pow(a[i - offsets[k]], e[i], modular.PRIME) % (
                            modular.PRIME)
                    column[k, j] = value
        if not usable:
            continue
        d_mat = np.zeros((len(poly_terms), slots.K), dtype=np.int64)
        for l, parts in enumerate(exp_terms):
            for k, d in parts:
                r = modular.residue(sympy.Rational(d))
                if r is None:
                    usable = False
                d_mat[l, k] = (d_mat[l, k] + (r or 0)) % modular.PRIME
        if not usable:
            continue
        total = (matrix + modular.matmul_mod(d_mat, column)) % modular.PRIME
        if modular.rank_mod(total) == needed:
            return IndependenceResult(True, order, needed, needed, "random-rational-points",
                                      labels, None, (), "full column rank at a random point"
                                      " of (z, Y) with Y_k = exp(a_k . z_k) as independent"
                                      " indeterminates, certified modulo the prime"
                                      f" {modular.PRIME}")
    return None
