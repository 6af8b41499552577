import math
import random

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import AnalysisError, Slots
from theory import generators as gen
from theory.class_construction import minimum_outputs
from theory.degree import is_identically_zero
from theory.exp_rational import exp_rational_form
from theory.order import (
    CrossDerivative,
    cross_derivatives,
    has_order_at_most,
    interaction_order,
    interaction_order_bruteforce,
)
from theory.parsing import parse_generator, parse_slots
from theory.strategies import generators, polynomial_expressions, slotwise_reparametrizations

XY = parse_slots("x | y")
X, Y = XY.symbols


def order_of(*texts, slots=XY):
    return interaction_order(parse_generator(list(texts), slots), slots)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x**2 + y", 1),
        ("exp(x)*exp(y)", math.inf),
        ("exp(x + y)", math.inf),
        ("x*y", 2),
        ("x**2*y", 3),
        ("x**3*y**2 + x*y", 5),
        ("exp(x*y)", math.inf),
        ("1/(x + y)", math.inf),
        ("log(x + y)", math.inf),
        ("x*sin(y)", math.inf),
        ("sigmoid(x*y)", math.inf),
        ("x*y*atan(x)", math.inf),
        ("sin(x) + cos(y)", 1),
        ("tanh(x) + x*y**3", 4),
        ("3", 0),
        ("x**3 + sin(x)", 0),
        ("(x + y)**2 - x**2", 2),
        ("(x + y)**2 - 2*x*y", 1),
        ("(x + y)**2 - 2*x*y - y**2", 0),
        ("sin(x)**2*y + cos(x)**2*y", 0),
        ("exp(x)*exp(-x)*x*y", 2),
        ("cosh(x)*y - sinh(x)*y", math.inf),
        ("exp(x)*y - exp(x)*y + x", 0),
        ("sqrt(2)*x*y - sqrt(2)*x*y + x + y", 1),
        ("exp(-(1 - x)**2/2)*exp(-(2 - y)**2/2)", math.inf),
        ("log(exp(-(1 - x)**2/2)*exp(-(2 - y)**2/2))", 1),
        ("sqrt(x**2 + 1)*y", math.inf),
        ("sqrt(x**2 + y**2)", math.inf),
        ("(sqrt(x**2 + 1) + y)**2", math.inf),
        ("(1/(sqrt(x**2 + 1) - x) - sqrt(x**2 + 1))*y", 2),
        ("sqrt(x**2 + 1) + y", 1),
    ],
)
def test_known_interaction_orders(text, expected):
    assert order_of(text) == expected


def test_order_is_the_maximum_over_outputs_and_zero_when_each_output_has_one_slot():
    assert order_of("x", "y**2", "exp(y)") == 0
    assert order_of("x", "x*y", "x + y") == 2
    assert order_of("x*y**3", "x*y") == 4
    assert order_of("x", "exp(x*y)") == math.inf


def test_gaussian_bump_has_no_finite_order_but_its_log_is_additive():
    assert gen.gaussian_bump(3).order == math.inf
    assert interaction_order(gen.gaussian_bump(2, "0.5").f, Slots([[X], [Y]])) == math.inf
    assert gen.gaussian_bump(3, 2, log=True).order == 1


def test_multi_latent_slots():
    slots = parse_slots("a, b | c | d")
    assert order_of("a*b + c + d", slots=slots) == 1
    assert order_of("a*b*c", slots=slots) == 3
    assert order_of("a**5*b + c*d", slots=slots) == 2
    assert order_of("exp(a*b)", "sin(c)", slots=slots) == 0


def test_has_order_at_most():
    f = parse_generator(["x**2*y", "exp(x)"], XY)
    assert has_order_at_most(f, XY, 3)
    assert not has_order_at_most(f, XY, 2)
    with pytest.raises(AnalysisError, match="non-negative"):
        has_order_at_most(f, XY, -1)


@pytest.mark.parametrize("text", ["log(1 + x*y)**(1/3)", "sin(sqrt(x*y))",
                                  "sqrt(y**2 + 2*sqrt(2)*y + 2)*x"])
def test_undecidable_cross_derivative_raises_instead_of_guessing(text):
    # the last one is |y + sqrt(2)| x: a formal factorization over Q[sqrt(2)] would miss the
    # square, so radicands with irrational coefficients are not decided
    with pytest.raises(AnalysisError, match="could not certify"):
        order_of(text)


@pytest.mark.parametrize(
    ("text", "expected", "domain"),
    [
        # issue 13: products and quotients of radicals of slot-wise factors
        ("sqrt(1 + x)*sqrt(1 + y)", math.inf, ["x + 1", "y + 1"]),
        ("sqrt((1 + x**2)*(1 + y**2))", math.inf, ["x**2 + 1", "y**2 + 1"]),
        ("(1 + x**2)**(1/2)*(1 + y**2)**(1/2)", math.inf, ["x**2 + 1", "y**2 + 1"]),
        ("sqrt(1 + x)/sqrt(1 + y)", math.inf, ["x + 1", "y + 1"]),
        ("(1 + x)**(1/3)*sqrt(1 + y) + x*y", math.inf, ["x + 1", "y + 1"]),
        ("sqrt(2)*sqrt(1 + x)*sqrt(1 + y)", math.inf, ["x + 1", "y + 1"]),
        ("sqrt(1 + x)*sqrt(1 + x)*y", 2, []),
        ("sqrt(1 + x)*y", math.inf, ["x + 1"]),
        # no finite order: exp(y log x) = x^y, certified on the slice x = e
        ("exp(y*log(x))", math.inf, []),
        ("x**y", math.inf, []),
        # radicals of perfect squares, on the stated domain
        ("sqrt(x**2 + 2*x*y + y**2)", 1, ["x + y"]),
        ("y*sqrt(x**4 + 2*x**2 + 1)", 3, ["x**2 + 1"]),
        ("y*sqrt(x**2 + 2*x + 1)", 2, ["x + 1"]),
        ("sqrt(x**2 + 2*x*y + y**2) - x - y", 0, ["x + y"]),
        ("sqrt(x**2)*y", 2, ["x"]),
        ("sqrt(4*x**2*y**2)", 2, ["x", "y"]),
    ],
)
def test_radicals_of_slotwise_factors_and_perfect_squares(text, expected, domain):
    from theory.order import stated_domain

    f = parse_generator([text], XY)
    assert interaction_order(f, XY) == expected
    assert [str(p) for p in stated_domain(f, XY)] == domain


@settings(max_examples=10, deadline=None)
@given(a=st.integers(1, 5), b=st.integers(-4, 4), c=st.integers(1, 4), k=st.integers(1, 3))
def test_perfect_square_radicals_match_the_polynomial_on_the_domain(a, b, c, k):
    # sqrt(p^2) * y^k with p = a x + b y + c: equals p y^k where p > 0, whose order is the
    # degree of its cross part
    text = f"sqrt(({a}*x + ({b})*y + {c})**2)*y**{k}"
    f = parse_generator([text], XY)
    p = a * X + b * Y + c
    assert interaction_order(f, XY) == interaction_order([sympy.expand(p * Y**k)], XY)
    x0 = sympy.Rational(1, 2)
    y0 = sympy.Rational(1, 3)
    if p.subs({X: x0, Y: y0}) > 0:
        assert f[0].subs({X: x0, Y: y0}) == (p * Y**k).subs({X: x0, Y: y0})


def test_bad_inputs():
    with pytest.raises(AnalysisError, match="Slots"):
        interaction_order([X * Y], [[X], [Y]])
    with pytest.raises(AnalysisError, match="positive"):
        cross_derivatives([X * Y], XY, 0)


def test_cross_derivatives_exact_hand_case():
    slots = parse_slots("a, b | c")
    a, b, c = slots.symbols
    f = parse_generator(["a**2*c + b*c", "exp(a*c)", "a + c", "a*b"], slots)
    second = cross_derivatives(f, slots, 2)
    assert second == [
        CrossDerivative(0, (a, c), 2 * a),
        CrossDerivative(0, (b, c), sympy.Integer(1)),
        CrossDerivative(1, (a, c), a * c * sympy.exp(a * c) + sympy.exp(a * c)),
    ]
    third = cross_derivatives(f, slots, 3)
    assert [(d.output, d.variables) for d in third if d.output == 0] == [(0, (a, a, c))]
    assert third[0].expr == 2
    assert cross_derivatives(f, slots, 1) == []


def _torch_function(expr, latents):
    fn = sympy.lambdify(latents, expr, modules="torch")
    return lambda z: fn(*z)


def _partial(inner, i):
    """z -> d inner(z) / dz_i with torch.func (forward mode)."""
    return lambda v: torch.func.jacfwd(inner)(v)[i]


def test_cross_derivatives_match_torch_func_at_random_points():
    slots = parse_slots("a, b | c")
    f = parse_generator(["a**2*c*b + sin(b)*c**2", "exp(a*c/3) + tanh(b)*c", "sigmoid(a*c)"],
                        slots)
    gen_t = torch.Generator().manual_seed(0)
    points = torch.rand(3, 3, generator=gen_t, dtype=torch.float64) * 2 - 1
    outputs = [_torch_function(e, slots.symbols) for e in f]
    for order in (2, 3):
        derivs = cross_derivatives(f, slots, order)
        assert derivs
        for d in derivs:
            h = outputs[d.output]
            for i in reversed([slots.symbols.index(s) for s in d.variables]):
                h = _partial(h, i)
            got = torch.vmap(h)(points)
            exact = sympy.lambdify(slots.symbols, d.expr, modules="math")
            for z, value in zip(points.tolist(), got.tolist(), strict=True):
                assert value == pytest.approx(exact(*z), rel=1e-10, abs=1e-12)


def test_exp_rational_form_detects_hidden_polynomials():
    form, ys = exp_rational_form(sympy.exp(2 * X) * sympy.exp(-2 * X) * Y + sympy.sinh(X) ** 2
                                 - sympy.cosh(X) ** 2, XY.symbols)
    assert not (form.free_symbols & ys)
    assert sympy.simplify(form - (Y - 1)) == 0
    assert is_identically_zero(sympy.sin(X) ** 2 + sympy.cos(X) ** 2 - 1, XY)
    assert not is_identically_zero(sympy.exp(X * Y) - 1, XY)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_fast_order_equals_brute_force_differentiation(data):
    slots = data.draw(st.sampled_from([parse_slots("x | y"), parse_slots("a, b | c"),
                                       parse_slots("p | q | r")]))
    exprs = data.draw(st.lists(polynomial_expressions(slots, max_degree=3, max_terms=3,
                                                      transcendental=True),
                               min_size=1, max_size=2))
    bound = 3
    fast = interaction_order(exprs, slots)
    brute = interaction_order_bruteforce(exprs, slots, bound)
    assert brute == (fast if fast <= bound else math.inf)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_generated_generators_have_their_order(order):
    @settings(max_examples=3, deadline=None)
    @given(generators(order=order, max_slots=2, max_size=1))
    def check(g):
        assert interaction_order(g.f, g.slots) == order == g.order

    check()


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_slotwise_diffeomorphisms_keep_orders_zero_and_one(data):
    order = data.draw(st.sampled_from([0, 1]))
    g = data.draw(generators(order=order, max_slots=2, max_size=2, extra_outputs=0))
    h = data.draw(slotwise_reparametrizations(g.slots, permute=True))
    assert interaction_order(g.f.xreplace(h), g.slots) == order


@settings(max_examples=6, deadline=None)
@given(st.data())
def test_non_affine_map_of_an_interacting_slot_raises_order_two(data):
    g = data.draw(generators(order=2, max_slots=2, max_size=1, extra_outputs=0))
    z = g.slots.symbols[0]
    warp = data.draw(st.sampled_from([z + z**3 / 3, sympy.sinh(z), z + z**5]))
    assert interaction_order(g.f.xreplace({z: warp}), g.slots) > 2
    affine = data.draw(slotwise_reparametrizations(g.slots, affine_only=True))
    assert interaction_order(g.f.xreplace(affine), g.slots) == 2


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_non_slotwise_linear_mixing_leaves_the_additive_class(seed):
    g = gen.additive((1, 1), minimum_outputs(1, (1, 1)), seed)
    rng = random.Random(seed)
    while True:
        a = sympy.Matrix(2, 2, [sympy.Rational(rng.choice((1, -1)) * rng.randint(1, 5),
                                               rng.randint(1, 3)) for _ in range(4)])
        if a.det() != 0:
            break
    mixed = g.f.xreplace(dict(zip(g.slots.symbols, a * sympy.Matrix(g.slots.symbols),
                                  strict=True))).applyfunc(sympy.expand)
    assert interaction_order(mixed, g.slots) >= 2
