"""Bump task: closed-form images, codes, the donut / held-out split, seeded sampling."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.bump.task import (
    BumpTask,
    bump_1d,
    bump_image,
    encode,
    is_ood,
    sample_train_centres,
    split_centres,
)
from numerics.core.errors import ConfigError, DataError

coords = st.floats(min_value=0.0, max_value=27.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(x=coords, y=coords, u=st.integers(0, 27), v=st.integers(0, 27),
       sigma=st.sampled_from([0.5, 1.0, 1.5]), inverted=st.booleans())
def test_image_equals_closed_form(x, y, u, v, sigma, inverted):
    task = BumpTask(sigma=sigma, inverted=inverted)
    image = bump_image(torch.tensor([[x, y]], dtype=torch.float64), task)[0]
    bump = math.exp(-((u - x) ** 2 + (v - y) ** 2) / (2 * sigma**2))
    assert image[u, v].item() == pytest.approx(1 - bump if inverted else bump, abs=1e-15,
                                                rel=1e-13)


def test_image_is_rank_one_outer_product():
    task = BumpTask(inverted=False)
    xy = torch.tensor([[3.0, 20.5], [14.0, 14.0]], dtype=torch.float64)
    images = bump_image(xy, task)
    gx, gy = bump_1d(xy[:, 0], 28, 1.0), bump_1d(xy[:, 1], 28, 1.0)
    assert torch.equal(images, gx[:, :, None] * gy[:, None, :])
    singular = torch.linalg.svdvals(images)
    assert (singular[:, 1] <= 1e-14 * singular[:, 0]).all()


def test_codes():
    xy = torch.tensor([[0.0, 27.0], [6.0, 13.0]])
    raw = encode(xy, BumpTask(inputs="raw"))
    assert torch.allclose(raw, torch.tensor([[-1.0, 1.0], [12 / 27 - 1, 26 / 27 - 1]]))
    onehot = encode(xy, BumpTask(inputs="onehot"))
    assert onehot.shape == (2, 56)
    assert onehot[:, :28].argmax(1).tolist() == [0, 6]
    assert onehot[:, 28:].argmax(1).tolist() == [27, 13]
    assert onehot.sum().item() == 4
    code = encode(xy, BumpTask(inputs="bump", sigma=1.5))
    assert torch.equal(code[:, 28:], bump_1d(xy[:, 1], 28, 1.5))
    with pytest.raises(DataError, match="integer"):
        encode(torch.tensor([[0.5, 1.0]]), BumpTask(inputs="onehot"))
    with pytest.raises(DataError, match="shape"):
        encode(torch.zeros(3), BumpTask())


def test_default_split_is_the_square_donut():
    task = BumpTask()
    train, ood = split_centres(task)
    assert len(ood) == 17 * 17 == 289
    assert len(train) == 784 - 289
    assert not is_ood(train, task).any() and is_ood(ood, task).all()
    # every x value and every y value is seen in training: OOD centres are new combinations
    assert set(train[:, 0].tolist()) == set(range(28)) == set(train[:, 1].tolist())


@pytest.mark.parametrize("continuous", [False, True])
def test_sampling_is_seeded_and_in_distribution(continuous):
    task = BumpTask(continuous=continuous)
    a = sample_train_centres(500, task, torch.Generator().manual_seed(3))
    b = sample_train_centres(500, task, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (500, 2)
    assert not is_ood(a, task).any()
    assert a.min() >= 0 and a.max() <= 27
    assert torch.equal(a, a.round()) != continuous


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 1}, "size"), ({"sigma": 0.0}, "sigma"), ({"ood": (5, 3)}, "ood"),
    ({"ood": (0, 27)}, "no training"), ({"inputs": "pixels"}, "inputs"),
    ({"inputs": "onehot", "continuous": True}, "integer"),
])
def test_invalid_task(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BumpTask(**kwargs)
