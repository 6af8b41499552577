"""Training supports as unions of closed boxes, their Cartesian-product extension Z_CPE, and
piecewise functions of single latents restricted to a box (docs/theory.md section 4.2).

A support S is a union of closed boxes (a (lo, hi) pair of exact rationals per latent, flat
slot order). Its Cartesian-product extension combines, in every way, the projections of the
boxes onto the slots: Z_CPE = union over (p_1, ..., p_K) of p_1 x ... x p_K. Compositional
generalization asks a decoder to be right on Z_CPE after training on S; a support that is not
aligned-connected lets a decoder agree with f on S and differ on Z_CPE (the catalogue's
``support_not_aligned_connected``). Decoders there may hold ``sympy.Piecewise`` functions of one
latent: :func:`restrict` replaces each by its branch active on a whole box, decided by exact
set containment, and :func:`breakpoints_smooth` checks C^m smoothness at the breakpoints.
"""

from __future__ import annotations

import functools
import itertools
import math

import sympy

from theory.errors import CatalogueError
from theory.slots import Slots

__all__ = ["Box", "box_dict", "box_set", "breakpoints_smooth", "cpe_boxes", "restrict",
           "smoothstep"]

Box = tuple[tuple[sympy.Rational, sympy.Rational], ...]
"""A closed box: one (lo, hi) pair of exact rationals per latent coordinate."""


def smoothstep(t: sympy.Symbol, lo: sympy.Rational, hi: sympy.Rational, m: int) -> sympy.Piecewise:
    """C^m step: 0 for t <= lo, 1 for t >= hi, and in between the polynomial
    S(s) = s^{m+1} sum_{k=0}^{m} C(m+k, k) C(2m+1, m-k) (-s)^k, s = (t - lo)/(hi - lo),
    whose derivatives of orders 1..m vanish at s = 0 and s = 1 (exact, rational)."""
    s = (t - lo) / (hi - lo)
    poly = s ** (m + 1) * sum(math.comb(m + k, k) * math.comb(2 * m + 1, m - k) * (-s) ** k
                              for k in range(m + 1))
    return sympy.Piecewise((0, t <= lo), (sympy.expand(poly), t < hi), (1, True))


def _condition_set(cond: sympy.Basic, t: sympy.Symbol) -> sympy.Set:
    """The set of real t where a univariate condition holds (fast path for t < c, t <= c, ...)."""
    if cond is sympy.true:
        return sympy.S.Reals
    if isinstance(cond, sympy.core.relational.Relational) and cond.lhs == t and \
            cond.rhs.is_number:
        c = cond.rhs
        return {"<": sympy.Interval.open(-sympy.oo, c), "<=": sympy.Interval(-sympy.oo, c),
                ">": sympy.Interval.open(c, sympy.oo), ">=": sympy.Interval(c, sympy.oo)}.get(
                    cond.rel_op, None) or cond.as_set()
    return cond.as_set()


@functools.lru_cache(maxsize=256)
def _active_branch(pw: sympy.Piecewise, v: sympy.Symbol, interval: sympy.Interval) -> sympy.Expr:
    """The branch of a univariate Piecewise that is active on the whole closed interval."""
    seen = sympy.S.EmptySet
    for value, cond in pw.args:
        cset = _condition_set(cond, v)
        active = sympy.Complement(interval.intersect(cset), seen)
        if active == interval:
            return value
        if active != sympy.S.EmptySet:
            raise CatalogueError(f"{pw} changes branch inside {v} in {interval}")
        seen = sympy.Union(seen, cset)
    raise CatalogueError(f"{pw} is undefined on {v} in {interval}")


def restrict(expr: sympy.Expr, box: dict[sympy.Symbol, sympy.Interval]) -> sympy.Expr:
    """expr on a closed box with every Piecewise of one latent replaced by the single branch
    active on the whole interval of that latent (exact set containment); CatalogueError when a
    breakpoint lies inside the interval."""

    def pick(*args: sympy.Basic) -> sympy.Expr:
        pw = sympy.Piecewise(*args, evaluate=False)
        cond_vars = set().union(*(c.free_symbols for _, c in pw.args))
        if len(cond_vars) != 1 or not cond_vars <= set(box):
            raise CatalogueError(f"piecewise {pw} must branch on one latent of the box")
        (v,) = cond_vars
        return _active_branch(pw, v, box[v])

    return sympy.expand(expr.replace(sympy.Piecewise, pick))


def cpe_boxes(boxes: tuple[Box, ...], slots: Slots) -> tuple[list[Box], list[Box]]:
    """(all boxes of Z_CPE, those not in the support), exact (the bounds of ``boxes``).

    ``boxes``: the support S as a union of closed boxes, each a tuple of (lo, hi) per latent
    coordinate (flat slot order). Per slot k the distinct projections P_k of the training boxes
    onto the slot's coordinates (which must be pairwise equal or meet at most on their
    boundary, i.e. have disjoint interiors) are combined in every way:
    Z_CPE = union over (p_1, ..., p_K) in P_1 x ... x P_K of p_1 x ... x p_K, in
    ``itertools.product`` order. A box of Z_CPE is either a training box or meets S at most on
    its boundary; the second list holds those, Z_CPE minus S up to a null set. Raises
    :class:`CatalogueError` for projections whose interiors overlap without being equal.
    """
    per_slot = []
    for k in range(slots.K):
        lo, hi = slots.offsets[k], slots.offsets[k + 1]
        projections = list(dict.fromkeys(b[lo:hi] for b in boxes))
        for p, q in itertools.combinations(projections, 2):
            if _interiors_overlap(p, q):
                raise CatalogueError(f"slot {k} projections {p} and {q} overlap without being"
                                     " equal: Z_CPE is not a union of product boxes here")
        per_slot.append(projections)
    cpe = [tuple(c for part in combo for c in part) for combo in itertools.product(*per_slot)]
    return cpe, [b for b in cpe if b not in boxes]


def _interiors_overlap(p: Box, q: Box) -> bool:
    """Whether the open boxes of ``p`` and ``q`` intersect: max(lo) < min(hi) in every
    coordinate (closed boxes that only share boundary points do not)."""
    return all(sympy.Max(a, c) < sympy.Min(b, d) for (a, b), (c, d) in zip(p, q, strict=True))


def box_set(box: Box) -> sympy.Set:
    """The closed box as a sympy ``ProductSet`` of intervals."""
    return sympy.ProductSet(*(sympy.Interval(lo, hi) for lo, hi in box))


def box_dict(box: Box, symbols: tuple[sympy.Symbol, ...]) -> dict[sympy.Symbol, sympy.Interval]:
    """The closed box as {latent: its interval}."""
    return {s: sympy.Interval(lo, hi) for s, (lo, hi) in zip(symbols, box, strict=True)}


def breakpoints_smooth(decoder: sympy.Matrix, m: int) -> tuple[bool, str]:
    """Each Piecewise branch and its first m derivatives agree at every breakpoint (exact)."""
    details = []
    ok = True
    for pw in set().union(*(e.atoms(sympy.Piecewise) for e in decoder)):
        (t,) = pw.free_symbols
        branches = [v for v, _ in pw.args]
        points = sorted({b for _, c in pw.args if c is not sympy.true
                         for b in _condition_set(c, t).boundary if b.is_finite})
        for p, (a, b) in zip(points, itertools.pairwise(branches), strict=False):
            for j in range(m + 1):
                da = sympy.diff(a, t, j).subs(t, p)
                db = sympy.diff(b, t, j).subs(t, p)
                if sympy.expand(da - db) != 0 and sympy.simplify(da - db) != 0:
                    ok = False
                    details.append(f"derivative {j} of {pw} jumps at {t} = {p}")
        details.append(f"{t}: breakpoints {points} matched to order {m}")
    return ok, "; ".join(details)
