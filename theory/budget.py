"""Time budgets for exact computations that have no useful size bound up front.

Sizes are bounded before work starts where a size can be computed (theory.parsing: literal
exponents, polynomial degree, file size; theory.ambiguity: field degree and unknowns). What
remains (sympy simplification, expansion of a large but admissible expression) is bounded in
time: :func:`time_budget` raises :class:`theory.errors.BudgetError` inside the computation once
``seconds`` have passed. It uses ``SIGALRM``, so it works in the main thread on POSIX systems and
is a no-op elsewhere (where the caller's own timeout applies).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator

from theory.errors import BudgetError

__all__ = ["time_budget"]


@contextlib.contextmanager
def time_budget(seconds: float | None, what: str = "the computation",
                hint: str = "raise the time budget") -> Iterator[None]:
    """Stop the block with :class:`BudgetError` after ``seconds`` (None: no limit).

    ``what`` and ``hint`` go into the message ("``what`` stopped after the time budget of
    ``seconds`` s; ``hint``"). Nested budgets: the inner one is honoured and the outer one is
    restored afterwards (its remaining time is not extended).
    """
    if seconds is None:
        yield
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            math.isfinite(seconds) and seconds > 0):
        raise BudgetError(f"a time budget must be a positive number of seconds, got {seconds!r}")
    if not hasattr(signal, "setitimer") or threading.current_thread() is not (
            threading.main_thread()):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise BudgetError(f"{what} stopped after the time budget of {seconds:g} s; {hint}")

    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, min(float(seconds), outer_left or math.inf))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # give the enclosing budget what is left of it
            remaining = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, remaining))
