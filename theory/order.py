"""Exact interaction order of a generator across slots (docs/theory.md section 2).

Definition. An output f_l has *at most n-th order interaction* (n >= 1) iff every partial
derivative of order n + 1 whose variables come from >= 2 slots vanishes identically; n = 0 means
f_l depends on at most one slot. The order of f_l is the least such n (``math.inf`` if none) and
the order of f is the maximum over outputs.

Theorem used (proved here; checked against brute-force differentiation in the tests). Let
g_ij = d^2 f_l / dz_i dz_j for i, j in different slots (the *cross second derivatives*).

* If every g_ij vanishes, f_l is additive: its order is 1 if it depends on >= 2 slots, else 0.
* Otherwise f_l has finite order iff every g_ij is a polynomial in the latents, and then
  ``order(f_l) = 2 + max_ij deg g_ij``.

Proof. (=>) If all cross partials of order n + 1 vanish, every partial of order n - 1 of g_ij is
a cross partial of f_l of order n + 1, hence zero; on a connected domain g_ij is then a
polynomial of degree <= n - 2. (<=) A cross partial of order n + 1 contains some z_i, z_j of
different slots; derivatives commute, so it is a partial of order n - 1 of g_ij, which vanishes
when deg g_ij <= n - 2. With n = 2 + max deg the order is attained because the top-degree
monomial of some g_ij has a non-zero derivative of order deg g_ij.

Consequences used for speed. Terms of f_l touching one slot are killed by every g_ij, so only
the *cross part* (terms touching >= 2 slots) matters. For a sum of distinct monomials
c * z^a the cross second derivatives are distinct monomials too, so the order is the largest
total degree of a cross monomial: one pass over the terms, no differentiation.
Deciding "g_ij is zero / a polynomial of degree d" exactly is the job of
:func:`theory.degree.polynomial_degree` (exp-rational normal form, radicals by Kummer theory,
coordinate slices, derivatives); radicals and absolute values in f are first rewritten over
irreducible factors on a stated domain (:func:`theory.radicals.normalize_radicals`). When no
certificate is found :class:`AnalysisError` is raised; a guess is never returned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations_with_replacement

import sympy

from theory.degree import is_identically_zero, polynomial_degree
from theory.errors import AnalysisError
from theory.exp_rational import Undecided, as_polynomial
from theory.radicals import normalize_radicals
from theory.slots import Slots

__all__ = [
    "CrossDerivative",
    "cross_derivatives",
    "has_order_at_most",
    "interaction_order",
    "interaction_order_bruteforce",
    "stated_domain",
]


@dataclass(frozen=True)
class CrossDerivative:
    """A non-zero cross-slot partial derivative d^k f_output / dz_{variables}.

    ``variables`` is the unordered multi-index written in slot order, with repetition
    (e.g. ``(x, x, y)`` for d^3 f / dx^2 dy); ``expr`` is the exact derivative.
    """

    output: int
    variables: tuple[sympy.Symbol, ...]
    expr: sympy.Expr


def stated_domain(f: object, slots: Slots) -> list[sympy.Expr]:
    """The polynomials p with p > 0 on the domain where
    :func:`theory.radicals.normalize_radicals` (used by :func:`interaction_order`) rewrote f's
    radicals and absolute values; [] if it did not."""
    out: dict[sympy.Expr, None] = {}
    for e in _checked(f, slots):
        out.update(dict.fromkeys(normalize_radicals(e, slots.symbols)[1]))
    return list(out)


# -- interaction order ------------------------------------------------------------------------


def _term_structure(term: sympy.Expr, where: dict[sympy.Symbol, tuple[int, int]]
                    ) -> tuple[tuple[tuple[int, int], ...] | None, set[sympy.Symbol]]:
    """(sorted (latent index, power) pairs if ``term`` is a number times a monomial, else None;
    the latents in ``term``). ``where`` maps a latent to (flat index, slot)."""
    pairs = []
    syms = set()
    for factor in (term.args if term.is_Mul else (term,)):
        hit = where.get(factor)
        if hit is not None:
            pairs.append((hit[0], 1))
            syms.add(factor)
            continue
        if factor.is_Pow:
            base, e = factor.args
            hit = where.get(base)
            if hit is not None and e.is_Integer and e.p > 0:
                pairs.append((hit[0], e.p))
                syms.add(base)
                continue
        if factor.is_number:
            continue
        return None, set(term.free_symbols)
    pairs.sort()
    return tuple(pairs), syms


def _depends_on(expr: sympy.Expr, symbols: Iterable[sympy.Symbol], slots: Slots) -> bool:
    return any(not is_identically_zero(sympy.diff(expr, s), slots) for s in symbols)


def _where(slots: Slots) -> dict[sympy.Symbol, tuple[int, int]]:
    return {s: (i, k) for i, (s, k) in enumerate(zip(slots.symbols, slots.slot_of, strict=True))}


def _has_radicals(expr: sympy.Expr) -> bool:
    """Abs or a non-integer power anywhere in expr."""
    return expr.has(sympy.Abs) or any(not p.exp.is_Integer for p in expr.atoms(sympy.Pow))


def _output_order(expr: sympy.Expr, slots: Slots,
                  where: dict[sympy.Symbol, tuple[int, int]]) -> int | float:
    terms = sympy.Add.make_args(expr)
    structures = [_term_structure(term, where) for term in terms]
    if any(pairs is None for pairs, _ in structures) and any(
            _has_radicals(t) for t, (pairs, _) in zip(terms, structures, strict=True)
            if pairs is None):  # only non-monomial terms can hold radicals
        expr = normalize_radicals(expr, slots.symbols)[0]
        terms = sympy.Add.make_args(expr)
        structures = [_term_structure(term, where) for term in terms]
    touched: dict[int, set[sympy.Symbol]] = {}
    cross_monomials: dict[tuple[tuple[int, int], ...], list[sympy.Expr]] = {}
    complex_cross: list[sympy.Expr] = []
    for term, (pairs, syms) in zip(terms, structures, strict=True):
        ks = set()
        for s in syms:
            k = where[s][1]
            ks.add(k)
            touched.setdefault(k, set()).add(s)
        if len(ks) < 2:
            continue
        if pairs is None:
            complex_cross.append(term)
        else:
            cross_monomials.setdefault(pairs, []).append(term)
    if len(touched) < 2:
        return 0
    if not complex_cross:
        degrees = []
        for pairs, terms in cross_monomials.items():
            if len(terms) == 1 or not is_identically_zero(sympy.Add(*terms), slots):
                degrees.append(sum(e for _, e in pairs))
        if degrees:
            return max(degrees)
    else:
        h = sympy.Add(*complex_cross, *(t for ts in cross_monomials.values() for t in ts))
        result = _cross_part_order(h, slots)
        if result is not None:
            return result
    dependent = [k for k, syms in touched.items() if _depends_on(expr, syms, slots)]
    return 1 if len(dependent) >= 2 else 0


def _cross_part_order(h: sympy.Expr, slots: Slots) -> int | float | None:
    """2 + max deg of the cross second derivatives of h, inf, or None if they all vanish."""
    latents = slots.symbols
    present = [s for s in latents if s in h.free_symbols]
    best: int | float | None = None
    for a, s in enumerate(present):
        ds = sympy.diff(h, s)
        for t in present[a + 1:]:
            if slots.slot(s) == slots.slot(t):
                continue
            try:
                deg = polynomial_degree(sympy.diff(ds, t), latents)
            except Undecided as err:
                raise AnalysisError(
                    f"could not certify the interaction order of {h}: the cross derivative"
                    f" d2/d{s}d{t} is outside the decidable class ({err})") from None
            if deg is None:
                continue
            if deg == math.inf:
                return math.inf
            best = max(best or 0, 2 + deg)
    return best


def _checked(f: object, slots: Slots) -> sympy.Matrix:
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    return slots.check_generator(f)


def interaction_order(f: object, slots: Slots) -> int | float:
    """Exact interaction order n of f across ``slots`` (``math.inf`` if no finite n).

    ``f``: a generator (d_x, 1) (sympy Matrix or sequence of expressions) in the slot
    symbols. Returns 0 if every output depends on at most one slot, otherwise the least n >= 1
    such that every partial derivative of order n + 1 mixing >= 2 slots vanishes (module
    docstring: order = 2 + max degree of the cross second derivatives, 1 if they all vanish).
    Raises :class:`AnalysisError` when no exact certificate can be found (e.g. sqrt of a
    cross-slot expression), never a guess.
    """
    matrix = _checked(f, slots)
    best: int | float = 0
    where = _where(slots)
    for expr in matrix:
        best = max(best, _output_order(expr, slots, where))
        if best == math.inf:
            break
    return best


def has_order_at_most(f: object, slots: Slots, n: int) -> bool:
    """True iff f has at most n-th order interaction across ``slots`` (exact)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise AnalysisError(f"order n must be a non-negative integer, got {n!r}")
    return interaction_order(f, slots) <= n


def _is_cross(variables: tuple[sympy.Symbol, ...], slots: Slots) -> bool:
    return len({slots.slot(s) for s in variables}) >= 2


def cross_derivatives(f: object, slots: Slots, order: int) -> list[CrossDerivative]:
    """All non-zero partial derivatives of exactly ``order`` mixing >= 2 slots.

    One entry per output l and unordered multi-index (i_1 <= ... <= i_k in slot order) with
    d^k f_l / dz_{i_1} ... dz_{i_k} not identically zero. ``order`` 1 gives an empty list (one
    variable never mixes slots). Derivatives are computed along a prefix tree of multi-indices
    and pruned at vanishing prefixes; polynomial outputs use exact ``Poly`` arithmetic.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise AnalysisError(f"derivative order must be a positive integer, got {order!r}")
    matrix = _checked(f, slots)
    latents = slots.symbols
    out: list[CrossDerivative] = []
    for l, expr in enumerate(matrix):
        present = [s for s in latents if s in expr.free_symbols]
        if len({slots.slot(s) for s in present}) < 2:
            continue
        poly = as_polynomial(expr, latents)

        def walk(start: int, prefix: tuple[sympy.Symbol, ...], value: sympy.Poly | sympy.Expr,
                 poly: sympy.Poly | None = poly, present: list[sympy.Symbol] = present,
                 l: int = l) -> None:
            if len(prefix) == order:
                if _is_cross(prefix, slots):
                    out.append(CrossDerivative(
                        l, prefix, value.as_expr() if poly is not None else value))
                return
            for a in range(start, len(present)):
                s = present[a]
                d = value.diff(s) if poly is not None else sympy.diff(value, s)
                zero = d.is_zero if poly is not None else is_identically_zero(d, slots)
                if not zero:
                    walk(a, (*prefix, s), d)

        walk(0, (), poly if poly is not None else expr)
    return out


def interaction_order_bruteforce(f: object, slots: Slots, max_order: int) -> int | float:
    """Reference implementation straight from the definition (slow; for tests and benches).

    Each output is expanded once. For k = 2, 3, ...: differentiate every output by every
    cross-slot multi-index of order k from scratch and test the result for zero (``== 0`` for
    polynomial outputs, whose derivatives stay expanded, else ``expand() == 0``); the order is
    k - 1 for the first k where all vanish (0 if every output depends on <= 1 slot). Returns
    ``math.inf`` if cross partials of order ``max_order + 1`` still do not all vanish.
    """
    matrix = _checked(f, slots)
    latents = slots.symbols
    outputs = [(sympy.expand(e), as_polynomial(e, latents) is not None) for e in matrix]

    def vanishes(e: sympy.Expr, polynomial: bool, variables: tuple[sympy.Symbol, ...]) -> bool:
        d = sympy.diff(e, *variables)
        return d == 0 if polynomial else sympy.expand(d) == 0

    single = all(len({slots.slot(s) for s in latents if not vanishes(e, p, (s,))}) < 2
                 for e, p in outputs)
    if single:
        return 0
    for k in range(2, max_order + 2):
        nonzero = False
        for e, p in outputs:
            for variables in combinations_with_replacement(latents, k):
                if _is_cross(variables, slots) and not vanishes(e, p, variables):
                    nonzero = True
        if not nonzero:
            return k - 1
    return math.inf
