"""Verdicts of theory.report.analyze on hand-built generators with known answers."""

from __future__ import annotations

import json
import math

import pytest
import sympy

from theory.certificates import is_slotwise_map
from theory.errors import AnalysisError
from theory.order import has_order_at_most
from theory.report import VERDICTS, Report, analyze
from theory.slots import Slots

S22 = Slots.from_sizes(2, 2)
A1, A2, B1, B2 = S22.symbols
S11 = Slots.from_sizes(1, 1)
X, Y = S11.symbols

JSON_KEYS = {"order", "sufficiently_independent", "verdict", "theorem", "counterexample",
             "ambiguity", "restrictions"}


def _roundtrip(report: Report) -> dict:
    data = json.loads(json.dumps(report.to_dict()))
    assert JSON_KEYS <= set(data)
    assert data["verdict"] in VERDICTS
    return data


def test_additive_sufficiently_nonlinear_is_identifiable():
    f = sympy.Matrix([
        A1, A2, A1**2, A1 * A2, A2**2 + A1**3, B1, B2, B1**2, B1 * B2, B2**2 + B1**3,
        A2**3 + B2**3, A1 * A2**2 - 2 * B1 * B2**2,
    ])
    report = analyze(f, S22)
    assert (report.order, report.sufficiently_independent) == (1, True)
    assert report.verdict == "identifiable"
    assert "Theorem 4.3" in report.theorem and "Cartesian product" in report.theorem
    assert report.counterexample is None and report.restrictions == []
    assert (report.ambiguity.dimension, report.ambiguity.slotwise_dimension) == (12, 12)
    data = _roundtrip(report)
    assert data["order"] == 1 and data["sufficiently_independent"] is True
    assert data["ambiguity"]["dimension"] == 12
    assert "verdict: identifiable" in report.format()


def test_each_output_one_slot_is_identifiable_at_order_0():
    f = sympy.Matrix([A1 + A2**3, A2 + A1**3, A1 * A2 + A1**2, B1 + B2**3, B2 + B1**3,
                      B1 * B2 + B2**2])
    report = analyze(f, S22)
    assert report.order == 0
    assert report.sufficiently_independent is True
    assert report.verdict == "identifiable"


def test_bilinear_order_2_is_identifiable_with_affine_restriction():
    slots = Slots.from_sizes(2, 1)
    a1, a2, b = slots.symbols
    f = sympy.Matrix([
        a1, a2, b, a1**2, a1 * a2, a2**2, b**2, a1**3, a1**2 * a2, a1 * a2**2, a2**3, b**3,
        a1 * b, a2 * b + a1**4,
    ])
    report = analyze(f, slots)
    assert (report.order, report.sufficiently_independent) == (2, True)
    assert report.verdict == "identifiable"
    assert report.counterexample is None
    assert len(report.restrictions) == 2
    slot0, slot1 = report.restrictions
    assert slot0.startswith("slot 0") and "z1_1, z1_2" in slot0 and "affinely" in slot0
    assert slot1.startswith("slot 1") and "z2_1" in slot1
    assert _roundtrip(report)["restrictions"] == report.restrictions


def test_order_3_sufficiently_independent_is_conjectured():
    f = sympy.Matrix([X, Y, X**2, X * Y, Y**2, X**3, X**2 * Y, X * Y**2, Y**3, X**4, Y**4])
    report = analyze(f, S11)
    assert report.order == 3
    assert report.sufficiently_independent is True
    assert report.ambiguity.is_slotwise
    assert report.verdict == "conjectured"
    assert "conjecture" in report.theorem


def test_linear_generator_is_not_identifiable_with_certified_counterexample():
    M = sympy.Matrix([[1, 2, 0, -1], [0, 1, 3, 1], [2, 0, 1, 1], [1, 1, 1, 0], [0, -2, 1, 5]])
    f = M * sympy.Matrix(S22.symbols)
    report = analyze(f, S22)
    assert report.sufficiently_independent is False
    assert report.verdict == "not-identifiable"
    ce = report.counterexample
    assert ce is not None and not is_slotwise_map(ce.h, S22)
    f_h = f.xreplace(dict(zip(S22.symbols, ce.h, strict=True))).applyfunc(sympy.expand)
    assert has_order_at_most(f_h, S22, report.order)
    data = _roundtrip(report)
    assert data["counterexample"]["h"] == [str(e) for e in ce.h]
    assert "counterexample:" in report.format()


def test_exp_of_product_has_infinite_order_and_unknown_verdict():
    f = sympy.Matrix([sympy.exp(X * Y), X + Y**3])
    report = analyze(f, S11)
    assert math.isinf(report.order)
    assert report.sufficiently_independent is None
    assert report.verdict == "unknown" and report.ambiguity is None
    assert _roundtrip(report)["order"] == "inf"


def test_not_sufficiently_independent_without_counterexample_is_unknown():
    f = sympy.Matrix([X**3 + Y**3])
    report = analyze(f, S11)
    assert report.order == 1 and report.sufficiently_independent is False
    assert report.counterexample is None
    assert report.verdict == "unknown"
    assert "not sufficiently independent" in report.theorem


def test_unsupported_functions_still_get_order_and_independence():
    f = sympy.Matrix([sympy.sin(X) + Y, X**2, Y**2, X**3, Y**3, X**4 + sympy.cos(Y)])
    report = analyze(f, S11)
    assert report.order == 1 and report.ambiguity is None
    assert any("ambiguity analysis skipped" in n for n in report.notes)
    assert report.sufficiently_independent is True
    assert report.verdict == "identifiable"  # Theorem 4.3 needs no ambiguity computation


def test_bad_arguments():
    with pytest.raises(AnalysisError):
        analyze(sympy.Matrix([X]), S11, degree=-1)
    with pytest.raises(AnalysisError):
        analyze(sympy.Matrix([X]), "x | y")
