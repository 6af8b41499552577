"""Discrete ambiguities: coordinate permutations that move latents between slots.

The infinitesimal system of :mod:`theory.ambiguity` sees only reparametrizations near the
identity. An isolated ambiguity such as exchanging a sub-block of one slot with a sub-block of
another is invisible to it. This module searches the discrete family

    h(z)_{C_k} = z_{B_k}   (k = 1..K),

where C_1, ..., C_K is another partition of the coordinate positions into blocks of the same
sizes as the slots B_1, ..., B_K. Then (f o h)(z) = f(w) with w_{C_k} = z_{B_k}, so f o h has
interaction order <= n across the slots B iff f has order <= n across the partition C. h is a
permutation matrix (invertible, inverse its transpose); it is slot-wise up to a permutation of
slots iff {C_k} = {B_k} as a set of blocks, so only partitions that differ from the slots are
candidates. Partitions that differ only by the order of equal-sized blocks, or by the order of
positions inside a block, give maps that differ by a slot-wise permutation, and are listed once.

Sign changes. A signed permutation h = S P (S diagonal with entries +-1) is the permutation
followed by the slot-wise linear map S, and slot-wise linear maps keep every order class (a
cross monomial c z^a becomes +-c z^a; a cross partial of f o S is +-(cross partial of f) o S).
So a signed permutation is an ambiguity iff its permutation is, and the search over
permutations covers the signed ones.

Sub-block exchanges. When a slot splits into independent sub-blocks (order 0: the slot's
outputs split into groups depending on disjoint coordinates, the irreducibility failure of
:mod:`theory.independence`; order n >= 1: f has order <= n also across the sub-blocks), the
exchange of a sub-block with a same-sized sub-block of another slot is such a permutation, and
the search finds it. Splits along other linear coordinates (e.g. f depending on a + b and a - b
separately) are not searched.

Deciding a candidate. For polynomial f the order across C is read from the monomial supports
(exact ``Poly`` coefficients after cancellation): n >= 1 fails iff some monomial of degree > n
touches >= 2 blocks of C; n = 0 fails iff some output depends on >= 2 blocks of C. Other f are
relabelled and passed to :func:`theory.order.interaction_order`. Every candidate that passes is
certified from scratch by :func:`theory.certificates.certify_reparametrization` (exact
inverse, not slot-wise, f o h of order <= n) before it is returned.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import sympy

from theory.budget import expired_here, time_budget
from theory.certificates import Counterexample, certify_reparametrization
from theory.errors import AnalysisError, BudgetError
from theory.exp_rational import as_polynomial
from theory.order import interaction_order
from theory.slots import Slots

__all__ = ["MAX_CANDIDATES", "TIMEOUT", "DiscreteResult", "candidate_count",
           "discrete_ambiguities", "partitions"]

#: Largest number of candidate partitions :func:`discrete_ambiguities` visits.
MAX_CANDIDATES = 20_000
#: Seconds the search may take by default before it reports an incomplete search.
TIMEOUT = 30.0


@dataclass(frozen=True)
class DiscreteResult:
    """Outcome of :func:`discrete_ambiguities`.

    ``candidates``: number of partitions that differ from the slots (maps not slot-wise);
    ``searched``: how many were decided; ``complete``: every candidate was decided (so no
    coordinate permutation, signed or not, is an ambiguity when ``counterexample`` is None);
    ``counterexample``: a certified permutation h with f o h in the class; ``note``: how the
    search ended.
    """

    order: int
    candidates: int
    searched: int
    complete: bool
    counterexample: Counterexample | None
    note: str


def candidate_count(sizes: tuple[int, ...]) -> int:
    """Number of partitions of d = sum(sizes) positions into blocks of these sizes, unordered
    among equal sizes, minus the slots themselves: d! / (prod |B_k|! prod_s m_s!) - 1 with m_s
    the number of slots of size s."""
    d = sum(sizes)
    count = math.factorial(d)
    for n in sizes:
        count //= math.factorial(n)
    for size in set(sizes):
        count //= math.factorial(sizes.count(size))
    return count - 1


def partitions(sizes: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Every partition (C_1, ..., C_K) of range(sum(sizes)) with |C_k| = sizes[k], each block
    increasing, listed once up to the order of equal-sized blocks (among blocks of the same
    size the first elements increase). The identity partition comes first."""
    d = sum(sizes)

    def rec(k: int, left: tuple[int, ...], previous_first: dict[int, int]
            ) -> Iterator[tuple[tuple[int, ...], ...]]:
        if k == len(sizes):
            yield ()
            return
        n = sizes[k]
        for block in itertools.combinations(left, n):
            if block[0] < previous_first.get(n, -1):
                continue
            rest = tuple(i for i in left if i not in block)
            for tail in rec(k + 1, rest, {**previous_first, n: block[0]}):
                yield (block, *tail)

    yield from rec(0, tuple(range(d)), {})


def _check(f: object, slots: object, order: object) -> tuple[sympy.Matrix, Slots, int]:
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise AnalysisError(f"order must be a non-negative integer, got {order!r}")
    return slots.check_generator(f), slots, order


class _Supports:
    """Monomial supports of polynomial outputs: per output the coordinate masks of its
    monomials, and per mask the largest degree of a monomial with exactly those coordinates."""

    def __init__(self, polys: list[sympy.Poly]) -> None:
        self.output_masks: list[int] = []
        self.degree_of_mask: dict[int, int] = {}
        for p in polys:
            union = 0
            for mono, coeff in p.terms():
                if coeff == 0:
                    continue
                mask = sum(1 << i for i, e in enumerate(mono) if e)
                union |= mask
                self.degree_of_mask[mask] = max(self.degree_of_mask.get(mask, 0), sum(mono))
            self.output_masks.append(union)

    def fits(self, block_of: tuple[int, ...], order: int) -> bool:
        """f has order <= ``order`` across the partition with ``block_of[i]`` = block of i."""

        def blocks(mask: int) -> int:
            return len({block_of[i] for i in range(len(block_of)) if mask >> i & 1})

        if order == 0:
            return all(blocks(m) < 2 for m in self.output_masks)
        return all(deg <= order or blocks(m) < 2 for m, deg in self.degree_of_mask.items())


def _map_for(partition: tuple[tuple[int, ...], ...], slots: Slots) -> sympy.Matrix:
    """h with h(z)_{C_k} = z_{B_k} (positions of C_k filled by slot k's latents in order)."""
    h: list[sympy.Expr] = [sympy.Integer(0)] * slots.dim
    for k, block in enumerate(partition):
        for pos, s in zip(block, slots.blocks[k], strict=True):
            h[pos] = s
    return sympy.Matrix(h)


def discrete_ambiguities(f: object, slots: Slots, order: int, *,
                         timeout: float | None = TIMEOUT) -> DiscreteResult:
    """Search the coordinate permutations that mix slots for an exact ambiguity of f.

    f: generator (d_x, 1) of interaction order <= ``order`` across ``slots``. Visits every
    partition C of the coordinates into blocks of the slot sizes other than the slots (module
    docstring: at most :data:`MAX_CANDIDATES`), decides whether f has order <= ``order`` across
    C, and certifies the first hit as h(z)_{C_k} = z_{B_k} with
    :func:`theory.certificates.certify_reparametrization`. ``timeout``: seconds (None: no
    limit) after which the search stops with ``complete = False``.
    """
    matrix, slots, order = _check(f, slots, order)
    total = candidate_count(slots.sizes)
    if slots.K < 2 or total == 0:
        return DiscreteResult(order, 0, 0, True, None, "one slot or no other partition: nothing"
                              " to search")
    polys = [as_polynomial(e, slots.symbols) for e in matrix]
    supports = _Supports(polys) if all(p is not None for p in polys) else None
    searched, undecided = 0, 0
    limit = min(total, MAX_CANDIDATES)
    try:
        with time_budget(timeout, "the discrete ambiguity search",
                         "pass a larger timeout (seconds) or None") as scope:
            candidates = itertools.islice(partitions(slots.sizes), 1, limit + 1)
            for partition in candidates:
                searched += 1
                block_of = [0] * slots.dim
                for k, block in enumerate(partition):
                    for pos in block:
                        block_of[pos] = k
                h = _map_for(partition, slots)
                if supports is not None and not supports.fits(tuple(block_of), order):
                    continue
                f_h = matrix.xreplace(dict(zip(slots.symbols, h, strict=True)))
                if supports is None:
                    try:
                        if interaction_order(f_h, slots) > order:
                            continue
                    except AnalysisError:
                        undecided += 1
                        continue
                cert = certify_reparametrization(matrix, slots, order, h)
                if cert.valid:
                    n_h = interaction_order(f_h, slots)
                    blocks = " | ".join(",".join(str(slots.symbols[i]) for i in block)
                                        for block in partition)
                    note = (f"certified: the coordinate permutation h(z)_{{C_k}} = z_{{B_k}} with"
                            f" C = ({blocks}) moves latents between slots, is invertible, and"
                            f" f o h has interaction order {n_h} <= {order} (checked exactly);"
                            " every sign change of it is an ambiguity too")
                    return DiscreteResult(order, total, searched, False,
                                          Counterexample(h, sympy.Matrix(
                                              [sympy.expand(e) for e in f_h]), n_h, note),
                                          note)
    except BudgetError as err:
        if not expired_here(err, scope):
            raise
        return DiscreteResult(order, total, searched - 1, False, None,
                              f"incomplete: the time budget of {timeout:g} s ran out after"
                              f" {searched - 1} of {total} coordinate partitions")
    complete = searched == total and undecided == 0
    if complete:
        note = (f"no coordinate permutation (signed or not) that mixes slots keeps f in the"
                f" class: all {total} partitions checked")
    elif undecided:
        note = (f"{undecided} of {searched} partitions undecided (order outside the decidable"
                " class); none of the others keeps f in the class")
    else:
        note = f"incomplete: {searched} of {total} partitions checked (MAX_CANDIDATES)"
    return DiscreteResult(order, total, searched, complete, None, note)
