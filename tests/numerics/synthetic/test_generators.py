"""numerics.synthetic.generators: neural generators of order n and the numerical order
certificate."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.derivatives import compositional_contrast, jacobian
from numerics.core.errors import ConfigError
from numerics.synthetic.generators import NeuralGenerator, certify_order, make_generator


def _points(d: int, n: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) * 1.6 - 0.8


@pytest.mark.parametrize(("order", "sizes"), [(0, (2, 1, 2)), (1, (2, 1, 2)), (2, (1, 1, 1)),
                                               (3, (1, 1))])
def test_neural_generators_are_certified_of_their_order(order: int, sizes: tuple) -> None:
    gen = make_generator(order, sizes, d_x=24, seed=order, hidden=16)
    assert isinstance(gen, NeuralGenerator) and gen.order == order
    assert gen.slot_sizes == sizes
    z = _points(sum(sizes), n=6)
    cert = certify_order(gen, z)
    assert cert.certified, cert
    if order >= 1:  # claiming one order less must fail
        assert not certify_order(gen, z, order=order - 1).certified


def test_order0_outputs_each_read_exactly_one_slot() -> None:
    gen = make_generator(0, (2, 3), d_x=40, seed=0, hidden=8)
    jac = jacobian(gen, _points(5, n=4)).detach()
    reads = torch.stack([jac[..., :2].abs().amax((0, 2)) > 0, jac[..., 2:].abs().amax((0, 2)) > 0])
    assert torch.all(reads.sum(0) == 1)
    assert torch.equal(reads[1].long(), gen.output_slot)
    counts = torch.bincount(gen.output_slot, minlength=2)
    assert counts.sum() == 40 and torch.all(counts >= torch.tensor([2, 3]))
    assert float(compositional_contrast(gen, _points(5), (2, 3)).detach().abs().max()) == 0.0


def test_order0_slot_maps_are_injective_locally() -> None:
    sizes = (2, 3)
    gen = make_generator(0, sizes, d_x=30, seed=1)
    jac = jacobian(gen, _points(5, n=16)).detach()
    for k, (lo, hi) in enumerate([(0, 2), (2, 5)]):
        rows = gen.output_slot == k
        s = torch.linalg.svdvals(jac[:, rows][..., lo:hi])
        assert float((s[:, -1] / s[:, 0]).min()) > 1e-3


def test_neural_generator_is_seeded_and_batched() -> None:
    z = _points(4, n=3)
    a = make_generator(2, (2, 2), 50, seed=5)(z)
    b = make_generator(2, (2, 2), 50, seed=5)(z)
    c = make_generator(2, (2, 2), 50, seed=6)(z)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    big = make_generator(3, (3, 3, 2), 2000, seed=0)
    out = big(torch.rand(256, 8))
    assert out.shape == (256, 2000) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@settings(max_examples=5, deadline=None)
@given(order=st.integers(1, 2), sizes=st.lists(st.integers(1, 2), min_size=2, max_size=2),
       seed=st.integers(0, 10_000))
def test_property_random_neural_generators_have_their_order(order: int, sizes: list[int],
                                                            seed: int) -> None:
    gen = make_generator(order, sizes, d_x=12, seed=seed, hidden=8)
    assert certify_order(gen, _points(sum(sizes), n=3, seed=seed)).certified


def test_make_generator_errors() -> None:
    with pytest.raises(ConfigError, match="order"):
        make_generator(-1, (2, 2), 10, 0)
    with pytest.raises(ConfigError, match="d_x >= d_z"):
        make_generator(0, (2, 2), 3, 0)
    with pytest.raises(ConfigError, match="at least 2 slots"):
        make_generator(2, (3,), 10, 0)
    with pytest.raises(ConfigError, match="slot_sizes"):
        make_generator(1, (2, 0), 10, 0)
    with pytest.raises(ConfigError, match="hidden"):
        make_generator(1, (2, 2), 10, 0, hidden=0)
