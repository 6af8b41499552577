"""Identifiability metrics: block R^2 matrix, slot identifiability score (SIS), MCC.

Slot identifiability (Brady et al. 2023; Lachapelle et al. 2023; docs/theory.md section 6). For true
slots z_{B_1..B_K} and inferred slots zhat_{C_1..C_Khat}, R^2_{k,j} is the held-out coefficient
of determination of a regression of z_{B_k} (all its coordinates) on zhat_{C_j}:

    R^2_{k,j} = mean_{i in B_k} (1 - sum_test (y_i - yhat_i)^2 / sum_test (y_i - mean_test y_i)^2),

clipped at 0 (scikit-learn's ``r2_score`` with uniform averaging). The split is random (seeded);
inputs and targets are standardized with *training-split* statistics only. Slots are matched by
the Hungarian algorithm maximizing the matched R^2 (permutation pi), and

    matched_r2 = mean_k R^2_{k,pi(k)},   SIS = mean_k (R^2_{k,pi(k)} - max_{j != pi(k)} R^2_{k,j}).

Regressors: ``linear`` (exact least squares), ``kernel`` (RBF kernel ridge, alpha = 1, via a
Nystroem approximation with landmarks from the training split; bandwidth by the median
heuristic per inferred slot; all K x Khat pairs solved at once in torch), ``mlp`` (small seeded
torch MLPs, one per inferred slot, trained together) or a callable.

The prior works' exact protocols (Brady et al. 2023's SIS, Lachapelle et al. 2023's block MCC,
the image compositional contrast) are in :mod:`numerics.synthetic.paper_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from numerics.core.device import resolve_device
from numerics.core.errors import ConfigError, DataError
from numerics.core.jsonio import JSONDict
from numerics.core.validation import is_int, positive_sizes

Tensor = torch.Tensor
Regressor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
MIN_TRAIN, MIN_TEST = 10, 5


@dataclass(frozen=True)
class SlotIdentifiability:
    """Block R^2 matrix and the scores derived from it.

    ``r2``: (K, Khat) numpy array, true slot x inferred slot, clipped at 0; ``permutation[k]``:
    the inferred slot matched to true slot k; ``matched_r2`` and ``sis`` as in the module
    docstring.
    """

    r2: np.ndarray
    permutation: tuple[int, ...]
    matched_r2: float
    sis: float
    regressor: str

    def to_dict(self) -> JSONDict:
        """JSON-ready dictionary."""
        return {"r2": self.r2.tolist(), "permutation": list(self.permutation),
                "matched_r2": self.matched_r2, "sis": self.sis, "regressor": self.regressor}


def as_matrix(x: object, name: str) -> Tensor:
    """numpy / torch / nested lists -> float64 CPU tensor (n, d); DataError otherwise."""
    if isinstance(x, Tensor):
        t = x.detach().to("cpu", torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise DataError(f"{name} must be a numeric array of shape (n, d): {err}") from None
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise DataError(f"{name} must have shape (n, d), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise DataError(f"{name} contains NaN or infinite values")
    return t


def checked_slot_sizes(slot_sizes: Sequence[int] | None, d: int, name: str) -> tuple[int, ...]:
    if slot_sizes is None:
        raise DataError(f"{name} must be given")
    if not isinstance(slot_sizes, (list, tuple, np.ndarray)):
        raise DataError(f"{name} must be a list of positive integers, got {slot_sizes!r}")
    sizes = positive_sizes(name, slot_sizes, error=DataError)
    if sum(sizes) != d:
        raise DataError(f"{name} {sizes} sum to {sum(sizes)}, but the latents have {d} columns")
    return sizes


def _standardize(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    """Standardize both splits with the training split's mean and std (constant -> std 1).

    Columns are first divided by their largest training magnitude (which standardization
    undoes), so that values near the float range (e.g. 1e155) do not overflow the variance."""
    magnitude = train.abs().amax(0)
    magnitude = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    train, test = train / magnitude, test / magnitude
    mean = train.mean(0)
    std = train.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


def _padded(x: Tensor, sizes: tuple[int, ...]) -> Tensor:
    """(n, d) -> (K, n, d_max): slot j's columns, zero padded."""
    k_slots, d_max = len(sizes), max(sizes)
    index = torch.zeros(k_slots, d_max, dtype=torch.long)
    mask = torch.zeros(k_slots, d_max, dtype=x.dtype)
    offset = 0
    for j, s in enumerate(sizes):
        index[j, :s] = torch.arange(offset, offset + s)
        mask[j, :s] = 1.0
        offset += s
    index, mask = index.to(x.device), mask.to(x.device)
    return x[:, index].permute(1, 0, 2) * mask[:, None, :]


def _fit_linear(x_train: Tensor, y_train: Tensor, x_test: Tensor) -> Tensor:
    """Exact least squares (minimum norm on the zero padding), all pairs: (Khat, n_test, d)."""
    a = x_train.cpu()
    b = y_train.cpu().expand(a.shape[0], *y_train.shape)
    coef = torch.linalg.lstsq(a, b, driver="gelsd").solution
    return (x_test.cpu() @ coef).to(x_test.device)


def _rbf(a: Tensor, b: Tensor, scale: Tensor) -> Tensor:
    """exp(scale * |a - b|^2), batched: (P, n, d), (P, m, d), scale (P, 1, 1) -> (P, n, m).

    One fused ``baddbmm`` (|a|^2 + |b|^2 - 2 a.b) and an in-place exp; rounding can make the
    squared distance slightly negative, which only moves exp by a relative 1e-15.
    """
    base = scale * a.square().sum(-1, keepdim=True) + scale * b.square().sum(-1)[:, None, :]
    return torch.baddbmm(base, a * (-2.0 * scale), b.transpose(1, 2)).exp_()


def _fit_kernel(x_train: Tensor, y_train: Tensor, x_test: Tensor, seed: int, alpha: float,
                n_components: int, chunk: int = 8192) -> Tensor:
    """Nystroem RBF kernel ridge for all inferred slots at once: (Khat, n_test, d).

    With landmarks L (m training points), k(x, x') = exp(-|x - x'|^2 / (2 sigma_j^2)), sigma_j
    the median pairwise distance of (up to 1000) standardized training points of slot j, and
    K_mm = U diag(lam) U^T, the features phi(x) = k(x, L) U diag(lam)^{-1/2} (eigenvalues below
    1e-10 lam_max dropped) give the ridge solution w = (Phi^T Phi + alpha I)^{-1} Phi^T Y; this is
    exact kernel ridge with the Nystroem kernel phi(x)^T phi(x'). The system is symmetric
    positive definite (alpha > 0) and is solved by Cholesky.
    """
    n = x_train.shape[1]
    gen = torch.Generator().manual_seed(seed)
    m = min(n_components, n)
    landmarks = x_train[:, torch.randperm(n, generator=gen)[:m].to(x_train.device)]
    probe = x_train[:, torch.randperm(n, generator=gen)[:1000].to(x_train.device)]
    sq = (probe.square().sum(-1)[:, :, None] + probe.square().sum(-1)[:, None, :]
          - 2.0 * probe @ probe.transpose(1, 2))
    dist = sq.clamp_min(0.0).sqrt()
    upper = torch.triu_indices(dist.shape[1], dist.shape[1], 1, device=dist.device)
    sigma = dist[:, upper[0], upper[1]].median(dim=1).values
    sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    scale = (-0.5 / sigma.square())[:, None, None]

    def kernel(x: Tensor) -> Tensor:
        return _rbf(x, landmarks, scale)

    lam, vec = torch.linalg.eigh(kernel(landmarks))
    info = torch.finfo(lam.dtype)
    keep = lam > max(1e-10, 100 * info.eps) * lam[:, -1:]
    transform = vec * torch.where(keep, lam.clamp_min(info.tiny).rsqrt(), torch.zeros_like(lam))[
        :, None, :]
    gram = x_train.new_zeros(x_train.shape[0], m, m)
    rhs = x_train.new_zeros(x_train.shape[0], m, y_train.shape[1])
    for start in range(0, n, chunk):
        k = kernel(x_train[:, start:start + chunk])
        gram += k.transpose(1, 2) @ k
        rhs += k.transpose(1, 2) @ y_train[start:start + chunk]
    eye = torch.eye(m, dtype=x_train.dtype, device=x_train.device)
    system = transform.transpose(1, 2) @ gram @ transform + alpha * eye
    w = torch.cholesky_solve(transform.transpose(1, 2) @ rhs, torch.linalg.cholesky(system))
    beta = transform @ w
    return torch.cat([kernel(x_test[:, s:s + chunk]) @ beta
                      for s in range(0, x_test.shape[1], chunk)], dim=1)


def _fit_mlp(x_train: Tensor, y_train: Tensor, x_test: Tensor, seed: int, hidden: int = 32,
             steps: int = 400, batch: int = 256, lr: float = 1e-2) -> Tensor:
    """One small MLP per inferred slot (d_max -> hidden -> hidden -> d, SiLU), trained jointly
    with Adam on mean squared error (seeded init and minibatches): (Khat, n_test, d)."""
    gen = torch.Generator().manual_seed(seed)
    p, n, d_in = x_train.shape
    d_out = y_train.shape[1]
    dev, dt = x_train.device, x_train.dtype

    def init(fan_in: int, fan_out: int) -> Tensor:
        w = torch.randn(p, fan_in, fan_out, generator=gen, dtype=dt) / math.sqrt(fan_in)
        return w.to(dev).requires_grad_(True)

    params = [init(d_in, hidden), init(hidden, hidden), init(hidden, d_out)]
    biases = [torch.zeros(p, 1, s, dtype=dt, device=dev, requires_grad=True)
              for s in (hidden, hidden, d_out)]

    def net(x: Tensor) -> Tensor:
        h = torch.nn.functional.silu(x @ params[0] + biases[0])
        h = torch.nn.functional.silu(h @ params[1] + biases[1])
        return h @ params[2] + biases[2]

    opt = torch.optim.Adam(params + biases, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        idx = torch.randint(n, (min(batch, n),), generator=gen).to(dev)
        loss = (net(x_train[:, idx]) - y_train[idx]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        return net(x_test)


def _regress_linear(x_train: Tensor, y_train: Tensor, x_test: Tensor, *, seed: int,
                    alpha: float, n_components: int) -> Tensor:
    return _fit_linear(x_train, y_train, x_test)


def _regress_kernel(x_train: Tensor, y_train: Tensor, x_test: Tensor, *, seed: int,
                    alpha: float, n_components: int) -> Tensor:
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0) or (
            not is_int(n_components) or n_components < 1):
        raise ConfigError(f"kernel regressor needs alpha > 0 and n_components >= 1, got "
                          f"alpha={alpha}, n_components={n_components}")
    return _fit_kernel(x_train, y_train, x_test, seed, float(alpha), int(n_components))


def _regress_mlp(x_train: Tensor, y_train: Tensor, x_test: Tensor, *, seed: int,
                 alpha: float, n_components: int) -> Tensor:
    return _fit_mlp(x_train, y_train, x_test, seed)


SIS_REGRESSORS: dict[str, Callable[..., Tensor]] = {
    "linear": _regress_linear,
    "kernel": _regress_kernel,
    "mlp": _regress_mlp,
}
"""The named regressors of :func:`slot_identifiability`: ``fn(x_train (Khat, n_train, d_max),
y_train (n_train, d), x_test (Khat, n_test, d_max), *, seed, alpha, n_components) -> (Khat,
n_test, d)``, every inferred slot at once (module docstring)."""


def _fit_callable(fn: Regressor, x_train: Tensor, y_train: Tensor, x_test: Tensor,
                  sizes: tuple[int, ...]) -> Tensor:
    preds = []
    for j, s in enumerate(sizes):
        try:
            out = fn(x_train[j, :, :s].cpu().numpy(), y_train.cpu().numpy(),
                     x_test[j, :, :s].cpu().numpy())
            out = np.asarray(out, dtype=np.float64).reshape(x_test.shape[1], -1)
        except Exception as err:  # a user's callable: any failure is a data error here
            raise DataError(f"the regressor callable failed on inferred slot {j}: "
                            f"{type(err).__name__}: {' '.join(str(err).split())[:200]} (it must "
                            f"map (x_train, y_train, x_test) to an (n_test, d_z) array)"
                            ) from err
        if not np.isfinite(out).all():
            raise DataError(f"the regressor callable returned non-finite values on slot {j}")
        if out.shape[1] != y_train.shape[1]:
            raise DataError(f"regressor returned {out.shape[1]} columns, expected "
                            f"{y_train.shape[1]}")
        preds.append(torch.as_tensor(out))
    return torch.stack(preds).to(x_test.device)


def slot_identifiability(z: object, z_hat: object, slot_sizes: Sequence[int],
                         slot_sizes_hat: Sequence[int] | None = None,
                         regressor: str | Regressor = "kernel", train_fraction: float = 0.8,
                         seed: int = 0, alpha: float = 1.0, n_components: int = 300,
                         device: str = "auto") -> SlotIdentifiability:
    """Block R^2 matrix, Hungarian matching and SIS (see the module docstring).

    ``z: (n, d)`` true latents, ``z_hat: (n, dhat)`` inferred latents (numpy or torch);
    ``slot_sizes`` / ``slot_sizes_hat`` (default: ``slot_sizes``) partition their columns.
    ``regressor``: "linear" | "kernel" | "mlp" | a callable
    ``fn(x_train (n_train, d_j), y_train (n_train, d), x_test (n_test, d_j)) -> (n_test, d)``
    regressing all (standardized) true latents on inferred slot j. ``alpha``: ridge penalty of
    the kernel regressor; ``n_components``: Nystroem landmarks. Needs Khat >= K.
    """
    z_t, zh_t, sizes, sizes_hat = paired_inputs(z, z_hat, slot_sizes, slot_sizes_hat)
    if isinstance(train_fraction, bool) or not 0.0 < float(train_fraction) < 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    n = z_t.shape[0]
    n_train = round(float(train_fraction) * n)
    if n_train < MIN_TRAIN or n - n_train < MIN_TEST:
        raise DataError(f"{n} samples give {n_train} training and {n - n_train} test samples: "
                        f"need at least {MIN_TRAIN} and {MIN_TEST}")
    dev = resolve_device(device)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    z_t, zh_t = z_t[order].to(dev), zh_t[order].to(dev)
    y_train, y_test = _standardize(z_t[:n_train], z_t[n_train:])
    x_train, x_test = _standardize(zh_t[:n_train], zh_t[n_train:])
    x_train, x_test = _padded(x_train, sizes_hat), _padded(x_test, sizes_hat)
    if callable(regressor):
        pred = _fit_callable(regressor, x_train, y_train, x_test, sizes_hat)
        name = getattr(regressor, "__name__", "callable")
    elif isinstance(regressor, str) and regressor in SIS_REGRESSORS:
        pred = SIS_REGRESSORS[regressor](x_train, y_train, x_test, seed=seed, alpha=alpha,
                                         n_components=n_components)
        name = regressor
    else:
        raise ConfigError(f"unknown regressor {regressor!r}: use one of "
                          f"{', '.join(map(repr, SIS_REGRESSORS))} or a callable")
    ss_tot = (y_test - y_test.mean(0)).square().sum(0)
    if not (ss_tot > 0).all():
        raise DataError("a true latent is constant on the test split: R^2 is undefined")
    r2_out = 1.0 - (y_test[None] - pred).square().sum(1) / ss_tot
    slot_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes)).to(dev)
    per_slot = r2_out.new_zeros(r2_out.shape[0], len(sizes)).index_add_(1, slot_of, r2_out)
    r2 = (per_slot / torch.tensor(sizes, dtype=r2_out.dtype, device=dev)).T.clamp_min(0.0)
    return score_from_r2(r2.cpu().numpy(), name)


def score_from_r2(r2: np.ndarray, name: str) -> SlotIdentifiability:
    rows, cols = linear_sum_assignment(r2, maximize=True)
    perm = cols[np.argsort(rows)]
    matched = r2[np.arange(r2.shape[0]), perm]
    others = r2.copy()
    others[np.arange(r2.shape[0]), perm] = -np.inf
    best_other = others.max(axis=1) if r2.shape[1] > 1 else np.zeros(r2.shape[0])
    return SlotIdentifiability(r2=r2, permutation=tuple(int(j) for j in perm),
                               matched_r2=float(matched.mean()),
                               sis=float((matched - best_other).mean()), regressor=name)


def mcc(z: object, z_hat: object, method: str = "pearson") -> float:
    """Mean correlation coefficient of scalar latents.

    |corr(z_i, zhat_j)| for all pairs (Pearson, or Spearman = Pearson of ranks), Hungarian
    matching maximizing the sum, mean over the d true latents of the matched values. ``z: (n,
    d)``, ``z_hat: (n, dhat)`` with dhat >= d.
    """
    if method not in ("pearson", "spearman"):
        raise ConfigError(f"unknown MCC method {method!r}: use 'pearson' or 'spearman'")
    a, b = as_matrix(z, "z").numpy(), as_matrix(z_hat, "z_hat").numpy()
    if a.shape[0] != b.shape[0]:
        raise DataError(f"z has {a.shape[0]} rows but z_hat has {b.shape[0]}")
    if a.shape[0] < 3:
        raise DataError(f"MCC needs at least 3 samples, got {a.shape[0]}")
    if b.shape[1] < a.shape[1]:
        raise DataError(f"z_hat has {b.shape[1]} columns, fewer than z's {a.shape[1]}")
    if method == "spearman":
        a, b = rankdata(a, axis=0), rankdata(b, axis=0)
    a = a - a.mean(0)
    b = b - b.mean(0)
    na, nb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    if not ((na > 0).all() and (nb > 0).all()):
        raise DataError("a latent is constant: correlation is undefined")
    corr = np.abs((a / na).T @ (b / nb))
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return float(corr[rows, cols].mean())


def paired_inputs(z: object, z_hat: object, slot_sizes: Sequence[int],
                   slot_sizes_hat: Sequence[int] | None
                   ) -> tuple[Tensor, Tensor, tuple[int, ...], tuple[int, ...]]:
    z_t, zh_t = as_matrix(z, "z"), as_matrix(z_hat, "z_hat")
    if z_t.shape[0] != zh_t.shape[0]:
        raise DataError(f"z has {z_t.shape[0]} rows but z_hat has {zh_t.shape[0]}")
    sizes = checked_slot_sizes(slot_sizes, z_t.shape[1], "slot_sizes")
    sizes_hat = checked_slot_sizes(slot_sizes_hat if slot_sizes_hat is not None else slot_sizes,
                       zh_t.shape[1], "slot_sizes_hat")
    if len(sizes_hat) < len(sizes):
        raise DataError(f"{len(sizes_hat)} inferred slots cannot be matched to {len(sizes)} "
                        "true slots (need at least as many inferred slots)")
    return z_t, zh_t, sizes, sizes_hat


"""Named block regressors ``fn(x_train (n_train, |C_j|), y_train (n_train, |B_k|), x_test)
-> (n_test, |B_k|)``: ``linear`` (least squares with intercept), ``linear-no-intercept``
(the reference's ``lr``: scikit-learn ``LinearRegression(fit_intercept=False)``), ``tree``
(the reference's default ``d-tree``: ``DecisionTreeRegressor(max_depth=10)``, needs
scikit-learn; ``random_state=0`` fixes its tie-breaking)."""


