"""Exact symbolic core of interaction-asymmetry (sympy only, never torch).

Answers, exactly, the questions a theorist asks of a generator f : z -> x whose latents are
split into slots: its interaction order across slots, whether it is sufficiently independent
within slots, which reparametrizations keep it in its class, and what the theorems of
Brady et al. (ICLR 2025) then predict.

Public names are loaded lazily (PEP 562), so that ``import theory.errors`` (done by every
process of a sweep and by the command line) does not import the whole symbolic stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AmbiguityResult": "theory.ambiguity",
    "Counterexample": "theory.certificates",
    "ambiguities": "theory.ambiguity",
    "ConjectureReport": "theory.conjecture_report",
    "DiscreteResult": "theory.discrete",
    "discrete_ambiguities": "theory.discrete",
    "run_conjecture": "theory.conjecture",
    "AnalysisError": "theory.errors",
    "ExactnessWarning": "theory.errors",
    "GeneratorError": "theory.errors",
    "InteractionAsymmetryError": "theory.errors",
    "ParseError": "theory.errors",
    "SlotError": "theory.errors",
    "Generator": "theory.generators",
    "IndependenceResult": "theory.rank_certificates",
    "sufficient_independence": "theory.independence",
    "CrossDerivative": "theory.order",
    "cross_derivatives": "theory.order",
    "has_order_at_most": "theory.order",
    "interaction_order": "theory.order",
    "parse_expression": "theory.parsing",
    "parse_generator": "theory.parsing",
    "parse_slots": "theory.parsing",
    "Report": "theory.report",
    "analyze": "theory.report",
    "Slots": "theory.slots",
}
_MODULES = ("counterexamples", "generators", "strategies")  # strategies needs hypothesis

__all__ = sorted([*_EXPORTS, "counterexamples", "generators"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"theory.{name}")
    else:
        raise AttributeError(f"module 'theory' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
