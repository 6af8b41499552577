"""Seeded exact generators of known interaction order, and counterexample families.

Every coefficient is an exact ``sympy.Rational`` drawn from ``random.Random(seed)``: the same
seed gives the same generator. The constructors of the identifiable classes verify their
promise exactly before returning (interaction order n with :func:`theory.order.interaction_order`
and sufficient independence with :func:`theory.independence.sufficient_independence`); a draw
that fails is replaced by the next draw of the same seeded stream, so the result is still a
deterministic function of the seed.
The identifiable families (:func:`order0`, :func:`additive`, :func:`bilinear`,
:func:`polynomial`, :func:`exp_polynomial`) are built on the class-n construction of
:mod:`theory.class_construction`; the counterexample families (:func:`linear`,
:func:`low_degree`, :func:`hidden_relation`, :func:`gaussian_bump`,
:func:`product_interaction`, :func:`random_polynomial`) make no independence claim.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import sympy

from theory.class_construction import (
    MAX_ATTEMPTS,
    check_order,
    check_outputs,
    class_draw,
    class_indices,
    coefficient,
    monomial,
    need_outputs,
    need_slots,
    slots_of_sizes,
    sums_of_terms,
)
from theory.errors import GeneratorError
from theory.independence import sufficient_independence
from theory.order import interaction_order
from theory.rank_certificates import IndependenceResult, exp_linear_certificate
from theory.slots import Slots, exponent_vectors

#: Largest within-slot degree the seeded families take (a slot of 3 latents at degree 8 has
#: 164 monomials per output already).
MAX_SLOT_DEGREE = 8

__all__ = [
    "MAX_SLOT_DEGREE",
    "Generator",
    "additive",
    "bilinear",
    "exp_polynomial",
    "gaussian_bump",
    "hidden_relation",
    "linear",
    "low_degree",
    "order0",
    "polynomial",
    "product_interaction",
    "random_polynomial",
]


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


def _verified(build: Callable[[random.Random], sympy.Matrix], slots: Slots, order: int,
              seed: int, what: str) -> tuple[sympy.Matrix, IndependenceResult]:
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


def order0(sizes: Sequence[int], outputs: int, seed: int, transcendental: bool = False,
           degree: int = 3) -> Generator:
    """Order 0: every output is a random polynomial of ``degree`` (>= 2, default 3) in one
    slot's latents (every monomial of degree 1..degree of that slot).

    Outputs are dealt to the slots (each gets at least its minimum, see
    :func:`minimum_outputs`); ``transcendental`` adds c * tanh(linear form) to every output.
    Verified: order 0, full-rank and irreducible Jacobian block per slot.
    """
    _check_degree("degree", degree, 2)
    slots = slots_of_sizes(sizes)
    need_outputs(outputs, 0, slots.sizes)
    owners = [k for k, n in enumerate(slots.sizes) for _ in range(n + 1 if n > 1 else n)]
    owners += [k % slots.K for k in range(outputs - len(owners))]
    owners.sort()

    def build(rng: random.Random) -> sympy.Matrix:
        rows = []
        for k in owners:
            block = slots.blocks[k]
            monos = [v for d in range(1, degree + 1)
                     for v in combinations_with_replacement(block, d)]
            e = sympy.Add(*(coefficient(rng) * monomial(v) for v in monos))
            if transcendental:
                e += coefficient(rng) * sympy.tanh(sum(coefficient(rng) * s for s in block))
            rows.append(e)
        return sympy.Matrix(rows)

    f, report = _verified(build, slots, 0, seed, "order-0 generator")
    extra = " plus tanh terms" if transcendental else ""
    shape = "cubic" if degree == 3 else f"polynomial of degree {degree}"
    return Generator(f, slots, 0, "order0",
                     f"each output a random {shape}{extra} in one slot; irreducible slots",
                     report)


def _check_degree(name: str, value: object, low: int) -> int:
    """``value`` as an int >= ``low`` (and <= MAX_SLOT_DEGREE), else :class:`GeneratorError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
            low <= value <= MAX_SLOT_DEGREE):
        raise GeneratorError(f"{name} must be an integer with {name} >= {low} and <= "
                             f"{MAX_SLOT_DEGREE}, got {value!r}")
    return value


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
    return _class_generator(1, sizes, outputs, seed, _check_degree("degree", degree, 2),
                            "additive")


def bilinear(sizes: Sequence[int], outputs: int, seed: int, degree: int = 3) -> Generator:
    """Order 2: additive slot polynomials of ``degree`` (>= 3, default 3: cubic) plus bilinear
    cross terms c_ij z_i z_j."""
    return _class_generator(2, sizes, outputs, seed, _check_degree("degree", degree, 3),
                            "bilinear")


def polynomial(order: int, sizes: Sequence[int], outputs: int, seed: int,
               top: int | None = None) -> Generator:
    """Exact order ``order`` (0 -> :func:`order0`), sufficiently independent (module doc).

    ``top``: the largest within-slot degree (default order + 1; for order 0 the degree of
    :func:`order0`, default 3); it must be at least order + 1 (order 0: 2).
    """
    check_order(order)
    if order == 0:
        return order0(sizes, outputs, seed, degree=3 if top is None else top)
    top = order + 1 if top is None else _check_degree("top", top, order + 1)
    return _class_generator(order, sizes, outputs, seed, top, f"polynomial{order}")


#: The identifiable family of each order n <= 2 (:func:`order0`, :func:`additive`,
#: :func:`bilinear`); higher orders are :func:`polynomial`.
IDENTIFIABLE_FAMILIES: dict[int, Callable[..., Generator]] = {
    0: order0, 1: additive, 2: bilinear}


def of_order(order: int, sizes: Sequence[int], outputs: int, seed: int,
             degree: int | None = None) -> Generator:
    """The identifiable generator of interaction order ``order``: certified order, certified
    sufficiently independent at that order (:data:`IDENTIFIABLE_FAMILIES` for n <= 2,
    :func:`polynomial` above).

    ``degree``: the largest within-slot degree of the slot polynomials (default 3 for n <= 2,
    n + 1 above; at least 2 for n <= 1, 3 for n = 2, n + 1 above).
    """
    check_order(order)
    if order in IDENTIFIABLE_FAMILIES:
        return IDENTIFIABLE_FAMILIES[order](sizes, outputs, seed,
                                            degree=3 if degree is None else degree)
    return polynomial(order, sizes, outputs, seed, top=degree)


def random_polynomial(order: int, sizes: Sequence[int], outputs: int, seed: int,
                      degree: int = 5, terms: int = 30) -> Generator:
    """Random sparse polynomial generator of exact order ``order`` >= 1 (no independence claim).

    Each output: ``terms`` monomials drawn from the cross-slot ones of degree 2..order and the
    within-slot ones of degree 1..``degree``; output 0 always has a cross monomial of degree
    ``order``. bench.bench_order times ``random_polynomial(3, (3, 3, 3, 3), 60, s)``.
    """
    check_order(order)
    check_outputs(outputs)
    slots = slots_of_sizes(sizes)
    need_slots(slots, max(order, 1))
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
        rows.append(sympy.Add(*(coefficient(rng) * monomial(v) for v in chosen)))
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
    slots = slots_of_sizes(sizes)
    need_slots(slots, order)
    need_outputs(outputs, order, slots.sizes)
    indices = class_indices(slots, order, order + 1)
    monos = [monomial(v) for v in indices]
    exponents = exponent_vectors(slots.symbols, indices)
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        coeffs = [[coefficient(rng) for _ in monos] for _ in range(outputs)]
        forms = [[coefficient(rng) for _ in block] for block in slots.blocks]
        exps = [sympy.exp(sympy.Add(*(c * s for c, s in zip(a, block, strict=True))))
                for a, block in zip(forms, slots.blocks, strict=True)]
        weights = [[coefficient(rng) for _ in exps] for _ in range(outputs)]
        f = sympy.Matrix([p + sympy.Add(*(d * e for d, e in zip(w, exps, strict=True)))
                          for p, w in zip(sums_of_terms(coeffs, monos), weights, strict=True)])
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
    check_order(order)
    if order < 1:
        raise GeneratorError("hidden_relation needs order >= 1")
    slots = slots_of_sizes(sizes)
    need_slots(slots, order)
    check_outputs(outputs)
    s = slots.symbols[0]
    shift = sympy.Rational(1, 3) if shift is None else sympy.Rational(shift)
    shifted = {s: s - shift}
    monos = [monomial(v).xreplace(shifted) for v in class_indices(slots, order, order + 1)
             if v != (s,) * order]
    rng = random.Random(seed)
    f = sympy.Matrix([sympy.expand(sympy.Add(*(coefficient(rng) * m for m in monos)))
                      for _ in range(outputs)])
    return Generator(f, slots, interaction_order(f, slots), "hidden_relation",
                     f"class-{order} monomials without {s}^{order}, {s} shifted by {shift}:"
                     f" D^{order}f/d{s}^{order} = ({s} - {shift}) D^{order + 1}f/d{s}^{order + 1}")


def linear(sizes: Sequence[int], outputs: int, seed: int) -> Generator:
    """Counterexample: f = A z with a random rational A (order 1 for >= 2 slots).

    Additive, yet every invertible linear map h keeps f o h linear: not identifiable, and the
    within-slot second-derivative columns vanish, so sufficient independence fails.
    """
    slots = slots_of_sizes(sizes)
    check_outputs(outputs)
    rng = random.Random(seed)
    f = sympy.Matrix([sympy.Add(*(coefficient(rng) * s for s in slots.symbols))
                      for _ in range(outputs)])
    return Generator(f, slots, interaction_order(f, slots), "linear",
                     "f = A z: additive but not sufficiently independent (D^2 f = 0)")


def low_degree(sizes: Sequence[int], outputs: int, seed: int, order: int = 2) -> Generator:
    """Counterexample: order ``order`` >= 1 but within-slot degree only ``order``.

    f = C m(z) over all monomials of degree 1..n (no within-slot monomial of degree n + 1),
    so the within-slot derivatives of order n + 1 vanish and sufficient independence fails
    however many outputs there are (n = 2: quadratic slots with bilinear interactions).
    """
    check_order(order)
    slots = slots_of_sizes(sizes)
    need_slots(slots, max(order, 1))
    check_outputs(outputs)
    rng = random.Random(seed)
    monos = [monomial(v) for v in class_indices(slots, order, order)]
    f = sympy.Matrix([sympy.Add(*(coefficient(rng) * m for m in monos))
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
    slots = slots_of_sizes(sizes)
    need_slots(slots, 1)
    check_outputs(outputs)
    rng = random.Random(seed)
    first, second = slots.blocks[0], slots.blocks[1]

    def quadratic(block: tuple[sympy.Symbol, ...]) -> sympy.Expr:
        monos = [v for d in (1, 2) for v in combinations_with_replacement(block, d)]
        return sympy.Add(*(coefficient(rng) * monomial(v) for v in monos))

    rows = []
    for _ in range(outputs):
        g = sympy.exp(sum(coefficient(rng) * s for s in first)) if transcendental \
            else quadratic(first)
        rows.append(sympy.expand(g * quadratic(second)) + sum(
            (quadratic(block) for block in slots.blocks), sympy.Integer(0)))
    f = sympy.Matrix(rows)
    order = interaction_order(f, slots)
    return Generator(f, slots, order, "product_interaction",
                     "g(z_1) h(z_2) with non-affine g, h: order "
                     + ("inf" if order == math.inf else str(order)))
