"""Tests for numerics.core.taylor: every propagation rule against the full derivative tensor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core import jet_terms, taylor
from numerics.core.derivatives import derivative_tensor


def _all_terms(d: int, order: int) -> jet_terms.TermSet:
    import itertools

    tuples = list(itertools.combinations_with_replacement(range(d), order))
    return jet_terms.term_set(tuple(jet_terms.closure(tuples)))


def _check(f, z: torch.Tensor, order: int) -> None:
    """Every term of the jet equals the matching entry of D^k f (k <= order), to 1e-12."""
    terms = _all_terms(z.shape[1], order)
    jet = taylor.evaluate(f, z, terms).detach()
    fulls = {k: derivative_tensor(f, z, k).detach() for k in range(1, order + 1)}
    for t, m in enumerate(terms.terms):
        expected = f(z).detach() if not m else fulls[len(m)][(slice(None), slice(None), *m)]
        np.testing.assert_allclose(jet[t].numpy(), expected.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"term {m}")


def _z(n: int = 3, d: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) * 0.8 + 0.2


W = torch.tensor([[0.3, -1.2], [0.7, 0.4], [-0.5, 0.9]], dtype=torch.float64)


def _many_ops(z: torch.Tensor) -> torch.Tensor:
    a, b, c = z[..., 0], z[:, 1], z[..., 2]
    h = torch.tanh(z @ W + torch.tensor([0.1, -0.2], dtype=torch.float64))
    pieces = [
        a * b * c,                                 # Leibniz, jet x jet
        torch.sin(a * c) / (1.0 + b**2),           # div by a jet, pow by a number
        torch.where(a > 0.5, a * b, c),            # constant mask
        z.sum(-1).exp() - 2.0,                     # reduction, exp, constant subtraction
        3.0 - torch.log(a + b) * torch.sqrt(c),    # rsub, log, sqrt
        a ** b,                                    # pow with a Jet exponent
        2.0 ** c,                                  # rpow
        torch.einsum("bi,bi->b", h, h),            # einsum of two jets
        (h.unsqueeze(-1) @ h.unsqueeze(-2)).reshape(z.shape[0], 4)[:, 1],  # matmul jet @ jet
        torch.nn.functional.silu(z).mean(dim=-1),
        torch.nn.functional.linear(z, W.T, torch.ones(2, dtype=torch.float64))[:, 0],
        (-z).T[1],
    ]
    const = torch.full_like(a, 0.5)
    return torch.cat([torch.stack([*pieces, const], dim=-1), z.flip(-1)], dim=-1)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_every_rule_matches_the_full_tensor(order: int) -> None:
    _check(_many_ops, _z(), order)


def test_mlp_up_to_order_4() -> None:
    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Linear(3, 10), torch.nn.Tanh(), torch.nn.Linear(10, 10),
                            torch.nn.SiLU(), torch.nn.Linear(10, 2)).double()
    _check(f, _z(seed=1), 4)


def test_repeated_indices_get_leibniz_and_partition_weights() -> None:
    # f = z0^4 (as products, then as a power): d^4/dz0^4 = 24, d^3/dz0^3 = 24 z0, d^2 = 12 z0^2
    z = _z(n=2, d=1, seed=3)
    terms = _all_terms(1, 4)
    for f in (lambda x: (x * x) * (x * x), lambda x: x**4, lambda x: torch.exp(4 * torch.log(x))):
        jet = taylor.evaluate(f, z, terms).detach()
        np.testing.assert_allclose(jet[4].numpy(), 24.0, rtol=1e-12)
        np.testing.assert_allclose(jet[3].numpy(), (24 * z).numpy(), rtol=1e-12)
        np.testing.assert_allclose(jet[2].numpy(), (12 * z**2).numpy(), rtol=1e-12)


def test_constant_function_and_unsupported_operations() -> None:
    terms = _all_terms(2, 2)
    z = _z(d=2)
    out = taylor.evaluate(lambda x: torch.ones(3, 4, dtype=torch.float64), z, terms)
    assert out.shape == (len(terms.terms), 3, 4) and float(out[1:].abs().max()) == 0.0
    with pytest.raises(taylor.Unsupported, match="cumprod"):
        taylor.evaluate(lambda x: torch.cumprod(x, dim=-1), z, terms)
    with pytest.raises(taylor.Unsupported, match="truth value"):
        taylor.evaluate(lambda x: x + 1 if x[0, 0] else x, z, terms)
    with pytest.raises(taylor.Unsupported, match=r"Tensor\.cumprod"):
        taylor.evaluate(lambda x: x.cumprod(-1), z, terms)
    with pytest.raises(ValueError, match="closed"):
        jet_terms.term_set(((), (0, 1)))


@settings(max_examples=20, deadline=None)
@given(tuples=st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=4), min_size=1,
                       max_size=6))
def test_property_closure_is_closed_and_minimal(tuples: list[list[int]]) -> None:
    terms = jet_terms.closure([tuple(t) for t in tuples])
    found = set(terms)
    assert terms[0] == () and len(found) == len(terms)
    for m in terms:  # closed under removing one element
        assert all(m[:k] + m[k + 1:] in found for k in range(len(m)))
    for m in terms:  # minimal: every term lies below one of the tuples
        assert any(_below(m, tuple(sorted(t))) for t in tuples)


def _below(m: tuple[int, ...], t: tuple[int, ...]) -> bool:
    return all(m.count(i) <= t.count(i) for i in set(m))


def test_partition_counts_are_bell_numbers() -> None:
    assert [len(jet_terms.set_partitions(list(range(k)))) for k in range(6)] == [1, 1, 2, 5, 15,
                                                                               52]
    # one term (0, 1, 2, 3) with distinct indices: S(4, r) partitions with r blocks
    ts = jet_terms.term_set(tuple(jet_terms.closure([(0, 1, 2, 3)])))
    top = ts.index[(0, 1, 2, 3)]
    counts = {r: int((target == top).sum()) for r, (target, _, _) in ts.fdb.items()}
    assert counts == {2: 7, 3: 6, 4: 1}
    assert sum(counts.values()) + 1 == 15  # Bell(4), with the single-block partition
