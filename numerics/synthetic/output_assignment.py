"""Which inferred slot explains each output: the order-0 decoder's assignment, by regression.

A structured decoder of order 0 (numerics.synthetic.models.StructuredDecoder) reads every output
x_l from one inferred slot. Its soft assignment w = softmax(a) is learned by gradient descent
under the assignment penalty, and the penalty can lock an output onto a slot that does not
explain it: measured on 4 slots x 2 latents, seed 1014, output 12 ended with w = 0.94 on an
inferred slot that carries another true slot and an error of 1.0 (it predicts the mean) while
the slots themselves were identified (SIS 0.996): one dead output made the run
``not-converged``. So when the assignment is hardened (numerics.synthetic.training.step_hook),
every output goes to the slot that explains it best:

    k(l) = argmin_k  min_B || x_l - Phi_k B ||^2,

with Phi_k ``(m, p_k)`` every monomial of degree <= :data:`DEGREE` (the constant included) in
the standardized coordinates zhat_{C_k} of inferred slot k on m training images, solved by
least squares (an orthonormal basis of Phi_k's columns by SVD) for all outputs at once. An
output that depends on one true slot is explained by the inferred slot that carries it and by
no other, so the choice needs neither the true latents nor the true slots: only training
images and the encoder.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from numerics.core.errors import ConfigError
from numerics.core.validation import positive_sizes
from numerics.synthetic.models import monomial_index, monomial_products, within_monomials

Tensor = torch.Tensor

#: Degree of the polynomial in each inferred slot's coordinates that the regression fits.
DEGREE = 3
#: Training images the regression uses (the first rows of the training set).
PROBE_POINTS = 4096

__all__ = ["DEGREE", "PROBE_POINTS", "regression_assignment", "slot_residuals"]


def slot_residuals(z_hat: Tensor, x: Tensor, slot_sizes: Sequence[int],
                   degree: int = DEGREE) -> Tensor:
    """Least-squares residual of every output on every inferred slot: ``(K, d_x)``.

    ``z_hat: (m, sum(slot_sizes))`` inferred latents, ``x: (m, d_x)`` images; entry (k, l) is
    min_B ||x_l - Phi_k B||^2 / ||x_l - mean x_l||^2 (0: slot k explains output l exactly, 1:
    not at all), in float64.
    """
    sizes = positive_sizes("slot_sizes", slot_sizes)
    if z_hat.ndim != 2 or x.ndim != 2 or z_hat.shape[0] != x.shape[0] or \
            z_hat.shape[1] != sum(sizes):
        raise ConfigError(f"need z_hat (m, {sum(sizes)}) and x (m, d_x) with the same m, got "
                          f"{tuple(z_hat.shape)} and {tuple(x.shape)}")
    z = z_hat.detach().double()
    z = (z - z.mean(0)) / z.std(0).clamp_min(1e-12)
    xx = x.detach().double()
    xx = xx - xx.mean(0)
    total = xx.square().sum(0).clamp_min(1e-300)
    rows = []
    for block in itertools.pairwise([0, *itertools.accumulate(sizes)]):
        width = block[1] - block[0]
        index = monomial_index(within_monomials((width,), degree), width)
        columns = z[:, block[0]:block[1]]
        phi = torch.cat([torch.ones_like(columns[:, :1]), monomial_products(columns, index)], 1)
        left, singular, _ = torch.linalg.svd(phi, full_matrices=False)
        basis = left[:, singular > singular[0] * 1e-10]  # the column space of Phi_k
        rows.append((xx - basis @ (basis.T @ xx)).square().sum(0) / total)
    return torch.stack(rows)


def regression_assignment(z_hat: Tensor, x: Tensor, slot_sizes: Sequence[int],
                          degree: int = DEGREE) -> Tensor:
    """The slot that explains each output best (module docstring): ``(d_x,)`` long indices
    into the inferred slots, ``argmin_k`` of :func:`slot_residuals`."""
    return slot_residuals(z_hat, x, slot_sizes, degree).argmin(0)
