"""Exponential polynomials sum_p Q_p exp(p): exact components and partials on hand-built cases,
and the partials against sympy's own sparse polynomial rings (sympy.polys.rings)."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from theory.errors import AnalysisError
from theory.exp_polynomial import ExpComponent, Polynomial, exp_components, partial

X, Y, W = sympy.symbols("x y w")
SYMBOLS = (X, Y, W)
SLOT_OF = (0, 1, 1)


def by_exponent(components: list[ExpComponent]) -> dict[tuple, tuple[frozenset[int], Polynomial]]:
    return {tuple(sorted(c.p.items())): (c.slots, c.Q) for c in components}


def test_components_of_a_hand_built_output():
    expr = (3 * X**2 * sympy.exp(Y) + X * sympy.exp(Y) - Y + sympy.Rational(1, 2)
            + sympy.Rational(-2, 3) * W * sympy.exp(X * W))
    got = by_exponent(exp_components(expr, SYMBOLS, SLOT_OF, 0))
    assert got == {
        (): (frozenset(), {(0, 1, 0): QQ(-1), (0, 0, 0): QQ(1, 2)}),
        (((0, 1, 0), QQ(1)),): (frozenset({1}), {(2, 0, 0): QQ(3), (1, 0, 0): QQ(1)}),
        (((1, 0, 1), QQ(1)),): (frozenset({0, 1}), {(0, 0, 1): QQ(-2, 3)}),
    }


def test_the_constant_of_an_exponent_is_dropped_and_equal_exponents_merge():
    expr = X * sympy.exp(Y + 1) + X**2 * sympy.exp(1 + Y) + sympy.E * Y * sympy.exp(Y)
    (component,) = exp_components(sympy.expand(expr), SYMBOLS, SLOT_OF, 0)
    assert component.p == {(0, 1, 0): QQ(1)}
    assert component.Q == {(1, 0, 0): QQ(1), (2, 0, 0): QQ(1), (0, 1, 0): QQ(1)}


def test_cancelling_terms_leave_no_component():
    expr = sympy.Add(X * sympy.exp(Y), -X * sympy.exp(Y), Y, evaluate=False)
    assert by_exponent(exp_components(expr, SYMBOLS, SLOT_OF, 0)) == {
        (): (frozenset(), {(0, 1, 0): QQ(1)})}


def test_different_constants_in_one_exponent_are_refused():
    with pytest.raises(AnalysisError, match="different constants"):
        exp_components(X * sympy.exp(Y) + sympy.exp(Y + 1), SYMBOLS, SLOT_OF, 0)


@pytest.mark.parametrize(("expr", "message"), [
    (sympy.sin(X) + Y, "output 3 contains sin[(]x[)]"),
    (sympy.exp(sympy.sin(X)), "the exponent sin[(]x[)] in output 3 contains sin[(]x[)]"),
    (sympy.sqrt(2) * X, "output 3 contains sqrt[(]2[)]"),
    (sympy.Float("0.5") * X, "output 3 contains 0.5"),
])
def test_unsupported_parts_are_named(expr, message):
    with pytest.raises(AnalysisError, match=message):
        exp_components(expr, SYMBOLS, SLOT_OF, 3)


def test_partial_by_hand():
    # Q = x^2 + 3y, p = x w: d/dx (Q e^p) / e^p = 2x + (x^2 + 3y) w
    comp = ExpComponent({(1, 0, 1): QQ(1)}, frozenset({0, 1}),
                        {(2, 0, 0): QQ(1), (0, 1, 0): QQ(3)})
    assert partial(comp, 0) == {(1, 0, 0): QQ(2), (2, 0, 1): QQ(1), (0, 1, 1): QQ(3)}
    assert partial(comp, 1) == {(0, 0, 0): QQ(3)}
    assert partial(comp, 2) == {(3, 0, 0): QQ(1), (1, 1, 0): QQ(3)}


def test_partial_drops_cancelled_coefficients():
    # Q = 1 + x, p = -x: dQ/dx + Q dp/dx = 1 - (1 + x) = -x
    comp = ExpComponent({(1, 0, 0): QQ(-1)}, frozenset({0}), {(0, 0, 0): QQ(1), (1, 0, 0): QQ(1)})
    assert partial(comp, 0) == {(1, 0, 0): QQ(-1)}
    assert partial(comp, 1) == {}


def _polynomials(max_terms: int) -> st.SearchStrategy[Polynomial]:
    monomial = st.tuples(*(st.integers(0, 3) for _ in SYMBOLS))
    coefficient = st.builds(QQ, st.integers(-9, 9).filter(bool), st.integers(1, 7))
    return st.dictionaries(monomial, coefficient, max_size=max_terms)


@settings(max_examples=60, deadline=None)
@given(_polynomials(6), _polynomials(4), st.integers(0, len(SYMBOLS) - 1))
def test_property_partial_equals_sympy_polys_rings(Q, p, v):
    R, *gens = ring(list(SYMBOLS), QQ)
    q_ring, p_ring = R.from_dict(dict(Q)), R.from_dict(dict(p))
    expected = q_ring.diff(gens[v]) + q_ring * p_ring.diff(gens[v])
    got = partial(ExpComponent(p, frozenset(), Q), v)
    assert got == dict(expected)
    assert all(got.values())


@settings(max_examples=30, deadline=None)
@given(_polynomials(5), _polynomials(3), st.integers(0, len(SYMBOLS) - 1))
def test_property_components_and_partials_rebuild_sympy_diff(Q, p, v):
    p = {m: c for m, c in p.items() if any(m)}  # exp(p) without a constant factor
    def expr_of(P: Polynomial) -> sympy.Expr:
        return sympy.Add(*(sympy.Rational(int(c.numerator), int(c.denominator))
                           * sympy.Mul(*(s**e for s, e in zip(SYMBOLS, m, strict=True)))
                           for m, c in P.items()))

    f = sympy.expand(expr_of(Q) * sympy.exp(expr_of(p)))
    rebuilt = sum((expr_of(partial(c, v)) * sympy.exp(expr_of(c.p))
                   for c in exp_components(f, SYMBOLS, SLOT_OF, 0)), sympy.Integer(0))
    assert sympy.expand(rebuilt - sympy.diff(f, SYMBOLS[v])) == 0
