"""Conjecture runner: agrees with the theorems for N = 1, 2; candidates are flagged and saved."""

from __future__ import annotations

import json

import pytest
import sympy

from theory import counterexamples as C
from theory.ambiguity import slotwise_field_count
from theory.certificates import certify_reparametrization
from theory.conjecture import check_generator, parse_slot_sizes, run_conjecture
from theory.errors import AnalysisError, ParseError
from theory.exact_json import matrix_from_exact
from theory.slots import Slots


def test_order_one_all_slotwise_fields_n_equals_1():
    # Theorem (n = 1): every affine ambiguity of a sufficiently nonlinear additive generator is
    # slot-wise; for 2 slots x 2 latents these are exactly the 12 slot-wise affine fields.
    report = run_conjecture(1, 2, (2, 2), 1, seed=0)
    assert [t.dimension for t in report.trials] == [12, 12]
    assert all(t.slotwise and t.order_verified and t.independent for t in report.trials)
    assert report.consistent_with_conjecture and report.counterexamples == []
    assert report.n_slotwise == 2


def test_order_one_quadratic_fields_keep_every_slotwise_field():
    slots = Slots.from_sizes(1, 1)
    report = run_conjecture(1, 1, (1, 1), 2, seed=3)
    (trial,) = report.trials
    # an additive f stays additive under any slot-wise map: all slot-wise quadratic fields solve
    assert trial.dimension == trial.slotwise_dimension == slotwise_field_count(slots, 2) == 6


def test_order_two_interacting_slots_only_affine():
    # Theorem (n = 2) plus docs/theory.md section 2: with bilinear cross terms a slot can only be
    # reparametrized affinely, so quadratic slot-wise fields drop out: 4 of 6 remain.
    report = run_conjecture(2, 2, (1, 1), 2, seed=0)
    for t in report.trials:
        assert t.order_verified and t.independent is True
        assert (t.dimension, t.slotwise_dimension) == (4, 4)
        assert t.slotwise and not t.candidate
    data = json.loads(json.dumps(report.to_dict()))
    assert data["summary"] == {"trials": 2, "slotwise": 2, "candidates": 0,
                               "certified_counterexamples": 0,
                               "consistent_with_conjecture": True,
                               "rules_out": report.rules_out}
    assert "slot-wise in 2/2 trials" in report.format_table()


def test_candidate_is_flagged_saved_and_certified(tmp_path):
    entry = C.get("linear")
    result = check_generator(entry.f, entry.slots, 1, 1, seed=7, name="linear",
                             candidate_dir=tmp_path)
    assert result.candidate and not result.slotwise
    assert result.dimension > result.slotwise_dimension
    assert result.certified  # an affine non-slot-wise direction integrates exactly
    assert result.independent is False and not result.refutes_conjecture
    saved = json.loads((tmp_path / "candidate_linear_N1_D1_seed7.json").read_text())
    f = matrix_from_exact(saved["f"], entry.slots.symbols)
    assert f == entry.f
    h = matrix_from_exact(saved["counterexample_h"], entry.slots.symbols)
    assert certify_reparametrization(f, entry.slots, 1, h).valid


def test_table_flags_candidates_loudly():
    from theory.conjecture_report import ConjectureReport

    entry = C.get("low_degree")
    trial = check_generator(entry.f, entry.slots, 2, 1, seed=1, name="low_degree")
    report = ConjectureReport(order=2, slot_sizes=(1, 1), degree=1, outputs=None, seed=1,
                              trials=[trial])
    table = report.format_table()
    assert "COUNTEREXAMPLE" in table and "!!! CANDIDATE COUNTEREXAMPLE" in table
    assert report.consistent_with_conjecture  # f is not sufficiently independent


@pytest.mark.parametrize("kwargs, match", [
    ({"order": -1}, "order"), ({"trials": 0}, "trials"), ({"degree": 0}, "degree"),
    ({"slot_sizes": (2,)}, "2 slots"), ({"outputs": 0}, "outputs"),
])
def test_bad_input_is_rejected(kwargs, match):
    args = {"order": 1, "trials": 1, "slot_sizes": (1, 1), "degree": 1, **kwargs}
    with pytest.raises(AnalysisError, match=match):
        run_conjecture(**args)


def test_parse_slot_sizes():
    assert parse_slot_sizes("2x2") == (2, 2)
    assert parse_slot_sizes("3x2") == (2, 2, 2)
    assert parse_slot_sizes("2,3") == (2, 3)
    for bad in ("a", "2", "0x2", "2x"):
        with pytest.raises(ParseError):
            parse_slot_sizes(bad)


def test_check_generator_rejects_foreign_symbols():
    slots = Slots.from_sizes(1, 1)
    with pytest.raises(Exception, match="belong to no slot"):
        check_generator(sympy.Matrix([sympy.Symbol("q")]), slots, 1, 1)


def test_slotwise_trials_say_what_they_ruled_out_including_the_discrete_search():
    from theory.conjecture import run_trial

    trial = run_trial(3, (2, 2), 1, None, seed=0)
    assert trial.slotwise and not trial.certified
    assert trial.discrete_complete is True and trial.discrete_candidates == 2
    assert "degree <= 1" in trial.rules_out and "all 2 coordinate permutations" in trial.rules_out
    assert "Not excluded" in trial.rules_out
    report = run_conjecture(3, 1, (2, 2), 1, seed=0)
    assert "ruled out: for 1 of 1 generators" in report.format_table()
    assert report.to_dict()["summary"]["rules_out"] == report.rules_out


def test_a_discrete_ambiguity_makes_a_certified_candidate():
    # every coordinate its own additive part: regrouping the coordinates keeps order 1, which
    # the infinitesimal system (slot-wise here) does not see
    slots = Slots.from_sizes(2, 2)
    a, b, c, d = slots.symbols
    f = [a**2 + a**3, a, b**2 + b**3, b, c**2 + c**3, c, d**2 + d**3, d, a**4 + b**4 + c**4 + d**4]
    trial = check_generator(f, slots, 1, 1)
    assert trial.certified and trial.candidate
    assert trial.refutes_conjecture == (trial.independent is True)
    assert "certified discrete ambiguity" in trial.note
    assert trial.rules_out.startswith("nothing")


def test_exp_polynomial_family_trial_and_bad_family():
    from theory.conjecture import run_trial

    trial = run_trial(3, (2, 2), 1, None, seed=1, family="exp-polynomial")
    assert trial.generator == "exp_polynomial" and trial.order_verified and trial.slotwise
    with pytest.raises(AnalysisError, match="unknown generator family"):
        run_trial(3, (2, 2), 1, None, seed=1, family="neural")


@pytest.mark.parametrize(("order", "sizes", "degree", "seed"), [
    (1, (2, 2), 2, 0), (2, (2, 2), 1, 1), (2, (1, 1), 3, 2), (3, (2, 2), 2, 0),
    (3, (2, 2, 2), 1, 4), (4, (1, 2), 1, 5),
])
def test_trials_solved_through_the_monomials_agree_with_the_full_system(order, sizes, degree,
                                                                        seed):
    # f = C m(z) with C of full column rank has the ambiguity space of m(z): same dimensions
    from theory.class_construction import minimum_outputs
    from theory.conjecture import run_trial
    from theory.generators import polynomial

    reduced = run_trial(order, sizes, degree, None, seed=seed)
    g = polynomial(order, sizes, minimum_outputs(order, sizes), seed)
    full = check_generator(g.f, g.slots, order, degree, independence_verified=True)
    assert (reduced.dimension, reduced.slotwise_dimension, reduced.unknowns) == (
        full.dimension, full.slotwise_dimension, full.unknowns)
    assert reduced.order_verified and full.order_verified
    assert (reduced.discrete_candidates, reduced.discrete_complete) == (
        full.discrete_candidates, full.discrete_complete)
    assert "system of m(z)" in reduced.note
