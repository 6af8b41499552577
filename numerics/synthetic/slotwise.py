"""A direct measure of whether h = ghat o f is slot-wise: block norms of its Jacobian.

For a generator f (true latents z, slots B_1..B_K) and an encoder ghat (inferred latents zhat,
slots C_1..C_Khat), the map h = ghat o f : z -> zhat is what identifiability is about: the
slots are identified up to permutation and slot-wise reparametrization exactly when each
inferred block hhat_{C_j} depends on one true block z_{B_pi(j)} only, with pi a bijection. At
held-out points z^(1..m), with J(z) = dh/dz (computed with ``torch.func.jacrev``, vmapped and
chunked, in float64):

    N_{i,j} = (1/m) sum_t || J(z^(t))[C_j, B_i] ||_F          (K x Khat block norms)
    E_{i,j} = (1/m) sum_t || J(z^(t))[C_j, B_i] ||_F^2        (block energies)
    P_{i,j} = E_{i,j} / sum_i' E_{i',j}                         (share of inferred slot j's
                                                                 derivative energy from true
                                                                 slot i)

Slots are matched by the Hungarian algorithm maximizing sum_i P_{i,pi(i)}, and the
**off-block fraction** is

    off_block = 1 - (1 / |A|) sum_{j in A} P_{pi^{-1}(j), j},

over the inferred slots A whose Jacobian is not identically 0 at the points (energies rather
than norms: an encoder that only approximates a slot-wise inverse leaves off-block entries a
few per cent of the on-block ones, which squared norms keep far below a mixing solution's; an
unmatched inferred slot counts with share 0). It is exactly 0 when h is slot-wise up to a
permutation (every column of N has one non-zero entry, in distinct rows), invariant under
permutations of the true and of the inferred slots and under rescaling any inferred block,
unchanged (still 0) under any slot-wise diffeomorphism of a slot-wise h, and positive as soon
as an inferred slot depends on two true slots. It needs the true generator, so it scores a run;
it is never used to choose one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch.func import jacrev, vmap

from numerics.core.errors import DataError
from numerics.core.validation import positive_sizes

Tensor = torch.Tensor

__all__ = ["BlockJacobian", "block_jacobian", "block_norms", "jacobian"]


@dataclass(frozen=True)
class BlockJacobian:
    """Block structure of dh/dz (module docstring).

    ``norms``: (K, Khat) mean block Frobenius norms N; ``energies``: E; ``shares``: P
    (columns of active inferred slots sum to 1; inactive columns are 0); ``permutation[i]``:
    the inferred slot matched to true slot i; ``off_block``: the off-block fraction in [0, 1].
    """

    norms: np.ndarray
    energies: np.ndarray
    shares: np.ndarray
    permutation: tuple[int, ...]
    off_block: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready copy."""
        return {"norms": self.norms.tolist(), "energies": self.energies.tolist(),
                "shares": self.shares.tolist(),
                "permutation": list(self.permutation), "off_block": self.off_block}


def _sizes(sizes: Sequence[int], total: int, name: str) -> tuple[int, ...]:
    out = positive_sizes(name, sizes, error=DataError)
    if sum(out) != total:
        raise DataError(f"{name} {out} sum to {sum(out)}, but the Jacobian has {total} "
                        f"{'columns' if name == 'true_sizes' else 'rows'}")
    return out


def jacobian(h: Callable[[Tensor], Tensor], z: Tensor, chunk: int = 1024) -> Tensor:
    """dh/dz at every row of ``z``: ``(m, d_z) -> (m, d_zhat, d_z)`` (float64, CPU).

    ``h`` maps a batch ``(b, d_z)`` to ``(b, d_zhat)``; it is differentiated one point at a
    time (``vmap(jacrev)``) in chunks of ``chunk`` points to bound memory.
    """
    if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[0] < 1:
        raise DataError(f"z must be a tensor of shape (m, d_z) with m >= 1, got "
                        f"{getattr(z, 'shape', type(z).__name__)}")
    z = z.detach().to(torch.float64)

    def single(point: Tensor) -> Tensor:
        return h(point[None])[0]

    jac = vmap(jacrev(single))
    return torch.cat([jac(part).detach().to("cpu", torch.float64)
                      for part in z.split(chunk)])


def block_norms(jac: Tensor | np.ndarray, true_sizes: Sequence[int],
                inferred_sizes: Sequence[int]) -> BlockJacobian:
    """Block norms, shares, matching and off-block fraction of Jacobians ``(m, d_zhat, d_z)``.

    See the module docstring for the formulas.
    """
    j = torch.as_tensor(np.asarray(jac, dtype=np.float64)) if not isinstance(jac, Tensor) \
        else jac.detach().to("cpu", torch.float64)
    if j.ndim != 3:
        raise DataError(f"Jacobians must have shape (m, d_zhat, d_z), got {tuple(j.shape)}")
    if not torch.isfinite(j).all():
        raise DataError("the Jacobians contain NaN or infinite values")
    true = _sizes(true_sizes, j.shape[2], "true_sizes")
    inferred = _sizes(inferred_sizes, j.shape[1], "inferred_sizes")
    rows = np.concatenate([[0], np.cumsum(inferred)])
    cols = np.concatenate([[0], np.cumsum(true)])
    norms = np.zeros((len(true), len(inferred)))
    energies = np.zeros_like(norms)
    for i in range(len(true)):
        for c in range(len(inferred)):
            block = torch.linalg.matrix_norm(j[:, rows[c]:rows[c + 1], cols[i]:cols[i + 1]])
            norms[i, c] = float(block.mean())
            energies[i, c] = float(block.square().mean())
    totals = energies.sum(0)
    active = totals > 0
    shares = np.zeros_like(energies)
    shares[:, active] = energies[:, active] / totals[active]
    row_ind, col_ind = linear_sum_assignment(-shares)
    permutation = [-1] * len(true)
    for i, c in zip(row_ind, col_ind, strict=True):
        permutation[int(i)] = int(c)
    if not active.any():
        return BlockJacobian(norms, energies, shares, tuple(permutation), 1.0)
    matched = sum(shares[i, c] for i, c in zip(row_ind, col_ind, strict=True) if active[c])
    off = 1.0 - matched / int(active.sum())
    return BlockJacobian(norms, energies, shares, tuple(permutation), float(max(0.0, off)))


def block_jacobian(h: Callable[[Tensor], Tensor], z: Tensor, true_sizes: Sequence[int],
                   inferred_sizes: Sequence[int], chunk: int = 1024) -> BlockJacobian:
    """:func:`block_norms` of the Jacobian of ``h`` (batch ``(b, d_z) -> (b, d_zhat)``) at
    the points ``z: (m, d_z)``."""
    return block_norms(jacobian(h, z, chunk), true_sizes, inferred_sizes)
