"""Flows: integrating an infinitesimal ambiguity (a polynomial vector field v) into a map h.

A solution v of the ambiguity system (:mod:`theory.ambiguity`) is a first-order direction
h_t = id + t v + O(t^2). To certify an actual reparametrization it is integrated exactly:

* affine v(z) = A z + b: the time-1 flow exp(A) z + int_0^1 exp(sA) ds b when A is nilpotent
  (a finite series), and the map id + v;
* polynomial v: the time-t flow phi_t(z) = sum_j t^j / j! L_v^j z (L_v g = (Dg) v) when this
  Lie series terminates, with inverse phi_{-t} (:func:`polynomial_flow`).

The maps are candidates only; :mod:`theory.certificates` decides which are ambiguities.
"""

from __future__ import annotations

import math

import sympy

__all__ = ["affine_candidates", "candidate_maps", "polynomial_flow"]


def affine_candidates(v: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]
                      ) -> list[tuple[sympy.Matrix, str]]:
    """Maps h built from the affine field v(z) = A z + b: its exact time-1 flow when A is
    nilpotent (finite series), and the map id + v."""
    z = sympy.Matrix(symbols)
    A = v.jacobian(symbols)
    b = v.subs({s: 0 for s in symbols})
    d = len(symbols)
    out = []
    power, flow_lin, flow_aff = sympy.eye(d), sympy.zeros(d, d), sympy.zeros(d, 1)
    for k in range(d + 1):
        flow_lin += power / math.factorial(k)
        flow_aff += power * b / math.factorial(k + 1)
        power = power * A
        if power.is_zero_matrix:
            out.append((flow_lin * z + flow_aff, "time-1 flow exp(A) z + int_0^1 exp(sA) ds b"
                                                  " of the nilpotent field v = A z + b"))
            break
    out.append((z + v, "h = id + v"))
    return out


def polynomial_flow(v: sympy.Matrix, symbols: tuple[sympy.Symbol, ...], t: sympy.Expr,
                    max_terms: int | None = None) -> sympy.Matrix | None:
    """Exact time-t flow of a polynomial vector field whose Lie series terminates, else None.

    phi_t(z) = sum_{j >= 0} t^j / j! L_v^j z with L_v g = (Dg) v. When L_v^k z = 0 for some k
    (e.g. triangular fields such as v = (z_2^2, 0)) the series is a polynomial identity and
    phi_t is the flow (d/dt phi_t = v(phi_t), phi_0 = id), with inverse phi_{-t}. ``max_terms``
    (default 2 d_z + 2) bounds the search; a field whose series has not ended by then (e.g. a
    rotation, or v = z^2 which blows up in finite time) gives None.
    """
    z = sympy.Matrix(symbols)
    limit = max_terms if max_terms is not None else 2 * len(symbols) + 2
    term, flow = z, z
    for j in range(1, limit + 1):
        term = (term.jacobian(symbols) * v).applyfunc(sympy.expand)
        if term.is_zero_matrix:
            return flow.applyfunc(sympy.expand)
        flow = flow + t**j / math.factorial(j) * term
    return None


def candidate_maps(v: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]
                   ) -> list[tuple[sympy.Matrix, sympy.Matrix | None, str]]:
    """(h, exact inverse or None for affine h, how) built from the field v."""
    affine = all(sympy.Poly(e, *symbols).total_degree() <= 1 for e in v if e != 0)
    if affine:
        return [(h, None, how) for h, how in affine_candidates(v, symbols)]
    flow = polynomial_flow(v, symbols, sympy.Integer(1))
    if flow is None:
        return []
    back = polynomial_flow(v, symbols, sympy.Integer(-1))
    return [(flow, back, "time-1 flow sum_j L_v^j z / j! of the polynomial field v (its Lie"
                         " series terminates), inverse the time -1 flow")]
