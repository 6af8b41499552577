"""Progress and messages: a bar on a terminal, one log line per 10 % elsewhere, nothing if quiet.

Every message of the package goes through the ``iasym`` logger (:data:`LOGGER`). Its level is
INFO unless :func:`configure_logging` says otherwise, so a library user sees what their own
logging configuration lets through, and the CLI (:func:`numerics.cli.main`) attaches one
stderr handler: ``--quiet`` raises the level to WARNING.

A loop of ``total`` steps reports its progress (:class:`Progress`, :func:`track`) when the caller
enables it and the logger is enabled for INFO:

* stderr is a terminal: a ``tqdm`` bar that redraws in place;
* otherwise (a file, a pipe, CI): one INFO line each time another tenth of the steps is done,
  with the time so far and the time left at the rate so far,
  ``desc: 30 % (300/1000) loss=0.0123 [1 min 05 s, about 2 min 32 s left]``, so
  ``iasym demo > log 2>&1`` writes at most 10 lines per loop instead of carriage-return
  fragments, and a long run tells early how long it will take.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from numerics.core.errors import ConfigError
from numerics.core.validation import int_at_least

LOGGER = logging.getLogger("iasym")
LOGGER.setLevel(logging.INFO)
T = TypeVar("T")


class StderrHandler(logging.Handler):
    """Writes each record as one plain line to the *current* ``sys.stderr`` (looked up at
    every record, so a replaced stderr, e.g. a test's capture, is followed)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def configure_logging(quiet: bool = False) -> None:
    """CLI set-up: messages as plain lines on stderr, INFO and above (WARNING if ``quiet``).

    Idempotent: the logger keeps exactly one :class:`StderrHandler` and does not propagate to
    the root logger (no duplicate lines under a user's own configuration).
    """
    if logging_setup() is None:
        LOGGER.addHandler(StderrHandler())
    LOGGER.propagate = False
    LOGGER.setLevel(logging.WARNING if quiet else logging.INFO)


def logging_setup() -> bool | None:
    """The ``quiet`` of the :func:`configure_logging` in effect, or None if it was never called
    (e.g. to repeat the set-up in a spawned worker process, which starts with a bare logger)."""
    if not any(isinstance(h, StderrHandler) for h in LOGGER.handlers):
        return None
    return LOGGER.level > logging.INFO


#: Seconds of the elapsed and remaining times of the progress lines (tests replace it).
CLOCK: Callable[[], float] = time.monotonic


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s`` or ``1 h 02 min`` (rounded to the second)."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def _is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Progress of steps ``initial .. total`` (module docstring for where it goes).

    ``advance(done, **postfix)`` moves to ``done`` completed steps; ``postfix`` values (e.g.
    ``loss="0.0123"``) are shown on the bar or appended to the next line. Use as a context
    manager or call :meth:`close`.
    """

    def __init__(self, total: int, desc: str, *, initial: int = 0, enabled: bool = True,
                 unit: str = "step") -> None:
        int_at_least("progress total", total, 0)
        if not 0 <= initial <= total:
            raise ConfigError(f"progress initial must be in [0, {total}], got {initial!r}")
        self.total, self.desc, self.done = total, desc, initial
        self._initial, self._start = initial, CLOCK()
        self.active = enabled and total > 0 and LOGGER.isEnabledFor(logging.INFO)
        self._bar = None
        self._tenths = 10 * initial // total if total else 0
        self._postfix: dict[str, str] = {}
        if self.active and _is_terminal():
            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False,
                             dynamic_ncols=True, file=sys.stderr)

    def advance(self, done: int, **postfix: str) -> None:
        """Record ``done`` completed steps (monotone) and optional postfix values."""
        if not self.active:
            return
        self._postfix.update(postfix)
        if self._bar is not None:
            self._bar.update(done - self.done)
            if postfix:
                self._bar.set_postfix(self._postfix, refresh=False)
        else:
            tenths = 10 * done // self.total
            if tenths > self._tenths:
                self._tenths = tenths
                extra = "".join(f" {k}={v}" for k, v in self._postfix.items())
                LOGGER.info("%s: %d %% (%d/%d)%s [%s]", self.desc, 10 * tenths, done,
                            self.total, extra, self._times(done))
        self.done = done

    def _times(self, done: int) -> str:
        """Time since the start and, before the end, the time left at the rate so far."""
        elapsed = CLOCK() - self._start
        if done >= self.total:
            return duration(elapsed)
        left = elapsed * (self.total - done) / max(1, done - self._initial)
        return f"{duration(elapsed)}, about {duration(left)} left"

    def close(self) -> None:
        """Remove the bar (terminal); nothing to do for log lines."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[T], total: int, desc: str, *, enabled: bool = True,
          unit: str = "it") -> Iterator[T]:
    """Yield ``items`` (``total`` of them) while reporting progress like :class:`Progress`."""
    with Progress(total, desc, enabled=enabled, unit=unit) as bar:
        for i, item in enumerate(items):
            yield item
            bar.advance(i + 1)
