"""Witnesses of the catalogue's counterexamples, and their exact verification.

The theorems (docs/theory.md section 4) need: (i) a generator f with at most n-th order
interaction across slots, (ii) sufficient independence within slots, (iii) a model of the same
order n and (iv) the same latent dimension, and for compositional generalization (v) an
aligned-connected training support. Each entry of :data:`theory.counterexamples.CATALOGUE`
keeps every assumption but one and carries an explicit witness that the conclusion then fails;
:func:`verify` re-checks the witness exactly (sympy, rationals, no floats).

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

import itertools
from dataclasses import dataclass

import sympy

from theory.certificates import (
    Certificate,
    Check,
    compose,
    is_identity,
    reparametrization_checks,
    slots_touched,
    slots_touched_block,
)
from theory.errors import CatalogueError
from theory.independence import sufficient_independence
from theory.order import has_order_at_most, interaction_order
from theory.slots import Slots
from theory.supports import Box, box_dict, box_set, breakpoints_smooth, cpe_boxes, restrict

__all__ = ["CounterexampleEntry", "LargerDecoder", "Reparametrization", "SupportWitness",
           "Witness", "verify"]


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


def _verify_reparametrization(entry: CounterexampleEntry, w: Reparametrization) -> list[Check]:
    checks = reparametrization_checks(entry.f, entry.slots, entry.model_order, w.h, w.inverse)
    if w.f_h_independent_at is not None:
        f_h = compose(entry.f, entry.slots.symbols, w.h)
        res = sufficient_independence(f_h, entry.slots, order=w.f_h_independent_at)
        checks.append(Check(
            f"f o h is sufficiently independent at order {w.f_h_independent_at} (the theorem"
            " applies to f o h)", res.holds is True,
            f"holds={res.holds} (rank {res.rank} of {res.needed} needed, {res.method})"))
    return checks


def _verify_larger(entry: CounterexampleEntry, w: LargerDecoder) -> list[Check]:
    z, wsym = entry.slots.symbols, w.model_slots.symbols
    if w.model_slots.dim <= entry.slots.dim:
        raise CatalogueError(f"{entry.name}: the model must have more latents than the truth")
    reproduced = compose(w.decoder, wsym, w.embedding)
    roundtrip = compose(w.left_inverse, wsym, w.embedding)
    uses = [slots_touched_block(w.embedding, entry.slots, k, w.model_slots)
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
              is_identity(roundtrip, z), f"pi(w) = {list(w.left_inverse)}"),
        Check("some model slot of phi depends on >= 2 true slots (mixed slots)",
              bool(mixed), dependence),
    ]


def _single_slot_terms(expr: sympy.Expr, slots: Slots) -> bool:
    return all(len(slots_touched(t, slots)) <= 1 for t in sympy.Add.make_args(sympy.expand(expr)))


def _verify_support(entry: CounterexampleEntry, w: SupportWitness) -> list[Check]:
    slots, z = entry.slots, entry.slots.symbols
    cpe, ood = cpe_boxes(w.train_boxes, slots)
    disjoint = all(box_set(a).intersect(box_set(b)) == sympy.S.EmptySet
                   for a, b in itertools.combinations(w.train_boxes, 2))
    polynomial_part = entry.f
    difference = [sympy.expand(a - b) for a, b in zip(w.decoder, polynomial_part, strict=True)]
    structural = all(_single_slot_terms(e, slots) for e in difference)
    train_diffs = [[restrict(e, box_dict(b, z)) for e in difference] for b in w.train_boxes]
    ood_diffs = [[restrict(e, box_dict(b, z)) for e in difference] for b in ood]
    per_box_class = all(
        has_order_at_most(sympy.Matrix([restrict(e, box_dict(b, z)) for e in w.decoder]),
                          slots, entry.model_order) for b in cpe)
    x = sympy.Matrix(sympy.symbols(f"x1:{len(w.decoder) + 1}", real=True))
    inverse = compose(w.left_inverse, tuple(x), w.decoder)
    smooth, smooth_detail = breakpoints_smooth(w.decoder, w.smoothness)
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
        Check("f_hat is injective: pi(f_hat(z)) = z exactly", is_identity(inverse, z),
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
