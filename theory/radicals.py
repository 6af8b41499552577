"""Radicals and absolute values of rational functions of the latents, decided exactly.

Rational functions of z and radicals of rational functions with rational coefficients are
decided by Kummer theory (:func:`radical_degree`, after :func:`normalize_radicals` has written
every radicand over its irreducible factors on a stated domain, where perfect powers become
polynomials), or, for one square root S = sqrt(b(z)) of a non-square polynomial, written
g = A + B S with A, B rational ({1, S} is a basis of C(z)(S) over C(z)): g is a polynomial iff
B = 0 and A is one (:func:`square_root_degree`). Radicands with irrational coefficients are not
factored (:class:`~theory.exp_rational.Undecided`).
"""

from __future__ import annotations

import math

import sympy

from theory.exp_rational import Undecided, total_degree

__all__ = ["normalize_radicals", "radical_degree", "square_root_degree"]


def _irreducible_factors(b: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                         ) -> tuple[sympy.Expr, list[tuple[sympy.Expr, int]]]:
    """b = c * prod p_i^{m_i} (m_i in Z, negative for the denominator) with p_i irreducible over
    Q, primitive, of positive leading coefficient, so that the factors of all radicands are
    compared by identity; ``Undecided`` unless b is a rational function of the latents."""
    if not b.is_rational_function(*latents):
        raise Undecided(f"radicand {b} is not a rational function of the latents")
    num, den = sympy.fraction(sympy.together(b))
    for part in (num, den):
        if sympy.Poly(part, *latents).domain not in (sympy.ZZ, sympy.QQ):
            # with irrational coefficients a formal factorization can miss a square
            # (y^2 + 2 sqrt(2) y + 2 = (y + sqrt(2))^2): not decided here
            raise Undecided(f"radicand {b} has irrational coefficients")
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
        except Undecided:
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


def radical_degree(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]) -> int | float | None:
    """:func:`theory.degree.structural_degree` for g in Q(z)[p_1^{r_1}, ..., p_m^{r_m}]: radicals of
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
        raise Undecided(f"{g} has no radicals of the latents")
    keys: dict[sympy.Expr, int] = {}
    bases: list[sympy.Expr] = []
    ts: list[sympy.Dummy] = []
    replacement: dict[sympy.Expr, sympy.Expr] = {}
    for atom in radicals:
        const, factors = _irreducible_factors(atom.base, latents)
        if const < 0:
            raise Undecided(f"radicand {atom.base} has a negative constant factor")
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
        raise Undecided(f"{g} is not a rational function of the latents and radicals")
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
    return total_degree(numer, latents)


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
    """(rest, exponents of the ts) for a product; ``Undecided`` if a t sits in a sum.

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
            raise Undecided(f"a radical inside the sum {factor}")
        else:
            rest *= factor
    return (exps, rest) if as_exponents else (rest, exps)


def square_root_degree(g: sympy.Expr, latents: tuple[sympy.Symbol, ...]
                          ) -> int | float | None:
    """:func:`theory.degree.structural_degree` for rational functions of z and one S = sqrt(b(z)).

    b must be a polynomial that is not a square in C[z] (some factor of odd multiplicity), so
    that {1, S} is a basis of C(z)(S) over C(z). Then g = A + B S with A, B in Q(z), computed
    by reducing modulo S^2 - b and rationalizing the denominator; g is a polynomial iff B = 0
    and A is a polynomial (every polynomial lies in C(z)).
    """
    radicals = [p for p in g.atoms(sympy.Pow)
                if not p.exp.is_Integer and p.base.free_symbols & set(latents)]
    bases = {p.base for p in radicals}
    if len(bases) != 1 or any(not (p.exp.is_Rational and p.exp.q == 2) for p in radicals):
        raise Undecided(f"{g} is not a rational function of the latents and one square root")
    b = bases.pop()
    if not b.is_polynomial(*latents) or sympy.Poly(b, *latents).domain not in (sympy.ZZ,
                                                                                 sympy.QQ):
        raise Undecided(f"sqrt({b}): not a polynomial with rational coefficients")
    if all(m % 2 == 0 for _, m in sympy.sqf_list(b)[1]):
        raise Undecided(f"sqrt({b}) is not the root of a non-square polynomial")
    root = sympy.Dummy("S")
    e = g.xreplace({p: root ** int(2 * p.exp) for p in radicals})
    if not e.is_rational_function(*latents, root):
        raise Undecided(f"{g} is not a rational function of the latents and sqrt({b})")
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
    return total_degree(numer, latents)

