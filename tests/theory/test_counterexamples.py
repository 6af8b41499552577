"""The counterexample catalogue: every certificate re-checks exactly, tampered ones fail."""

from __future__ import annotations

import dataclasses

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import certificates as CT
from theory import counterexamples as C
from theory import exact_json as J
from theory import supports as S
from theory import witnesses as W
from theory.certificates import is_slotwise_map
from theory.errors import CatalogueError
from theory.order import has_order_at_most, interaction_order
from theory.slots import Slots

REQUIRED = {"linear", "low_degree", "higher_order_interaction", "model_order_too_high",
            "latent_dim_too_large", "support_not_aligned_connected"}


def _failed(cert: CT.Certificate) -> list[str]:
    return [c.what for c in cert.checks if not c.passed]


def test_catalogue_has_every_required_entry():
    assert REQUIRED <= set(C.names())
    assert C.names() == tuple(C.CATALOGUE)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_entry_verifies_exactly(name):
    cert = C.verify(C.get(name))
    assert cert.valid, cert.format()
    assert len(cert.checks) >= 5
    data = cert.to_dict()
    assert data["valid"] is True and data["name"] == name


def test_unknown_name_is_a_clear_error():
    with pytest.raises(CatalogueError, match=r"unknown counterexample 'nope'.*linear"):
        C.get("nope")
    with pytest.raises(CatalogueError, match="CounterexampleEntry"):
        C.verify("linear")


def test_higher_order_interaction_maps_f_onto_the_additive_g():
    entry = C.get("higher_order_interaction")
    z = entry.slots.symbols
    f_h = entry.f.xreplace(dict(zip(z, entry.witness.h, strict=True))).expand()
    assert list(f_h) == [z[0], z[1], z[0] ** 2, z[1] ** 2]
    assert entry.witness.h.jacobian(z).det() == sympy.Rational(1, 3)
    assert interaction_order(entry.f, entry.slots) == 2
    assert not has_order_at_most(entry.f, entry.slots, 1)


def test_slotwise_h_is_rejected():
    entry = C.get("linear")
    z1, z2 = entry.slots.symbols
    swapped = W.Reparametrization(sympy.Matrix([2 * z2, z1]), sympy.Matrix([z2, z1 / 2]))
    cert = C.verify(dataclasses.replace(entry, witness=swapped))
    assert _failed(cert) == ["h is not slot-wise up to a permutation of slots"]


def test_non_invertible_h_is_rejected():
    entry = C.get("low_degree")
    z1, z2 = entry.slots.symbols
    bad = W.Reparametrization(sympy.Matrix([z1 + z2, z1 + z2]), sympy.Matrix([z1, z2]))
    failed = _failed(C.verify(dataclasses.replace(entry, witness=bad)))
    assert "det Dh is a non-zero constant" in failed
    assert any("invertible" in w for w in failed)


def test_sufficiently_independent_generator_defeats_the_linear_shear():
    # model_order_too_high's f under an order-1 model: the shear leaves the additive class
    entry = C.get("model_order_too_high")
    cert = C.verify(dataclasses.replace(entry, model_order=1, independent_at={1: True}))
    assert _failed(cert) == ["f o h is in the model class (interaction order <= 1)"]


def test_wrong_claimed_order_is_caught():
    entry = C.get("linear")
    cert = C.verify(dataclasses.replace(entry, generator_order=2))
    assert _failed(cert) == ["generator f has interaction order exactly 2"]


def test_latent_dim_witness_without_mixing_fails():
    entry = C.get("latent_dim_too_large")
    z1, z2 = entry.slots.symbols
    w = entry.witness
    honest = dataclasses.replace(w, embedding=sympy.Matrix([z1, z2 - z2 + 0, z2]))
    cert = C.verify(dataclasses.replace(entry, witness=honest))
    failed = _failed(cert)
    assert "some model slot of phi depends on >= 2 true slots (mixed slots)" in failed
    assert any("reproduces the data" in x for x in failed)


def test_support_witness_that_differs_on_the_support_fails():
    entry = C.get("support_not_aligned_connected")
    z1, _ = entry.slots.symbols
    step = S.smoothstep(z1, sympy.Integer(1), sympy.Integer(2), 2)
    bad = dataclasses.replace(entry.witness, decoder=entry.f + sympy.Matrix([0, 0, step, 0]))
    failed = _failed(C.verify(dataclasses.replace(entry, witness=bad)))
    assert any(x.startswith("f_hat = f exactly on every training box") for x in failed)


def test_support_witness_values_on_each_box():
    entry = C.get("support_not_aligned_connected")
    z = entry.slots.symbols
    diff = entry.witness.decoder - entry.f
    box = {z[0]: sympy.Interval(0, 1), z[1]: sympy.Interval(2, 3)}
    assert [S.restrict(e, box) for e in diff] == [0, 0, -1, -1]
    box = {z[0]: sympy.Interval(0, 1), z[1]: sympy.Interval(1, 2)}
    with pytest.raises(CatalogueError, match="changes branch"):
        S.restrict(diff[2], box)


def test_cpe_boxes_of_the_support_witness_are_exact():
    entry = C.get("support_not_aligned_connected")
    cpe, ood = S.cpe_boxes(entry.witness.train_boxes, entry.slots)
    zero, one, two, three = (sympy.Integer(k) for k in range(4))
    assert cpe == [((zero, one), (zero, one)), ((zero, one), (two, three)),
                   ((two, three), (zero, one)), ((two, three), (two, three))]
    assert ood == [((zero, one), (two, three)), ((two, three), (zero, one))]
    assert all(isinstance(v, sympy.Rational) for box in cpe for pair in box for v in pair)
    assert "cpe_boxes" in S.__all__


def test_cpe_boxes_allow_touching_and_reject_overlapping_projections():
    slots = Slots.from_sizes(1, 1)
    half = sympy.Rational(1, 2)
    one = sympy.Integer(1)
    # projections [0, 1/2] and [1/2, 1] of slot 1 meet only at 1/2: Z_CPE = 2 x 1 boxes
    touching = (((0, half), (0, one)), ((half, one), (0, one)))
    cpe, ood = S.cpe_boxes(touching, slots)
    assert cpe == list(touching) and ood == []
    # [0, 1] and [1/2, 2] overlap on [1/2, 1] without being equal
    overlapping = (((0, one), (0, one)), ((half, 2 * one), (2 * one, 3 * one)))
    with pytest.raises(CatalogueError, match="overlap without being equal"):
        S.cpe_boxes(overlapping, slots)


@settings(max_examples=6, deadline=None)
@given(m=st.integers(min_value=1, max_value=5))
def test_smoothstep_is_a_Cm_step(m):
    t = sympy.Symbol("t", real=True)
    pw = S.smoothstep(t, sympy.Integer(0), sympy.Integer(1), m)
    poly = pw.args[1][0]
    assert poly.subs(t, 0) == 0 and poly.subs(t, 1) == 1
    for j in range(1, m + 1):
        assert sympy.diff(poly, t, j).subs(t, 0) == 0
        assert sympy.diff(poly, t, j).subs(t, 1) == 0
    assert sympy.diff(poly, t, m + 1).subs(t, 0) != 0  # exactly C^m at the breakpoint
    assert pw.subs(t, sympy.Rational(-1, 2)) == 0 and pw.subs(t, 2) == 1


@settings(max_examples=15, deadline=None)
@given(coeffs=st.lists(st.tuples(st.integers(-9, 9), st.integers(1, 9), st.integers(0, 3),
                                 st.integers(0, 3)), min_size=1, max_size=6))
def test_exact_matrix_round_trip(coeffs):
    slots = Slots.from_sizes(1, 1)
    a, b = slots.symbols
    expr = sum((sympy.Rational(p, q) * a**i * b**j for p, q, i, j in coeffs), sympy.Integer(0))
    m = sympy.Matrix([expr, a - b])
    assert J.matrix_from_exact(J.matrix_to_exact(m, slots.symbols), slots.symbols) == m


def test_certify_reparametrization_inverts_affine_maps():
    slots = Slots.from_sizes(1, 1)
    a, b = slots.symbols
    f = sympy.Matrix([a + b, a - b, 2 * a])
    cert = CT.certify_reparametrization(f, slots, 1, sympy.Matrix([a + 3 * b + 1, b]))
    assert cert.valid, cert.format()
    nonaffine = CT.certify_reparametrization(f, slots, 1, sympy.Matrix([a + b**2, b]))
    assert not nonaffine.valid
    assert not is_slotwise_map(sympy.Matrix([a + b**2, b]), slots)
