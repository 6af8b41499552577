"""The derivative matrix of sufficient independence, [D_alpha f_l], in an exactly decidable form.

Columns are the derivative vectors D_alpha f for the multi-indices alpha of
:func:`derivative_multi_indices` (order 1..n, and within-slot ones of order n + 1), rows the
outputs. Polynomial outputs keep their entries as ``sympy.Poly``; other entries are brought to
the shared exp-rational normal form (:func:`theory.exp_rational.exp_rational_forms`), where the
exponentials are algebraically independent indeterminates. :class:`ExactMatrix` evaluates the
matrix exactly at seeded random rational points (:func:`random_points`), gives the coefficient
matrix of a polynomial matrix, its rows over one polynomial ring, and its symbolic form over
the field of rational functions (up to :data:`MAX_SYMBOLIC_ENTRIES` entries).
"""

from __future__ import annotations

import random
from itertools import combinations_with_replacement
from typing import TypeAlias

import sympy
from sympy import QQ
from sympy.external.gmpy import MPQ
from sympy.polys.domains import PolynomialRing
from sympy.polys.matrices import DomainMatrix
from sympy.polys.rings import PolyElement

from theory.exp_rational import Undecided, as_polynomial, exp_rational_forms
from theory.slots import Slots

__all__ = ["MAX_SYMBOLIC_ENTRIES", "POINTS", "SEED", "Entry", "ExactMatrix", "derivative_label",
           "derivative_multi_indices", "derivative_rows", "exact_derivatives", "latent_point",
           "nullspace_support", "random_points"]

#: Largest matrix (entries) whose rank over the field of rational functions is computed.
MAX_SYMBOLIC_ENTRIES = 1500
#: Number of seeded random points tried, and their seed.
POINTS = 3
SEED = 20250407

Entry: TypeAlias = "sympy.Poly | sympy.Expr"
"""A derivative entry: a ``sympy.Poly`` over the latents (polynomial matrices) or an expression
(exp-rational forms and other derivatives)."""


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


class ExactMatrix:
    """A d_x x m matrix of derivatives in an exactly decidable form.

    Polynomial entries are kept as ``sympy.Poly`` over the latents (fast exact derivatives and
    evaluation); other entries are brought to the shared exp-rational form of
    :func:`theory.order.exp_rational_forms`. ``point_symbols`` are the symbols a random point
    must fix (the latents, plus the exponential indeterminates in the exp-rational case).
    """

    def __init__(self, rows: list[list[Entry]], polynomial: bool,
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

    def restrict(self, rows: list[int], cols: list[int]) -> ExactMatrix:
        return ExactMatrix([[self.rows[i][j] for j in cols] for i in rows], self.polynomial,
                            self.point_symbols)

    def at_point(self, point: dict[sympy.Symbol, sympy.Rational]) -> DomainMatrix | None:
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
        data: dict[int, dict[int, MPQ]] = {}
        for i, row in enumerate(self.rows):
            for j, entry in enumerate(row):
                for mono, coeff in entry.terms():
                    if coeff == 0:
                        continue
                    r = index.setdefault((i, mono), len(index))
                    data.setdefault(r, {})[j] = QQ.from_sympy(coeff)
        return DomainMatrix(data, (max(len(index), 1), self.shape[1]), QQ)

    def ring_rows(self) -> tuple[list[list[PolyElement]], PolynomialRing]:
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


def derivative_rows(f: sympy.Matrix, slots: Slots, indices: list[tuple[sympy.Symbol, ...]],
                     polys: list[sympy.Poly | None] | None = None
                     ) -> tuple[list[list[Entry]], bool]:
    """[D_alpha f_l] (Poly entries when every output is a polynomial) and that flag; ``polys``:
    the outputs as polynomials when the caller already has them."""
    if polys is None:
        polys = [as_polynomial(e, slots.symbols) for e in f]
    polynomial = all(p is not None for p in polys)
    rows = []
    for e, p in zip(f, polys, strict=True):
        memo: dict[tuple[sympy.Symbol, ...], Entry] = {(): p if polynomial else e}

        def entry(v: tuple[sympy.Symbol, ...],
                  memo: dict[tuple[sympy.Symbol, ...], Entry] = memo) -> Entry:
            if v not in memo:
                prev = entry(v[:-1])
                memo[v] = prev.diff(v[-1]) if polynomial else sympy.diff(prev, v[-1])
            return memo[v]

        rows.append([entry(v) for v in indices])
    return rows, polynomial


def exact_derivatives(rows: list[list[Entry]], polynomial: bool, slots: Slots,
                       params: tuple[sympy.Symbol, ...] = ()) -> ExactMatrix | None:
    """The derivative rows in exact form; None outside the decidable class. ``params``: the
    formal constants (:func:`theory.constants.formal_constants`), fixed by points too."""
    latents = slots.symbols
    if polynomial:
        return ExactMatrix(rows, True, (*latents, *params))
    try:
        forms, ys, ws = exp_rational_forms([e for row in rows for e in row], latents)
    except Undecided:
        return None
    width = len(rows[0])
    shaped = [forms[i * width:(i + 1) * width] for i in range(len(rows))]
    return ExactMatrix(shaped, False, (*latents, *params, *sorted(ys | ws, key=str)))


def random_points(symbols: tuple[sympy.Symbol, ...]) -> list[dict[sympy.Symbol, sympy.Rational]]:
    rng = random.Random(SEED)
    return [{s: sympy.Rational(rng.choice((1, -1)) * rng.randint(1, 89), rng.randint(7, 61))
             for s in symbols} for _ in range(POINTS)]


def nullspace_support(dm: DomainMatrix) -> set[int]:
    ns = dm.nullspace().to_Matrix()
    return {j for i in range(ns.rows) for j in range(ns.cols) if ns[i, j] != 0}


def latent_point(point: dict[sympy.Symbol, sympy.Rational], slots: Slots
                 ) -> dict[sympy.Symbol, sympy.Rational]:
    return {s: point[s] for s in slots.symbols}
