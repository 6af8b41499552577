"""Term sets of a multivariate Taylor jet and the integer tables that combine them.

A *term set* (:class:`TermSet`) is a list of multisets M of latent indices (sorted tuples, the
empty one first) closed under taking sub-multisets (:func:`closure`); a
:class:`numerics.core.taylor.Jet` carries one partial derivative d_M y per term. Two tables make
its propagation rules plain tensor arithmetic:

* Faa di Bruno (:func:`fdb_tables`): for every term M and every set partition pi of its |M|
  positions, the terms M_B of the blocks B in pi; partitions that give the same product
  (repeated indices) are merged with integer weights, so d_M phi(x) =
  sum_pi w_pi phi^{(|pi|)}(x) prod_B d_{M_B} x;
* Leibniz (:func:`leibniz_tables`): for every term M its sub-multisets S with the weights
  prod_i C(M_i, S_i), so d_M (u v) = sum_S w_S d_S u d_{M-S} v.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

Tensor = torch.Tensor
#: a multiset of latent indices, as a sorted tuple
Multiset = tuple[int, ...]

__all__ = ["Multiset", "TermSet", "closure", "fdb_tables", "leibniz_tables", "set_partitions",
           "term_set"]

def set_partitions(items: list[int]) -> list[list[list[int]]]:
    """All set partitions of ``items`` (Bell(len(items)) of them)."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for part in set_partitions(rest):
        out.append([[first], *part])
        for i in range(len(part)):
            out.append([*part[:i], [first, *part[i]], *part[i + 1:]])
    return out


def closure(tuples: Sequence[Multiset]) -> list[Multiset]:
    """Sorted tuples ``tuples`` and all their sub-multisets, by size then lexicographically."""
    found: set[Multiset] = {()}
    for t in tuples:
        t = tuple(sorted(t))
        for k in range(1, len(t) + 1):
            found.update(itertools.combinations(t, k))
    return sorted(found, key=lambda m: (len(m), m))


@dataclass(frozen=True)
class TermSet:
    """A closed term set with its Leibniz and Faa di Bruno tables (index tensors, on the CPU).

    ``terms[0] == ()``. ``leibniz``: (target, left, right, weight) long tensors over all pairs
    S <= M. ``fdb[r]``: (target, factors (P_r, r), weight) for the merged partitions with r
    blocks (r >= 2; r = 1 is the identity map, handled without tables).
    """

    terms: tuple[Multiset, ...]
    index: dict[Multiset, int]
    leibniz: tuple[Tensor, Tensor, Tensor, Tensor]
    fdb: dict[int, tuple[Tensor, Tensor, Tensor]]
    max_order: int

    @property
    def fdb_products(self) -> int:
        """Elementwise products per activation of one nonlinearity: sum_r r * P_r (+ terms)."""
        return len(self.terms) - 1 + sum(r * len(t[0]) for r, t in self.fdb.items())


@functools.lru_cache(maxsize=64)
def term_set(terms: tuple[Multiset, ...]) -> TermSet:
    """Tables for a closed term set (``terms`` as returned by :func:`closure`)."""
    index = {m: i for i, m in enumerate(terms)}
    if terms[0] != () or any(m[:k] + m[k + 1:] not in index for m in terms
                             for k in range(len(m))):
        raise ValueError("terms must start with () and be closed under sub-multisets")
    lt, ll, lr, lw = [], [], [], []
    for m in terms:
        counts = Counter(m)
        keys = sorted(counts)
        for choice in itertools.product(*(range(counts[k] + 1) for k in keys)):
            left = tuple(k for k, c in zip(keys, choice, strict=True) for _ in range(c))
            right = tuple(k for k, c in zip(keys, choice, strict=True)
                          for _ in range(counts[k] - c))
            lt.append(index[m])
            ll.append(index[left])
            lr.append(index[right])
            lw.append(math.prod(math.comb(counts[k], c) for k, c in zip(keys, choice,
                                                                       strict=True)))
    tables = [torch.tensor(v, dtype=torch.long) for v in (lt, ll, lr, lw)]
    return TermSet(tuple(terms), index, (tables[0], tables[1], tables[2], tables[3]),
                   fdb_tables(tuple(terms), max(len(m) for m in terms)),
                   max(len(m) for m in terms))


@functools.lru_cache(maxsize=256)
def fdb_tables(terms: tuple[Multiset, ...], degree: int
                ) -> dict[int, tuple[Tensor, Tensor, Tensor]]:
    """Merged Faa di Bruno partitions with r >= 2 blocks, each block of size <= ``degree``
    (the higher partials of the argument are known to vanish): r -> (target, factors, weight)."""
    index = {m: i for i, m in enumerate(terms)}
    groups: dict[int, Counter] = {}
    for m in terms[1:]:
        for part in set_partitions(list(range(len(m)))):
            if len(part) < 2 or max(len(block) for block in part) > degree:
                continue
            factors = tuple(sorted(index[tuple(m[p] for p in block)] for block in part))
            groups.setdefault(len(part), Counter())[(index[m], factors)] += 1
    fdb = {}
    for r, counter in sorted(groups.items()):
        keys = sorted(counter)
        fdb[r] = (torch.tensor([k[0] for k in keys], dtype=torch.long),
                  torch.tensor([k[1] for k in keys], dtype=torch.long).reshape(len(keys), r),
                  torch.tensor([counter[k] for k in keys], dtype=torch.long))
    return fdb


@functools.lru_cache(maxsize=256)
def leibniz_tables(terms: tuple[Multiset, ...], left_degree: int, right_degree: int
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Leibniz pairs whose left factor has order <= ``left_degree`` and right factor order
    <= ``right_degree`` (the others vanish): (target, left, right, weight)."""
    target, left, right, weight = term_set(terms).leibniz
    sizes = torch.tensor([len(m) for m in terms], dtype=torch.long)
    keep = (sizes[left] <= left_degree) & (sizes[right] <= right_degree)
    return target[keep], left[keep], right[keep], weight[keep]
