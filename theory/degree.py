"""The polynomial degree of a function of the latents: zero, a polynomial of degree d, or not
a polynomial, decided exactly (the test the order rule applies to cross derivatives).

:func:`structural_degree` reads the answer off an exact form: a polynomial, the exp-rational
normal form (:mod:`theory.exp_rational`) or radicals (:mod:`theory.radicals`). A coordinate
slice through e, 4, e^2, 9/4 or 2 that is certified non-polynomial proves that g is not a
polynomial (exp(y log x) on x = e). Other functions (log, atan, ...) are handled through
derivatives (:func:`polynomial_degree`): g is a polynomial iff all its first partials are, and
deg g = 1 + max deg of the partials; a non-polynomial partial certifies a non-polynomial g.
When no certificate is found :class:`~theory.exp_rational.Undecided` is raised (and
:class:`AnalysisError` by :func:`is_identically_zero`); a guess is never returned. Constants
(pi, sqrt(2), ...) in coefficients are exact sympy numbers.
"""

from __future__ import annotations

import math
import random

import sympy

from theory.errors import AnalysisError
from theory.exp_rational import Undecided, exp_rational_form, total_degree
from theory.radicals import radical_degree, square_root_degree
from theory.slots import Slots

__all__ = ["is_identically_zero", "polynomial_degree", "structural_degree"]

_DERIVATIVE_DEPTH = 2


def structural_degree(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | float | None:
    """None if g == 0, its degree if a polynomial, inf if not; Undecided if no certificate."""
    if g == 0:
        return None
    if g.is_polynomial(*latents):
        return total_degree(sympy.expand(g), latents)
    try:
        r, ys = exp_rational_form(g, latents)
    except Undecided:
        try:
            return radical_degree(g, latents)
        except Undecided:
            return square_root_degree(g, latents)
    if r == 0:
        return None
    num, den = r.as_numer_denom()
    if num.free_symbols & ys or den.free_symbols & ys or den.free_symbols & set(latents):
        return math.inf
    return total_degree(num, latents)


def polynomial_degree(g: sympy.Expr, latents: tuple[sympy.Symbol, ...],
                      depth: int = _DERIVATIVE_DEPTH) -> int | float | None:
    """None if g vanishes identically, deg g if g is a polynomial in the latents, else inf.

    ``depth``: how many rounds of differentiation may be tried when no exact form applies;
    :class:`~theory.exp_rational.Undecided` when no certificate is found."""
    try:
        return structural_degree(g, latents)
    except Undecided:
        if _restriction_is_not_polynomial(g, latents):
            return math.inf
        if depth == 0:
            raise
    present = [s for s in latents if s in g.free_symbols]
    degrees = [polynomial_degree(sympy.diff(g, s), latents, depth - 1) for s in present]
    if math.inf in degrees:
        return math.inf
    known = [d for d in degrees if d is not None]
    if known:
        return 1 + max(known)
    if _certainly_nonzero(g, latents):  # constant (all partials vanish) and non-zero
        return 0
    raise Undecided(f"could not decide whether the constant {g} is zero")


_SLICE_VALUES = (sympy.E, sympy.Integer(4), sympy.E**2, sympy.Rational(9, 4), sympy.Integer(2))


def _restriction_is_not_polynomial(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> bool:
    """True if a coordinate slice of g is certified not to be a polynomial.

    If g is a polynomial in z, so is every restriction z_i = c_i (i != j) to a line, as a
    function of z_j. The slice values c_i are e, 4, e^2, 9/4 or 2 (e makes logarithms
    rational: exp(y log x) at x = e is exp(y); squares make square roots rational). The slice
    must pass through the domain (g finite and real at a point of it, checked by strict
    evaluation) and the restricted function must be certified non-polynomial by
    :func:`structural_degree` (e.g. an exponential of a non-constant polynomial). Used only
    to prove "not a polynomial", never the converse.
    """
    present = [s for s in latents if s in g.free_symbols]
    if len(present) < 2:
        return False
    for j in present:
        others = [s for s in present if s is not j]
        for value in _SLICE_VALUES:
            h = g.xreplace(dict.fromkeys(others, value))
            if h.free_symbols != {j}:
                continue
            probe = h.xreplace({j: sympy.Rational(3, 7)})
            try:
                number = probe.evalf(30, strict=True)
            except (sympy.core.evalf.PrecisionExhausted, ZeroDivisionError, ValueError,
                    TypeError):
                continue
            if not (number.is_real and number.is_finite):
                continue
            try:
                if structural_degree(h, (j,)) == math.inf:
                    return True
            except Undecided:
                continue
    return False


def _points(latents: tuple[sympy.Symbol, ...], count: int, seed: int = 0
            ) -> list[dict[sympy.Symbol, sympy.Rational]]:
    rng = random.Random(seed)
    return [{s: sympy.Rational(rng.randint(1, 97), rng.randint(50, 150)) * rng.choice((1, -1))
             for s in latents} for _ in range(count)]


def _certainly_nonzero(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> bool:
    """True if g is non-zero at some random rational point, certified by strict evalf."""
    for point in _points(latents, 3):
        try:
            value = g.xreplace(point).evalf(30, strict=True)
        except (sympy.core.evalf.PrecisionExhausted, ZeroDivisionError, ValueError, TypeError):
            continue
        if value.is_number and value.is_finite and value != 0 and not value.has(sympy.nan):
            return True
    return False


def is_identically_zero(expr: sympy.Expr, slots: Slots) -> bool:
    """Exact test of expr == 0 as a function of the latents; AnalysisError if undecidable."""
    latents = slots.symbols
    if expr == 0:
        return True
    if expr.is_polynomial(*latents):
        return total_degree(sympy.expand(expr), latents) is None
    if _certainly_nonzero(expr, latents):
        return False
    try:
        return polynomial_degree(expr, latents) is None
    except Undecided as err:
        raise AnalysisError(f"could not certify whether {expr} vanishes: {err}") from None
