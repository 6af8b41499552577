"""Checks of configuration values and arguments, shared by every module that validates (torch-free).

One definition of "an integer" and "a real number" for the whole package: bools are neither
(``True`` is an ``int`` in Python, never a count here); numpy integers and floats are accepted.
The raising helpers return the value as a plain Python ``int`` / ``float`` / tuple and raise
``error`` (default :class:`numerics.core.errors.ConfigError`;
:class:`numerics.core.errors.DataError` for arrays handed to a metric) with a message of the form
``"<name> must be <what>, got <value!r>"``; the ``optional_`` variants also accept ``None`` (their
message then says ``"... or None"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

import numpy as np

from numerics.core.errors import ConfigError
from theory.errors import InteractionAsymmetryError

__all__ = [
    "check_slot_sizes",
    "finite_at_least",
    "int_at_least",
    "is_int",
    "is_real",
    "non_negative_int",
    "open_fraction",
    "optional_int_at_least",
    "positive_finite",
    "positive_int",
    "positive_sizes",
]

ErrorType = type[InteractionAsymmetryError]


def is_int(value: object) -> TypeGuard[int | np.integer]:
    """An integer that is not a bool (numpy integers included)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[int | float | np.integer | np.floating]:
    """An int or float that is not a bool (numpy numbers included; NaN and inf included)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool))


def _message(name: str, what: str, value: object, optional: bool = False) -> str:
    return f"{name} must be {what}{' or None' if optional else ''}, got {value!r}"


def int_at_least(name: str, value: object, low: int, *, what: str | None = None,
                 error: ErrorType = ConfigError) -> int:
    """``value`` as an int when it is an integer >= ``low``; else ``error("<name> must be an
    integer >= <low>, got ...")`` (``what`` replaces "an integer >= <low>")."""
    if not is_int(value) or value < low:
        raise error(_message(name, what or f"an integer >= {low}", value))
    return int(value)


def optional_int_at_least(name: str, value: object, low: int, *, what: str | None = None,
                          error: ErrorType = ConfigError) -> int | None:
    """:func:`int_at_least` that also accepts ``None`` (message: "... or None")."""
    if value is None:
        return None
    if not is_int(value) or value < low:
        raise error(_message(name, what or f"an integer >= {low}", value, optional=True))
    return int(value)


def positive_int(name: str, value: object, *, error: ErrorType = ConfigError) -> int:
    """An integer >= 1; else ``"<name> must be a positive integer, got ..."``."""
    return int_at_least(name, value, 1, what="a positive integer", error=error)


def non_negative_int(name: str, value: object, *, error: ErrorType = ConfigError) -> int:
    """An integer >= 0; else ``"<name> must be a non-negative integer, got ..."``."""
    return int_at_least(name, value, 0, what="a non-negative integer", error=error)


def positive_sizes(name: str, value: object, *, what: str = "positive integers",
                   error: ErrorType = ConfigError) -> tuple[int, ...]:
    """A non-empty sequence of integers >= 1 (slot sizes) as a tuple of ints; else
    ``"<name> must be <what>, got ..."`` (``what``: e.g. "a non-empty list of positive
    integers"). Strings, mappings and other non-sequences are refused."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise error(_message(name, what, value))
    sizes = tuple(value)
    if not sizes or any(not is_int(s) or s < 1 for s in sizes):
        raise error(_message(name, what, value))
    return tuple(int(s) for s in sizes)


def check_slot_sizes(value: object, name: str = "slot_sizes") -> tuple[int, ...]:
    """Slot sizes (a non-empty sequence of integers >= 1) as a tuple, else :class:`ConfigError`
    ``"slot_sizes must be a non-empty list of positive integers, got ..."``."""
    return positive_sizes(name, value, what="a non-empty list of positive integers")


def finite_at_least(name: str, value: object, low: float = 0.0, *,
                    error: ErrorType = ConfigError) -> float:
    """A finite real number >= ``low``; else ``"<name> must be a finite number >= <low>, got
    ..."``."""
    if not is_real(value) or not (math.isfinite(value) and value >= low):
        raise error(_message(name, f"a finite number >= {low:g}", value))
    return float(value)


def positive_finite(name: str, value: object, *, error: ErrorType = ConfigError) -> float:
    """A finite real number > 0; else ``"<name> must be a positive finite number, got ..."``."""
    if not is_real(value) or not (math.isfinite(value) and value > 0):
        raise error(_message(name, "a positive finite number", value))
    return float(value)


def open_fraction(name: str, value: object, *, error: ErrorType = ConfigError) -> float:
    """A real number in (0, 1); else ``"<name> must lie in (0, 1), got ..."``."""
    if not is_real(value) or not 0.0 < value < 1.0:
        raise error(f"{name} must lie in (0, 1), got {value!r}")
    return float(value)
