"""Exact rank modulo a prime: hand cases, agreement with exact rational ranks."""

from __future__ import annotations

import random
from itertools import combinations_with_replacement

import numpy as np
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.linalg import rank
from theory.modular import (
    _BLOCK,
    PRIME,
    derivative_matrix_rank,
    matmul_mod,
    projected_rank,
    rank_mod,
    residue,
)


def test_prime_is_the_largest_below_2_to_the_25():
    assert sympy.isprime(PRIME) and PRIME == sympy.prevprime(2**25)
    assert PRIME**2 * 2**13 < 2**63  # the int64 bound the module relies on


def test_projected_rank_by_hand():
    from fractions import Fraction

    rows = [{0: sympy.Rational(1, 2), 1: 1}, {0: Fraction(1, 1), 1: 2}, {2: 3}]
    assert projected_rank(rows, 4) == 2  # row 1 = 2 * row 0
    assert projected_rank([], 3) == 0
    assert projected_rank([{0: sympy.Rational(1, PRIME)}], 1) is None
    # more rows than one accumulation block: e_0 repeated, then e_1 once at the end
    many = [{0: 1}] * (_BLOCK + 5) + [{1: sympy.Rational(-7, 3)}]
    assert projected_rank(many, 2) == 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n_rows=st.integers(1, 12), n_cols=st.integers(1, 6))
def test_property_projected_rank_equals_the_exact_rank(seed, n_rows, n_cols):
    rng = random.Random(seed)
    rows = [{j: sympy.Rational(rng.randint(-5, 5), rng.randint(1, 6))
             for j in rng.sample(range(n_cols), rng.randint(1, n_cols))} for _ in range(n_rows)]
    if n_rows > 2:  # a dependent row
        rows[-1] = {j: 2 * v for j, v in rows[0].items()}
    got = projected_rank(rows, n_cols, seed=seed)
    # rank_p(R A) <= rank_Q(A) always; equality fails with probability ~ n_cols / PRIME
    assert got == rank(rows, n_cols)


def test_residue_by_hand():
    assert residue(sympy.Rational(1, 2)) * 2 % PRIME == 1
    assert residue(sympy.Rational(-3, 7)) * 7 % PRIME == PRIME - 3
    assert residue(5) == 5 and residue(sympy.Rational(1, PRIME)) is None


def test_rank_mod_by_hand():
    assert rank_mod(np.array([[1, 2], [2, 4]])) == 1
    assert rank_mod(np.eye(4, dtype=np.int64)) == 4
    assert rank_mod(np.zeros((3, 2), dtype=np.int64)) == 0
    assert rank_mod(np.array([[0, 1, 0], [0, 2, 0], [1, 0, 0]])) == 2
    # PRIME * e_1 vanishes modulo PRIME
    assert rank_mod(np.array([[PRIME, 0], [0, 1]])) == 1


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 5), cols=st.integers(1, 5), seed=st.integers(0, 10**6),
       low_rank=st.booleans())
def test_property_rank_mod_equals_the_rational_rank(rows, cols, seed, low_rank):
    # entries in [-4, 4], size <= 5: every minor is below 5! 4^5 < PRIME in absolute value, so a
    # non-zero minor is non-zero modulo PRIME and the two ranks must agree exactly
    rng = random.Random(seed)
    m = sympy.Matrix(rows, cols, lambda i, j: rng.randint(-4, 4))
    if low_rank and rows > 1:
        m[rows - 1, :] = -m[0, :]  # a dependent row
    assert rank_mod(np.array(m.tolist(), dtype=np.int64)) == m.rank()


def test_matmul_mod_matches_python_integers_across_blocks():
    rng = np.random.default_rng(0)
    k = 2 * _BLOCK + 17
    a = rng.integers(0, PRIME, size=(3, k), dtype=np.int64)
    b = rng.integers(0, PRIME, size=(k, 2), dtype=np.int64)
    want = [[sum(int(a[i, t]) * int(b[t, j]) for t in range(k)) % PRIME for j in range(2)]
            for i in range(3)]
    assert matmul_mod(a, b).tolist() == want


X, Y, Z = sympy.symbols("x y z")


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), outputs=st.integers(2, 7))
def test_property_derivative_matrix_rank_equals_the_exact_rank(seed, outputs):
    rng = random.Random(seed)
    monos = [sympy.Mul(*v) for d in range(0, 4)
             for v in combinations_with_replacement((X, Y, Z), d)]
    polys = [sympy.Poly(sum(sympy.Rational(rng.randint(-3, 3), rng.randint(1, 4)) * m
                            for m in rng.sample(monos, 4)), X, Y, Z) for _ in range(outputs)]
    indices = [(X,), (Y,), (Z,), (X, X), (X, Y), (Z, Z)]
    exponents = [tuple(v.count(s) for s in (X, Y, Z)) for v in indices]
    point = [sympy.Rational(rng.randint(-9, 9), rng.randint(1, 9)) for _ in range(3)]
    exact = sympy.Matrix([[p.as_expr().diff(*v).subs(dict(zip((X, Y, Z), point, strict=True)))
                           for v in indices] for p in polys]).rank()
    # rank mod p <= rank over Q always; equality fails only if PRIME divides a minor's numerator
    assert derivative_matrix_rank(polys, exponents, point) == exact


def test_derivative_matrix_rank_by_hand_and_bad_denominators():
    polys = [sympy.Poly(X**2 + X * Y, X, Y), sympy.Poly(Y**3, X, Y)]
    # columns d/dx, d/dy at (1, 2): rows (2x + y, x) = (4, 1) and (0, 3y^2) = (0, 12)
    grad = [(1, 0), (0, 1)]
    assert derivative_matrix_rank(polys, grad, [sympy.Integer(1), sympy.Integer(2)]) == 2
    # at y = 0 the second row vanishes
    assert derivative_matrix_rank(polys, grad, [sympy.Integer(1), sympy.Integer(0)]) == 1
    # d^3/dx^3 kills every monomial
    assert derivative_matrix_rank(polys, [(3, 0)], [sympy.Integer(1), sympy.Integer(1)]) == 0
    assert derivative_matrix_rank(polys, [(1, 0)], [sympy.Rational(1, PRIME), sympy.Integer(1)]) \
        is None
