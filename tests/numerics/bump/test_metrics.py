"""Metrics on hand-built cases with exact values, plus properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.bump.metrics import (
    Errors,
    cross_derivative_norm,
    factorization_score,
    layer_factorization_scores,
    pullback_metrics,
    reconstruction_errors,
    target_cross_derivative_norm,
    target_factorization_score,
)
from numerics.bump.models import BumpDecoder
from numerics.bump.task import BumpTask, bump_image, encode
from numerics.core.errors import DataError

XY = torch.tensor([[0.3, -1.2], [1.5, 0.7], [-0.4, 2.0], [2.2, 0.1]], dtype=torch.float64)


def _score(h) -> float:
    (g,) = pullback_metrics(h, XY)
    return factorization_score(g)


def test_slotwise_representation_scores_one():
    h = lambda p: torch.stack([p[:, 0].sin(), p[:, 1] ** 3, p[:, 1].exp()], dim=1)  # noqa: E731
    assert _score(h) == 1.0


def test_known_mixing_values():
    assert _score(lambda p: (p[:, 0] + p[:, 1])[:, None]) == 0.5  # g = [[1, 1], [1, 1]]
    # h = (x, x + y): g = [[2, 1], [1, 1]] -> 1 - 1/3
    assert _score(lambda p: torch.stack([p[:, 0], p[:, 0] + p[:, 1]], 1)) == pytest.approx(
        2 / 3, rel=1e-15)


def test_pullback_metric_is_jacobian_gram():
    h = lambda p: torch.stack([p[:, 0] * p[:, 1], p[:, 0] ** 2], dim=1)  # noqa: E731
    (g,) = pullback_metrics(h, XY)
    x, y = XY[:, 0], XY[:, 1]
    want = torch.stack([torch.stack([y**2 + 4 * x**2, x * y], -1),
                        torch.stack([x * y, x**2], -1)], -2)
    assert torch.allclose(g, want, rtol=1e-14, atol=0)


coefficient = st.floats(min_value=-2, max_value=2, allow_nan=False).filter(lambda c: abs(c) > .1)


@settings(max_examples=20, deadline=None)
@given(a=st.lists(coefficient, min_size=3, max_size=3),
       b=st.lists(coefficient, min_size=3, max_size=3), c=coefficient)
def test_slotwise_is_one_and_mixing_drops(a, b, c):
    def slotwise(p):
        x, y = p[:, 0], p[:, 1]
        return torch.stack([a[0] * x + a[1] * x**2, a[2] * x.sin(), b[0] * y + b[1] * y**3,
                            b[2] * y.tanh()], dim=1)

    assert _score(slotwise) == 1.0
    assert _score(lambda p: slotwise(p) + c * (p[:, 0] * p[:, 1])[:, None]) < 1.0


class _Perfect(BumpDecoder):
    """Renders g(x) g(y)^T straight from the bump codes: the true generator."""

    def __init__(self, task: BumpTask) -> None:
        super().__init__(task)
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def layers(self, code):
        n = self.size
        return [(code[:, :n, None] * code[:, None, n:]).flatten(1) + self.dummy]

    def layer_names(self):
        return ["image"]


def test_perfect_decoder_has_zero_error_and_target_values():
    task = BumpTask(size=12, sigma=1.5, ood=(3, 8))
    model = _Perfect(task)
    errors = reconstruction_errors(model, task)
    assert errors.id_mse == 0.0 and errors.ood_mse == 0.0
    xy = torch.tensor([[1.0, 2.0], [5.5, 7.25], [11.0, 0.0]], dtype=torch.float64)
    assert cross_derivative_norm(model, task, xy) == pytest.approx(
        target_cross_derivative_norm(task, xy), rel=1e-12)
    assert layer_factorization_scores(model, task, xy)["image"] == pytest.approx(
        target_factorization_score(task, xy), rel=1e-12)


def test_target_cross_norm_closed_form():
    """d2 f_uv / dx dy = (u - x)(v - y) / s^4 f_uv, summed in squares over pixels."""
    task = BumpTask(size=12, sigma=1.5, ood=(3, 8))
    x, y, s = 4.25, 6.5, 1.5
    total = sum(((u - x) * (v - y) / s**4 * math.exp(-((u - x) ** 2 + (v - y) ** 2)
                                                       / (2 * s**2))) ** 2
                for u in range(12) for v in range(12))
    got = target_cross_derivative_norm(task, torch.tensor([[x, y]], dtype=torch.float64))
    assert got == pytest.approx(math.sqrt(total), rel=1e-13)


def test_errors_ratio_and_shift():
    assert Errors(0.5, 2.0).ratio == 4.0
    task = BumpTask(size=12, ood=(3, 8), inverted=False)
    model = _Perfect(task)
    with torch.no_grad():
        model.dummy.fill_(0.25)  # every pixel off by 0.25
    errors = reconstruction_errors(model, task)
    assert errors.id_mse == pytest.approx(0.0625) and errors.ood_mse == pytest.approx(0.0625)
    assert bump_image(XY, task).shape == (4, 12, 12)


def test_errors_on_bad_input():
    task = BumpTask(size=12, ood=(3, 8), inputs="onehot")
    with pytest.raises(DataError, match="one-hot"):
        cross_derivative_norm(_Perfect(BumpTask(size=12, ood=(3, 8))), task, XY)
    with pytest.raises(DataError, match="shape"):
        pullback_metrics(lambda p: p, torch.zeros(3, 3))
    with pytest.raises(DataError, match="shape"):
        factorization_score(torch.zeros(3, 2))
    with pytest.raises(DataError, match="does not depend"):
        _score(lambda p: torch.zeros(len(p), 2, dtype=p.dtype) + 0 * p)
    assert encode(XY.abs(), BumpTask(size=12, ood=(3, 8), inputs="raw")).shape == (4, 2)
