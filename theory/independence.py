"""Sufficient independence (interaction within slots, docs/theory.md section 3), decided exactly.

Order n >= 1. The columns are the derivative vectors D_alpha f in R^{d_x} for every multi-index
alpha of order 1..n (cross-slot ones included) and every *within-slot* multi-index of order
n + 1. f is sufficiently independent iff this d_x x m matrix has full column rank m (n = 1:
Lachapelle's sufficient nonlinearity; n >= 2: the general pattern of docs/theory.md section 3,
the package's reconstruction there). It needs d_x >= m.

Order 0 (Brady's irreducibility; docs/theory.md section 3 marks the form a reconstruction, this
is the version implemented). For each slot k let S_k be the outputs that depend on slot k and
J_k the |S_k| x |B_k| Jacobian block D_{B_k} f_{S_k}. Slot k passes iff (a) rank J_k = |B_k|
and (b) no partition S_k = S u S' (both non-empty) has rank J_S + rank J_S' = rank J_{S_k}.
Condition (b) says that the vector matroid of the rows of J_k is connected; it is decided
without visiting the 2^|S_k| partitions: with a basis of rows, the connected components of the
matroid are those of the union of the fundamental circuits (non-basis row plus the basis rows
in its representation), a standard fact of matroid theory.

How the rank is decided (``method``):

* ``"random-rational-points"``: the matrix is evaluated exactly at seeded random rational
  points. Generic rank >= rank at any point, so full rank (and, for n = 0, a connected row
  matroid together with full rank) at one point certifies the property on an open dense set
  for analytic f. For polynomial f the point is a real point (``witness_point``). For
  exp-rational f (exp, sin, cos, tanh, sigmoid, ...) the entries are first brought to the
  exact form of :func:`theory.order.exp_rational_forms`, where the exponentials are
  algebraically independent indeterminates; the point also fixes those indeterminates, so it
  is a point of that form, not of z, and ``witness_point`` is None.
* ``"symbolic"``: the points show a deficiency (not a proof) and the coefficient matrix of a
  polynomial M(z) (rows: output and monomial) has a rank equal to the rank seen, so the generic
  rank is certified without elimination over a function field.
* ``"kernel-certificate"``: a deficiency certified by explicit polynomial kernel vectors, with
  no rank over Q(z) (:func:`kernel_certificate`). At the best random point z0 the reduced
  echelon form of M(z0) gives, per free column j, the support S = {j} u P of a kernel vector
  (P: the pivots it uses); generically the kernel over Q(z) has the same pivot pattern, and
  Cramer's rule on a |P| x |P| block A(z) = M_{R,P}(z) that is non-singular at z0 gives the
  polynomial vector c_j = det A, c_P = -adj(A) M_{R,j}. M(z) c(z) = 0 is then checked by exact
  polynomial arithmetic on every row. A verified c with c_j(z0) = det A(z0) != 0 proves the
  columns dependent over Q(z), so no point has full column rank; k verified vectors (distinct
  free columns, so independent) bound the generic rank by m - k, which equals the rank seen at
  z0 when every free column is verified: the rank is then exact.
* ``"symbolic"`` is also the last resort when the kernel certificate does not verify (z0 was
  an unlucky point): the rank over the field of rational functions (sympy ``DomainMatrix``),
  for matrices up to :data:`MAX_SYMBOLIC_ENTRIES` entries.

Every path runs under a time budget (``timeout``, :data:`TIMEOUT` seconds by default, see
:mod:`theory.budget`); when it runs out the answer is ``holds = None`` with the stage and the
best rank seen in ``note``, never a hang. ``holds`` is also None when no certificate exists
(functions outside the exp-rational class whose points are rank-deficient, or a deficiency
neither certificate confirms).
"""

from __future__ import annotations

import sympy

from theory.budget import expired_here, time_budget
from theory.constants import formal_constants, is_transcendental
from theory.derivative_matrix import (
    derivative_label,
    derivative_multi_indices,
    derivative_rows,
    exact_derivatives,
    latent_point,
    nullspace_support,
    random_points,
)
from theory.errors import AnalysisError, BudgetError
from theory.exp_rational import as_polynomial
from theory.irreducibility import irreducibility_result
from theory.order import interaction_order
from theory.rank_certificates import (
    DIGITS,
    IndependenceProgress,
    IndependenceResult,
    kernel_result,
    modular_certificate,
    modular_full_rank,
    numeric_full_rank,
)
from theory.slots import Slots, require_slots

__all__ = ["TIMEOUT", "sufficient_independence"]

#: Seconds :func:`sufficient_independence` may take by default before it answers undecided.
TIMEOUT = 60.0


def _confirm_full_rank(f: sympy.Matrix, slots: Slots, order: int,
                       indices: list[tuple[sympy.Symbol, ...]], labels: tuple[str, ...],
                       constants: dict[sympy.Symbol, sympy.Expr], polynomial: bool
                       ) -> IndependenceResult:
    """Full rank was found with the constants as formal symbols T; carry it to their values.

    Exact when f is polynomial with a single transcendental constant (T -> c is then injective
    on Q[T], so a non-zero minor in Q[z, T] stays non-zero); otherwise confirmed at the true
    constants by :func:`numeric_full_rank` (50-digit evaluation with a margin), or undecided.
    """
    needed = len(indices)
    values = list(constants.values())
    if polynomial and len(values) == 1 and is_transcendental(values[0]):
        return IndependenceResult(True, order, needed, needed, "random-rational-points", labels,
                                  None, (), f"full column rank over Q(z, T) at a random point"
                                  f" with T in place of {values[0]}, which is transcendental:"
                                  " the rank carries over exactly")
    rows, _ = derivative_rows(f, slots, indices, [None] * f.rows)
    point, rank = numeric_full_rank(rows, slots, needed)
    if point is not None:
        return IndependenceResult(True, order, rank, needed, "random-rational-points", labels,
                                  point, (), "full column rank with the constants"
                                  f" {', '.join(map(str, values))} as formal symbols, confirmed"
                                  f" at their true values with {DIGITS}-digit evaluation")
    return IndependenceResult(None, order, rank, needed, "random-rational-points", labels,
                              None, (), "full rank with the constants as formal symbols, not"
                              f" confirmed at their true values {', '.join(map(str, values))}:"
                              " undecided")


def _full_rank_result(f: sympy.Matrix, slots: Slots, order: int,
                      progress: IndependenceProgress) -> IndependenceResult:
    """n >= 1 (module docstring); ``progress`` is updated with the stage and best rank seen."""
    indices = derivative_multi_indices(slots, order)
    labels = tuple(derivative_label(v) for v in indices)
    needed = len(indices)
    original = f
    f, constants = formal_constants(f)
    params = tuple(constants)
    gens = (*slots.symbols, *params)
    polys = [as_polynomial(e, gens) for e in f]
    if constants:
        if modular_full_rank(polys, gens, indices) is not None:
            return _confirm_full_rank(original, slots, order, indices, labels, constants, True)
    else:
        certified = modular_certificate(polys, slots, order)
        if certified is not None:
            return certified
    rows, polynomial = derivative_rows(f, slots, indices, polys)
    exact = exact_derivatives(rows, polynomial, slots, params)
    if exact is None:
        if f.rows >= needed:
            point, rank = numeric_full_rank(rows, slots, needed)
            if point is not None:
                return IndependenceResult(True, order, rank, needed, "random-rational-points",
                                          labels, point, (), f"full column rank at a rational"
                                          f" point, certified with {DIGITS}-digit evaluation")
        else:
            rank = 0
        return IndependenceResult(None, order, rank, needed, "random-rational-points", labels,
                                  None, (), "derivatives outside the exp-rational class and not"
                                  " of certified full rank at random points: undecided")
    best, best_at = 0, None
    for point in random_points(exact.point_symbols):
        dm = exact.at_point(point)
        if dm is None:
            continue
        rank = dm.rank()
        if best_at is None or rank > best:
            best, best_at = rank, (point, dm)
        if rank == needed:
            if constants:
                return _confirm_full_rank(original, slots, order, indices, labels, constants,
                                          exact.polynomial)
            witness = latent_point(point, slots) if exact.polynomial else None
            return IndependenceResult(True, order, rank, needed, "random-rational-points",
                                      labels, witness, (), "full column rank at a random point")
    progress["rank"] = best
    shortage = f"d_x = {f.rows} < {needed} columns; " if f.rows < needed else ""
    if constants:
        shortage += ("formal constants " + ", ".join(str(c) for c in constants.values())
                     + " (a deficiency over Q[z, T] holds at the true values); ")
    constant = exact.constant_relations()
    if constant is not None:
        # rank M(z0) = best <= generic rank <= min(rank C, d_x): equality certifies it
        upper = min(constant.rank(), f.rows)
        if upper == best or f.rows < needed:
            dependent = tuple(labels[j] for j in sorted(nullspace_support(constant)))
            bound = (f"generic rank {best}" if upper == best
                     else f"generic rank <= {upper} (rank {best} seen at random points)")
            return IndependenceResult(False, order, best, needed, "symbolic", labels, None,
                                      dependent, shortage + f"{bound} < {needed}, certified by"
                                      " the coefficient matrix of the polynomial columns")
    if best_at is not None:
        progress["stage"] = "the polynomial kernel certificate"
        result = kernel_result(exact, *best_at, order, needed, labels, shortage)
        if result is not None:
            return result
    progress["stage"] = "the rank over the field of rational functions"
    dm = exact.symbolic()
    if dm is None:
        zero_cols = exact.zero_columns()
        if zero_cols or f.rows < needed:
            why = "identically zero derivative columns" if zero_cols else "too few outputs"
            return IndependenceResult(False, order, best, needed, "symbolic", labels, None,
                                      tuple(labels[j] for j in zero_cols), shortage + why)
        return IndependenceResult(None, order, best, needed, "random-rational-points", labels,
                                  None, (), "rank-deficient at random points; symbolic rank"
                                  " too large to compute")
    rank = dm.rank()
    if rank == needed:
        if constants:
            return _confirm_full_rank(original, slots, order, indices, labels, constants,
                                      exact.polynomial)
        return IndependenceResult(True, order, rank, needed, "symbolic", labels, None, (),
                                  "full generic column rank")
    dependent = tuple(labels[j] for j in sorted(nullspace_support(dm)))
    return IndependenceResult(False, order, rank, needed, "symbolic", labels, None, dependent,
                              shortage + f"generic rank {rank} < {needed}")


def sufficient_independence(f: object, slots: Slots, order: int | None = None, *,
                            timeout: float | None = TIMEOUT) -> IndependenceResult:
    """Decide sufficient independence of f at interaction order ``order`` (module docstring).

    ``f``: generator (d_x, 1) in the slot symbols; ``order``: n (default: the exact
    :func:`theory.order.interaction_order` of f, which must be finite). For n >= 1 the
    d_x x m matrix [D_alpha f : |alpha| <= n, or |alpha| = n + 1 within one slot] must have
    full column rank m; for n = 0 every slot's Jacobian block must have full rank and be
    irreducible. ``timeout``: seconds (None: no limit) after which the answer is
    ``holds = None`` with ``method = "budget"`` and the stage that ran out in ``note``.
    """
    slots = require_slots(slots)
    matrix = slots.check_generator(f)
    if order is None:
        found = interaction_order(matrix, slots)
        if not isinstance(found, int):  # math.inf
            raise AnalysisError("f has no finite interaction order: sufficient independence is"
                                " defined at a finite order n (pass order=...)")
        order = found
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise AnalysisError(f"order must be a non-negative integer, got {order!r}")
    needed = slots.dim if order == 0 else len(derivative_multi_indices(slots, order))
    progress: IndependenceProgress = {"stage": "the rank at random points", "rank": 0}
    try:
        with time_budget(timeout, "sufficient independence",
                         "pass a larger timeout (seconds) or None") as scope:
            if order == 0:
                return irreducibility_result(matrix, slots, progress)
            return _full_rank_result(matrix, slots, order, progress)
    except BudgetError as err:
        if not expired_here(err, scope):
            raise
        return IndependenceResult(
            None, order, progress["rank"], needed, "budget", (), None, (),
            f"undecided: the time budget of {timeout:g} s ran out during"
            f" {progress['stage']} (best rank seen {progress['rank']} of"
            f" {needed}); pass a larger timeout")
