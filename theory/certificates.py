"""Certificates of non-identifiability: exact re-checks of a reparametrization h of the latents.

A map h : z -> h(z) is an *ambiguity* of f in the class of at most n-th order interaction when

1. h is invertible: given a polynomial inverse, h_inv(h(z)) = z and h(h_inv(z)) = z as exact
   polynomial identities (an affine h(z) = A z + b with det A != 0 is inverted by linear
   algebra; a constant Jacobian determinant alone does not prove invertibility);
2. det Dh is a non-zero constant (implied by 1 for polynomial automorphisms, checked anyway);
3. h is not slot-wise up to a permutation of slots (:func:`is_slotwise_map`);
4. f o h has interaction order <= n (:func:`theory.order.interaction_order`).

Then f and f o h generate the same data (on the latent distributions Z and h^{-1}(Z)), both are
in the class, and their latents differ by a map that mixes slots: slot identifiability fails.
:func:`certify_reparametrization` runs the four checks and returns a :class:`Certificate`;
:func:`certified_counterexample` runs the same checks and returns a :class:`Counterexample`
when they pass. The catalogue (:mod:`theory.witnesses`), the ambiguity system
(:mod:`theory.ambiguity`), the discrete search (:mod:`theory.discrete`) and the conjecture
runner all certify through these two functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from theory.errors import AnalysisError, CatalogueError
from theory.order import interaction_order
from theory.slots import Slots

__all__ = [
    "Certificate",
    "Check",
    "Counterexample",
    "certified_counterexample",
    "certify_reparametrization",
    "compose",
    "is_identity",
    "is_slotwise_map",
    "reparametrization_checks",
    "slots_touched",
    "slots_touched_block",
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
class Check:
    """One exact check of a certificate: what was checked, whether it passed, the evidence."""

    what: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Certificate:
    """Every check of one certificate, and ``valid`` iff all of them passed."""

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


def compose(f: sympy.Matrix, symbols: tuple[sympy.Symbol, ...], h: sympy.Matrix) -> sympy.Matrix:
    """(f o h)(z) with every entry expanded: f's symbols replaced simultaneously by h."""
    sub = dict(zip(symbols, list(h), strict=True))
    return sympy.Matrix([sympy.expand(e.xreplace(sub)) for e in f])


def is_identity(m: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> bool:
    """True iff the column m is the identity map z -> z after expansion (exact)."""
    return [sympy.expand(e) for e in m] == list(symbols)


def slots_touched(expr: sympy.Expr, slots: Slots) -> set[int]:
    """Indices of the slots whose latents occur in ``expr``."""
    return {slots.slot(s) for s in expr.free_symbols if s in slots}


def slots_touched_block(m: sympy.Matrix, slots: Slots, k: int,
                        blocks: Slots | None = None) -> set[int]:
    """Slots of ``slots`` that the entries of m in block k of ``blocks`` (default: slots) use."""
    offsets = (blocks or slots).offsets
    return set().union(*(slots_touched(e, slots) for e in m[offsets[k]:offsets[k + 1]]))


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


def _affine_inverse(h: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> sympy.Matrix | None:
    """Exact inverse of an affine map h(z) = A z + b with A invertible, else None."""
    if any(sympy.Poly(e, *symbols).total_degree() > 1 for e in h if e != 0):
        return None
    A = h.jacobian(symbols)
    if A.det() == 0:
        return None
    b = h.xreplace({s: 0 for s in symbols})
    return sympy.expand(A.inv() * (sympy.Matrix(symbols) - b))


def _checks(f: sympy.Matrix, slots: Slots, order: int, h: sympy.Matrix,
            inverse: sympy.Matrix | None) -> tuple[list[Check], sympy.Matrix, int | float]:
    """The four checks of the module docstring, with f o h and its exact order."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise AnalysisError(f"order n must be a non-negative integer, got {order!r}")
    symbols = slots.symbols
    d = len(symbols)
    if h.shape != (d, 1) or (inverse is not None and inverse.shape != (d, 1)):
        raise CatalogueError(f"h and its inverse must have shape ({d}, 1)")
    if inverse is None:
        inverse = _affine_inverse(h, symbols)
    if inverse is None:
        invertible, detail = False, "no polynomial inverse given and h is not affine"
    else:
        left = compose(inverse, symbols, h)
        right = compose(h, symbols, inverse)
        invertible = is_identity(left, symbols) and is_identity(right, symbols)
        detail = f"h = {list(h)}, h_inv = {list(inverse)}"
    det = sympy.factor(h.jacobian(symbols).det())
    f_h = compose(f, symbols, h)
    n_h = interaction_order(f_h, slots)
    checks = [
        Check("h is invertible: h_inv(h(z)) = z and h(h_inv(z)) = z (exact polynomial identity)",
              invertible, detail),
        Check("det Dh is a non-zero constant", bool(det.is_number and det != 0),
              f"det Dh = {det}"),
        Check("h is not slot-wise up to a permutation of slots", not is_slotwise_map(h, slots),
              "output slots of h depend on: " + "; ".join(
                  f"slot {k}: {sorted(slots_touched_block(h, slots, k))}"
                  for k in range(slots.K))),
        Check(f"f o h is in the model class (interaction order <= {order})", n_h <= order,
              f"f o h = {list(f_h)}; order {n_h}"),
    ]
    return checks, f_h, n_h


def reparametrization_checks(f: sympy.Matrix, slots: Slots, order: int, h: sympy.Matrix,
                             inverse: sympy.Matrix | None) -> list[Check]:
    """The four checks of the module docstring for h (and its polynomial ``inverse``, None for
    an affine h) as a generator f of order <= ``order`` is composed with it."""
    return _checks(f, slots, order, h, inverse)[0]


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
                       tuple(reparametrization_checks(f, slots, order, h, inverse)))


def certified_counterexample(f: sympy.Matrix, slots: Slots, order: int, h: sympy.Matrix,
                             inverse: sympy.Matrix | None, how: str) -> Counterexample | None:
    """The :class:`Counterexample` (h, f o h, its order) when every check of
    :func:`certify_reparametrization` passes for h, else None. ``how`` (how h was found) opens
    the note; ``inverse`` is kept as given (None for affine h)."""
    checks, f_h, n_h = _checks(f, slots, order, h, inverse)
    if not all(c.passed for c in checks):
        return None
    note = (f"certified: {how}; h is invertible and mixes slots, and f o h has interaction"
            f" order {n_h} <= {order} (checked exactly)")
    return Counterexample(h, f_h, n_h, note, inverse)
