"""Exception types of the package.

Every error that a user can cause (malformed slots, an expression outside the supported
language, a configuration that makes no sense) is raised as a subclass of
:class:`InteractionAsymmetryError`, with a message that says what was wrong and what to do.
The command line turns these into a one-line message and exit code 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from theory.budget import BudgetScope


class InteractionAsymmetryError(Exception):
    """Base class of every error raised on purpose by this package."""


class SlotError(InteractionAsymmetryError, ValueError):
    """A partition of the latents into slots is invalid (overlap, empty slot, non-symbol, ...)."""


class GeneratorError(InteractionAsymmetryError, ValueError):
    """A generator f is malformed (not expressions, unknown symbols, wrong shape, ...)."""


class ParseError(InteractionAsymmetryError, ValueError):
    """A user expression string is outside the whitelisted expression language."""


class AnalysisError(InteractionAsymmetryError, ValueError):
    """An analysis was asked for with parameters it cannot honour (negative order, ...)."""


class CatalogueError(AnalysisError):
    """An unknown catalogue name or a malformed counterexample entry, witness or exact data."""


class BudgetError(InteractionAsymmetryError, RuntimeError):
    """A computation would exceed, or has exceeded, its size or time budget; the message names
    the limit and how to raise it. ``scope``: the :class:`theory.budget.BudgetScope` whose time
    ran out (None for a size budget or an invalid budget)."""

    scope: BudgetScope | None = None


class ExactnessWarning(UserWarning):
    """An input was made exact before the analysis (e.g. a float coefficient replaced by the
    rational of its decimal text): the results are exact for the changed input."""
