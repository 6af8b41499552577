"""Time budgets for exact computations that have no useful size bound up front.

Sizes are bounded before work starts where a size can be computed (theory.parsing: literal
exponents, polynomial degree, file size; theory.ambiguity: field degree and unknowns). What
remains (sympy simplification, expansion of a large but admissible expression, a rank over a
field of rational functions) is bounded in time: :func:`time_budget` raises
:class:`theory.errors.BudgetError` inside the computation once ``seconds`` have passed. It uses
``SIGALRM``, so it works in the main thread on POSIX systems and is a no-op elsewhere (where the
caller's own timeout applies).

Budgets nest. The timer always runs to the earliest deadline of the open budgets, and the error
raised names the *outermost* budget whose deadline has passed; its ``scope`` attribute is the
object that budget's ``with`` statement yielded. A stage that turns its own expiry into an
answer ("undecided within the budget") therefore catches only errors of its own scope and lets
an enclosing budget's error through (:func:`expired_here`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from theory.errors import BudgetError

__all__ = ["BudgetScope", "expired_here", "time_budget"]


@dataclass(eq=False)
class BudgetScope:
    """One open budget: what it limits, its length in seconds and its monotonic deadline."""

    what: str
    seconds: float
    hint: str
    deadline: float


_OPEN: list[BudgetScope] = []  # open budgets of the main thread, outermost first


def expired_here(err: BudgetError, scope: BudgetScope | None) -> bool:
    """True iff ``err`` was raised because the budget ``scope`` itself ran out."""
    return scope is not None and err.scope is scope


def _expire(signum: int, frame: object) -> None:
    now = time.monotonic()
    due = [b for b in _OPEN if b.deadline <= now + 1e-3] or _OPEN[-1:]
    if not due:  # pragma: no cover - a stray alarm after every budget closed
        return
    owner = due[0]
    # fire again shortly in case the error is swallowed where it lands (a gc callback, a
    # __del__): the budget must not vanish; leaving the budget's block switches this off
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    err = BudgetError(f"{owner.what} stopped after the time budget of {owner.seconds:g} s;"
                      f" {owner.hint}")
    err.scope = owner
    raise err


def _arm() -> None:
    """Run the timer to the earliest open deadline (off when none is open)."""
    if not _OPEN:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    left = min(b.deadline for b in _OPEN) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(1e-3, left))


@contextlib.contextmanager
def time_budget(seconds: float | None, what: str = "the computation",
                hint: str = "raise the time budget") -> Iterator[BudgetScope | None]:
    """Stop the block with :class:`BudgetError` after ``seconds`` (None: no limit).

    ``what`` and ``hint`` go into the message ("``what`` stopped after the time budget of
    ``seconds`` s; ``hint``"). Yields the :class:`BudgetScope` (None when there is no limit or
    no timer in this thread). Nested budgets: the earliest deadline fires first, the error
    names the outermost expired budget, and an outer budget's remaining time is never extended.
    """
    if seconds is None:
        yield None
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            math.isfinite(seconds) and seconds > 0):
        raise BudgetError(f"a time budget must be a positive number of seconds, got {seconds!r}")
    if not hasattr(signal, "setitimer") or threading.current_thread() is not (
            threading.main_thread()):
        yield None
        return
    scope = BudgetScope(what, float(seconds), hint, time.monotonic() + float(seconds))
    first = not _OPEN
    previous = signal.signal(signal.SIGALRM, _expire) if first else None
    _OPEN.append(scope)
    _arm()
    try:
        yield scope
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _OPEN.remove(scope)
        if first:
            signal.signal(signal.SIGALRM, previous)
        else:
            _arm()
