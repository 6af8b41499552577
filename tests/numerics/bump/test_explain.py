"""Exact explanation: the bump has no finite interaction order, its logarithm has order 1."""

from __future__ import annotations

import math

import pytest
import sympy
import torch

from numerics.bump.explain import exact_sigma, explain_bump
from numerics.bump.task import BumpTask, bump_image
from numerics.core.derivatives import cross_derivatives
from numerics.core.errors import ConfigError


@pytest.fixture(scope="module")
def explanation():
    return explain_bump(sigma=1.5, grid=2)


def test_certified_orders(explanation):
    assert explanation.order_bump == math.inf
    assert explanation.order_log == 1
    assert explanation.sigma == sympy.Rational(3, 2)


def test_log_bump_is_not_sufficiently_independent(explanation):
    assert explanation.log_independent is False
    assert (explanation.log_rank, explanation.log_needed) == (3, 4)
    assert {"d2f/dx^2", "d2f/dy^2"} <= set(explanation.log_dependent)


def test_mixed_partial_matches_torch_func_at_every_pixel(explanation):
    """d2 f_uv / dx dy = translate of the certified d2 f_00 / dx dy (float64 autodiff)."""
    x, y = sorted(explanation.mixed_partial.free_symbols, key=str)
    task = BumpTask(size=6, sigma=1.5, ood=(2, 3), inverted=False)
    gen = torch.Generator().manual_seed(0)
    z = torch.rand(5, 2, generator=gen, dtype=torch.float64) * 5
    torch_values = cross_derivatives(lambda p: bump_image(p, task).flatten(1), z, (1, 1),
                                     2).values[:, :, 0]
    exact = sympy.lambdify((x, y), explanation.mixed_partial, modules="math")
    for b in range(len(z)):
        for u, v in [(0, 0), (1, 4), (5, 2)]:
            want = exact(z[b, 0].item() - u, z[b, 1].item() - v)
            assert torch_values[b, u * 6 + v].item() == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_text_and_dict(explanation):
    text = explanation.format()
    assert "infinite" in text and "1 (additive" in text
    data = explanation.to_dict()
    assert data["order_bump"] == "inf" and data["order_log"] == 1 and data["sigma"] == "3/2"


def test_exact_sigma():
    assert exact_sigma(1.0) == 1 and exact_sigma(0.1) == sympy.Rational(1, 10)
    assert exact_sigma("3/2") == sympy.Rational(3, 2)
    for bad in (True, -1.0, "abc", 0):
        with pytest.raises(ConfigError, match="sigma"):
            exact_sigma(bad)
    with pytest.raises(ConfigError, match="grid"):
        explain_bump(grid=0)
