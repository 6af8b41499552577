"""Which inferred latent coordinates form which slot: the discrete part of the search.

With slots of several latents, gradient descent on an autoencoder with a structured decoder of
order n >= 2 often finds encoder coordinates that each read (mostly) one true slot, but hands
them to the wrong decoder blocks: e.g. on 3 slots of 2 latents, decoder block 1 reads one
coordinate of true slot 2 and one of true slot 3. Such a model is a deep local minimum,
because the decoder's cross-slot polynomial (degree <= n) absorbs every within-slot term of
degree <= n that the wrong grouping splits across blocks; only the terms of degree > n push
back. Moving a coordinate from one block to another is not a small step for gradient descent,
so this module makes it a discrete one.

An **assignment** is a permutation ``perm`` of the d_zhat encoder coordinates: decoder block k
reads the coordinates ``perm[o_k : o_k + d_k]`` (o_k = d_1 + ... + d_{k-1}). Assignments that
differ by the order inside a block, or by exchanging two blocks of the same size, are the same
model class, so :func:`assignments` lists one canonical permutation per class: each block's
coordinates in increasing order, blocks of equal size ordered by their smallest coordinate.
Their number is

    N(d_1..d_K) = d! / (prod_k d_k!) / prod_s m_s!,   d = sum_k d_k,

with m_s the number of blocks of size s (:func:`count_assignments`): 1 for scalar slots, 3 for
2x2, 10 for 2x3, 15 for 3x2, 60 for sizes (2, 3, 1), 105 for 4x2. When N exceeds the limit, the
list is the identity and its single-swap neighbourhood (exchange one coordinate between two
blocks of different content), seeded-subsampled to the limit.

Which assignment is right is decided without ground truth (numerics.synthetic.selection): each one
gets the same trained encoder with permuted outputs
(:meth:`numerics.synthetic.models.MLPEncoder.permute_outputs`) and a fresh decoder, all are trained
together for a short stage, and the lowest held-out reconstruction error wins. On the 3x2, order-2
benchmark the right grouping reaches 3x lower error than every other after 300 steps.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence

from numerics.core.validation import positive_int, positive_sizes

__all__ = ["assignments", "count_assignments", "is_trivial"]


def _sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    return positive_sizes("block sizes", sizes)


def count_assignments(sizes: Sequence[int]) -> int:
    """N = d! / prod_k d_k! / prod_s m_s! distinct groupings of d coordinates into the blocks."""
    sizes = _sizes(sizes)
    n = math.factorial(sum(sizes))
    for s in sizes:
        n //= math.factorial(s)
    for m in Counter(sizes).values():
        n //= math.factorial(m)
    return n


def is_trivial(sizes: Sequence[int]) -> bool:
    """True when there is only one grouping (all blocks scalar, or a single block)."""
    return count_assignments(sizes) == 1


def _canonical(blocks: Sequence[Sequence[int]], sizes: tuple[int, ...]) -> tuple[int, ...]:
    """The canonical permutation of a grouping given as one coordinate set per block.

    Blocks of one size keep the positions of that size in ``sizes`` and are filled in the order
    of their smallest coordinate; each block's coordinates are sorted.
    """
    by_size: dict[int, list[tuple[int, ...]]] = {}
    for block in blocks:
        by_size.setdefault(len(block), []).append(tuple(sorted(block)))
    for group in by_size.values():
        group.sort()
    fill = {s: iter(group) for s, group in by_size.items()}
    return tuple(c for s in sizes for c in next(fill[s]))


def _enumerate(sizes: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """All canonical groupings: block positions are filled in order, each new block of a size
    starting with the smallest coordinate left that can open it (no duplicates)."""
    d = sum(sizes)

    def rec(k: int, left: tuple[int, ...], blocks: list[tuple[int, ...]],
            last_first: dict[int, int]) -> Iterator[tuple[int, ...]]:
        if k == len(sizes):
            yield tuple(c for b in blocks for c in b)
            return
        s = sizes[k]
        for block in itertools.combinations(left, s):
            if block[0] <= last_first.get(s, -1):
                continue  # equal-size blocks are ordered by their smallest coordinate
            rest = tuple(c for c in left if c not in block)
            yield from rec(k + 1, rest, [*blocks, block], {**last_first, s: block[0]})

    yield from rec(0, tuple(range(d)), [], {})


def assignments(sizes: Sequence[int], limit: int, seed: int = 0) -> list[tuple[int, ...]]:
    """Canonical assignments to try, the identity first (module docstring).

    ``sizes``: the decoder's block sizes; ``limit``: the most to return (>= 1). All N when
    N <= ``limit``; otherwise the identity plus ``limit - 1`` of its single-swap neighbours
    (all of them if there are fewer), drawn with ``random.Random(seed)``.
    """
    sizes = _sizes(sizes)
    positive_int("limit", limit)
    identity = tuple(range(sum(sizes)))
    if count_assignments(sizes) <= limit:
        rest = [p for p in _enumerate(sizes) if p != identity]
        return [identity, *rest]
    offsets = [0, *itertools.accumulate(sizes)]
    blocks = [list(range(offsets[k], offsets[k + 1])) for k in range(len(sizes))]
    neighbours: list[tuple[int, ...]] = []
    seen = {identity}
    for a, b in itertools.combinations(range(len(sizes)), 2):
        for i, j in itertools.product(blocks[a], blocks[b]):
            swapped = [list(block) for block in blocks]
            swapped[a][swapped[a].index(i)], swapped[b][swapped[b].index(j)] = j, i
            perm = _canonical(swapped, sizes)
            if perm not in seen:
                seen.add(perm)
                neighbours.append(perm)
    if len(neighbours) > limit - 1:
        neighbours = random.Random(seed).sample(neighbours, limit - 1)
    return [identity, *neighbours]
