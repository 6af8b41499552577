"""Tests for numerics.synthetic.metrics: block R^2, SIS and MCC on hand-built cases with known
values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.kernel_ridge import KernelRidge

from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.metrics import mcc, slot_identifiability


def _normal(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def _rotation(d: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


def test_perfect_recovery_linear_is_exactly_one() -> None:
    z = _normal(4000, 5, 0)
    res = slot_identifiability(z, z, [2, 1, 2], regressor="linear")
    np.testing.assert_allclose(np.diag(res.r2), 1.0, atol=1e-12)
    assert res.matched_r2 == pytest.approx(1.0, abs=1e-12)
    assert res.permutation == (0, 1, 2)
    off = res.r2[~np.eye(3, dtype=bool)]
    assert off.max() < 0.01
    assert res.sis == pytest.approx(1.0 - res.r2[~np.eye(3, dtype=bool)].reshape(3, 2).max(1)
                                    .mean(), abs=1e-12)
    assert res.sis > 0.99


def test_permuted_slotwise_linear_maps_give_exactly_one_and_the_permutation() -> None:
    z = _normal(3000, 5, 1)
    zh = np.concatenate([z[:, 3:5] @ _rotation(2, 1) * 3 + 1, -2 * z[:, :2], z[:, 2:3] ** 1],
                        axis=1)
    res = slot_identifiability(torch.as_tensor(z), zh, [2, 1, 2], [2, 2, 1],
                               regressor="linear")
    assert res.permutation == (1, 2, 0)
    np.testing.assert_allclose(res.r2[[0, 1, 2], [1, 2, 0]], 1.0, atol=1e-12)


def test_known_mixing_has_r2_one_half_and_sis_zero() -> None:
    # independent standard normal slots; zhat = 45 degree rotation: population R^2 = 1/2 each
    z = _normal(200_000, 2, 2)
    zh = np.stack([z[:, 0] + z[:, 1], z[:, 0] - z[:, 1]], axis=1) / math.sqrt(2)
    res = slot_identifiability(z, zh, [1, 1], regressor="linear")
    np.testing.assert_allclose(res.r2, 0.5, atol=0.01)
    assert res.matched_r2 == pytest.approx(0.5, abs=0.01)
    assert abs(res.sis) < 0.02


def test_kernel_recovers_permuted_slotwise_diffeomorphisms() -> None:
    z = np.random.default_rng(3).uniform(-1, 1, (3000, 4))
    zh = np.concatenate([np.tanh(1.5 * z[:, 2:4]) @ _rotation(2, 3), np.sinh(z[:, :2]) + z[:, :2]],
                        axis=1)
    res = slot_identifiability(z, zh, [2, 2], regressor="kernel")
    assert res.permutation == (1, 0)
    assert res.matched_r2 > 0.97 and res.sis > 0.95


def test_kernel_with_all_landmarks_equals_exact_kernel_ridge() -> None:
    rng = np.random.default_rng(4)
    n, seed = 500, 5
    z = rng.uniform(-1, 1, (n, 2))
    zh = np.stack([z[:, 0] ** 3 + 0.3 * z[:, 1], np.sin(2 * z[:, 1])], axis=1)
    res = slot_identifiability(z, zh, [1, 1], regressor="kernel", seed=seed, n_components=n)
    # exact kernel ridge (alpha = 1) with the same split, scaling and median bandwidth
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    z, zh = z[order], zh[order]
    n_train = 400
    expected = np.zeros((2, 2))
    for j in range(2):
        x = zh[:, j:j + 1]
        x = (x - x[:n_train].mean(0)) / x[:n_train].std(0, ddof=1)
        dist = np.abs(x[:n_train] - x[:n_train].T)[np.triu_indices(n_train, 1)]
        gamma = 1.0 / (2.0 * np.median(dist) ** 2)
        y = (z - z[:n_train].mean(0)) / z[:n_train].std(0, ddof=1)
        model = KernelRidge(alpha=1.0, kernel="rbf", gamma=gamma).fit(x[:n_train], y[:n_train])
        pred = model.predict(x[n_train:])
        ss = ((y[n_train:] - y[n_train:].mean(0)) ** 2).sum(0)
        expected[:, j] = np.clip(1 - ((y[n_train:] - pred) ** 2).sum(0) / ss, 0, None)
    np.testing.assert_allclose(res.r2, expected, atol=1e-6)


def test_mlp_regressor_recovers_nonlinear_slots() -> None:
    z = np.random.default_rng(6).uniform(-1, 1, (2000, 2))
    zh = np.stack([np.tanh(2 * z[:, 1]), z[:, 0] ** 3 + z[:, 0]], axis=1)
    res = slot_identifiability(z, zh, [1, 1], regressor="mlp", seed=1)
    assert res.permutation == (1, 0)
    assert res.matched_r2 > 0.95 and res.sis > 0.9


def test_callable_regressor_matches_linear() -> None:
    def least_squares(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
                      ) -> np.ndarray:
        coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
        return x_test @ coef

    z = _normal(1000, 4, 7)
    zh = z @ _rotation(4, 7)
    ours = slot_identifiability(z, zh, [2, 2], regressor=least_squares)
    ref = slot_identifiability(z, zh, [2, 2], regressor="linear")
    np.testing.assert_allclose(ours.r2, ref.r2, atol=1e-10)
    assert ours.regressor == "least_squares"


def test_more_inferred_slots_than_true_slots() -> None:
    z = _normal(2000, 2, 8)
    zh = np.concatenate([_normal(2000, 1, 9), z[:, 1:], z[:, :1]], axis=1)
    res = slot_identifiability(z, zh, [1, 1], [1, 1, 1], regressor="linear")
    assert res.r2.shape == (2, 3) and res.permutation == (2, 1)


def test_mcc_hand_cases() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 3.0, 2.0, 4.0])  # Pearson = Spearman = 4 / 5 exactly
    assert mcc(x, y) == pytest.approx(0.8, abs=1e-15)
    assert mcc(x, y, "spearman") == pytest.approx(0.8, abs=1e-15)
    z = np.stack([x, y], axis=1)
    zh = np.stack([-2 * y, x + 5], axis=1)  # matched: x <-> x + 5, y <-> -2y
    assert mcc(z, zh) == pytest.approx(1.0, abs=1e-15)
    assert mcc(z, np.exp(zh), "spearman") == pytest.approx(1.0, abs=1e-15)
    assert mcc(z, np.exp(zh), "pearson") < 1.0


def test_errors() -> None:
    z = _normal(100, 3, 0)
    with pytest.raises(DataError, match="rows"):
        slot_identifiability(z, z[:50], [1, 2])
    with pytest.raises(DataError, match="sum to"):
        slot_identifiability(z, z, [1, 1])
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        slot_identifiability(z, bad, [1, 2])
    with pytest.raises(DataError, match="need at least"):
        slot_identifiability(z[:8], z[:8], [1, 2])
    with pytest.raises(DataError, match="inferred slots"):
        slot_identifiability(z, z, [1, 1, 1], [3])
    with pytest.raises(ConfigError, match="unknown regressor"):
        slot_identifiability(z, z, [1, 2], regressor="forest")
    with pytest.raises(ConfigError, match="train_fraction"):
        slot_identifiability(z, z, [1, 2], train_fraction=1.0)
    with pytest.raises(DataError, match="constant"):
        slot_identifiability(np.ones((100, 2)), z[:, :2], [1, 1], regressor="linear")
    with pytest.raises(ConfigError, match="method"):
        mcc(z, z, "kendall")
    with pytest.raises(DataError, match="fewer"):
        mcc(z, z[:, :2])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.permutations([0, 1, 2]))
def test_property_invariant_under_slot_permutation_and_slotwise_affine_maps(
        seed: int, perm: list[int]) -> None:
    z = _normal(1500, 5, seed)
    blocks = [z[:, :2], z[:, 2:3], z[:, 3:]]
    rng = np.random.default_rng(seed + 1)
    maps = [b @ (_rotation(b.shape[1], seed + k) * rng.uniform(0.5, 3.0)) + rng.normal(
        size=b.shape[1]) for k, b in enumerate(blocks)]
    zh = np.concatenate([maps[p] for p in perm], axis=1)
    sizes_hat = [blocks[p].shape[1] for p in perm]
    res = slot_identifiability(z, zh, [2, 1, 2], sizes_hat, regressor="linear", seed=seed)
    ref = slot_identifiability(z, z, [2, 1, 2], regressor="linear", seed=seed)
    assert res.permutation == tuple(perm.index(k) for k in range(3))
    np.testing.assert_allclose(res.r2[:, list(res.permutation)], ref.r2, atol=1e-9)
    assert res.sis == pytest.approx(ref.sis, abs=1e-9)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.permutations([0, 1, 2]))
def test_property_kernel_r2_columns_follow_inferred_slot_permutation(seed: int,
                                                                     perm: list[int]) -> None:
    z = np.random.default_rng(seed).uniform(-1, 1, (800, 3))
    zh = np.tanh(2 * z) + 0.1 * z[:, ::-1]
    res = slot_identifiability(z, zh[:, perm], [1, 1, 1], regressor="kernel", seed=seed)
    ref = slot_identifiability(z, zh, [1, 1, 1], regressor="kernel", seed=seed)
    np.testing.assert_allclose(res.r2, ref.r2[:, perm], atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), angle=st.floats(0.3, 1.2))
def test_property_cross_slot_mixing_strictly_lowers_sis(seed: int, angle: float) -> None:
    z = _normal(3000, 4, seed)
    c, s = math.cos(angle), math.sin(angle)
    zh = z.copy()
    zh[:, 1], zh[:, 2] = c * z[:, 1] - s * z[:, 2], s * z[:, 1] + c * z[:, 2]  # mixes slots
    mixed = slot_identifiability(z, zh, [2, 2], regressor="linear", seed=seed)
    clean = slot_identifiability(z, z, [2, 2], regressor="linear", seed=seed)
    assert mixed.sis < clean.sis - 0.05
    assert mixed.matched_r2 < clean.matched_r2 - 0.02
