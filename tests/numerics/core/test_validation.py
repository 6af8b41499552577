"""numerics.core.validation: one definition of an integer / a real number, the package's
messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics.core.errors import ConfigError, DataError
from numerics.core.validation import (
    check_slot_sizes,
    finite_at_least,
    int_at_least,
    is_int,
    is_real,
    non_negative_int,
    open_fraction,
    optional_int_at_least,
    positive_finite,
    positive_int,
    positive_sizes,
)


def test_bools_are_neither_integers_nor_reals_and_numpy_numbers_are_both() -> None:
    assert is_int(3) and is_int(np.int64(3)) and not is_int(True) and not is_int(3.0)
    assert is_real(3) and is_real(2.5) and is_real(np.float32(1)) and is_real(math.nan)
    assert not is_real(False) and not is_real("1") and not is_real(None)


def test_integers_are_returned_as_python_ints() -> None:
    value = int_at_least("steps", np.int64(5), 0)
    assert value == 5 and type(value) is int
    assert positive_int("hidden", 1) == 1 and non_negative_int("order", 0) == 0
    assert optional_int_at_least("hidden", None, 1) is None


@pytest.mark.parametrize("call, message", [
    (lambda: int_at_least("steps", -1, 0), "steps must be an integer >= 0, got -1"),
    (lambda: int_at_least("n_val", True, 16), "n_val must be an integer >= 16, got True"),
    (lambda: positive_int("d_x", 0), "d_x must be a positive integer, got 0"),
    (lambda: non_negative_int("order", 1.0), "order must be a non-negative integer, got 1.0"),
    (lambda: optional_int_at_least("hidden", 0, 1, what="a positive integer"),
     "hidden must be a positive integer or None, got 0"),
    (lambda: finite_at_least("weight_decay", -0.5), "weight_decay must be a finite number >= 0, "
                                                    "got -0.5"),
    (lambda: finite_at_least("cross_penalty", math.inf), "cross_penalty must be a finite number"),
    (lambda: positive_finite("lr", 0), "lr must be a positive finite number, got 0"),
    (lambda: positive_finite("lr", math.nan), "lr must be a positive finite number, got nan"),
    (lambda: open_fraction("explore_fraction", 1.0), r"explore_fraction must lie in \(0, 1\)"),
])
def test_messages(call, message) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


def test_slot_sizes() -> None:
    assert positive_sizes("slot_sizes", [2, np.int64(1)]) == (2, 1)
    assert positive_sizes("slot_sizes", np.array([3, 3])) == (3, 3)
    for bad in ([], [0, 1], [1, True], "21", 3, None, {1: 1}):
        with pytest.raises(ConfigError, match="slot_sizes must be positive integers"):
            positive_sizes("slot_sizes", bad)
    with pytest.raises(DataError, match="true_sizes must be a non-empty list"):
        positive_sizes("true_sizes", (), what="a non-empty list", error=DataError)
    assert check_slot_sizes((2, np.int64(3))) == (2, 3)
    with pytest.raises(ConfigError, match=r"^slot_sizes must be a non-empty list of positive "
                                          r"integers, got"):
        check_slot_sizes([2, 0])
