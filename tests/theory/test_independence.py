import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import AnalysisError, Slots
from theory import generators as gen
from theory.independence import IndependenceResult, derivative_label, sufficient_independence
from theory.parsing import parse_generator, parse_slots
from theory.strategies import generators, slotwise_reparametrizations

XY = parse_slots("x | y")
X, Y = XY.symbols


def si(texts, slots=XY, order=None) -> IndependenceResult:
    return sufficient_independence(parse_generator(texts, slots), slots, order)


def test_additive_quadratic_pair_is_sufficiently_independent_at_order_one():
    r = si(["x", "x**2", "y", "y**2"], order=1)
    assert (r.holds, r.rank, r.needed, r.order) == (True, 4, 4, 1)
    assert r.method == "random-rational-points"
    assert r.columns == ("df/dx", "df/dy", "d2f/dx^2", "d2f/dy^2")
    assert r.dependent_columns == ()
    f = parse_generator(["x", "x**2", "y", "y**2"], XY)
    cols = [f.diff(X), f.diff(Y), f.diff(X, 2), f.diff(Y, 2)]
    at_witness = sympy.Matrix.hstack(*cols).xreplace(r.witness_point)
    assert all(v.is_Rational for v in r.witness_point.values())
    assert at_witness.rank() == 4


def test_linear_generator_fails_and_names_the_second_derivatives():
    g = gen.linear((1, 1), 4, seed=0)
    r = sufficient_independence(g.f, g.slots)
    assert r.holds is False and r.method == "symbolic"
    assert (r.rank, r.needed) == (2, 4)
    assert r.dependent_columns == ("d2f/dz1_1^2", "d2f/dz2_1^2")


def test_column_labels_and_count_for_multi_latent_slots():
    slots = parse_slots("a, b | c")
    r = si(["a", "b", "c", "a**2", "a*b", "b**2", "c**2"], slots, order=1)
    assert r.columns == ("df/da", "df/db", "df/dc", "d2f/da^2", "d2f/dadb", "d2f/db^2",
                         "d2f/dc^2")
    assert r.holds is True and r.rank == 7
    assert derivative_label((X, X, Y)) == "d3f/dx^2dy"


def test_order_two_needs_the_cross_second_derivative_column():
    r = si(["x", "x**2", "x**3", "y", "y**2", "y**3"], order=2)
    assert r.holds is False
    assert r.dependent_columns == ("d2f/dxdy",)
    assert "d_x = 6 < 7" in r.note
    assert si(["x", "x**2", "x**3", "y", "y**2", "y**3", "x*y"], order=2).holds is True


def test_transcendental_generator_certified_in_exp_rational_form():
    r = si(["exp(x)", "sin(x)", "tanh(y)", "y**3"], order=1)
    assert (r.holds, r.rank, r.needed) == (True, 4, 4)
    assert r.witness_point is None
    dependent = si(["exp(x)", "2*exp(x)", "tanh(y)", "y**3"], order=1)
    assert dependent.holds is False
    assert dependent.rank == 3
    assert dependent.dependent_columns == ("df/dx", "d2f/dx^2")


def test_outside_the_exp_rational_class_full_rank_is_certified_numerically():
    r = si(["x*log(x)", "x", "y", "y**2"], order=1)
    assert (r.holds, r.rank) == (True, 4)
    assert "50-digit" in r.note and all(v > 0 for v in r.witness_point.values())
    undecided = si(["x*log(x)", "2*x*log(x)", "y", "y**2"], order=1)
    assert undecided.holds is None and undecided.rank == 3


@pytest.mark.parametrize(
    ("texts", "holds", "rank", "fragment"),
    [
        (["a", "b", "a + b", "c"], True, 3, "irreducible"),
        (["a", "b", "c", "c**2"], False, 3, "split into independent parts {0} | {1}"),
        (["a + b", "(a + b)**2", "c"], False, 2, "Jacobian rank 1 < 2"),
        (["a*b", "a - b", "a**2", "c"], True, 3, "irreducible"),
        (["a", "b", "a*b"], False, 2, "slot 2: no output depends on it"),
    ],
)
def test_order_zero_irreducibility(texts, holds, rank, fragment):
    slots = parse_slots("a, b | c")
    r = si(texts, slots, order=0)
    assert (r.holds, r.rank, r.needed) == (holds, rank, 3)
    assert fragment in r.note


def test_order_defaults_to_the_interaction_order_and_bad_orders_raise():
    assert si(["x", "x**2", "y", "y**2"]).order == 0
    assert si(["x*y", "x", "x**2", "y", "y**2", "x**3", "y**3"]).order == 2
    with pytest.raises(AnalysisError, match="no finite interaction order"):
        si(["exp(x*y)"])
    with pytest.raises(AnalysisError, match="non-negative"):
        si(["x"], order=-1)
    short = si(["x*y"], order=1)
    assert short.holds is False and "d_x = 1 < 4" in short.note


@settings(max_examples=4, deadline=None)
@given(st.data())
def test_slotwise_affine_maps_keep_sufficient_independence(data):
    g = data.draw(generators(order=1, max_slots=2, max_size=2, extra_outputs=0))
    h = data.draw(slotwise_reparametrizations(g.slots, affine_only=True, permute=True))
    r = sufficient_independence(g.f.xreplace(h).applyfunc(sympy.expand), g.slots, 1)
    assert r.holds is True and r.rank == r.needed


def test_rank_deficiency_is_certified_by_constant_relations_quickly():
    # low-degree generator (quadratic per slot) at n = 2: third derivatives vanish identically
    # and d_x < columns; certified from the coefficient matrix without symbolic elimination
    g = gen.low_degree((2, 2, 1), 18, seed=0)
    result = sufficient_independence(g.f, g.slots, order=2)
    assert result.holds is False and result.method == "symbolic"
    assert result.rank == 18 and result.needed == 29
    assert "d3f/dz1_1^3" in result.dependent_columns
    assert "coefficient matrix" in result.note


def test_constant_relation_certificate_with_enough_outputs():
    # a linear generator with many outputs: rank d_z at every point, the second derivative
    # columns vanish identically, so the generic rank d_z is certified exactly
    slots = Slots.from_sizes(2, 2)
    z = slots.symbols
    rows = [sum((i + j * 3 + 1) ** k * s for k, s in enumerate(z)) for i in range(6)
            for j in range(2)]
    result = sufficient_independence(rows, slots, order=1)
    assert result.holds is False
    assert result.rank == 4 and result.needed == 10
    assert set(result.dependent_columns) == {
        "d2f/dz1_1^2", "d2f/dz1_1dz1_2", "d2f/dz1_2^2", "d2f/dz2_1^2", "d2f/dz2_1dz2_2",
        "d2f/dz2_2^2"}


# --- the modular rank certificate is used for polynomial generators ----------------------------


def test_polynomial_full_rank_is_certified_modulo_the_prime():
    r = si(["x", "x**2", "y", "y**2"], order=1)
    assert r.holds is True and "modulo the prime 33554393" in r.note
    # a rank-deficient polynomial generator still gets the exact QQ / coefficient certificate
    r = si(["x + y", "2*x + 2*y", "x**2", "y**2"], order=1)
    assert r.holds is False and "modulo" not in r.note
