"""Exception types of the numerical side (all subclasses of InteractionAsymmetryError)."""

from __future__ import annotations

from theory.errors import InteractionAsymmetryError


class ConfigError(InteractionAsymmetryError, ValueError):
    """A configuration value is invalid (unknown decoder, negative steps, bad device, ...)."""


class CheckpointError(InteractionAsymmetryError, RuntimeError):
    """A checkpoint cannot be read or does not match the model it is loaded into."""


class DataError(InteractionAsymmetryError, ValueError):
    """Arrays given to a metric or model have the wrong shape, dtype or contents."""


class DivergenceError(InteractionAsymmetryError, FloatingPointError):
    """Training produced a non-finite loss (learning rate too high, data out of range, ...)."""


class SweepError(InteractionAsymmetryError, RuntimeError):
    """A sweep cannot go on: its results file is busy or a worker process died."""
