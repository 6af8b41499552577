"""numerics.synthetic.block_assignment and the regrouping stage of numerics.synthetic.selection."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from numerics.core.engine import EngineConfig
from numerics.core.errors import ConfigError
from numerics.synthetic.block_assignment import assignments, count_assignments, is_trivial
from numerics.synthetic.selection import SelectionSettings, _stage_path, select_model


def _grouping(perm, sizes):
    """The model class of a permutation: per block size, the set of coordinate sets."""
    offsets = [0, *itertools.accumulate(sizes)]
    blocks = [frozenset(perm[offsets[k]:offsets[k + 1]]) for k in range(len(sizes))]
    return frozenset((len(b), b) for b in blocks)


@pytest.mark.parametrize(("sizes", "count"), [
    ((1, 1, 1), 1), ((3,), 1), ((2, 2), 3), ((3, 3), 10), ((2, 2, 2), 15), ((2, 3, 1), 60),
    ((2, 2, 1), 15), ((2, 2, 2, 2), 105), ((3, 3, 3), 280), ((2, 1, 1), 6)])
def test_count_assignments_exact(sizes, count) -> None:
    assert count_assignments(sizes) == count
    assert is_trivial(sizes) == (count == 1)


def test_assignments_of_two_blocks_of_two_by_hand() -> None:
    assert assignments((2, 2), 10) == [(0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2)]
    assert assignments((1, 2), 10) == [(0, 1, 2), (1, 0, 2), (2, 0, 1)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3).filter(lambda s: sum(s) <= 7))
def test_enumeration_is_every_grouping_once(sizes) -> None:
    sizes = tuple(sizes)
    listed = assignments(sizes, 10**6)
    assert listed[0] == tuple(range(sum(sizes)))
    assert all(sorted(p) == list(range(sum(sizes))) for p in listed)
    classes = [_grouping(p, sizes) for p in listed]
    assert len(set(classes)) == len(listed) == count_assignments(sizes)
    brute = {_grouping(p, sizes) for p in itertools.permutations(range(sum(sizes)))}
    assert set(classes) == brute


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([(2, 2, 2, 2), (2, 3, 1), (3, 3, 3), (2, 2, 3)]),
       st.integers(2, 20), st.integers(0, 5))
def test_limited_lists_are_single_swaps_of_the_identity(sizes, limit, seed) -> None:
    listed = assignments(sizes, limit, seed=seed)
    assert len(listed) <= limit and listed[0] == tuple(range(sum(sizes)))
    identity = _grouping(listed[0], sizes)
    assert len({_grouping(p, sizes) for p in listed}) == len(listed)
    for perm in listed[1:]:
        moved = identity ^ _grouping(perm, sizes)
        # exactly two blocks changed, each by one coordinate
        assert len(moved) == 4
    assert assignments(sizes, limit, seed=seed) == listed


@pytest.mark.parametrize("bad", [(), (0, 2), (2, True), [1.5]])
def test_bad_sizes_raise(bad) -> None:
    with pytest.raises(ConfigError):
        count_assignments(bad)
    with pytest.raises(ConfigError):
        assignments((2, 2), 0)


def test_encoder_permute_outputs_is_exact() -> None:
    from numerics.synthetic.models import MLPEncoder

    enc = MLPEncoder(5, 4, hidden=8, seed=1)
    x = torch.randn(6, 5)
    before = enc(x)
    enc.permute_outputs([2, 0, 3, 1])
    assert torch.equal(enc(x), before[:, [2, 0, 3, 1]])
    with pytest.raises(ConfigError):
        enc.permute_outputs([0, 0, 1, 2])


class _Grouped(nn.Module):
    """A model whose error is its parameter squared plus a floor set by its grouping."""

    def __init__(self, seed: int, perm=(0, 1, 2, 3)) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0]))
        good = _grouping(tuple(perm), (2, 2)) == _grouping((0, 2, 1, 3), (2, 2))
        self.register_buffer("floor", torch.tensor([0.0 if good else 0.5]))
        self.register_buffer("perm", torch.tensor(list(perm)))  # state: survives copies

    def forward(self, x):
        return self.w.square() + self.floor + 0 * x.sum()


def test_regrouping_keeps_the_grouping_with_the_lowest_held_out_error() -> None:
    def loss(pop, x, step):
        err = pop(x).squeeze(-1)
        return err.sum(), {"mse": float(err.detach().mean())}

    def val(pop):
        return pop(torch.zeros(1)).detach().reshape(-1)

    perms = assignments((2, 2), 10)
    calls = []

    def regroup(member, perm, seed):
        calls.append((tuple(perm), seed))
        return _Grouped(seed, [int(member.perm[c]) for c in perm])  # perms compose

    engine = EngineConfig(steps=600, lr=0.1, progress=False, device="cpu", seed=3)  # stages of 60
    chosen = select_model(_Grouped, loss, lambda s, g: torch.zeros(1), engine, val,
                          SelectionSettings(candidates=3, restarts=0, threshold=0.3),
                          assignments=perms, regroup=regroup)
    rnd = chosen.rounds[0]
    assert [tuple(p) for p in rnd.assignments] == perms
    # (not exhaustive) stage 1 moves the best explored member to the good grouping, stage 2
    # keeps that grouping and stops
    assert [len(r) for r in rnd.regroup_recon] == [3, 3]
    assert chosen.assignment == [0, 2, 1, 3] and rnd.assignment == [[0, 2, 1, 3]]
    first, second = rnd.regroup_recon
    assert first[1] < min(first[0], first[2]) and second[0] < min(second[1], second[2])
    assert [p for p, _ in calls] == perms + perms
    assert len({s for _, s in calls}) == 6
    calls.clear()
    assert chosen.to_dict()["assignment"] == [0, 2, 1, 3]
    once = select_model(_Grouped, loss, lambda s, g: torch.zeros(1), engine, val,
                        SelectionSettings(candidates=3, restarts=0, threshold=0.3),
                        assignments=perms, regroup=regroup, exhaustive=True)
    # exhaustive: one stage, on the 2 best explored members (2 x 3 copies)
    assert [len(r) for r in once.rounds[0].regroup_recon] == [6]
    assert once.assignment == [0, 2, 1, 3] and len(calls) == 6
    with pytest.raises(ConfigError):
        select_model(_Grouped, loss, lambda s, g: torch.zeros(1), engine, val,
                     SelectionSettings(candidates=3), assignments=perms)
    assert _stage_path("d/run.pt", 1, "regroup") == "d/run.r1-regroup.pt"
