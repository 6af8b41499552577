"""Multivariate Taylor mode: propagate many partial derivatives of a torch function at once.

A *term set* is a list of multisets M of latent indices (sorted tuples, the empty one first)
closed under taking sub-multisets. A :class:`Jet` holds, for a tensor-valued quantity y computed
from z, the partial derivatives

    coeffs[t] = d^{|M_t|} y / dz_{M_t}      for every term M_t,   coeffs: (n_terms, *y.shape)

(``coeffs[0]`` is y itself). A function written with ordinary torch operations is evaluated on
a Jet by ``__torch_function__`` dispatch, and every operation maps the input coefficients to the
output coefficients exactly:

* operations that are linear in their Jet arguments (matrix products with constant matrices,
  sums, indexing, reshapes, ``stack``, ``cat``, ``where`` with a constant mask) act on every
  term; affine constants (biases, added constant tensors) only reach the primal term;
* a product of two Jets (``mul``, ``matmul``, ...) follows Leibniz' rule for multi-indices,

      d_M (u v) = sum_{S <= M} prod_i C(M_i, S_i) d_S u  d_{M-S} v,

  over the sub-multisets S of M;
* a smooth elementwise function y = phi(x) (tanh, SiLU, sin, exp, log, powers, ...) follows
  Faa di Bruno's formula over the set partitions pi of the |M| positions of M,

      d_M phi(x) = sum_pi phi^{(|pi|)}(x) prod_{B in pi} d_{M_B} x,

  with phi^{(r)} obtained by r nested ``torch.func.jvp`` of phi itself along the tangent 1, so
  every elementwise torch function that forward-mode AD supports is covered by one rule.

Partitions that give the same product (repeated indices) are merged with integer weights. The
arithmetic is plain torch, so the result is differentiable in the function's parameters and can
run under ``torch.func.vmap``. An operation outside these rules raises :class:`Unsupported`;
:mod:`numerics.core.derivatives` then falls back to nested ``jvp``.

Cost: every linear layer costs ``n_terms`` times its forward pass (one matrix product of
``n_terms`` stacked rows), an elementwise nonlinearity ``sum_r r * P_r`` products of
activation-sized tensors (P_r: merged partitions with r blocks,
:attr:`numerics.core.jet_terms.TermSet.fdb_products`). The term sets and their tables are in
:mod:`numerics.core.jet_terms`, the two formulas on coefficient stacks in
:mod:`numerics.core.jet_formulas`, the derivatives of elementwise functions in
:mod:`numerics.core.elementwise_derivatives`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch.func import vmap

from numerics.core.jet_formulas import faa_di_bruno, leibniz
from numerics.core.jet_operations import (
    CONSTANT,
    ELEMENTWISE,
    JOINTLY_LINEAR,
    PRODUCTS,
    SPLITS,
    STRUCTURAL,
    operation_name,
)
from numerics.core.jet_terms import TermSet

Tensor = torch.Tensor

__all__ = ["Jet", "Unsupported", "evaluate"]


class Unsupported(TypeError):
    """The function uses an operation that :class:`Jet` cannot propagate (caller falls back)."""


class Jet:
    """Partial derivatives of a tensor y with respect to z for a closed term set.

    ``coeffs: (n_terms, *y.shape)`` with ``coeffs[t] = d_{terms[t]} y``; ``terms``: the
    :class:`TermSet`; ``degree``: every term of order above it is known to be zero (1 for the
    input z, kept by linear maps, so the first nonlinearity skips the partitions with larger
    blocks). Behaves like y under torch functions, operators and the Tensor methods listed in
    this module; anything else raises :class:`Unsupported`.
    """

    __slots__ = ("coeffs", "degree", "terms")

    def __init__(self, coeffs: Tensor, terms: TermSet, degree: int | None = None) -> None:
        self.coeffs, self.terms = coeffs, terms
        self.degree = terms.max_order if degree is None else min(degree, terms.max_order)

    # tensor-like metadata (of the primal) ------------------------------------------------------
    @property
    def primal(self) -> Tensor:
        """y itself: ``coeffs[0]``."""
        return self.coeffs[0]

    @property
    def shape(self) -> torch.Size:
        return self.coeffs.shape[1:]

    @property
    def dtype(self) -> torch.dtype:
        return self.coeffs.dtype

    @property
    def device(self) -> torch.device:
        return self.coeffs.device

    @property
    def ndim(self) -> int:
        return self.coeffs.ndim - 1

    @property
    def T(self) -> Jet:
        return _apply("t" if self.ndim == 2 else "permute", lambda x: x.T, (self,), {})

    @property
    def mT(self) -> Jet:
        return _apply("transpose", lambda x: x.mT, (self,), {})

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        return self.shape[0]

    def is_floating_point(self) -> bool:
        return True

    def __bool__(self) -> bool:
        raise Unsupported("the truth value of a Jet is not defined (data-dependent control flow)")

    def __repr__(self) -> str:
        return f"Jet(shape={tuple(self.shape)}, terms={len(self.terms.terms)})"

    # dispatch ---------------------------------------------------------------------------------
    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        return _apply(operation_name(func), func, tuple(args), dict(kwargs or {}))

    def __getattr__(self, name: str) -> Callable[..., object]:
        method = getattr(torch.Tensor, name, None)
        known = STRUCTURAL | SPLITS | ELEMENTWISE | CONSTANT | PRODUCTS | {"pow", "add", "sub",
                                                                           "div", "where"}
        if method is None or name not in known:
            raise Unsupported(f"Tensor.{name} is not supported on a Jet")
        return lambda *a, **k: _apply(name, method, (self, *a), k)

    def __add__(self, other: object) -> Jet:
        return _apply("add", torch.add, (self, other), {})

    def __radd__(self, other: object) -> Jet:
        return _apply("add", torch.add, (other, self), {})

    def __sub__(self, other: object) -> Jet:
        return _apply("sub", torch.sub, (self, other), {})

    def __rsub__(self, other: object) -> Jet:
        return _apply("sub", torch.sub, (other, self), {})

    def __mul__(self, other: object) -> Jet:
        return _apply("mul", torch.mul, (self, other), {})

    def __rmul__(self, other: object) -> Jet:
        return _apply("mul", torch.mul, (other, self), {})

    def __truediv__(self, other: object) -> Jet:
        return _apply("div", torch.div, (self, other), {})

    def __rtruediv__(self, other: object) -> Jet:
        return _apply("div", torch.div, (other, self), {})

    def __matmul__(self, other: object) -> Jet:
        return _apply("matmul", torch.matmul, (self, other), {})

    def __rmatmul__(self, other: object) -> Jet:
        return _apply("matmul", torch.matmul, (other, self), {})

    def __pow__(self, other: object) -> Jet:
        return _apply("pow", torch.pow, (self, other), {})

    def __rpow__(self, other: object) -> Jet:
        return _apply("pow", torch.pow, (other, self), {})

    def __neg__(self) -> Jet:
        return Jet(-self.coeffs, self.terms, self.degree)

    def __pos__(self) -> Jet:
        return self

    def __getitem__(self, index: object) -> Jet:
        return _apply("__getitem__", torch.Tensor.__getitem__, (self, index), {})

    def __gt__(self, other: object) -> Tensor:
        return self.primal > _primal(other)

    def __lt__(self, other: object) -> Tensor:
        return self.primal < _primal(other)

    def __ge__(self, other: object) -> Tensor:
        return self.primal >= _primal(other)

    def __le__(self, other: object) -> Tensor:
        return self.primal <= _primal(other)


def _primal(x: Any) -> Any:
    return x.primal if isinstance(x, Jet) else x


def _tree_map(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        return type(obj)(_tree_map(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _tree_map(fn, v) for k, v in obj.items()}
    return fn(obj)


def _jets_in(obj: Any) -> list[Jet]:
    found: list[Jet] = []
    _tree_map(lambda o: found.append(o) if isinstance(o, Jet) else None, obj)
    return found


def _termwise(func: Callable[..., Any], args: tuple, kwargs: dict, terms: TermSet,
              zero_constants: bool) -> Jet | tuple[Jet, ...]:
    """Apply a linear (jointly in its Jet arguments) ``func`` to every term via vmap.

    Constant floating tensors and numbers stand for zero in the non-primal terms when
    ``zero_constants`` (summands, stacked pieces); otherwise they are parameters of the map.
    """
    jets = _jets_in((args, kwargs))
    n = len(terms.terms)
    primal = func(*_tree_map(_primal, args), **_tree_map(_primal, kwargs))

    def slot(o: Any) -> Any:
        return ("jet", jets.index(o)) if isinstance(o, Jet) else o

    a_marked, k_marked = _tree_map(slot, args), _tree_map(slot, kwargs)

    def rebuild(values: tuple[Tensor, ...]) -> tuple[Any, Any]:
        def put(o: Any) -> Any:
            if isinstance(o, tuple) and len(o) == 2 and o[0] == "jet":
                return values[o[1]]
            if zero_constants and isinstance(o, Tensor) and o.is_floating_point():
                return torch.zeros_like(o)
            if zero_constants and isinstance(o, float):
                return 0.0
            return o
        return _tree_map_marked(put, a_marked), _tree_map_marked(put, k_marked)

    def one(*values: Tensor) -> Any:
        a, k = rebuild(values)
        return func(*a, **k)

    rest = vmap(one)(*(j.coeffs[1:] for j in jets)) if n > 1 else None
    degree = max(j.degree for j in jets)
    if isinstance(primal, Tensor):
        coeffs = primal[None] if rest is None else torch.cat([primal[None], rest])
        return Jet(coeffs, terms, degree)
    if isinstance(primal, (tuple, list)):
        return tuple(Jet(p[None] if rest is None else torch.cat([p[None], r]), terms, degree)
                     for p, r in zip(primal, rest if rest is not None else primal, strict=True))
    raise Unsupported(f"{operation_name(func)} returned {type(primal).__name__}, not a tensor")


def _tree_map_marked(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "jet":
        return fn(obj)
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        return type(obj)(_tree_map_marked(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _tree_map_marked(fn, v) for k, v in obj.items()}
    return fn(obj)


def _faa_di_bruno(phi: Callable[[Tensor], Tensor], x: Jet, name: str = "") -> Jet:
    """Jet of phi(x) for an elementwise phi (:func:`numerics.core.jet_formulas.faa_di_bruno`)."""
    coeffs = faa_di_bruno(phi, x.coeffs, x.terms, x.degree, name)
    return Jet(coeffs, x.terms, 0 if x.degree == 0 else None)


def _leibniz(op: Callable[[Tensor, Tensor], Tensor], u: Jet, v: Jet) -> Jet:
    """Jet of the bilinear op(u, v) (:func:`numerics.core.jet_formulas.leibniz`)."""
    return Jet(leibniz(op, u.coeffs, v.coeffs, u.terms, u.degree, v.degree), u.terms,
               u.degree + v.degree)


def _as_jet(x: Any, like: Jet) -> Jet:
    """A constant as a Jet (zero derivatives)."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    zeros = t.new_zeros((len(like.terms.terms) - 1, *t.shape))
    return Jet(torch.cat([t[None], zeros]), like.terms, 0)


def _apply(name: str, func: Any, args: tuple, kwargs: dict) -> Any:
    """One torch operation on Jet arguments (see the module docstring for the rules)."""
    jets = _jets_in((args, kwargs))
    if not jets:
        return func(*args, **kwargs)
    ts = jets[0].terms
    if any(j.terms is not ts for j in jets):
        raise Unsupported("Jets of different term sets cannot be combined")
    if name in CONSTANT:
        return func(*_tree_map(_primal, args), **_tree_map(_primal, kwargs))
    if name in STRUCTURAL or name in SPLITS:
        if len(jets) != 1 or not isinstance(args[0], Jet):
            raise Unsupported(f"{name} with {len(jets)} Jet arguments")
        return _termwise(func, args, kwargs, ts, zero_constants=False)
    if name in JOINTLY_LINEAR:
        return _termwise(func, args, kwargs, ts, zero_constants=True)
    if name == "where":
        if isinstance(args[0], Jet):
            raise Unsupported("where with a Jet condition")
        return _termwise(func, args, kwargs, ts, zero_constants=True)
    if name in ("add", "sub", "__add__", "__radd__", "__sub__", "__rsub__", "rsub"):
        return _add(name, args, kwargs)
    if name == "linear":
        return _linear(args, kwargs)
    if name in PRODUCTS:
        return _product(name, func, args, kwargs)
    if name in ("div", "true_divide", "divide", "__truediv__", "__rtruediv__"):
        if kwargs.get("rounding_mode") is not None:
            raise Unsupported("div with a rounding mode")
        num, den = args[0], args[1]
        if name == "__rtruediv__":
            num, den = den, num
        if not isinstance(den, Jet):
            return _product("mul", torch.mul, (num, 1.0 / den if not isinstance(den, Tensor)
                                               else den.reciprocal()), {})
        inv = _faa_di_bruno(torch.reciprocal, den)
        return _product("mul", torch.mul, (num, inv), {})
    if name in ("pow", "__pow__", "float_power"):
        base, exponent = args[0], args[1]
        if isinstance(base, Jet) and not isinstance(exponent, Jet):
            return _faa_di_bruno(lambda x: torch.pow(x, exponent), base)
        log_base = (_faa_di_bruno(torch.log, base) if isinstance(base, Jet)
                    else _as_jet(torch.log(torch.as_tensor(base, dtype=exponent.dtype)),
                                 exponent))
        return _faa_di_bruno(torch.exp, _product("mul", torch.mul, (exponent, log_base), {}),
                             "exp")
    if name in ELEMENTWISE:
        if len(jets) != 1 or not isinstance(args[0], Jet):
            raise Unsupported(f"{name} with Jet arguments other than the first")
        rest = args[1:]
        plain = not rest and all(k == "inplace" and not v for k, v in kwargs.items())
        return _faa_di_bruno(lambda x: func(x, *rest, **kwargs), args[0],
                             name if plain else "")
    raise Unsupported(f"torch operation {name or func!r} is not supported on a Jet")


def _add(name: str, args: tuple, kwargs: dict) -> Jet:
    a, b = args[0], args[1]
    if name in ("__radd__",):
        a, b = b, a
    alpha = kwargs.get("alpha", 1)
    sign = -1 if name in ("sub", "__sub__", "__rsub__", "rsub") else 1
    if name in ("__rsub__", "rsub"):
        a, b = b, a
    like = a if isinstance(a, Jet) else b
    ja = a if isinstance(a, Jet) else None
    jb = b if isinstance(b, Jet) else None
    primal = _primal(a) + sign * alpha * _primal(b)
    rest = None
    if ja is not None:
        rest = ja.coeffs[1:]
    if jb is not None:
        tail = (sign * alpha) * jb.coeffs[1:]
        rest = tail if rest is None else rest + tail
    if rest is None:
        raise Unsupported(f"{name} without a Jet argument")
    rest = rest.expand(rest.shape[0], *torch.broadcast_shapes(rest.shape[1:], primal.shape))
    degree = max(j.degree for j in (ja, jb) if j is not None)
    return Jet(torch.cat([primal[None], rest]), like.terms, degree)


def _linear(args: tuple, kwargs: dict) -> Jet:
    x = args[0]
    weight = args[1] if len(args) > 1 else kwargs.get("weight")
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    if not isinstance(x, Jet) or not isinstance(weight, Tensor) or isinstance(bias, Jet):
        raise Unsupported("linear with a Jet weight or bias")
    rest = torch.nn.functional.linear(x.coeffs[1:], weight)
    primal = torch.nn.functional.linear(x.coeffs[0], weight, bias)
    return Jet(torch.cat([primal[None], rest]), x.terms, x.degree)


def _product(name: str, func: Any, args: tuple, kwargs: dict) -> Jet:
    jets = _jets_in((args, kwargs))
    if name in ("__rmul__", "__rmatmul__"):
        args = (args[1], args[0])
    op = torch.matmul if "matmul" in name or name in ("mm", "bmm", "mv") else func
    if name in ("mul", "multiply", "__mul__", "__rmul__"):
        op = torch.mul
    if len(jets) == 1:
        jet = jets[0]
        if op is torch.mul and len(args) == 2 and not kwargs:
            other = args[1] if args[0] is jet else args[0]
            if not isinstance(other, Tensor) or other.ndim <= jet.ndim:
                return Jet(jet.coeffs * other, jet.terms, jet.degree)
        if op is torch.matmul and len(args) == 2 and args[0] is jet and not kwargs:
            other = args[1]
            if isinstance(other, Tensor) and other.ndim <= 2 and jet.ndim >= 2:
                return Jet(jet.coeffs @ other, jet.terms, jet.degree)
        out = _termwise(op, args, kwargs, jet.terms, zero_constants=False)
        if not isinstance(out, Jet):
            raise Unsupported(f"{name} returned several tensors")
        return out
    if len(jets) == 2 and len(args) == 2 and not kwargs and op in (torch.mul, torch.matmul):
        return _leibniz(op, args[0], args[1])
    if len(jets) == 2 and name == "einsum" and len(args) == 3:
        return _leibniz(lambda p, q: torch.einsum(args[0], p, q), args[1], args[2])
    raise Unsupported(f"{name} of {len(jets)} Jets")


def evaluate(f: Callable[[Tensor], Tensor], z: Tensor, terms: TermSet,
             directions: Tensor | None = None) -> Tensor:
    """All partials ``d_M f(z)`` for the terms M of ``terms``: ``(n_terms, batch, d_x)``.

    ``f``: batched torch function ``(batch, d_z) -> (batch, d_x)``; ``z: (batch, d_z)``. Term
    (k,) is the derivative along direction k: by default e_k (``directions`` = identity), else
    row k of ``directions: (n_directions, d_z)`` or, per sample, ``(n_directions, batch, d_z)``
    (then a term M is the mixed directional derivative along the directions it names). Higher
    input terms are zero. Raises :class:`Unsupported` when ``f`` uses an operation outside the
    rules.
    """
    n, (batch, d_z) = len(terms.terms), z.shape
    if directions is None:
        directions = torch.eye(d_z, dtype=z.dtype, device=z.device)
    if directions.ndim == 2:
        directions = directions[:, None, :].expand(-1, batch, -1)
    seed = z.new_zeros(n - 1, batch, d_z)
    first = [(k, terms.index[(k,)]) for k in range(directions.shape[0]) if (k,) in terms.index]
    if first:
        rows = torch.tensor([t - 1 for _, t in first], device=z.device)
        seed = seed.index_copy(0, rows, directions[[k for k, _ in first]].to(z.dtype))
    # a Jet stands in for the tensor z: f's torch operations reach it by __torch_function__
    out: object = f(cast(Tensor, Jet(torch.cat([z[None], seed]), terms, 1)))
    if not isinstance(out, Jet):
        if isinstance(out, Tensor):  # f does not depend on z
            return torch.cat([out[None], out.new_zeros(n - 1, *out.shape)])
        raise Unsupported(f"f returned {type(out).__name__}")
    return out.coeffs
