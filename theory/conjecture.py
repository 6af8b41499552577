"""Conjecture runner: is every ambiguity slot-wise for random generators of order N >= 3?

Brady et al. prove slot identifiability for n <= 2 and conjecture it for every n. For each trial
this module draws a seeded random polynomial generator f of exact interaction order N
(:func:`theory.generators.polynomial`), checks exactly that its order is N and that it is
sufficiently independent (:func:`theory.independence.sufficient_independence`), and solves the
infinitesimal ambiguity system at field degree D (:func:`theory.ambiguity.ambiguities`): the
polynomial vector fields v of degree <= D with Df . v in the order-N class. The conjecture
predicts that every solution is slot-wise (dimension == slot-wise dimension).

A trial whose solution space is larger is a *candidate* counterexample: it is saved (exact
coefficients, seed, everything needed to reproduce it) and then verified exactly -- an affine
non-slot-wise direction is integrated (:mod:`theory.ambiguity`) and the resulting map h is
re-checked by :func:`theory.certificates.certify_reparametrization` (exact inverse, h not
slot-wise, f o h of order <= N). Only a trial that passes is called a counterexample; if its
generator is also sufficiently independent of exact order N, it refutes the conjecture.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sympy

from theory import parsing
from theory.ambiguity import AmbiguityResult, ambiguities
from theory.certificates import certify_reparametrization
from theory.class_construction import ClassDraw, class_draw, minimum_outputs
from theory.conjecture_report import ConjectureReport, TrialResult
from theory.discrete import discrete_ambiguities
from theory.errors import AnalysisError
from theory.exact_json import matrix_to_exact, slots_summary
from theory.generators import exp_polynomial, polynomial
from theory.independence import sufficient_independence
from theory.order import interaction_order
from theory.slots import Slots

__all__ = ["DISCRETE_TIMEOUT", "FAMILIES", "check_class_draw", "check_generator",
           "parse_slot_sizes", "run_conjecture", "run_trial"]

#: Seconds the discrete search of one trial may take.
DISCRETE_TIMEOUT = 20.0

#: Generator families of :func:`run_trial`: the function and the reproduce name.
FAMILIES = {"polynomial": "theory.generators.polynomial",
            "exp-polynomial": "theory.generators.exp_polynomial"}


def _check_positive(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AnalysisError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _save_candidate(path: Path, payload: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
    os.replace(tmp, path)


def check_generator(f: object, slots: Slots, order: int, degree: int, *, seed: int = -1,
                    trial: int = 0, name: str = "custom",
                    candidate_dir: str | Path | None = None,
                    reproduce: dict[str, object] | None = None,
                    independence_verified: bool = False, discrete_search: bool = True,
                    discrete_timeout: float | None = DISCRETE_TIMEOUT) -> TrialResult:
    """The conjecture check for one given generator f (d_x, 1) in the latents of ``slots``.

    Verifies exactly that f has order ``order`` (<= N and not <= N - 1) and whether it is
    sufficiently independent at order N, solves the ambiguity system with fields of degree <=
    ``degree``, and, if some solution is not slot-wise, flags a candidate, re-checks the
    integrated map with :func:`theory.certificates.certify_reparametrization` and saves
    everything (``reproduce``: how to rebuild f) to ``candidate_dir``.
    ``independence_verified``: f's sufficient independence at this order was already verified
    exactly by its constructor (as :func:`theory.generators.polynomial` does), so the check is
    not repeated. ``discrete_search``: when every infinitesimal ambiguity is slot-wise, also
    search the coordinate permutations that move latents between slots
    (:func:`theory.discrete.discrete_ambiguities`, at most ``discrete_timeout`` seconds); a
    certified one makes the trial a certified candidate. :data:`RULES_OUT` says what a
    slot-wise trial has excluded.
    """
    timings: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    matrix = slots.check_generator(f)
    t = time.perf_counter()
    order_ok = interaction_order(matrix, slots) == order  # <= N and not <= N - 1, one pass
    timings["order"] = time.perf_counter() - t

    t = time.perf_counter()
    independent: bool | None
    if independence_verified:
        independent, method = True, "verified by the generator's constructor"
    else:
        indep = sufficient_independence(matrix, slots, order=order)
        independent, method = indep.holds, indep.method
    timings["independence"] = time.perf_counter() - t

    t = time.perf_counter()
    amb = ambiguities(matrix, slots, order, degree)
    timings["ambiguity"] = time.perf_counter() - t

    certified, note, candidate_file = False, "every ambiguity is slot-wise", None
    discrete = None
    if amb.is_slotwise and discrete_search:
        t = time.perf_counter()
        discrete = discrete_ambiguities(matrix, slots, order, timeout=discrete_timeout)
        timings["discrete"] = time.perf_counter() - t
        if discrete.counterexample is not None:
            cert = certify_reparametrization(matrix, slots, order, discrete.counterexample.h)
            certified = cert.valid
            note = ("certified discrete ambiguity: " if certified else "re-check FAILED: ") + (
                cert.claim)
    if not amb.is_slotwise:
        t = time.perf_counter()
        note = amb.note
        if amb.counterexample is not None:
            cert = certify_reparametrization(matrix, slots, order, amb.counterexample.h,
                                             amb.counterexample.inverse)
            certified = cert.valid
            note = ("certified: " if certified else "re-check FAILED: ") + cert.claim
        if candidate_dir is not None:
            path = Path(candidate_dir) / f"candidate_{name}_N{order}_D{degree}_seed{seed}.json"
            _save_candidate(path, _candidate_payload(matrix, slots, order, degree, reproduce,
                                                     amb, certified, note))
            candidate_file = str(path)
        timings["certify"] = time.perf_counter() - t

    return TrialResult(
        trial=trial, seed=seed, generator=name, outputs=len(matrix),
        order_verified=order_ok, independent=independent, independence_method=method,
        unknowns=amb.unknowns, equations=amb.equations, dimension=amb.dimension,
        slotwise_dimension=amb.slotwise_dimension, slotwise=amb.is_slotwise,
        candidate=not amb.is_slotwise or certified, certified=certified,
        refutes_conjecture=certified and order_ok and independent is True,
        note=note, seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
        timings=timings,
        candidate_file=candidate_file,
        degree=degree,
        discrete_candidates=None if discrete is None else discrete.candidates,
        discrete_complete=None if discrete is None else discrete.complete,
    )


def check_class_draw(draw: ClassDraw, degree: int, *, seed: int = -1, trial: int = 0,
                     candidate_dir: str | Path | None = None,
                     reproduce: dict[str, object] | None = None,
                     discrete_search: bool = True) -> TrialResult:
    """:func:`check_generator` for f = C m(z) of :func:`theory.class_construction.class_draw`,
    solved through m(z).

    Reduction (exact). The monomials of the draw are the derivative columns, so its full-rank
    certificate of M(z) = C E(z) gives rank C = m: C has a constant left inverse B. For a field
    v, Df . v = C (Dm . v); if every output of Dm . v is in the order-n class (a linear space
    for n >= 1), so is every output of C (Dm . v), and conversely Dm . v = B C (Dm . v). So the
    ambiguity solutions of f are those of m(z) (one output per monomial), and likewise
    f o h = C (m o h) is in the class iff m o h is (the discrete search). f itself is built only
    for a candidate, whose map is
    certified on f. The answer therefore depends on N, the slot sizes and D only, not on C.
    """
    if draw.top != draw.order + 1 or draw.order < 1:
        raise AnalysisError("check_class_draw needs the polynomial class draw (order >= 1,"
                            " top = order + 1)")
    timings: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    slots, order = draw.slots, draw.order
    m = sympy.Matrix(list(draw.monomials))
    t = time.perf_counter()
    # every output holds every monomial with a non-zero coefficient: order 1 if no monomial
    # crosses slots (K >= 2), else the largest degree of a crossing one
    slot_of = slots.slot_of
    cross = [sum(e) for e in draw.exponents
             if len({slot_of[i] for i, x in enumerate(e) if x}) >= 2]
    order_ok = (max(cross) if cross else 1) == order
    timings["order"] = time.perf_counter() - t
    timings["independence"] = 0.0
    t = time.perf_counter()
    amb = ambiguities(m, slots, order, degree)
    timings["ambiguity"] = time.perf_counter() - t
    certified, note, candidate_file = False, "every ambiguity is slot-wise", None
    counterexample = amb.counterexample
    discrete = None
    if amb.is_slotwise and discrete_search:
        t = time.perf_counter()
        discrete = discrete_ambiguities(m, slots, order, timeout=DISCRETE_TIMEOUT)
        timings["discrete"] = time.perf_counter() - t
        counterexample = discrete.counterexample
    if counterexample is not None or not amb.is_slotwise:
        t = time.perf_counter()
        f = draw.expression()
        note = amb.note
        if counterexample is not None:
            cert = certify_reparametrization(f, slots, order, counterexample.h,
                                            counterexample.inverse)
            certified = cert.valid
            note = ("certified: " if certified else "re-check FAILED: ") + cert.claim
        if candidate_dir is not None:
            path = Path(candidate_dir) / f"candidate_polynomial{order}_N{order}_D{degree}" \
                f"_seed{seed}.json"
            _save_candidate(path, _candidate_payload(f, slots, order, degree, reproduce, amb,
                                                     certified, note))
            candidate_file = str(path)
        timings["certify"] = time.perf_counter() - t
    return TrialResult(
        trial=trial, seed=seed, generator=f"polynomial{order}", outputs=len(draw.coefficients),
        order_verified=order_ok, independent=True,
        independence_method="verified by the generator's constructor",
        unknowns=amb.unknowns, equations=amb.equations, dimension=amb.dimension,
        slotwise_dimension=amb.slotwise_dimension, slotwise=amb.is_slotwise,
        candidate=not amb.is_slotwise or certified, certified=certified,
        refutes_conjecture=certified and order_ok,
        note=note + " (system of m(z): C has full column rank)",
        seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
        timings=timings, candidate_file=candidate_file, degree=degree,
        discrete_candidates=None if discrete is None else discrete.candidates,
        discrete_complete=None if discrete is None else discrete.complete,
    )


def run_trial(order: int, slot_sizes: Sequence[int], degree: int, outputs: int | None,
              seed: int, trial: int = 0, candidate_dir: str | Path | None = None,
              family: str = "polynomial", discrete_search: bool = True) -> TrialResult:
    """One trial: draw f = polynomial(order, slot_sizes, outputs, seed) (``family``
    "exp-polynomial": :func:`theory.generators.exp_polynomial`, transcendental slot parts;
    outputs None: the minimum allowing sufficient independence; the constructor verifies order
    and sufficient independence exactly, or raises) and run :func:`check_generator` on it."""
    if family not in FAMILIES:
        raise AnalysisError(f"unknown generator family {family!r}: use one of"
                            f" {', '.join(FAMILIES)}")
    t0, c0 = time.perf_counter(), time.process_time()
    d_x = minimum_outputs(order, slot_sizes) if outputs is None else outputs
    reproduce = {"function": FAMILIES[family], "order": order,
                 "sizes": list(Slots.from_sizes(*slot_sizes).sizes), "outputs": d_x,
                 "seed": seed}
    if family == "polynomial" and order >= 1:
        draw = class_draw(order, tuple(slot_sizes), d_x, seed)
        generate, generate_cpu = time.perf_counter() - t0, time.process_time() - c0
        result = check_class_draw(draw, degree, seed=seed, trial=trial,
                                  candidate_dir=candidate_dir, reproduce=reproduce,
                                  discrete_search=discrete_search)
    else:
        build = polynomial if family == "polynomial" else exp_polynomial
        gen = build(order, tuple(slot_sizes), d_x, seed)
        generate, generate_cpu = time.perf_counter() - t0, time.process_time() - c0
        result = check_generator(gen.f, gen.slots, order, degree, seed=seed, trial=trial,
                                 name=gen.name, candidate_dir=candidate_dir,
                                 reproduce=reproduce, independence_verified=True,
                                 discrete_search=discrete_search)
    result.timings = {"generate": generate, **result.timings}
    result.seconds += generate
    result.cpu_seconds += generate_cpu
    return result


def _candidate_payload(f: sympy.Matrix, slots: Slots, order: int, degree: int,
                       reproduce: dict[str, object] | None, amb: AmbiguityResult,
                       certified: bool, note: str) -> dict[str, object]:
    """Everything needed to reproduce a candidate: the call, exact f and the exact fields."""
    symbols = slots.symbols
    return {
        "reproduce": reproduce,
        "order": order,
        "ambiguity_degree": degree,
        "slots": slots_summary(slots),
        "f": matrix_to_exact(f, symbols),
        "f_text": [str(e) for e in f],
        "dimension": amb.dimension,
        "slotwise_dimension": amb.slotwise_dimension,
        "non_slotwise_fields": [matrix_to_exact(v, symbols) for v in amb.non_slotwise_basis],
        "non_slotwise_fields_text": [[str(e) for e in v] for v in amb.non_slotwise_basis],
        "counterexample_h": None if amb.counterexample is None
        else matrix_to_exact(amb.counterexample.h, symbols),
        "counterexample_h_inverse": None if amb.counterexample is None
        or amb.counterexample.inverse is None
        else matrix_to_exact(amb.counterexample.inverse, symbols),
        "certified": certified,
        "note": note,
    }


def run_conjecture(order: int, trials: int, slot_sizes: Sequence[int], degree: int,
                   outputs: int | None = None, seed: int = 0,
                   candidate_dir: str | Path | None = None,
                   progress: Callable[[TrialResult], None] | None = None) -> ConjectureReport:
    """Run ``trials`` seeded trials (seeds ``seed, seed + 1, ...``) of the conjecture check.

    order: N >= 0 (the generators' exact interaction order and the model class); slot_sizes:
    |B_1|, ..., |B_K| (K >= 2); degree: D >= 1, the degree of the polynomial vector fields;
    outputs: d_x (None: :func:`theory.class_construction.minimum_outputs`, the fewest that allow
    sufficient independence);
    candidate_dir: where candidates are saved as JSON (None: not saved); progress: called with
    each finished trial. Returns a :class:`ConjectureReport`.
    """
    order = _check_positive("order", order, 0)
    trials = _check_positive("trials", trials, 1)
    degree = _check_positive("degree", degree, 1)
    seed = _check_positive("seed", seed, 0)
    if outputs is not None:
        outputs = _check_positive("outputs", outputs, 1)
    sizes = tuple(Slots.from_sizes(*slot_sizes).sizes) if slot_sizes else ()
    if len(sizes) < 2:
        raise AnalysisError(f"the conjecture concerns >= 2 slots, got slot sizes {slot_sizes!r}")
    report = ConjectureReport(order=order, slot_sizes=sizes, degree=degree, outputs=outputs,
                              seed=seed)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(trials):
        result = run_trial(order, sizes, degree, outputs, seed + i, i, candidate_dir)
        report.trials.append(result)
        if progress is not None:
            progress(result)
    report.seconds = time.perf_counter() - t0
    report.cpu_seconds = time.process_time() - c0
    return report


def parse_slot_sizes(text: str) -> tuple[int, ...]:
    """Slot sizes of a conjecture run ('KxM' or '2,3', at least two slots).

    See :func:`theory.parsing.parse_slot_sizes`; raises :class:`ParseError` otherwise."""
    return parsing.parse_slot_sizes(text, min_slots=2)

