"""theory.constants and the analysis of generators with radicals, constants and floats
(issue 13, item 2): every example gets an answer, none raises."""

from __future__ import annotations

import math
import warnings

import pytest
import sympy

from theory.constants import (
    constant_atoms,
    formal_constants,
    is_transcendental,
    rationalize_floats,
)
from theory.errors import AnalysisError, ExactnessWarning
from theory.independence import sufficient_independence
from theory.parsing import parse_generator, parse_slots
from theory.report import analyze

XY = parse_slots("x | y")
X, Y = XY.symbols


def test_floats_become_the_rationals_of_their_decimal_text_with_a_warning():
    f = sympy.Matrix([sympy.Float(1.5) * X * Y + sympy.Float(0.1) * X])
    with pytest.warns(ExactnessWarning, match="1.5"):
        exact, pairs = rationalize_floats(f)
    assert exact[0] == sympy.Rational(3, 2) * X * Y + X / 10
    assert [q for _, q in pairs] == [sympy.Rational(1, 10), sympy.Rational(3, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rationalize_floats(sympy.Matrix([X]))[1] == []


def test_constant_atoms_and_transcendence():
    e = sympy.pi * X + sympy.sqrt(2) * Y + sympy.log(3) * X * Y + sympy.E + sympy.exp(
        sympy.Rational(1, 2)) * Y**2 + 7
    atoms = constant_atoms(e)
    assert set(atoms) == {sympy.pi, sympy.sqrt(2), sympy.log(3), sympy.E,
                          sympy.exp(sympy.Rational(1, 2))}
    assert is_transcendental(sympy.pi) and is_transcendental(sympy.exp(sympy.Rational(1, 2)))
    assert not is_transcendental(sympy.sqrt(2))
    with pytest.raises(AnalysisError, match="imaginary"):
        constant_atoms(sympy.I * X)
    formal, mapping = formal_constants(sympy.Matrix([e]))
    assert not constant_atoms(formal[0]) and set(mapping.values()) == set(atoms)
    assert formal[0].xreplace(mapping) == e


@pytest.mark.parametrize(
    ("texts", "order", "verdict"),
    [
        (["sqrt(1+x)*sqrt(1+y)", "x", "y", "x**2", "y**2"], math.inf, "unknown"),
        (["sqrt((1+x**2)*(1+y**2))", "x", "y"], math.inf, "unknown"),
        (["(1+x**2)**(1/2)*(1+y**2)**(1/2)", "x"], math.inf, "unknown"),
        (["exp(y*log(x))", "x", "y"], math.inf, "unknown"),
        (["sqrt(x**2+2*x*y+y**2)", "x**2", "y**2", "x", "y"], 1, "identifiable"),
        (["y*sqrt(x**4+2*x**2+1)", "x", "y"], 3, "not-identifiable"),
        (["pi*x*y", "x", "y"], 2, "not-identifiable"),
        (["pi*x**2 + y", "x", "y**2", "y"], 1, "identifiable"),
        (["sqrt(2)*x**3 + y**2", "x**2", "x", "y", "y**3"], 1, "identifiable"),
        (["E*x*y + x**2 + x**3", "y**2", "y**3", "x", "y"], 2, "unknown"),
    ],
)
def test_issue_examples_get_an_answer(texts, order, verdict):
    f = parse_generator(texts, XY)
    report = analyze(f, XY)
    assert report.order == order
    assert report.verdict == verdict
    if verdict == "not-identifiable":
        from theory.certificates import certify_reparametrization

        ce = report.counterexample
        assert certify_reparametrization(report.f, XY, order, ce.h, ce.inverse).valid


def test_the_stated_domain_is_reported_with_a_point_in_it():
    f = parse_generator(["sqrt(x**2+2*x*y+y**2)", "x**2", "y**2", "x", "y"], XY)
    report = analyze(f, XY)
    note = next(n for n in report.notes if "stated domain" in n)
    assert "x + y > 0" in note and "non-empty" in note
    assert report.f[0] == X + Y


def test_float_generators_are_analyzed_exactly_with_a_warning():
    f = [sympy.Float(1.5) * X * Y + X**2, Y**2, X, Y]
    with pytest.warns(ExactnessWarning):
        report = analyze(f, XY)
    assert report.order == 2 and report.f[0] == X**2 + sympy.Rational(3, 2) * X * Y
    assert any("3/2" in n for n in report.notes)


def test_pi_formal_full_rank_is_exact_for_one_transcendental_constant():
    r = sufficient_independence(parse_generator(["pi*x**2 + x", "x", "y**2", "y"], XY), XY, 1)
    assert r.holds is True and "transcendental" in r.note
    two = sufficient_independence(
        parse_generator(["pi*x**2 + x", "x", "sqrt(2)*y**2", "y"], XY), XY, 1)
    assert two.holds is True and "50-digit" in two.note


def test_algebraic_relations_among_constants_are_not_mistaken_for_full_rank():
    # (sqrt(2) x^2 + x, 2 x^2 + sqrt(2) x): the second is sqrt(2) times the first, so the
    # columns are dependent at the true value although not for a formal symbol T
    f = parse_generator(["sqrt(2)*x**2 + x", "2*x**2 + sqrt(2)*x", "y", "y**2"], XY)
    r = sufficient_independence(f, XY, 1)
    assert r.holds is not True


def test_a_formal_deficiency_holds_at_the_true_constants():
    f = parse_generator(["pi*x + y", "2*pi*x + 2*y", "x**2", "y**2"], XY)
    r = sufficient_independence(f, XY, 1)
    assert r.holds is False
