"""Structured decoders have exactly their claimed interaction order (torch.func, float64)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.derivatives import compositional_contrast, cross_derivative_norms
from numerics.core.errors import ConfigError
from numerics.synthetic.decoder_families import make_decoder
from numerics.synthetic.models import (
    Autoencoder,
    MLPDecoder,
    MLPEncoder,
    StructuredDecoder,
    cross_monomials,
    cross_penalty,
    monomial_count,
)

SIZES = (2, 1, 2)


def _points(d: int, n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64) * 2 - 1


def _scale(decoder: torch.nn.Module, z: torch.Tensor) -> float:
    jac = torch.func.vmap(torch.func.jacfwd(lambda v: decoder(v[None])[0]))(z)
    return float(jac.detach().abs().max())


@pytest.mark.parametrize("order", [1, 2, 3])
def test_structured_order_exact(order: int) -> None:
    decoder = make_decoder("structured", order, SIZES, 7, hidden=8, seed=3).double()
    z = _points(sum(SIZES))
    scale = _scale(decoder, z)
    vanishing = cross_derivative_norms(decoder, z, SIZES, order + 1)
    assert float(vanishing.max()) <= 1e-12 * scale
    present = (compositional_contrast(decoder, z, SIZES) if order == 1
               else cross_derivative_norms(decoder, z, SIZES, order))
    assert float(present.min()) > 1e-6 * scale


def test_order0_exact_after_hardening() -> None:
    decoder = make_decoder("structured", 0, SIZES, 9, hidden=8, seed=1).double()
    z = _points(sum(SIZES))
    assert float(compositional_contrast(decoder, z, SIZES).min()) > 1e-6
    decoder.harden()
    assert float(compositional_contrast(decoder, z, SIZES).max()) == 0.0
    assert _scale(decoder, z) > 1e-3
    w = decoder.assignment()
    assert torch.equal(w.sum(0), torch.ones(9, dtype=w.dtype))
    assert float(decoder.penalty()) == 0.0


def test_assignment_penalty_exact_values() -> None:
    decoder = StructuredDecoder(0, (1, 1, 1, 1), 5, hidden=4)
    with torch.no_grad():
        decoder.assignment_logits.zero_()
    assert float(decoder.penalty()) == pytest.approx((1 - 1 / 4) / 2, abs=1e-7)
    with torch.no_grad():
        decoder.assignment_logits.copy_(torch.tensor([[50.0] * 5, [0.0] * 5, [0.0] * 5,
                                                      [0.0] * 5]))
    assert float(decoder.penalty()) < 1e-20


def test_monomial_count_known_values() -> None:
    assert monomial_count((2, 2, 2), 2) == 12
    assert monomial_count((2, 2, 2), 3) == 56
    assert monomial_count((3,), 4) == 0
    assert monomial_count((2, 2, 2), 1) == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.integers(0, 4))
def test_monomial_count_matches_enumeration(sizes: list[int], order: int) -> None:
    monomials = cross_monomials(sizes, order)
    assert len(monomials) == monomial_count(sizes, order) == len(set(monomials))
    slot_of = [k for k, s in enumerate(sizes) for _ in range(s)]
    assert all(2 <= len(t) <= order and len({slot_of[i] for i in t}) >= 2 for t in monomials)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 2), min_size=2, max_size=3), st.integers(1, 3),
       st.integers(0, 10_000))
def test_property_structured_cross_derivatives_vanish(sizes: list[int], order: int,
                                                      seed: int) -> None:
    decoder = make_decoder("structured", order, sizes, 4, hidden=4, seed=seed).double()
    z = _points(sum(sizes), n=3, seed=seed)
    scale = _scale(decoder, z)
    assert float(cross_derivative_norms(decoder, z, sizes, order + 1).max()) <= 1e-12 * scale


def test_mlp_decoder_has_cross_derivatives_and_penalty_differentiable() -> None:
    decoder = make_decoder("mlp", 1, SIZES, 6, hidden=16, seed=0)
    z = _points(sum(SIZES), n=8).float()
    penalty = cross_penalty(decoder, z, SIZES, 1)
    assert float(penalty) > 0
    penalty.backward()
    first = decoder.net.weights[0].grad
    assert first is not None and torch.isfinite(first).all() and float(first.abs().max()) > 0
    structured = make_decoder("structured", 1, SIZES, 6, hidden=8, seed=0).double()
    assert float(cross_penalty(structured, z.double(), SIZES, 1)) == 0.0


def test_same_seed_same_weights() -> None:
    for kind in ("structured", "mlp"):
        a = make_decoder(kind, 2, SIZES, 5, seed=11)
        b = make_decoder(kind, 2, SIZES, 5, seed=11)
        c = make_decoder(kind, 2, SIZES, 5, seed=12)
        z = _points(sum(SIZES)).float()
        assert torch.equal(a(z), b(z))
        assert not torch.equal(a(z), c(z))


def test_autoencoder_shapes() -> None:
    model = Autoencoder(MLPEncoder(10, 5, hidden=16), make_decoder("structured", 2, SIZES, 10))
    x = torch.randn(4, 10)
    z, x_hat = model(x)
    assert z.shape == (4, 5) and x_hat.shape == (4, 10)
    assert isinstance(MLPDecoder(SIZES, 3), MLPDecoder)


@pytest.mark.parametrize("kwargs", [
    {"kind": "transformer", "order": 1, "slot_sizes": SIZES, "d_x": 4},
    {"kind": "structured", "order": -1, "slot_sizes": SIZES, "d_x": 4},
    {"kind": "structured", "order": 1, "slot_sizes": (), "d_x": 4},
    {"kind": "structured", "order": 1, "slot_sizes": (2, 0), "d_x": 4},
    {"kind": "mlp", "order": 1, "slot_sizes": SIZES, "d_x": 0},
    {"kind": "mlp", "order": 1.5, "slot_sizes": SIZES, "d_x": 4},
])
def test_bad_arguments_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        make_decoder(**kwargs)


def test_wrong_latent_dimension_raises() -> None:
    with pytest.raises(ConfigError, match="expects 5 latents"):
        make_decoder("structured", 1, SIZES, 4)(torch.zeros(2, 4))
    with pytest.raises(ConfigError, match="only order-0"):
        make_decoder("structured", 1, SIZES, 4).assignment()
    assert math.isfinite(float(make_decoder("mlp", 0, SIZES, 4).penalty()))
