"""The symbolic demo: one row per built-in generator, every verdict represented, exact values."""

from __future__ import annotations

import json

import pytest

from theory.demo import DEMO_GENERATORS, format_table, symbolic_demo

EXPECTED = {
    "order 0, 2x2 latents": (0, True, "identifiable"),
    "additive, 2x2 latents": (1, True, "identifiable"),
    "bilinear, 2+1 latents": (2, True, "identifiable"),
    "order 3 polynomial, 1x1": (3, True, "conjectured"),
    "linear f = A z, 2x2": (1, False, "not-identifiable"),
    "low-degree (quadratic), 1x1": (2, False, "not-identifiable"),
    "product of quadratics, 1x1": (4, False, "not-identifiable"),
    "Gaussian bump 3x3": ("inf", None, "unknown"),
    "log Gaussian bump 3x3": (1, False, "not-identifiable"),
}


@pytest.fixture(scope="module")
def rows():
    return symbolic_demo(seed=0)


def test_rows_have_the_expected_verdicts(rows):
    assert [r["name"] for r in rows] == [name for name, _ in DEMO_GENERATORS]
    got = {r["name"]: (r["order"], r["sufficiently_independent"], r["verdict"]) for r in rows}
    assert got == EXPECTED
    json.dumps(rows)  # JSON-able


def test_exact_ambiguity_dimensions(rows):
    by_name = {r["name"]: r for r in rows}
    additive = by_name["additive, 2x2 latents"]
    assert (additive["ambiguity_dimension"], additive["slotwise_dimension"]) == (12, 12)
    linear = by_name["linear f = A z, 2x2"]
    assert (linear["ambiguity_dimension"], linear["slotwise_dimension"]) == (20, 12)
    assert linear["counterexample"] is not None
    # the log-bump's quadratic part x^2 + y^2 is rotation invariant: one extra affine field
    log_bump = by_name["log Gaussian bump 3x3"]
    assert (log_bump["ambiguity_dimension"], log_bump["slotwise_dimension"]) == (5, 4)
    assert by_name["Gaussian bump 3x3"]["ambiguity_dimension"] is None
    assert by_name["bilinear, 2+1 latents"]["restrictions"]


def test_format_table(rows):
    table = format_table(rows)
    lines = table.splitlines()
    assert len(lines) == len(rows) + 2
    assert lines[0].split() == ["generator", "order", "suff.", "indep.", "ambiguities", "/",
                                "slot-wise", "verdict"]
    assert "20 / 12" in table and "not-identifiable" in table
    for r in rows:
        assert r["name"] in table


def test_verdicts_do_not_depend_on_the_seed(rows):
    other = symbolic_demo(seed=1)
    assert [r["verdict"] for r in other] == [r["verdict"] for r in rows]
    assert [r["order"] for r in other] == [r["order"] for r in rows]
