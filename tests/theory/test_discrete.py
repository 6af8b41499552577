"""theory.discrete: coordinate permutations that move latents between slots."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import generators as gen
from theory.certificates import certify_reparametrization
from theory.class_construction import minimum_outputs
from theory.discrete import candidate_count, discrete_ambiguities, partitions
from theory.errors import AnalysisError
from theory.order import interaction_order
from theory.parsing import parse_generator, parse_slots
from theory.report import analyze
from theory.strategies import generators

ISSUE = ["a + a**3", "a**2", "b - b**3", "b**2 + b", "c + c**3", "c**2", "d**3 + d", "d**2"]


def test_the_issue_example_is_not_identifiable_with_the_swap_as_witness():
    slots = parse_slots("a, b | c, d")
    a, b, c, d = slots.symbols
    f = parse_generator(ISSUE, slots)
    report = analyze(f, slots)
    assert report.order == 0 and report.sufficiently_independent is False
    assert report.verdict == "not-identifiable"
    h = report.counterexample.h
    assert list(h) == [a, c, b, d]
    assert certify_reparametrization(f, slots, 0, h).valid
    assert interaction_order(report.counterexample.f_h, slots) == 0
    data = report.to_dict()
    assert data["counterexample"]["h"] == ["a", "c", "b", "d"]


@pytest.mark.parametrize("sizes", [(1, 1), (2, 2), (2, 1), (3, 3), (2, 2, 2), (1, 1, 1, 1),
                                   (2, 1, 2), (3, 1)])
def test_partitions_are_listed_once_and_counted_by_formula(sizes):
    listed = list(partitions(sizes))
    assert len(listed) == candidate_count(sizes) + 1
    d = sum(sizes)
    assert listed[0] == tuple(tuple(range(sum(sizes[:k]), sum(sizes[:k + 1])))
                              for k in range(len(sizes)))
    seen = set()
    for p in listed:
        assert sorted(i for block in p for i in block) == list(range(d))
        assert [len(block) for block in p] == list(sizes)
        key = frozenset(frozenset(block) for block in p)
        assert key not in seen
        seen.add(key)


def test_counts_by_hand():
    assert candidate_count((2, 2)) == 2  # {a,c | b,d} and {a,d | b,c}
    assert candidate_count((1, 1)) == 0  # swapping two one-latent slots is slot-wise
    assert candidate_count((3, 3, 3)) == 279
    assert candidate_count((2, 1)) == 2


def test_additive_coordinates_can_be_regrouped_at_order_one():
    # every coordinate is its own additive part: any regrouping keeps order 1
    slots = parse_slots("a, b | c, d")
    f = parse_generator(["a**2 + b**3 + c + d**2", "a + b**2", "c**3 - d", "a**3 + d**3"],
                        slots)
    result = discrete_ambiguities(f, slots, 1)
    assert result.counterexample is not None
    assert certify_reparametrization(f, slots, 1, result.counterexample.h).valid


def test_a_cross_term_pins_the_partition_at_order_one():
    slots = parse_slots("a, b | c, d")
    f = parse_generator(["a*b + c*d", "a**2 + c**2", "b**3", "d**3"], slots)
    # a*b crosses every other partition: order 2 there, so nothing at order 1
    result = discrete_ambiguities(f, slots, 1)
    assert result.counterexample is None and result.complete
    assert (result.candidates, result.searched) == (2, 2)


def test_bilinear_generator_with_a_symmetric_interaction_admits_a_regrouping_at_order_two():
    slots = parse_slots("a, b | c, d")
    f = parse_generator(["a*c + b**3", "a**3 + c**3", "d**2 + b*d"], slots)
    # across {a,b | c,d}: cross monomials a*c and b*d (degree 2), order 2; across
    # {a,c | b,d} both are within a block and a**3 + c**3 too: order 1 <= 2
    result = discrete_ambiguities(f, slots, 2)
    assert result.counterexample is not None
    h = result.counterexample.h
    assert certify_reparametrization(f, slots, 2, h).valid


def test_transcendental_sub_blocks_are_exchanged_too():
    slots = parse_slots("a, b | c")
    f = parse_generator(["exp(a)", "a**2", "tanh(b)", "b**3", "sin(c)", "c**2"], slots)
    result = discrete_ambiguities(f, slots, 0)
    assert result.counterexample is not None
    assert certify_reparametrization(f, slots, 0, result.counterexample.h).valid


def test_a_sufficiently_independent_generator_has_no_discrete_ambiguity():
    g = gen.polynomial(2, (2, 2), minimum_outputs(2, (2, 2)), seed=0)
    result = discrete_ambiguities(g.f, g.slots, 2)
    assert result.counterexample is None and result.complete
    assert "all 2 partitions checked" in result.note


def test_budget_and_bad_input(monkeypatch):
    import time

    import theory.discrete as discrete

    g = gen.polynomial(1, (3, 3, 3), minimum_outputs(1, (3, 3, 3)), seed=0)
    slow_map = discrete._map_for

    def slow(*args):  # every candidate takes 20 ms, so the 1 ms budget surely runs out
        time.sleep(0.02)
        return slow_map(*args)

    monkeypatch.setattr(discrete, "_map_for", slow)
    result = discrete_ambiguities(g.f, g.slots, 1, timeout=0.001)
    assert not result.complete and "time budget" in result.note
    with pytest.raises(AnalysisError, match="non-negative"):
        discrete_ambiguities(g.f, g.slots, -1)
    with pytest.raises(AnalysisError, match="Slots"):
        discrete_ambiguities(g.f, "a | b", 1)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_split_slots_always_give_a_certified_exchange(data):
    # order 0: slot sizes (2, 2); every coordinate drives its own outputs (a split slot)
    slots = parse_slots("a, b | c, d")
    parts = []
    for s in slots.symbols:
        coeffs = data.draw(st.lists(st.integers(-5, 5).filter(bool), min_size=3, max_size=3))
        parts += [coeffs[0] * s + coeffs[1] * s**3, coeffs[2] * s**2]
    result = discrete_ambiguities(sympy.Matrix(parts), slots, 0)
    assert result.counterexample is not None
    h = result.counterexample.h
    assert certify_reparametrization(parts, slots, 0, h).valid


@settings(max_examples=4, deadline=None)
@given(generators(order=1, max_slots=3, max_size=2, extra_outputs=1))
def test_theorem_consistency_no_discrete_ambiguity_when_sufficiently_independent(g):
    # Theorem 4.3 at n = 1: a sufficiently independent additive generator has none
    result = discrete_ambiguities(g.f, g.slots, 1)
    assert result.counterexample is None
    assert result.complete == (result.searched == result.candidates)
    assert result.candidates == candidate_count(g.slots.sizes)
