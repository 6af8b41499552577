"""Tests for numerics.core.derivatives: cross-slot partials against sympy and the full tensor."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core import jet_terms
from numerics.core.derivatives import (
    TAYLOR_ROWS,
    compositional_contrast,
    cross_derivative_norms,
    cross_derivatives,
    cross_tuples,
    derivative_tensor,
    forward_passes,
    jacobian,
    passes_lower_bound,
    select_cross,
    tuple_count,
)
from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.generators import make_generator
from numerics.synthetic.translate import from_sympy
from theory import generators as tg
from theory import order as theory_order
from theory.class_construction import minimum_outputs
from theory.slots import Slots


def _points(d: int, n: int = 4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) * 1.6 - 0.8


def _mlp(d_in: int, d_out: int, seed: int, width: int = 16) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d_in, width), torch.nn.Tanh(),
                               torch.nn.Linear(width, width), torch.nn.Tanh(),
                               torch.nn.Linear(width, d_out)).double()


def _sympy_cross(f: sympy.Matrix, slots: Slots, order: int, z: torch.Tensor) -> np.ndarray:
    """Symbolic cross partials (sympy.diff), evaluated in 30-digit mpmath: (batch, d_x, T)."""
    symbols = slots.symbols
    tuples = cross_tuples(slots.sizes, order)
    exprs = [sympy.diff(e, *[symbols[i] for i in t]) for e in f for t in tuples]
    fn = sympy.lambdify(symbols, exprs, modules="mpmath")
    with mpmath.workdps(30):
        vals = np.array([[float(v) for v in fn(*row)] for row in z.tolist()])
    return vals.reshape(z.shape[0], len(f), len(tuples))


SLOTS = Slots.from_sizes(2, 1, 1)
A, B, C, D = SLOTS.symbols
TRANSCENDENTAL = sympy.Matrix([
    sympy.sin(A * C) * sympy.exp(B) + A**3 * D,
    sympy.tanh(A + B * C - D) + sympy.Rational(2, 5) * A * B,
    sympy.log(3 + C**2) * sympy.cos(B + D) + sympy.sqrt(2 + A * C),
])


@pytest.mark.parametrize(("order", "outputs"), [(2, 3), (3, 3), (4, 1)])
def test_cross_derivatives_match_sympy_derivatives(order: int, outputs: int) -> None:
    f = TRANSCENDENTAL[:outputs, :]
    z = _points(4, n=3)
    got = cross_derivatives(from_sympy(f, SLOTS), z, SLOTS.sizes, order)
    assert got.tuples == tuple(cross_tuples(SLOTS.sizes, order))
    expected = _sympy_cross(f, SLOTS, order, z)
    np.testing.assert_allclose(got.values.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_cross_derivatives_match_theory_cross_derivatives_of_a_polynomial() -> None:
    g = tg.bilinear((2, 1), minimum_outputs(2, (2, 1)), seed=2)
    z = _points(3, n=3, seed=4)
    got = cross_derivatives(from_sympy(g), z, g.slots.sizes, 2)
    symbols = g.slots.symbols
    column = {t: c for c, t in enumerate(got.tuples)}
    expected = np.zeros(got.values.shape)
    for cd in theory_order.cross_derivatives(g.f, g.slots, 2):
        t = tuple(symbols.index(s) for s in cd.variables)
        fn = sympy.lambdify(symbols, cd.expr, modules="mpmath")
        expected[:, cd.output, column[t]] = [float(fn(*row)) for row in z.tolist()]
    np.testing.assert_allclose(got.values.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("sizes", "order"), [((1, 2, 2), 2), ((1, 2, 2), 3), ((2, 1), 4)])
def test_cross_derivatives_match_full_tensor_on_an_mlp(sizes: tuple, order: int) -> None:
    d = sum(sizes)
    f = _mlp(d, 3, seed=order)
    z = _points(d, n=3)
    got = cross_derivatives(f, z, sizes, order)
    full = derivative_tensor(f, z, order)
    assert full.shape == (3, 3) + (d,) * order
    expected = select_cross(full, got.tuples)
    assert got.values.shape == (3, 3, tuple_count(sizes, order))
    np.testing.assert_allclose(got.values.detach().numpy(), expected.detach().numpy(),
                               rtol=1e-11, atol=1e-13)


def test_order1_entries_are_products_of_first_derivatives() -> None:
    f = _mlp(3, 2, seed=1)
    z = _points(3, n=2)
    got = cross_derivatives(f, z, (1, 2), 1)
    assert got.tuples == ((0, 1), (0, 2))
    jac = jacobian(f, z)
    np.testing.assert_allclose(got.values.detach().numpy(),
                               (jac[:, :, :1] * jac[:, :, 1:]).detach().numpy(), rtol=1e-15)


def test_compositional_contrast_hand_case() -> None:
    slots = Slots.from_sizes(2, 1)
    x, y, w = slots.symbols
    # output 0: grad (3, 4 | 2) -> |(3,4)| * |2| = 10; output 1 reads slot 0 only -> 0
    f = sympy.Matrix([3 * x + 4 * y + 2 * w, x * y])
    z = _points(3, n=5)
    cc = compositional_contrast(from_sympy(f, slots), z, (2, 1))
    assert torch.all(cc == 10.0)
    norms = cross_derivative_norms(from_sympy(f, slots), z, (2, 1), 1)
    np.testing.assert_allclose(norms.numpy(), 10.0, rtol=1e-15)


def test_compositional_contrast_three_slots_matches_formula() -> None:
    f = _mlp(4, 3, seed=3)
    z = _points(4, n=3)
    sizes = (1, 2, 1)
    jac = jacobian(f, z).detach()
    blocks = [jac[..., :1].norm(dim=-1), jac[..., 1:3].norm(dim=-1), jac[..., 3:].norm(dim=-1)]
    expected = sum(blocks[k] * blocks[m] for k in range(3) for m in range(k + 1, 3)).sum(1)
    got = compositional_contrast(f, z, sizes).detach()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-13)


def test_norms_vanish_for_additive_and_not_at_order_one() -> None:
    gen = make_generator(1, (2, 2), d_x=10, seed=0, hidden=8)
    z = _points(4, n=3)
    assert float(cross_derivative_norms(gen, z, (2, 2), 2).detach().max()) == 0.0
    assert float(cross_derivative_norms(gen, z, (2, 2), 1).detach().min()) > 1e-3
    assert float(compositional_contrast(gen, z, (2, 2)).detach().min()) > 1e-3


def test_generator_of_order_n_has_vanishing_order_n_plus_1() -> None:
    order = 2
    gen = make_generator(order, (1, 1, 1), d_x=8, seed=order, hidden=8)
    z = _points(3, n=3)
    assert float(cross_derivative_norms(gen, z, (1, 1, 1), order + 1).detach().max()) == 0.0
    assert float(cross_derivative_norms(gen, z, (1, 1, 1), order).detach().min()) > 1e-3


def test_batch_chunks_give_the_same_norms() -> None:
    f = _mlp(4, 2, seed=5)
    z = _points(4, n=7)
    whole = cross_derivative_norms(f, z, (2, 2), 2)
    pieces = cross_derivative_norms(f, z, (2, 2), 2, chunk_size=2, batch_chunk=3)
    np.testing.assert_allclose(pieces.detach().numpy(), whole.detach().numpy(), rtol=1e-14)


def test_tuple_counts() -> None:
    assert tuple_count((2, 2, 2), 3) == 44 == len(cross_tuples((2, 2, 2), 3))
    assert tuple_count((2, 2, 2), 2) == 12 and tuple_count((2, 2, 2), 1) == 12
    assert tuple_count((3,), 2) == 0
    assert math.comb(9, 4) - 3 * math.comb(5, 4) == tuple_count((2, 2, 2), 4)


def test_forward_passes_count_the_box_terms() -> None:
    # order 2: boxes S = ({0,1}, {2..5}) and ({2,3}, {4,5}): 3 * 5 + 3 * 3
    assert forward_passes((2, 2, 2), 2, "boxes") == 24
    # order 3: the third level ranges over the slots from a on: 3 * 5 * 7 + 3 * 3 * 5
    assert forward_passes((2, 2, 2), 3, "boxes") == 150
    assert forward_passes((2, 2, 2), 4, "boxes") == 3 * 5 * 7 * 7 + 3 * 3 * 5 * 5
    assert forward_passes((2, 2, 2), 1) == 7 and forward_passes((3,), 2) == 0
    with pytest.raises(DataError, match="slot_sizes"):
        forward_passes((2, 0), 2)
    with pytest.raises(ConfigError, match="method"):
        forward_passes((2, 2), 2, "jet")


def test_forward_passes_count_the_taylor_closure() -> None:
    # all multisets of size <= m - 1 of 6 latents plus the cross tuples: 7 + 12, 28 + 44, 84 + 111
    assert [forward_passes((2, 2, 2), m) for m in (2, 3, 4)] == [19, 72, 195]
    assert [passes_lower_bound((2, 2, 2), m) for m in (1, 2, 3, 4)] == [7, 12, 44, 111]
    assert forward_passes((1, 1), 2) == 3 + 1 == 1 + 2 + tuple_count((1, 1), 2)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=4), order=st.integers(2, 4))
def test_property_taylor_terms_are_the_closure_and_beat_the_boxes(sizes: list[int], order: int
                                                                  ) -> None:
    tuples = cross_tuples(sizes, order)
    n = forward_passes(sizes, order)
    assert n == (len(jet_terms.closure(tuples)) if tuples else 0)
    assert passes_lower_bound(sizes, order) <= n <= forward_passes(sizes, order, "boxes")


@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(1, 2), min_size=2, max_size=3), order=st.integers(2, 3),
       seed=st.integers(0, 1000))
def test_property_box_method_equals_full_tensor(sizes: list[int], order: int, seed: int
                                                ) -> None:
    d = sum(sizes)
    f = _mlp(d, 2, seed=seed, width=8)
    z = _points(d, n=2, seed=seed)
    got = cross_derivatives(f, z, sizes, order, method="boxes")
    expected = select_cross(derivative_tensor(f, z, order), got.tuples)
    np.testing.assert_allclose(got.values.detach().numpy(), expected.detach().numpy(),
                               rtol=1e-11, atol=1e-13)


@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=3), order=st.integers(2, 4),
       seed=st.integers(0, 1000))
def test_property_taylor_equals_boxes(sizes: list[int], order: int, seed: int) -> None:
    d = sum(sizes)
    f = _silu_mlp(d, 2, seed=seed)
    z = _points(d, n=2, seed=seed)
    with torch.no_grad():
        got = cross_derivatives(f, z, sizes, order, method="taylor").values
        expected = cross_derivatives(f, z, sizes, order, method="boxes").values
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_errors() -> None:
    f = _mlp(4, 2, seed=0)
    with pytest.raises(DataError, match="sum to"):
        cross_derivatives(f, _points(4), (2, 1), 2)
    with pytest.raises(DataError, match="shape"):
        cross_derivatives(f, torch.zeros(4, dtype=torch.float64), (2, 2), 2)
    with pytest.raises(DataError, match="floating"):
        cross_derivatives(f, torch.zeros(2, 4, dtype=torch.int64), (2, 2), 2)
    with pytest.raises(ConfigError, match="order"):
        cross_derivative_norms(f, _points(4), (2, 2), 0)
    with pytest.raises(DataError, match="positive integers"):
        compositional_contrast(f, _points(4), (4, 0))


def test_default_chunks_follow_the_taylor_terms_and_change_nothing() -> None:
    from numerics.core.derivatives import CHUNK_TERMS, _box_chunk, _boxes

    sizes = (2, 2, 2)
    boxes = _boxes(sizes, cross_tuples(sizes, 4))
    # box a = 0 carries 3 * 5 * 7 * 7 = 735 terms per sample, box a = 1 carries 3 * 3 * 5 * 5
    assert [_box_chunk(b, 512, None) for b in boxes] == [CHUNK_TERMS // 735, CHUNK_TERMS // 225]
    assert _box_chunk(boxes[0], 10, None) is None and _box_chunk(boxes[0], 512, 7) == 7
    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, 3)).double()
    z = torch.randn(60, 6, dtype=torch.float64)
    with torch.no_grad():
        auto = cross_derivatives(f, z, sizes, 4, method="boxes").values
        whole = cross_derivatives(f, z, sizes, 4, chunk_size=60, method="boxes").values
    torch.testing.assert_close(auto, whole, rtol=1e-13, atol=1e-13)


# --- Taylor method (numerics.core.taylor): exactness, fallback, chunks, gradients
# --------------------

def _silu_mlp(d_in: int, d_out: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d_in, 12), torch.nn.SiLU(),
                               torch.nn.Linear(12, 12), torch.nn.Tanh(),
                               torch.nn.Linear(12, d_out)).double()


@pytest.mark.parametrize("method", ["taylor", "boxes"])
@pytest.mark.parametrize(("sizes", "order"), [((2, 2, 2), 2), ((2, 2, 2), 3), ((2, 1, 1), 4),
                                              ((1, 3), 4)])
def test_both_methods_match_the_full_tensor(method: str, sizes: tuple, order: int) -> None:
    d = sum(sizes)
    f = _silu_mlp(d, 3, seed=order)
    z = _points(d, n=3, seed=order)
    got = cross_derivatives(f, z, sizes, order, method=method).values.detach()
    expected = select_cross(derivative_tensor(f, z, order), cross_tuples(sizes, order)).detach()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("order", "sizes"), [(3, (2, 2, 1)), (4, (2, 1, 1)), (4, (1, 1, 1))])
def test_taylor_matches_sympy_on_polynomial_decoders(order: int, sizes: tuple) -> None:
    """Exact to 1e-12: random sparse polynomials with cross monomials up to degree ``order``
    (evaluated by TorchGenerator as monomials @ coefficients, so the jet goes through powers,
    gathers, products and a matrix product) against sympy.diff of the same expressions."""
    g = tg.random_polynomial(order, sizes, outputs=4, seed=order, degree=5, terms=12)
    z = _points(sum(sizes), n=3, seed=1)
    got = cross_derivatives(from_sympy(g), z, sizes, order, method="taylor")
    expected = _sympy_cross(g.f, g.slots, order, z)
    assert np.abs(expected).max() > 0.1  # the cross partials of degree-`order` monomials
    np.testing.assert_allclose(got.values.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_taylor_matches_the_full_tensor_on_a_polynomial_at_order_4() -> None:
    g = tg.random_polynomial(4, (2, 2), outputs=3, seed=7, degree=4, terms=10)
    z = _points(4, n=4, seed=2)
    f = from_sympy(g)
    got = cross_derivatives(f, z, (2, 2), 4, method="taylor").values
    expected = select_cross(derivative_tensor(f, z, 4), got.shape and cross_tuples((2, 2), 4))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def _unsupported_op(z: torch.Tensor) -> torch.Tensor:
    """A function with an operation the jet does not know (cumprod)."""
    return torch.cumprod(torch.tanh(z), dim=-1)


def test_auto_falls_back_to_boxes_and_taylor_refuses() -> None:
    z = _points(4, n=3)
    auto = cross_derivatives(_unsupported_op, z, (2, 2), 3).values
    expected = select_cross(derivative_tensor(_unsupported_op, z, 3), cross_tuples((2, 2), 3))
    np.testing.assert_allclose(auto.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ConfigError, match="cannot propagate"):
        cross_derivatives(_unsupported_op, z, (2, 2), 3, method="taylor")
    with pytest.raises(ConfigError, match="method"):
        cross_derivatives(_unsupported_op, z, (2, 2), 3, method="jet")


def _type_checked(z: torch.Tensor) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise DataError("z must be a tensor")
    return torch.tanh(z) * z[:, :1]


def test_auto_falls_back_when_f_rejects_a_jet() -> None:
    z = _points(3, n=2)
    got = cross_derivatives(_type_checked, z, (1, 2), 2).values
    expected = select_cross(derivative_tensor(_type_checked, z, 2), cross_tuples((1, 2), 2))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(DataError, match="must be a tensor"):
        cross_derivatives(_type_checked, z, (1, 2), 2, method="taylor")


def test_taylor_chunks_are_bounded_and_change_nothing() -> None:
    from numerics.core.derivatives import _taylor_chunk

    # 195 terms at order 4 on 3 x 2: chunks of 16 samples, for any batch (memory bound)
    assert _taylor_chunk(195, 4096, None) == 16 == 2 ** int(math.log2(TAYLOR_ROWS // 195))
    assert _taylor_chunk(72, 4096, None) == 32 and _taylor_chunk(72, 5, None) == 5
    assert _taylor_chunk(72, 4096, 3) == 3
    f = _silu_mlp(6, 2, seed=3)
    z = _points(6, n=37, seed=3)
    with torch.no_grad():
        whole = cross_derivatives(f, z, (2, 2, 2), 3, chunk_size=37, method="taylor").values
        auto = cross_derivatives(f, z, (2, 2, 2), 3, method="taylor").values
        small = cross_derivatives(f, z, (2, 2, 2), 3, chunk_size=4, method="taylor").values
    torch.testing.assert_close(auto, whole, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(small, whole, rtol=1e-13, atol=1e-14)


def test_taylor_gradients_in_the_parameters_match_the_boxes() -> None:
    f = _silu_mlp(4, 3, seed=4)
    z = _points(4, n=5, seed=4)
    grads = []
    for method in ("taylor", "boxes"):
        f.zero_grad()
        cross_derivative_norms(f, z, (2, 2), 2, method=method).square().mean().backward()
        grads.append([torch.zeros_like(p) if p.grad is None else p.grad.clone()
                      for p in f.parameters()])
    assert float(grads[0][0].abs().max()) > 1e-6
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_taylor_under_a_population_vmap_matches_each_member() -> None:
    from numerics.synthetic.decoder_families import make_decoder
    from numerics.synthetic.population import Population

    members = [make_decoder("mlp", 1, (2, 2), 3, hidden=8, seed=s).double() for s in (0, 1)]
    pop = Population(members)
    z = _points(4, n=3, seed=5)
    got = pop.call(lambda m, zz: cross_derivatives(m, zz, (2, 2), 3, method="taylor").values,
                   z)
    for r, m in enumerate(members):
        expected = cross_derivatives(m, z, (2, 2), 3, method="boxes").values
        torch.testing.assert_close(got[r], expected, rtol=1e-12, atol=1e-14)
