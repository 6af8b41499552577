"""Sufficient independence (interaction within slots, docs/theory.md section 3), decided exactly.

Order n >= 1. The columns are the derivative vectors D_alpha f in R^{d_x} for every multi-index
alpha of order 1..n (cross-slot ones included) and every *within-slot* multi-index of order
n + 1. f is sufficiently independent iff this d_x x m matrix has full column rank m (n = 1:
Lachapelle's sufficient nonlinearity; n >= 2: the general pattern of docs/theory.md section 3,
the package's reconstruction there). It needs d_x >= m.

Order 0 (Brady's irreducibility; docs/theory.md section 3 marks the form a reconstruction, this
is the version implemented). For each slot k let S_k be the outputs that depend on slot k and
J_k the |S_k| x |B_k| Jacobian block D_{B_k} f_{S_k}. Slot k passes iff (a) rank J_k = |B_k|
and (b) no partition S_k = S u S' (both non-empty) has rank J_S + rank J_S' = rank J_{S_k}.
Condition (b) says that the vector matroid of the rows of J_k is connected; it is decided
without visiting the 2^|S_k| partitions: with a basis of rows, the connected components of the
matroid are those of the union of the fundamental circuits (non-basis row plus the basis rows
in its representation), a standard fact of matroid theory.

How the rank is decided (``method``):

* ``"random-rational-points"``: the matrix is evaluated exactly at seeded random rational
  points. Generic rank >= rank at any point, so full rank (and, for n = 0, a connected row
  matroid together with full rank) at one point certifies the property on an open dense set
  for analytic f. For polynomial f the point is a real point (``witness_point``). For
  exp-rational f (exp, sin, cos, tanh, sigmoid, ...) the entries are first brought to the
  exact form of :func:`theory.order.exp_rational_forms`, where the exponentials are
  algebraically independent indeterminates; the point also fixes those indeterminates, so it
  is a point of that form, not of z, and ``witness_point`` is None.
* ``"symbolic"``: the points show a deficiency (not a proof) and the coefficient matrix of a
  polynomial M(z) (rows: output and monomial) has a rank equal to the rank seen, so the generic
  rank is certified without elimination over a function field.
* ``"kernel-certificate"``: a deficiency certified by explicit polynomial kernel vectors, with
  no rank over Q(z) (:func:`kernel_certificate`). At the best random point z0 the reduced
  echelon form of M(z0) gives, per free column j, the support S = {j} u P of a kernel vector
  (P: the pivots it uses); generically the kernel over Q(z) has the same pivot pattern, and
  Cramer's rule on a |P| x |P| block A(z) = M_{R,P}(z) that is non-singular at z0 gives the
  polynomial vector c_j = det A, c_P = -adj(A) M_{R,j}. M(z) c(z) = 0 is then checked by exact
  polynomial arithmetic on every row. A verified c with c_j(z0) = det A(z0) != 0 proves the
  columns dependent over Q(z), so no point has full column rank; k verified vectors (distinct
  free columns, so independent) bound the generic rank by m - k, which equals the rank seen at
  z0 when every free column is verified: the rank is then exact.
* ``"symbolic"`` is also the last resort when the kernel certificate does not verify (z0 was
  an unlucky point): the rank over the field of rational functions (sympy ``DomainMatrix``),
  for matrices up to :data:`MAX_SYMBOLIC_ENTRIES` entries.

Every path runs under a time budget (``timeout``, :data:`TIMEOUT` seconds by default, see
:mod:`theory.budget`); when it runs out the answer is ``holds = None`` with the stage and the
best rank seen in ``note``, never a hang. ``holds`` is also None when no certificate exists
(functions outside the exp-rational class whose points are rank-deficient, or a deficiency
neither certificate confirms).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import combinations_with_replacement

import mpmath
import numpy as np
import sympy
from sympy import QQ
from sympy.polys.matrices import DomainMatrix

import theory.modular as modular
from theory.budget import expired_here, time_budget
from theory.constants import formal_constants, is_transcendental
from theory.errors import AnalysisError, BudgetError
from theory.order import _Undecided, as_polynomial, exp_rational_forms, interaction_order
from theory.slots import Slots, exponent_vectors

__all__ = ["MAX_SYMBOLIC_ENTRIES", "TIMEOUT", "IndependenceResult", "KernelVector",
           "derivative_label", "exp_linear_certificate", "kernel_certificate",
           "modular_certificate",
           "sufficient_independence"]

MAX_SYMBOLIC_ENTRIES = 1500
#: Seconds :func:`sufficient_independence` may take by default before it answers undecided.
TIMEOUT = 60.0
_POINTS = 3
_SEED = 20250407
_DIGITS = 50


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


def derivative_label(variables: tuple[sympy.Symbol, ...]) -> str:
    """Label of D_alpha f, e.g. ``df/dz1_1``, ``d2f/dz1_1dz2_1``, ``d3f/dz1_1^2dz1_2``."""
    parts = []
    for s in dict.fromkeys(variables):
        count = variables.count(s)
        parts.append(f"d{s}" + (f"^{count}" if count > 1 else ""))
    k = len(variables)
    return f"d{k if k > 1 else ''}f/" + "".join(parts)


def derivative_multi_indices(slots: Slots, order: int) -> list[tuple[sympy.Symbol, ...]]:
    """All multi-indices of order 1..n plus the within-slot ones of order n + 1."""
    out = [v for k in range(1, order + 1)
           for v in combinations_with_replacement(slots.symbols, k)]
    for block in slots.blocks:
        out.extend(combinations_with_replacement(block, order + 1))
    return out


class _ExactMatrix:
    """A d_x x m matrix of derivatives in an exactly decidable form.

    Polynomial entries are kept as ``sympy.Poly`` over the latents (fast exact derivatives and
    evaluation); other entries are brought to the shared exp-rational form of
    :func:`theory.order.exp_rational_forms`. ``point_symbols`` are the symbols a random point
    must fix (the latents, plus the exponential indeterminates in the exp-rational case).
    """

    def __init__(self, rows: list[list[object]], polynomial: bool,
                 point_symbols: tuple[sympy.Symbol, ...]) -> None:
        self.rows = rows
        self.polynomial = polynomial
        self.point_symbols = point_symbols
        self.shape = (len(rows), len(rows[0]) if rows else 0)

    def expr(self, i: int, j: int) -> sympy.Expr:
        entry = self.rows[i][j]
        return entry.as_expr() if self.polynomial else entry

    def is_zero(self, i: int, j: int) -> bool:
        entry = self.rows[i][j]
        return entry.is_zero if self.polynomial else entry == 0

    def zero_columns(self) -> list[int]:
        return [j for j in range(self.shape[1])
                if all(self.is_zero(i, j) for i in range(self.shape[0]))]

    def restrict(self, rows: list[int], cols: list[int]) -> _ExactMatrix:
        return _ExactMatrix([[self.rows[i][j] for j in cols] for i in rows], self.polynomial,
                            self.point_symbols)

    def at_point(self, point: dict) -> DomainMatrix | None:
        """The matrix at a point over QQ or QQ_I; None if the point is outside the domain."""
        if self.polynomial:
            values = [point[s] for s in self.point_symbols]
            entries = [[e(*values) if not e.is_zero else sympy.Integer(0) for e in row]
                       for row in self.rows]
        else:
            entries = [[e.xreplace(point) for e in row] for row in self.rows]
        flat = [v for row in entries for v in row]
        if not all(v.is_Rational for v in flat):
            flat = [sympy.expand_complex(v) for v in flat]
            if any(not (v.is_number and v.is_finite) or v.has(sympy.zoo, sympy.nan)
                   or not all(part.is_Rational for part in v.as_real_imag()) for v in flat):
                return None
            return DomainMatrix.from_Matrix(sympy.Matrix(*self.shape, flat)).to_field()
        return DomainMatrix([[QQ(int(v.p), int(v.q)) for v in row] for row in entries],
                            self.shape, QQ)

    def constant_relations(self) -> DomainMatrix | None:
        """Coefficient matrix C of a polynomial matrix: M(z) = sum_mu z^mu C_mu stacked.

        Rows are (output, monomial) pairs, columns the derivative columns. A vector c with
        C c = 0 is a relation M(z) c = 0 for every z, so rank C >= generic rank M >= rank M(z0)
        at any point z0: when rank C equals a rank seen at a point, the generic rank is
        certified exactly, without symbolic elimination. None for non-polynomial matrices.
        """
        if not self.polynomial:
            return None
        index: dict[tuple[int, tuple[int, ...]], int] = {}
        data: dict[int, dict[int, object]] = {}
        for i, row in enumerate(self.rows):
            for j, entry in enumerate(row):
                for mono, coeff in entry.terms():
                    if coeff == 0:
                        continue
                    r = index.setdefault((i, mono), len(index))
                    data.setdefault(r, {})[j] = QQ.from_sympy(coeff)
        return DomainMatrix(data, (max(len(index), 1), self.shape[1]), QQ)

    def ring_rows(self) -> tuple[list[list[object]], object]:
        """The rows as elements of one polynomial ring K = Q[point_symbols] (Q(i) for complex
        exp-rational forms): polynomial entries as they are, exp-rational rows multiplied by
        the least common multiple of their denominators (a non-zero factor per row, which
        changes no linear relation among the columns)."""
        gens = self.point_symbols
        if self.polynomial:
            ring = QQ[gens]
            return [[ring.from_sympy(e.as_expr()) if not e.is_zero else ring.zero for e in row]
                    for row in self.rows], ring
        scaled, complex_entries = [], False
        for row in self.rows:
            parts = [sympy.fraction(e) for e in row]
            common = sympy.lcm_list([d for _, d in parts]) if parts else sympy.Integer(1)
            scaled.append([sympy.expand(n * sympy.cancel(common / d)) for n, d in parts])
            complex_entries = complex_entries or any(e.has(sympy.I) for e in scaled[-1])
        ring = (sympy.QQ_I if complex_entries else QQ)[gens]
        return [[ring.from_sympy(e) for e in row] for row in scaled], ring

    def symbolic(self) -> DomainMatrix | None:
        """The matrix over the field of rational functions, None above MAX_SYMBOLIC_ENTRIES."""
        if self.shape[0] * self.shape[1] > MAX_SYMBOLIC_ENTRIES:
            return None
        m = sympy.Matrix(*self.shape, [self.expr(i, j) for i in range(self.shape[0])
                                        for j in range(self.shape[1])])
        return DomainMatrix.from_Matrix(m).to_field()


def _derivative_rows(f: sympy.Matrix, slots: Slots, indices: list[tuple[sympy.Symbol, ...]],
                     polys: list[sympy.Poly | None] | None = None
                     ) -> tuple[list[list[object]], bool]:
    """[D_alpha f_l] (Poly entries when every output is a polynomial) and that flag; ``polys``:
    the outputs as polynomials when the caller already has them."""
    if polys is None:
        polys = [as_polynomial(e, slots.symbols) for e in f]
    polynomial = all(p is not None for p in polys)
    rows = []
    for e, p in zip(f, polys, strict=True):
        memo: dict[tuple[sympy.Symbol, ...], object] = {(): p if polynomial else e}

        def entry(v: tuple[sympy.Symbol, ...], memo=memo) -> object:
            if v not in memo:
                prev = entry(v[:-1])
                memo[v] = prev.diff(v[-1]) if polynomial else sympy.diff(prev, v[-1])
            return memo[v]

        rows.append([entry(v) for v in indices])
    return rows, polynomial


def _exact_derivatives(rows: list[list[object]], polynomial: bool, slots: Slots,
                       params: tuple[sympy.Symbol, ...] = ()) -> _ExactMatrix | None:
    """The derivative rows in exact form; None outside the decidable class. ``params``: the
    formal constants (:func:`theory.constants.formal_constants`), fixed by points too."""
    latents = slots.symbols
    if polynomial:
        return _ExactMatrix(rows, True, (*latents, *params))
    try:
        forms, ys, ws = exp_rational_forms([e for row in rows for e in row], latents)
    except _Undecided:
        return None
    width = len(rows[0])
    shaped = [forms[i * width:(i + 1) * width] for i in range(len(rows))]
    return _ExactMatrix(shaped, False, (*latents, *params, *sorted(ys | ws, key=str)))


def _numeric_full_rank(rows: list[list[sympy.Expr]], slots: Slots, needed: int
                       ) -> tuple[dict[sympy.Symbol, sympy.Rational] | None, int]:
    """A rational point where the matrix has full column rank, certified in high precision.

    Entries are evaluated with ``evalf(_DIGITS)`` (accurate to about 10^-_DIGITS relative) and
    the singular values computed with mpmath at the same precision; full rank is accepted only
    when sigma_min > 10^-(_DIGITS / 2) * max(1, sigma_max), a margin far above both errors
    (Weyl's inequality). Points have positive coordinates (domains of log, sqrt).
    """
    rng = random.Random(_SEED)
    best = 0
    for _ in range(_POINTS):
        point = {s: sympy.Rational(rng.randint(1, 89), rng.randint(7, 61)) for s in slots.symbols}
        with mpmath.workdps(_DIGITS):
            values = [[sympy.N(e.xreplace(point), _DIGITS) for e in row] for row in rows]
            if any(not (v.is_real and v.is_finite) for row in values for v in row):
                continue
            a = mpmath.matrix([[mpmath.mpf(str(v)) for v in row] for row in values])
            sigma = mpmath.svd_r(a, compute_uv=False)
            top = max([abs(v) for v in sigma] + [mpmath.mpf(1)])
            rank = sum(1 for v in sigma if abs(v) > mpmath.mpf(10) ** (-_DIGITS // 2) * top)
        best = max(best, rank)
        if rank == needed:
            return point, rank
    return None, best


def _random_points(symbols: tuple[sympy.Symbol, ...]) -> list[dict[sympy.Symbol, sympy.Rational]]:
    rng = random.Random(_SEED)
    return [{s: sympy.Rational(rng.choice((1, -1)) * rng.randint(1, 89), rng.randint(7, 61))
             for s in symbols} for _ in range(_POINTS)]


def _nullspace_support(dm: DomainMatrix) -> set[int]:
    ns = dm.nullspace().to_Matrix()
    return {j for i in range(ns.rows) for j in range(ns.cols) if ns[i, j] != 0}


def _latent_point(point: dict, slots: Slots) -> dict[sympy.Symbol, sympy.Rational]:
    return {s: point[s] for s in slots.symbols}


def _modular_full_rank(polys: list[sympy.Poly | None], gens: tuple[sympy.Symbol, ...],
                       indices: list[tuple[sympy.Symbol, ...]]
                       ) -> dict[sympy.Symbol, sympy.Rational] | None:
    """A random point where [D_alpha f_l] has full column rank modulo a prime, else None.

    ``polys``: the outputs as ``sympy.Poly`` in ``gens`` (the latents, then any formal
    constants; None for a non-polynomial output). Only for
    polynomial outputs: the rank is computed from the coefficient matrix and the
    derivatives of the monomials (:func:`theory.modular.derivative_matrix_rank`), without
    symbolic differentiation. Full rank modulo p implies full rank over Q; when the rank modulo
    p is short (or p divides a denominator) the caller decides exactly over Q instead.
    """
    latents = gens
    if any(p is None for p in polys) or len(polys) < len(indices):
        return None
    dense = isinstance(polys, _DenseOutputs)
    terms = None if dense else [p.terms() if isinstance(p, sympy.Poly) else p for p in polys]
    exponents = exponent_vectors(latents, indices)
    for point in _random_points(latents):
        values = [point[s] for s in latents]
        if dense:
            matrix = modular.derivative_matrix_dense(polys.coefficients, polys.monomials,
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


def kernel_certificate(exact: _ExactMatrix, point: dict, reduced: DomainMatrix,
                       pivots: tuple[int, ...]) -> list[KernelVector]:
    """Polynomial kernel vectors of M(z) built at ``point`` and verified exactly (module doc).

    ``reduced``, ``pivots``: the reduced row echelon form of M(point). For each free column j
    the vector c (c_j = det A, c_P = -adj(A) M_{R,j}, A = M_{R,P}, R rows where A(point) is
    invertible) is kept iff M(z) c(z) = 0 holds as a polynomial identity on every row. Returns
    the verified vectors (possibly fewer than the free columns when the point was unlucky).
    """
    at = reduced.to_Matrix()
    m_point = exact.at_point(point).to_Matrix()
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


def _kernel_result(exact: _ExactMatrix, point: dict, dm: DomainMatrix, order: int,
                   needed: int, labels: tuple[str, ...], shortage: str
                   ) -> IndependenceResult | None:
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


class _DenseOutputs(list):
    """Outputs that all have the same monomials (a list of coefficient rows, one per output,
    with the shared exponent vectors in ``monomials``)."""

    def __init__(self, coefficients: list[list[object]], monomials: list[tuple[int, ...]]
                 ) -> None:
        super().__init__(coefficients)
        self.coefficients = coefficients
        self.monomials = monomials


def modular_certificate(outputs: list[sympy.Poly] | list[list[tuple[tuple[int, ...], object]]],
                        slots: Slots, order: int,
                        monomials: list[tuple[int, ...]] | None = None
                        ) -> IndependenceResult | None:
    """The fast first step of :func:`sufficient_independence` for polynomial outputs, given as
    ``sympy.Poly`` in the latents or as lists of (exponent vector, rational coefficient): the
    certified full rank modulo the prime at a seeded random point (the same points and the
    same result as :func:`sufficient_independence` for the same f), or None when it does not
    certify (the caller then decides with :func:`sufficient_independence`). Order n >= 1.
    ``monomials``: when given, every output has these exponent vectors and ``outputs`` are the
    coefficient rows in that order (the fast dense route)."""
    indices = derivative_multi_indices(slots, order)
    labels = tuple(derivative_label(v) for v in indices)
    if monomials is not None:
        outputs = _DenseOutputs(outputs, monomials)
    certified = _modular_full_rank(outputs, slots.symbols, indices)
    if certified is None:
        return None
    needed = len(indices)
    return IndependenceResult(True, order, needed, needed, "random-rational-points", labels,
                              certified, (), "full column rank at a random point, certified"
                              f" exactly modulo the prime {modular.PRIME} (a lower bound of"
                              " the rank over Q)")


def exp_linear_certificate(poly_terms: list[list[tuple[tuple[int, ...], object]]],
                           exp_terms: list[list[tuple[int, object]]],
                           forms: list[list[object]], slots: Slots, order: int
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
    for point in _random_points((*latents, *ys)):
        matrix = modular.derivative_matrix_terms(poly_terms, exponents,
                                                 [point[s] for s in latents])
        if matrix is None:
            continue
        column = np.zeros((slots.K, needed), dtype=np.int64)  # a_k^alpha Y0_k mod p
        usable = True
        for k in range(slots.K):
            y = modular.residue(point[ys[k]])
            a = [modular.residue(sympy.Rational(c)) for c in forms[k]]
            if y is None or any(v is None for v in a):
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


def _confirm_full_rank(f: sympy.Matrix, slots: Slots, order: int,
                       indices: list[tuple[sympy.Symbol, ...]], labels: tuple[str, ...],
                       constants: dict[sympy.Symbol, sympy.Expr], polynomial: bool
                       ) -> IndependenceResult:
    """Full rank was found with the constants as formal symbols T; carry it to their values.

    Exact when f is polynomial with a single transcendental constant (T -> c is then injective
    on Q[T], so a non-zero minor in Q[z, T] stays non-zero); otherwise confirmed at the true
    constants by :func:`_numeric_full_rank` (50-digit evaluation with a margin), or undecided.
    """
    needed = len(indices)
    values = list(constants.values())
    if polynomial and len(values) == 1 and is_transcendental(values[0]):
        return IndependenceResult(True, order, needed, needed, "random-rational-points", labels,
                                  None, (), f"full column rank over Q(z, T) at a random point"
                                  f" with T in place of {values[0]}, which is transcendental:"
                                  " the rank carries over exactly")
    rows, _ = _derivative_rows(f, slots, indices, [None] * f.rows)
    point, rank = _numeric_full_rank(rows, slots, needed)
    if point is not None:
        return IndependenceResult(True, order, rank, needed, "random-rational-points", labels,
                                  point, (), "full column rank with the constants"
                                  f" {', '.join(map(str, values))} as formal symbols, confirmed"
                                  f" at their true values with {_DIGITS}-digit evaluation")
    return IndependenceResult(None, order, rank, needed, "random-rational-points", labels,
                              None, (), "full rank with the constants as formal symbols, not"
                              f" confirmed at their true values {', '.join(map(str, values))}:"
                              " undecided")


def _full_rank_result(f: sympy.Matrix, slots: Slots, order: int, progress: dict[str, object]
                      ) -> IndependenceResult:
    """n >= 1 (module docstring); ``progress`` is updated with the stage and best rank seen."""
    indices = derivative_multi_indices(slots, order)
    labels = tuple(derivative_label(v) for v in indices)
    needed = len(indices)
    original = f
    f, constants = formal_constants(f)
    params = tuple(constants)
    gens = (*slots.symbols, *params)
    polys = [as_polynomial(e, gens) for e in f]
    if constants:
        if _modular_full_rank(polys, gens, indices) is not None:
            return _confirm_full_rank(original, slots, order, indices, labels, constants, True)
    else:
        certified = modular_certificate(polys, slots, order)
        if certified is not None:
            return certified
    rows, polynomial = _derivative_rows(f, slots, indices, polys)
    exact = _exact_derivatives(rows, polynomial, slots, params)
    if exact is None:
        if f.rows >= needed:
            point, rank = _numeric_full_rank(rows, slots, needed)
            if point is not None:
                return IndependenceResult(True, order, rank, needed, "random-rational-points",
                                          labels, point, (), f"full column rank at a rational"
                                          f" point, certified with {_DIGITS}-digit evaluation")
        else:
            rank = 0
        return IndependenceResult(None, order, rank, needed, "random-rational-points", labels,
                                  None, (), "derivatives outside the exp-rational class and not"
                                  " of certified full rank at random points: undecided")
    best, best_at = 0, None
    for point in _random_points(exact.point_symbols):
        dm = exact.at_point(point)
        if dm is None:
            continue
        rank = dm.rank()
        if best_at is None or rank > best:
            best, best_at = rank, (point, dm)
        if rank == needed:
            if constants:
                return _confirm_full_rank(original, slots, order, indices, labels, constants,
                                          exact.polynomial)
            witness = _latent_point(point, slots) if exact.polynomial else None
            return IndependenceResult(True, order, rank, needed, "random-rational-points",
                                      labels, witness, (), "full column rank at a random point")
    progress["rank"] = best
    shortage = f"d_x = {f.rows} < {needed} columns; " if f.rows < needed else ""
    if constants:
        shortage += ("formal constants " + ", ".join(str(c) for c in constants.values())
                     + " (a deficiency over Q[z, T] holds at the true values); ")
    constant = exact.constant_relations()
    if constant is not None:
        # rank M(z0) = best <= generic rank <= min(rank C, d_x): equality certifies it
        upper = min(constant.rank(), f.rows)
        if upper == best or f.rows < needed:
            dependent = tuple(labels[j] for j in sorted(_nullspace_support(constant)))
            bound = (f"generic rank {best}" if upper == best
                     else f"generic rank <= {upper} (rank {best} seen at random points)")
            return IndependenceResult(False, order, best, needed, "symbolic", labels, None,
                                      dependent, shortage + f"{bound} < {needed}, certified by"
                                      " the coefficient matrix of the polynomial columns")
    if best_at is not None:
        progress["stage"] = "the polynomial kernel certificate"
        result = _kernel_result(exact, *best_at, order, needed, labels, shortage)
        if result is not None:
            return result
    progress["stage"] = "the rank over the field of rational functions"
    dm = exact.symbolic()
    if dm is None:
        zero_cols = exact.zero_columns()
        if zero_cols or f.rows < needed:
            why = "identically zero derivative columns" if zero_cols else "too few outputs"
            return IndependenceResult(False, order, best, needed, "symbolic", labels, None,
                                      tuple(labels[j] for j in zero_cols), shortage + why)
        return IndependenceResult(None, order, best, needed, "random-rational-points", labels,
                                  None, (), "rank-deficient at random points; symbolic rank"
                                  " too large to compute")
    rank = dm.rank()
    if rank == needed:
        if constants:
            return _confirm_full_rank(original, slots, order, indices, labels, constants,
                                      exact.polynomial)
        return IndependenceResult(True, order, rank, needed, "symbolic", labels, None, (),
                                  "full generic column rank")
    dependent = tuple(labels[j] for j in sorted(_nullspace_support(dm)))
    return IndependenceResult(False, order, rank, needed, "symbolic", labels, None, dependent,
                              shortage + f"generic rank {rank} < {needed}")


def _components(dm: DomainMatrix) -> list[set[int]]:
    """Connected components of the vector matroid of the rows of ``dm`` (fundamental circuits)."""
    n_rows = dm.shape[0]
    reduced, pivots = dm.transpose().rref()
    parent = list(range(n_rows))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    dense = reduced.to_Matrix()
    for e in range(n_rows):
        if e in pivots:
            continue
        for r, p in enumerate(pivots):
            if dense[r, e] != 0:
                parent[find(e)] = find(p)
    groups: dict[int, set[int]] = {}
    for a in range(n_rows):
        groups.setdefault(find(a), set()).add(a)
    return list(groups.values())


def _slot_check(dm: DomainMatrix) -> tuple[int, list[set[int]]]:
    if dm.shape[0] == 0:
        return 0, []
    return dm.rank(), _components(dm)


def _irreducibility_result(f: sympy.Matrix, slots: Slots, progress: dict[str, object]
                           ) -> IndependenceResult:
    """n = 0 (module docstring); ``progress`` is updated with the stage and best rank seen."""
    labels = tuple(derivative_label((s,)) for s in slots.symbols)
    needed = slots.dim
    f, constants = formal_constants(f)
    params = tuple(constants)
    gens = (*slots.symbols, *params)
    polys = [as_polynomial(e, gens) for e in f]
    rows, polynomial = _derivative_rows(f, slots, [(s,) for s in slots.symbols], polys)
    exact = _exact_derivatives(rows, polynomial, slots, params)
    values = list(constants.values())
    if constants and not (polynomial and len(values) == 1 and is_transcendental(values[0])):
        # a formal full rank or connectivity need not survive algebraic relations among the
        # constants; a formal deficiency does (specialization never raises a rank)
        exact_claims = False
    else:
        exact_claims = True
    if exact is None:
        return IndependenceResult(None, 0, 0, needed, "random-rational-points", labels, None,
                                  (), "Jacobian outside the exp-rational class: no exact rank")
    offsets = slots.offsets
    rows_of = [[l for l in range(f.rows)
                if any(not exact.is_zero(l, j) for j in range(offsets[k], offsets[k + 1]))]
               for k in range(slots.K)]
    blocks = [exact.restrict(rows, list(range(offsets[k], offsets[k + 1]))) if rows else None
              for k, rows in enumerate(rows_of)]
    best_rank = 0
    for point in _random_points(exact.point_symbols):
        results = []
        for block in blocks:
            dm = block.at_point(point) if block is not None else None
            if block is not None and dm is None:
                break
            results.append(_slot_check(dm) if dm is not None else (0, []))
        else:
            rank = sum(r for r, _ in results)
            best_rank = max(best_rank, rank)
            if rank == needed and all(len(c) == 1 for _, c in results):
                witness = _latent_point(point, slots) if exact.polynomial else None
                if not exact_claims:
                    break
                return IndependenceResult(True, 0, rank, needed, "random-rational-points",
                                          labels, witness, (),
                                          "every slot: full-rank Jacobian block, irreducible")
    progress.update(rank=best_rank, stage="the slot Jacobian ranks over rational functions")
    rank, dependent, problems = 0, [], []
    for k, block in enumerate(blocks):
        size, cols = slots.sizes[k], list(range(offsets[k], offsets[k + 1]))
        if block is None:
            problems.append(f"slot {k + 1}: no output depends on it")
            dependent.extend(labels[j] for j in cols)
            continue
        dm = block.symbolic()
        if dm is None:
            return IndependenceResult(None, 0, best_rank, needed, "random-rational-points",
                                      labels, None, (), "failed at random points; symbolic"
                                      " check too large")
        r, comps = _slot_check(dm)
        rank += r
        if r < size:
            problems.append(f"slot {k + 1}: Jacobian rank {r} < {size}")
            dependent.extend(labels[cols[j]] for j in sorted(_nullspace_support(dm)))
        if len(comps) > 1:
            parts = " | ".join(
                "{" + ",".join(str(rows_of[k][i]) for i in sorted(c)) + "}" for c in comps)
            problems.append(f"slot {k + 1}: outputs split into independent parts {parts}")
    if not problems:
        if not exact_claims:
            return IndependenceResult(None, 0, rank, needed, "symbolic", labels, None, (),
                                      "every slot passes with the constants"
                                      f" {', '.join(map(str, values))} as formal symbols; not"
                                      " certified at their true values: undecided")
        return IndependenceResult(True, 0, rank, needed, "symbolic", labels, None, (),
                                  "every slot: full-rank Jacobian block, irreducible")
    return IndependenceResult(False, 0, rank, needed, "symbolic", labels, None,
                              tuple(dependent), "; ".join(problems))


def sufficient_independence(f: object, slots: Slots, order: int | None = None, *,
                            timeout: float | None = TIMEOUT) -> IndependenceResult:
    """Decide sufficient independence of f at interaction order ``order`` (module docstring).

    ``f``: generator (d_x, 1) in the slot symbols; ``order``: n (default: the exact
    :func:`theory.order.interaction_order` of f, which must be finite). For n >= 1 the
    d_x x m matrix [D_alpha f : |alpha| <= n, or |alpha| = n + 1 within one slot] must have
    full column rank m; for n = 0 every slot's Jacobian block must have full rank and be
    irreducible. ``timeout``: seconds (None: no limit) after which the answer is
    ``holds = None`` with ``method = "budget"`` and the stage that ran out in ``note``.
    """
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    f = slots.check_generator(f)
    if order is None:
        order = interaction_order(f, slots)
        if order == math.inf:
            raise AnalysisError("f has no finite interaction order: sufficient independence is"
                                " defined at a finite order n (pass order=...)")
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise AnalysisError(f"order must be a non-negative integer, got {order!r}")
    needed = slots.dim if order == 0 else len(derivative_multi_indices(slots, order))
    progress: dict[str, object] = {"stage": "the rank at random points", "rank": 0}
    try:
        with time_budget(timeout, "sufficient independence",
                         "pass a larger timeout (seconds) or None") as scope:
            if order == 0:
                return _irreducibility_result(f, slots, progress)
            return _full_rank_result(f, slots, order, progress)
    except BudgetError as err:
        if not expired_here(err, scope):
            raise
        return IndependenceResult(
            None, order, progress["rank"], needed, "budget", (), None, (),
            f"undecided: the time budget of {timeout:g} s ran out during"
            f" {progress['stage']} (best rank seen {progress['rank']} of"
            f" {needed}); pass a larger timeout")
