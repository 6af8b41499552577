"""Tests for the stochastic cross-derivative penalty (numerics.core.cross_penalty): exact
expectation by enumeration, a hand-built case with known values, per-sample entries, training
wiring."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

from numerics.core.cross_penalty import (
    cross_penalty_estimate,
    cross_sample_values,
    draw_cross_samples,
    penalty_tuple_ids,
    stochastic_cross_penalty,
)
from numerics.core.derivatives import (
    cross_derivative_norms,
    cross_derivatives,
    cross_tuples,
    tuple_count,
)
from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.decoder_families import make_decoder
from numerics.synthetic.models import cross_penalty
from numerics.synthetic.translate import from_sympy
from theory.slots import Slots


def _points(d: int, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) * 1.6 - 0.8


def _enumerate(batch: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (point, tuple) pair once: the uniform draw's whole sample space."""
    return (torch.arange(batch).repeat_interleave(count), torch.arange(count).repeat(batch))


@pytest.mark.parametrize("method", ["taylor", "boxes"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_mean_over_the_sample_space_is_the_exact_penalty(method: str, order: int) -> None:
    """E[X] over uniform (point, tuple) pairs = the average over all B*T pairs = P exactly."""
    sizes = (2, 1, 2)
    f = make_decoder("mlp", 1, sizes, 4, hidden=8, seed=order).double()
    z = _points(5, n=4, seed=order)
    count = tuple_count(sizes, order)
    points, ids = _enumerate(4, count)
    estimate = cross_penalty_estimate(f, z, sizes, order, ids, points, method=method)
    exact = cross_derivative_norms(f, z, sizes, order).square().mean()
    assert estimate.samples == 4 * count
    np.testing.assert_allclose(float(estimate.value.detach()), float(exact.detach()), rtol=1e-12)


def test_hand_built_case_values_and_variance() -> None:
    # f = (z0 z2, z1^2 z3) on slots {z0, z1} | {z2, z3}: cross Hessian entries d02 f0 = 1 and
    # d13 f1 = 2 z1, the others 0; T = 4 tuples (0,2), (0,3), (1,2), (1,3)
    slots = Slots.from_sizes(2, 2)
    a, b, c, d = slots.symbols
    f = from_sympy(sympy.Matrix([a * c, b**2 * d]), slots)
    z = torch.tensor([[0.1, 0.5, 0.2, 0.3], [0.4, -1.0, 0.0, 2.0]], dtype=torch.float64)
    assert cross_tuples((2, 2), 2) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    points, ids = _enumerate(2, 4)
    got = cross_penalty_estimate(f, z, (2, 2), 2, ids, points)
    # X(b, t) = 4 * (entry)^2: point 0: 4, 0, 0, 4 * 1; point 1: 4, 0, 0, 4 * 4
    x = np.array([4.0, 0.0, 0.0, 4.0, 4.0, 0.0, 0.0, 16.0])
    assert float(got.value) == pytest.approx(x.mean(), abs=1e-14)
    assert float(got.value) == pytest.approx(np.mean(1 + 4 * z[:, 1].numpy() ** 2), abs=1e-14)
    assert float(got.variance) == pytest.approx(x.var(ddof=1) / 8, abs=1e-13)
    one = cross_penalty_estimate(f, z, (2, 2), 2, torch.tensor([3]), torch.tensor([1]))
    assert float(one.value) == pytest.approx(16.0) and np.isnan(float(one.variance))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sample_values_are_the_cross_entries(order: int) -> None:
    sizes = (2, 2, 1)
    f = make_decoder("mlp", 1, sizes, 3, hidden=8, seed=1).double()
    z = _points(5, n=6, seed=2)
    ids = torch.tensor([0, 3, 1, tuple_count(sizes, order) - 1, 2, 0])
    full = cross_derivatives(f, z, sizes, order).values  # (n, d_x, T)
    expected = full[torch.arange(6), :, ids]
    for method in ("taylor", "boxes"):
        got = cross_sample_values(f, z, sizes, order, ids, method=method)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_models_cross_penalty_with_tuple_ids_is_the_estimate_and_has_gradients() -> None:
    sizes = (2, 2)
    f = make_decoder("mlp", 1, sizes, 3, hidden=8, seed=3).double()
    z = _points(4, n=5, seed=3)
    ids = penalty_tuple_ids(5, sizes, 2, seed=0, step=0)
    value = cross_penalty(f, z, sizes, 1, ids)
    estimate = cross_penalty_estimate(f, z, sizes, 2, ids).value
    assert float(value.detach()) == float(estimate.detach())
    value.backward()
    assert float(f.net.weights[0].grad.abs().max()) > 0


def test_draws_are_seeded_uniform_and_checked() -> None:
    a = penalty_tuple_ids(1000, (2, 2, 2), 2, seed=5, step=7)
    assert torch.equal(a, penalty_tuple_ids(1000, (2, 2, 2), 2, seed=5, step=7))
    assert not torch.equal(a, penalty_tuple_ids(1000, (2, 2, 2), 2, seed=5, step=8))
    assert int(a.min()) == 0 and int(a.max()) == 11
    points, ids = draw_cross_samples(7, (1, 1), 3, 50, torch.Generator().manual_seed(0))
    assert points.shape == ids.shape == (50,) and int(points.max()) <= 6
    assert int(ids.max()) < tuple_count((1, 1), 3)
    with pytest.raises(DataError, match="no cross tuples"):
        penalty_tuple_ids(3, (3,), 2, seed=0, step=0)
    with pytest.raises(ConfigError, match="samples"):
        draw_cross_samples(7, (1, 1), 2, 0)
    with pytest.raises(DataError, match="tuple_ids"):
        cross_sample_values(lambda x: x, _points(2, 3), (1, 1), 2, torch.tensor([0]))


def test_stochastic_penalty_is_close_to_exact_on_average() -> None:
    """A seeded Monte-Carlo check (not the exactness proof, which is the enumeration test):
    the mean of 200 estimates lies within 4 of its standard errors of the exact penalty."""
    sizes = (2, 2, 2)
    f = make_decoder("mlp", 1, sizes, 5, hidden=8, seed=4).double()
    z = _points(6, n=8, seed=4)
    exact = float(cross_derivative_norms(f, z, sizes, 2).square().mean())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        values = torch.stack([stochastic_cross_penalty(f, z, sizes, 2, 16, gen).value
                              for _ in range(200)])
    assert abs(float(values.mean()) - exact) < 4 * float(values.std()) / 200**0.5


def test_training_loss_uses_the_estimate_when_asked() -> None:
    from numerics.synthetic.models import Autoencoder, MLPEncoder
    from numerics.synthetic.population import SingleMember
    from numerics.synthetic.training import TrainConfig, population_loss

    sizes = (2, 2)
    model = Autoencoder(MLPEncoder(6, 4, hidden=8, seed=0),
                        make_decoder("mlp", 1, sizes, 6, hidden=8, seed=0))
    pop = SingleMember(model)
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(0))
    logs = {}
    for tuples in (0, 1, 3):
        config = TrainConfig.from_settings(decoder="mlp", slot_sizes=sizes, cross_penalty=1.0,
                                           penalty_batch=4, penalty_tuples=tuples, seed=2)
        loss, log = population_loss(config)(pop, x, 3)
        again, _ = population_loss(config)(pop, x, 3)
        assert float(loss) == float(again)  # draws fixed by (seed, step)
        logs[tuples] = log["cross"]
    with torch.no_grad():
        z = model.encode(x)[:4]
        exact = float(cross_penalty(model.decoder, z, sizes, 1))
        ids = penalty_tuple_ids(4, sizes, 2, seed=2, step=3)
        one = float(cross_penalty(model.decoder, z, sizes, 1, ids))
    assert logs[0] == pytest.approx(exact, rel=1e-5)
    assert logs[1] == pytest.approx(one, rel=1e-5) and logs[1] != pytest.approx(exact)
    with pytest.raises(ConfigError, match="penalty_tuples"):
        TrainConfig(decoder="mlp", slot_sizes=sizes, penalty_tuples=-1).validate()
