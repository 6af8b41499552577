"""Seeded exact generators of known interaction order, and counterexample families.

Every coefficient is an exact ``sympy.Rational`` drawn from ``random.Random(seed)``: the same
seed gives the same generator. The constructors of the identifiable classes verify their
promise exactly before returning (interaction order n with :func:`theory.order.interaction_order`
and sufficient independence with :func:`theory.independence.sufficient_independence`); a draw
that fails is replaced by the next draw of the same seeded stream, so the result is still a
deterministic function of the seed.

Class-n construction (n >= 1): with the multi-indices alpha of order 1..n (all of them, cross-
slot included) and the within-slot ones of order n + 1, f(z) = C m(z) where m(z) = (z^alpha)
and C is a random d_x x m rational matrix with no zero entry. Every cross monomial has degree
<= n and some has degree n, so the order is exactly n (K >= 2); D_alpha f(0) = alpha! C[:, alpha],
so the derivative matrix of the sufficient-independence condition is C times an invertible
diagonal matrix at z = 0, of full column rank when C is. Hence ``outputs >= m`` is necessary
and, for a generic C, sufficient: :func:`minimum_outputs` gives m.
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
from theory.independence import (
    IndependenceResult,
    exp_linear_certificate,
    modular_certificate,
    sufficient_independence,
)
from theory.order import interaction_order
from theory.slots import Slots, exponent_vectors

__all__ = [
    "MAX_ATTEMPTS",
    "ClassDraw",
    "Generator",
    "additive",
    "bilinear",
    "class_draw",
    "class_size",
    "exp_polynomial",
    "gaussian_bump",
    "hidden_relation",
    "linear",
    "low_degree",
    "minimum_outputs",
    "order0",
    "polynomial",
    "product_interaction",
    "random_polynomial",
]

MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Generator:
    """A generator f : z -> x, ``f`` of shape (d_x, 1) in the symbols of ``slots``.

    ``order`` is its exact interaction order (``math.inf`` if none); ``name`` the family and
    ``description`` what was built and what is known about it; ``independence``: the exact
    sufficient-independence certificate at ``order`` when the constructor verified it (None:
    not checked), so that callers need not decide it again.
    """

    f: sympy.Matrix
    slots: Slots
    order: int | float
    name: str
    description: str
    independence: IndependenceResult | None = None


def _slots(sizes: Sequence[int]) -> Slots:
    if isinstance(sizes, int):
        sizes = (sizes,)
    return Slots.from_sizes(*tuple(sizes))


def _check_outputs(outputs: int) -> None:
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
        raise GeneratorError(f"outputs must be a positive integer, got {outputs!r}")


def _check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise GeneratorError(f"order must be a non-negative integer, got {order!r}")


@functools.lru_cache(maxsize=128)
def _rational(p: int, q: int) -> sympy.Rational:
    return sympy.Rational(p, q)


def _coefficient(rng: random.Random) -> sympy.Rational:
    """+-(1..9) / (1..4) from three draws of ``rng`` (the 72 values are built once)."""
    return _rational(rng.choice((1, -1)) * rng.randint(1, 9), rng.randint(1, 4))


def _monomial(variables: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    return sympy.Mul(*variables)


def _class_indices(slots: Slots, order: int, top: int) -> list[tuple[sympy.Symbol, ...]]:
    """Multi-indices of order 1..n and within-slot ones of order n + 1..top."""
    out = [v for k in range(1, order + 1)
           for v in combinations_with_replacement(slots.symbols, k)]
    for block in slots.blocks:
        for k in range(order + 1, top + 1):
            out.extend(combinations_with_replacement(block, k))
    return out


def class_size(sizes: Sequence[int], order: int, top: int) -> int:
    """Number of multi-indices of order 1..n in all latents plus within-slot ones of order
    n + 1..top (what :func:`_class_indices` lists), by formula, without listing them:
    sum_{k=1}^{n} C(d + k - 1, k) + sum_slots sum_{k=n+1}^{top} C(d_s + k - 1, k)."""
    slots = _slots(sizes)
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
    _check_order(order)
    slots = _slots(sizes)
    if order == 0:
        return sum(n + 1 if n > 1 else n for n in slots.sizes)
    return class_size(slots.sizes, order, order + 1)


def _verified(build, slots: Slots, order: int, seed: int, what: str
              ) -> tuple[sympy.Matrix, IndependenceResult]:
    """Draw with ``build(rng)`` until order and sufficient independence are verified:
    ``(f, its certificate)``."""
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        f = build(rng)
        if interaction_order(f, slots) != order:
            continue
        report = sufficient_independence(f, slots, order)
        if report.holds is True:
            return f, report
    raise GeneratorError(f"no {what} with verified order {order} and sufficient independence in"
                         f" {MAX_ATTEMPTS} draws from seed {seed}: add outputs")


def _need_slots(slots: Slots, order: int) -> None:
    if order >= 1 and slots.K < 2:
        raise GeneratorError(f"interaction order {order} needs at least 2 slots (one slot only"
                             " ever has order 0)")


def _need_outputs(outputs: int, order: int, sizes: Sequence[int]) -> None:
    _check_outputs(outputs)
    need = minimum_outputs(order, sizes)
    if outputs < need:
        raise GeneratorError(f"sufficient independence at order {order} for slot sizes"
                             f" {tuple(sizes)} needs at least {need} outputs, got {outputs}")


def order0(sizes: Sequence[int], outputs: int, seed: int, transcendental: bool = False
           ) -> Generator:
    """Order 0: every output is a random polynomial of degree 3 in one slot's latents.

    Outputs are dealt to the slots (each gets at least its minimum, see
    :func:`minimum_outputs`); ``transcendental`` adds c * tanh(linear form) to every output.
    Verified: order 0, full-rank and irreducible Jacobian block per slot.
    """
    slots = _slots(sizes)
    _need_outputs(outputs, 0, slots.sizes)
    owners = [k for k, n in enumerate(slots.sizes) for _ in range(n + 1 if n > 1 else n)]
    owners += [k % slots.K for k in range(outputs - len(owners))]
    owners.sort()

    def build(rng: random.Random) -> sympy.Matrix:
        rows = []
        for k in owners:
            block = slots.blocks[k]
            monos = [v for d in range(1, 4) for v in combinations_with_replacement(block, d)]
            e = sympy.Add(*(_coefficient(rng) * _monomial(v) for v in monos))
            if transcendental:
                e += _coefficient(rng) * sympy.tanh(sum(_coefficient(rng) * s for s in block))
            rows.append(e)
        return sympy.Matrix(rows)

    f, report = _verified(build, slots, 0, seed, "order-0 generator")
    extra = " plus tanh terms" if transcendental else ""
    return Generator(f, slots, 0, "order0",
                     f"each output a random cubic{extra} in one slot; irreducible slots",
                     report)


def _term(c: sympy.Rational, m: sympy.Expr) -> sympy.Expr:
    """c * m in sympy's canonical form, built without re-flattening: a monomial Mul keeps its
    sorted factors and the rational coefficient goes first (c = 1 gives m itself)."""
    if c == 1:
        return m
    return sympy.Mul._from_args((c, *m.args) if m.is_Mul else (c, m))


def _sum_of_terms(coeffs: list[sympy.Rational], monos: list[sympy.Expr]) -> sympy.Expr:
    """sympy.Add(*(c * m)) for distinct monomials and non-zero rational c, built from its
    canonical parts: the terms sorted as Add sorts them (sympy.core.add._addsort), no like terms
    to combine and no constant. The result is the same expression, argument for argument,
    as sympy.Add(*(c * m for c, m in ...)) (tests/theory/test_generators.py checks it)."""
    return _sums_of_terms([coeffs], monos)[0]


def _sums_of_terms(rows: list[list[sympy.Rational]], monos: list[sympy.Expr]
                   ) -> list[sympy.Expr]:
    """:func:`_sum_of_terms` of every row, sorting each distinct term c * m only once: Add
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
        return sympy.Matrix(_sums_of_terms([list(r) for r in self.coefficients],
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
    slots = _slots(sizes)
    _need_slots(slots, order)
    _need_outputs(outputs, order, slots.sizes)
    indices = _class_indices(slots, order, top)
    monos = [_monomial(v) for v in indices]
    exponents = exponent_vectors(slots.symbols, indices)
    slot_of = slots.slot_of
    cross = [sum(e) for e in exponents
             if len({slot_of[i] for i, x in enumerate(e) if x}) >= 2]
    support_order = max(cross) if cross else (1 if slots.K >= 2 else 0)
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        coeffs = [[_coefficient(rng) for _ in monos] for _ in range(outputs)]
        if support_order != order:
            continue
        report = modular_certificate(coeffs, slots, order, monomials=exponents)
        if report is None:
            report = sufficient_independence(sympy.Matrix(_sums_of_terms(coeffs, monos)),
                                             slots, order)
            if report.holds is not True:
                continue
        return ClassDraw(slots, order, top, tuple(monos), tuple(exponents),
                         tuple(tuple(r) for r in coeffs), report)
    raise GeneratorError(f"no order-{order} generator with verified order {order} and"
                         f" sufficient independence in {MAX_ATTEMPTS} draws from seed {seed}:"
                         " add outputs")


def _class_generator(order: int, sizes: Sequence[int], outputs: int, seed: int, top: int,
                     name: str) -> Generator:
    """f = C m(z) (module docstring) from the accepted :func:`class_draw`."""
    draw = class_draw(order, sizes, outputs, seed, top)
    return Generator(draw.expression(), draw.slots, order, name,
                     f"random rational combination of all monomials of degree <= {order} and"
                     f" within-slot monomials of degree {order + 1}..{top};"
                     " sufficiently independent", draw.independence)


def additive(sizes: Sequence[int], outputs: int, seed: int, degree: int = 3) -> Generator:
    """Order 1 (additive): f = sum_k f_k(z_{B_k}), each f_k a random polynomial of ``degree``.

    Needs ``degree >= 2`` (linear parts alone are never sufficiently independent) and at
    least :func:`minimum_outputs` (1, sizes) outputs.
    """
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 2:
        raise GeneratorError(f"additive generators need degree >= 2, got {degree!r}")
    return _class_generator(1, sizes, outputs, seed, degree, "additive")


def bilinear(sizes: Sequence[int], outputs: int, seed: int) -> Generator:
    """Order 2: additive cubic slot polynomials plus bilinear cross terms c_ij z_i z_j."""
    return _class_generator(2, sizes, outputs, seed, 3, "bilinear")


def polynomial(order: int, sizes: Sequence[int], outputs: int, seed: int) -> Generator:
    """Exact order ``order`` (0 -> :func:`order0`), sufficiently independent (module doc)."""
    _check_order(order)
    if order == 0:
        return order0(sizes, outputs, seed)
    return _class_generator(order, sizes, outputs, seed, order + 1, f"polynomial{order}")


def random_polynomial(order: int, sizes: Sequence[int], outputs: int, seed: int,
                      degree: int = 5, terms: int = 30) -> Generator:
    """Random sparse polynomial generator of exact order ``order`` >= 1 (no independence claim).

    Each output: ``terms`` monomials drawn from the cross-slot ones of degree 2..order and the
    within-slot ones of degree 1..``degree``; output 0 always has a cross monomial of degree
    ``order``. bench.bench_order times ``random_polynomial(3, (3, 3, 3, 3), 60, s)``.
    """
    _check_order(order)
    _check_outputs(outputs)
    slots = _slots(sizes)
    _need_slots(slots, max(order, 1))
    if order < 2:
        raise GeneratorError("random_polynomial builds cross monomials: order must be >= 2")
    cross = [v for d in range(2, order + 1) for v in combinations_with_replacement(slots.symbols, d)
             if len({slots.slot(s) for s in v}) > 1]
    within = [v for block in slots.blocks for d in range(1, degree + 1)
              for v in combinations_with_replacement(block, d)]
    top = [v for v in cross if len(v) == order]
    rng = random.Random(seed)
    pool = cross + within
    rows = []
    for l in range(outputs):
        chosen = rng.sample(pool, min(terms, len(pool)))
        if l == 0:
            chosen.append(rng.choice(top))
        rows.append(sympy.Add(*(_coefficient(rng) * _monomial(v) for v in chosen)))
    f = sympy.Matrix(rows)
    return Generator(f, slots, interaction_order(f, slots), "random_polynomial",
                     f"{terms} random monomials per output, cross degree <= {order},"
                     f" within-slot degree <= {degree}")


def exp_polynomial(order: int, sizes: Sequence[int], outputs: int, seed: int) -> Generator:
    """Order ``order`` >= 1 with transcendental slot parts: f = C m(z) + sum_k d_k exp(a_k . z_k).

    The polynomial part is the class-n construction (module docstring) with C drawn from
    random.Random(seed) exactly as :func:`polynomial` draws it; then, from the same stream, one
    random rational linear form a_k per slot and a coefficient column d_k. Each exp(a_k . z_k)
    depends on one slot, so every cross derivative is that of the polynomial part and the
    order is exactly n; sufficient independence is verified exactly
    (:func:`theory.independence.sufficient_independence`, exp-rational form), and the
    ambiguity system handles the exponentials exactly (:mod:`theory.ambiguity`).
    """
    slots = _slots(sizes)
    _need_slots(slots, order)
    _need_outputs(outputs, order, slots.sizes)
    indices = _class_indices(slots, order, order + 1)
    monos = [_monomial(v) for v in indices]
    exponents = exponent_vectors(slots.symbols, indices)
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        coeffs = [[_coefficient(rng) for _ in monos] for _ in range(outputs)]
        forms = [[_coefficient(rng) for _ in block] for block in slots.blocks]
        exps = [sympy.exp(sympy.Add(*(c * s for c, s in zip(a, block, strict=True))))
                for a, block in zip(forms, slots.blocks, strict=True)]
        weights = [[_coefficient(rng) for _ in exps] for _ in range(outputs)]
        f = sympy.Matrix([p + sympy.Add(*(d * e for d, e in zip(w, exps, strict=True)))
                          for p, w in zip(_sums_of_terms(coeffs, monos), weights, strict=True)])
        if interaction_order(f, slots) != order:
            continue
        report = exp_linear_certificate(
            [list(zip(exponents, row, strict=True)) for row in coeffs],
            [list(enumerate(w)) for w in weights], forms, slots, order)
        if report is None:
            report = sufficient_independence(f, slots, order)
        if report.holds is True:
            return Generator(f, slots, order, "exp_polynomial",
                             f"class-{order} polynomial plus one exp(linear form) per slot;"
                             " sufficiently independent", report)
    raise GeneratorError(f"no exp-polynomial generator of order {order} with verified"
                         f" sufficient independence in {MAX_ATTEMPTS} draws from seed {seed}")


def hidden_relation(order: int, sizes: Sequence[int], outputs: int, seed: int,
                    shift: sympy.Rational | None = None) -> Generator:
    """Counterexample: not sufficiently independent through a relation with a non-constant
    coefficient, which no constant (coefficient-matrix) relation shows.

    f = C m(z) as in the class-n construction (module docstring) with the within-slot monomial
    s^n of the first latent s removed and s replaced by s - ``shift`` (``order`` n >= 1). The
    only monomial of s-degree >= n is (s - shift)^{n+1}, so
    D_s^n f = (s - shift) D_s^{n+1} f identically: the columns are dependent over Q(z) with
    kernel vector e_{s^n} - (s - shift) e_{s^{n+1}} (generic rank m - 1 for a generic C;
    ``shift`` None: 1/3),
    while the coefficient matrix of the derivative columns has full rank m. The order is
    exactly n. ``order = 3``, three one-latent slots and 22 outputs is the case of a 22 x 22
    matrix of rank 21 whose rank over Q(z) took more than 13 CPU-minutes.
    """
    _check_order(order)
    if order < 1:
        raise GeneratorError("hidden_relation needs order >= 1")
    slots = _slots(sizes)
    _need_slots(slots, order)
    _check_outputs(outputs)
    s = slots.symbols[0]
    shift = sympy.Rational(1, 3) if shift is None else sympy.Rational(shift)
    shifted = {s: s - shift}
    monos = [_monomial(v).xreplace(shifted) for v in _class_indices(slots, order, order + 1)
             if v != (s,) * order]
    rng = random.Random(seed)
    f = sympy.Matrix([sympy.expand(sympy.Add(*(_coefficient(rng) * m for m in monos)))
                      for _ in range(outputs)])
    return Generator(f, slots, interaction_order(f, slots), "hidden_relation",
                     f"class-{order} monomials without {s}^{order}, {s} shifted by {shift}:"
                     f" D^{order}f/d{s}^{order} = ({s} - {shift}) D^{order + 1}f/d{s}^{order + 1}")


def linear(sizes: Sequence[int], outputs: int, seed: int) -> Generator:
    """Counterexample: f = A z with a random rational A (order 1 for >= 2 slots).

    Additive, yet every invertible linear map h keeps f o h linear: not identifiable, and the
    within-slot second-derivative columns vanish, so sufficient independence fails.
    """
    slots = _slots(sizes)
    _check_outputs(outputs)
    rng = random.Random(seed)
    f = sympy.Matrix([sympy.Add(*(_coefficient(rng) * s for s in slots.symbols))
                      for _ in range(outputs)])
    return Generator(f, slots, interaction_order(f, slots), "linear",
                     "f = A z: additive but not sufficiently independent (D^2 f = 0)")


def low_degree(sizes: Sequence[int], outputs: int, seed: int, order: int = 2) -> Generator:
    """Counterexample: order ``order`` >= 1 but within-slot degree only ``order``.

    f = C m(z) over all monomials of degree 1..n (no within-slot monomial of degree n + 1),
    so the within-slot derivatives of order n + 1 vanish and sufficient independence fails
    however many outputs there are (n = 2: quadratic slots with bilinear interactions).
    """
    _check_order(order)
    slots = _slots(sizes)
    _need_slots(slots, max(order, 1))
    _check_outputs(outputs)
    rng = random.Random(seed)
    monos = [_monomial(v) for v in _class_indices(slots, order, order)]
    f = sympy.Matrix([sympy.Add(*(_coefficient(rng) * m for m in monos))
                      for _ in range(outputs)])
    return Generator(f, slots, interaction_order(f, slots), "low_degree",
                     f"all monomials of degree <= {order}: within-slot derivatives of order"
                     f" {order + 1} vanish, not sufficiently independent")


def gaussian_bump(grid: int = 3, sigma: int | str | sympy.Rational = 1, log: bool = False
                  ) -> Generator:
    """The 2D Gaussian bump of docs/theory.md section 7 on a ``grid`` x ``grid`` pixel lattice.

    Slots (x | y); pixel (u, v) for u, v in 0..grid-1 renders
    exp(-(u - x)^2 / 2 sigma^2) * exp(-(v - y)^2 / 2 sigma^2): no finite interaction order.
    ``log=True`` gives its logarithm -(u - x)^2 / 2 sigma^2 - (v - y)^2 / 2 sigma^2: order 1.
    ``sigma`` must be an exact positive rational (int, Rational or a decimal string).
    """
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise GeneratorError(f"grid must be a positive integer, got {grid!r}")
    if isinstance(sigma, (bool, float)):
        raise GeneratorError(f"sigma must be exact (int, Rational or decimal string): {sigma!r}")
    try:
        s = sympy.Rational(sigma)
    except (TypeError, ValueError):
        raise GeneratorError(f"sigma must be a rational number, got {sigma!r}") from None
    if s <= 0:
        raise GeneratorError(f"sigma must be positive, got {sigma!r}")
    x, y = sympy.symbols("x y", real=True)
    slots = Slots([[x], [y]])
    rows = []
    for u in range(grid):
        for v in range(grid):
            a, b = -(u - x) ** 2 / (2 * s**2), -(v - y) ** 2 / (2 * s**2)
            rows.append(a + b if log else sympy.exp(a) * sympy.exp(b))
    f = sympy.Matrix(rows)
    kind = "log-bump (additive)" if log else "bump (product of 1-D bumps)"
    return Generator(f, slots, interaction_order(f, slots), "gaussian_bump",
                     f"{grid}x{grid} pixels, sigma = {s}, {kind}")


def product_interaction(sizes: Sequence[int] = (1, 1), outputs: int = 4, seed: int = 0,
                        transcendental: bool = False) -> Generator:
    """Counterexample: outputs g_l(z_{B_1}) * h_l(z_{B_2}) plus slot-wise terms.

    g, h are random non-affine quadratics (order exactly 4: a product of two non-affine
    factors is outside the order-2 class of docs/theory.md section 2), or with ``transcendental``
    g = exp(linear form) (no finite order).
    """
    slots = _slots(sizes)
    _need_slots(slots, 1)
    _check_outputs(outputs)
    rng = random.Random(seed)
    first, second = slots.blocks[0], slots.blocks[1]

    def quadratic(block: tuple[sympy.Symbol, ...]) -> sympy.Expr:
        monos = [v for d in (1, 2) for v in combinations_with_replacement(block, d)]
        return sympy.Add(*(_coefficient(rng) * _monomial(v) for v in monos))

    rows = []
    for _ in range(outputs):
        g = sympy.exp(sum(_coefficient(rng) * s for s in first)) if transcendental \
            else quadratic(first)
        rows.append(sympy.expand(g * quadratic(second)) + sum(
            (quadratic(block) for block in slots.blocks), sympy.Integer(0)))
    f = sympy.Matrix(rows)
    order = interaction_order(f, slots)
    return Generator(f, slots, order, "product_interaction",
                     "g(z_1) h(z_2) with non-affine g, h: order "
                     + ("inf" if order == math.inf else str(order)))
