import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import Slots
from theory.strategies import (
    polynomial_expressions,
    slots_strategy,
    slotwise_reparametrizations,
)


@settings(max_examples=20, deadline=None)
@given(slots_strategy(max_slots=3, max_size=2))
def test_slots_strategy_bounds(slots):
    assert isinstance(slots, Slots)
    assert 1 <= slots.K <= 3 and all(1 <= n <= 2 for n in slots.sizes)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_slotwise_reparametrizations_are_slotwise_and_invertible(data):
    slots = data.draw(slots_strategy(max_slots=3, max_size=2, min_slots=2))
    h = data.draw(slotwise_reparametrizations(slots, permute=True))
    z = slots.symbols
    jac = sympy.Matrix([[sympy.diff(h[s], t) for t in z] for s in z])
    for i, s in enumerate(z):
        sources = {slots.slot(t) for j, t in enumerate(z) if jac[i, j] != 0}
        assert len(sources) == 1
        k = slots.slot(s)
        assert slots.sizes[sources.pop()] == slots.sizes[k]
    point = {t: sympy.Rational(j + 1, 7) for j, t in enumerate(z)}
    assert jac.xreplace(point).evalf(30).det() != 0


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_affine_only_maps_are_affine(data):
    slots = data.draw(slots_strategy(max_slots=2, max_size=2))
    h = data.draw(slotwise_reparametrizations(slots, affine_only=True))
    assert all(sympy.Poly(e, *slots.symbols).total_degree() <= 1 for e in h.values())


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_polynomial_expressions(data):
    slots = data.draw(slots_strategy(max_slots=2, max_size=2))
    expr = data.draw(polynomial_expressions(slots, max_degree=3, max_terms=3))
    assert expr.free_symbols <= set(slots.symbols)
    assert expr == 0 or sympy.Poly(expr, *slots.symbols).total_degree() <= 3
    mixed = data.draw(polynomial_expressions(slots, transcendental=True))
    assert mixed.free_symbols <= set(slots.symbols)
