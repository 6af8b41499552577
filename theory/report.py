"""Verdicts: what the theory of interaction asymmetry predicts for a given generator.

:func:`analyze` combines the exact analyses of the package,

1. the interaction order n of f across slots (:func:`theory.order.interaction_order`),
2. sufficient independence at that order (:func:`theory.independence.sufficient_independence`),
3. the infinitesimal ambiguity system (:func:`theory.ambiguity.ambiguities`),
4. the search for discrete ambiguities, coordinate permutations that move latents between
   slots (:func:`theory.discrete.discrete_ambiguities`),

into one of four verdicts:

* ``"identifiable"``: n <= 2 and sufficiently independent, so Theorem 4.3 of Brady et al.
  (ICLR 2025) applies;
* ``"conjectured"``: n >= 3, sufficiently independent, and every polynomial ambiguity of the
  checked degree is slot-wise (the paper conjectures the theorem for every n);
* ``"not-identifiable"``: a certified counterexample h (invertible, mixing slots, f o h still of
  order <= n, all checked exactly) was found;
* ``"unknown"``: anything else (no finite order; not sufficiently independent but no
  counterexample found; a generator outside what the exact ambiguity analysis supports; a
  stage whose time budget ran out).

Every stage runs under its own time budget (``stage_timeout``): the analysis answers, it does
not hang.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sympy

from theory.ambiguity import AmbiguityResult, ambiguities, specialized_counterexample
from theory.budget import expired_here, time_budget
from theory.certificates import Counterexample
from theory.constants import constant_atoms, formal_constants, rationalize_floats
from theory.discrete import DiscreteResult, discrete_ambiguities
from theory.errors import AnalysisError, BudgetError
from theory.independence import sufficient_independence
from theory.order import cross_derivatives, interaction_order
from theory.radicals import normalize_radicals
from theory.rank_certificates import IndependenceResult
from theory.slots import Slots

__all__ = ["VERDICTS", "Report", "analyze"]

VERDICTS = ("identifiable", "conjectured", "not-identifiable", "unknown")

#: Seconds each stage of :func:`analyze` may take by default (order, independence, ambiguity
#: system, restrictions, discrete search); a stage that runs out is undecided, not a hang.
STAGE_TIMEOUT = 30.0

#: Largest number of unknowns (d_z * C(d_z + 2, 2)) for which the degree-2 restriction analysis
#: runs automatically (d_z <= 8).
MAX_RESTRICTION_UNKNOWNS = 360

_CLASS_NAMES = {
    0: "compositional (each output depends on one slot; Brady et al. 2023)",
    1: "additive (block-diagonal Hessians; Lachapelle et al. 2023)",
    2: "of at most 2nd-order interaction (cross-slot terms bilinear in the latents)",
}

_PREDICTION = (
    "slots are recovered up to a permutation and slot-wise diffeomorphisms on the training"
    " support (slot identifiability); with an aligned-connected training support the decoder"
    " also generalizes compositionally, f_hat o h = f on the Cartesian product of the slot"
    " supports Z_CPE = Z_1 x ... x Z_K (Section 4.2)"
)


@dataclass
class Report:
    """Result of :func:`analyze` (see the module docstring for the verdicts).

    ``order``: interaction order (``math.inf`` if none is finite, None if not decided within
    the budget); ``sufficiently_independent``:
    True/False, or None when not decided (infinite order, or a budget ran out); ``theorem``:
    which result applies and what it predicts; ``restrictions``: facts the theorem alone does
    not show (e.g. which coordinates admit only affine reparametrizations); ``notes``: how each
    part was decided; ``discrete``: the search for coordinate permutations between slots (None
    when the infinitesimal system already gave a counterexample or the order is not finite).
    """

    slots: Slots
    f: sympy.Matrix
    order: int | float | None
    sufficiently_independent: bool | None
    verdict: str
    theorem: str
    counterexample: Counterexample | None = None
    ambiguity: AmbiguityResult | None = None
    independence: IndependenceResult | None = None
    restrictions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    discrete: DiscreteResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: order (int or "inf"), verdict, theorem, ambiguity dimensions, ..."""
        ind = self.independence
        amb = self.ambiguity
        ce = self.counterexample
        return {
            "slots": str(self.slots),
            "latent_dim": self.slots.dim,
            "outputs": self.f.rows,
            "order": _order_json(self.order),
            "sufficiently_independent": self.sufficiently_independent,
            "independence": None if ind is None else {
                "rank": ind.rank, "needed": ind.needed, "method": ind.method,
                "dependent_columns": list(ind.dependent_columns),
            },
            "verdict": self.verdict,
            "theorem": self.theorem,
            "counterexample": None if ce is None else {
                "h": [str(e) for e in ce.h],
                "f_h": [str(e) for e in ce.f_h],
                "order_of_f_h": _order_json(ce.order_of_f_h),
                "note": ce.note,
            },
            "ambiguity": None if amb is None else {
                "degree": amb.degree,
                "dimension": amb.dimension,
                "slotwise_dimension": amb.slotwise_dimension,
                "unknowns": amb.unknowns,
                "slotwise_unknowns": amb.slotwise_unknowns,
                "equations": amb.equations,
                "non_slotwise_basis": [[str(e) for e in v] for v in amb.non_slotwise_basis],
                "note": amb.note,
            },
            "discrete": None if self.discrete is None else {
                "candidates": self.discrete.candidates,
                "searched": self.discrete.searched,
                "complete": self.discrete.complete,
                "note": self.discrete.note,
            },
            "restrictions": list(self.restrictions),
            "notes": list(self.notes),
        }

    def format(self) -> str:
        """Readable multi-line report."""
        si = {True: "yes", False: "no", None: "not decided"}[self.sufficiently_independent]
        lines = [
            f"slots: {self.slots}   (d_z = {self.slots.dim}, d_x = {self.f.rows})",
            f"interaction order: {_order_json(self.order)}",
            f"sufficiently independent: {si}",
        ]
        if self.independence is not None:
            ind = self.independence
            lines.append(f"  rank {ind.rank} of {ind.needed} needed ({ind.method})")
        amb = self.ambiguity
        if amb is not None:
            lines.append(
                f"ambiguities (polynomial fields of degree <= {amb.degree}): dimension"
                f" {amb.dimension}, slot-wise {amb.slotwise_dimension}"
                f" (of {amb.unknowns} unknowns, {amb.slotwise_unknowns} slot-wise)"
            )
            lines.append(f"  {amb.note}")
        lines.append(f"verdict: {self.verdict}")
        lines.append(f"theorem: {self.theorem}")
        if self.counterexample is not None:
            ce = self.counterexample
            lines.append("counterexample:")
            lines.append(f"  h(z) = {list(ce.h)}")
            lines.append(f"  f o h = {list(ce.f_h)}  (order {_order_json(ce.order_of_f_h)})")
        if self.restrictions:
            lines.append("restrictions:")
            lines.extend(f"  - {r}" for r in self.restrictions)
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {n}" for n in self.notes)
        return "\n".join(lines)


def _nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}-th")


def _order_json(order: int | float | None) -> int | str | None:
    if order is None:
        return None
    return "inf" if order == math.inf else int(order)


def _interacting_pairs(f: sympy.Matrix, slots: Slots) -> dict[sympy.Symbol, set[sympy.Symbol]]:
    """Coordinates z_i, z_j of different slots with a non-zero mixed partial d^2 f / dz_i dz_j."""
    partners: dict[sympy.Symbol, set[sympy.Symbol]] = {}
    for cd in cross_derivatives(f, slots, 2):
        if cd.expr != 0:
            u, w = cd.variables
            partners.setdefault(u, set()).add(w)
            partners.setdefault(w, set()).add(u)
    return partners


def _restrictions(f: sympy.Matrix, slots: Slots, order: int,
                  amb: AmbiguityResult) -> list[str]:
    partners = _interacting_pairs(f, slots)
    out = []
    for sf in amb.slot_fields:
        if sf.dimension < sf.unknowns:
            coords = [s for s in sf.affine_only]
            who = sorted({slots.slot(w) for s in coords for w in partners.get(s, ())})
            text = (
                f"slot {sf.slot}: only {sf.dimension} of its {sf.unknowns} slot-wise polynomial"
                f" fields of degree <= {amb.degree} keep f in the class (all"
                f" {sf.affine_unknowns} affine ones do)"
            )
            if coords:
                names = ", ".join(str(s) for s in coords)
                text += (
                    f"; coordinates {names} interact with slot(s)"
                    f" {', '.join(str(k) for k in who)} through cross terms of degree <= {order},"
                    " so they can only be reparametrized affinely (to first order)"
                )
            out.append(text)
    return out


def _theorem(order: int | float, si: bool | None, verdict: str,
             amb: AmbiguityResult | None) -> str:
    if not isinstance(order, int):  # math.inf
        return ("no finite interaction order across slots (mixed partials of every order are"
                " non-zero): neither Theorem 4.3 nor the conjecture applies")
    cls = _CLASS_NAMES.get(order, f"of at most {_nth(order)}-order interaction across slots")
    if verdict == "not-identifiable":
        why = ("f is not sufficiently independent and " if si is False else "")
        return (f"f is {cls}, but {why}a reparametrization that mixes slots keeps f o h in the"
                " same class (certified exactly): slots are not identifiable from this class,"
                " so the sufficient-independence hypothesis of Theorem 4.3 cannot be dropped")
    if verdict == "identifiable":
        return (f"Theorem 4.3 (Brady et al., ICLR 2025) applies with n = {order}: f is {cls}"
                f" and sufficiently independent. Prediction for any decoder of the same latent"
                f" dimension, with at most {_nth(order)}-order interaction across slots, that"
                f" reconstructs the data: {_PREDICTION}")
    if verdict == "conjectured" and amb is not None:
        return (f"conjecture of Brady et al. (proved only for n <= 2): f has interaction order"
                f" {order} and is sufficiently independent, and every polynomial ambiguity of"
                f" degree <= {amb.degree} is slot-wise ({amb.dimension} = {amb.slotwise_dimension}"
                f"); if the conjecture holds: {_PREDICTION}")
    if si is False:
        return (f"f is {cls} but not sufficiently independent: Theorem 4.3 does not apply, and"
                " no certified counterexample was found")
    return (f"f is {cls}; the conjecture's extra evidence (slot-wise ambiguities) is missing or"
            " inconclusive, so no result applies")


def _exact_input(f: sympy.Matrix, slots: Slots) -> tuple[sympy.Matrix, list[str]]:
    """The generator the analysis works on, and notes on how it was obtained from f.

    Floats become the rationals of their decimal text (with an ExactnessWarning,
    theory.constants); irrational constants stay exact (theory.constants: formal symbols in
    the rank certificates); radicals and absolute values are rewritten over irreducible factors
    on the stated domain (theory.radicals.normalize_radicals), where perfect powers become
    polynomials. AnalysisError for complex constants."""
    notes = []
    f, floats = rationalize_floats(f)
    if floats:
        notes.append("floats replaced by exact rationals: "
                     + ", ".join(f"{x} -> {q}" for x, q in floats[:6]))
    for e in f:
        constant_atoms(e)  # refuses I
    rewritten, domain = [], {}
    for e in f:
        new, conditions = normalize_radicals(e, slots.symbols)
        rewritten.append(new)
        domain.update(dict.fromkeys(conditions))
    if domain:
        f = sympy.Matrix(rewritten)
        where = ", ".join(f"{p} > 0" for p in domain)
        seen = _point_in(list(domain), slots)
        notes.append(f"radicals and absolute values rewritten on the stated domain {where}"
                     f" ({'non-empty: it contains ' + seen if seen else 'no point of it found'}"
                     "); the analysis is of f there, f = " + str(list(f))[:300])
    return f, notes


def _point_in(conditions: list[sympy.Expr], slots: Slots) -> str | None:
    """A rational point where every condition p > 0 holds (seeded search), as text."""
    import random

    rng = random.Random(0)
    for _ in range(200):
        point = {s: sympy.Rational(rng.randint(-40, 40), rng.randint(1, 9)) for s in slots.symbols}
        if all(p.xreplace(point) > 0 for p in conditions):
            return ", ".join(f"{s} = {v}" for s, v in point.items())
    return None


def analyze(f: object, slots: Slots, *, degree: int = 1, timeout: float | None = None,
            stage_timeout: float | None = STAGE_TIMEOUT) -> Report:
    """Exact identifiability analysis of a generator f (d_x, 1) with latents split by ``slots``.

    Computes the interaction order n, sufficient independence at order n, the ambiguity
    system with polynomial fields of degree <= ``degree`` (affine by default) and the search
    for discrete ambiguities (:func:`theory.discrete.discrete_ambiguities`: coordinate
    permutations that move latents between slots), then the verdict (module docstring). For
    n >= 2 it also solves the system at degree 2 (when d_z * C(d_z + 2, 2) <= 360) to report
    which coordinates admit only affine reparametrizations.

    Budgets: every stage (order, independence, ambiguities, restrictions, discrete search) runs
    under ``stage_timeout`` seconds (None: no limit); a stage that runs out is reported as
    undecided in ``notes`` and the verdict is then at most ``unknown`` (a certified
    counterexample found by another stage still counts). ``timeout``: seconds for the whole
    analysis, after which it stops with :class:`theory.errors.BudgetError` (theory.budget).
    """
    with time_budget(timeout, "the analysis", "pass a larger timeout (seconds) or None"):
        return _analyze(f, slots, degree, stage_timeout)


_T = TypeVar("_T")


def _stage(seconds: float | None, what: str, notes: list[str], run: Callable[[], _T]
           ) -> tuple[bool, _T | None]:
    """``(True, run())``, or ``(False, None)`` with a note when the stage's own budget ran out
    (an enclosing budget's expiry propagates)."""
    try:
        with time_budget(seconds, what, "pass a larger stage_timeout") as scope:
            return True, run()
    except BudgetError as err:
        if not expired_here(err, scope):
            raise
        notes.append(f"{what}: undecided, its time budget of {seconds:g} s ran out")
        return False, None


def _analyze(f: object, slots: Slots, degree: int, stage_timeout: float | None) -> Report:
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
        raise AnalysisError(f"degree must be a non-negative integer, got {degree!r}")
    matrix, notes = _exact_input(slots.check_generator(f), slots)
    done, found = _stage(stage_timeout, "the interaction order", notes,
                         lambda: interaction_order(matrix, slots))
    if not done or found is None:
        return Report(slots, matrix, None, None, "unknown",
                      "the interaction order was not decided within the time budget: no"
                      " result applies", notes=notes)
    if not isinstance(found, int):  # math.inf
        verdict = "unknown"
        return Report(slots, matrix, found, None, verdict, _theorem(found, None, verdict, None),
                      notes=[*notes,
                             "sufficient independence and ambiguities need a finite order"])
    order = found
    independence = sufficient_independence(matrix, slots, order=order, timeout=stage_timeout)
    si = independence.holds
    notes.append(f"sufficient independence decided by {independence.method}"
                 if si is not None else f"sufficient independence: {independence.note}")
    amb, special = None, None
    try:
        _, amb = _stage(stage_timeout, "the ambiguity system", notes,
                        lambda: ambiguities(matrix, slots, order, degree))
    except AnalysisError as err:
        notes.append(f"ambiguity analysis skipped: {err}")
        if formal_constants(matrix)[1]:
            done, stand_in = _stage(stage_timeout, "the ambiguity system of a rational stand-in",
                                    notes, lambda: specialized_counterexample(matrix, slots,
                                                                              order, degree))
            if done and stand_in is not None:
                special, why = stand_in
                notes.append(f"constants: {why}")
    restrictions: list[str] = []
    if amb is not None and order >= 2:
        second = amb if degree >= 2 else None
        if second is None and slots.dim * math.comb(slots.dim + 2, 2) <= MAX_RESTRICTION_UNKNOWNS:
            _, second = _stage(stage_timeout, "the degree-2 restriction analysis", notes,
                               lambda: ambiguities(matrix, slots, order, 2))
        elif second is None:
            notes.append("degree-2 restriction analysis skipped (d_z too large)")
        if second is not None:
            restrictions = _restrictions(matrix, slots, order, second)
    ce = amb.counterexample if amb is not None else special
    discrete = None
    if ce is None:
        discrete = discrete_ambiguities(matrix, slots, order, timeout=stage_timeout)
        ce = discrete.counterexample
        notes.append(f"discrete ambiguities: {discrete.note}")
    if ce is not None:
        verdict = "not-identifiable"
        if si is True and order <= 2:
            notes.append("a certified counterexample contradicts Theorem 4.3 with the package's"
                         " reconstruction of sufficient independence: please report it")
    elif order <= 2 and si is True:
        verdict = "identifiable"
    elif si is True and amb is not None and amb.is_slotwise:
        verdict = "conjectured"
    else:
        verdict = "unknown"
    return Report(slots, matrix, order, si, verdict, _theorem(order, si, verdict, amb),
                  counterexample=ce, ambiguity=amb, independence=independence,
                  restrictions=restrictions, notes=notes, discrete=discrete)
