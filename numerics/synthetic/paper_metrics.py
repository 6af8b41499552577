"""The prior works' metric protocols, exactly as their reference code computes them (to reproduce
the papers' numbers; the docs page "Reproduce the papers" lists where the references differ).

* :func:`slot_identifiability_brady2023`: the SIS protocol of Brady et al. 2023: one exact RBF
  kernel ridge per (true slot, inferred slot) pair, alpha = 1, gamma = 1/|C_j| (scikit-learn's
  default 1 / n_features), standardization with population (ddof 0) statistics, first 80 % of
  the rows for training, no shuffling;
* :func:`block_mcc_lachapelle2023`: the block-MCC protocol of Lachapelle et al. 2023: one
  regressor per (inferred block, true block) pair, unstandardized, a pluggable regressor;
* :func:`image_compositional_contrast`: the pixel-weighted compositional contrast that Brady
  et al. 2023 report on images.

The package's own SIS (random split, training-split statistics, Nystroem kernel ridge) is
:func:`numerics.synthetic.metrics.slot_identifiability`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.metrics import (
    MIN_TEST,
    MIN_TRAIN,
    SlotIdentifiability,
    checked_slot_sizes,
    paired_inputs,
    score_from_r2,
)

Tensor = torch.Tensor

def _ordered_split(n: int, train_fraction: float) -> int:
    """Rows [0, n_train) train, [n_train, n) test with n_train = floor(train_fraction * n)."""
    if isinstance(train_fraction, bool) or not 0.0 < float(train_fraction) < 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    n_train = int(float(train_fraction) * n)
    if n_train < MIN_TRAIN or n - n_train < MIN_TEST:
        raise DataError(f"{n} samples give {n_train} training and {n - n_train} test samples: "
                        f"need at least {MIN_TRAIN} and {MIN_TEST}")
    return n_train


def _population_standardize(x: Tensor, rows: Tensor) -> Tensor:
    """(x - mean) / std with the mean and population std (ddof 0) of ``x[rows]``; a constant
    column keeps scale 1 (scikit-learn's ``StandardScaler``)."""
    ref = x[rows]
    mean = ref.mean(0)
    std = ref.std(0, correction=0)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


def _r2_columns(y_test: Tensor, pred: Tensor) -> Tensor:
    """Per-column R^2 = 1 - SS_res / SS_tot of (n_test, d) targets: (d,); DataError when a
    target is constant on the test rows (R^2 undefined)."""
    ss_tot = (y_test - y_test.mean(0)).square().sum(0)
    if not (ss_tot > 0).all():
        raise DataError("a true latent is constant on the test split: R^2 is undefined")
    return 1.0 - (y_test - pred).square().sum(0) / ss_tot


def _slot_columns(sizes: tuple[int, ...]) -> list[slice]:
    """Column slices of consecutive blocks of the given sizes."""
    return [slice(a, b) for a, b in itertools.pairwise([0, *itertools.accumulate(sizes)])]


STANDARDIZE_ON = ("all", "train")


MAX_EXACT_TRAIN = 20_000


def slot_identifiability_brady2023(z: object, z_hat: object, slot_sizes: Sequence[int],
                                   slot_sizes_hat: Sequence[int] | None = None, *,
                                   train_fraction: float = 0.8, standardize_on: str = "all",
                                   alpha: float = 1.0) -> SlotIdentifiability:
    """SIS exactly as in Brady et al. 2023 (exact kernel ridge, no Nystroem, no shuffling).

    ``z: (n, d)``, ``z_hat: (n, dhat)``; ``slot_sizes`` / ``slot_sizes_hat`` (default
    ``slot_sizes``) partition their columns into B_1..B_K and C_1..C_Khat. For every pair
    (k, j): X = zhat_{C_j} and Y = z_{B_k} are standardized per column, (v - mean) / std with
    the population std (ddof 0; constant columns keep scale 1), from the statistics of
    ``standardize_on``: ``"all"`` rows (what the reference code does: its scalers are fitted
    on all samples before the split) or the ``"train"`` rows only. The first
    n_train = floor(train_fraction * n) rows train, the rest test. Kernel ridge with
    k(x, x') = exp(-gamma |x - x'|^2), gamma = 1 / |C_j|:

        beta = (K_train + alpha I)^{-1} Y_train,   Yhat_test = K(X_test, X_train) beta,

    R^2_{k,j} = mean over the coordinates of B_k of 1 - SS_res / SS_tot on the test rows,
    clipped at 0; the Hungarian matching pi maximizes sum_k R^2_{k,pi(k)} and
    SIS = mean_k (R^2_{k,pi(k)} - max_{j != pi(k)} R^2_{k,j}) (0 for a single slot).
    Cost: one (n_train, n_train) Cholesky per inferred slot (n_train <= 20000).

    >>> import numpy as np
    >>> z = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    >>> res = slot_identifiability_brady2023(z, z[:, ::-1] ** 3, [1, 1])
    >>> res.permutation, res.sis > 0.9
    ((1, 0), True)
    """
    z_t, zh_t, sizes, sizes_hat = paired_inputs(z, z_hat, slot_sizes, slot_sizes_hat)
    if standardize_on not in STANDARDIZE_ON:
        raise ConfigError(f"standardize_on must be one of {STANDARDIZE_ON}, got "
                          f"{standardize_on!r}")
    if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and math.isfinite(alpha)
                                       and alpha > 0):
        raise ConfigError(f"alpha must be a finite number > 0, got {alpha!r}")
    n = z_t.shape[0]
    n_train = _ordered_split(n, train_fraction)
    if n_train > MAX_EXACT_TRAIN:
        raise DataError(f"exact kernel ridge on {n_train} training rows needs a "
                        f"{n_train} x {n_train} kernel matrix; use at most {MAX_EXACT_TRAIN} "
                        "rows or slot_identifiability (Nystroem)")
    rows = torch.arange(n if standardize_on == "all" else n_train)
    y = _population_standardize(z_t, rows)
    x = _population_standardize(zh_t, rows)
    y_train, y_test = y[:n_train], y[n_train:]
    slot_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    r2 = np.zeros((len(sizes), len(sizes_hat)))
    eye = torch.eye(n_train, dtype=x.dtype)
    for j, cols in enumerate(_slot_columns(sizes_hat)):
        x_train, x_test = x[:n_train, cols], x[n_train:, cols]
        gamma = 1.0 / x_train.shape[1]
        gram = (-gamma * torch.cdist(x_train, x_train).square()).exp()
        cross = (-gamma * torch.cdist(x_test, x_train).square()).exp()
        beta = torch.cholesky_solve(y_train, torch.linalg.cholesky(gram + alpha * eye))
        per_column = _r2_columns(y_test, cross @ beta)
        per_slot = per_column.new_zeros(len(sizes)).index_add_(0, slot_of, per_column)
        r2[:, j] = (per_slot / torch.tensor(sizes, dtype=per_slot.dtype)).numpy()
    return score_from_r2(np.clip(r2, 0.0, None), "brady2023-kernel-ridge")


BlockRegressor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _least_squares(intercept: bool) -> BlockRegressor:
    def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        if intercept:
            x_train = np.column_stack([x_train, np.ones(len(x_train))])
            x_test = np.column_stack([x_test, np.ones(len(x_test))])
        coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
        return x_test @ coef
    fit_predict.__name__ = "linear" if intercept else "linear-no-intercept"
    return fit_predict


def _decision_tree(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    try:
        from sklearn.tree import DecisionTreeRegressor
    except ImportError as err:
        raise ConfigError("the 'tree' block regressor needs scikit-learn (pip install "
                          "scikit-learn), or pass a callable") from err
    return DecisionTreeRegressor(max_depth=10, random_state=0).fit(x_train, y_train).predict(
        x_test).reshape(len(x_test), -1)


BLOCK_REGRESSORS: dict[str, BlockRegressor] = {
    "linear": _least_squares(intercept=True),
    "linear-no-intercept": _least_squares(intercept=False),
    "tree": _decision_tree,
}


def block_mcc_lachapelle2023(z: object, z_hat: object, slot_sizes: Sequence[int],
                             slot_sizes_hat: Sequence[int] | None = None, *,
                             regressor: str | BlockRegressor = "linear",
                             train_fraction: float = 0.8) -> SlotIdentifiability:
    """Block MCC exactly as in Lachapelle et al. 2023: one regressor per block pair.

    ``z: (n, d)``, ``z_hat: (n, dhat)`` with blocks B_1..B_K and C_1..C_Khat (``slot_sizes``,
    ``slot_sizes_hat``, default ``slot_sizes``). Nothing is standardized. The first
    n_train = floor(train_fraction * n) rows train, the rest test. For every pair (k, j) a
    separate regressor ``fn(x_train, y_train, x_test)`` (a name of :data:`BLOCK_REGRESSORS`
    or a callable) predicts z_{B_k} from zhat_{C_j};

        R^2_{k,j} = max(0, mean_{i in B_k} (1 - SS_res,i / SS_tot,i))    (test rows),

    the Hungarian matching pi maximizes sum_k R^2_{k,pi(k)}, and the block MCC is
    ``matched_r2`` = mean_k R^2_{k,pi(k)} (the reference reports 100 times this value).
    ``sis`` is computed from the same matrix. Where :func:`slot_identifiability` with a
    callable or ``mlp`` fits all true latents jointly per inferred slot, this fits
    K x Khat regressors.

    >>> import numpy as np
    >>> z = np.random.default_rng(0).normal(size=(100, 4))
    >>> res = block_mcc_lachapelle2023(z, z[:, [2, 3, 0, 1]] * 2 + 1, [2, 2])
    >>> res.permutation, round(res.matched_r2, 12)
    ((1, 0), 1.0)
    """
    z_t, zh_t, sizes, sizes_hat = paired_inputs(z, z_hat, slot_sizes, slot_sizes_hat)
    if callable(regressor):
        fit_predict, name = regressor, getattr(regressor, "__name__", "callable")
    elif isinstance(regressor, str) and regressor in BLOCK_REGRESSORS:
        fit_predict, name = BLOCK_REGRESSORS[regressor], regressor
    else:
        raise ConfigError(f"unknown block regressor {regressor!r}: use one of "
                          f"{sorted(BLOCK_REGRESSORS)} or a callable")
    n_train = _ordered_split(z_t.shape[0], train_fraction)
    a, b = z_t.numpy(), zh_t.numpy()
    r2 = np.zeros((len(sizes), len(sizes_hat)))
    for k, rows in enumerate(_slot_columns(sizes)):
        target_train, target_test = a[:n_train, rows], a[n_train:, rows]
        for j, cols in enumerate(_slot_columns(sizes_hat)):
            try:
                out = fit_predict(b[:n_train, cols], target_train, b[n_train:, cols])
                pred = np.asarray(out, dtype=np.float64).reshape(len(target_test), -1)
            except ConfigError:
                raise
            except Exception as err:  # a user's callable: any failure is a data error here
                raise DataError(f"the block regressor failed on true block {k}, inferred "
                                f"block {j}: {type(err).__name__}: "
                                f"{' '.join(str(err).split())[:200]} (it must map (x_train, "
                                "y_train, x_test) to an (n_test, |B_k|) array)") from err
            if pred.shape[1] != target_test.shape[1] or not np.isfinite(pred).all():
                raise DataError(f"the block regressor returned {pred.shape[1]} columns or "
                                f"non-finite values for true block {k} (expected "
                                f"{target_test.shape[1]} finite columns)")
            r2[k, j] = float(_r2_columns(torch.as_tensor(target_test),
                                         torch.as_tensor(pred)).mean())
    return score_from_r2(np.clip(r2, 0.0, None), f"lachapelle2023-{name}")


def image_compositional_contrast(jacobian: Tensor, slot_sizes: Sequence[int]) -> Tensor:
    """Pixel-weighted compositional contrast of Brady et al. 2023 (their image metric): (B,).

    ``jacobian: (B, P, d_z)``, the decoder Jacobian with one row per output (for images:
    pixels x channels flattened, as the reference does), columns split into slots
    B_1..B_K by ``slot_sizes`` (K >= 2). With n_{p,k} = |d x_p / d z_{B_k}| (Euclidean),
    m_p = (1/K) sum_k n_{p,k} and the weight w_p = m_p / max_p' m_p' of the same sample,

        C_w = sum_p w_p sum_{k<k'} (n_{p,k} / m_p) (n_{p,k'} / m_p).

    Each pixel's term is scale-free (between 0, iff the pixel depends on one slot, and
    K(K - 1)/2, iff it depends on all slots equally) and pixels that barely change count
    little. Pixels with m_p = 0
    contribute 0, and a sample whose Jacobian is 0 has contrast 0 (the reference adds
    1e-12 to every norm instead, which gives such a sample P K (K - 1) / 2).

    >>> import torch
    >>> jac = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]])
    >>> image_compositional_contrast(jac, [1, 1])
    tensor([1.], dtype=torch.float64)
    """
    if not isinstance(jacobian, Tensor) or jacobian.ndim != 3:
        raise DataError(f"jacobian must be a tensor of shape (batch, outputs, d_z), got "
                        f"{getattr(jacobian, 'shape', type(jacobian).__name__)}")
    sizes = checked_slot_sizes(slot_sizes, jacobian.shape[2], "slot_sizes")
    if len(sizes) < 2:
        raise DataError("the compositional contrast needs at least 2 slots")
    jac = jacobian.detach().to(torch.float64)
    if not torch.isfinite(jac).all():
        raise DataError("jacobian contains NaN or infinite values")
    slot_of = torch.repeat_interleave(torch.arange(len(sizes), device=jac.device),
                                      torch.tensor(sizes, device=jac.device))
    norms = jac.new_zeros(*jac.shape[:2], len(sizes)).index_add_(2, slot_of,
                                                                 jac.square()).sqrt()
    mean = norms.mean(-1)
    pairs = (norms.sum(-1).square() - norms.square().sum(-1)) / 2.0
    per_pixel = torch.where(mean > 0, pairs / mean.clamp_min(torch.finfo(jac.dtype).tiny)
                            .square(), torch.zeros_like(mean))
    peak = mean.amax(-1, keepdim=True)
    weights = torch.where(peak > 0, mean / peak.clamp_min(torch.finfo(jac.dtype).tiny),
                          torch.zeros_like(mean))
    return (weights * per_pixel).sum(-1)
