"""The torch operations that a :class:`numerics.core.taylor.Jet` propagates, by the rule it uses.

Operations are named as torch functions and Tensor methods are (``__name__``):
:data:`STRUCTURAL` ones are linear in their one Jet argument (indexing, reshapes, sums, ...)
and act on every term; :data:`SPLITS` return several linear pieces; :data:`JOINTLY_LINEAR`
ones are linear in all their Jet arguments together (``stack``, ``cat``); :data:`PRODUCTS`
follow Leibniz' rule; :data:`ELEMENTWISE` smooth functions follow Faa di Bruno's formula;
:data:`CONSTANT` ones are piecewise constant (comparisons, rounding, shapes), so they see only
the primal term. Anything else is unsupported and the caller falls back to nested jvp. Adding a
torch operation is one entry here.
"""

from __future__ import annotations

# operation names (torch functions and Tensor methods by __name__) -------------------------------
STRUCTURAL = frozenset({
    "__getitem__", "reshape", "view", "permute", "transpose", "t", "unsqueeze", "squeeze",
    "flatten", "unflatten", "expand", "expand_as", "broadcast_to", "sum", "mean", "select",
    "index_select", "narrow", "movedim", "moveaxis", "contiguous", "clone", "to", "float",
    "double", "repeat", "repeat_interleave", "flip", "roll", "diagonal", "diag_embed", "tril",
    "triu", "neg", "negative", "__neg__", "take_along_dim", "gather", "swapaxes", "swapdims",
    "cumsum", "trace", "view_as", "reshape_as", "squeeze_", "type_as",
})


SPLITS = frozenset({"split", "chunk", "unbind", "tensor_split"})


JOINTLY_LINEAR = frozenset({"stack", "cat", "concat", "concatenate", "hstack", "vstack"})


PRODUCTS = frozenset({"mul", "multiply", "__mul__", "__rmul__", "matmul", "__matmul__",
                       "__rmatmul__", "mm", "bmm", "einsum", "outer", "inner", "dot", "mv",
                       "tensordot", "kron"})


ELEMENTWISE = frozenset({
    "tanh", "sigmoid", "sin", "cos", "tan", "exp", "exp2", "expm1", "log", "log1p", "log2",
    "log10", "sqrt", "rsqrt", "reciprocal", "silu", "gelu", "softplus", "elu", "selu", "celu",
    "mish", "logsigmoid", "erf", "erfc", "atan", "asin", "acos", "sinh", "cosh", "asinh",
    "acosh", "atanh", "square", "relu", "leaky_relu", "abs", "absolute", "arctan", "arcsin",
    "arccos", "arcsinh", "arccosh", "arctanh", "sinc", "lgamma", "digamma", "hardtanh",
})


CONSTANT = frozenset({"zeros_like", "ones_like", "full_like", "empty_like", "gt", "lt", "ge",
                       "le", "eq", "ne", "__gt__", "__lt__", "__ge__", "__le__", "__eq__",
                       "__ne__", "isnan", "isfinite", "isinf", "sign", "signbit",
                       "new_zeros", "new_ones", "new_full", "new_empty", "new_tensor",
                       "floor", "ceil", "round", "trunc", "argmax", "argmin", "argsort",
                       "size", "dim", "numel", "greater", "less"})


def operation_name(func: object) -> str:
    """The ``__name__`` of a torch function or method (empty when it has none)."""
    return getattr(func, "__name__", "") or ""
