import pytest
import sympy

from theory import GeneratorError, SlotError, Slots


def test_from_sizes_makes_fresh_real_symbols_in_slot_order():
    slots = Slots.from_sizes(2, 3)
    assert slots.K == 2
    assert slots.sizes == (2, 3)
    assert slots.dim == 5
    assert [str(s) for s in slots.symbols] == ["z1_1", "z1_2", "z2_1", "z2_2", "z2_3"]
    assert all(s.is_real for s in slots.symbols)
    assert slots.slot_of == (0, 0, 1, 1, 1)
    assert slots.offsets == (0, 2, 5)
    assert str(slots) == "z1_1,z1_2 | z2_1,z2_2,z2_3"


def test_slot_lookup_and_membership():
    x, y = sympy.symbols("x y")
    slots = Slots([[x], [y]])
    assert slots.slot(y) == 1
    assert x in slots
    with pytest.raises(SlotError, match="belongs to no slot"):
        slots.slot(sympy.Symbol("w"))


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([], "at least one slot"),
        ([[sympy.Symbol("x")], []], "slot 1 is empty"),
        ([[sympy.Symbol("x")], [sympy.Symbol("x")]], "slots 0 and 1"),
        ([[sympy.Symbol("x"), sympy.Symbol("x")]], "twice in the same slot"),
        ([[sympy.Symbol("x") + 1]], "not a sympy Symbol"),
        ([["x"]], "not a sympy Symbol"),
        ("xy", "sequence of symbol sequences"),
        ([sympy.Symbol("x")], "must be a sequence of sympy symbols"),
    ],
)
def test_invalid_partitions_are_clear_errors(blocks, message):
    with pytest.raises(SlotError, match=message):
        Slots(blocks)


@pytest.mark.parametrize("sizes", [(), (0,), (2, -1), (1.5,), (True,)])
def test_from_sizes_rejects_bad_sizes(sizes):
    with pytest.raises(SlotError):
        Slots.from_sizes(*sizes)


def test_check_generator_accepts_matrix_sequence_and_numbers():
    slots = Slots.from_sizes(1, 1)
    a, b = slots.symbols
    assert slots.check_generator(sympy.Matrix([[a, b]])).shape == (2, 1)
    f = slots.check_generator([a * b, 3, 0.5])
    assert f.shape == (3, 1)
    assert f[1] == 3 and f[2] == sympy.Rational(1, 2)


def test_check_generator_rejects_unknown_symbols_with_a_hint_about_assumptions():
    slots = Slots.from_sizes(1, 1)
    plain = sympy.Symbol("z1_1")  # same name, no real=True
    with pytest.raises(SlotError, match="same name but other assumptions"):
        slots.check_generator([plain])
    with pytest.raises(SlotError, match="belong to no slot: w"):
        slots.check_generator([sympy.Symbol("w")])


@pytest.mark.parametrize("bad", ["x + y", None, [], [object()], [sympy.Eq(sympy.Symbol("a"), 1)]])
def test_check_generator_rejects_non_expressions(bad):
    slots = Slots([[sympy.Symbol("a")]])
    with pytest.raises(GeneratorError):
        slots.check_generator(bad)
