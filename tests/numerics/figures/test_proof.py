import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import jacfwd

from numerics.core.errors import DataError
from numerics.figures.derivatives import (
    cross_slot_mask,
    derivative_tensor,
    jacobian_magnitude,
    sample_points,
)
from numerics.figures.proof import block_structure_figure, split_slot_figure
from theory import Slots

SLOTS = Slots.from_sizes(2, 2)
A, B, C, D = SLOTS.symbols


def test_cross_slot_mask_exact():
    mask = cross_slot_mask(SLOTS, 2)
    assert mask.tolist() == [
        [False, False, True, True],
        [False, False, True, True],
        [True, True, False, False],
        [True, True, False, False],
    ]
    m3 = cross_slot_mask(SLOTS, 3)
    assert m3.shape == (4, 4, 4)
    assert not m3[0, 1, 1] and m3[0, 1, 2] and not m3[3, 2, 3]


def test_derivative_tensor_exact_values_on_hand_built_generator():
    # f = (a^2 b, c d): d2f/da db = 2a (output 0), d2f/dc dd = 1 (output 1)
    f = sympy.Matrix([A**2 * B, C * D])
    points = np.array([[0.5, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0]])
    t = derivative_tensor(f, SLOTS, 2, points)
    assert t.values[0, 1] == pytest.approx(np.mean([1.0, 2.0]))  # mean |2a|
    assert t.values[1, 0] == t.values[0, 1]
    assert t.values[2, 3] == 1.0
    assert t.values[0, 0] == pytest.approx(np.mean([0.0, 0.0]))  # 2b = 0 at these points
    assert not t.exact_zero[0, 0]  # 2b is not identically zero
    assert t.exact_zero[1, 1] and t.values[1, 1] == 0.0
    assert t.exact_zero[0, 2]


def test_block_diagonal_figure_has_exact_zeros_off_the_slot_blocks():
    # order 2: additive + bilinear cross terms, rich within-slot terms
    f = sympy.Matrix([
        A**3 + B * A**2 + C**2 * D + A * C,
        sympy.sin(A * B) + sympy.exp(C * D) + B * D,
        A * C + B**3 * A + C**3 * D**2,
    ])
    plotted = block_structure_figure(f, SLOTS, 2, sample_points(SLOTS, 4, 0))
    d3, mask = plotted.arrays["D^{n+1}"], plotted.arrays["cross_mask"]
    assert d3.shape == (4, 16)
    assert np.all(d3[mask] == 0.0)
    assert np.all(d3[~mask].reshape(-1)[:2] > 0)  # within-slot third derivatives are present
    d2 = plotted.arrays["D^n"]
    assert d2[0, 2] > 0 and d2[1, 3] > 0  # cross second derivatives of the bilinear terms
    assert len(plotted.figure.axes) >= 2


def test_order_zero_figure_rows_live_in_one_slot():
    f = sympy.Matrix([A**2 + B, C**3, D * C, sympy.exp(A)])
    plotted = block_structure_figure(f, SLOTS, 0, sample_points(SLOTS, 3, 1))
    jac, mask = plotted.arrays["D^{n+1}"], plotted.arrays["cross_mask"]
    assert jac.shape == (4, 4)
    assert np.all(jac[mask] == 0.0)


def test_split_slot_counterexample_shows_a_split_within_slot_block():
    f = sympy.Matrix([A**2 * B + C**2 * D, A * B**2 + C * D**2, A**2 + D**2])
    f_split = sympy.Matrix([A**2 + B**2 + C**2 * D, A**3 + B**3 + C * D**2, A + D**2])
    plotted = split_slot_figure(f, f_split, SLOTS, 1, sample_points(SLOTS, 4, 2))
    assert plotted.arrays["f"][0, 1] > 0
    assert plotted.arrays["f_split"][0, 1] == 0.0  # slot 1 splits into {a} and {b}


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_jacobian_magnitude_matches_torch_func(seed):
    f = sympy.Matrix([sympy.sin(A) * B + C**2, sympy.exp(A * D) - B * C])
    points = sample_points(SLOTS, 3, seed)
    jac = jacobian_magnitude(f, SLOTS, points).values

    def torch_f(z):
        a, b, c, d = z
        return torch.stack([torch.sin(a) * b + c**2, torch.exp(a * d) - b * c])

    z = torch.tensor(points, dtype=torch.float64)
    expected = torch.vmap(jacfwd(torch_f))(z).abs().mean(0).numpy()
    np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-12)


def test_non_finite_derivatives_are_a_clear_error():
    with pytest.raises(DataError, match="not finite"):
        derivative_tensor(sympy.Matrix([sympy.log(A) * C]), SLOTS, 2, np.zeros((1, 4)))
