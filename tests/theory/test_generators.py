import math

import pytest
import sympy

from theory import GeneratorError, SlotError
from theory import generators as gen
from theory.class_construction import minimum_outputs
from theory.independence import sufficient_independence
from theory.order import interaction_order


def test_minimum_outputs():
    assert minimum_outputs(0, (1, 1)) == 2
    assert minimum_outputs(0, (2, 1)) == 4
    assert minimum_outputs(1, (1, 1)) == 4
    assert minimum_outputs(1, (2, 1)) == 2 + 1 + 3 + 1
    assert minimum_outputs(2, (1, 1)) == 2 + 3 + 2


@pytest.mark.parametrize(
    ("build", "order"),
    [
        (lambda: gen.order0((2, 1), 5, seed=3), 0),
        (lambda: gen.additive((1, 2), 7, seed=1, degree=3), 1),
        (lambda: gen.bilinear((1, 1), 7, seed=2), 2),
        (lambda: gen.polynomial(3, (1, 1), 11, seed=0), 3),
    ],
)
def test_class_generators_have_their_order_and_are_sufficiently_independent(build, order):
    g = build()
    assert g.order == order == interaction_order(g.f, g.slots)
    assert sufficient_independence(g.f, g.slots, order).holds is True
    assert all(c.is_Rational for e in g.f for c in sympy.Poly(e, *g.slots.symbols).coeffs())


@pytest.mark.parametrize(
    ("build", "order", "degree"),
    [
        (lambda: gen.order0((2, 1), 5, seed=3, degree=4), 0, 4),
        (lambda: gen.bilinear((1, 1), 7, seed=2, degree=4), 2, 4),
        (lambda: gen.polynomial(1, (2, 1), 7, seed=1, top=5), 1, 5),
        (lambda: gen.polynomial(0, (1, 2), 4, seed=0, top=4), 0, 4),
    ],
)
def test_slot_degree_sets_the_within_slot_degree(build, order, degree):
    """The slot functions reach exactly ``degree`` (total degree of f, since cross terms have
    degree <= order < degree), and order and sufficient independence still hold."""
    g = build()
    assert g.order == order == interaction_order(g.f, g.slots)
    assert sufficient_independence(g.f, g.slots, order).holds is True
    assert max(sympy.Poly(e, *g.slots.symbols).total_degree() for e in g.f) == degree


@pytest.mark.parametrize("call", [
    lambda: gen.order0((1, 1), 2, 0, degree=1), lambda: gen.bilinear((1, 1), 7, 0, degree=2),
    lambda: gen.polynomial(3, (1, 1), 11, 0, top=3), lambda: gen.polynomial(1, (1, 1), 4, 0,
                                                                              top=9),
    lambda: gen.order0((1, 1), 2, 0, degree=True)])
def test_slot_degree_out_of_range_is_refused(call):
    with pytest.raises(GeneratorError, match=r"degree|top"):
        call()


@pytest.mark.parametrize(("order", "family", "degree", "expected_degree"), [
    (0, gen.order0, None, 3), (1, gen.additive, 4, 4), (2, gen.bilinear, None, 3),
    (3, None, None, 4), (3, None, 5, 5)])
def test_of_order_is_the_identifiable_family_of_each_order(order, family, degree,
                                                          expected_degree):
    sizes, outputs = (1, 2), minimum_outputs(order, (1, 2)) + 1
    g = gen.of_order(order, sizes, outputs, seed=4, degree=degree)
    if family is not None:
        expected = family(sizes, outputs, 4, degree=expected_degree)
    else:
        expected = gen.polynomial(order, sizes, outputs, 4, top=expected_degree)
    assert g.f == expected.f and g.name == expected.name and g.order == order
    assert sorted(gen.IDENTIFIABLE_FAMILIES) == [0, 1, 2]
    with pytest.raises(GeneratorError):
        gen.of_order(-1, sizes, outputs, seed=4)


def test_order0_transcendental_variant():
    g = gen.order0((1, 1), 2, seed=0, transcendental=True)
    assert g.f[0].has(sympy.tanh)
    assert interaction_order(g.f, g.slots) == 0


def test_same_seed_same_generator_and_seed_matters():
    assert gen.bilinear((1, 1), 7, seed=5).f == gen.bilinear((1, 1), 7, seed=5).f
    assert gen.bilinear((1, 1), 7, seed=5).f != gen.bilinear((1, 1), 7, seed=6).f


def test_too_few_outputs_says_the_minimum():
    with pytest.raises(GeneratorError, match="at least 7 outputs, got 6"):
        gen.bilinear((1, 1), 6, seed=0)
    with pytest.raises(GeneratorError, match="at least 4 outputs"):
        gen.order0((2, 1), 3, seed=0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: gen.additive((2,), 9, 0), GeneratorError, "at least 2 slots"),
        (lambda: gen.additive((1, 1), 4, 0, degree=1), GeneratorError, "degree >= 2"),
        (lambda: gen.polynomial(-1, (1, 1), 4, 0), GeneratorError, "non-negative"),
        (lambda: gen.linear((1, 1), 0, 0), GeneratorError, "positive integer"),
        (lambda: gen.linear((0, 1), 2, 0), SlotError, "positive integers"),
        (lambda: gen.gaussian_bump(3, 1.5), GeneratorError, "exact"),
        (lambda: gen.gaussian_bump(3, -1), GeneratorError, "positive"),
        (lambda: gen.gaussian_bump(0), GeneratorError, "grid"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_linear_counterexample():
    g = gen.linear((2, 1), 5, seed=1)
    assert g.order == 1
    assert all(sympy.Poly(e, *g.slots.symbols).total_degree() == 1 for e in g.f)
    assert sufficient_independence(g.f, g.slots).holds is False


def test_low_degree_counterexample_fails_only_the_within_slot_columns():
    g = gen.low_degree((1, 1), 30, seed=0)
    assert g.order == 2
    r = sufficient_independence(g.f, g.slots)
    assert r.holds is False
    assert r.dependent_columns == ("d3f/dz1_1^3", "d3f/dz2_1^3")


def test_gaussian_bump_family():
    g = gen.gaussian_bump(3, "0.5")
    assert g.f.shape == (9, 1) and g.order == math.inf
    x, y = g.slots.symbols
    assert g.f[5] == sympy.exp(-2 * (1 - x) ** 2) * sympy.exp(-2 * (2 - y) ** 2)
    log = gen.gaussian_bump(3, "0.5", log=True)
    assert log.order == 1
    assert sympy.expand(log.f[5] - sympy.log(g.f[5]).expand(force=True)) == 0


def test_product_interaction_family():
    g = gen.product_interaction((1, 1), 3, seed=0)
    assert g.order == 4 == interaction_order(g.f, g.slots)
    assert gen.product_interaction((1, 1), 2, seed=0, transcendental=True).order == math.inf


def test_random_polynomial_workload_of_the_benchmark():
    g = gen.random_polynomial(3, (3, 3, 3, 3), 60, seed=0)
    assert g.f.shape == (60, 1) and g.order == 3
    assert max(sympy.Poly(e, *g.slots.symbols).total_degree() for e in g.f) <= 5
    with pytest.raises(GeneratorError, match=">= 2"):
        gen.random_polynomial(1, (1, 1), 3, seed=0)


def _old_class_generator(order, sizes, outputs, seed, top):
    """The construction before the fast path (reference copy): sympy.Add of c * m per output,
    each draw verified on the expression."""
    import random

    from theory.class_construction import class_indices, coefficient, monomial, slots_of_sizes
    from theory.order import interaction_order

    slots = slots_of_sizes(sizes)
    monos = [monomial(v) for v in class_indices(slots, order, top)]
    rng = random.Random(seed)
    for _ in range(gen.MAX_ATTEMPTS):
        f = sympy.Matrix([sympy.Add(*(coefficient(rng) * m for m in monos))
                          for _ in range(outputs)])
        if interaction_order(f, slots) != order:
            continue
        report = sufficient_independence(f, slots, order)
        if report.holds is True:
            return f, report
    raise AssertionError("no draw")


@pytest.mark.parametrize(("order", "sizes", "extra", "seed"), [
    (1, (2, 2), 0, 0), (2, (2, 2), 1, 3), (3, (2, 2), 0, 7), (2, (2, 2, 2), 0, 11),
    (3, (1, 1, 1), 2, 5), (4, (2, 1), 0, 2), (1, (3, 3), 0, 1),
])
def test_fast_construction_gives_the_same_expression_as_before(order, sizes, extra, seed):
    # numerics.synthetic.training builds its exact generators with theory.generators.polynomial: the
    # same arguments must give the same expression, argument for argument, as the old code
    outputs = minimum_outputs(order, sizes) + extra
    new = gen.polynomial(order, sizes, outputs, seed)
    old, old_report = _old_class_generator(order, sizes, outputs, seed, order + 1)
    assert new.f.shape == old.shape
    assert all(a.args == b.args and sympy.srepr(a) == sympy.srepr(b)
               for a, b in zip(new.f, old, strict=True))
    assert new.independence == old_report
    assert new.description.startswith(f"random rational combination of all monomials of"
                                      f" degree <= {order} and within-slot")


def test_fast_sum_handles_unit_and_negative_coefficients():
    from theory.class_construction import sum_of_terms

    x, y = sympy.symbols("x y", real=True)
    monos = [x, x * y, y**2, x**2 * y]
    for coeffs in ([1, -1, sympy.Rational(3, 2), -2], [-1, 1, 1, -sympy.Rational(1, 4)]):
        coeffs = [sympy.Integer(c) if isinstance(c, int) else c for c in coeffs]
        expected = sympy.Add(*(c * m for c, m in zip(coeffs, monos, strict=True)))
        got = sum_of_terms(coeffs, monos)
        assert got == expected and got.args == expected.args


@pytest.mark.parametrize(("order", "sizes", "seed"), [(1, (1, 1), 0), (2, (1, 1), 4),
                                                      (1, (2, 1), 2)])
def test_exp_polynomial_certificate_agrees_with_the_exact_route(order, sizes, seed):
    # the fast modular certificate (exp(a_k . z_k) as indeterminates) against the general
    # exp-rational route of sufficient_independence on the same expression
    g = gen.exp_polynomial(order, sizes, minimum_outputs(order, sizes), seed)
    assert g.order == order == interaction_order(g.f, g.slots)
    assert g.independence.holds is True and "exp(a_k . z_k)" in g.independence.note
    assert sufficient_independence(g.f, g.slots, order).holds is True
    assert any(e.has(sympy.exp) for e in g.f)


def test_exp_linear_certificate_refuses_a_deficient_generator():
    from theory.rank_certificates import exp_linear_certificate
    from theory.slots import Slots

    slots = Slots.from_sizes(1, 1)
    # polynomial part x, y only (no second derivatives) and one exp per slot with equal
    # weight in every output: rank 3 < 4 columns
    terms = [[((1, 0), sympy.Integer(1))], [((0, 1), sympy.Integer(1))],
             [((1, 0), sympy.Integer(2))], [((0, 1), sympy.Integer(3))]]
    weights = [[(0, sympy.Integer(1)), (1, sympy.Integer(1))]] * 4
    assert exp_linear_certificate(terms, weights, [[sympy.Integer(1)], [sympy.Integer(2)]],
                                  slots, 1) is None
