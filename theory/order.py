"""Exact interaction order of a generator across slots (docs/theory.md section 2).

Definition. An output f_l has *at most n-th order interaction* (n >= 1) iff every partial
derivative of order n + 1 whose variables come from >= 2 slots vanishes identically; n = 0 means
f_l depends on at most one slot. The order of f_l is the least such n (``math.inf`` if none) and
the order of f is the maximum over outputs.

Theorem used (proved here; checked against brute-force differentiation in the tests). Let
g_ij = d^2 f_l / dz_i dz_j for i, j in different slots (the *cross second derivatives*).

* If every g_ij vanishes, f_l is additive: its order is 1 if it depends on >= 2 slots, else 0.
* Otherwise f_l has finite order iff every g_ij is a polynomial in the latents, and then
  ``order(f_l) = 2 + max_ij deg g_ij``.

Proof. (=>) If all cross partials of order n + 1 vanish, every partial of order n - 1 of g_ij is
a cross partial of f_l of order n + 1, hence zero; on a connected domain g_ij is then a
polynomial of degree <= n - 2. (<=) A cross partial of order n + 1 contains some z_i, z_j of
different slots; derivatives commute, so it is a partial of order n - 1 of g_ij, which vanishes
when deg g_ij <= n - 2. With n = 2 + max deg the order is attained because the top-degree
monomial of some g_ij has a non-zero derivative of order deg g_ij.

Consequences used for speed. Terms of f_l touching one slot are killed by every g_ij, so only
the *cross part* (terms touching >= 2 slots) matters. For a sum of distinct monomials
c * z^a the cross second derivatives are distinct monomials too, so the order is the largest
total degree of a cross monomial: one pass over the terms, no differentiation.

Deciding "g_ij is a polynomial" exactly (:func:`exp_rational_form`): trigonometric and hyperbolic
functions are rewritten with exp; every exp(a) must have a polynomial exponent a with
Gaussian-rational coefficients. The non-constant parts of the exponents span a Q-vector space;
with a suitably scaled basis b_k every exp(a) = prod_k Y_k^{n_k} * W_1^{m} * W_2^{m'} with
integers n_k, m, m', Y_k = exp(b_k), W_1 = exp(1/L_1), W_2 = exp(i/L_2). The Y_k are
algebraically independent over C(z) (exponentials of polynomials whose differences are
non-constant are linearly independent over C(z)) and W_1, W_2 are algebraically independent
over the algebraic numbers (Lindemann-Weierstrass), so g_ij becomes a rational function R in
(z, Y, W) over Q(i) and: g_ij = 0 iff R cancels to 0; g_ij is a polynomial iff the cancelled R
has no Y and a denominator free of z; its degree is the z-degree of the numerator. Rational
functions of z and radicals of rational functions with rational coefficients are decided by
Kummer theory (:func:`_classify_radicals`, after :func:`normalize_radicals` has written every
radicand over its irreducible factors on a stated domain, where perfect powers become
polynomials), or, for one square root S = sqrt(b(z)) of a non-square polynomial, written
g = A + B S with A, B rational ({1, S} is a basis of C(z)(S) over C(z)): g is a polynomial iff
B = 0 and A is one. A coordinate slice through e, 4, e^2, 9/4 or 2 that is certified
non-polynomial proves that g is not a polynomial (exp(y log x) on x = e). Other
functions (log, atan, ...) are handled through derivatives: g is a polynomial iff all its first
partials are, and deg g = 1 + max deg of the partials; a non-polynomial partial certifies a
non-polynomial g. When no certificate is found :class:`AnalysisError` is
raised; a guess is never returned. Constants (pi, sqrt(2), ...) in coefficients are exact
sympy numbers; radicands with irrational coefficients are not factored (undecided).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations_with_replacement

import sympy

from theory.errors import AnalysisError
from theory.slots import Slots

__all__ = [
    "CrossDerivative",
    "as_polynomial",
    "cross_derivatives",
    "exp_rational_form",
    "exp_rational_forms",
    "has_order_at_most",
    "interaction_order",
    "interaction_order_bruteforce",
    "is_identically_zero",
    "normalize_radicals",
    "stated_domain",
]

_TRIG = (sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc,
         sympy.sinh, sympy.cosh, sympy.tanh, sympy.coth, sympy.sech, sympy.csch)
_DERIVATIVE_DEPTH = 2


@dataclass(frozen=True)
class CrossDerivative:
    """A non-zero cross-slot partial derivative d^k f_output / dz_{variables}.

    ``variables`` is the unordered multi-index written in slot order, with repetition
    (e.g. ``(x, x, y)`` for d^3 f / dx^2 dy); ``expr`` is the exact derivative.
    """

    output: int
    variables: tuple[sympy.Symbol, ...]
    expr: sympy.Expr


class _Undecided(Exception):
    """No certificate found by one method (internal; turned into AnalysisError)."""


# -- exact structure of exp-rational functions ---------------------------------------------


def _rational(x: sympy.Expr) -> Fraction:
    if not x.is_Rational:
        raise _Undecided(f"coefficient {x} in an exponent is not a Gaussian rational")
    return Fraction(int(x.p), int(x.q))


def _exponent_vector(arg: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                     ) -> tuple[dict[tuple, Fraction], Fraction, Fraction]:
    """(non-constant coefficients keyed by (monomial, re/im), real const, imaginary const)."""
    if not arg.is_polynomial(*latents):
        raise _Undecided(f"exponent {arg} is not a polynomial in the latents")
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
    free of the latents. Raises ``_Undecided`` for functions outside the class (log, atan,
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
            raise _Undecided(f"{expr} is not an exp-rational function of the latents")
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


def _poly_degree(expr: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | None:
    """Total degree in the latents of a polynomial expression, None if it is zero."""
    p = sympy.Poly(expr, *latents)
    return None if p.is_zero else p.total_degree()


def _classify_structural(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | float | None:
    """None if g == 0, its degree if a polynomial, inf if not; _Undecided if no certificate."""
    if g == 0:
        return None
    if g.is_polynomial(*latents):
        return _poly_degree(sympy.expand(g), latents)
    try:
        r, ys = exp_rational_form(g, latents)
    except _Undecided:
        try:
            return _classify_radicals(g, latents)
        except _Undecided:
            return _classify_square_root(g, latents)
    if r == 0:
        return None
    num, den = r.as_numer_denom()
    if num.free_symbols & ys or den.free_symbols & ys or den.free_symbols & set(latents):
        return math.inf
    return _poly_degree(num, latents)


def _irreducible_factors(b: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                         ) -> tuple[sympy.Expr, list[tuple[sympy.Expr, int]]]:
    """b = c * prod p_i^{m_i} (m_i in Z, negative for the denominator) with p_i irreducible over
    Q, primitive, of positive leading coefficient, so that the factors of all radicands are
    compared by identity; ``_Undecided`` unless b is a rational function of the latents."""
    if not b.is_rational_function(*latents):
        raise _Undecided(f"radicand {b} is not a rational function of the latents")
    num, den = sympy.fraction(sympy.together(b))
    for part in (num, den):
        if sympy.Poly(part, *latents).domain not in (sympy.ZZ, sympy.QQ):
            # with irrational coefficients a formal factorization can miss a square
            # (y^2 + 2 sqrt(2) y + 2 = (y + sqrt(2))^2): not decided here
            raise _Undecided(f"radicand {b} has irrational coefficients")
    const = sympy.Integer(1)
    out: list[tuple[sympy.Expr, int]] = []
    for part, sign in ((num, 1), (den, -1)):
        c, factors = sympy.factor_list(part, *latents)
        const *= c**sign
        out.extend((p.as_expr(), sign * int(m)) for p, m in factors)
    return const, out


def normalize_radicals(expr: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                       ) -> tuple[sympy.Expr, list[sympy.Expr]]:
    """Rewrite radicals and absolute values over irreducible factors on a stated domain.

    Every b^r with r a non-integer rational and b a rational function of the latents becomes
    |c|^r prod_i (s_i p_i)^{m_i r} with b = c prod p_i^{m_i} (:func:`_irreducible_factors`)
    and signs s_i = +-1 (all +1, except that a negative c flips the first factor of odd
    multiplicity). This is an identity on the open set where every s_i p_i > 0 (there
    b = |c| prod (s_i p_i)^{m_i} > 0), the *stated domain*, returned as the list of the s_i p_i.
    Perfect powers become polynomials there: sqrt((x + y)^2) = x + y on x + y > 0, and
    sqrt(x^4 + 2 x^2 + 1) = x^2 + 1 everywhere. Abs(p) of a polynomial p becomes s p likewise.
    Radicands that are not rational functions of the latents are left as they are.
    """
    latent_set = set(latents)
    domain: dict[sympy.Expr, None] = {}
    replacement: dict[sympy.Expr, sympy.Expr] = {}
    for atom in sorted(expr.atoms(sympy.Pow, sympy.Abs), key=sympy.default_sort_key):
        if isinstance(atom, sympy.Abs):
            base, r = atom.args[0], sympy.Integer(1)
        else:
            base, r = atom.base, atom.exp
            if not (r.is_Rational and not r.is_Integer):
                continue
        if not base.free_symbols & latent_set:
            continue
        try:
            const, factors = _irreducible_factors(base, latents)
        except _Undecided:
            continue
        signs = [1] * len(factors)
        if const < 0:
            odd = [i for i, (_, m) in enumerate(factors) if m % 2]
            if not odd:
                continue  # negative everywhere: not real, left to the rest of the analysis
            signs[odd[0]] = -1
        value = abs(const) ** r
        for (p, m), sgn in zip(factors, signs, strict=True):
            oriented = sympy.expand(sgn * p)
            domain[oriented] = None
            value *= oriented ** (m * r)
        replacement[atom] = value
    if not replacement:
        return expr, []
    return expr.xreplace(replacement), list(domain)


def stated_domain(f: object, slots: Slots) -> list[sympy.Expr]:
    """The polynomials p with p > 0 on the domain where :func:`normalize_radicals` (used by
    :func:`interaction_order`) rewrote f's radicals and absolute values; [] if it did not."""
    out: dict[sympy.Expr, None] = {}
    for e in _checked(f, slots):
        out.update(dict.fromkeys(normalize_radicals(e, slots.symbols)[1]))
    return list(out)


def _classify_radicals(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | float | None:
    """:func:`_classify_structural` for g in Q(z)[p_1^{r_1}, ..., p_m^{r_m}]: radicals of
    distinct irreducible polynomials p_i, with a denominator that is a rational function times a
    product of radicals.

    Kummer theory: the radical monomials prod p_i^{phi_i} with distinct fractional-part vectors
    phi in [0, 1)^m are linearly independent over C(z) (the p_i are squarefree over C and
    pairwise coprime). Write g = sum_phi A_phi(z) prod p_i^{phi_i} with rational A_phi (integer
    parts of the exponents are moved into A_phi): g is a polynomial iff A_phi = 0 for every
    phi != 0 and A_0 is a polynomial; a non-zero A_phi with phi != 0 certifies a
    non-polynomial g. Products and quotients of radicals of slot-wise factors,
    sqrt(1 + x) sqrt(1 + y) among them, are decided this way.
    """
    latent_set = set(latents)
    radicals = [p for p in g.atoms(sympy.Pow)
                if p.exp.is_Rational and not p.exp.is_Integer and p.base.free_symbols & latent_set]
    if not radicals:
        raise _Undecided(f"{g} has no radicals of the latents")
    keys: dict[sympy.Expr, int] = {}
    bases: list[sympy.Expr] = []
    ts: list[sympy.Dummy] = []
    replacement: dict[sympy.Expr, sympy.Expr] = {}
    for atom in radicals:
        const, factors = _irreducible_factors(atom.base, latents)
        if const < 0:
            raise _Undecided(f"radicand {atom.base} has a negative constant factor")
        value = const ** atom.exp
        for p, m in factors:
            if p not in keys:
                keys[p] = len(bases)
                bases.append(p)
                ts.append(sympy.Dummy(f"T{len(ts)}", positive=True))
            value *= ts[keys[p]] ** (m * atom.exp)
        replacement[atom] = value
    e = g.xreplace(replacement)
    if not _radical_rational(e, latents, ts):
        raise _Undecided(f"{g} is not a rational function of the latents and radicals")
    num, den = sympy.fraction(sympy.together(e))
    den_z, den_t = _split_radical_monomial(den, ts)
    classes: dict[tuple, list[sympy.Expr]] = {}
    for term in sympy.Add.make_args(sympy.expand(num)):
        exps, rest = _split_radical_monomial(term, ts, as_exponents=True)
        total = [a - b for a, b in zip(exps, den_t, strict=True)]
        key = tuple(x - sympy.floor(x) for x in total)
        whole = sympy.Mul(*(bases[i] ** int(sympy.floor(x)) for i, x in enumerate(total)))
        classes.setdefault(key, []).append(rest * whole)
    zero_key = tuple(sympy.Integer(0) for _ in ts)
    a_zero = None
    for key, parts in classes.items():
        value = sympy.cancel(sympy.together(sympy.Add(*parts) / den_z))
        if value == 0:
            continue
        if key != zero_key:
            return math.inf
        a_zero = value
    if a_zero is None:
        return None
    numer, denom = sympy.fraction(a_zero)
    if denom.free_symbols & latent_set:
        return math.inf
    return _poly_degree(numer, latents)


def _radical_rational(e: sympy.Expr, latents: tuple[sympy.Symbol, ...],
                      ts: list[sympy.Dummy]) -> bool:
    """True iff e is a rational function of the latents and rational powers of the ts."""
    carrier = {t: sympy.Dummy("U", positive=True) for t in ts}
    atoms = {a for a in e.atoms(sympy.Pow) if a.base in carrier}
    q = math.lcm(*(int(a.exp.q) for a in atoms)) if atoms else 1
    lifted = e.xreplace({a: carrier[a.base] ** int(a.exp * q) for a in atoms})
    lifted = lifted.xreplace({t: carrier[t] ** q for t in ts})
    return lifted.is_rational_function(*latents, *carrier.values())


def _split_radical_monomial(term: sympy.Expr, ts: list[sympy.Dummy], as_exponents: bool = False
                            ) -> tuple:
    """(rest, exponents of the ts) for a product; ``_Undecided`` if a t sits in a sum.

    With ``as_exponents`` the order of the result is (exponents, rest)."""
    index = {t: i for i, t in enumerate(ts)}
    exps = [sympy.Integer(0)] * len(ts)
    rest = sympy.Integer(1)
    for factor in sympy.Mul.make_args(term):
        if factor in index:
            exps[index[factor]] += 1
        elif factor.is_Pow and factor.base in index:
            exps[index[factor.base]] += factor.exp
        elif factor.free_symbols & set(ts):
            raise _Undecided(f"a radical inside the sum {factor}")
        else:
            rest *= factor
    return (exps, rest) if as_exponents else (rest, exps)


def _classify_square_root(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                          ) -> int | float | None:
    """:func:`_classify_structural` for rational functions of z and one S = sqrt(b(z)).

    b must be a polynomial that is not a square in C[z] (some factor of odd multiplicity), so
    that {1, S} is a basis of C(z)(S) over C(z). Then g = A + B S with A, B in Q(z), computed
    by reducing modulo S^2 - b and rationalizing the denominator; g is a polynomial iff B = 0
    and A is a polynomial (every polynomial lies in C(z)).
    """
    radicals = [p for p in g.atoms(sympy.Pow)
                if not p.exp.is_Integer and p.base.free_symbols & set(latents)]
    bases = {p.base for p in radicals}
    if len(bases) != 1 or any(not (p.exp.is_Rational and p.exp.q == 2) for p in radicals):
        raise _Undecided(f"{g} is not a rational function of the latents and one square root")
    b = bases.pop()
    if not b.is_polynomial(*latents) or sympy.Poly(b, *latents).domain not in (sympy.ZZ,
                                                                                 sympy.QQ):
        raise _Undecided(f"sqrt({b}): not a polynomial with rational coefficients")
    if all(m % 2 == 0 for _, m in sympy.sqf_list(b)[1]):
        raise _Undecided(f"sqrt({b}) is not the root of a non-square polynomial")
    root = sympy.Dummy("S")
    e = g.xreplace({p: root ** int(2 * p.exp) for p in radicals})
    if not e.is_rational_function(*latents, root):
        raise _Undecided(f"{g} is not a rational function of the latents and sqrt({b})")
    num, den = sympy.together(e).as_numer_denom()
    modulus = sympy.Poly(root**2 - b, root)
    n = sympy.Poly(num, root).rem(modulus)
    d = sympy.Poly(den, root).rem(modulus)
    n0, n1 = n.coeff_monomial(1), n.coeff_monomial(root)
    d0, d1 = d.coeff_monomial(1), d.coeff_monomial(root)
    norm = d0**2 - d1**2 * b
    a_part = sympy.cancel((n0 * d0 - n1 * d1 * b) / norm)
    b_part = sympy.cancel((n1 * d0 - n0 * d1) / norm)
    if b_part != 0:
        return math.inf
    if a_part == 0:
        return None
    numer, denom = a_part.as_numer_denom()
    if denom.free_symbols & set(latents):
        return math.inf
    return _poly_degree(numer, latents)


def _classify(g: sympy.Expr, latents: tuple[sympy.Symbol, ...], depth: int = _DERIVATIVE_DEPTH
              ) -> int | float | None:
    """None if g vanishes identically, deg g if g is a polynomial in the latents, else inf."""
    try:
        return _classify_structural(g, latents)
    except _Undecided:
        if _restriction_is_not_polynomial(g, latents):
            return math.inf
        if depth == 0:
            raise
    present = [s for s in latents if s in g.free_symbols]
    degrees = [_classify(sympy.diff(g, s), latents, depth - 1) for s in present]
    if math.inf in degrees:
        return math.inf
    known = [d for d in degrees if d is not None]
    if known:
        return 1 + max(known)
    if _certainly_nonzero(g, latents):  # constant (all partials vanish) and non-zero
        return 0
    raise _Undecided(f"could not decide whether the constant {g} is zero")


_SLICE_VALUES = (sympy.E, sympy.Integer(4), sympy.E**2, sympy.Rational(9, 4), sympy.Integer(2))


def _restriction_is_not_polynomial(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> bool:
    """True if a coordinate slice of g is certified not to be a polynomial.

    If g is a polynomial in z, so is every restriction z_i = c_i (i != j) to a line, as a
    function of z_j. The slice values c_i are e, 4, e^2, 9/4 or 2 (e makes logarithms
    rational: exp(y log x) at x = e is exp(y); squares make square roots rational). The slice
    must pass through the domain (g finite and real at a point of it, checked by strict
    evaluation) and the restricted function must be certified non-polynomial by
    :func:`_classify_structural` (e.g. an exponential of a non-constant polynomial). Used only
    to prove "not a polynomial", never the converse.
    """
    present = [s for s in latents if s in g.free_symbols]
    if len(present) < 2:
        return False
    for j in present:
        others = [s for s in present if s is not j]
        for value in _SLICE_VALUES:
            h = g.xreplace(dict.fromkeys(others, value))
            if h.free_symbols != {j}:
                continue
            probe = h.xreplace({j: sympy.Rational(3, 7)})
            try:
                number = probe.evalf(30, strict=True)
            except (sympy.core.evalf.PrecisionExhausted, ZeroDivisionError, ValueError,
                    TypeError):
                continue
            if not (number.is_real and number.is_finite):
                continue
            try:
                if _classify_structural(h, (j,)) == math.inf:
                    return True
            except _Undecided:
                continue
    return False


def _points(latents: tuple[sympy.Symbol, ...], count: int, seed: int = 0
            ) -> list[dict[sympy.Symbol, sympy.Rational]]:
    rng = random.Random(seed)
    return [{s: sympy.Rational(rng.randint(1, 97), rng.randint(50, 150)) * rng.choice((1, -1))
             for s in latents} for _ in range(count)]


def _certainly_nonzero(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> bool:
    """True if g is non-zero at some random rational point, certified by strict evalf."""
    for point in _points(latents, 3):
        try:
            value = g.xreplace(point).evalf(30, strict=True)
        except (sympy.core.evalf.PrecisionExhausted, ZeroDivisionError, ValueError, TypeError):
            continue
        if value.is_number and value.is_finite and value != 0 and not value.has(sympy.nan):
            return True
    return False


def is_identically_zero(expr: sympy.Expr, slots: Slots) -> bool:
    """Exact test of expr == 0 as a function of the latents; AnalysisError if undecidable."""
    latents = slots.symbols
    if expr == 0:
        return True
    if expr.is_polynomial(*latents):
        return _poly_degree(sympy.expand(expr), latents) is None
    if _certainly_nonzero(expr, latents):
        return False
    try:
        return _classify(expr, latents) is None
    except _Undecided as err:
        raise AnalysisError(f"could not certify whether {expr} vanishes: {err}") from None


# -- interaction order ------------------------------------------------------------------------


def _term_structure(term: sympy.Expr, where: dict[sympy.Symbol, tuple[int, int]]
                    ) -> tuple[tuple[tuple[int, int], ...] | None, set[sympy.Symbol]]:
    """(sorted (latent index, power) pairs if ``term`` is a number times a monomial, else None;
    the latents in ``term``). ``where`` maps a latent to (flat index, slot)."""
    pairs = []
    syms = set()
    for factor in (term.args if term.is_Mul else (term,)):
        hit = where.get(factor)
        if hit is not None:
            pairs.append((hit[0], 1))
            syms.add(factor)
            continue
        if factor.is_Pow:
            base, e = factor.args
            hit = where.get(base)
            if hit is not None and e.is_Integer and e.p > 0:
                pairs.append((hit[0], e.p))
                syms.add(base)
                continue
        if factor.is_number:
            continue
        return None, set(term.free_symbols)
    pairs.sort()
    return tuple(pairs), syms


def _depends_on(expr: sympy.Expr, symbols: Iterable[sympy.Symbol], slots: Slots) -> bool:
    return any(not is_identically_zero(sympy.diff(expr, s), slots) for s in symbols)


def _where(slots: Slots) -> dict[sympy.Symbol, tuple[int, int]]:
    return {s: (i, k) for i, (s, k) in enumerate(zip(slots.symbols, slots.slot_of, strict=True))}


def _has_radicals(expr: sympy.Expr) -> bool:
    """Abs or a non-integer power anywhere in expr."""
    return expr.has(sympy.Abs) or any(not p.exp.is_Integer for p in expr.atoms(sympy.Pow))


def _output_order(expr: sympy.Expr, slots: Slots,
                  where: dict[sympy.Symbol, tuple[int, int]]) -> int | float:
    terms = sympy.Add.make_args(expr)
    structures = [_term_structure(term, where) for term in terms]
    if any(pairs is None for pairs, _ in structures) and any(
            _has_radicals(t) for t, (pairs, _) in zip(terms, structures, strict=True)
            if pairs is None):  # only non-monomial terms can hold radicals
        expr = normalize_radicals(expr, slots.symbols)[0]
        terms = sympy.Add.make_args(expr)
        structures = [_term_structure(term, where) for term in terms]
    touched: dict[int, set[sympy.Symbol]] = {}
    cross_monomials: dict[tuple[tuple[int, int], ...], list[sympy.Expr]] = {}
    complex_cross: list[sympy.Expr] = []
    for term, (pairs, syms) in zip(terms, structures, strict=True):
        ks = set()
        for s in syms:
            k = where[s][1]
            ks.add(k)
            touched.setdefault(k, set()).add(s)
        if len(ks) < 2:
            continue
        if pairs is None:
            complex_cross.append(term)
        else:
            cross_monomials.setdefault(pairs, []).append(term)
    if len(touched) < 2:
        return 0
    if not complex_cross:
        degrees = []
        for pairs, terms in cross_monomials.items():
            if len(terms) == 1 or not is_identically_zero(sympy.Add(*terms), slots):
                degrees.append(sum(e for _, e in pairs))
        if degrees:
            return max(degrees)
    else:
        h = sympy.Add(*complex_cross, *(t for ts in cross_monomials.values() for t in ts))
        result = _cross_part_order(h, slots)
        if result is not None:
            return result
    dependent = [k for k, syms in touched.items() if _depends_on(expr, syms, slots)]
    return 1 if len(dependent) >= 2 else 0


def _cross_part_order(h: sympy.Expr, slots: Slots) -> int | float | None:
    """2 + max deg of the cross second derivatives of h, inf, or None if they all vanish."""
    latents = slots.symbols
    present = [s for s in latents if s in h.free_symbols]
    best: int | float | None = None
    for a, s in enumerate(present):
        ds = sympy.diff(h, s)
        for t in present[a + 1:]:
            if slots.slot(s) == slots.slot(t):
                continue
            try:
                deg = _classify(sympy.diff(ds, t), latents)
            except _Undecided as err:
                raise AnalysisError(
                    f"could not certify the interaction order of {h}: the cross derivative"
                    f" d2/d{s}d{t} is outside the decidable class ({err})") from None
            if deg is None:
                continue
            if deg == math.inf:
                return math.inf
            best = max(best or 0, 2 + deg)
    return best


def _checked(f: object, slots: Slots) -> sympy.Matrix:
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    return slots.check_generator(f)


def interaction_order(f: object, slots: Slots) -> int | float:
    """Exact interaction order n of f across ``slots`` (``math.inf`` if no finite n).

    ``f``: a generator (d_x, 1) (sympy Matrix or sequence of expressions) in the slot
    symbols. Returns 0 if every output depends on at most one slot, otherwise the least n >= 1
    such that every partial derivative of order n + 1 mixing >= 2 slots vanishes (module
    docstring: order = 2 + max degree of the cross second derivatives, 1 if they all vanish).
    Raises :class:`AnalysisError` when no exact certificate can be found (e.g. sqrt of a
    cross-slot expression), never a guess.
    """
    f = _checked(f, slots)
    best: int | float = 0
    where = _where(slots)
    for expr in f:
        best = max(best, _output_order(expr, slots, where))
        if best == math.inf:
            break
    return best


def has_order_at_most(f: object, slots: Slots, n: int) -> bool:
    """True iff f has at most n-th order interaction across ``slots`` (exact)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise AnalysisError(f"order n must be a non-negative integer, got {n!r}")
    return interaction_order(f, slots) <= n


def _is_cross(variables: tuple[sympy.Symbol, ...], slots: Slots) -> bool:
    return len({slots.slot(s) for s in variables}) >= 2


def cross_derivatives(f: object, slots: Slots, order: int) -> list[CrossDerivative]:
    """All non-zero partial derivatives of exactly ``order`` mixing >= 2 slots.

    One entry per output l and unordered multi-index (i_1 <= ... <= i_k in slot order) with
    d^k f_l / dz_{i_1} ... dz_{i_k} not identically zero. ``order`` 1 gives an empty list (one
    variable never mixes slots). Derivatives are computed along a prefix tree of multi-indices
    and pruned at vanishing prefixes; polynomial outputs use exact ``Poly`` arithmetic.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise AnalysisError(f"derivative order must be a positive integer, got {order!r}")
    f = _checked(f, slots)
    latents = slots.symbols
    out: list[CrossDerivative] = []
    for l, expr in enumerate(f):
        present = [s for s in latents if s in expr.free_symbols]
        if len({slots.slot(s) for s in present}) < 2:
            continue
        poly = as_polynomial(expr, latents)

        def walk(start: int, prefix: tuple, value, poly=poly, present=present, l=l) -> None:
            if len(prefix) == order:
                if _is_cross(prefix, slots):
                    out.append(CrossDerivative(
                        l, prefix, value.as_expr() if poly is not None else value))
                return
            for a in range(start, len(present)):
                s = present[a]
                d = value.diff(s) if poly is not None else sympy.diff(value, s)
                zero = d.is_zero if poly is not None else is_identically_zero(d, slots)
                if not zero:
                    walk(a, (*prefix, s), d)

        walk(0, (), poly if poly is not None else expr)
    return out


def interaction_order_bruteforce(f: object, slots: Slots, max_order: int) -> int | float:
    """Reference implementation straight from the definition (slow; for tests and benches).

    Each output is expanded once. For k = 2, 3, ...: differentiate every output by every
    cross-slot multi-index of order k from scratch and test the result for zero (``== 0`` for
    polynomial outputs, whose derivatives stay expanded, else ``expand() == 0``); the order is
    k - 1 for the first k where all vanish (0 if every output depends on <= 1 slot). Returns
    ``math.inf`` if cross partials of order ``max_order + 1`` still do not all vanish.
    """
    f = _checked(f, slots)
    latents = slots.symbols
    outputs = [(sympy.expand(e), as_polynomial(e, latents) is not None) for e in f]

    def vanishes(e: sympy.Expr, polynomial: bool, variables: tuple[sympy.Symbol, ...]) -> bool:
        d = sympy.diff(e, *variables)
        return d == 0 if polynomial else sympy.expand(d) == 0

    single = all(len({slots.slot(s) for s in latents if not vanishes(e, p, (s,))}) < 2
                 for e, p in outputs)
    if single:
        return 0
    for k in range(2, max_order + 2):
        nonzero = False
        for e, p in outputs:
            for variables in combinations_with_replacement(latents, k):
                if _is_cross(variables, slots) and not vanishes(e, p, variables):
                    nonzero = True
        if not nonzero:
            return k - 1
    return math.inf
