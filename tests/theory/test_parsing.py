import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import ParseError, SlotError
from theory.parsing import (
    parse_expression,
    parse_generator,
    parse_slots,
    read_expression_file,
)

SLOTS = parse_slots("x1,x2 | y1")
X1, X2, Y1 = SLOTS.symbols


def test_parse_slots_gives_real_symbols_in_slot_order():
    slots = parse_slots(" a , b| c ")
    assert slots.sizes == (2, 1)
    assert [str(s) for s in slots.symbols] == ["a", "b", "c"]
    assert all(s.is_real for s in slots.symbols)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1, x1 | y", "twice"),
        ("x | x", "overlap"),
        ("x | ", "empty"),
        ("x,,y", "empty name"),
        ("1x | y", "not a valid symbol"),
        ("x | lambda", "not a valid symbol"),
        ("pi | y", "reserved"),
        ("exp | y", "reserved"),
        ("", "empty"),
    ],
)
def test_parse_slots_rejects_bad_specifications(text, message):
    with pytest.raises(SlotError, match=message):
        parse_slots(text)


def test_numbers_are_exact_rationals_of_their_decimal_text():
    assert parse_expression("0.1", SLOTS) == sympy.Rational(1, 10)
    assert parse_expression("2e-3", SLOTS) == sympy.Rational(1, 500)
    assert parse_expression("1_000", SLOTS) == 1000
    assert parse_expression("0.1*x1 + 3", SLOTS) == X1 / 10 + 3


def test_whitelisted_functions_and_constants():
    expr = parse_expression("exp(x1) - log(y1) + sigmoid(x2) * sqrt(2) + atan(pi) + E", SLOTS)
    expected = (sympy.exp(X1) - sympy.log(Y1) + sympy.sqrt(2) / (1 + sympy.exp(-X2))
                + sympy.atan(sympy.pi) + sympy.E)
    assert sympy.simplify(expr - expected) == 0
    trig = parse_expression("sin(x1)*cos(x2)+tan(y1)-tanh(x1)+sinh(x2)*cosh(y1)", SLOTS)
    assert trig == (sympy.sin(X1) * sympy.cos(X2) + sympy.tan(Y1) - sympy.tanh(X1)
                    + sympy.sinh(X2) * sympy.cosh(Y1))
    assert parse_expression("-x1**2/+y1", SLOTS) == -X1**2 / Y1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os')", "not allowed"),
        ("x1.__class__", "Attribute"),
        ("().__class__", "Attribute"),
        ("lambda: 1", "Lambda"),
        ("[x for x in y1]", "ListComp"),
        ("'x1'", "str"),
        ("open('f')", "not allowed"),
        ("exec('1')", "not allowed"),
        ("x1[0]", "Subscript"),
        ("abs(x1)", "not differentiable"),
        ("exp(x=x1)", "one positional argument"),
        ("log(x1, 2)", "one positional argument"),
        ("exp(*x1)", "one positional argument"),
        ("z9 + 1", "unknown name"),
        ("x1 ^ 2", r"write x\*\*2"),
        ("x1 < 2", "Compare"),
        ("x1 if y1 else x2", "IfExp"),
        ("True", "bool"),
        ("1j", "complex"),
        ("9**9**9", "exponent"),
        ("(10**200)**200", "digits"),
        ("1/0", "infinite or undefined"),
        ("sqrt(-1)", "complex-valued"),
        ("x1 +", "not a valid expression"),
        ("", "empty"),
        ("exp", "without an argument"),
        ("x1; y1", "not a valid expression"),
        ("x1 // y1", "FloorDiv"),
        ("~x1", "Invert"),
        ("getattr(x1, 'p')", "not allowed"),
    ],
)
def test_malicious_or_unsupported_inputs_raise_parse_error(text, reason):
    with pytest.raises(ParseError, match=reason):
        parse_expression(text, SLOTS)


def test_parse_generator_reports_the_failing_output():
    f = parse_generator(["x1*y1", "x2"], SLOTS)
    assert f.shape == (2, 1) and f[0] == X1 * Y1
    with pytest.raises(ParseError, match="output 1"):
        parse_generator(["x1", "x1.real"], SLOTS)
    with pytest.raises(ParseError, match="sequence"):
        parse_generator("x1", SLOTS)
    with pytest.raises(ParseError, match="at least one"):
        parse_generator([], SLOTS)


def test_read_expression_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("# generator\nx1*y1  # cross term\n\n  exp(x2)\n", encoding="utf-8")
    assert read_expression_file(path) == ["x1*y1", "exp(x2)"]
    with pytest.raises(ParseError, match="not found"):
        read_expression_file(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ParseError, match="no expressions"):
        read_expression_file(empty)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="xy12+-*/().,_ eplosinqrtabc'[]:", max_size=30))
def test_parser_either_returns_an_expression_in_the_slots_or_raises_parse_error(text):
    _parses_or_refuses(text)


def _parses_or_refuses(text):
    """parse_expression gives an expression in the slot symbols or raises ParseError."""
    try:
        expr = parse_expression(text, SLOTS)
    except ParseError:
        return
    assert isinstance(expr, sympy.Expr)
    assert expr.free_symbols <= set(SLOTS.symbols)


_ALPHABET = "x1y2 +-*/()**.,e0123456789_'\"[]{}:;=<>!@#$%^&|~`\\\n\t" + "ÿ\ufeff"
_TOKENS = ["x1", "y1", "x2", "exp(", "log(", "sqrt(", "pi", "E", "**", "*", "+", "-", "/",
           "(", ")", "1e400", "9**9**9", "0.5", "__import__", ".", "lambda", "sin(", "2"]


@settings(max_examples=300, deadline=2000)
@given(st.one_of(st.text(alphabet=_ALPHABET, max_size=60),
                 st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join)))
def test_any_text_parses_or_raises_parse_error(text):
    """A malformed-input corpus drawn at random: only a sympy expression or ParseError, fast."""
    _parses_or_refuses(text)


def test_expressions_that_are_never_real_are_refused():
    with pytest.raises(ParseError, match="not real"):
        parse_expression("sqrt(-x1**2-1)", SLOTS)
    assert parse_expression("sqrt(x1**2+1)", SLOTS) == sympy.sqrt(X1**2 + 1)
