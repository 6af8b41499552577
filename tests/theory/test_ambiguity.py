"""Infinitesimal ambiguity system: exact known answers, certified counterexamples, invariances."""

from __future__ import annotations

import math

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.ambiguity import AmbiguityResult, ambiguities, certify_fields, slotwise_field_count
from theory.ambiguity_system import dense_reference_dimension
from theory.certificates import certify_reparametrization, is_slotwise_map
from theory.errors import AnalysisError
from theory.exp_polynomial import exp_components, partial
from theory.flows import polynomial_flow
from theory.order import has_order_at_most, interaction_order
from theory.slots import Slots

S22 = Slots.from_sizes(2, 2)
A1, A2, B1, B2 = S22.symbols


def additive_rich() -> sympy.Matrix:
    """Sufficiently nonlinear additive generator of 2 x 2 latents (12 outputs)."""
    return sympy.Matrix([
        A1, A2, A1**2, A1 * A2, A2**2 + A1**3,
        B1, B2, B1**2, B1 * B2, B2**2 + B1**3,
        A2**3 + B2**3, A1 * A2**2 - 2 * B1 * B2**2,
    ])


def in_class_direction(f: sympy.Matrix, slots: Slots, order: int, v: sympy.Matrix) -> bool:
    """The defining condition: Df(z) v(z) has interaction order <= n."""
    g = (f.jacobian(slots.symbols) * v).applyfunc(sympy.expand)
    return has_order_at_most(g, slots, order)


def test_sufficiently_nonlinear_additive_has_exactly_the_12_slotwise_affine_fields():
    result = ambiguities(additive_rich(), S22, order=1, degree=1)
    assert isinstance(result, AmbiguityResult)
    assert (result.unknowns, result.slotwise_unknowns) == (20, 12)
    assert (result.dimension, result.slotwise_dimension) == (12, 12)
    assert result.non_slotwise_basis == []
    assert result.counterexample is None
    assert result.is_slotwise


def test_linear_generator_has_all_20_affine_fields_and_a_certified_counterexample():
    A = sympy.Matrix([[1, 2, 0, -1], [0, 1, 3, 1], [2, 0, 1, 1], [1, 1, 1, 0], [0, -2, 1, 5]])
    f = A * sympy.Matrix(S22.symbols)
    result = ambiguities(f, S22, order=1, degree=1)
    assert (result.dimension, result.slotwise_dimension) == (20, 12)
    assert len(result.non_slotwise_basis) == 8
    ce = result.counterexample
    assert ce is not None
    # re-verify the certificate independently
    h = ce.h
    assert h.jacobian(S22.symbols).det() != 0
    assert not is_slotwise_map(h, S22)
    f_h = f.xreplace(dict(zip(S22.symbols, h, strict=True))).applyfunc(sympy.expand)
    assert (f_h - ce.f_h).applyfunc(sympy.expand).is_zero_matrix
    assert has_order_at_most(f_h, S22, 1)
    assert ce.order_of_f_h == interaction_order(f_h, S22) == 1
    assert "certified" in ce.note


def test_matches_dense_reference_on_an_order_3_polynomial():
    f = sympy.Matrix([
        A1**3 + A1 * B1 * B2 + A2, B1**2 * A2 + B2**3, A1**2 * B2 + A2**4,
        A1 * A2 * B1 + B1**4, A1 + B2**2 * A2, A2 * B1,
    ])
    for degree in (1, 2):
        result = ambiguities(f, S22, order=3, degree=degree)
        assert result.dimension == dense_reference_dimension(f, S22, 3, degree)


def test_order2_bilinear_interacting_coordinates_admit_only_affine_fields():
    slots = Slots.from_sizes(2, 2, 1)
    a1, a2, b1, b2, c = slots.symbols
    f = sympy.Matrix([
        a1 + a2**3, a2 + a1**3, a1**2 + a1 * a2**2, a1 * a2 + a1**2 * a2, a2**2 + a1**4,
        b1 + b2**3, b2 + b1**3, b1**2 + b1 * b2**2, b1 * b2 + b1**2 * b2, b2**2 + b1**4,
        c + c**3, c**2 + c**4, c**5 + a1 * b1,
    ])
    assert interaction_order(f, slots) == 2
    result = ambiguities(f, slots, order=2, degree=2)
    s0, s1, s2 = result.slot_fields
    assert s0.affine_only == (a1,) and s1.affine_only == (b1,) and s2.affine_only == ()
    assert (s0.affine_dimension, s0.affine_unknowns) == (6, 6)
    assert (s0.dimension, s0.unknowns) == (9, 12)  # a1 loses its 3 quadratic fields
    assert (s2.dimension, s2.unknowns) == (3, 3)  # the non-interacting slot keeps all fields
    zero = sympy.zeros(5, 1)
    quad_interacting = zero.copy()
    quad_interacting[0] = a1**2
    quad_free = zero.copy()
    quad_free[4] = c**2
    assert not in_class_direction(f, slots, 2, quad_interacting)
    assert in_class_direction(f, slots, 2, quad_free)
    assert result.is_slotwise


def test_order0_uses_the_output_assignment_of_f():
    f = sympy.Matrix([A1**2 + A2, A1 * A2**2, A2**3 - A1, B1**3 + B2, B1 * B2, B2**2 + B1**2])
    result = ambiguities(f, S22, order=0, degree=1)
    assert result.is_slotwise
    assert result.dimension == dense_reference_dimension(f, S22, 0, 1)


def test_exponential_polynomial_generator_is_exact():
    x1, x2, y1, y2 = S22.symbols
    f = sympy.Matrix([x1**2 + y1, sympy.exp(x2) - y2, x1 * x2, y1 * y2, x1**3 + sympy.exp(y2),
                      y1**2 * sympy.exp(y2), x1 * sympy.exp(x2), x2**2, y2**3, y1**3])
    result = ambiguities(f, S22, order=1, degree=1)
    assert (result.dimension, result.slotwise_dimension) == (12, 12)
    # exp(x2) alone, linear elsewhere: the affine field of x1 mixing in y1 survives? check both ways
    g = sympy.Matrix([x1 + y1, sympy.exp(x2) + y2])
    res_g = ambiguities(g, S22, order=1, degree=1)
    basis = res_g.non_slotwise_basis
    assert all(in_class_direction(g, S22, 1, v) for v in basis)
    assert res_g.dimension > res_g.slotwise_dimension


@pytest.mark.parametrize("expr", [
    sympy.sin(A1) + B1,
    sympy.sqrt(2) * A1 + B1,
    sympy.exp(A1 + 1) + sympy.exp(A1) + B1,
])
def test_unsupported_generators_raise(expr):
    with pytest.raises(AnalysisError):
        ambiguities(sympy.Matrix([expr, A2, B2]), S22, order=1, degree=1)


def test_bad_arguments_raise():
    with pytest.raises(AnalysisError, match="order"):
        ambiguities(sympy.Matrix([A1 * B1 * B2]), S22, order=1, degree=1)
    with pytest.raises(AnalysisError):
        ambiguities(additive_rich(), S22, order=-1, degree=1)
    with pytest.raises(AnalysisError):
        ambiguities(additive_rich(), S22, order=1, degree=1.5)


@pytest.mark.parametrize("sizes,degree", [((2, 2), 1), ((1, 3), 2), ((2, 1, 3), 3)])
def test_slotwise_field_count(sizes, degree):
    slots = Slots.from_sizes(*sizes)
    expected = sum(n * math.comb(n + degree, degree) for n in sizes)
    assert slotwise_field_count(slots, degree) == expected
    f = sympy.Matrix([sum(s**2 for s in slots.symbols)])
    assert ambiguities(f, slots, order=1, degree=degree).slotwise_unknowns == expected


def test_is_slotwise_map_allows_slot_permutations():
    assert is_slotwise_map(sympy.Matrix([B1, B2 + B1**2, A1, A2]), S22)
    assert not is_slotwise_map(sympy.Matrix([A1 + B1, A2, B1, B2]), S22)
    assert not is_slotwise_map(sympy.Matrix([B1, B2, B1, A2]), S22)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=16, max_size=16))
def test_random_nonslotwise_linear_mixing_is_not_an_ambiguity(entries):
    B = sympy.Matrix(4, 4, entries)
    cross = [B[i, j] for i in range(4) for j in range(4) if (i < 2) != (j < 2)]
    if not any(cross):
        B[0, 2] = 1
    f = additive_rich()
    v = B * sympy.Matrix(S22.symbols)
    assert not in_class_direction(f, S22, 1, v)
    assert ambiguities(f, S22, order=1, degree=1).is_slotwise  # so v is no solution either


ORDER3 = sympy.Matrix([
    A1**3 + A1 * B1 * B2 + A2, B1**2 * A2 + B2**3, A1**2 * B2 + A2**4, A1 * A2 * B1 + B1**4,
    A1 + B2**2 * A2, A2 * B1, A1**2 + B2**2,
])


@settings(max_examples=4, deadline=None)
@given(st.permutations([0, 1]), st.permutations([0, 1]), st.permutations([0, 1]))
def test_slot_and_coordinate_permutations_leave_dimensions_unchanged(perm, inner0, inner1):
    base = ambiguities(ORDER3, S22, order=3, degree=1)
    blocks = [tuple(S22.blocks[0][i] for i in inner0), tuple(S22.blocks[1][i] for i in inner1)]
    permuted = Slots([blocks[k] for k in perm])
    result = ambiguities(ORDER3, permuted, order=3, degree=1)
    assert (result.dimension, result.slotwise_dimension) == (base.dimension,
                                                             base.slotwise_dimension)
    assert sorted(sf.dimension for sf in result.slot_fields) == sorted(
        sf.dimension for sf in base.slot_fields)


def _reconstructed_partials(f: sympy.Matrix, slots: Slots) -> sympy.Matrix:
    """Jacobian rebuilt from the module's exact decomposition sum_p (dQ + Q dp) exp(p)."""
    symbols = slots.symbols

    def expr_of(P):
        return sum((c_to_rational(c) * sympy.Mul(*(s**e for s, e in zip(symbols, m, strict=True)))
                    for m, c in P.items()), sympy.Integer(0))

    J = sympy.zeros(f.rows, len(symbols))
    for l, out in enumerate(f):
        for comp in exp_components(out, symbols, slots.slot_of, l):
            for i in range(len(symbols)):
                J[l, i] += expr_of(partial(comp, i)) * sympy.exp(expr_of(comp.p))
    return J


def c_to_rational(c) -> sympy.Rational:
    return sympy.Rational(int(c.numerator), int(c.denominator))


EXP_F = sympy.Matrix([A1**2 * sympy.exp(A2) + B1, sympy.exp(B1 + 2 * B2) * (B2 - 3) + A1 * A2,
                      A2**3 - sympy.Rational(1, 2) * sympy.exp(-A1) * A1])


def test_internal_partials_equal_sympy_diff_exactly():
    J = _reconstructed_partials(EXP_F, S22)
    assert (J - EXP_F.jacobian(S22.symbols)).applyfunc(sympy.expand).is_zero_matrix


def test_internal_partials_match_torch_func_at_random_points():
    torch = pytest.importorskip("torch")
    J = _reconstructed_partials(EXP_F, S22)
    jac_fn = sympy.lambdify([S22.symbols], J.tolist(), modules="math")
    f_fn = sympy.lambdify(list(S22.symbols), list(EXP_F), modules="torch")

    def f_torch(z):
        return torch.stack(f_fn(*z))

    gen = torch.Generator().manual_seed(0)
    for z in torch.randn(5, 4, generator=gen, dtype=torch.float64):
        auto = torch.func.jacrev(f_torch)(z)
        exact = torch.tensor(jac_fn(z.tolist()), dtype=torch.float64)
        assert torch.allclose(auto, exact, rtol=1e-12, atol=1e-12)


# --- polynomial (non-affine) fields: exact flows ------------------------------------------------

S111 = Slots.from_sizes(1, 1, 1)
U1, U2, U3 = S111.symbols
T = sympy.Symbol("t")


def test_polynomial_flow_of_a_triangular_field_by_hand():
    # v = (u2^2, u3, 0): u3 fixed, u2(t) = u2 + t u3, u1' = u2(t)^2
    v = sympy.Matrix([U2**2, U3, 0])
    flow = polynomial_flow(v, S111.symbols, T)
    assert flow == sympy.Matrix([U1 + T * U2**2 + T**2 * U2 * U3 + T**3 * U3**2 / 3,
                                 U2 + T * U3, U3])
    # and it solves d/dt phi = v(phi), phi_0 = id
    assert (flow.diff(T) - v.xreplace(dict(zip(S111.symbols, flow, strict=True)))).expand() \
        == sympy.zeros(3, 1)
    assert flow.subs(T, 0) == sympy.Matrix(S111.symbols)


def test_polynomial_flow_is_none_when_the_lie_series_does_not_end():
    assert polynomial_flow(sympy.Matrix([U2, -U1, 0]), S111.symbols, T) is None  # rotation
    assert polynomial_flow(sympy.Matrix([U1**2, 0, 0]), S111.symbols, T) is None  # blow-up


@settings(max_examples=15, deadline=None)
@given(coeffs=st.lists(st.integers(-3, 3), min_size=6, max_size=6))
def test_property_triangular_fields_integrate_to_exact_inverse_pairs(coeffs):
    # v_i depends on later latents only (nilpotent): the flow exists, phi_1 o phi_-1 = id
    a, b, c, d, e, g = (sympy.Integer(x) for x in coeffs)
    v = sympy.Matrix([a * U2**2 + b * U2 * U3 + c * U3**2, d * U3**2 + e * U3 + g, 0])
    forward = polynomial_flow(v, S111.symbols, sympy.Integer(1))
    back = polynomial_flow(v, S111.symbols, sympy.Integer(-1))
    assert forward is not None and back is not None
    composed = forward.xreplace(dict(zip(S111.symbols, back, strict=True))).applyfunc(
        sympy.expand)
    assert composed == sympy.Matrix(S111.symbols)
    flow = polynomial_flow(v, S111.symbols, T)
    residual = flow.diff(T) - v.xreplace(dict(zip(S111.symbols, flow, strict=True)))
    assert residual.applyfunc(sympy.expand) == sympy.zeros(3, 1)


def test_a_quadratic_field_is_certified_with_its_exact_inverse():
    # f is additive and linear in z1, so h = (z1 + z2^2, z2) keeps it additive
    slots = Slots.from_sizes(1, 1)
    z1, z2 = slots.symbols
    f = sympy.Matrix([z1, z2, z2**2, z2**3])
    ce, note = certify_fields(f, slots, 1, [sympy.Matrix([z2**2, 0])])
    assert ce is not None and "Lie series" in note
    assert ce.h == sympy.Matrix([z1 + z2**2, z2])
    assert ce.inverse == sympy.Matrix([z1 - z2**2, z2])
    assert ce.f_h == sympy.Matrix([z1 + z2**2, z2, z2**2, z2**3]) and ce.order_of_f_h == 1
    assert certify_reparametrization(f, slots, 1, ce.h, ce.inverse).valid
    # without the inverse the re-check cannot prove invertibility of a non-affine h
    assert not certify_reparametrization(f, slots, 1, ce.h).valid


def test_a_field_without_terminating_flow_is_not_certified():
    slots = Slots.from_sizes(1, 1)
    z1, z2 = slots.symbols
    f = sympy.Matrix([z1, z2, z2**2, z2**3])
    ce, note = certify_fields(f, slots, 1, [sympy.Matrix([z2**2, z1**2])])
    assert ce is None and "terminating Lie series" in note


# --- the modular shortcut for slot-wise systems agrees with the exact nullspace ------------------


def _both_paths(monkeypatch, f, slots, order, degree):
    import theory.ambiguity
    import theory.modular

    with monkeypatch.context() as m:  # the shortcut on every system size
        m.setattr(theory.ambiguity, "MODULAR_MIN_UNKNOWNS", 0)
        fast = ambiguities(f, slots, order, degree)
    with monkeypatch.context() as m:
        m.setattr(theory.modular, "projected_rank", lambda *args, **kwargs: None)
        exact = ambiguities(f, slots, order, degree)
    return fast, exact


@pytest.mark.parametrize("case", ["additive", "order3", "linear", "order2-degree2"])
def test_modular_shortcut_and_exact_nullspace_agree(monkeypatch, case):
    slots3 = Slots.from_sizes(2, 2, 1)
    a1, a2, b1, b2, c = slots3.symbols
    f, slots, order, degree = {
        "additive": (additive_rich(), S22, 1, 1),
        "order3": (sympy.Matrix([A1**3 + A1 * B1 * B2 + A2, B1**2 * A2 + B2**3,
                                 A1**2 * B2 + A2**4, A1 * A2 * B1 + B1**4, A1 + B2**2 * A2,
                                 A2 * B1]), S22, 3, 2),
        "linear": (sympy.Matrix([[1, 2, 0, -1], [0, 1, 3, 1], [2, 0, 1, 1]])
                   * sympy.Matrix(S22.symbols), S22, 1, 1),
        "order2-degree2": (sympy.Matrix([a1 + a2**3, a2 + a1**3, a1**2 + a1 * a2**2,
                                         b1 + b2**3, b2 + b1**3, b1**2 + b1 * b2**2,
                                         c + c**3, c**2 + c**4, c**5 + a1 * b1]),
                           slots3, 2, 2),
    }[case]
    fast, exact = _both_paths(monkeypatch, f, slots, order, degree)
    assert (fast.dimension, fast.slotwise_dimension, fast.is_slotwise, fast.slot_fields) == (
        exact.dimension, exact.slotwise_dimension, exact.is_slotwise, exact.slot_fields)
    assert len(fast.non_slotwise_basis) == len(exact.non_slotwise_basis)
    assert (fast.counterexample is None) == (exact.counterexample is None)
    if fast.is_slotwise:
        assert "rank modulo a prime" in fast.note
    else:  # a non-slot-wise system never takes the shortcut
        assert fast.note == exact.note


def test_small_systems_skip_the_modular_shortcut(monkeypatch):
    import theory.modular

    def fail(*args, **kwargs):
        raise AssertionError("projected_rank called on a small system")

    monkeypatch.setattr(theory.modular, "projected_rank", fail)
    result = ambiguities(additive_rich(), S22, order=1, degree=1)  # 20 unknowns
    assert result.unknowns < 50 and result.is_slotwise and "modulo" not in result.note
