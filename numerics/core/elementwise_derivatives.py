"""The derivatives phi, phi', ..., phi^{(r)} of an elementwise function, as the Faa di Bruno rule
of :class:`numerics.core.taylor.Jet` needs them: in closed form for tanh, sigmoid and SiLU
(phi^{(k)} = P_k(phi) with integer polynomials P_{k+1} = P_k' phi'), exp, sin and cos, and for
any other elementwise torch function by r nested ``torch.func.jvp`` along the tangent 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch.func import jvp

Tensor = torch.Tensor


def derivatives_by_jvp(phi: Callable[[Tensor], Tensor], x: Tensor, order: int) -> list[Tensor]:
    """[phi(x), phi'(x), ..., phi^{(order)}(x)] elementwise, by nested jvp along ones.

    Run with grad mode on: some forward-AD formulas (SiLU's) exist only in the composite form
    that autograd mode selects; nothing is recorded unless x or phi's constants need grad.
    """
    out = [phi(x)]
    g = phi
    with torch.enable_grad():
        for _ in range(order):
            g = functools.partial(lambda h, y: jvp(h, (y,), (torch.ones_like(y),))[1], g)
            out.append(g(x))
    return out


@functools.lru_cache(maxsize=64)
def _derivative_polynomials(kind: str, order: int) -> tuple[tuple[int, ...], ...]:
    """Integer coefficients (lowest power first) of P_k with phi^{(k)} = P_k(phi), k <= order,
    for phi' = phi (1 - phi) (sigmoid) or phi' = 1 - phi^2 (tanh): P_{k+1} = P_k' * phi'."""
    first = {"sigmoid": (0, 1, -1), "tanh": (1, 0, -1)}[kind]
    polys: list[tuple[int, ...]] = [(0, 1)]
    for _ in range(order):
        p = polys[-1]
        deriv = [i * a for i, a in enumerate(p)][1:] or [0]
        out = [0] * (len(deriv) + len(first) - 1)
        for i, a in enumerate(deriv):
            for j, b in enumerate(first):
                out[i + j] += a * b
        polys.append(tuple(out))
    return tuple(polys)


def _horner(coefficients: tuple[int, ...], y: Tensor) -> Tensor:
    out = torch.full_like(y, float(coefficients[-1]))
    for a in reversed(coefficients[:-1]):
        out = out * y + a
    return out


def closed_form_derivatives(name: str, x: Tensor, order: int) -> list[Tensor] | None:
    """[phi(x), ..., phi^{(order)}(x)] in closed form for tanh, sigmoid, SiLU, exp, sin, cos
    (no forward-AD passes); None for other functions."""
    if name in ("tanh", "sigmoid"):
        y = torch.tanh(x) if name == "tanh" else torch.sigmoid(x)
        return [_horner(p, y) for p in _derivative_polynomials(name, order)]
    if name == "silu":  # silu = x s: silu^{(k)} = x s^{(k)} + k s^{(k-1)}
        s = [_horner(p, torch.sigmoid(x)) for p in _derivative_polynomials("sigmoid", order)]
        return [x * s[0]] + [x * s[k] + k * s[k - 1] for k in range(1, order + 1)]
    if name == "exp":
        y = torch.exp(x)
        return [y] * (order + 1)
    if name in ("sin", "cos"):
        cycle = [torch.sin(x), torch.cos(x)]
        cycle += [-cycle[0], -cycle[1]]
        start = 0 if name == "sin" else 1
        return [cycle[(start + k) % 4] for k in range(order + 1)]
    return None
