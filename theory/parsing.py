"""Whitelist parser: user strings -> exact sympy expressions, never ``eval``/``sympify``.

The expression language is a small, safe subset of Python syntax, parsed with :mod:`ast` and
rebuilt node by node:

* numbers: integers -> ``sympy.Integer``; decimals and scientific notation -> the exact
  ``sympy.Rational`` of their decimal text ("0.1" -> 1/10, "2e-3" -> 1/500);
* names: the slot symbols and the constants ``pi`` and ``E``;
* unary ``+``/``-``; binary ``+ - * / **`` (``^`` is refused with a hint to use ``**``);
* calls of one positional argument to the functions of :data:`FUNCTIONS`:
  exp, log, sqrt, sin, cos, tan, sinh, cosh, tanh, atan and sigmoid(x) = 1 / (1 + exp(-x)).

Everything else (attribute access, subscripts, lambdas, comprehensions, strings, keywords,
unknown names, ``abs`` - not differentiable at 0, so outside the smooth setting of the theory -
...) raises :class:`ParseError` with a one-line reason naming the offending piece. Powers are
bounded (|numeric exponent| <= :data:`MAX_EXPONENT`) so that a string like ``9**9**9`` cannot
exhaust memory, and a result that is infinite, undefined or complex is refused.
"""

from __future__ import annotations

import ast
import decimal
import keyword
from collections.abc import Callable, Sequence
from pathlib import Path

import sympy

from theory.errors import ParseError, SlotError
from theory.slots import Slots

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEGREE",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "parse_expression",
    "parse_generator",
    "parse_slots",
    "read_expression_file",
]

MAX_LENGTH = 20_000
MAX_EXPONENT = 256
MAX_DIGITS = 10_000
#: Largest |e| of a decimal literal m*10^e (1e5000 would be a 5000-digit integer).
MAX_LITERAL_EXPONENT = 300
#: Largest expression file read (a BOM is allowed; /dev/zero is not read forever).
MAX_FILE_BYTES = 4_000_000
#: Largest polynomial degree an expression may reach (bounded without expanding it).
MAX_DEGREE = 64


def _sigmoid(x: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-x))


FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "atan": sympy.atan,
    "sigmoid": _sigmoid,
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}

_REFUSED_FUNCTIONS = {
    "abs": "abs is not differentiable at 0 and the theory needs smooth generators",
}

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def _describe(node: ast.AST, text: str) -> str:
    segment = ast.get_source_segment(text, node)
    return repr(segment) if segment else type(node).__name__


class _Builder:
    """Rebuilds a whitelisted AST as a sympy expression."""

    def __init__(self, text: str, names: dict[str, sympy.Expr]) -> None:
        self.text = text
        self.names = names

    def fail(self, node: ast.AST, reason: str) -> ParseError:
        return ParseError(f"{reason}: {_describe(node, self.text)} in {self.text!r}")

    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id in FUNCTIONS:
                raise self.fail(node, f"function {node.id} used without an argument")
            raise self.fail(node, "unknown name (not a slot symbol, pi or E)")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand)
            raise self.fail(node, f"unsupported unary operator {type(node.op).__name__}")
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"unsupported syntax ({type(node).__name__})")

    def number(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"unsupported constant of type {type(value).__name__}")
        if isinstance(value, int):
            return sympy.Integer(value)
        literal = (ast.get_source_segment(self.text, node) or repr(value)).replace("_", "")
        try:
            size = decimal.Decimal(literal).adjusted()
        except (decimal.InvalidOperation, ValueError):
            raise self.fail(node, "number that is not a finite decimal") from None
        if abs(size) > MAX_LITERAL_EXPONENT:
            raise self.fail(node, f"number of magnitude 10^{size}: decimal exponents are "
                                  f"limited to +-{MAX_LITERAL_EXPONENT}")
        try:
            return sympy.Rational(literal)
        except (TypeError, ValueError):
            raise self.fail(node, "number that is not a finite decimal") from None

    def binary(self, node: ast.BinOp) -> sympy.Expr:
        if isinstance(node.op, ast.BitXor):
            raise self.fail(node, "'^' is not a power here: write x**2")
        if isinstance(node.op, ast.Pow):
            base, exponent = self.build(node.left), self.build(node.right)
            if exponent.is_number:
                if not exponent.is_real or abs(exponent) > MAX_EXPONENT:
                    raise self.fail(node, f"exponent must be a real number of size at most"
                                          f" {MAX_EXPONENT}")
                if base.is_Rational and base != 0:
                    digits = len(str(abs(base.p))) + len(str(base.q))
                    if digits * abs(exponent) > MAX_DIGITS:
                        raise self.fail(node, f"number with more than {MAX_DIGITS} digits")
            return base**exponent
        op = _BINARY.get(type(node.op))
        if op is None:
            raise self.fail(node, f"unsupported operator {type(node.op).__name__}")
        return op(self.build(node.left), self.build(node.right))

    def call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "only calls of whitelisted functions by name are allowed")
        name = node.func.id
        if name in _REFUSED_FUNCTIONS:
            raise self.fail(node, _REFUSED_FUNCTIONS[name])
        if name not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise self.fail(node, f"function {name!r} is not allowed (allowed: {allowed})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.fail(node, f"{name} takes exactly one positional argument")
        return FUNCTIONS[name](self.build(node.args[0]))


def _names_of(slots: Slots) -> dict[str, sympy.Expr]:
    names: dict[str, sympy.Expr] = dict(CONSTANTS)
    for s in slots.symbols:
        name = str(s)
        if name in CONSTANTS or name in FUNCTIONS:
            raise ParseError(f"slot symbol {name!r} clashes with a constant or function name")
        names[name] = s
    return names


def parse_expression(text: str, slots: Slots) -> sympy.Expr:
    """Parse one expression in the whitelisted language over the slot symbols of ``slots``.

    Returns an exact sympy expression (decimals become Rationals). Raises :class:`ParseError`
    naming the offending piece for anything outside the language (module docstring) and for
    results that are infinite, undefined or complex (e.g. ``1/0``, ``sqrt(-1)``).
    """
    if not isinstance(slots, Slots):
        raise ParseError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    if not isinstance(text, str):
        raise ParseError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ParseError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as err:
        raise ParseError(f"not a valid expression {_short(text)}: {err.__class__.__name__}"
                         ) from None
    builder = _Builder(text.strip(), _names_of(slots))
    try:
        expr = builder.build(tree.body)
    except RecursionError:
        raise ParseError(f"expression nested too deeply: {text[:60]!r}") from None
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise ParseError(f"expression is infinite or undefined (division by zero?): "
                         f"{_short(text)}")
    if expr.has(sympy.I):
        raise ParseError(f"expression is complex-valued: {_short(text)} gives "
                         f"{_short(str(expr))}")
    if expr.is_real is False or expr.is_extended_real is False:
        raise ParseError(f"expression is not real for any real input: {_short(text)}")
    degree = _degree_bound(expr, {})
    if degree > MAX_DEGREE:
        raise ParseError(f"expression {_short(text)} reaches polynomial degree {degree}, above "
                         f"the budget of {MAX_DEGREE} (theory.parsing.MAX_DEGREE)")
    return expr


def _short(text: str, limit: int = 80) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters (error lines stay short)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f" ... ({len(text)} chars)"


def _degree_bound(e: sympy.Basic, memo: dict[sympy.Basic, int]) -> int:
    """An upper bound on the polynomial degree of ``e`` without expanding it: symbols 1,
    numbers 0, sums the max, products the sum, integer powers n * degree; function
    arguments count as their own degree."""
    hit = memo.get(e)
    if hit is not None:
        return hit
    if e.is_Symbol:
        value = 1
    elif not e.args:
        value = 0
    elif isinstance(e, sympy.Mul):
        value = sum(_degree_bound(a, memo) for a in e.args)
    elif isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp > 0:
        value = int(e.exp) * _degree_bound(e.base, memo)
    else:
        value = max(_degree_bound(a, memo) for a in e.args)
    memo[e] = value
    return value


def parse_generator(texts: Sequence[str], slots: Slots) -> sympy.Matrix:
    """Parse one expression per output into a generator column ``sympy.Matrix`` (d_x, 1)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ParseError("a generator is a sequence of expression strings, one per output")
    if not texts:
        raise ParseError("a generator needs at least one output expression")
    out = []
    for l, text in enumerate(texts):
        try:
            out.append(parse_expression(text, slots))
        except ParseError as err:
            raise ParseError(f"output {l}: {err}") from None
    return sympy.Matrix(out)


def parse_slots(text: str) -> Slots:
    """Parse ``"x1,x2 | y1,y2"`` into :class:`Slots` of real symbols (``|`` separates slots).

    Names must be Python identifiers that are not keywords, constants (pi, E) or function
    names; an empty slot or a repeated name raises :class:`SlotError`.
    """
    if not isinstance(text, str):
        raise SlotError(f"slots must be given as a string like 'x1,x2 | y1', got {text!r}")
    if not text.strip():
        raise SlotError("empty slot specification: write e.g. 'x1,x2 | y1,y2'")
    blocks = []
    for k, part in enumerate(text.split("|")):
        names = [n.strip() for n in part.split(",")]
        if not any(names):
            raise SlotError(f"slot {k} is empty in {text!r}")
        for name in names:
            if not name:
                raise SlotError(f"slot {k} has an empty name (stray comma?) in {text!r}")
            if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
                raise SlotError(f"{name!r} is not a valid symbol name (use letters, digits, _)")
            if name in CONSTANTS or name in FUNCTIONS or name in _REFUSED_FUNCTIONS:
                raise SlotError(f"{name!r} is reserved (a constant or function name)")
        blocks.append([sympy.Symbol(n, real=True) for n in names])
    return Slots(blocks)


def read_expression_file(path: str | Path) -> list[str]:
    """Expression strings from a text file: one per line, ``#`` starts a comment, blank lines
    are skipped. Raises :class:`ParseError` if the file is missing, unreadable or empty."""
    p = Path(path)
    try:
        with p.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ParseError(f"expression file {p} is larger than {MAX_FILE_BYTES} bytes "
                             f"(theory.parsing.MAX_FILE_BYTES)")
        content = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise ParseError(f"expression file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParseError(f"cannot read expression file {p}: {err}") from None
    lines = [line.split("#", 1)[0].strip() for line in content.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ParseError(f"expression file {p} contains no expressions")
    return lines


def parse_slot_sizes(text: str, min_slots: int = 1) -> tuple[int, ...]:
    """Slot sizes from ``"KxM"`` (K slots of M latents: ``"3x2"`` -> (2, 2, 2)) or a
    comma-separated list (``"2,1,3"`` -> (2, 1, 3)).

    Raises :class:`ParseError` for anything else, for sizes < 1 and for fewer than
    ``min_slots`` slots.
    """
    spec = text.strip().lower()
    try:
        if "x" in spec:
            count, size = (int(p) for p in spec.split("x"))
            sizes = (size,) * count
        else:
            sizes = tuple(int(p) for p in spec.split(","))
    except ValueError:
        raise ParseError(f"slot sizes {text!r}: write KxM (K slots of M latents, e.g. 3x2) or a"
                         " comma-separated list of sizes (e.g. 2,1,3)") from None
    if len(sizes) < min_slots or any(s < 1 for s in sizes):
        raise ParseError(f"slot sizes {text!r}: need >= {min_slots} slot(s) of size >= 1")
    return sizes
