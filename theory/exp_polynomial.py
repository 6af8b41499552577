"""Exponential polynomials sum_p Q_p(z) exp(p(z)): the exact calculus of the ambiguity system.

An output of a generator is written as a sum of components Q(z) exp(p(z)) with Q, p
polynomials with rational coefficients, one component per exponent p (terms exp(p + a) and
exp(p + b) with different constants a, b are refused: their ratio is irrational). A polynomial
is a dict {exponent vector: QQ coefficient}. The derivative of a component is again one:

    d/dz_v (Q exp p) = (dQ/dz_v + Q dp/dz_v) exp p,

so :func:`partial` returns the polynomial factor dQ/dz_v + Q dp/dz_v. Anything else (sin, log,
sqrt, floats, irrational constants, non-integer powers) raises
:class:`~theory.errors.AnalysisError`: the ambiguity analysis would not be exact.

Why hand-rolled dicts and not ``sympy.polys.rings``: measured on 2026-12-06 (sympy 1.14,
Python ground types, a 2-core CPU, niced and possibly contended; min of 15 interleaved rounds)
against a ``PolyRing`` over QQ with the exp atoms as extra generators (``from_expr``, terms
grouped by exponent) and ``PolyElement`` ``diff`` / ``*`` / ``+`` for the partials, on the
ambiguity system's hot path (read every output, then all d_z partials of every component).
Reading was 4.7-6.6x and the partials 1.1-2.4x slower with the ring:
``generators.polynomial(3, (2, 2, 2, 2), 184, 903)`` (33856 terms) 137 vs 902 ms and 93 vs
104 ms (1472 partials); ``generators.exp_polynomial(3, (2, 2, 2, 2), 184, 903)`` (920
components) 149 vs 895 ms and 99 vs 151 ms; ``exp_polynomial(2, (2, 2, 2), 40, 1)`` 7.6 vs
36 ms and 3.9 vs 9.2 ms. A ``PolyElement`` is the same {exponent vector: QQ} dict, and
tests/theory/test_exp_polynomial.py checks :func:`partial` against the ring arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sympy
from sympy.external.gmpy import MPQ
from sympy.polys.domains import QQ

from theory.errors import AnalysisError

__all__ = ["ExpComponent", "Monomial", "Polynomial", "exp_components", "partial"]

Monomial = tuple[int, ...]
"""An exponent vector over the latents: z^m = prod_i z_i^m[i]."""
Polynomial = dict[Monomial, MPQ]
"""A polynomial as {exponent vector: coefficient in sympy's ``QQ``} (``MPQ``, the rational type
of sympy's ground types); built without zero coefficients."""
_Term = tuple[MPQ, Monomial, Sequence[sympy.Expr]]
"""One flat term: (rational coefficient, exponent vector, the arguments of its exp factors)."""


@dataclass
class ExpComponent:
    """One term Q(z) exp(p(z)) of an output: ``p`` without its constant, ``slots`` touched by p."""

    p: Polynomial
    slots: frozenset[int]
    Q: Polynomial


class _NotFlat(Exception):
    """An expression is not (yet) a flat sum of rational * monomial * exp(...) terms."""


def _flat_terms(expr: sympy.Expr, index: dict[sympy.Symbol, int],
                allow_exp: bool) -> list[_Term]:
    """Terms (rational coefficient, exponent vector, exp arguments) of a flat sum; raises
    :class:`_NotFlat` on anything else (nested sums, sqrt, sin, floats, ...)."""
    out: list[_Term] = []
    n = len(index)
    one = QQ(1)
    for term in sympy.Add.make_args(expr):
        coeff = one
        mono = [0] * n
        args: list[sympy.Expr] = []
        for factor in sympy.Mul.make_args(term):
            if factor.is_Rational:
                value = QQ(int(factor.p), int(factor.q))
                coeff = value if coeff is one else coeff * value
            elif factor.is_Symbol and factor in index:
                mono[index[factor]] += 1
            elif (factor.is_Pow and factor.base in index and factor.exp.is_Integer
                  and int(factor.exp) > 0):
                mono[index[factor.base]] += int(factor.exp)
            elif allow_exp and isinstance(factor, sympy.exp):
                args.append(factor.args[0])
            elif allow_exp and factor is sympy.E:
                args.append(sympy.Integer(1))
            else:
                raise _NotFlat(factor)
        if coeff:
            out.append((coeff, tuple(mono), args))
    return out


def _unsupported_parts(expr: sympy.Expr) -> list[str]:
    """Functions other than exp, floats, irrational constants, non-integer or negative powers."""
    parts = {a for a in expr.atoms(sympy.Function) if not isinstance(a, sympy.exp)}
    parts |= {a for a in expr.atoms(sympy.NumberSymbol) if a is not sympy.E}
    parts |= expr.atoms(sympy.Float)
    parts |= {a for a in expr.atoms(sympy.Pow)
              if not (a.exp.is_Integer and a.exp > 0) and not isinstance(a.base, sympy.exp)}
    return sorted(str(a) for a in parts)


def _flat(expr: sympy.Expr, index: dict[sympy.Symbol, int], allow_exp: bool, l: int
          ) -> list[_Term]:
    """:func:`_flat_terms` of ``expr`` (output l, or with ``allow_exp`` False an exponent in
    it), expanding it first when it is not flat yet. The error message is built only on failure
    (printing every exponent up front made :func:`exp_components` 1.75-3.3x slower on the
    exp-polynomial generators)."""
    try:
        return _flat_terms(expr, index, allow_exp)
    except _NotFlat:
        pass
    try:
        return _flat_terms(sympy.expand(expr), index, allow_exp)
    except _NotFlat as err:
        parts = _unsupported_parts(expr) or [str(err.args[0])]
        what = f"output {l}" if allow_exp else f"the exponent {expr} in output {l}"
        kind = "polynomial and polynomial*exp(polynomial)" if allow_exp else "polynomial"
        raise AnalysisError(
            f"{what} contains {', '.join(parts)}: the exact ambiguity analysis supports"
            f" {kind} generators with rational coefficients"
        ) from None


def _poly(terms: Iterable[_Term]) -> Polynomial:
    out: Polynomial = {}
    for coeff, mono, _ in terms:
        out[mono] = out.get(mono, 0) + coeff
    return {m: c for m, c in out.items() if c}


def exp_components(expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...],
                    slot_of: tuple[int, ...], l: int) -> list[ExpComponent]:
    """Write output l as sum_p Q_p exp(p) (exact), grouping terms by the exponent p."""
    index = {s: i for i, s in enumerate(symbols)}
    zero = (0,) * len(symbols)
    by_exponent: dict[sympy.Expr, list[_Term]] = {}
    for coeff, mono, args in _flat(expr, index, True, l):
        by_exponent.setdefault(sympy.Add(*args), []).append((coeff, mono, ()))
    # components keyed by p without its constant: (that constant, p, the terms of Q)
    groups: dict[tuple[tuple[Monomial, MPQ], ...], tuple[MPQ, Polynomial, list[_Term]]] = {}
    for exponent, terms in by_exponent.items():
        p = _poly(_flat(exponent, index, False, l))
        const = p.pop(zero, QQ(0))
        key = tuple(sorted(p.items()))
        if key in groups and groups[key][0] != const:
            raise AnalysisError(
                f"output {l} has terms exp(p + a) and exp(p + b) with different constants a, b:"
                " their ratio is irrational; rewrite them with a common exponential"
            )
        groups.setdefault(key, (const, p, []))[2].extend(terms)
    out = []
    for _, p, terms in groups.values():
        Q = _poly(terms)
        if Q:
            touched = frozenset(slot_of[v] for mono in p for v, e in enumerate(mono) if e)
            out.append(ExpComponent(p, touched, Q))
    return out


def _diff(P: Polynomial, v: int) -> Polynomial:
    """dP/dz_v."""
    out: Polynomial = {}
    for mono, c in P.items():
        e = mono[v]
        if e:
            m = list(mono)
            m[v] = e - 1
            out[tuple(m)] = c * e
    return out


def _mul_add(acc: Polynomial, P: Polynomial, R: Polynomial) -> None:
    """acc += P * R (in place; zero coefficients may remain)."""
    for a, ca in P.items():
        for b, cb in R.items():
            m = tuple(x + y for x, y in zip(a, b, strict=True))
            acc[m] = acc.get(m, 0) + ca * cb


def partial(comp: ExpComponent, v: int) -> Polynomial:
    """d/dz_v (Q exp p) / exp p = dQ/dz_v + Q dp/dz_v, as a polynomial dict."""
    out = _diff(comp.Q, v)
    dp = _diff(comp.p, v)
    if dp:
        _mul_add(out, comp.Q, dp)
    return {m: c for m, c in out.items() if c}
