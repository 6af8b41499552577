"""The two composition rules of Taylor mode on stacks of partial derivatives.

A stack ``c: (n_terms, *shape)`` holds ``c[t] = d_{M_t} y`` for the terms M_t of a closed
:class:`numerics.core.jet_terms.TermSet` (``c[0]`` = y). :mod:`numerics.core.taylor` wraps the
stacks in a Jet and calls these for the nonlinear operations:

* :func:`faa_di_bruno`: y = phi(x) for an elementwise phi, over the set partitions pi of the
  |M| positions of M,

      d_M phi(x) = sum_pi phi^{(|pi|)}(x) prod_{B in pi} d_{M_B} x,

  with phi^{(r)} in closed form for the common functions, else from r nested
  ``torch.func.jvp`` of phi (:mod:`numerics.core.elementwise_derivatives`);
* :func:`leibniz`: y = op(u, v) for a bilinear op (``mul``, ``matmul``, ``einsum``), over the
  sub-multisets S of M,

      d_M op(u, v) = sum_{S <= M} prod_i C(M_i, S_i) op(d_S u, d_{M-S} v).

Partitions and splits that give the same product are merged with integer weights
(:func:`numerics.core.jet_terms.fdb_tables`, :func:`numerics.core.jet_terms.leibniz_tables`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import vmap

from numerics.core.elementwise_derivatives import closed_form_derivatives, derivatives_by_jvp
from numerics.core.jet_terms import TermSet, fdb_tables, leibniz_tables

Tensor = torch.Tensor

__all__ = ["faa_di_bruno", "leibniz"]


def _to(t: Tensor, like: Tensor) -> Tensor:
    return t.to(device=like.device)


def _weights(w: Tensor, like: Tensor, ndim: int) -> Tensor:
    return w.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * ndim))


def faa_di_bruno(phi: Callable[[Tensor], Tensor], c: Tensor, terms: TermSet, degree: int,
                 name: str = "") -> Tensor:
    """Stack of phi(x) from the stack ``c: (n_terms, *shape)`` of x, whose terms above order
    ``degree`` are zero (0: x is constant, so is phi(x)); ``name``: the torch name of phi when
    it takes no further arguments (closed-form derivatives for the common ones). Returns
    ``(n_terms, *shape)``."""
    if degree == 0:
        return torch.cat([phi(c[0])[None], torch.zeros_like(c[1:])])
    derivs = (closed_form_derivatives(name, c[0], terms.max_order)
              or derivatives_by_jvp(phi, c[0], terms.max_order))
    acc = derivs[1] * c[1:]
    nd = c.ndim - 1
    for r, (target, factors, weight) in fdb_tables(terms.terms, degree).items():
        f = _to(factors, c)
        prod = c[f[:, 0]]
        for j in range(1, r):
            prod = prod * c[f[:, j]]
        prod = prod * _weights(weight, c, nd)
        summed = c.new_zeros((len(terms.terms), *c.shape[1:])).index_add(0, _to(target, c), prod)
        acc = acc + derivs[r] * summed[1:]
    return torch.cat([derivs[0][None], acc])


def leibniz(op: Callable[[Tensor, Tensor], Tensor], u: Tensor, v: Tensor, terms: TermSet,
            u_degree: int, v_degree: int) -> Tensor:
    """Stack of the bilinear ``op(u, v)`` from the stacks ``u: (n_terms, ...)`` and
    ``v: (n_terms, ...)`` of its arguments, whose terms above ``u_degree`` / ``v_degree`` are
    zero. Returns ``(n_terms, *op(u[0], v[0]).shape)``."""
    target, left, right, weight = (_to(t, u)
                                   for t in leibniz_tables(terms.terms, u_degree, v_degree))
    a, b = u[left], v[right]
    if op is torch.mul and a.ndim == b.ndim:
        prod = a * b
    elif op is torch.matmul and b.ndim == 3 and a.ndim >= 3:
        prod = a @ b
    else:
        prod = vmap(op)(a, b)
    prod = prod * _weights(weight, prod, prod.ndim - 1)
    return prod.new_zeros((len(terms.terms), *prod.shape[1:])).index_add(0, target, prod)
