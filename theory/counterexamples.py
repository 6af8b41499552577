"""Catalogue of certified counterexamples: drop one assumption of the theorems, watch them fail.

The theorems (docs/theory.md section 4) need: (i) a generator f with at most n-th order
interaction across slots, (ii) sufficient independence within slots, (iii) a model of the same
order n and (iv) the same latent dimension, and for compositional generalization (v) an
aligned-connected training support. Each entry of :data:`CATALOGUE` keeps every assumption but
one and carries an explicit witness that the conclusion then fails; :func:`verify` re-checks the
witness exactly (sympy, rationals, no floats).

Three kinds of witness:

* :class:`Reparametrization` -- an invertible map h (a polynomial automorphism, given with its
  polynomial inverse) that is not slot-wise up to a permutation, with f o h in the model's
  class. Then the decoder f_hat := f o h is in the class and generates exactly the same data
  (on the latent distribution h^{-1}(Z)), while its latents h^{-1}(z) mix the true slots: slot
  identifiability fails. Certified: h_inv o h = id = h o h_inv (expanded), det Dh a non-zero
  constant, h not slot-wise (:func:`theory.ambiguity.is_slotwise_map`), f o h of order <= n
  (:func:`theory.order.has_order_at_most`).
* :class:`LargerDecoder` -- for a model whose latent dimension exceeds the truth: a decoder
  f_hat(w) of order <= n in the model's slots and an injective encoding w = phi(z) (with a
  polynomial left inverse pi, pi o phi = id) such that f_hat o phi = f exactly, while some
  model slot of phi depends on several true slots.
* :class:`SupportWitness` -- for a support that is not aligned-connected: a decoder f_hat of
  order <= n with f_hat = f exactly on every training box (so h = id, which is slot-wise) but
  f_hat != f on a box of the Cartesian-product extension Z_CPE that is not in the support.

Each entry also states which theorem's assumptions f keeps; :func:`verify` checks those that are
decidable here (exact order of f, sufficient independence at the relevant order via
:func:`theory.independence.sufficient_independence`).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import sympy

from theory.ambiguity import is_slotwise_map
from theory.errors import AnalysisError
from theory.independence import sufficient_independence
from theory.order import has_order_at_most, interaction_order
from theory.slots import Slots

__all__ = [
    "CATALOGUE",
    "CatalogueError",
    "Certificate",
    "Check",
    "CounterexampleEntry",
    "LargerDecoder",
    "Reparametrization",
    "SupportWitness",
    "additive_quadratic",
    "certify_reparametrization",
    "cpe_boxes",
    "get",
    "matrix_from_exact",
    "matrix_to_exact",
    "names",
    "slots_summary",
    "smoothstep",
    "verify",
]


class CatalogueError(AnalysisError):
    """An unknown catalogue name or a malformed counterexample entry."""


# --- witnesses ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reparametrization:
    """h: z -> h(z), (d_z, 1), a polynomial automorphism with polynomial ``inverse`` (d_z, 1).

    ``f_h_independent_at``: when set to an order m, f o h is also checked to be sufficiently
    independent at order m, so the order-m theorem applies to f o h (every order-m model that
    fits the data then recovers the latents of f o h up to slot-wise maps).
    """

    h: sympy.Matrix
    inverse: sympy.Matrix
    f_h_independent_at: int | None = None


@dataclass(frozen=True)
class LargerDecoder:
    """A decoder with more latents than the truth that reproduces f with mixed slots.

    ``model_slots``: the model's slots (symbols w); ``decoder``: f_hat(w), (d_x, 1);
    ``embedding``: phi(z), (d_w, 1), in the true latents; ``left_inverse``: pi(w), (d_z, 1),
    with pi o phi = id (so the encoder z -> phi(z) loses no information).
    """

    model_slots: Slots
    decoder: sympy.Matrix
    embedding: sympy.Matrix
    left_inverse: sympy.Matrix


Box = tuple[tuple[sympy.Rational, sympy.Rational], ...]


@dataclass(frozen=True)
class SupportWitness:
    """A decoder that matches f on the training support and not on its Cartesian extension.

    ``train_boxes``: the support S as a union of closed boxes, each a tuple of (lo, hi) per
    latent coordinate (flat slot order); ``decoder``: f_hat(z), (d_x, 1), possibly with
    ``sympy.Piecewise`` functions of single latents; ``left_inverse``: pi(x), (d_z, 1), a
    polynomial in the outputs x_1..x_{d_x} (symbols ``x1, x2, ...``) with pi(f_hat(z)) = z, so
    f_hat is injective; ``smoothness``: the decoder is C^smoothness (checked at the breakpoints
    of its piecewise parts).
    """

    train_boxes: tuple[Box, ...]
    decoder: sympy.Matrix
    left_inverse: sympy.Matrix
    smoothness: int


Witness = Reparametrization | LargerDecoder | SupportWitness


@dataclass(frozen=True)
class CounterexampleEntry:
    """One catalogue entry: a generator that violates exactly one assumption, and a witness.

    ``generator_order`` is the exact interaction order of f (checked); ``model_order`` the order
    n of the model class; ``independent_at`` maps an order to whether f is sufficiently
    independent at that order (checked); ``conclusion`` is the theorem conclusion that fails
    ("slot identifiability" or "compositional generalization"); ``claim`` says precisely what
    the certificate proves.
    """

    name: str
    assumption: str
    conclusion: str
    slots: Slots
    f: sympy.Matrix
    generator_order: int
    model_order: int
    independent_at: dict[int, bool]
    witness: Witness
    claim: str
    derivation: str


# --- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One exact check of a certificate: what was checked, whether it passed, the evidence."""

    what: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Certificate:
    """Result of :func:`verify`: every check, and ``valid`` iff all of them passed."""

    name: str
    claim: str
    checks: tuple[Check, ...]

    @property
    def valid(self) -> bool:
        """True iff every check passed."""
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        """JSON-able summary."""
        return {
            "name": self.name,
            "valid": self.valid,
            "claim": self.claim,
            "checks": [{"what": c.what, "passed": c.passed, "detail": c.detail}
                       for c in self.checks],
        }

    def format(self) -> str:
        """Readable multi-line report: one line per check, then the verdict."""
        lines = [f"certificate for {self.name!r}", f"claim: {self.claim}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAIL'}] {c.what}: {c.detail}")
        lines.append("VALID: every check passed" if self.valid else "INVALID: a check failed")
        return "\n".join(lines)


# --- exact helpers -----------------------------------------------------------------------------


def _compose(f: sympy.Matrix, symbols: tuple[sympy.Symbol, ...], h: sympy.Matrix) -> sympy.Matrix:
    """(f o h)(z) with every entry expanded: f's symbols replaced simultaneously by h."""
    sub = dict(zip(symbols, list(h), strict=True))
    return sympy.Matrix([sympy.expand(e.xreplace(sub)) for e in f])


def _is_identity(m: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> bool:
    return [sympy.expand(e) for e in m] == list(symbols)


def _slots_touched(expr: sympy.Expr, slots: Slots) -> set[int]:
    return {slots.slot(s) for s in expr.free_symbols if s in slots}


def _order_check(f: sympy.Matrix, slots: Slots, expected: int) -> Check:
    n = interaction_order(f, slots)
    return Check(f"generator f has interaction order exactly {expected}", n == expected,
                 f"interaction_order(f) = {n}")


def _independence_checks(entry: CounterexampleEntry) -> list[Check]:
    out = []
    for order, expected in sorted(entry.independent_at.items()):
        res = sufficient_independence(entry.f, entry.slots, order=order)
        word = "is" if expected else "is not"
        out.append(Check(
            f"f {word} sufficiently independent at order {order}",
            res.holds is expected,
            f"holds={res.holds} (rank {res.rank} of {res.needed} needed, {res.method})",
        ))
    return out


def _affine_inverse(h: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> sympy.Matrix | None:
    """Exact inverse of an affine map h(z) = A z + b with A invertible, else None."""
    if any(sympy.Poly(e, *symbols).total_degree() > 1 for e in h if e != 0):
        return None
    A = h.jacobian(symbols)
    if A.det() == 0:
        return None
    b = h.xreplace({s: 0 for s in symbols})
    return sympy.expand(A.inv() * (sympy.Matrix(symbols) - b))


def _reparametrization_checks(f: sympy.Matrix, slots: Slots, order: int, h: sympy.Matrix,
                              inverse: sympy.Matrix | None) -> list[Check]:
    symbols = slots.symbols
    d = len(symbols)
    if h.shape != (d, 1) or (inverse is not None and inverse.shape != (d, 1)):
        raise CatalogueError(f"h and its inverse must have shape ({d}, 1)")
    if inverse is None:
        inverse = _affine_inverse(h, symbols)
    if inverse is None:
        invertible, detail = False, "no polynomial inverse given and h is not affine"
    else:
        left = _compose(inverse, symbols, h)
        right = _compose(h, symbols, inverse)
        invertible = _is_identity(left, symbols) and _is_identity(right, symbols)
        detail = f"h = {list(h)}, h_inv = {list(inverse)}"
    det = sympy.factor(h.jacobian(symbols).det())
    f_h = _compose(f, symbols, h)
    return [
        Check("h is invertible: h_inv(h(z)) = z and h(h_inv(z)) = z (exact polynomial identity)",
              invertible, detail),
        Check("det Dh is a non-zero constant", bool(det.is_number and det != 0),
              f"det Dh = {det}"),
        Check("h is not slot-wise up to a permutation of slots", not is_slotwise_map(h, slots),
              "output slots of h depend on: " + "; ".join(
                  f"slot {k}: {sorted(_slots_touched_block(h, slots, k))}"
                  for k in range(slots.K))),
        Check(f"f o h is in the model class (interaction order <= {order})",
              has_order_at_most(f_h, slots, order),
              f"f o h = {list(f_h)}; order {interaction_order(f_h, slots)}"),
    ]


def certify_reparametrization(f: object, slots: Slots, order: int, h: sympy.Matrix,
                              inverse: sympy.Matrix | None = None) -> Certificate:
    """Exactly certify that h is a non-slot-wise ambiguity of f in the order-n class.

    h: (d_z, 1) map z -> h(z); inverse: its polynomial inverse (computed exactly when h is
    affine; otherwise invertibility is not certified and the certificate is invalid, since a
    constant Jacobian determinant alone does not prove invertibility). Valid iff h is invertible,
    not slot-wise up to a permutation, and f o h has interaction order <= ``order``.
    """
    f = slots.check_generator(f)
    claim = (f"h = {list(h)} is an invertible map that mixes slots and keeps f o h in the"
             f" class of order <= {order}")
    return Certificate("reparametrization", claim,
                       tuple(_reparametrization_checks(f, slots, order, h, inverse)))


def matrix_to_exact(m: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> list[list]:
    """A polynomial column as JSON-able exact data: per entry, a list of
    [exponent vector, "p/q"] pairs (re-read with :func:`matrix_from_exact`, no parsing)."""
    out = []
    for e in m:
        poly = sympy.Poly(e, *symbols, domain="QQ")
        out.append([[list(mono), str(c)] for mono, c in poly.terms()])
    return out


def matrix_from_exact(data: list[list], symbols: tuple[sympy.Symbol, ...]) -> sympy.Matrix:
    """Inverse of :func:`matrix_to_exact` (exact rationals from "p/q" strings)."""
    entries = []
    for terms in data:
        expr = sympy.Integer(0)
        for mono, coeff in terms:
            if len(mono) != len(symbols):
                raise CatalogueError(f"exponent vector {mono} does not match {len(symbols)}"
                                     " symbols")
            p, _, q = str(coeff).partition("/")
            try:
                c = sympy.Rational(int(p), int(q or 1))
            except ValueError:
                raise CatalogueError(f"coefficient {coeff!r} is not a rational p/q") from None
            expr += c * sympy.Mul(*(s**int(k) for s, k in zip(symbols, mono, strict=True)))
        entries.append(expr)
    return sympy.Matrix(entries)


def slots_summary(slots: Slots) -> list[list[str]]:
    """Slot blocks as lists of symbol names (JSON-able)."""
    return [[str(s) for s in block] for block in slots.blocks]


def _verify_reparametrization(entry: CounterexampleEntry, w: Reparametrization) -> list[Check]:
    checks = _reparametrization_checks(entry.f, entry.slots, entry.model_order, w.h, w.inverse)
    if w.f_h_independent_at is not None:
        f_h = _compose(entry.f, entry.slots.symbols, w.h)
        res = sufficient_independence(f_h, entry.slots, order=w.f_h_independent_at)
        checks.append(Check(
            f"f o h is sufficiently independent at order {w.f_h_independent_at} (the theorem"
            " applies to f o h)", res.holds is True,
            f"holds={res.holds} (rank {res.rank} of {res.needed} needed, {res.method})"))
    return checks


def _slots_touched_block(m: sympy.Matrix, slots: Slots, k: int,
                         blocks: Slots | None = None) -> set[int]:
    """Slots of ``slots`` that the entries of m in block k of ``blocks`` (default: slots) use."""
    offsets = (blocks or slots).offsets
    return set().union(*(_slots_touched(e, slots) for e in m[offsets[k]:offsets[k + 1]]))


def _verify_larger(entry: CounterexampleEntry, w: LargerDecoder) -> list[Check]:
    z, wsym = entry.slots.symbols, w.model_slots.symbols
    if w.model_slots.dim <= entry.slots.dim:
        raise CatalogueError(f"{entry.name}: the model must have more latents than the truth")
    reproduced = _compose(w.decoder, wsym, w.embedding)
    roundtrip = _compose(w.left_inverse, wsym, w.embedding)
    uses = [_slots_touched_block(w.embedding, entry.slots, k, w.model_slots)
            for k in range(w.model_slots.K)]
    mixed = [k for k, used in enumerate(uses) if len(used) >= 2]
    dependence = "; ".join(f"model slot {k} <- true slots {sorted(used)}"
                           for k, used in enumerate(uses))
    return [
        Check(f"model latent dimension {w.model_slots.dim} exceeds the true {entry.slots.dim}",
              True, f"model slots {w.model_slots.sizes}, true slots {entry.slots.sizes}"),
        Check(f"decoder f_hat is in the model class (order <= {entry.model_order})",
              has_order_at_most(w.decoder, w.model_slots, entry.model_order),
              f"f_hat(w) = {list(w.decoder)}"),
        Check("f_hat(phi(z)) = f(z) exactly (the model reproduces the data)",
              [sympy.expand(a - b) for a, b in zip(reproduced, entry.f, strict=True)]
              == [0] * len(entry.f), f"phi(z) = {list(w.embedding)}"),
        Check("the encoding phi is injective: pi(phi(z)) = z exactly",
              _is_identity(roundtrip, z), f"pi(w) = {list(w.left_inverse)}"),
        Check("some model slot of phi depends on >= 2 true slots (mixed slots)",
              bool(mixed), dependence),
    ]


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


def _restrict(expr: sympy.Expr, box: dict[sympy.Symbol, sympy.Interval]) -> sympy.Expr:
    """expr on a closed box with every Piecewise of one latent replaced by the single branch
    active on the whole interval of that latent (exact set containment); CatalogueError when a
    breakpoint lies inside the interval."""

    def pick(*args):
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


def _box_set(box: Box) -> sympy.Set:
    return sympy.ProductSet(*(sympy.Interval(lo, hi) for lo, hi in box))


def _box_dict(box: Box, symbols) -> dict[sympy.Symbol, sympy.Interval]:
    return {s: sympy.Interval(lo, hi) for s, (lo, hi) in zip(symbols, box, strict=True)}


def _single_slot_terms(expr: sympy.Expr, slots: Slots) -> bool:
    return all(len(_slots_touched(t, slots)) <= 1 for t in sympy.Add.make_args(sympy.expand(expr)))


def _breakpoints_smooth(decoder: sympy.Matrix, m: int) -> tuple[bool, str]:
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


def _verify_support(entry: CounterexampleEntry, w: SupportWitness) -> list[Check]:
    slots, z = entry.slots, entry.slots.symbols
    cpe, ood = cpe_boxes(w.train_boxes, slots)
    disjoint = all(_box_set(a).intersect(_box_set(b)) == sympy.S.EmptySet
                   for a, b in itertools.combinations(w.train_boxes, 2))
    polynomial_part = entry.f
    difference = [sympy.expand(a - b) for a, b in zip(w.decoder, polynomial_part, strict=True)]
    structural = all(_single_slot_terms(e, slots) for e in difference)
    train_diffs = [[_restrict(e, _box_dict(b, z)) for e in difference] for b in w.train_boxes]
    ood_diffs = [[_restrict(e, _box_dict(b, z)) for e in difference] for b in ood]
    per_box_class = all(
        has_order_at_most(sympy.Matrix([_restrict(e, _box_dict(b, z)) for e in w.decoder]),
                          slots, entry.model_order) for b in cpe)
    x = sympy.Matrix(sympy.symbols(f"x1:{len(w.decoder) + 1}", real=True))
    inverse = _compose(w.left_inverse, tuple(x), w.decoder)
    smooth, smooth_detail = _breakpoints_smooth(w.decoder, w.smoothness)
    return [
        Check("training support S is disconnected (pairwise disjoint closed boxes), so it is not"
              " aligned-connected", disjoint and len(w.train_boxes) >= 2,
              f"S = union of {list(w.train_boxes)}"),
        Check(f"f_hat - f is a sum of single-slot terms, so f_hat has order <= "
              f"{entry.model_order} like f", structural and has_order_at_most(
                  entry.f, slots, entry.model_order), f"f_hat - f = {difference}"),
        Check("f_hat restricted to every box of Z_CPE is in the model class", per_box_class,
              f"{len(cpe)} boxes of Z_CPE"),
        Check(f"f_hat is C^{w.smoothness} (piecewise parts match at breakpoints)", smooth,
              smooth_detail),
        Check("f_hat is injective: pi(f_hat(z)) = z exactly", _is_identity(inverse, z),
              f"pi(x) = {list(w.left_inverse)}"),
        Check("f_hat = f exactly on every training box (h = id, slot-wise: identifiability holds)",
              all(all(e == 0 for e in d) for d in train_diffs),
              f"f_hat - f on S boxes: {train_diffs}"),
        Check("f_hat != f on a box of Z_CPE outside S (compositional generalization fails)",
              any(any(e != 0 for e in d) for d in ood_diffs),
              "; ".join(f"on {b}: f_hat - f = {d}" for b, d in zip(ood, ood_diffs, strict=True))),
    ]


def verify(entry: CounterexampleEntry) -> Certificate:
    """Re-check an entry exactly and return its :class:`Certificate` (``.valid``)."""
    if not isinstance(entry, CounterexampleEntry):
        raise CatalogueError(f"verify needs a CounterexampleEntry, got {type(entry).__name__}")
    f = entry.slots.check_generator(entry.f)
    entry = CounterexampleEntry(**{**entry.__dict__, "f": f})
    checks = [_order_check(f, entry.slots, entry.generator_order)]
    checks += _independence_checks(entry)
    w = entry.witness
    if isinstance(w, Reparametrization):
        checks += _verify_reparametrization(entry, w)
    elif isinstance(w, LargerDecoder):
        checks += _verify_larger(entry, w)
    elif isinstance(w, SupportWitness):
        checks += _verify_support(entry, w)
    else:
        raise CatalogueError(f"{entry.name}: unknown witness type {type(w).__name__}")
    return Certificate(entry.name, entry.claim, tuple(checks))


# --- the catalogue -----------------------------------------------------------------------------


def _two_scalar_slots() -> tuple[Slots, sympy.Symbol, sympy.Symbol]:
    slots = Slots.from_sizes(1, 1)
    (z1,), (z2,) = slots.blocks
    return slots, z1, z2


def additive_quadratic(z1: sympy.Symbol, z2: sympy.Symbol) -> sympy.Matrix:
    """f = (z1, z2, z1^2 + z2, z2^2 + z1): additive (order 1) and sufficiently nonlinear at
    order 1, but with zero third derivatives. The base generator of several catalogue entries
    and the restored-assumption control of the ``linear`` demonstration."""
    return sympy.Matrix([z1, z2, z1**2 + z2, z2**2 + z1])


def _linear() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = sympy.Matrix([z1 + 2 * z2, 3 * z1 - z2, z1 - z2, 2 * z1 + z2])
    return CounterexampleEntry(
        name="linear",
        assumption="sufficient independence (f is linear)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f(z) = A z is additive (order 1) but not sufficiently nonlinear; the shear"
               " h(z) = (z1 + z2, z2) mixes the slots and f o h = A M z is again linear, hence an"
               " additive decoder f_hat = f o h fits the data exactly with mixed latents."),
        derivation=("D^2 f = 0, so the n = 1 columns {D_i f, D_ii f} are {A e_1, A e_2, 0, 0}:"
                    " rank 2 < 4. For any invertible M, (f o M)(z) = (AM) z is linear, so every"
                    " invertible linear h is an ambiguity; h = [[1, 1], [0, 1]] is not slot-wise."),
    )


def _low_degree() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = sympy.Matrix([z1, z2, z1**2, z2**2, z1 * z2])
    return CounterexampleEntry(
        name="low_degree",
        assumption="sufficient independence (slot functions of too low degree for order 2)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=2, model_order=2,
        independent_at={2: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f has exact order 2 (the bilinear term z1 z2) but is quadratic, so its third"
               " within-slot derivatives vanish; the linear shear h = (z1 + z2, z2) keeps f o h"
               " quadratic, hence of order <= 2: an order-2 decoder fits the data with mixed"
               " latents."),
        derivation=("A polynomial of total degree <= 2 has no monomial of degree > 2, so it has"
                    " order <= 2 whatever its cross-slot terms; composing with a linear map keeps"
                    " the degree. Sufficient independence at order 2 needs the within-slot third"
                    " derivatives D_111 f, D_222 f, which are 0."),
    )


def _higher_order_interaction() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    u1, u2 = 2 * z1 + z2, -z1 + z2
    f = sympy.Matrix([u1, u2, sympy.expand(u1**2), sympy.expand(u2**2)])
    third = sympy.Rational(1, 3)
    return CounterexampleEntry(
        name="higher_order_interaction",
        assumption="at most n-th order interaction across slots (f has order 2, model order 1)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=2, model_order=1,
        independent_at={1: True},
        witness=Reparametrization(sympy.Matrix([third * (z1 - z2), third * (z1 + 2 * z2)]),
                                  sympy.Matrix([2 * z1 + z2, -z1 + z2]), f_h_independent_at=1),
        claim=("f = g(A z) with g(u) = (u1, u2, u1^2, u2^2) and A = [[2, 1], [-1, 1]] has exact"
               " order 2 > 1 yet is sufficiently nonlinear at order 1. Certified: h = A^{-1} mixes"
               " the slots and f o h = g is additive, so an additive (order-1) decoder reproduces"
               " the data exactly with latents u = A z. Since g is sufficiently nonlinear at"
               " order 1 (checked), the n = 1 theorem makes every additive decoder that fits the"
               " data recover u up to slot-wise maps: no order-1 model recovers the true slots"
               " of z."),
        derivation=("(f o A^{-1})(u) = g(u) = (u1, u2, u1^2, u2^2): every output depends on one"
                    " slot. The n = 1 columns of g are (1,0,2u1,0), (0,1,0,2u2), (0,0,2,0),"
                    " (0,0,0,2): rank 4 everywhere. For f: D_1 f = 2 g_1 - g_2, D_2 f = g_1 + g_2,"
                    " D_11 f = 4 g_11 + g_22, D_22 f = g_11 + g_22 (g_12 = 0): rank 4 as well;"
                    " D_12 f = 2 g_11 - g_22 = (0,0,4,-2) != 0 with f quadratic: order exactly"
                    " 2."),
    )


def _model_order_too_high() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    return CounterexampleEntry(
        name="model_order_too_high",
        assumption="model order equal to the generator's (additive f, order-2 model)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=2,
        independent_at={1: True, 2: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f is additive with quadratic slot functions: order exactly 1 and sufficiently"
               " nonlinear at order 1 (identifiable by an additive model), but under an order-2"
               " model the shear h = (z1 + z2, z2) keeps f o h quadratic, hence of order <= 2:"
               " the order-2 model fits the data with mixed latents."),
        derivation=("f o h = (z1 + z2, z2, (z1 + z2)^2 + z2, z2^2 + z1 + z2) has total degree 2,"
                    " so no monomial of degree > 2 mixes slots. At order 2 sufficient"
                    " independence would need the third within-slot derivatives, which vanish."),
    )


def _latent_dim_too_large() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    model = Slots.from_sizes(2, 1, prefix="w")
    (w1, w2), (w3,) = model.blocks
    decoder = sympy.Matrix([w1 + (w2 - w3), w3, w1**2 + w3, w3**2 + w1])
    return CounterexampleEntry(
        name="latent_dim_too_large",
        assumption="model latent dimension equal to the truth (model 3 latents, truth 2)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: True},
        witness=LargerDecoder(model, decoder, sympy.Matrix([z1, z2, z2]),
                              sympy.Matrix([w1, w3])),
        claim=("With model slots (w1_1, w1_2 | w2_1) the additive decoder"
               " f_hat(w) = f(w1_1, w2_1) + e_1 (w1_2 - w2_1) and the injective encoding"
               " phi(z) = (z1, z2, z2) reproduce f exactly, but model slot 1 holds a copy of the"
               " true slot 2: slot 2 is recovered in two model slots (its R^2 on model slot 1 is"
               " 1), so slot identifiability fails."),
        derivation=("f_hat(phi(z)) = f(z1, z2) + e_1 (z2 - z2) = f(z). f_hat is a sum of"
                    " single-slot terms (w1_2 - w2_1 is linear), so it is additive. The spare"
                    " latent w1_2 must carry some function of the data; here it carries z2."),
    )


def _support_not_aligned_connected() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    one, two, three = sympy.Integer(1), sympy.Integer(2), sympy.Integer(3)
    zero = sympy.Integer(0)
    step1, step2 = smoothstep(z1, one, two, 2), smoothstep(z2, one, two, 2)
    decoder = f + sympy.Matrix([0, 0, step1 - step2, step1 - step2])
    x1, x2 = sympy.symbols("x1 x2", real=True)
    return CounterexampleEntry(
        name="support_not_aligned_connected",
        assumption="aligned-connected training support (S = [0,1]^2 u [2,3]^2)",
        conclusion="compositional generalization",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: True},
        witness=SupportWitness((((zero, one), (zero, one)), ((two, three), (two, three))),
                               decoder, sympy.Matrix([x1, x2]), 2),
        claim=("On the support S = [0,1]^2 u [2,3]^2 the additive decoder"
               " f_hat = f + (0, 0, 1, 1) (s(z1) - s(z2)), s a C^2 step from 0 (t <= 1) to 1"
               " (t >= 2), equals f exactly (so h = id: slot identifiability holds), but on the"
               " unseen combinations [0,1] x [2,3] and [2,3] x [0,1] of Z_CPE it differs from f by"
               " -/+ (0, 0, 1, 1): compositional generalization fails."),
        derivation=("Both f and f_hat are additive; their difference g_1(z1) + g_2(z2) with"
                    " g_1 = s, g_2 = -s vanishes on S because s is constant on each of the two"
                    " components [0,1] and [2,3] of the slot projections and equal in both slots"
                    " on each square. A connected support would force g_1, g_2 to be constants"
                    " summing to 0; the gap between the squares lets s jump by 1, and the"
                    " Cartesian extension combines the two levels."),
    )


def _build() -> dict[str, CounterexampleEntry]:
    entries = [_linear(), _low_degree(), _higher_order_interaction(), _model_order_too_high(),
               _latent_dim_too_large(), _support_not_aligned_connected()]
    return {e.name: e for e in entries}


CATALOGUE: dict[str, CounterexampleEntry] = _build()


def names() -> tuple[str, ...]:
    """Names of the catalogue entries, in catalogue order."""
    return tuple(CATALOGUE)


def get(name: str) -> CounterexampleEntry:
    """The catalogue entry ``name``; :class:`CatalogueError` listing the names otherwise."""
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise CatalogueError(
            f"unknown counterexample {name!r}; choose one of: {', '.join(names())}") from None
