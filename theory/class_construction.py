"""The class-n construction f = C m(z): exact generators of order n that are sufficiently
independent, drawn from a seed.

Class-n construction (n >= 1): with the multi-indices alpha of order 1..n (all of them, cross-
slot included) and the within-slot ones of order n + 1, f(z) = C m(z) where m(z) = (z^alpha)
and C is a random d_x x m rational matrix with no zero entry. Every cross monomial has degree
<= n and some has degree n, so the order is exactly n (K >= 2); D_alpha f(0) = alpha! C[:, alpha],
so the derivative matrix of the sufficient-independence condition is C times an invertible
diagonal matrix at z = 0, of full column rank when C is. Hence ``outputs >= m`` is necessary
and, for a generic C, sufficient: :func:`minimum_outputs` gives m. Every coefficient is an
exact ``sympy.Rational`` drawn from ``random.Random(seed)`` (:func:`coefficient`); a draw that
fails the exact checks is replaced by the next draw of the same stream (:func:`class_draw`).
The generator families built on it are in :mod:`theory.generators`.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import sympy
from sympy.core.add import _addsort

from theory.errors import GeneratorError
from theory.independence import sufficient_independence
from theory.rank_certificates import DenseOutputs, IndependenceResult, modular_certificate
from theory.slots import Slots, exponent_vectors

__all__ = ["MAX_ATTEMPTS", "ClassDraw", "check_order", "check_outputs", "class_draw",
           "class_indices", "class_size", "coefficient", "minimum_outputs", "monomial",
           "need_outputs", "need_slots", "slots_of_sizes", "sum_of_terms", "sums_of_terms"]

#: Draws tried per seed before a constructor gives up.
MAX_ATTEMPTS = 20


def slots_of_sizes(sizes: Sequence[int]) -> Slots:
    """Slots z1_1.. of the given sizes (an int is one slot)."""
    if isinstance(sizes, int):
        sizes = (sizes,)
    return Slots.from_sizes(*tuple(sizes))


def check_outputs(outputs: int) -> None:
    """:class:`GeneratorError` unless ``outputs`` is a positive int."""
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise GeneratorError(f"outputs must be a positive integer, got {outputs!r}")


def check_order(order: int) -> None:
    """:class:`GeneratorError` unless ``order`` is a non-negative int."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise GeneratorError(f"order must be a non-negative integer, got {order!r}")


@functools.lru_cache(maxsize=128)
def _rational(p: int, q: int) -> sympy.Rational:
    return sympy.Rational(p, q)


def coefficient(rng: random.Random) -> sympy.Rational:
    """+-(1..9) / (1..4) from three draws of ``rng`` (the 72 values are built once)."""
    return _rational(rng.choice((1, -1)) * rng.randint(1, 9), rng.randint(1, 4))


def monomial(variables: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    """z^alpha for the multi-index alpha given as its variables with repetition."""
    return sympy.Mul(*variables)


def class_indices(slots: Slots, order: int, top: int) -> list[tuple[sympy.Symbol, ...]]:
    """Multi-indices of order 1..n and within-slot ones of order n + 1..top."""
    out = [v for k in range(1, order + 1)
           for v in combinations_with_replacement(slots.symbols, k)]
    for block in slots.blocks:
        for k in range(order + 1, top + 1):
            out.extend(combinations_with_replacement(block, k))
    return out


def class_size(sizes: Sequence[int], order: int, top: int) -> int:
    """Number of multi-indices of order 1..n in all latents plus within-slot ones of order
    n + 1..top (what :func:`class_indices` lists), by formula, without listing them:
    sum_{k=1}^{n} C(d + k - 1, k) + sum_slots sum_{k=n+1}^{top} C(d_s + k - 1, k)."""
    slots = slots_of_sizes(sizes)
    d = slots.dim
    return (sum(math.comb(d + k - 1, k) for k in range(1, order + 1))
            + sum(math.comb(n + k - 1, k) for n in slots.sizes
                  for k in range(order + 1, top + 1)))


def minimum_outputs(order: int, sizes: Sequence[int]) -> int:
    """Smallest d_x for which a sufficiently independent generator of this order can exist.

    n >= 1: the number m of columns D_alpha f (|alpha| <= n, or |alpha| = n + 1 within a slot).
    n = 0: sum over slots of |B_k| + 1 (|B_k| for a one-latent slot): a full-rank Jacobian
    block with |B_k| >= 2 rows only is reducible, one more row is needed to connect it.
    """
    check_order(order)
    slots = slots_of_sizes(sizes)
    if order == 0:
        return sum(n + 1 if n > 1 else n for n in slots.sizes)
    return class_size(slots.sizes, order, order + 1)


def need_slots(slots: Slots, order: int) -> None:
    """:class:`GeneratorError` if an order n >= 1 is asked of fewer than 2 slots."""
    if order >= 1 and slots.K < 2:
        raise GeneratorError(f"interaction order {order} needs at least 2 slots (one slot only"
                             " ever has order 0)")


def need_outputs(outputs: int, order: int, sizes: Sequence[int]) -> None:
    """:class:`GeneratorError` if ``outputs`` < :func:`minimum_outputs` (order, sizes)."""
    check_outputs(outputs)
    need = minimum_outputs(order, sizes)
    if outputs < need:
        raise GeneratorError(f"sufficient independence at order {order} for slot sizes"
                             f" {tuple(sizes)} needs at least {need} outputs, got {outputs}")


def _term(c: sympy.Rational, m: sympy.Expr) -> sympy.Expr:
    """c * m in sympy's canonical form, built without re-flattening: a monomial Mul keeps its
    sorted factors and the rational coefficient goes first (c = 1 gives m itself)."""
    if c == 1:
        return m
    return sympy.Mul._from_args((c, *m.args) if m.is_Mul else (c, m))


def sum_of_terms(coeffs: list[sympy.Rational], monos: list[sympy.Expr]) -> sympy.Expr:
    """sympy.Add(*(c * m)) for distinct monomials and non-zero rational c, built from its
    canonical parts: the terms sorted as Add sorts them (sympy.core.add._addsort), no like terms
    to combine and no constant. The result is the same expression, argument for argument,
    as sympy.Add(*(c * m for c, m in ...)) (tests/theory/test_generators.py checks it)."""
    return sums_of_terms([coeffs], monos)[0]


def sums_of_terms(rows: list[list[sympy.Rational]], monos: list[sympy.Expr]
                   ) -> list[sympy.Expr]:
    """:func:`sum_of_terms` of every row, sorting each distinct term c * m only once: Add
    orders its terms by the total order Basic.compare, so one sort of all distinct terms of all
    rows gives every row's order by restriction."""
    distinct: dict[tuple[sympy.Rational, int], sympy.Expr] = {}
    for row in rows:
        for j, c in enumerate(row):
            if (c, j) not in distinct:
                distinct[(c, j)] = _term(c, monos[j])
    ordered = list(distinct.items())
    terms = [t for _, t in ordered]
    _addsort(terms)
    rank = {id(t): i for i, t in enumerate(terms)}
    position = {key: rank[id(t)] for key, t in ordered}
    out = []
    for row in rows:
        keys = sorted(((c, j) for j, c in enumerate(row)), key=position.__getitem__)
        out.append(sympy.Add._from_args([distinct[k] for k in keys]))
    return out


@dataclass(frozen=True)
class ClassDraw:
    """An accepted draw of the class-n construction f = C m(z) (module docstring), before the
    expression is built.

    ``monomials``: m(z) as sympy monomials, ``exponents`` their exponent vectors;
    ``coefficients``: C row by row (exact rationals, none zero); ``independence``: the exact
    certificate of sufficient independence of f at ``order``. When the monomials are exactly the
    derivative columns (``top = order + 1``, as :func:`polynomial` builds), a full-rank
    certificate of M(z) = C E(z) also certifies that C has full column rank.
    """

    slots: Slots
    order: int
    top: int
    monomials: tuple[sympy.Expr, ...]
    exponents: tuple[tuple[int, ...], ...]
    coefficients: tuple[tuple[sympy.Rational, ...], ...]
    independence: IndependenceResult

    def expression(self) -> sympy.Matrix:
        """f = C m(z), the same expression :func:`polynomial` returns for this draw."""
        return sympy.Matrix(sums_of_terms([list(r) for r in self.coefficients],
                                           list(self.monomials)))


def class_draw(order: int, sizes: Sequence[int], outputs: int, seed: int,
               top: int | None = None) -> ClassDraw:
    """The draw :func:`polynomial` (``top`` None: order + 1) accepts, without building f.

    The draws of C come from random.Random(seed) in the same order as always (outputs, then
    monomials), and each draw is verified from its exponent vectors and coefficients: the order
    from the monomial supports (every coefficient is non-zero, so they are exact), sufficient
    independence by :func:`theory.independence.modular_certificate` on the (exponent,
    coefficient) terms, falling back to :func:`sufficient_independence` on the expression when
    that does not certify.
    """
    top = order + 1 if top is None else top
    slots = slots_of_sizes(sizes)
    need_slots(slots, order)
    need_outputs(outputs, order, slots.sizes)
    indices = class_indices(slots, order, top)
    monos = [monomial(v) for v in indices]
    exponents = exponent_vectors(slots.symbols, indices)
    slot_of = slots.slot_of
    cross = [sum(e) for e in exponents
             if len({slot_of[i] for i, x in enumerate(e) if x}) >= 2]
    support_order = max(cross) if cross else (1 if slots.K >= 2 else 0)
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        coeffs = [[coefficient(rng) for _ in monos] for _ in range(outputs)]
        if support_order != order:
            continue
        report = modular_certificate(DenseOutputs(coeffs, exponents), slots, order)
        if report is None:
            report = sufficient_independence(sympy.Matrix(sums_of_terms(coeffs, monos)),
                                             slots, order)
            if report.holds is not True:
                continue
        return ClassDraw(slots, order, top, tuple(monos), tuple(exponents),
                         tuple(tuple(r) for r in coeffs), report)
    raise GeneratorError(f"no order-{order} generator with verified order {order} and"
                         f" sufficient independence in {MAX_ATTEMPTS} draws from seed {seed}:"
                         " add outputs")
