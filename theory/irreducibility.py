"""Order 0 of sufficient independence: Brady's irreducibility, slot by slot (docs/theory.md
section 3; the form the package implements is marked a reconstruction there).

For each slot k let S_k be the outputs that depend on slot k and J_k the |S_k| x |B_k|
Jacobian block D_{B_k} f_{S_k}. Slot k passes iff (a) rank J_k = |B_k| and (b) no partition
S_k = S u S' (both non-empty) has rank J_S + rank J_S' = rank J_{S_k}. Condition (b) says that
the vector matroid of the rows of J_k is connected; it is decided without visiting the 2^|S_k|
partitions: with a basis of rows, the connected components of the matroid are those of the
union of the fundamental circuits (non-basis row plus the basis rows in its representation),
a standard fact of matroid theory. Full rank and connectivity at a random point certify them
generically; failures are decided over the field of rational functions.
"""

from __future__ import annotations

import sympy
from sympy.polys.matrices import DomainMatrix

from theory.constants import formal_constants, is_transcendental
from theory.derivative_matrix import (
    derivative_label,
    derivative_rows,
    exact_derivatives,
    latent_point,
    nullspace_support,
    random_points,
)
from theory.exp_rational import as_polynomial
from theory.rank_certificates import IndependenceProgress, IndependenceResult
from theory.slots import Slots

__all__ = ["irreducibility_result", "matroid_components"]


def matroid_components(dm: DomainMatrix) -> list[set[int]]:
    """Connected components of the vector matroid of the rows of ``dm`` (fundamental circuits)."""
    n_rows = dm.shape[0]
    reduced, pivots = dm.transpose().rref()
    parent = list(range(n_rows))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    dense = reduced.to_Matrix()
    for e in range(n_rows):
        if e in pivots:
            continue
        for r, p in enumerate(pivots):
            if dense[r, e] != 0:
                parent[find(e)] = find(p)
    groups: dict[int, set[int]] = {}
    for a in range(n_rows):
        groups.setdefault(find(a), set()).add(a)
    return list(groups.values())


def _slot_check(dm: DomainMatrix) -> tuple[int, list[set[int]]]:
    if dm.shape[0] == 0:
        return 0, []
    return dm.rank(), matroid_components(dm)


def irreducibility_result(f: sympy.Matrix, slots: Slots, progress: IndependenceProgress
                          ) -> IndependenceResult:
    """Sufficient independence at n = 0 (module docstring) of f (d_x, 1); ``progress`` is
    updated with the stage and best rank seen (read when a time budget runs out)."""
    labels = tuple(derivative_label((s,)) for s in slots.symbols)
    needed = slots.dim
    f, constants = formal_constants(f)
    params = tuple(constants)
    gens = (*slots.symbols, *params)
    polys = [as_polynomial(e, gens) for e in f]
    rows, polynomial = derivative_rows(f, slots, [(s,) for s in slots.symbols], polys)
    exact = exact_derivatives(rows, polynomial, slots, params)
    values = list(constants.values())
    if constants and not (polynomial and len(values) == 1 and is_transcendental(values[0])):
        # a formal full rank or connectivity need not survive algebraic relations among the
        # constants; a formal deficiency does (specialization never raises a rank)
        exact_claims = False
    else:
        exact_claims = True
    if exact is None:
        return IndependenceResult(None, 0, 0, needed, "random-rational-points", labels, None,
                                  (), "Jacobian outside the exp-rational class: no exact rank")
    offsets = slots.offsets
    rows_of = [[l for l in range(f.rows)
                if any(not exact.is_zero(l, j) for j in range(offsets[k], offsets[k + 1]))]
               for k in range(slots.K)]
    blocks = [exact.restrict(rows, list(range(offsets[k], offsets[k + 1]))) if rows else None
              for k, rows in enumerate(rows_of)]
    best_rank = 0
    for point in random_points(exact.point_symbols):
        results = []
        for block in blocks:
            dm = block.at_point(point) if block is not None else None
            if block is not None and dm is None:
                break
            results.append(_slot_check(dm) if dm is not None else (0, []))
        else:
            rank = sum(r for r, _ in results)
            best_rank = max(best_rank, rank)
            if rank == needed and all(len(c) == 1 for _, c in results):
                witness = latent_point(point, slots) if exact.polynomial else None
                if not exact_claims:
                    break
                return IndependenceResult(True, 0, rank, needed, "random-rational-points",
                                          labels, witness, (),
                                          "every slot: full-rank Jacobian block, irreducible")
    progress["rank"] = best_rank
    progress["stage"] = "the slot Jacobian ranks over rational functions"
    rank = 0
    dependent: list[str] = []
    problems: list[str] = []
    for k, block in enumerate(blocks):
        size, cols = slots.sizes[k], list(range(offsets[k], offsets[k + 1]))
        if block is None:
            problems.append(f"slot {k + 1}: no output depends on it")
            dependent.extend(labels[j] for j in cols)
            continue
        dm = block.symbolic()
        if dm is None:
            return IndependenceResult(None, 0, best_rank, needed, "random-rational-points",
                                      labels, None, (), "failed at random points; symbolic"
                                      " check too large")
        r, comps = _slot_check(dm)
        rank += r
        if r < size:
            problems.append(f"slot {k + 1}: Jacobian rank {r} < {size}")
            dependent.extend(labels[cols[j]] for j in sorted(nullspace_support(dm)))
        if len(comps) > 1:
            parts = " | ".join(
                "{" + ",".join(str(rows_of[k][i]) for i in sorted(c)) + "}" for c in comps)
            problems.append(f"slot {k + 1}: outputs split into independent parts {parts}")
    if not problems:
        if not exact_claims:
            return IndependenceResult(None, 0, rank, needed, "symbolic", labels, None, (),
                                      "every slot passes with the constants"
                                      f" {', '.join(map(str, values))} as formal symbols; not"
                                      " certified at their true values: undecided")
        return IndependenceResult(True, 0, rank, needed, "symbolic", labels, None, (),
                                  "every slot: full-rank Jacobian block, irreducible")
    return IndependenceResult(False, 0, rank, needed, "symbolic", labels, None,
                              tuple(dependent), "; ".join(problems))
