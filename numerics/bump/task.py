"""The 2D Gaussian bump task of Liang et al. (ICML 2025; docs/theory.md section 7).

An image of size N x N shows one Gaussian bump centred at (x, y):

    f(x, y)[u, v] = exp(-((u - x)^2 + (v - y)^2) / (2 sigma^2)),   u, v = 0, ..., N - 1,

(the row index u follows x, the column index v follows y), i.e. the outer product
f(x, y) = g(x) g(y)^T of the 1-D bumps g(x)[u] = exp(-(u - x)^2 / (2 sigma^2)). With
``inverted=True`` the target is 1 - f, as in most scripts of the reference code.

Centres on the integer grid (or continuous in [0, N - 1]^2) inside the held-out square
lo <= x, y <= hi are out of distribution (OOD); training uses the "square donut" around it.
Every x value (and every y value) still occurs in training, paired with a border value of the
other coordinate, so the OOD centres are new *combinations* of seen slot values: the
Cartesian-product extension of the training support (docs/theory.md section 1).

Inputs (two slots, x then y): ``raw`` scalars rescaled to [-1, 1], ``onehot`` codes of length N
(integer centres only) or ``bump`` codes g(x), g(y) of length N each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from numerics.core.errors import ConfigError, DataError
from numerics.core.validation import int_at_least

Tensor = torch.Tensor
INPUT_KINDS = ("raw", "onehot", "bump")


@dataclass(frozen=True)
class BumpTask:
    """Geometry of the task: image side ``size`` = N, bump width ``sigma``, held-out square
    ``ood = (lo, hi)`` (inclusive, in pixel units), input code ``inputs``, ``inverted`` target,
    ``continuous`` centres (else integer grid centres)."""

    size: int = 28
    sigma: float = 1.0
    ood: tuple[int, int] = (6, 22)
    inputs: str = "bump"
    inverted: bool = True
    continuous: bool = False

    def __post_init__(self) -> None:
        int_at_least("size", self.size, 2)
        if not (isinstance(self.sigma, (int, float)) and 0 < self.sigma < float("inf")):
            raise ConfigError(f"sigma must be a positive finite number, got {self.sigma!r}")
        if len(self.ood) != 2 or not all(isinstance(b, int) for b in self.ood):
            raise ConfigError(f"ood must be two integers (lo, hi), got {self.ood!r}")
        lo, hi = self.ood
        if not 0 <= lo <= hi <= self.size - 1:
            raise ConfigError(f"ood square {lo}:{hi} must satisfy 0 <= lo <= hi <= "
                              f"{self.size - 1} (size - 1)")
        if lo == 0 and hi == self.size - 1:
            raise ConfigError("the ood square covers every centre: no training positions left;"
                              " shrink it (e.g. 6:22 for size 28)")
        if self.inputs not in INPUT_KINDS:
            raise ConfigError(f"inputs must be one of {INPUT_KINDS}, got {self.inputs!r}")
        if self.inputs == "onehot" and self.continuous:
            raise ConfigError("one-hot inputs need integer centres: use continuous=False")

    @property
    def code_size(self) -> int:
        """Length of the code of one slot: 1 (raw) or N (onehot, bump)."""
        return 1 if self.inputs == "raw" else self.size

    @property
    def differentiable(self) -> bool:
        """Whether the input code is a differentiable function of (x, y) (not one-hot)."""
        return self.inputs != "onehot"


def _check_centres(xy: Tensor) -> None:
    # by shape, not by type: numerics.core.derivatives traces these functions with Taylor jets
    # (numerics.core.taylor.Jet), which carry a shape but are not tensors
    shape = getattr(xy, "shape", None)
    if shape is None or len(shape) != 2 or shape[1] != 2:
        raise DataError(f"centres must be a tensor of shape (batch, 2), got "
                        f"{getattr(xy, 'shape', type(xy).__name__)}")
    floating = getattr(xy, "is_floating_point", None)
    if floating is None or not floating():
        raise DataError(f"centres must be a floating-point torch tensor, got "
                        f"{type(xy).__name__} of dtype {getattr(xy, 'dtype', None)}")


def bump_1d(t: Tensor, size: int, sigma: float) -> Tensor:
    """g(t)[u] = exp(-(u - t)^2 / (2 sigma^2)): ``t: (batch,) -> (batch, size)``."""
    grid = torch.arange(size, dtype=t.dtype, device=t.device)
    return torch.exp(-(grid - t[:, None]).square() / (2.0 * sigma**2))


def bump_image(xy: Tensor, task: BumpTask) -> Tensor:
    """Target images: ``xy: (batch, 2) -> (batch, N, N)``; f = g(x) g(y)^T (or 1 - that)."""
    _check_centres(xy)
    image = bump_1d(xy[:, 0], task.size, task.sigma)[:, :, None] * \
        bump_1d(xy[:, 1], task.size, task.sigma)[:, None, :]
    return 1.0 - image if task.inverted else image


def encode(xy: Tensor, task: BumpTask) -> Tensor:
    """Input codes ``xy: (batch, 2) -> (batch, 2 * code_size)``: the x code, then the y code.

    raw: 2 t / (N - 1) - 1; onehot: e_t (t must be an integer in [0, N - 1]); bump: g(t).
    """
    _check_centres(xy)
    if task.inputs == "raw":
        return 2.0 * xy / (task.size - 1) - 1.0
    if task.inputs == "bump":
        return torch.cat([bump_1d(xy[:, 0], task.size, task.sigma),
                          bump_1d(xy[:, 1], task.size, task.sigma)], dim=1)
    index = xy.round()
    if not torch.equal(index, xy) or index.min() < 0 or index.max() > task.size - 1:
        raise DataError("one-hot codes need integer centres in [0, size - 1]")
    eye = torch.eye(task.size, dtype=xy.dtype, device=xy.device)
    return torch.cat([eye[index[:, 0].long()], eye[index[:, 1].long()]], dim=1)


def is_ood(xy: Tensor, task: BumpTask) -> Tensor:
    """Mask ``(batch,)``: centre inside the held-out square lo <= x, y <= hi."""
    _check_centres(xy)
    lo, hi = task.ood
    inside = (xy >= lo) & (xy <= hi)
    return inside[:, 0] & inside[:, 1]


def grid_centres(task: BumpTask, dtype: torch.dtype = torch.float32) -> Tensor:
    """All N^2 integer centres, x-major: ``(N^2, 2)``."""
    t = torch.arange(task.size, dtype=dtype)
    return torch.cartesian_prod(t, t)


def split_centres(task: BumpTask, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Integer centres of the training donut and of the held-out square: ``(n_id, 2), (n_ood, 2)``.
    """
    xy = grid_centres(task, dtype)
    mask = is_ood(xy, task)
    return xy[~mask], xy[mask]


def sample_train_centres(n: int, task: BumpTask, generator: torch.Generator,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """``n`` training centres ``(n, 2)`` drawn from ``generator``: uniform over the donut's
    integer centres, or (``continuous``) uniform on [0, N - 1]^2 minus the held-out square."""
    if n < 1:
        raise ConfigError(f"number of samples must be >= 1, got {n}")
    if not task.continuous:
        train, _ = split_centres(task, dtype)
        return train[torch.randint(len(train), (n,), generator=generator)]
    parts, have = [], 0
    while have < n:
        xy = torch.rand(2 * n, 2, generator=generator, dtype=dtype) * (task.size - 1)
        xy = xy[~is_ood(xy, task)]
        parts.append(xy)
        have += len(xy)
    return torch.cat(parts)[:n]
