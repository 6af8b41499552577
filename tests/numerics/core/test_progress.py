"""Progress reporting: a bar on a terminal, one line per 10 % elsewhere, nothing when quiet."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import numerics.core.progress as progress
from numerics.cli import main
from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import ConfigError
from numerics.core.progress import LOGGER, Progress, configure_logging, logging_setup, track


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def stderr():
    """A non-terminal stderr (pass-through to ``contextlib.redirect_stderr`` inside the test
    via ``with stderr:``), the iasym logger configured as the CLI does; the logger's handlers,
    level and propagation are restored afterwards."""
    saved = (list(LOGGER.handlers), LOGGER.level, LOGGER.propagate)
    configure_logging(quiet=False)
    yield _Redirect()
    LOGGER.handlers[:], LOGGER.level, LOGGER.propagate = saved


class _Redirect:
    """``with redirect:`` sends sys.stderr to a fresh non-terminal stream, kept as ``.stream``."""

    def __init__(self) -> None:
        self.stream = _Stream(tty=False)
        self._ctx = contextlib.redirect_stderr(self.stream)

    def __enter__(self) -> _Stream:
        return self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    def getvalue(self) -> str:
        return self.stream.getvalue()


def _run(total: int, initial: int = 0, **kw: object) -> None:
    with Progress(total, "work", initial=initial, **kw) as bar:
        for done in range(initial + 1, total + 1):
            bar.advance(done)


def _ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that reads 0 at the first call and one second more at every later one."""
    ticks = itertools.count()
    monkeypatch.setattr(progress, "CLOCK", lambda: float(next(ticks)))


def test_one_line_per_tenth_when_not_a_terminal(stderr: _Redirect,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Line k (of 10) comes k seconds after the start: 10 k % done, so 10 - k seconds left."""
    _ticking_clock(monkeypatch)
    with stderr:
        _run(1000)
    lines = stderr.getvalue().splitlines()
    assert lines == [f"work: {10 * k} % ({100 * k}/1000) [{k} s, about {10 - k} s left]"
                     for k in range(1, 10)] + ["work: 100 % (1000/1000) [10 s]"]


def test_resumed_loop_reports_the_remaining_tenths_and_postfix(
        stderr: _Redirect, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate counts the steps of this call only: 1 step in 1 s, 10 steps left."""
    _ticking_clock(monkeypatch)
    with stderr, Progress(20, "fit", initial=9) as bar:
        bar.advance(10, loss="0.5")
        bar.advance(20)
    assert stderr.getvalue().splitlines() == ["fit: 50 % (10/20) loss=0.5 [1 s, about 10 s left]",
                                              "fit: 100 % (20/20) loss=0.5 [2 s]"]


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (59.4, "59 s"), (60, "1 min 00 s"),
                                               (185, "3 min 05 s"), (3599.6, "1 h 00 min"),
                                               (3720, "1 h 02 min"), (-1, "0 s")])
def test_duration(seconds: float, text: str) -> None:
    assert progress.duration(seconds) == text


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 400), data=st.data())
def test_property_at_most_ten_lines(total: int, data: st.DataObject) -> None:
    initial = data.draw(st.integers(0, total))
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    LOGGER.addHandler(handler)
    try:
        _run(total, initial)
    finally:
        LOGGER.removeHandler(handler)
    tenths = {10 * d // total for d in range(initial + 1, total + 1)} - {10 * initial // total}
    assert len(records) == len(tenths) <= 10
    if total >= 10:  # every tenth is reached by some step
        assert len(records) == 10 - 10 * initial // total
    if initial < total:
        assert records[-1].startswith(f"work: 100 % ({total}/{total}) [")


def test_quiet_and_disabled_print_nothing(stderr: _Redirect) -> None:
    with stderr:
        _run(100, enabled=False)
        configure_logging(quiet=True)
        assert logging_setup() is True
        _run(100)
        LOGGER.warning("still shown")
    assert stderr.getvalue() == "still shown\n"
    configure_logging(quiet=False)
    assert logging_setup() is False
    LOGGER.handlers[:] = []  # as in a spawned worker (the fixture restores the handlers)
    assert logging_setup() is None


def test_terminal_gets_a_bar_that_is_removed(stderr: _Redirect,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "_is_terminal", lambda: True)
    with stderr, Progress(50, "bar") as bar:
        assert bar._bar is not None
        bar.advance(25, loss="1")
    assert bar._bar is None
    assert "\n" not in stderr.getvalue().rstrip("\n").replace("\r", "")  # redrawn in place
    assert "bar" in stderr.getvalue()


def test_track_yields_every_item(stderr: _Redirect) -> None:
    with stderr:
        assert list(track(iter("abcd"), 4, "letters")) == ["a", "b", "c", "d"]
    assert stderr.getvalue().splitlines()[-1].startswith("letters: 100 % (4/4) [")


def test_bad_totals() -> None:
    with pytest.raises(ConfigError, match="total"):
        Progress(-1, "x")
    with pytest.raises(ConfigError, match="initial"):
        Progress(5, "x", initial=6)


def test_fit_writes_at_most_ten_lines_to_a_file(stderr: _Redirect) -> None:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)

    def sample(step: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(8, 2, generator=gen)

    def loss_fn(model: nn.Module, x: torch.Tensor, step: int):
        return model(x).square().mean(), {}

    with stderr:
        fit(model, loss_fn, sample, EngineConfig(steps=300, log_every=100, device="cpu"),
            description="tiny")
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stderr.getvalue()
    assert lines[0].startswith("tiny: 10 % (30/300)")
    assert lines[-1].startswith("tiny: 100 % (300/300) loss=")


def test_cli_quiet_flag(stderr: _Redirect, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--quiet", "--slots", "x | y", "x*y", "x + y**2"]) == 0
    assert LOGGER.level == logging.WARNING
    assert "interaction order" in capsys.readouterr().out
