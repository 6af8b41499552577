"""Ambiguities: which reparametrizations h of the latents keep f o h in the order-n class.

Infinitesimal check (docs/theory.md section 4). If h_t = id + t v + O(t^2) is a family of
reparametrizations with f o h_t in the class of at most n-th order interaction across slots,
then the derivative at t = 0, (Df . v)(z) = sum_i d f(z) / d z_i * v_i(z), lies in the tangent
space of the class at f. For a polynomial vector field v of degree <= D with unknown rational
coefficients c, Df . v is linear in c, so the ambiguities form the nullspace of an exact sparse
linear system (:mod:`theory.ambiguity_system`, for polynomial and exponential-polynomial
generators with rational coefficients).

Slot-wise fields (v_{B_k} depends on z_{B_k} only) always include the trivial ambiguities
(slot-wise reparametrizations); :func:`ambiguities` compares the solution space with them and
integrates each non-slot-wise direction into a map h (:mod:`theory.flows`), certified exactly
by :func:`theory.certificates.certified_counterexample` (h invertible, not slot-wise, f o h of
order <= n), giving a :class:`~theory.certificates.Counterexample`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy

import theory.modular as modular
from theory.ambiguity_system import AmbiguitySystem, Column, EquationRow, non_negative_int
from theory.certificates import Counterexample, certified_counterexample
from theory.constants import formal_constants
from theory.errors import AnalysisError, BudgetError
from theory.flows import candidate_maps
from theory.linalg import nullspace, rank
from theory.order import has_order_at_most
from theory.slots import Slots, require_slots

__all__ = [
    "MAX_FIELD_DEGREE",
    "MAX_UNKNOWNS",
    "MODULAR_MIN_UNKNOWNS",
    "AmbiguityResult",
    "SlotFields",
    "ambiguities",
    "certify_fields",
    "slotwise_field_count",
    "specialized_counterexample",
]

#: Budget of :func:`ambiguities`: the largest field degree and number of unknown coefficients.
MAX_FIELD_DEGREE = 8
MAX_UNKNOWNS = 20_000
MODULAR_MIN_UNKNOWNS = 50
"""Systems with at least this many unknowns try the modular slot-wise certificate first.
Two consecutive conjecture benches, 2 x 2 slots, N = 6 (ambiguity step, CPU s, without vs
with the certificate): D = 1 (20 unknowns) 2.0 vs 3.4; D = 2 (60) 7.7 vs 5.1; D = 3 (140)
22.1 vs 14.9."""

_ALL_SLOTWISE = "every solution is slot-wise: first-order identifiable at this degree"


@dataclass(frozen=True)
class SlotFields:
    """Ambiguities supported on one slot k: fields with v_{B_k} a polynomial in z_{B_k} only.

    ``unknowns`` = |B_k| * C(|B_k| + D, D) coefficients, ``dimension`` of those that solve the
    system; ``affine_unknowns`` = |B_k| (|B_k| + 1) and ``affine_dimension`` the same for
    degree <= 1. ``dimension < unknowns`` means that some slot-wise reparametrizations of slot k
    do not keep f in the class (e.g. an interacting slot of an n = 2 generator admits only affine
    ones). ``affine_only``: the coordinates z_i of slot k for which the fields v = v_i(z_{B_k}) e_i
    that solve the system are exactly the affine ones although D >= 2 (z_i can be reparametrized
    only affinely, to first order).
    """

    slot: int
    unknowns: int
    dimension: int
    affine_unknowns: int
    affine_dimension: int
    affine_only: tuple[sympy.Symbol, ...]


@dataclass(frozen=True)
class AmbiguityResult:
    """Solution space of the infinitesimal ambiguity system of f at order n and field degree D.

    ``dimension``: dim of all polynomial fields v (degree <= D) with Df . v in the class;
    ``slotwise_dimension``: dim of its slot-wise subspace; ``non_slotwise_basis``: fields v(z)
    (sympy Matrices (d_z, 1)) spanning a complement of that subspace; ``counterexample``: a
    certified one obtained by integrating an affine direction, or None (``note`` says why).
    ``unknowns`` = d_z * C(d_z + D, D) and ``slotwise_unknowns`` = sum_k |B_k| C(|B_k| + D, D)
    count the coefficients of all and of slot-wise fields; ``equations`` the non-zero rows.
    """

    order: int
    degree: int
    unknowns: int
    slotwise_unknowns: int
    equations: int
    dimension: int
    slotwise_dimension: int
    non_slotwise_basis: list[sympy.Matrix]
    counterexample: Counterexample | None
    slot_fields: tuple[SlotFields, ...]
    note: str

    @property
    def is_slotwise(self) -> bool:
        """True iff every solution is a slot-wise field (first-order identifiability at D)."""
        return self.dimension == self.slotwise_dimension


def slotwise_field_count(slots: Slots, degree: int) -> int:
    """Number of coefficients of slot-wise polynomial fields: sum_k |B_k| * C(|B_k| + D, D)."""
    return sum(n * math.comb(n + degree, degree) for n in slots.sizes)


def _field(vector: list[sympy.Rational], columns: list[Column],
           symbols: tuple[sympy.Symbol, ...]) -> sympy.Matrix:
    """The field v = sum_j vector[j] z^{m_j} e_{i_j} of a solution vector."""
    v = [sympy.Integer(0)] * len(symbols)
    for x, (i, m) in zip(vector, columns, strict=True):
        if x:
            v[i] += x * sympy.Mul(*(s**e for s, e in zip(symbols, m, strict=True)))
    return sympy.Matrix(v)


def certify_fields(f: sympy.Matrix, slots: Slots, order: int,
             basis: list[sympy.Matrix]) -> tuple[Counterexample | None, str]:
    """Integrate non-slot-wise basis fields into maps h and keep the first certified one.

    Affine fields: exp flow (nilpotent part) and id + v. Polynomial fields: the time-1 flow when
    its Lie series terminates (:func:`theory.flows.polynomial_flow`), with its exact inverse.
    Each h is certified by :func:`theory.certificates.certified_counterexample`: invertible,
    mixing slots, f o h of order <= n, all checked exactly.
    """
    symbols = slots.symbols
    tried = 0
    for v in basis:
        for h, inverse, how in candidate_maps(v, symbols):
            tried += 1
            found = certified_counterexample(f, slots, order, h, inverse,
                                             f"{how}, with v = {list(v)}")
            if found is not None:
                return found, found.note
    if not basis:
        return None, _ALL_SLOTWISE
    if tried == 0:
        return None, ("first-order ambiguity only: no non-slot-wise direction is affine or has a"
                      " terminating Lie series, so none was integrated into a certified"
                      " counterexample")
    return None, ("first-order ambiguity only: the integrable non-slot-wise directions (affine,"
                  " or polynomial with a terminating Lie series) do not integrate (flow at"
                  " t = 1, or id + v) to maps keeping f in the class")


def specialized_counterexample(f: object, slots: Slots, order: int, degree: int = 1
                               ) -> tuple[Counterexample | None, str]:
    """A counterexample for f with irrational constants, found through a rational stand-in.

    The exact system needs rational coefficients. Each irrational constant of f
    (:func:`theory.constants.formal_constants`) is replaced by a distinct rational (2/3, 7/5,
    ...), the system is solved for that stand-in, and its non-slot-wise fields are integrated
    and certified (:func:`certify_fields`) against the *true* f: f o h is composed and its order
    checked exactly with the constants as they are. Only the certified counterexample carries
    over; the stand-in's dimensions say nothing about f. Returns ``(None, why)`` when the
    stand-in has none or none certifies for f.
    """
    slots = require_slots(slots)
    f = slots.check_generator(f)
    formal, constants = formal_constants(f)
    if not constants:
        return None, "f has no irrational constants"
    stand_in = {t: sympy.Rational(2 + 5 * i, 3 + 2 * i) for i, t in enumerate(constants)}
    rational = formal.applyfunc(lambda e: sympy.expand(e.xreplace(stand_in)))
    if not has_order_at_most(rational, slots, order):
        return None, "the rational stand-in has a higher order than f"
    result = ambiguities(rational, slots, order, degree)
    if result.is_slotwise:
        return None, "every ambiguity of the rational stand-in is slot-wise"
    counterexample, note = certify_fields(f, slots, order, result.non_slotwise_basis)
    if counterexample is None:
        return None, "no field of the rational stand-in integrates to a map certified for f"
    return counterexample, (f"{note} (fields from the system with the constants replaced by"
                            " rationals; the map is certified for f itself)")


def ambiguities(f: object, slots: Slots, order: int, degree: int = 1) -> AmbiguityResult:
    """Polynomial vector fields v of degree <= ``degree`` with Df . v in the order-n class.

    f: generator (d_x, 1) in the latents of ``slots``, itself of interaction order <= ``order``
    (checked; :class:`AnalysisError` otherwise). Builds the exact sparse linear system in the
    d_z * C(d_z + D, D) coefficients of v (see the module docstring), solves it over Q with
    :func:`theory.linalg.nullspace` (slot-wise columns first, so the slot-wise solutions are
    read off the same reduction) and tries to integrate each affine non-slot-wise direction into
    a certified :class:`Counterexample`.
    """
    slots = require_slots(slots)
    order = non_negative_int("order", order)
    degree = non_negative_int("degree", degree)
    f = slots.check_generator(f)
    if not has_order_at_most(f, slots, order):
        raise AnalysisError(
            f"f has interaction order > {order}: the ambiguity system is set up at f's own order"
            " (use theory.order.interaction_order(f, slots))"
        )
    unknowns = slots.dim * math.comb(slots.dim + degree, degree)
    if degree > MAX_FIELD_DEGREE or unknowns > MAX_UNKNOWNS:
        raise BudgetError(f"ambiguity fields of degree {degree} in {slots.dim} latents have "
                          f"{unknowns} unknown coefficients; the budget is degree <= "
                          f"{MAX_FIELD_DEGREE} and <= {MAX_UNKNOWNS} unknowns "
                          f"(theory.ambiguity.MAX_FIELD_DEGREE / MAX_UNKNOWNS)")
    system = AmbiguitySystem(f, slots, order, degree)
    n_cols = len(system.columns)
    slot_fields = tuple(_slot_fields(system, k, rows)
                        for k, rows in enumerate(_rows_by_slot(system)))
    # fields supported on one slot are exact solutions, so their total dimension is a lower
    # bound; n - rank modulo a prime is an upper bound: equal, every solution is slot-wise.
    # Small systems skip it: their exact nullspace is cheaper than reading the rows mod p.
    supported = sum(s.dimension for s in slot_fields)
    lower_rank = (modular.projected_rank(system.rows, n_cols)
                  if n_cols >= MODULAR_MIN_UNKNOWNS else None)
    if lower_rank is not None and n_cols - lower_rank == supported:
        return AmbiguityResult(
            order=order, degree=degree, unknowns=n_cols, slotwise_unknowns=system.n_slotwise,
            equations=len(system.rows), dimension=supported, slotwise_dimension=supported,
            non_slotwise_basis=[], counterexample=None, slot_fields=slot_fields,
            note=f"{_ALL_SLOTWISE} (dimension {supported} = the slot-supported solutions, an"
                 " upper bound by the rank modulo a prime meets that lower bound)")
    basis = nullspace(system.rows, n_cols)
    free = [max(j for j, x in enumerate(vec) if x) for vec in basis]
    slotwise_dim = sum(1 for j in free if system.slotwise[j])
    symbols = slots.symbols
    non_slotwise = [_field(vec, system.columns, symbols)
                    for vec, j in zip(basis, free, strict=True) if not system.slotwise[j]]
    counterexample, note = certify_fields(f, slots, order, non_slotwise)
    return AmbiguityResult(
        order=order,
        degree=degree,
        unknowns=n_cols,
        slotwise_unknowns=system.n_slotwise,
        equations=len(system.rows),
        dimension=len(basis),
        slotwise_dimension=slotwise_dim,
        non_slotwise_basis=non_slotwise,
        counterexample=counterexample,
        slot_fields=slot_fields,
        note=note,
    )


def _solutions(rows: list[EquationRow], cols: list[int]) -> int:
    """Dimension of the solutions supported on the columns ``cols``."""
    return len(cols) - _restricted_rank(rows, cols)


def _slot_fields(system: AmbiguitySystem, k: int, rows: list[EquationRow]) -> SlotFields:
    """Per-slot subsystem; ``rows`` are the equations restricted to slot k's own columns."""
    cols = [j for j, s in enumerate(system.slot_of_col) if s == k]
    affine = [j for j in cols if system.degree_of[j] <= 1]
    affine_only = []
    for i in system.slots.blocks[k]:
        index = system.slots.symbols.index(i)
        own = [j for j in cols if system.columns[j][0] == index]
        own_affine = [j for j in own if system.degree_of[j] <= 1]
        if len(own) > len(own_affine):
            dim_affine = _solutions(rows, own_affine)
            if dim_affine == len(own_affine) and _solutions(rows, own) == dim_affine:
                affine_only.append(i)
    return SlotFields(
        slot=k,
        unknowns=len(cols),
        dimension=_solutions(rows, cols),
        affine_unknowns=len(affine),
        affine_dimension=_solutions(rows, affine),
        affine_only=tuple(affine_only),
    )


def _rows_by_slot(system: AmbiguitySystem) -> list[list[EquationRow]]:
    """The equations restricted to each slot's own slot-wise columns (other unknowns = 0)."""
    out: list[list[EquationRow]] = [[] for _ in system.slots.blocks]
    slot_of_col = system.slot_of_col
    for row in system.rows:
        parts: dict[int, EquationRow] = {}
        for j, v in row.items():
            k = slot_of_col[j]
            if k is not None:
                parts.setdefault(k, {})[j] = v
        for k, part in parts.items():
            out[k].append(part)
    return out


def _restricted_rank(rows: list[EquationRow], cols: list[int]) -> int:
    index = {j: t for t, j in enumerate(cols)}
    sub = []
    for row in rows:
        part = {index[j]: v for j, v in row.items() if j in index}
        if part:
            sub.append(part)
    return rank(sub, len(cols))
