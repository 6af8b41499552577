"""Exact symbolic core of interaction-asymmetry (sympy only, never torch).

Answers, exactly, the questions a theorist asks of a generator f : z -> x whose latents are
split into slots: its interaction order across slots, whether it is sufficiently independent
within slots, which reparametrizations keep it in its class, and what the theorems of
Brady et al. (ICLR 2025) then predict.
"""

from theory import counterexamples, generators
from theory.ambiguity import AmbiguityResult, Counterexample, ambiguities
from theory.conjecture import ConjectureReport, run_conjecture
from theory.errors import (
    AnalysisError,
    GeneratorError,
    InteractionAsymmetryError,
    ParseError,
    SlotError,
)
from theory.generators import Generator
from theory.independence import IndependenceResult, sufficient_independence
from theory.order import (
    CrossDerivative,
    cross_derivatives,
    has_order_at_most,
    interaction_order,
)
from theory.parsing import parse_expression, parse_generator, parse_slots
from theory.report import Report, analyze
from theory.slots import Slots

__all__ = [
    "AmbiguityResult",
    "AnalysisError",
    "ConjectureReport",
    "Counterexample",
    "CrossDerivative",
    "Generator",
    "GeneratorError",
    "IndependenceResult",
    "InteractionAsymmetryError",
    "ParseError",
    "Report",
    "SlotError",
    "Slots",
    "ambiguities",
    "analyze",
    "counterexamples",
    "cross_derivatives",
    "generators",
    "has_order_at_most",
    "interaction_order",
    "parse_expression",
    "parse_generator",
    "parse_slots",
    "run_conjecture",
    "sufficient_independence",
]
