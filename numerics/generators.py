"""Generators as torch functions: sympy generators translated exactly, and neural generators.

Two families cross the bridge from the theory side to training:

* :func:`from_sympy` translates a sympy generator f(z) (a column of expressions in the slots'
  symbols) into a batched torch module, node by node over the expression tree (after common
  subexpression elimination). What the theory proves about f is what the numerics trains on.
* :func:`make_generator` builds seeded neural generators of a prescribed interaction order n
  across slots (docs/theory.md section 2): n = 0 (each output depends on one slot), n = 1 (additive,
  f = sum_k f_k(z_{B_k})), n = 2 (additive + bilinear cross-slot terms in the latents) and any
  n >= 2 (additive + cross-slot monomials of degree <= n, at least one of degree n).

:func:`certify_order` checks the order of any torch generator with exact cross-slot derivatives
(numerics.derivatives): cross derivatives of order n + 1 vanish, those of order n do not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from torch import nn

from numerics.errors import ConfigError
from theory.errors import GeneratorError
from theory.slots import Slots

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
        e = int(exponent)
        if isinstance(base, float):
            return base**e
        if e == 1:
            return base
        if e == -1:
            return torch.reciprocal(base)
        return torch.pow(base, e)
    if exponent == sympy.S.Half:
        return math.sqrt(base) if isinstance(base, float) else torch.sqrt(base)
    if exponent == -sympy.S.Half:
        return 1.0 / math.sqrt(base) if isinstance(base, float) else torch.rsqrt(base)
    e = ev(exponent)
    if isinstance(base, float) and isinstance(e, float):
        return base**e
    if isinstance(base, float):
        return torch.exp(e * math.log(base))
    return torch.pow(base, e)


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
            masks = [self._condition(c) for c in cond.args]
            return _fold(masks, op)
        if isinstance(cond, sympy.Not):
            return torch.logical_not(self._condition(cond.args[0]))
        raise GeneratorError(f"unsupported Piecewise condition {cond}")


def _fold(values: list, op: Callable) -> _Value:
    """Combine values left to right, adding Python floats together before touching tensors."""
    floats = [v for v in values if isinstance(v, float)]
    tensors = [v for v in values if not isinstance(v, float)]
    out: _Value | None = None
    for t in tensors:
        out = t if out is None else op(out, t)
    if floats:
        c = floats[0]
        for v in floats[1:]:
            c = op(c, v)
        out = c if out is None else op(out, c)
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
        order = torch.tensor(self._poly_outputs + self._tree_outputs, dtype=torch.long)
        self.register_buffer("_inverse", torch.argsort(order), persistent=False)
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
    if hasattr(f, "f") and hasattr(f, "slots") and not isinstance(f, sympy.Basic):
        order = getattr(f, "order", None)
        f, slots = f.f, slots if slots is not None else f.slots
    if slots is None:
        raise GeneratorError("from_sympy needs slots unless f is a theory Generator")
    if not isinstance(slots, Slots):
        raise GeneratorError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise GeneratorError(f"dtype must be a floating torch dtype, got {dtype}")
    matrix = slots.check_generator(f)
    return TorchGenerator(matrix, slots, dtype=dtype, order=order)


# ---------------------------------------------------------------------------------------------

def _smooth_leaky(x: Tensor) -> Tensor:
    """Strictly increasing smooth activation (x + tanh x) / 2, slope in [1/2, 1]."""
    return 0.5 * (x + torch.tanh(x))


def _orthogonal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal columns or rows (QR of a Gaussian matrix)."""
    big, small = max(rows, cols), min(rows, cols)
    q, r = np.linalg.qr(rng.standard_normal((big, small)))
    q = q * np.sign(np.diag(r))
    return q if rows >= cols else q.T


def _check_sizes(slot_sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(slot_sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in sizes):
        raise ConfigError(f"slot_sizes must be a non-empty list of positive integers, got "
                          f"{slot_sizes!r}")
    return tuple(int(s) for s in sizes)


class _SlotMLPs(nn.Module):
    """K per-slot networks evaluated together: ``z: (batch, d_z) -> (batch, K, width)``.

    Slot k's latents are scattered into a zero-padded (batch, K, d_max) tensor; each layer is a
    batched matrix product with per-slot weights, so slot k's
    features depend on z_{B_k} only and no Python loop runs over slots (matmul broadcasting
    over the slot axis: (..., K, 1, d) @ (K, d, e)). The first ``depth``
    layers are square orthogonal maps on each slot (a diffeomorphism of R^{d_k} with the strictly
    increasing activation), followed by an orthonormal lift to ``hidden`` features.
    """

    def __init__(self, sizes: tuple[int, ...], hidden: int, depth: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        k_slots, d_max = len(sizes), max(sizes)
        self.hidden = hidden
        index = torch.zeros(k_slots, d_max, dtype=torch.long)
        valid = torch.zeros(k_slots, d_max, dtype=torch.bool)
        offset = 0
        for k, n in enumerate(sizes):
            index[k, :n] = torch.arange(offset, offset + n)
            valid[k, :n] = True
            offset += n
        self.register_buffer("index", index)
        self.register_buffer("valid", valid)
        square = np.zeros((depth, k_slots, d_max, d_max))
        lift = np.zeros((k_slots, d_max, hidden))
        for k, n in enumerate(sizes):
            for layer in range(depth):
                square[layer, k, :n, :n] = 1.5 * _orthogonal(n, n, rng)
            lift[k, :n, :] = math.sqrt(hidden / n) * _orthogonal(n, hidden, rng)
        self.square = nn.Parameter(torch.tensor(square))
        self.square_bias = nn.Parameter(torch.tensor(0.3 * rng.standard_normal((depth, k_slots,
                                                                               d_max))))
        self.lift = nn.Parameter(torch.tensor(lift))
        self.lift_bias = nn.Parameter(torch.tensor(0.3 * rng.standard_normal((k_slots, hidden))))

    def forward(self, z: Tensor) -> Tensor:
        h = (z[..., self.index] * self.valid.to(z.dtype)).unsqueeze(-2)
        for layer in range(self.square.shape[0]):
            h = _smooth_leaky(h @ self.square[layer].to(z.dtype)
                              + self.square_bias[layer].to(z.dtype).unsqueeze(-2))
        h = h @ self.lift.to(z.dtype) + self.lift_bias.to(z.dtype).unsqueeze(-2)
        return torch.tanh(h.squeeze(-2))


class NeuralGenerator(nn.Module):
    """Seeded neural generator of interaction order ``order`` across slots.

    ``z: (batch, d_z) -> (batch, d_x)``:

    * order 0: x_l = g_{s(l)}(z_{B_{s(l)}})_l, every output l reads exactly one slot s(l)
      (``output_slot``); slot k gets about d_x * d_k / d_z outputs (at least d_k).
    * order 1: x = sum_k W_k g_k(z_{B_k}) (additive).
    * order >= 2: the additive part plus P(z) = C m(z), where m(z) are cross-slot monomials
      (products of latents from >= 2 slots) of degree <= order, at least one of degree exactly
      ``order``; for order 2 these are all bilinear terms z_i z_j, i, j in different slots, so
      P(z) = sum_{k<k'} z_{B_k}^T W_{kk'} z_{B_k'} per output.

    The per-slot networks g_k are well conditioned: square orthogonal layers with the strictly
    increasing smooth activation (x + tanh x)/2, an orthonormal lift and tanh features.
    """

    def __init__(self, order: int, slot_sizes: Sequence[int], d_x: int, seed: int,
                 hidden: int = 64, depth: int = 2, n_monomials: int = 16) -> None:
        super().__init__()
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
            raise ConfigError(f"order must be a non-negative integer, got {order!r}")
        sizes = _check_sizes(slot_sizes)
        d_z = sum(sizes)
        if isinstance(d_x, bool) or not isinstance(d_x, (int, np.integer)) or d_x < 1:
            raise ConfigError(f"d_x must be a positive integer, got {d_x!r}")
        if order == 0 and d_x < d_z:
            raise ConfigError(f"order 0 needs d_x >= d_z = {d_z} (each slot needs at least as "
                              f"many outputs as latents), got d_x={d_x}")
        if order >= 2 and len(sizes) < 2:
            raise ConfigError(f"order {order} needs at least 2 slots for cross-slot terms")
        for name, value in (("hidden", hidden), ("depth", depth), ("n_monomials", n_monomials)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        rng = np.random.default_rng(seed)
        self.order = int(order)
        self.slot_sizes = sizes
        self.d_z, self.d_x, self.seed = d_z, int(d_x), seed
        self.slot_networks = _SlotMLPs(sizes, hidden, depth, rng)
        k_slots = len(sizes)
        if order == 0:
            counts = _split_outputs(sizes, d_x)
            output_slot = np.repeat(np.arange(k_slots), counts)
            output_slot = output_slot[rng.permutation(d_x)]
            readout = rng.standard_normal((k_slots, hidden, d_x)) / math.sqrt(hidden)
            readout = readout * (output_slot[None, None, :] == np.arange(k_slots)[:, None, None])
            self.register_buffer("output_slot", torch.tensor(output_slot))
        else:
            readout = rng.standard_normal((k_slots, hidden, d_x)) / math.sqrt(hidden * k_slots)
        self.readout = nn.Parameter(torch.tensor(readout))
        self.bias = nn.Parameter(torch.tensor(0.1 * rng.standard_normal(d_x)))
        monomials = _cross_monomials(sizes, order, n_monomials, rng) if order >= 2 else []
        self.monomials: tuple[tuple[int, ...], ...] = tuple(monomials)
        if monomials:
            width = max(len(m) for m in monomials)
            index = torch.full((len(monomials), width), d_z, dtype=torch.long)
            for r, m in enumerate(monomials):
                index[r, :len(m)] = torch.tensor(m)
            self.register_buffer("monomial_index", index)
            coeffs = rng.standard_normal((len(monomials), d_x)) / math.sqrt(len(monomials))
            self.interaction = nn.Parameter(torch.tensor(coeffs))

    def forward(self, z: Tensor) -> Tensor:
        """``z: (..., d_z) -> (..., d_x)``."""
        if z.shape[-1] != self.d_z:
            raise ConfigError(f"generator expects {self.d_z} latents, got shape {tuple(z.shape)}")
        features = self.slot_networks(z).flatten(-2)
        x = features @ self.readout.to(z.dtype).flatten(0, 1)
        x = x + self.bias.to(z.dtype)
        if self.monomials:
            padded = torch.cat([z, torch.ones_like(z[..., :1])], dim=-1)
            m = padded[..., self.monomial_index[:, 0]]
            for position in range(1, self.monomial_index.shape[1]):
                m = m * padded[..., self.monomial_index[:, position]]
            x = x + m @ self.interaction.to(z.dtype)
        return x


def _split_outputs(sizes: tuple[int, ...], d_x: int) -> np.ndarray:
    """Outputs per slot: proportional to slot size, at least the slot size, summing to d_x."""
    sizes_arr = np.array(sizes)
    counts = np.maximum(sizes_arr, np.floor(d_x * sizes_arr / sizes_arr.sum()).astype(int))
    while counts.sum() > d_x:
        counts[np.argmax(counts - sizes_arr)] -= 1
    counts[np.argmin(counts / sizes_arr)] += d_x - counts.sum()
    return counts


def _cross_monomials(sizes: tuple[int, ...], order: int, per_degree: int,
                     rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Cross-slot monomials (sorted latent index tuples touching >= 2 slots).

    Degree 2: all cross-slot pairs. Degrees 3..order: ``per_degree`` random ones each (all of
    them if fewer exist); degree ``order`` always contributes at least one.
    """
    slot_of = np.repeat(np.arange(len(sizes)), sizes)
    d_z = len(slot_of)
    chosen: list[tuple[int, ...]] = []
    for degree in range(2, order + 1):
        tuples = [t for t in itertools.combinations_with_replacement(range(d_z), degree)
                  if len(set(slot_of[list(t)])) >= 2]
        if degree > 2 and len(tuples) > per_degree:
            picks = rng.choice(len(tuples), size=per_degree, replace=False)
            tuples = [tuples[i] for i in sorted(picks)]
        chosen.extend(tuples)
    return chosen


def make_generator(order: int, slot_sizes: Sequence[int], d_x: int, seed: int,
                   hidden: int = 64, depth: int = 2, n_monomials: int = 16
                   ) -> NeuralGenerator:
    """Seeded neural generator of interaction order ``order`` (see :class:`NeuralGenerator`).

    ``hidden``: per-slot feature width; ``depth``: square layers per slot; ``n_monomials``:
    random cross-slot monomials per degree 3..order. Same seed, same weights.
    """
    return NeuralGenerator(order, slot_sizes, d_x, seed, hidden=hidden, depth=depth,
                           n_monomials=n_monomials)


@dataclass(frozen=True)
class OrderCertificate:
    """Result of :func:`certify_order`.

    ``vanishing``: max over the points of the order-(n+1) cross-slot derivative norm (n = 0:
    the compositional contrast); ``present``: min over the points of the order-n norm (n = 1:
    compositional contrast; n = 0: the Jacobian norm); ``scale``: max Jacobian norm;
    ``certified``: vanishing <= tol * scale and present > tol * scale.
    """

    order: int
    vanishing: float
    present: float
    scale: float
    tol: float
    certified: bool


def certify_order(gen: Callable[[Tensor], Tensor], z: Tensor,
                  slot_sizes: Sequence[int] | None = None, order: int | None = None,
                  tol: float = 1e-10) -> OrderCertificate:
    """Certify that ``gen`` has interaction order exactly ``order`` at the points ``z``.

    ``z: (batch, d_z)``, evaluated in its dtype (use float64). Order n >= 1: the cross-slot
    derivatives of order n + 1 vanish (relative to the Jacobian scale, ``tol``) and those of
    order n do not (order 1 uses the compositional contrast, which must be non-zero). Order 0:
    the compositional contrast vanishes. ``slot_sizes``/``order`` default to the generator's.
    """
    from numerics.derivatives import compositional_contrast, cross_derivative_norms, jacobian

    sizes = _check_sizes(slot_sizes if slot_sizes is not None else gen.slot_sizes)
    n = order if order is not None else getattr(gen, "order", None)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"certify_order needs a finite non-negative integer order, got {n!r}")
    n = int(n)
    jac_norms = jacobian(gen, z).detach().flatten(1).norm(dim=1)
    scale = float(jac_norms.max())
    if n == 0:
        vanishing = float(compositional_contrast(gen, z, sizes).detach().max())
        present = float(jac_norms.min())
    else:
        vanishing = float(cross_derivative_norms(gen, z, sizes, n + 1).detach().max())
        low = compositional_contrast(gen, z, sizes) if n == 1 else cross_derivative_norms(
            gen, z, sizes, n)
        present = float(low.detach().min())
    certified = vanishing <= tol * scale and present > tol * scale
    return OrderCertificate(n, vanishing, present, scale, tol, certified)
