"""Exact rank certificates modulo a word-size prime (numpy ``int64``, no floating point).

Reduction modulo a prime p is a ring map from the rationals whose denominators p does not
divide onto GF(p), so for such a rational matrix A, rank_p(A mod p) <= rank_Q(A): a non-zero
minor mod p comes from a non-zero minor over Q. A full rank modulo p therefore *certifies* full
rank over Q exactly; a smaller rank modulo p proves nothing (the caller falls back to exact
rational arithmetic).

``PRIME`` = 33554393, the largest prime below 2^25: residues are < 2^25, products < 2^50, and
sums of up to 2^13 products stay below 2^63, so every int64 operation below is exact (matrix
products are accumulated over blocks of ``_BLOCK`` = 2^12 terms and reduced between blocks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, SupportsInt, TypeGuard

import numpy as np
import sympy

from theory.errors import AnalysisError

PRIME = 33554393
_BLOCK = 4096

__all__ = [
    "PRIME",
    "ExactRational",
    "Terms",
    "derivative_matrix_dense",
    "derivative_matrix_rank",
    "derivative_matrix_rank_terms",
    "derivative_matrix_terms",
    "matmul_mod",
    "projected_rank",
    "rank_mod",
    "residue",
    "residues",
]


class ExactRational(Protocol):
    """An exact rational a/b read through ``numerator`` / ``denominator``: int,
    ``fractions.Fraction``, ``sympy.Rational``, sympy's ``QQ`` elements, flint ``fmpq``."""

    @property
    def numerator(self) -> SupportsInt: ...

    @property
    def denominator(self) -> SupportsInt: ...


Terms = Sequence[tuple[tuple[int, ...], ExactRational]]
"""A polynomial as its (exponent vector, exact rational coefficient) terms."""


def _is_rational(q: object) -> TypeGuard[ExactRational]:
    return (not isinstance(q, (bool, float)) and hasattr(q, "numerator")
            and hasattr(q, "denominator"))


def _check_rational(q: object) -> ExactRational:
    """``q`` itself if it is an exact rational (has numerator/denominator, not a bool or a
    float); :class:`AnalysisError` otherwise."""
    if not _is_rational(q):
        raise AnalysisError(
            f"the certified rank needs exact rational values, got {str(q)[:80]} "
            f"({type(q).__name__}); write irrational constants (pi, E, sqrt(2)) and floats "
            f"as rationals, e.g. 22/7 or 1/10")
    return q


def residue(q: object) -> int | None:
    """a/b -> a * b^-1 mod PRIME, or None when PRIME divides b.

    ``q``: an exact rational (:class:`ExactRational`); anything else raises
    :class:`AnalysisError`.
    """
    rational = _check_rational(q)
    den = int(rational.denominator) % PRIME
    if den == 0:
        return None
    return int(rational.numerator) * pow(den, -1, PRIME) % PRIME


def residues(values: Sequence[object]) -> list[int] | None:
    """:func:`residue` of every value (all are checked), None when PRIME divides a
    denominator."""
    each = [residue(v) for v in values]
    out = [r for r in each if r is not None]
    return out if len(out) == len(each) else None


def matmul_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a @ b) mod PRIME for int64 residue matrices ``a: (m, k)``, ``b: (k, n)``: ``(m, n)``."""
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    for start in range(0, a.shape[1], _BLOCK):
        out = (out + a[:, start:start + _BLOCK] @ b[start:start + _BLOCK]) % PRIME
    return out


def rank_mod(a: np.ndarray) -> int:
    """Rank over GF(PRIME) of an int64 matrix of residues ``(m, n)`` (Gaussian elimination)."""
    a = np.array(a, dtype=np.int64) % PRIME
    rank = 0
    rows = a.shape[0]
    for col in range(a.shape[1]):
        if rank == rows:
            break
        nonzero = np.flatnonzero(a[rank:, col])
        if nonzero.size == 0:
            continue
        pivot = rank + int(nonzero[0])
        if pivot != rank:
            a[[rank, pivot]] = a[[pivot, rank]]
        # rows below have zeros left of col (eliminated pivots, skipped zero columns), so only
        # columns col.. change
        a[rank, col:] = a[rank, col:] * pow(int(a[rank, col]), -1, PRIME) % PRIME
        below = a[rank + 1:, col].copy()
        hit = np.flatnonzero(below)
        if hit.size:
            idx = rank + 1 + hit
            a[idx, col:] = (a[idx, col:] - below[hit, None] * a[rank, col:]) % PRIME
        rank += 1
    return rank


def derivative_matrix_rank(polys: list[sympy.Poly], exponents: list[tuple[int, ...]],
                           point: list[sympy.Rational]) -> int | None:
    """Rank modulo PRIME of M[l, j] = (d^{alpha_j} f_l)(point) for polynomials f_l.

    ``polys``: the outputs f_l as ``sympy.Poly`` in the d latents (over QQ or ZZ);
    ``exponents``: the derivative multi-indices alpha_j as exponent vectors of length d;
    ``point``: rational coordinates. M = C E with C[l, mu] the coefficient of z^mu in f_l and
    E[mu, j] = d^{alpha_j} z^mu (point) = prod_i mu_i! / (mu_i - a_i)! z_i^(mu_i - a_i) (zero
    unless mu >= alpha_j), so no symbolic derivative is taken. None when PRIME divides a
    denominator of a coefficient or of the point.
    """
    return derivative_matrix_rank_terms([poly.terms() for poly in polys], exponents, point)


def derivative_matrix_rank_terms(terms: Sequence[Terms],
                                 exponents: list[tuple[int, ...]], point: list[sympy.Rational]
                                 ) -> int | None:
    """:func:`derivative_matrix_rank` with each output given as its (exponent vector, exact
    rational coefficient) terms instead of a ``Poly`` (no conversion into a polynomial
    domain); residues of repeated coefficients are computed once."""
    matrix = derivative_matrix_terms(terms, exponents, point)
    return None if matrix is None else rank_mod(matrix)


def derivative_matrix_terms(terms: Sequence[Terms],
                            exponents: list[tuple[int, ...]], point: list[sympy.Rational]
                            ) -> np.ndarray | None:
    """The residues M[l, j] = (d^{alpha_j} f_l)(point) mod PRIME, ``(d_x, columns)`` int64,
    for outputs given as (exponent vector, rational coefficient) terms (see
    :func:`derivative_matrix_rank`); None when PRIME divides a denominator."""
    values = residues(point)
    if values is None:
        return None
    monomials: dict[tuple[int, ...], int] = {}
    entries: list[tuple[int, int, int]] = []
    cache: dict[object, int | None] = {}
    for l, output in enumerate(terms):
        for mono, coeff in output:
            c = cache[coeff] if coeff in cache else cache.setdefault(coeff, residue(coeff))
            if c is None:
                return None
            if c:
                entries.append((l, monomials.setdefault(mono, len(monomials)), c))
    n_outputs = len(terms)
    if not monomials:
        return np.zeros((n_outputs, len(exponents)), dtype=np.int64)
    c_mat = np.zeros((n_outputs, len(monomials)), dtype=np.int64)
    for l, m, c in entries:
        c_mat[l, m] = c
    return _times_derivatives(c_mat, list(monomials), exponents, values)


def derivative_matrix_dense(coefficients: Sequence[Sequence[ExactRational]],
                            monomials: list[tuple[int, ...]],
                            exponents: list[tuple[int, ...]], point: list[sympy.Rational]
                            ) -> np.ndarray | None:
    """:func:`derivative_matrix_terms` when every output has the same ``monomials``:
    ``coefficients[l][mu]`` is the exact rational coefficient of monomial mu in output l."""
    values = residues(point)
    if values is None:
        return None
    cache: dict[object, int | None] = {}
    rows = []
    for row in coefficients:
        out = []
        for coeff in row:
            c = cache[coeff] if coeff in cache else cache.setdefault(coeff, residue(coeff))
            if c is None:
                return None
            out.append(c)
        rows.append(out)
    c_mat = np.array(rows, dtype=np.int64).reshape(len(coefficients), len(monomials))
    return _times_derivatives(c_mat, monomials, exponents, values)


def _times_derivatives(c_mat: np.ndarray, monomials: list[tuple[int, ...]],
                       exponents: list[tuple[int, ...]], values: list[int]) -> np.ndarray:
    """C E mod PRIME with E[mu, j] = d^{alpha_j} z^mu at the point of residues ``values``."""
    d = len(values)
    n_cols = len(exponents)
    mu = np.array(monomials, dtype=np.int64).reshape(len(monomials), d)
    alpha = np.array(exponents, dtype=np.int64).reshape(n_cols, d)
    top = int(mu.max(initial=0))
    powers = np.ones((d, top + 1), dtype=np.int64)
    falling = np.ones((top + 1, top + 1), dtype=np.int64)  # falling[m, a] = m! / (m - a)!
    for e in range(1, top + 1):
        powers[:, e] = powers[:, e - 1] * np.array(values, dtype=np.int64) % PRIME
        falling[e, 1:] = falling[e - 1, :-1] * e % PRIME
    falling = np.tril(falling)
    rest = mu[:, None, :] - alpha[None, :, :]  # (monomials, columns, d)
    valid: np.ndarray = np.all(rest >= 0, axis=2)  # (monomials, columns)
    safe = np.where(rest >= 0, rest, 0)
    e_mat = valid.astype(np.int64)
    for i in range(d):
        e_mat = e_mat * falling[mu[:, None, i], np.minimum(alpha[None, :, i], top)] % PRIME
        e_mat = e_mat * powers[i][safe[:, :, i]] % PRIME
    return matmul_mod(c_mat, e_mat)


def projected_rank(rows: Sequence[Mapping[int, ExactRational]], n_cols: int, seed: int = 0
                   ) -> int | None:
    """A lower bound of the rank over Q of a sparse rational system: rank_p(R A).

    ``rows``: the non-zero entries {column: exact rational} of each row of A (m x ``n_cols``);
    R: a seeded random (n_cols + 8) x m matrix over GF(PRIME). rank_p(R A) <= rank_p(A) <=
    rank_Q(A) always (so n_cols - the result bounds the solution dimension from above), with
    equality to rank_Q(A) for all but a fraction ~ n_cols / PRIME of the choices of R and PRIME.
    Cost: about (n_cols + 8) * nnz(A) integer operations, blocked so that int64 stays exact.
    None when PRIME divides a denominator.
    """
    import scipy.sparse

    inverse: dict[int, int] = {}
    r_idx, c_idx, vals = [], [], []
    for i, row in enumerate(rows):
        for j, q in row.items():
            rational = _check_rational(q)
            den = int(rational.denominator) % PRIME
            if den == 0:
                return None
            inv = inverse.get(den)
            if inv is None:
                inv = inverse[den] = pow(den, -1, PRIME)
            value = int(rational.numerator) * inv % PRIME
            if value:
                r_idx.append(i)
                c_idx.append(j)
                vals.append(value)
    if not vals:
        return 0
    a = scipy.sparse.csr_matrix((np.array(vals, dtype=np.int64), (r_idx, c_idx)),
                                shape=(len(rows), n_cols), dtype=np.int64)
    k = n_cols + 8
    r = np.random.default_rng(seed).integers(0, PRIME, size=(len(rows), k), dtype=np.int64)
    projected = np.zeros((n_cols, k), dtype=np.int64)
    for start in range(0, len(rows), _BLOCK):
        block = a[start:start + _BLOCK].T  # (n_cols, block) sparse
        projected = (projected + block @ r[start:start + _BLOCK]) % PRIME
    return rank_mod(projected.T)
