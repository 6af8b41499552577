"""Exact normal forms in which "zero" and "polynomial" are decidable: polynomials and
exp-rational functions (used by the order rule, docs/theory.md section 2, and by sufficient
independence, section 3).

Exp-rational normal form (:func:`exp_rational_forms`). Trigonometric and hyperbolic functions
are rewritten with exp; every exp(a) must have a polynomial exponent a with Gaussian-rational
coefficients. The non-constant parts of the exponents span a Q-vector space; with a suitably
scaled basis b_k every exp(a) = prod_k Y_k^{n_k} * W_1^{m} * W_2^{m'} with integers n_k, m, m',
Y_k = exp(b_k), W_1 = exp(1/L_1), W_2 = exp(i/L_2). The Y_k are algebraically independent over
C(z) (exponentials of polynomials whose differences are non-constant are linearly independent
over C(z)) and W_1, W_2 are algebraically independent over the algebraic numbers
(Lindemann-Weierstrass), so an exp-rational g becomes a rational function R in (z, Y, W) over
Q(i) and: g = 0 iff R cancels to 0; g is a polynomial iff the cancelled R has no Y and a
denominator free of z; its degree is the z-degree of the numerator.

A method that finds no certificate raises :class:`Undecided`; callers turn that into
:class:`~theory.errors.AnalysisError` or try another method, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

import sympy

__all__ = ["Undecided", "as_polynomial", "exp_rational_form", "exp_rational_forms",
           "total_degree"]

_TRIG = (sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc,
         sympy.sinh, sympy.cosh, sympy.tanh, sympy.coth, sympy.sech, sympy.csch)


class Undecided(Exception):
    """One decision method found no certificate (the caller tries another method or raises
    :class:`~theory.errors.AnalysisError`); deliberately not an ``InteractionAsymmetryError``,
    so that it never escapes the theory as an answer."""


def _rational(x: sympy.Expr) -> Fraction:
    if not x.is_Rational:
        raise Undecided(f"coefficient {x} in an exponent is not a Gaussian rational")
    return Fraction(int(x.p), int(x.q))


def _exponent_vector(arg: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                     ) -> tuple[dict[tuple, Fraction], Fraction, Fraction]:
    """(non-constant coefficients keyed by (monomial, re/im), real const, imaginary const)."""
    if not arg.is_polynomial(*latents):
        raise Undecided(f"exponent {arg} is not a polynomial in the latents")
    vec: dict[tuple, Fraction] = {}
    c_re = c_im = Fraction(0)
    for monom, coeff in sympy.Poly(arg, *latents).terms():
        re, im = (_rational(part) for part in sympy.expand_complex(coeff).as_real_imag())
        if not any(monom):
            c_re, c_im = re, im
            continue
        for key, value in (((monom, 0), re), ((monom, 1), im)):
            if value:
                vec[key] = value
    return vec, c_re, c_im


def _basis_coordinates(vectors: list[dict[tuple, Fraction]]) -> list[dict[int, Fraction]]:
    """Coordinates of each vector in a Q-basis chosen greedily among the vectors."""
    basis: list[tuple[dict[tuple, Fraction], tuple]] = []  # (reduced vector, pivot key)
    transforms: list[dict[int, Fraction]] = []  # reduced basis vector k as combo of chosen ones
    coords_out = []
    for v in vectors:
        w = dict(v)
        combo: dict[int, Fraction] = {}
        for (bv, pivot), t in zip(basis, transforms, strict=True):
            c = w.get(pivot)
            if c:
                for key, val in bv.items():
                    new = w.get(key, Fraction(0)) - c * val
                    if new:
                        w[key] = new
                    else:
                        w.pop(key, None)
                for idx, val in t.items():
                    combo[idx] = combo.get(idx, Fraction(0)) + c * val
        if w:
            pivot = min(w)
            scale = w[pivot]
            k = len(basis)
            t = {idx: -val / scale for idx, val in combo.items()}
            t[k] = 1 / scale
            basis.append(({key: val / scale for key, val in w.items()}, pivot))
            transforms.append(t)
            combo = {k: Fraction(1)}
        coords_out.append({i: c for i, c in combo.items() if c})
    # combo holds coordinates of v in terms of the chosen (original) basis vectors, because
    # each reduced basis vector is expressed through them by ``transforms``.
    return coords_out


def _lcm_den(values: Iterable[Fraction]) -> int:
    out = 1
    for v in values:
        out = math.lcm(out, v.denominator)
    return out


def exp_rational_forms(
    exprs: list[sympy.Expr], latents: tuple[sympy.Symbol, ...]
) -> tuple[list[sympy.Expr], frozenset[sympy.Symbol], frozenset[sympy.Symbol]]:
    """Canonical exp-rational forms of ``exprs`` over one shared basis (module docstring).

    Returns ``(forms, Y, W)``: each form is a cancelled rational function over Q(i) in the
    latents, the symbols ``Y`` (exponentials of Q-independent non-constant polynomials,
    algebraically independent over C(z)) and the constant symbols ``W`` (exponentials of
    independent Gaussian-rational constants). An expression is identically zero iff its form
    is 0, and a polynomial in the latents iff its form has no symbol of Y and a denominator
    free of the latents. Raises ``Undecided`` for functions outside the class (log, atan,
    non-integer powers of non-constants, ...).
    """
    rewritten = []
    for expr in exprs:
        e = expr.rewrite(_TRIG, sympy.exp) if expr.has(*_TRIG) else expr
        rewritten.append(e.xreplace({sympy.E: sympy.exp(sympy.Integer(1), evaluate=False)}))
    atoms = sorted(set().union(*(e.atoms(sympy.exp) for e in rewritten)),
                   key=sympy.default_sort_key)
    ys: frozenset[sympy.Symbol] = frozenset()
    ws: frozenset[sympy.Symbol] = frozenset()
    if atoms:
        parts = [_exponent_vector(a.args[0], latents) for a in atoms]
        coords = _basis_coordinates([p[0] for p in parts])
        rank = max((max(c) + 1 for c in coords if c), default=0)
        scales = [_lcm_den(c[k] for c in coords if k in c) for k in range(rank)]
        y = [sympy.Dummy(f"Y{k}") for k in range(rank)]
        l_re = _lcm_den(p[1] for p in parts)
        l_im = _lcm_den(p[2] for p in parts)
        w_re, w_im = sympy.Dummy("W_re"), sympy.Dummy("W_im")
        replacement: dict[sympy.Expr, sympy.Expr] = {}
        for atom, (_, c_re, c_im), c in zip(atoms, parts, coords, strict=True):
            value = w_re ** int(c_re * l_re) * w_im ** int(c_im * l_im)
            for k, ck in c.items():
                value *= y[k] ** int(ck * scales[k])
            replacement[atom] = value
        ys, ws = frozenset(y), frozenset((w_re, w_im))
        rewritten = [e.xreplace(replacement) for e in rewritten]
    forms = []
    for expr, e in zip(exprs, rewritten, strict=True):
        gens = (*latents, *sorted(e.free_symbols - set(latents), key=str))
        if not e.is_rational_function(*gens) or e.has(sympy.log, sympy.atan, sympy.Abs):
            raise Undecided(f"{expr} is not an exp-rational function of the latents")
        forms.append(sympy.cancel(sympy.together(e)))
    return forms, ys, ws


def exp_rational_form(expr: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                      ) -> tuple[sympy.Expr, frozenset[sympy.Symbol]]:
    """:func:`exp_rational_forms` of one expression: ``(form, Y)``."""
    forms, ys, _ = exp_rational_forms([expr], latents)
    return forms[0], ys


def as_polynomial(expr: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> sympy.Poly | None:
    """``expr`` as a ``sympy.Poly`` in the latents, or None if it is not a polynomial.

    Sums of rational multiples of monomials are read off term by term into a ``QQ`` Poly
    (no expansion); anything else goes through ``sympy.Poly`` after an ``is_polynomial`` test.
    """
    index = {s: i for i, s in enumerate(latents)}
    terms: dict[tuple[int, ...], sympy.Rational] = {}
    for term in sympy.Add.make_args(expr):
        exps = [0] * len(latents)
        coeff = sympy.Integer(1)
        for factor in sympy.Mul.make_args(term):
            if factor.is_Rational:
                coeff *= factor
            elif factor.is_Symbol and factor in index:
                exps[index[factor]] += 1
            elif factor.is_Pow and factor.base in index and factor.exp.is_Integer \
                    and factor.exp > 0:
                exps[index[factor.base]] += int(factor.exp)
            else:
                if not expr.is_polynomial(*latents):
                    return None
                return sympy.Poly(expr, *latents)
        key = tuple(exps)
        terms[key] = terms.get(key, sympy.Integer(0)) + coeff
    return sympy.Poly.from_dict({k: v for k, v in terms.items() if v} or {(0,) * len(latents): 0},
                                *latents, domain=sympy.QQ)


def total_degree(expr: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | None:
    """Total degree in the latents of a polynomial expression, None if it is zero."""
    p = sympy.Poly(expr, *latents)
    return None if p.is_zero else p.total_degree()

