"""The ambiguity system: the exact sparse linear equations for infinitesimal ambiguities.

Infinitesimal check (docs/theory.md section 4). If h_t = id + t v + O(t^2) is a family of
reparametrizations with f o h_t in the class of at most n-th order interaction across slots,
then the derivative at t = 0,

    (Df . v)(z) = sum_i  d f(z) / d z_i  *  v_i(z),

lies in the tangent space of the class at f. For n >= 1 the class is a linear space, so the
condition is: every (n+1)-th order cross-slot partial of every output of Df . v vanishes
identically. For n = 0 the class is a union of linear spaces, one per assignment of outputs to
slots; the tangent space at f is the space of f's own assignment (output l may depend only on
the slot k(l) that f_l depends on), so the condition is: output l of Df . v depends on slot
k(l) only.

For a polynomial vector field v of degree <= D with unknown rational coefficients c, Df . v is
linear in c, so the ambiguities form the nullspace of an exact sparse linear system. Supported
generators: polynomials and exponential polynomials sum_p Q_p(z) exp(p(z)) (Q_p, p polynomials
with rational coefficients). Distinct exponents p are linearly independent over the
polynomials, so the condition splits per exponent and is decided exactly by equating
coefficients:

* p = 0 (the polynomial part), n >= 1: every monomial touching >= 2 slots with total degree
  > n has coefficient 0 (a polynomial has order <= n iff it has no such monomial);
* p depending on one slot k: Q_p may depend on slot k only (Q_p(z) exp(p) with a factor from
  another slot has a non-vanishing mixed partial of every order);
* p depending on >= 2 slots: Q_p = 0.

(For n = 0 the same rules hold with "touching a slot other than k(l)" in place of the first.)
Any other function (sin, log, sqrt, irrational coefficients, ...) raises
:class:`~theory.errors.AnalysisError`: the answer would not be exact.

Slot-wise fields (v_{B_k} depends on z_{B_k} only) always include the trivial ambiguities
(slot-wise reparametrizations); :func:`theory.ambiguity.ambiguities` reads the solution space off
this system and compares it with them. The exponential-polynomial calculus is
:mod:`theory.exp_polynomial`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import sympy
from sympy.external.gmpy import MPQ

from theory.errors import AnalysisError
from theory.exp_polynomial import Monomial, exp_components, partial
from theory.slots import Slots, require_slots

__all__ = ["AmbiguitySystem", "Column", "EquationRow", "dense_reference_dimension",
           "linear_system", "non_negative_int"]

Column = tuple[int, Monomial]
"""An unknown of the system: (i, m), the coefficient of z^m in the field component v_i."""
EquationRow = dict[int, MPQ]
"""One equation: {column index: non-zero coefficient in sympy's ``QQ``}."""


def _monomials(n_vars: int, degree: int) -> list[Monomial]:
    """All exponent vectors of total degree <= degree, graded then lexicographic."""
    out: list[Monomial] = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_vars), d):
            e = [0] * n_vars
            for v in combo:
                e[v] += 1
            out.append(tuple(e))
    return out


def _output_slot(expr: sympy.Expr, slots: Slots, l: int) -> int | None:
    touched = {slots.slot(s) for s in expr.free_symbols}
    if len(touched) > 1:
        raise AnalysisError(f"output {l} depends on several slots, so f is not of order 0")
    return next(iter(touched), None)


class AmbiguitySystem:
    """Sparse rows of the ambiguity system, columns = (coordinate i, monomial m) of v.

    ``columns[j] = (i, m)``: the coefficient of z^m in v_i, slot-wise columns first (by slot,
    then degree), then the rest by degree; ``slotwise[j]``, ``slot_of_col[j]`` (None for a
    non-slot-wise column) and ``degree_of[j]`` describe column j; ``rows``: the equations as
    ``{column: rational}`` dicts, one per (output, exponent component, product monomial) whose
    coefficient must vanish (module docstring).
    """

    def __init__(self, f: sympy.Matrix, slots: Slots, order: int, degree: int) -> None:
        self.slots = slots
        symbols = slots.symbols
        slot_of = slots.slot_of
        d = len(symbols)
        monos = _monomials(d, degree)
        columns: list[Column] = [(i, m) for i in range(d) for m in monos]

        def slot_set(m: Monomial) -> frozenset[int]:
            return frozenset(slot_of[v] for v, e in enumerate(m) if e)

        def kind(col: Column) -> tuple[int, int, int]:
            i, m = col
            ss = slot_set(m)
            slotwise = ss <= {slot_of[i]}
            # slot-wise first (by slot, then degree), then the rest by degree
            return (0, slot_of[i], sum(m)) if slotwise else (1, sum(m), 0)

        columns.sort(key=kind)
        self.columns = columns
        self.slotwise = [kind(c)[0] == 0 for c in columns]
        self.n_slotwise = sum(self.slotwise)
        self.degree_of = [sum(m) for _, m in columns]
        self.slot_of_col: list[int | None] = [
            slot_of[i] if sw else None for (i, _), sw in zip(columns, self.slotwise, strict=True)]

        by_coordinate: dict[int, list[tuple[int, Monomial]]] = defaultdict(list)
        for col, (i, m) in enumerate(columns):
            by_coordinate[i].append((col, m))

        # the product monomial mono * m is keyed by its exponent vector packed into one
        # integer (base larger than any exponent of the product, per component), and whether
        # its coefficient must vanish only depends on its slots (a bit mask) and degree: both
        # are read from the factors, so the hot loop does integer sums and small-key lookups
        # only (the rows, and their order, are those of the monomial-by-monomial construction)
        def slot_mask(m: Monomial) -> int:
            return sum(1 << k for k in slot_set(m))

        m_slots = {m: slot_mask(m) for m in monos}
        # keyed by (output, component, packed product monomial)
        rows: dict[tuple[int, int, int], EquationRow] = defaultdict(dict)
        # per (output slot, exponent slots): (slot mask, degree) -> whether it must vanish
        violation_cache: dict[tuple[int | None, frozenset[int]], dict[tuple[int, int], bool]] = {}
        for l, expr in enumerate(f):
            home = _output_slot(expr, slots, l) if order == 0 else None
            for comp_index, comp in enumerate(exp_components(expr, symbols, slot_of, l)):
                cache = violation_cache.setdefault((home, comp.slots), {})
                partials = [partial(comp, i) for i in range(d)]
                base = 1 + degree + max((e for G in partials for mono in G for e in mono),
                                        default=0)
                powers = [base ** v for v in range(d)]

                def code(e: Monomial, powers: list[int] = powers) -> int:
                    return sum(x * w for x, w in zip(e, powers, strict=True))

                column_keys = [[(col, code(m), m_slots[m], sum(m)) for col, m in
                                by_coordinate[i]] for i in range(d)]
                for i, G in enumerate(partials):
                    if not G:
                        continue
                    terms = [(code(mono), slot_mask(mono), sum(mono), c) for mono, c in G.items()]
                    for col, m_code, ms, m_degree in column_keys[i]:
                        for g_code, gs, g_degree, c in terms:
                            key = (gs | ms, g_degree + m_degree)
                            bad = cache.get(key)
                            if bad is None:
                                touched = frozenset(k for k in range(slots.K) if key[0] >> k & 1)
                                bad = _violates(order, home, comp.slots, touched, key[1])
                                cache[key] = bad
                            if bad:
                                row = rows[(l, comp_index, g_code + m_code)]
                                row[col] = row.get(col, 0) + c
        self.rows: list[EquationRow] = [
            r for r in ({j: v for j, v in row.items() if v} for row in rows.values()) if r]


def _violates(order: int, home: int | None, p_slots: frozenset[int], mono_slots: frozenset[int],
              mono_degree: int) -> bool:
    """Whether the monomial's coefficient in the component exp(p) must vanish (see module doc)."""
    if len(p_slots) >= 2:
        return True
    if len(p_slots) == 1:
        (k,) = p_slots
        if order == 0 and home is not None and home != k:
            return True
        return bool(mono_slots - p_slots)
    if order == 0:
        return bool(mono_slots - {home}) if home is not None else bool(mono_slots)
    return len(mono_slots) >= 2 and mono_degree > order


def linear_system(f: object, slots: Slots, order: int, degree: int = 1
                  ) -> tuple[list[EquationRow], list[Column]]:
    """The sparse ambiguity system itself: ``(rows, columns)``.

    ``columns[j] = (i, m)`` is the unknown coefficient of the monomial z^m in v_i (slot-wise
    columns first); ``rows`` are the equations as ``{column: rational}`` dicts (see the module
    docstring). Does not check that f is of order <= ``order``
    (:func:`theory.ambiguity.ambiguities` does).
    """
    slots_ok = require_slots(slots)
    system = AmbiguitySystem(slots_ok.check_generator(f), slots_ok,
                             non_negative_int("order", order), non_negative_int("degree", degree))
    return system.rows, system.columns


def non_negative_int(name: str, value: object) -> int:
    """``value`` if it is a non-negative int (not a bool); :class:`AnalysisError` naming
    ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnalysisError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def dense_reference_dimension(f: object, slots: Slots, order: int, degree: int = 1) -> int:
    """Solution dimension of the ambiguity system by the dense sympy route (slow reference).

    Straight from the definition, for polynomial f, for tests and benches: v has symbolic
    coefficients on every monomial of degree <= ``degree``; Df . v is expanded; for n >= 1 every
    coefficient of a monomial touching >= 2 slots with degree > n must vanish, for n = 0 every
    coefficient of a monomial touching a slot other than those of its output; then
    ``linear_eq_to_matrix`` and a dense ``nullspace``.
    """
    matrix = slots.check_generator(f)
    symbols = slots.symbols
    monomials = sorted(sympy.itermonomials(symbols, degree), key=sympy.default_sort_key)
    coeffs: list[sympy.Symbol] = []
    v: list[sympy.Expr] = []
    for i in range(len(symbols)):
        cs = sympy.symbols(f"c{i}_0:{len(monomials)}")
        coeffs.extend(cs)
        v.append(sum(c * m for c, m in zip(cs, monomials, strict=True)))
    equations = []
    for expr, out in zip(matrix.jacobian(symbols) * sympy.Matrix(v), matrix, strict=True):
        home = {slots.slot(s) for s in out.free_symbols}
        for exps, coeff in sympy.Poly(sympy.expand(expr), *symbols).terms():
            touched = {slots.slot_of[j] for j, e in enumerate(exps) if e}
            violates = (touched - home) if order == 0 else (
                len(touched) >= 2 and sum(exps) > order)
            if violates:
                equations.append(coeff)
    if not equations:
        return len(coeffs)
    matrix, _ = sympy.linear_eq_to_matrix(equations, coeffs)
    return len(matrix.nullspace())
