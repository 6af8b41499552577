"""Exact sparse nullspace / rank over Q against sympy's dense Matrix on random systems."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.errors import AnalysisError
from theory.linalg import available_backends, nullspace, rank, rref

BACKENDS = available_backends()


@st.composite
def sparse_systems(draw):
    n_cols = draw(st.integers(1, 7))
    n_rows = draw(st.integers(0, 9))
    entry = st.one_of(st.just(0), st.just(0), st.integers(-4, 4),
                      st.fractions(min_value=-3, max_value=3, max_denominator=5))
    dense = [[draw(entry) for _ in range(n_cols)] for _ in range(n_rows)]
    rows = [{j: v for j, v in enumerate(r) if v} for r in dense]
    return rows, dense, n_cols


def _dense_matrix(dense, n_cols):
    if not dense:
        return sympy.zeros(0, n_cols)
    return sympy.Matrix([[sympy.Rational(Fraction(v)) for v in r] for r in dense])


@settings(max_examples=60, deadline=None)
@given(sparse_systems(), st.sampled_from(BACKENDS), st.sampled_from([None, 1, 3]))
def test_nullspace_equals_sympy_canonical_basis(system, backend, batch):
    rows, dense, n_cols = system
    M = _dense_matrix(dense, n_cols)
    expected = [list(v) for v in M.nullspace()] if dense else [
        [sympy.Integer(int(i == j)) for i in range(n_cols)] for j in range(n_cols)]
    got = nullspace(rows, n_cols, backend=backend, batch=batch)
    assert got == expected  # the RREF basis is unique, so the lists agree exactly
    for vec in got:
        assert all(isinstance(x, sympy.Rational) for x in vec)
        if dense:
            assert (M * sympy.Matrix(vec)).is_zero_matrix


@settings(max_examples=60, deadline=None)
@given(sparse_systems(), st.sampled_from(BACKENDS))
def test_rank_and_rref_match_sympy(system, backend):
    rows, dense, n_cols = system
    M = _dense_matrix(dense, n_cols)
    expected_rank = M.rank() if dense else 0
    assert rank(rows, n_cols, backend=backend) == expected_rank
    reduced, pivots = rref(rows, n_cols, backend=backend)
    if dense:
        R, piv = M.rref()
        assert pivots == piv
        assert [{j: R[r, j] for j in range(n_cols) if R[r, j] != 0} for r in range(len(piv))] \
            == reduced


def test_known_system():
    rows = [{0: 1, 1: 2, 2: 3}, {0: 2, 1: 4, 2: 7}]
    for backend in BACKENDS:
        assert nullspace(rows, 3, backend=backend) == [[-2, 1, 0]]
        assert rank(rows, 3, backend=backend) == 2
    assert nullspace([], 2) == [[1, 0], [0, 1]]


def test_mixed_exact_entry_types():
    rows = [{0: sympy.Rational(1, 3), 1: Fraction(2, 3)}, {0: 1, 1: 2}]
    assert nullspace(rows, 2) == [[-2, 1]]


@pytest.mark.parametrize("bad", [
    ([{0: 0.5}], 1),
    ([{0: sympy.sqrt(2)}], 1),
    ([{3: 1}], 2),
    ([{0: 1}], -1),
])
def test_bad_input_raises_analysis_error(bad):
    rows, n_cols = bad
    with pytest.raises(AnalysisError):
        nullspace(rows, n_cols)


def test_unknown_backend():
    with pytest.raises(AnalysisError, match="backend"):
        rank([{0: 1}], 1, backend="numpy")
