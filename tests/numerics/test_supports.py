"""Tests for numerics.supports: training supports, OOD samples of Z_CPE minus Z."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.errors import ConfigError, DataError
from numerics.supports import KINDS, make_support


def test_hand_points_are_classified_exactly() -> None:
    band = make_support("band", [2, 1], width=0.25)  # positions are coordinates 0 and 2
    z = torch.tensor([[0.0, 0.9, 0.2], [0.0, -0.9, 0.6], [-1.0, 0.0, -1.0], [0.0, 0.0, 1.5]])
    # |u_1 - u_2| = |z0 - z2| / 2: 0.1 (in), 0.3 (out), 0 (in), outside the box (out)
    assert band.contains(z).tolist() == [True, False, True, False]
    lshape = make_support("lshape", [1, 1], fraction=0.5)
    z = torch.tensor([[0.5, 0.5], [-0.5, 0.9], [0.9, -0.1], [0.1, 0.1]])
    assert lshape.contains(z).tolist() == [False, True, True, False]
    assert make_support("full", [1, 1]).contains(z).all()


@pytest.mark.parametrize("kind", ["band", "lshape"])
def test_train_and_ood_samples_partition_the_box(kind: str) -> None:
    support = make_support(kind, [2, 1, 2])
    train = support.sample_train(4000, 0, dtype=torch.float64)
    ood = support.sample_ood(4000, 1, dtype=torch.float64)
    assert train.shape == ood.shape == (4000, 5)
    assert support.contains(train).all() and not support.contains(ood).any()
    for z in (train, ood):
        assert float(z.min()) >= -1.0 and float(z.max()) <= 1.0
    # slot-supported: every slot position covers its whole interval in training
    for p in support.positions:
        assert float(train[:, p].min()) < -0.95 and float(train[:, p].max()) > 0.95


@pytest.mark.parametrize(("kind", "kw"), [("band", {"width": 0.3}), ("lshape", {"fraction": 0.4}),
                                          ("band", {"width": 0.5})])
def test_training_volume_matches_exact_formula(kind: str, kw: dict) -> None:
    support = make_support(kind, [1, 2, 1], **kw)
    k = 3
    if kind == "band":
        w = kw["width"]
        exact = k * w ** (k - 1) - (k - 1) * w**k
    else:
        exact = 1 - (1 - kw["fraction"]) ** k
    assert support.train_fraction_of_box == pytest.approx(exact, abs=1e-15)
    z = support.sample_cpe(200_000, 3, dtype=torch.float64)
    observed = float(support.contains(z).double().mean())
    assert abs(observed - exact) < 4 * math.sqrt(exact * (1 - exact) / 200_000)


def test_correlated_copula_has_the_exact_rank_correlation() -> None:
    rho = 0.6
    support = make_support("correlated", [1, 1], rho=rho)
    z = support.sample_train(100_000, 0, dtype=torch.float64).numpy()
    # for a Gaussian copula, the correlation of the uniform margins is (6/pi) asin(rho/2)
    expected = 6 / math.pi * math.asin(rho / 2)
    assert abs(np.corrcoef(z.T)[0, 1] - expected) < 0.01
    assert support.contains(torch.as_tensor(z)).all()
    assert not support.has_ood
    with pytest.raises(ConfigError, match="no out-of-support"):
        support.sample_ood(10, 0)


def test_correlated_only_links_matching_positions_across_slots() -> None:
    z = make_support("correlated", [2, 2], rho=0.8).sample_train(50_000, 1).double().numpy()
    corr = np.corrcoef(z.T)
    assert corr[0, 2] > 0.7 and corr[1, 3] > 0.7
    assert abs(corr[0, 1]) < 0.03 and abs(corr[0, 3]) < 0.03


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_deterministic_given_the_generator(kind: str) -> None:
    support = make_support(kind, [2, 2])
    a = support.sample_train(100, torch.Generator().manual_seed(7))
    b = support.sample_train(100, 7)
    assert torch.equal(a, b) and a.dtype == torch.float32
    assert not torch.equal(a, support.sample_train(100, 8))


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4),
       kind=st.sampled_from(["band", "lshape"]), param=st.floats(0.2, 0.8),
       seed=st.integers(0, 2**31))
def test_property_ood_never_in_training_support(sizes: list[int], kind: str, param: float,
                                                seed: int) -> None:
    key = "width" if kind == "band" else "fraction"
    support = make_support(kind, sizes, low=-2.0, high=3.0, **{key: param})
    train = support.sample_train(300, seed, dtype=torch.float64)
    ood = support.sample_ood(300, seed + 1, dtype=torch.float64)
    assert support.contains(train).all() and not support.contains(ood).any()
    assert float(ood.min()) >= -2.0 and float(ood.max()) <= 3.0


def test_validation_errors() -> None:
    with pytest.raises(ConfigError, match="unknown support kind"):
        make_support("disc", [1, 1])
    with pytest.raises(ConfigError, match="width"):
        make_support("band", [1, 1], width=1.5)
    with pytest.raises(ConfigError, match="fraction"):
        make_support("lshape", [1, 1], fraction=0.0)
    with pytest.raises(ConfigError, match="rho"):
        make_support("correlated", [1, 1, 1], rho=-0.6)
    with pytest.raises(ConfigError, match="at least 2 slots"):
        make_support("band", [3])
    with pytest.raises(ConfigError, match="unknown support option"):
        make_support("full", [1, 1], sigma=1.0)
    with pytest.raises(ConfigError, match="low < high"):
        make_support("full", [1, 1], low=1.0, high=0.0)
    with pytest.raises(ConfigError, match="positive integers"):
        make_support("full", [1, 0])
    with pytest.raises(ConfigError, match="non-negative"):
        make_support("full", [1, 1]).sample_train(-1, 0)
    with pytest.raises(ConfigError, match="generator"):
        make_support("full", [1, 1]).sample_train(3, "seed")
    with pytest.raises(DataError, match="shape"):
        make_support("full", [1, 1]).contains(torch.zeros(3, 3))
