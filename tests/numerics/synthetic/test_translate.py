"""numerics.synthetic.translate: sympy -> torch translation, checked against exact sympy
evaluation."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy
import torch
from torch.func import jacfwd, vmap

from numerics.synthetic.generators import certify_order
from numerics.synthetic.translate import TorchGenerator, from_sympy
from theory import generators as tg
from theory.class_construction import minimum_outputs
from theory.errors import GeneratorError, SlotError
from theory.slots import Slots


def _points(d: int, n: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64) * 1.6 - 0.8


def _sympy_values(f: sympy.Matrix, slots: Slots, z: torch.Tensor) -> np.ndarray:
    """Evaluation of the sympy expressions with 30-digit mpmath arithmetic, as float64."""
    fn = sympy.lambdify(slots.symbols, list(f), modules="mpmath")
    with mpmath.workdps(30):
        return np.array([[float(v) for v in fn(*row)] for row in z.tolist()])


SLOTS = Slots.from_sizes(2, 1)
A, B, C = SLOTS.symbols
MIXED = sympy.Matrix([
    sympy.Rational(3, 7) * A**3 * B - sympy.sin(A * C) + sympy.exp(B) / 5,
    sympy.tanh(A + 2 * B) * sympy.log(2 + C**2) + sympy.sqrt(3 + A),
    sympy.atan(A * B * C) + sympy.cosh(C) ** 2 - sympy.pi,
    sympy.Integer(7),
    sympy.Rational(-2, 3) * C + A**-2 * 0 + sympy.Abs(B) * sympy.erf(A),
])


def test_from_sympy_matches_exact_sympy_evaluation() -> None:
    gen = from_sympy(MIXED, SLOTS)
    z = _points(3)
    got = gen(z).numpy()
    np.testing.assert_allclose(got, _sympy_values(MIXED, SLOTS, z), rtol=1e-14, atol=1e-14)
    assert gen.slot_sizes == (2, 1) and gen.slots == SLOTS


def test_constant_outputs_broadcast_and_float32_works() -> None:
    gen = from_sympy(sympy.Matrix([sympy.Integer(2), A * C]), SLOTS)
    z = _points(3, n=5)
    out = gen(z)
    assert out.shape == (5, 2) and torch.all(out[:, 0] == 2.0)
    out32 = gen(z.float())
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out.numpy(), rtol=1e-6, atol=1e-6)
    assert gen(torch.ones(4, 3, dtype=torch.int64)).dtype == torch.float64


def test_jacobian_by_torch_func_matches_sympy_jacobian() -> None:
    gen = from_sympy(MIXED, SLOTS)
    z = _points(3, n=4, seed=1)
    jac_sym = MIXED.jacobian(sympy.Matrix(SLOTS.symbols))
    expected = np.stack([_sympy_values(jac_sym[:, i], SLOTS, z) for i in range(3)], axis=-1)
    got = vmap(jacfwd(gen))(z).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_piecewise_becomes_where_and_is_vmap_safe() -> None:
    f = sympy.Matrix([sympy.Piecewise((A**2, A > 0), (-A, True)) + B * C])
    gen = from_sympy(f, SLOTS)
    z = torch.tensor([[0.5, 1.0, 2.0], [-0.5, 1.0, 2.0]], dtype=torch.float64)
    assert gen(z)[:, 0].tolist() == [0.25 + 2.0, 0.5 + 2.0]
    assert vmap(jacfwd(gen))(z)[:, 0, 0].tolist() == [1.0, -1.0]


def test_theory_generator_object_is_accepted() -> None:
    g = tg.bilinear((2, 2), minimum_outputs(2, (2, 2)), seed=3)
    gen = from_sympy(g)
    z = _points(4, n=3)
    np.testing.assert_allclose(gen(z).numpy(), _sympy_values(g.f, g.slots, z), rtol=1e-13,
                               atol=1e-13)


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_theory_polynomial_generators_keep_their_order(order: int) -> None:
    """Symbolic order (theory) == numerical order (torch.func) for the translated generator."""
    g = tg.polynomial(order, (2, 1), minimum_outputs(order, (2, 1)), seed=1)
    gen = from_sympy(g)
    assert gen.order == g.order == order
    cert = certify_order(gen, _points(3, n=5))
    assert cert.certified, cert


def test_from_sympy_errors() -> None:
    with pytest.raises(GeneratorError, match="cannot translate"):
        from_sympy(sympy.Matrix([sympy.gamma(A)]), SLOTS)
    with pytest.raises(SlotError):
        from_sympy(sympy.Matrix([sympy.Symbol("w") * A]), SLOTS)
    with pytest.raises(GeneratorError, match="needs slots"):
        from_sympy(sympy.Matrix([A]))
    with pytest.raises(GeneratorError, match="expects 3 latents"):
        from_sympy(sympy.Matrix([A]), SLOTS)(torch.zeros(2, 4))
    with pytest.raises(GeneratorError, match="string"):
        from_sympy("a + b", SLOTS)


def test_torch_generator_type() -> None:
    assert isinstance(from_sympy(sympy.Matrix([A + C]), SLOTS), TorchGenerator)


def _table(gen: TorchGenerator) -> dict[tuple[int, ...], list[float]]:
    """The polynomial outputs' coefficient table of ``gen`` keyed by exponent vector."""
    return {tuple(e): c for e, c in zip(gen.exponents.tolist(), gen.coefficients.tolist(),
                                        strict=True)}


def test_expanded_polynomials_read_without_poly_equal_the_poly_reading() -> None:
    """The expanded fast path gives exactly sympy.Poly's coefficients: an expanded polynomial,
    the same polynomial unexpanded (read by Poly) and the theory's generators agree entry by
    entry, and outputs that are not polynomials stay expression trees."""
    expanded = sympy.Matrix([3 * A**2 * B - sympy.Rational(5, 7) * C + 2,
                             A * B * C**3 + B**2, sympy.Integer(0), sympy.Integer(4)])
    factored = sympy.Matrix([(3 * A**2 * B - sympy.Rational(5, 7) * C + 2),
                             B * (A * C**3 + B), (A + B) * 0, (1 + sympy.Integer(1))**2])
    assert factored[1] != expanded[1]
    fast, slow = from_sympy(expanded, SLOTS), from_sympy(factored, SLOTS)
    assert _table(fast) == _table(slow)
    assert _table(fast)[(2, 1, 0)] == [3.0, 0.0, 0.0, 0.0]
    assert _table(fast)[(0, 0, 1)] == [-5 / 7, 0.0, 0.0, 0.0]
    assert _table(fast)[(0, 0, 0)] == [2.0, 0.0, 0.0, 4.0]
    mixed = from_sympy(sympy.Matrix([sympy.sqrt(2) * A + B, sympy.Float(0.5) * C,
                                     sympy.exp(A) + B, A / B]), SLOTS)
    assert mixed._poly_outputs == (0, 1) and mixed._tree_outputs == (2, 3)
    assert _table(mixed)[(1, 0, 0)] == [float(sympy.sqrt(2)), 0.0]
    z = _points(3)
    np.testing.assert_allclose(mixed(z[:, :]).numpy()[:, :3],
                               _sympy_values(sympy.Matrix([sympy.sqrt(2) * A + B,
                                                           sympy.Float(0.5) * C,
                                                           sympy.exp(A) + B]), SLOTS, z),
                               rtol=1e-14, atol=1e-14)
    g = tg.polynomial(3, (2, 1), 40, 3)
    ref = {}
    for c, e in enumerate(g.f):
        for m, a in sympy.Poly(e, *g.slots.symbols).terms():
            ref.setdefault(m, [0.0] * len(g.f))[c] = float(a)
    assert _table(from_sympy(g)) == ref
