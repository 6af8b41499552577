"""Hypothesis strategies for property tests of generators, slots and reparametrizations.

Shared by this package's tests and meant for users' own property tests::

    from hypothesis import given, settings
    from theory.strategies import generators, slotwise_reparametrizations

    @settings(max_examples=10, deadline=None)
    @given(generators(order=1))
    def test_additive(g): ...

Every strategy produces exact sympy objects (integer or rational coefficients only).
"""

from __future__ import annotations

import sympy
from hypothesis import strategies as st

from theory import generators as gen
from theory.class_construction import minimum_outputs
from theory.slots import Slots

__all__ = [
    "MONOTONE_MAPS",
    "generators",
    "polynomial_expressions",
    "slots_strategy",
    "slotwise_reparametrizations",
]

MONOTONE_MAPS = {
    "identity": lambda z: z,
    "cubic": lambda z: z + z**3 / 3,
    "sinh": sympy.sinh,
    "odd-quintic": lambda z: z + z**5,
}
"""Strictly increasing analytic maps R -> R with a nowhere-vanishing derivative."""


def slots_strategy(max_slots: int = 3, max_size: int = 3, min_slots: int = 1
                   ) -> st.SearchStrategy[Slots]:
    """Slots of ``min_slots..max_slots`` slots of sizes 1..``max_size`` (real symbols z{k}_{i})."""
    return st.lists(st.integers(1, max_size), min_size=min_slots, max_size=max_slots).map(
        lambda sizes: Slots.from_sizes(*sizes))


def generators(order: int, max_slots: int = 2, max_size: int = 1, extra_outputs: int = 1
               ) -> st.SearchStrategy[gen.Generator]:
    """Verified generators of exact interaction ``order`` that are sufficiently independent.

    Draws slot sizes (at least 2 slots for order >= 1), a seed and ``0..extra_outputs`` outputs
    beyond :func:`theory.class_construction.minimum_outputs`, then calls
    :func:`theory.generators.polynomial`.
    """
    min_slots = 2 if order >= 1 else 1

    @st.composite
    def build(draw: st.DrawFn) -> gen.Generator:
        sizes = draw(st.lists(st.integers(1, max_size), min_size=min_slots,
                              max_size=max(max_slots, min_slots)))
        seed = draw(st.integers(0, 2**31 - 1))
        extra = draw(st.integers(0, extra_outputs))
        outputs = minimum_outputs(order, sizes) + extra
        return gen.polynomial(order, sizes, outputs, seed)

    return build()


def _invertible_matrix(n: int) -> st.SearchStrategy[sympy.Matrix]:
    """Unit lower-triangular times diagonal (non-zero) times a permutation: invertible."""
    entries = st.integers(-3, 3)
    diagonal = st.sampled_from([-2, -1, 1, 2, sympy.Rational(1, 2)])

    def build(lower: list[int], diag: list, perm: list[int]) -> sympy.Matrix:
        m = sympy.eye(n)
        it = iter(lower)
        for i in range(n):
            for j in range(i):
                m[i, j] = next(it)
        m = m * sympy.diag(*diag)
        return m[:, perm]

    return st.builds(build, st.lists(entries, min_size=n * (n - 1) // 2,
                                     max_size=n * (n - 1) // 2),
                     st.lists(diagonal, min_size=n, max_size=n), st.permutations(range(n)))


def slotwise_reparametrizations(slots: Slots, affine_only: bool = False,
                                permute: bool = False
                                ) -> st.SearchStrategy[dict[sympy.Symbol, sympy.Expr]]:
    """Random slot-wise diffeomorphisms h as substitution maps ``{z_i: h(z)_i}``.

    Within slot k: z_{B_k} -> A_k phi_k(z_{B_k}) + b_k with A_k invertible rational and
    phi_k applying a strictly monotone map of :data:`MONOTONE_MAPS` to each coordinate
    (identity only when ``affine_only``). With ``permute`` the slots of equal size may be
    exchanged (slot k is then fed from slot pi(k)). ``f.xreplace(h)`` is f o h.
    """
    names = ["identity"] if affine_only else sorted(MONOTONE_MAPS)

    @st.composite
    def build(draw: st.DrawFn) -> dict[sympy.Symbol, sympy.Expr]:
        source = list(range(slots.K))
        if permute:
            for size in set(slots.sizes):
                same = [k for k in range(slots.K) if slots.sizes[k] == size]
                shuffled = draw(st.permutations(same))
                for k, j in zip(same, shuffled, strict=True):
                    source[k] = j
        mapping: dict[sympy.Symbol, sympy.Expr] = {}
        for k, block in enumerate(slots.blocks):
            inputs = slots.blocks[source[k]]
            phi = [MONOTONE_MAPS[draw(st.sampled_from(names))](s) for s in inputs]
            a = draw(_invertible_matrix(len(block)))
            shift = draw(st.lists(st.integers(-2, 2), min_size=len(block),
                                  max_size=len(block)))
            image = a * sympy.Matrix(phi) + sympy.Matrix(shift)
            mapping.update({s: image[i] for i, s in enumerate(block)})
        return mapping

    return build()


def polynomial_expressions(slots: Slots, max_degree: int = 3, max_terms: int = 4,
                           transcendental: bool = False) -> st.SearchStrategy[sympy.Expr]:
    """Sums of up to ``max_terms`` terms c * z^a (total degree <= ``max_degree``, c in -3..3).

    With ``transcendental`` each term may also carry a factor exp(z_i), sin(z_i), cos(z_i) or
    exp(z_i z_j), so that finite and infinite interaction orders both occur.
    """
    latents = slots.symbols
    exponents = st.lists(st.integers(0, max_degree), min_size=len(latents),
                         max_size=len(latents)).filter(lambda e: sum(e) <= max_degree)
    symbol = st.sampled_from(latents)
    factors = [st.just(sympy.Integer(1))]
    if transcendental:
        factors += [symbol.map(sympy.exp), symbol.map(sympy.sin), symbol.map(sympy.cos),
                    st.tuples(symbol, symbol).map(lambda p: sympy.exp(p[0] * p[1]))]
    term = st.builds(lambda c, e, t: c * sympy.Mul(*(s**k for s, k in zip(latents, e,
                                                                           strict=True))) * t,
                     st.integers(-3, 3).filter(bool), exponents, st.one_of(*factors))
    return st.lists(term, min_size=1, max_size=max_terms).map(lambda ts: sympy.Add(*ts))
