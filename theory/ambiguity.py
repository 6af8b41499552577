"""Ambiguities: which reparametrizations h of the latents keep f o h in the order-n class.

Infinitesimal check (docs/theory.md section 4). If h_t = id + t v + O(t^2) is a family of
reparametrizations with f o h_t in the class of at most n-th order interaction across slots,
then the derivative at t = 0,

    (Df . v)(z) = sum_i  d f(z) / d z_i  *  v_i(z),

lies in the tangent space of the class at f. For n >= 1 the class is a linear space, so the
condition is: every (n+1)-th order cross-slot partial of every output of Df . v vanishes
identically. For n = 0 the class is a union of linear spaces, one per assignment of outputs to
slots; the tangent space at f is the space of f's own assignment (output l may depend only on
the slot k(l) that f_l depends on), so the condition is: output l of Df . v depends on slot
k(l) only.

For a polynomial vector field v of degree <= D with unknown rational coefficients c, Df . v is
linear in c, so the ambiguities form the nullspace of an exact sparse linear system. Supported
generators: polynomials and exponential polynomials sum_p Q_p(z) exp(p(z)) (Q_p, p polynomials
with rational coefficients). Distinct exponents p are linearly independent over the
polynomials, so the condition splits per exponent and is decided exactly by equating
coefficients:

* p = 0 (the polynomial part), n >= 1: every monomial touching >= 2 slots with total degree
  > n has coefficient 0 (a polynomial has order <= n iff it has no such monomial);
* p depending on one slot k: Q_p may depend on slot k only (Q_p(z) exp(p) with a factor from
  another slot has a non-vanishing mixed partial of every order);
* p depending on >= 2 slots: Q_p = 0.

(For n = 0 the same rules hold with "touching a slot other than k(l)" in place of the first.)
Any other function (sin, log, sqrt, irrational coefficients, ...) raises
:class:`~theory.errors.AnalysisError`: the answer would not be exact.

Slot-wise fields (v_{B_k} depends on z_{B_k} only) always include the trivial ambiguities
(slot-wise reparametrizations); the result compares the solution space with them and, for affine
directions, integrates a non-slot-wise direction and verifies f o h exactly with
:func:`theory.order.has_order_at_most`, giving a certified :class:`Counterexample`.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass

import sympy
from sympy.polys.domains import QQ

import theory.modular as modular
from theory.errors import AnalysisError, BudgetError
from theory.linalg import nullspace, rank
from theory.order import has_order_at_most, interaction_order
from theory.slots import Slots

__all__ = [
    "AmbiguityResult",
    "Counterexample",
    "SlotFields",
    "ambiguities",
    "dense_reference_dimension",
    "is_slotwise_map",
    "linear_system",
    "polynomial_flow",
    "slotwise_field_count",
    "specialized_counterexample",
]


@dataclass(frozen=True)
class Counterexample:
    """A certified non-identifiability witness.

    ``h``: (d_z, 1) map z -> h(z), invertible and not slot-wise up to a permutation of slots;
    ``f_h``: (d_x, 1) the generator f o h, verified exactly to have interaction order
    ``order_of_f_h`` <= n. So f and f o h generate the same data and are both in the class,
    while their latents differ by a map that mixes slots. ``inverse``: the exact polynomial
    inverse of h when h is not affine (h o inverse = inverse o h = id, checked); None for affine
    h (inverted by linear algebra).
    """

    h: sympy.Matrix
    f_h: sympy.Matrix
    order_of_f_h: int | float
    note: str
    inverse: sympy.Matrix | None = None


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


# --- exponential polynomials -------------------------------------------------------------------
# A polynomial is a dict {packed exponent vector: QQ coefficient}. Exponent vectors are packed
# into one integer (base B per variable) so that multiplying monomials is adding integers.


@dataclass
class _Component:
    """One term Q(z) exp(p(z)) of an output: ``p`` without its constant, ``slots`` touched by p."""

    p: dict[tuple[int, ...], object]
    slots: frozenset[int]
    Q: dict[tuple[int, ...], object]


class _NotFlat(Exception):
    """An expression is not (yet) a flat sum of rational * monomial * exp(...) terms."""


def _flat_terms(expr: sympy.Expr, index: dict[sympy.Symbol, int],
                allow_exp: bool) -> list[tuple[object, tuple[int, ...], list[sympy.Expr]]]:
    """Terms (rational coefficient, exponent vector, exp arguments) of a flat sum; raises
    :class:`_NotFlat` on anything else (nested sums, sqrt, sin, floats, ...)."""
    out = []
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


def _flat(expr: sympy.Expr, index: dict[sympy.Symbol, int], allow_exp: bool, what: str):
    """:func:`_flat_terms` of ``expr``, expanding it first when it is not flat yet."""
    try:
        return _flat_terms(expr, index, allow_exp)
    except _NotFlat:
        pass
    try:
        return _flat_terms(sympy.expand(expr), index, allow_exp)
    except _NotFlat as err:
        parts = _unsupported_parts(expr) or [str(err.args[0])]
        kind = "polynomial and polynomial*exp(polynomial)" if allow_exp else "polynomial"
        raise AnalysisError(
            f"{what} contains {', '.join(parts)}: the exact ambiguity analysis supports"
            f" {kind} generators with rational coefficients"
        ) from None


def _poly(terms) -> dict[tuple[int, ...], object]:
    out: dict[tuple[int, ...], object] = {}
    for coeff, mono, _ in terms:
        out[mono] = out.get(mono, 0) + coeff
    return {m: c for m, c in out.items() if c}


def _exp_components(expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...],
                    slot_of: tuple[int, ...], l: int) -> list[_Component]:
    """Write output l as sum_p Q_p exp(p) (exact), grouping terms by the exponent p."""
    index = {s: i for i, s in enumerate(symbols)}
    zero = (0,) * len(symbols)
    by_exponent: dict[sympy.Expr, list] = {}
    for coeff, mono, args in _flat(expr, index, True, f"output {l}"):
        by_exponent.setdefault(sympy.Add(*args), []).append((coeff, mono, None))
    groups: dict[tuple, tuple[object, dict, list]] = {}
    for exponent, terms in by_exponent.items():
        p = _poly(_flat(exponent, index, False, f"the exponent {exponent} in output {l}"))
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
            out.append(_Component(p, touched, Q))
    return out


def _diff(P: dict, v: int) -> dict:
    out = {}
    for mono, c in P.items():
        e = mono[v]
        if e:
            m = list(mono)
            m[v] = e - 1
            out[tuple(m)] = c * e
    return out


def _mul_add(acc: dict, P: dict, R: dict) -> None:
    for a, ca in P.items():
        for b, cb in R.items():
            m = tuple(x + y for x, y in zip(a, b, strict=True))
            acc[m] = acc.get(m, 0) + ca * cb


def _partial(comp: _Component, v: int) -> dict:
    """d/dz_v (Q exp p) / exp p = dQ/dz_v + Q dp/dz_v, as a polynomial dict."""
    out = _diff(comp.Q, v)
    dp = _diff(comp.p, v)
    if dp:
        _mul_add(out, comp.Q, dp)
    return {m: c for m, c in out.items() if c}


# --- the linear system -------------------------------------------------------------------------


def _monomials(n_vars: int, degree: int) -> list[tuple[int, ...]]:
    """All exponent vectors of total degree <= degree, graded then lexicographic."""
    out = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_vars), d):
            e = [0] * n_vars
            for v in combo:
                e[v] += 1
            out.append(tuple(e))
    return out


def _output_slot(expr: sympy.Expr, slots: Slots, l: int) -> int | None:
    touched = {slots.slot(s) for s in expr.free_symbols}
    if len(touched) > 1:
        raise AnalysisError(f"output {l} depends on several slots, so f is not of order 0")
    return next(iter(touched), None)


class _System:
    """Sparse rows of the ambiguity system, columns = (coordinate i, monomial m) of v."""

    def __init__(self, f: sympy.Matrix, slots: Slots, order: int, degree: int) -> None:
        self.slots = slots
        symbols = slots.symbols
        slot_of = slots.slot_of
        d = len(symbols)
        monos = _monomials(d, degree)
        columns = [(i, m) for i in range(d) for m in monos]

        def slot_set(m: tuple[int, ...]) -> frozenset[int]:
            return frozenset(slot_of[v] for v, e in enumerate(m) if e)

        def kind(col: tuple[int, tuple[int, ...]]) -> tuple:
            i, m = col
            ss = slot_set(m)
            slotwise = ss <= {slot_of[i]}
            # slot-wise first (by slot, then degree), then the rest by degree
            return (0, slot_of[i], sum(m)) if slotwise else (1, sum(m), 0)

        columns.sort(key=kind)
        self.columns = columns
        self.slotwise = [kind(c)[0] == 0 for c in columns]
        self.n_slotwise = sum(self.slotwise)
        self.degree_of = [sum(m) for _, m in columns]
        self.slot_of_col = [slot_of[i] if sw else None
                            for (i, _), sw in zip(columns, self.slotwise, strict=True)]

        by_coordinate: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
        for col, (i, m) in enumerate(columns):
            by_coordinate[i].append((col, m))

        # the product monomial mono * m is keyed by its exponent vector packed into one
        # integer (base larger than any exponent of the product, per component), and whether
        # its coefficient must vanish only depends on its slots (a bit mask) and degree: both
        # are read from the factors, so the hot loop does integer sums and small-key lookups
        # only (the rows, and their order, are those of the monomial-by-monomial construction)
        def slot_mask(m: tuple[int, ...]) -> int:
            return sum(1 << k for k in slot_set(m))

        m_slots = {m: slot_mask(m) for m in monos}
        rows: dict[tuple, dict[int, object]] = defaultdict(dict)
        violation_cache: dict[tuple, dict[tuple[int, int], bool]] = {}
        for l, expr in enumerate(f):
            home = _output_slot(expr, slots, l) if order == 0 else None
            for comp_index, comp in enumerate(_exp_components(expr, symbols, slot_of, l)):
                cache = violation_cache.setdefault((home, comp.slots), {})
                partials = [_partial(comp, i) for i in range(d)]
                base = 1 + degree + max((e for G in partials for mono in G for e in mono),
                                        default=0)
                powers = [base ** v for v in range(d)]

                def code(e: tuple[int, ...], powers: list[int] = powers) -> int:
                    return sum(x * w for x, w in zip(e, powers, strict=True))

                column_keys = [[(col, code(m), m_slots[m], sum(m)) for col, m in
                                by_coordinate[i]] for i in range(d)]
                for i, G in enumerate(partials):
                    if not G:
                        continue
                    terms = [(code(mono), slot_mask(mono), sum(mono), c) for mono, c in G.items()]
                    for col, m_code, ms, m_degree in column_keys[i]:
                        for g_code, gs, g_degree, c in terms:
                            key = (gs | ms, g_degree + m_degree)
                            bad = cache.get(key)
                            if bad is None:
                                touched = frozenset(k for k in range(slots.K) if key[0] >> k & 1)
                                bad = _violates(order, home, comp.slots, touched, key[1])
                                cache[key] = bad
                            if bad:
                                row = rows[(l, comp_index, g_code + m_code)]
                                row[col] = row.get(col, 0) + c
        self.rows = [r for r in ({j: v for j, v in row.items() if v} for row in rows.values())
                     if r]


def _violates(order: int, home: int | None, p_slots: frozenset[int], mono_slots: frozenset[int],
              mono_degree: int) -> bool:
    """Whether the monomial's coefficient in the component exp(p) must vanish (see module doc)."""
    if len(p_slots) >= 2:
        return True
    if len(p_slots) == 1:
        (k,) = p_slots
        if order == 0 and home is not None and home != k:
            return True
        return bool(mono_slots - p_slots)
    if order == 0:
        return bool(mono_slots - {home}) if home is not None else bool(mono_slots)
    return len(mono_slots) >= 2 and mono_degree > order


# --- counterexamples ---------------------------------------------------------------------------


def _field(vector: list[sympy.Rational], columns, symbols) -> sympy.Matrix:
    v = [sympy.Integer(0)] * len(symbols)
    for x, (i, m) in zip(vector, columns, strict=True):
        if x:
            v[i] += x * sympy.Mul(*(s**e for s, e in zip(symbols, m, strict=True)))
    return sympy.Matrix(v)


def is_slotwise_map(h: sympy.Matrix, slots: Slots) -> bool:
    """True iff h is slot-wise up to a permutation: each output slot B_{pi(k)} of h depends on
    the latents of one input slot B_k only, with pi a bijection between equal-sized slots."""
    used = set()
    for k, block in enumerate(slots.blocks):
        lo, hi = slots.offsets[k], slots.offsets[k + 1]
        touched = {slots.slot(s) for e in h[lo:hi] for s in e.free_symbols}
        if len(touched) > 1:
            return False
        if touched:
            (j,) = touched
            if j in used or slots.sizes[j] != len(block):
                return False
            used.add(j)
    return True


def _affine_candidates(v: sympy.Matrix, symbols) -> list[tuple[sympy.Matrix, str]]:
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


def _candidate_maps(v: sympy.Matrix, symbols) -> list[tuple[sympy.Matrix, sympy.Matrix | None,
                                                             str]]:
    """(h, exact inverse or None for affine h, how) built from the field v."""
    affine = all(sympy.Poly(e, *symbols).total_degree() <= 1 for e in v if e != 0)
    if affine:
        return [(h, None, how) for h, how in _affine_candidates(v, symbols)]
    flow = polynomial_flow(v, symbols, sympy.Integer(1))
    if flow is None:
        return []
    back = polynomial_flow(v, symbols, sympy.Integer(-1))
    return [(flow, back, "time-1 flow sum_j L_v^j z / j! of the polynomial field v (its Lie"
                         " series terminates), inverse the time -1 flow")]


def _is_inverse(h: sympy.Matrix, inverse: sympy.Matrix, symbols) -> bool:
    """h o inverse = inverse o h = id, exactly."""
    z = sympy.Matrix(symbols)
    for a, b in ((h, inverse), (inverse, h)):
        composed = a.xreplace(dict(zip(symbols, b, strict=True))).applyfunc(sympy.expand)
        if composed != z:
            return False
    return True


MODULAR_MIN_UNKNOWNS = 50
#: Budget of :func:`ambiguities`: the largest field degree and number of unknown coefficients.
MAX_FIELD_DEGREE = 8
MAX_UNKNOWNS = 20_000
"""Systems with at least this many unknowns try the modular slot-wise certificate first.
Two consecutive conjecture benches, 2 x 2 slots, N = 6 (ambiguity step, CPU s, without vs
with the certificate): D = 1 (20 unknowns) 2.0 vs 3.4; D = 2 (60) 7.7 vs 5.1; D = 3 (140)
22.1 vs 14.9."""

_ALL_SLOTWISE = "every solution is slot-wise: first-order identifiable at this degree"


def _certify(f: sympy.Matrix, slots: Slots, order: int,
             basis: list[sympy.Matrix]) -> tuple[Counterexample | None, str]:
    """Integrate non-slot-wise basis fields into maps h and keep the first certified one.

    Affine fields: exp flow (nilpotent part) and id + v. Polynomial fields: the time-1 flow when
    its Lie series terminates (:func:`polynomial_flow`), with its exact inverse. Each h must be
    invertible (constant non-zero Jacobian determinant for affine h; h o h^-1 = h^-1 o h = id
    otherwise), mix slots, and keep f o h of order <= n, all checked exactly.
    """
    symbols = slots.symbols
    tried = 0
    for v in basis:
        for h, inverse, how in _candidate_maps(v, symbols):
            tried += 1
            if is_slotwise_map(h, slots):
                continue
            if inverse is None:
                if h.jacobian(symbols).det() == 0:
                    continue
            elif not _is_inverse(h, inverse, symbols):
                continue
            f_h = sympy.Matrix([sympy.expand(e) for e in
                                f.xreplace(dict(zip(symbols, h, strict=True)))])
            if has_order_at_most(f_h, slots, order):
                n_h = interaction_order(f_h, slots)
                note = (f"certified: {how}, with v = {list(v)}; h is invertible and mixes slots,"
                        f" and f o h has interaction order {n_h} <= {order} (checked exactly)")
                return Counterexample(h, f_h, n_h, note, inverse), note
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
    and certified (:func:`_certify`) against the *true* f: f o h is composed and its order
    checked exactly with the constants as they are. Only the certified counterexample carries
    over; the stand-in's dimensions say nothing about f. Returns ``(None, why)`` when the
    stand-in has none or none certifies for f.
    """
    from theory.constants import formal_constants

    slots = _check_slots(slots)
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
    counterexample, note = _certify(f, slots, order, result.non_slotwise_basis)
    if counterexample is None:
        return None, "no field of the rational stand-in integrates to a map certified for f"
    return counterexample, (f"{note} (fields from the system with the constants replaced by"
                            " rationals; the map is certified for f itself)")


# --- public entry point ------------------------------------------------------------------------


def linear_system(f: object, slots: Slots, order: int, degree: int = 1
                  ) -> tuple[list[dict[int, object]], list[tuple[int, tuple[int, ...]]]]:
    """The sparse ambiguity system itself: ``(rows, columns)``.

    ``columns[j] = (i, m)`` is the unknown coefficient of the monomial z^m in v_i (slot-wise
    columns first); ``rows`` are the equations as ``{column: rational}`` dicts (see the module
    docstring). Does not check that f is of order <= ``order`` (:func:`ambiguities` does).
    """
    slots_ok = _check_slots(slots)
    system = _System(slots_ok.check_generator(f), slots_ok, _check_int("order", order),
                     _check_int("degree", degree))
    return system.rows, system.columns


def _check_slots(slots: object) -> Slots:
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    return slots


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnalysisError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def ambiguities(f: object, slots: Slots, order: int, degree: int = 1) -> AmbiguityResult:
    """Polynomial vector fields v of degree <= ``degree`` with Df . v in the order-n class.

    f: generator (d_x, 1) in the latents of ``slots``, itself of interaction order <= ``order``
    (checked; :class:`AnalysisError` otherwise). Builds the exact sparse linear system in the
    d_z * C(d_z + D, D) coefficients of v (see the module docstring), solves it over Q with
    :func:`theory.linalg.nullspace` (slot-wise columns first, so the slot-wise solutions are
    read off the same reduction) and tries to integrate each affine non-slot-wise direction into
    a certified :class:`Counterexample`.
    """
    slots = _check_slots(slots)
    order = _check_int("order", order)
    degree = _check_int("degree", degree)
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
    system = _System(f, slots, order, degree)
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
    counterexample, note = _certify(f, slots, order, non_slotwise)
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


def _solutions(rows: list[dict[int, object]], cols: list[int]) -> int:
    """Dimension of the solutions supported on the columns ``cols``."""
    return len(cols) - _restricted_rank(rows, cols)


def _slot_fields(system: _System, k: int, rows: list[dict[int, object]]) -> SlotFields:
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


def _rows_by_slot(system: _System) -> list[list[dict[int, object]]]:
    """The equations restricted to each slot's own slot-wise columns (other unknowns = 0)."""
    out: list[list[dict[int, object]]] = [[] for _ in system.slots.blocks]
    slot_of_col = system.slot_of_col
    for row in system.rows:
        parts: dict[int, dict[int, object]] = {}
        for j, v in row.items():
            k = slot_of_col[j]
            if k is not None:
                parts.setdefault(k, {})[j] = v
        for k, part in parts.items():
            out[k].append(part)
    return out


def _restricted_rank(rows: list[dict[int, object]], cols: list[int]) -> int:
    index = {j: t for t, j in enumerate(cols)}
    sub = []
    for row in rows:
        part = {index[j]: v for j, v in row.items() if j in index}
        if part:
            sub.append(part)
    return rank(sub, len(cols))


def dense_reference_dimension(f: object, slots: Slots, order: int, degree: int = 1) -> int:
    """Solution dimension of the ambiguity system by the dense sympy route (slow reference).

    Straight from the definition, for polynomial f, for tests and benches: v has symbolic
    coefficients on every monomial of degree <= ``degree``; Df . v is expanded; for n >= 1 every
    coefficient of a monomial touching >= 2 slots with degree > n must vanish, for n = 0 every
    coefficient of a monomial touching a slot other than those of its output; then
    ``linear_eq_to_matrix`` and a dense ``nullspace``.
    """
    f = slots.check_generator(f)
    symbols = slots.symbols
    monomials = sorted(sympy.itermonomials(symbols, degree), key=sympy.default_sort_key)
    coeffs, v = [], []
    for i in range(len(symbols)):
        cs = sympy.symbols(f"c{i}_0:{len(monomials)}")
        coeffs.extend(cs)
        v.append(sum(c * m for c, m in zip(cs, monomials, strict=True)))
    equations = []
    for expr, out in zip(f.jacobian(symbols) * sympy.Matrix(v), f, strict=True):
        home = {slots.slot(s) for s in out.free_symbols}
        for exps, coeff in sympy.Poly(sympy.expand(expr), *symbols).terms():
            touched = {slots.slot_of[j] for j, e in enumerate(exps) if e}
            violates = (touched - home) if order == 0 else (
                len(touched) >= 2 and sum(exps) > order)
            if violates:
                equations.append(coeff)
    if not equations:
        return len(coeffs)
    matrix, _ = sympy.linear_eq_to_matrix(equations, coeffs)
    return len(matrix.nullspace())
