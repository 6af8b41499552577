"""Paper-exact metric protocols against the reference formulas, written out here step by step.

Each ``_reference_*`` function below follows the published evaluation code of the paper it
names, operation by operation (scikit-learn scalers and regressors, the same split, the same
clipping and matching), so that the package's protocols can be compared with it on the same
inputs. The last tests show where the references are wrong and the package differs on purpose:
JIS becomes NaN when a pixel's Jacobian is 0, images without foreground count as ARI 1, the
scalar MCC mixes ddof 1 and ddof 0 and exceeds 1, and an all-zero Jacobian gets a positive
compositional contrast.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import adjusted_rand_score, r2_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from numerics.core.errors import ConfigError, DataError
from numerics.sprites.metrics import foreground_ari, jis, normalize_jacobian
from numerics.synthetic.metrics import mcc
from numerics.synthetic.paper_metrics import (
    BLOCK_REGRESSORS,
    block_mcc_lachapelle2023,
    image_compositional_contrast,
    slot_identifiability_brady2023,
)

# --- reference formulas -----------------------------------------------------------------------


def _reference_sis_brady2023(z: np.ndarray, z_hat: np.ndarray, fit_scaler_on: str = "all"
                             ) -> tuple[np.ndarray, float]:
    """Brady et al. 2023: z (n, K, d), z_hat (n, K, dh) -> (R^2 matrix, SIS)."""
    n, k_slots = z.shape[0], z.shape[1]
    cut = int(0.8 * n)
    corr = np.zeros((k_slots, k_slots))
    for i in range(k_slots):
        for j in range(k_slots):
            target, feature = z[:, i], z_hat[:, j]
            rows = slice(None) if fit_scaler_on == "all" else slice(0, cut)
            target = StandardScaler().fit(target[rows]).transform(target)
            feature = StandardScaler().fit(feature[rows]).transform(feature)
            model = KernelRidge(kernel="rbf", alpha=1.0, gamma=None)
            model.fit(feature[:cut], target[:cut])
            corr[i, j] = r2_score(target[cut:], model.predict(feature[cut:]))
    corr = np.maximum(corr, 0.0)
    _, cols = linear_sum_assignment(-corr)
    perm = corr[:, cols]
    on = np.diag(perm)
    off = (perm - np.diag(on)).max(axis=1)
    return corr, float((on - off).mean())


def _reference_block_mcc_lachapelle2023(z: np.ndarray, z_hat: np.ndarray, blocks: int,
                                        make_regressor) -> float:
    """Lachapelle et al. 2023: regressors fitted on the first 80 %, scored on the rest."""
    cut = int(0.8 * len(z))
    feat, target = z_hat.shape[1] // blocks, z.shape[1] // blocks
    corr = np.zeros((blocks, blocks))
    for i in range(blocks):
        for j in range(blocks):
            x = z_hat[:, i * feat:(i + 1) * feat]
            y = z[:, j * target:(j + 1) * target]
            model = make_regressor().fit(x[:cut], y[:cut])
            corr[i, j] = max(r2_score(y[cut:], model.predict(x[cut:])), 0.0)
    rows, cols = linear_sum_assignment(-np.abs(corr))
    return 100.0 * np.abs(corr)[rows, cols].sum() / blocks


def _reference_image_contrast(jac: torch.Tensor, slot_dim: int) -> torch.Tensor:
    """Brady et al. 2023, weighted contrast of (B, P, d_z) Jacobians (mean over the batch)."""
    b, p, d_z = jac.shape
    k_slots = d_z // slot_dim
    rows = torch.stack(torch.split(jac.reshape(b * p, d_z), slot_dim, dim=1))
    norms = torch.norm(rows, dim=2).view(k_slots, b, p).permute(1, 0, 2) + 1e-12
    mean = norms.sum(1) / k_slots
    normed = norms / mean.unsqueeze(1)
    weights = mean / mean.max(1)[0].unsqueeze(1)
    total = 0
    for i in range(k_slots):
        for j in range(i, k_slots - 1):
            total = total + normed[:, i] * normed[:, j + 1]
    return (total * weights).sum(1).mean()


def _reference_jis(normalized: torch.Tensor) -> torch.Tensor:
    """JIS of the interaction-asymmetry code: normalized (B, K, P), pixels with max > 0."""
    k_slots = normalized.shape[1]
    best = normalized.flatten(2).max(1)[0].flatten()
    mean = best[torch.nonzero(best).flatten()].mean()
    return (mean - 1 / k_slots) / (1 - 1 / k_slots)


def _reference_ari(true_mask: torch.Tensor, pred_mask: torch.Tensor) -> float:
    """ARI of the interaction-asymmetry code: one-hot masks (B, O + 1, P) and (B, K, P),
    ground-truth channel 0 = background ignored."""
    t = true_mask.argmax(1).flatten(1)
    p = pred_mask.argmax(1).flatten(1)
    return float(np.mean([adjusted_rand_score(t[i][t[i] >= 1], p[i][t[i] >= 1])
                          for i in range(len(t))]))


def _reference_mcc(z: np.ndarray, z_hat: np.ndarray) -> float:
    """Scalar MCC of Lachapelle et al. 2023 (np.cov has ddof 1, np.std ddof 0), times 100."""
    d = z_hat.shape[1]
    corr = np.array([[np.cov(z_hat[:, i], z[:, j])[0, 1] / (np.std(z_hat[:, i]) * np.std(z[:, j]))
                      for j in range(d)] for i in range(d)])
    rows, cols = linear_sum_assignment(-np.abs(corr))
    return 100.0 * np.abs(corr)[rows, cols].sum() / d


def _slot_latents(n: int, k_slots: int, d: int, seed: int, mixing: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """z (n, K, d) uniform; z_hat: a slot-wise nonlinear map, inferred slots reversed, plus
    ``mixing`` times the neighbouring slot."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, (n, k_slots, d))
    own = np.tanh(1.5 * z) + 0.3 * z ** 3
    z_hat = own + mixing * np.roll(z, 1, axis=1)
    return z, z_hat[:, ::-1].copy()


# --- agreement with the references ------------------------------------------------------------


@pytest.mark.parametrize("fit_scaler_on", ["all", "train"])
@pytest.mark.parametrize("mixing", [0.0, 0.7])
def test_brady2023_sis_equals_the_reference(fit_scaler_on: str, mixing: float) -> None:
    z, z_hat = _slot_latents(250, 3, 2, seed=1, mixing=mixing)
    r2_ref, sis_ref = _reference_sis_brady2023(z, z_hat, fit_scaler_on)
    ours = slot_identifiability_brady2023(z.reshape(250, -1), z_hat.reshape(250, -1), [2] * 3,
                                          standardize_on=fit_scaler_on)
    np.testing.assert_allclose(ours.r2, r2_ref, atol=1e-6)
    assert ours.sis == pytest.approx(sis_ref, abs=1e-6)
    assert ours.permutation == (2, 1, 0)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(60, 160), d=st.integers(1, 3),
       mixing=st.floats(0.0, 1.0))
def test_property_brady2023_sis_equals_the_reference(seed: int, n: int, d: int,
                                                     mixing: float) -> None:
    z, z_hat = _slot_latents(n, 2, d, seed=seed, mixing=mixing)
    r2_ref, sis_ref = _reference_sis_brady2023(z, z_hat)
    ours = slot_identifiability_brady2023(z.reshape(n, -1), z_hat.reshape(n, -1), [d, d])
    np.testing.assert_allclose(ours.r2, r2_ref, atol=1e-6)
    assert ours.sis == pytest.approx(sis_ref, abs=1e-6)


@pytest.mark.parametrize(("name", "make_regressor"), [
    ("linear-no-intercept", lambda: LinearRegression(fit_intercept=False)),
    ("linear", lambda: LinearRegression(fit_intercept=True)),
    ("tree", lambda: DecisionTreeRegressor(max_depth=10, random_state=0)),
])
def test_lachapelle2023_block_mcc_equals_the_reference(name: str, make_regressor) -> None:
    z, z_hat = _slot_latents(300, 2, 2, seed=3, mixing=0.4)
    z, z_hat = z.reshape(300, -1), z_hat.reshape(300, -1) + 0.5
    reference = _reference_block_mcc_lachapelle2023(z, z_hat, 2, make_regressor)
    ours = block_mcc_lachapelle2023(z, z_hat, [2, 2], regressor=name)
    assert 100 * ours.matched_r2 == pytest.approx(reference, abs=1e-6)
    assert ours.regressor == f"lachapelle2023-{name}"


def test_lachapelle2023_block_mcc_takes_any_regressor_callable() -> None:
    alphas = np.linspace(1e-2, 1e1, 20)

    def ridge_cv(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        return RidgeCV(alphas=alphas, cv=3).fit(x_train, y_train).predict(x_test)

    z, z_hat = _slot_latents(200, 3, 1, seed=4, mixing=0.5)
    z, z_hat = z.reshape(200, -1), z_hat.reshape(200, -1)
    reference = _reference_block_mcc_lachapelle2023(
        z, z_hat, 3, lambda: RidgeCV(alphas=alphas, cv=3))
    ours = block_mcc_lachapelle2023(z, z_hat, [1, 1, 1], regressor=ridge_cv)
    assert 100 * ours.matched_r2 == pytest.approx(reference, abs=1e-6)
    assert ours.permutation == (2, 1, 0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.integers(1, 4), pixels=st.integers(1, 30),
       k_slots=st.integers(2, 4), slot_dim=st.integers(1, 3))
def test_property_image_contrast_equals_the_reference(seed: int, batch: int, pixels: int,
                                                      k_slots: int, slot_dim: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    jac = torch.randn(batch, pixels, k_slots * slot_dim, generator=gen, dtype=torch.float64)
    jac = jac * (torch.rand(batch, pixels, 1, generator=gen, dtype=torch.float64) + 0.1)
    ours = image_compositional_contrast(jac, [slot_dim] * k_slots)
    assert ours.shape == (batch,)
    assert float(ours.mean()) == pytest.approx(float(_reference_image_contrast(jac, slot_dim)),
                                               abs=1e-6)


# --- exact values on hand-built cases ---------------------------------------------------------


def test_block_mcc_of_permuted_affine_blocks_is_exactly_one() -> None:
    z = np.random.default_rng(5).normal(size=(120, 5))
    z_hat = np.concatenate([z[:, 3:] @ np.array([[2.0, 1.0], [0.0, 1.0]]) - 3, 4 * z[:, :3]],
                           axis=1)
    res = block_mcc_lachapelle2023(z, z_hat, [3, 2], [2, 3])
    assert res.permutation == (1, 0)
    assert res.matched_r2 == pytest.approx(1.0, abs=1e-12)
    # without an intercept the shifted block is predicted worse, the unshifted one exactly
    no_intercept = block_mcc_lachapelle2023(z, z_hat, [3, 2], [2, 3],
                                            regressor="linear-no-intercept")
    assert no_intercept.r2[0, 1] == pytest.approx(1.0, abs=1e-12)
    assert no_intercept.r2[1, 0] < 1.0


def test_image_contrast_hand_values() -> None:
    # pixel norms (1, 3): m = 2, term 3/4, weight 1; pixel 0: contributes 0
    jac = torch.tensor([[[1.0, 3.0], [0.0, 0.0]]])
    assert image_compositional_contrast(jac, [1, 1]).item() == 0.75
    # three slots with norms (1, 2, 2) on pixel 0 (m = 5/3, weight 1): (2 + 2 + 4) / m^2;
    # pixel 1 depends on one slot only: term 0 whatever its weight (1/10)
    jac = torch.tensor([[[1.0, 0.0, 2.0, 0.0, 0.0, 2.0], [0.5, 0.0, 0.0, 0.0, 0.0, 0.0]]])
    assert image_compositional_contrast(jac, [2, 2, 2]).item() == pytest.approx(
        8 / (5 / 3) ** 2, abs=1e-14)
    # all three slots equal on one pixel: the maximum K(K - 1)/2 = 3
    assert image_compositional_contrast(torch.ones(1, 1, 3), [1, 1, 1]).item() == 3.0
    one_slot_per_pixel = torch.tensor([[[0.0, 5.0], [2.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]])
    assert torch.equal(image_compositional_contrast(one_slot_per_pixel, [1, 1]),
                       torch.tensor([0.0, 2.0], dtype=torch.float64))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_property_image_contrast_is_scale_free(seed: int, scale: float) -> None:
    jac = torch.randn(2, 7, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(image_compositional_contrast(scale * jac, [2, 2]),
                               image_compositional_contrast(jac, [2, 2]), rtol=1e-12, atol=0)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.permutations([0, 1, 2]),
       scales=st.lists(st.floats(0.1, 10.0), min_size=3, max_size=3))
def test_property_brady2023_sis_follows_permutations_and_ignores_column_scales(
        seed: int, perm: list[int], scales: list[float]) -> None:
    z, z_hat = _slot_latents(90, 3, 1, seed=seed, mixing=0.3)
    z, z_hat = z.reshape(90, 3), z_hat.reshape(90, 3)
    base = slot_identifiability_brady2023(z, z_hat, [1, 1, 1])
    moved = slot_identifiability_brady2023(z, z_hat[:, perm] * np.array(scales) - 2.0,
                                           [1, 1, 1])
    np.testing.assert_allclose(moved.r2, base.r2[:, perm], atol=1e-9)
    assert moved.sis == pytest.approx(base.sis, abs=1e-9)


def test_paper_protocol_errors() -> None:
    z = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ConfigError, match="standardize_on"):
        slot_identifiability_brady2023(z, z, [1, 1], standardize_on="test")
    with pytest.raises(ConfigError, match="alpha"):
        slot_identifiability_brady2023(z, z, [1, 1], alpha=0.0)
    with pytest.raises(ConfigError, match="train_fraction"):
        block_mcc_lachapelle2023(z, z, [1, 1], train_fraction=1.5)
    with pytest.raises(ConfigError, match="unknown block regressor"):
        block_mcc_lachapelle2023(z, z, [1, 1], regressor="forest")
    with pytest.raises(DataError, match="need at least"):
        block_mcc_lachapelle2023(z[:12], z[:12], [1, 1])
    with pytest.raises(DataError, match="failed on true block 0"):
        block_mcc_lachapelle2023(z, z, [1, 1], regressor=lambda a, b, c: 1 / 0)
    with pytest.raises(DataError, match="columns"):
        block_mcc_lachapelle2023(z, z, [1, 1], regressor=lambda a, b, c: np.zeros((len(c), 3)))
    with pytest.raises(DataError, match="inferred slots"):
        slot_identifiability_brady2023(z, z, [1, 1], [2])
    with pytest.raises(DataError, match="shape"):
        image_compositional_contrast(torch.ones(3, 4), [2, 2])
    with pytest.raises(DataError, match="2 slots"):
        image_compositional_contrast(torch.ones(1, 3, 2), [2])
    assert set(BLOCK_REGRESSORS) == {"linear", "linear-no-intercept", "tree"}


# --- where the references are wrong -----------------------------------------------------------


def test_jis_reference_is_nan_where_a_pixel_jacobian_is_zero() -> None:
    jac = torch.tensor([[[3.0, 1.0], [1.0, 1.0], [0.0, 2.0]]], dtype=torch.float64)
    all_fg = torch.ones(1, 3, dtype=torch.bool)
    # no zero pixel: the two agree (the reference pools every pixel, so all are foreground)
    assert jis(jac, all_fg) == pytest.approx(
        float(_reference_jis((jac / jac.sum(-1, keepdim=True)).transpose(1, 2))), abs=1e-15)
    jac[0, 1] = 0.0  # a pixel that no slot moves
    reference = _reference_jis((jac / jac.sum(-1, keepdim=True)).transpose(1, 2))
    assert torch.isnan(reference)
    # the package gives such a pixel the uniform 1/K: max 1/2, so m = (3/4 + 1/2 + 1) / 3
    assert normalize_jacobian(jac)[0, 1].tolist() == [0.5, 0.5]
    assert jis(jac, all_fg) == pytest.approx((0.75 + 0.5 + 1.0) / 3 * 2 - 1, abs=1e-15)


def test_ari_reference_counts_images_without_foreground_as_one() -> None:
    truth = torch.tensor([[1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0]])  # image 2: background only
    pred = torch.tensor([[0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 2]])
    true_mask = torch.nn.functional.one_hot(truth, 3).transpose(1, 2)
    pred_mask = torch.nn.functional.one_hot(pred, 3).transpose(1, 2)
    assert _reference_ari(true_mask, pred_mask) == pytest.approx((8 / 33 + 1.0) / 2, abs=1e-12)
    # the package skips images without foreground pixels: only the first counts
    scores = torch.nn.functional.one_hot(pred, 3).double()
    assert foreground_ari(scores, truth) == pytest.approx(8 / 33, abs=1e-15)


def test_mcc_reference_mixes_ddof_and_exceeds_one() -> None:
    z = np.random.default_rng(7).normal(size=(40, 3))
    z_hat = np.stack([z[:, 2] * 2, -z[:, 0] + 0.1 * z[:, 1], np.tanh(z[:, 1])], axis=1)
    n = len(z)
    assert _reference_mcc(z, z) == pytest.approx(100 * n / (n - 1), abs=1e-9)
    assert _reference_mcc(z, z) > 100
    assert mcc(z, z) == pytest.approx(1.0, abs=1e-15)
    # everywhere else the reference is the package's value times 100 n / (n - 1)
    assert _reference_mcc(z, z_hat) == pytest.approx(100 * n / (n - 1) * mcc(z, z_hat),
                                                     abs=1e-9)


def test_image_contrast_reference_is_positive_for_a_constant_decoder() -> None:
    jac = torch.zeros(1, 10, 4, dtype=torch.float64)
    assert float(_reference_image_contrast(jac, 2)) == pytest.approx(10.0, abs=1e-9)
    assert image_compositional_contrast(jac, [2, 2]).item() == 0.0
