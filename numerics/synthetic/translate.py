"""Sympy generators as torch functions: the exact translation that crosses the bridge.

:func:`from_sympy` translates a sympy generator f(z) (a column of expressions in the slots'
symbols, or a :class:`SymbolicGenerator` such as ``theory.generators.Generator``) into a batched
torch module, :class:`TorchGenerator`: polynomial outputs as one product of monomials and
coefficients, the others node by node over the expression tree (after common subexpression
elimination). What the theory proves about f is what the numerics trains on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import sympy
import torch
from torch import nn

from theory.errors import GeneratorError
from theory.slots import Slots

__all__ = ["SymbolicGenerator", "TorchGenerator", "from_sympy"]

Tensor = torch.Tensor
_Value = Tensor | float

_UNARY: dict[type, Callable[[Tensor], Tensor]] = {
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.tanh: torch.tanh,
    sympy.asinh: torch.asinh,
    sympy.acosh: torch.acosh,
    sympy.atanh: torch.atanh,
    sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
    sympy.erf: torch.erf,
    sympy.erfc: torch.erfc,
    sympy.floor: torch.floor,
    sympy.ceiling: torch.ceil,
}
_UNARY_MATH: dict[type, Callable[[float], float]] = {
    sympy.exp: math.exp, sympy.log: math.log, sympy.sin: math.sin, sympy.cos: math.cos,
    sympy.tan: math.tan, sympy.asin: math.asin, sympy.acos: math.acos, sympy.atan: math.atan,
    sympy.sinh: math.sinh, sympy.cosh: math.cosh, sympy.tanh: math.tanh,
    sympy.asinh: math.asinh, sympy.acosh: math.acosh, sympy.atanh: math.atanh,
    sympy.Abs: abs, sympy.erf: math.erf, sympy.erfc: math.erfc,
    sympy.floor: math.floor, sympy.ceiling: math.ceil,
}


def _pow(base: _Value, exponent: sympy.Expr, ev: Callable[[sympy.Expr], _Value]) -> _Value:
    """base ** exponent with exact special cases (integer powers, square roots)."""
    if exponent.is_Integer:
        n = int(exponent)
        if isinstance(base, float):
            return base**n
        if n == 1:
            return base
        if n == -1:
            return torch.reciprocal(base)
        return torch.pow(base, n)
    if exponent == sympy.S.Half:
        return math.sqrt(base) if isinstance(base, float) else torch.sqrt(base)
    if exponent == -sympy.S.Half:
        return 1.0 / math.sqrt(base) if isinstance(base, float) else torch.rsqrt(base)
    power = ev(exponent)
    if isinstance(power, float):
        return base**power if isinstance(base, float) else torch.pow(base, power)
    if isinstance(base, float):
        return torch.exp(power * math.log(base))
    return torch.pow(base, power)


class _Translator:
    """Evaluates a sympy expression tree on torch columns, memoizing shared subtrees."""

    def __init__(self, columns: dict[sympy.Symbol, Tensor]) -> None:
        self.cache: dict[sympy.Expr, _Value] = dict(columns)

    def __call__(self, e: sympy.Expr) -> _Value:
        hit = self.cache.get(e)
        if hit is not None:
            return hit
        value = self._node(e)
        self.cache[e] = value
        return value

    def _node(self, e: sympy.Expr) -> _Value:
        if e.is_Number or e.is_NumberSymbol:
            if not e.is_real:
                raise GeneratorError(f"complex constant {e} is not supported")
            return float(e)
        if isinstance(e, sympy.Add):
            terms = [self(a) for a in e.args]
            return _fold(terms, lambda a, b: a + b)
        if isinstance(e, sympy.Mul):
            factors = [self(a) for a in e.args]
            return _fold(factors, lambda a, b: a * b)
        if isinstance(e, sympy.Pow):
            return _pow(self(e.base), e.exp, self)
        if isinstance(e, sympy.Piecewise):
            return self._piecewise(e)
        if isinstance(e, (sympy.Max, sympy.Min)):
            op = torch.maximum if isinstance(e, sympy.Max) else torch.minimum
            args = [self(a) for a in e.args]
            if all(isinstance(a, float) for a in args):
                return float(max(args) if isinstance(e, sympy.Max) else min(args))
            return _fold(args, lambda a, b: op(*_as_tensors(a, b)))
        if isinstance(e, sympy.atan2):
            y, x = (self(a) for a in e.args)
            if isinstance(y, float) and isinstance(x, float):
                return math.atan2(y, x)
            return torch.atan2(*_as_tensors(y, x))
        fn = _UNARY.get(type(e)) or _UNARY.get(e.func)
        if fn is not None and len(e.args) == 1:
            arg = self(e.args[0])
            if isinstance(arg, float):
                if e.func is sympy.sign:
                    return float(np.sign(arg))
                return float(_UNARY_MATH[e.func](arg))
            return fn(arg)
        if isinstance(e, sympy.Symbol):
            raise GeneratorError(f"symbol {e} belongs to no slot")
        raise GeneratorError(
            f"cannot translate {type(e).__name__} ({e}) to torch: supported are +, *, powers, "
            "exp, log, trigonometric and hyperbolic functions (and inverses), Abs, sign, erf, "
            "erfc, floor, ceiling, Max, Min, atan2 and Piecewise"
        )

    def _piecewise(self, e: sympy.Piecewise) -> _Value:
        """Piecewise as nested torch.where (no Python branching on values)."""
        result: _Value | None = None
        for expr, cond in reversed(e.args):
            value = self(expr)
            if cond is sympy.true:
                result = value
                continue
            if result is None:
                raise GeneratorError(f"Piecewise {e} has no default (True) branch")
            mask = self._condition(cond)
            value, result = _as_tensors(value, result, like=mask)
            result = torch.where(mask, value, result)
        if result is None:
            raise GeneratorError(f"empty Piecewise {e}")
        return result

    def _condition(self, cond: sympy.Basic) -> Tensor:
        relations = {
            sympy.StrictLessThan: torch.lt, sympy.LessThan: torch.le,
            sympy.StrictGreaterThan: torch.gt, sympy.GreaterThan: torch.ge,
            sympy.Equality: torch.eq, sympy.Unequality: torch.ne,
        }
        if type(cond) in relations:
            lhs, rhs = (self(a) for a in cond.args)
            return relations[type(cond)](*_as_tensors(lhs, rhs))
        if isinstance(cond, (sympy.And, sympy.Or)):
            op = torch.logical_and if isinstance(cond, sympy.And) else torch.logical_or
            return functools.reduce(op, [self._condition(c) for c in cond.args])
        if isinstance(cond, sympy.Not):
            return torch.logical_not(self._condition(cond.args[0]))
        raise GeneratorError(f"unsupported Piecewise condition {cond}")


def _fold(values: Sequence[_Value], op: Callable[[_Value, _Value], _Value]) -> _Value:
    """Combine values left to right, adding Python floats together before touching tensors."""
    floats = [v for v in values if isinstance(v, float)]
    tensors = [v for v in values if not isinstance(v, float)]
    out: _Value | None = None
    for t in tensors:
        out = t if out is None else op(out, t)
    if floats:
        c: _Value = floats[0]
        for v in floats[1:]:
            c = op(c, v)
        out = c if out is None else op(out, c)
    if out is None:
        raise GeneratorError("nothing to combine: an operation without arguments")
    return out


def _as_tensors(*values: _Value, like: Tensor | None = None) -> tuple[Tensor, ...]:
    ref = like if like is not None else next(v for v in values if isinstance(v, Tensor))
    dtype = next((v.dtype for v in values if isinstance(v, Tensor) and v.is_floating_point()),
                 torch.float64)
    return tuple(
        torch.full_like(ref, v, dtype=dtype) if isinstance(v, float) else v for v in values
    )


def _expanded_terms(e: sympy.Expr, index: dict[sympy.Symbol, int]
                    ) -> dict[tuple[int, ...], float] | None:
    """``{exponent vector: float coefficient}`` of an *expanded* polynomial ``e`` in the symbols
    of ``index`` (symbol -> coordinate), read straight off sympy's Add/Mul/Pow tree (the
    theory's generators are built expanded: 184 outputs of 565 terms translate in about a tenth
    of the time of ``sympy.Poly``); None for anything else (a non-numeric coefficient, a factor
    that is not a symbol power, an unexpanded product), which is then read by ``sympy.Poly``.
    The result equals ``{m: float(a) for m, a in sympy.Poly(e, *symbols).terms()}``."""
    d = len(index)
    terms: dict[tuple[int, ...], float] = {}
    for term in sympy.Add.make_args(e):
        coefficient = sympy.Integer(1)
        exponent = [0] * d
        for factor in sympy.Mul.make_args(term):
            if factor.is_Number:
                coefficient = coefficient * factor
                continue
            base, power = factor.as_base_exp() if factor.is_Pow else (factor, sympy.Integer(1))
            position = index.get(base)
            if position is None or not (power.is_Integer and power > 0):
                return None
            exponent[position] += int(power)
        if not coefficient.is_Rational:
            return None
        key = tuple(exponent)
        if key in terms:  # not sympy's canonical expanded form: let Poly combine the terms
            return None
        if coefficient != 0:
            terms[key] = float(coefficient)
    return terms


def _polynomial_terms(e: sympy.Expr, symbols: tuple[sympy.Symbol, ...],
                      index: dict[sympy.Symbol, int]) -> dict[tuple[int, ...], float] | None:
    """``{exponent vector: float coefficient}`` of ``e`` when it is a polynomial in
    ``symbols``, else None: the expanded fast path, else ``sympy.Poly`` (expanding first when
    sympy refuses the unexpanded expression)."""
    fast = _expanded_terms(e, index)
    if fast is not None:
        return fast
    if not e.is_polynomial(*symbols):
        return None
    try:
        poly = sympy.Poly(e, *symbols, expand=False)
    except sympy.PolynomialError:
        poly = sympy.Poly(e, *symbols)
    return {m: float(a) for m, a in poly.terms()}


@runtime_checkable
class SymbolicGenerator(Protocol):
    """An exact generator: ``f``, a sympy Matrix of d_x expressions in the symbols of ``slots``
    (a ``theory.generators.Generator`` is one; so is any object with these two attributes)."""

    @property
    def f(self) -> sympy.Matrix: ...

    @property
    def slots(self) -> Slots: ...


class TorchGenerator(nn.Module):
    """A sympy generator f as a batched torch function ``z: (batch, d_z) -> (batch, d_x)``.

    Polynomial outputs are evaluated together as (monomials of z) @ (coefficient matrix); the
    other outputs follow their expression tree (after ``sympy.cse``). Only torch operations are
    used, so the module is differentiable by autograd and torch.func (``jvp``, ``jacfwd``,
    ``vmap``); piecewise definitions become ``torch.where``. Constant outputs broadcast to the
    batch shape.
    ``z`` is evaluated in its own floating dtype (so float32 and float64 both work, on any
    device); integer inputs are converted to ``dtype``. ``order`` is the interaction order when
    known (from a ``theory.generators.Generator``), else None.
    """

    exponents: Tensor
    coefficients: Tensor
    _inverse: Tensor

    def __init__(self, f: sympy.Matrix, slots: Slots, dtype: torch.dtype = torch.float64,
                 order: int | float | None = None) -> None:
        super().__init__()
        self.order = order
        self.slots = slots
        self.slot_sizes: tuple[int, ...] = slots.sizes
        self.dtype = dtype
        self.expressions: tuple[sympy.Expr, ...] = tuple(f)
        self.d_z = slots.dim
        self.d_x = len(self.expressions)
        symbols = slots.symbols
        index = {sym: i for i, sym in enumerate(symbols)}
        read = {l: _polynomial_terms(e, symbols, index) for l, e in enumerate(self.expressions)}
        polys = {l: t for l, t in read.items() if t is not None}
        self._poly_outputs = tuple(polys)
        self._tree_outputs = tuple(l for l in range(self.d_x) if l not in polys)
        monomials = sorted({m for t in polys.values() for m in t})
        row = {m: r for r, m in enumerate(monomials)}
        coeffs = np.zeros((len(monomials), len(polys)))
        for c, t in enumerate(polys.values()):
            for m, a in t.items():
                coeffs[row[m], c] = a
        self._max_power = max((max(m) for m in monomials), default=0)
        self.register_buffer("exponents", torch.tensor(monomials, dtype=torch.long).reshape(
            len(monomials), self.d_z), persistent=False)
        self.register_buffer("coefficients", torch.tensor(coeffs, dtype=torch.float64),
                             persistent=False)
        outputs = torch.tensor(self._poly_outputs + self._tree_outputs, dtype=torch.long)
        self.register_buffer("_inverse", torch.argsort(outputs), persistent=False)
        tree = [self.expressions[l] for l in self._tree_outputs]
        replacements, reduced = sympy.cse(tree, optimizations=None)
        self._replacements = tuple(replacements)
        self._reduced = tuple(reduced)
        self._check_translatable()

    def _check_translatable(self) -> None:
        probe = torch.zeros(1, self.d_z, dtype=self.dtype)
        with torch.no_grad():
            self._evaluate(probe)

    def _polynomial_part(self, z: Tensor) -> Tensor:
        """Polynomial outputs as (monomials) @ (coefficients): (..., n_poly).

        Powers z_i^p are built by repeated multiplication (p <= max degree) and each monomial
        is a product over the d_z latents of gathered powers, so torch.func sees only
        multiplications, gathers and one matrix product.
        """
        powers = [torch.ones_like(z)]
        for _ in range(self._max_power):
            powers.append(powers[-1] * z)
        table = torch.stack(powers, dim=-1)
        monomial = table[..., 0, self.exponents[:, 0]]
        for i in range(1, self.d_z):
            monomial = monomial * table[..., i, self.exponents[:, i]]
        return monomial @ self.coefficients.to(z.dtype)

    def _evaluate(self, z: Tensor) -> Tensor:
        parts = []
        if self._poly_outputs:
            parts.append(self._polynomial_part(z))
        if self._tree_outputs:
            columns = {s: z[..., i] for i, s in enumerate(self.slots.symbols)}
            tr = _Translator(columns)
            for symbol, expr in self._replacements:
                tr.cache[symbol] = tr(expr)
            zero = torch.zeros_like(z[..., 0])
            parts.append(torch.stack([zero + tr(e) for e in self._reduced], dim=-1))
        return torch.cat(parts, dim=-1)[..., self._inverse]

    def forward(self, z: Tensor) -> Tensor:
        """``z: (..., d_z) -> (..., d_x)``."""
        if z.shape[-1] != self.d_z:
            raise GeneratorError(
                f"generator expects {self.d_z} latents (slots {self.slot_sizes}), "
                f"got input of shape {tuple(z.shape)}"
            )
        if not z.is_floating_point():
            z = z.to(self.dtype)
        return self._evaluate(z)

    def extra_repr(self) -> str:
        return f"slot_sizes={self.slot_sizes}, d_x={self.d_x}"


def from_sympy(f: object, slots: Slots | None = None, dtype: torch.dtype = torch.float64
               ) -> TorchGenerator:
    """Translate a sympy generator into a :class:`TorchGenerator`.

    ``f``: a sympy Matrix / sequence of expressions in the symbols of ``slots`` (d_x outputs),
    or an object with ``.f`` and ``.slots`` (a ``theory.generators.Generator``), in which case
    ``slots`` may be omitted. Raises :class:`GeneratorError` for unsupported functions and
    :class:`SlotError` for symbols outside the slots.
    """
    order = None
    if isinstance(f, SymbolicGenerator) and not isinstance(f, sympy.Basic):
        order = getattr(f, "order", None)
        slots = slots if slots is not None else f.slots
        f = f.f
    if slots is None:
        raise GeneratorError("from_sympy needs slots unless f is a theory Generator")
    if not isinstance(slots, Slots):
        raise GeneratorError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise GeneratorError(f"dtype must be a floating torch dtype, got {dtype}")
    matrix = slots.check_generator(f)
    return TorchGenerator(matrix, slots, dtype=dtype, order=order)
