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
re-checked by :func:`theory.counterexamples.certify_reparametrization` (exact inverse, h not
slot-wise, f o h of order <= N). Only a trial that passes is called a counterexample; if its
generator is also sufficiently independent of exact order N, it refutes the conjecture.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sympy

from theory import parsing
from theory.ambiguity import ambiguities
from theory.counterexamples import certify_reparametrization, matrix_to_exact, slots_summary
from theory.discrete import discrete_ambiguities
from theory.errors import AnalysisError
from theory.generators import ClassDraw, class_draw, exp_polynomial, minimum_outputs, polynomial
from theory.independence import sufficient_independence
from theory.order import interaction_order
from theory.slots import Slots

__all__ = ["DISCRETE_TIMEOUT", "FAMILIES", "RULES_OUT", "ConjectureReport", "TrialResult",
           "check_class_draw", "check_generator", "parse_slot_sizes", "run_conjecture",
           "run_trial"]

#: Seconds the discrete search of one trial may take.
DISCRETE_TIMEOUT = 20.0

#: Generator families of :func:`run_trial`: the function and the reproduce name.
FAMILIES = {"polynomial": "theory.generators.polynomial",
            "exp-polynomial": "theory.generators.exp_polynomial"}

RULES_OUT = (
    "excluded exactly: every family of reparametrizations h_t = id + t v + O(t^2) with v a"
    " polynomial field of degree <= {D} that is not slot-wise to first order (the tangent"
    " condition Df . v in the class has only slot-wise solutions of degree <= {D}). Not"
    " excluded: first-order directions of higher degree or non-polynomial ones, ambiguities"
    " tangent to a slot-wise field at t = 0 but mixing at higher order, and isolated maps other"
    " than coordinate permutations"
)
"""What a slot-wise ("consistent with the conjecture") trial has ruled out, and what not."""


@dataclass
class TrialResult:
    """One trial of the conjecture runner (every field JSON-able).

    ``order_verified``: f has order <= N and not <= N - 1 (exact); ``independent``: sufficient
    independence at order N (``independence_method`` says how it was decided);
    ``dimension`` / ``slotwise_dimension``: of the ambiguity solution space and its slot-wise
    part; ``slotwise``: they are equal (the conjecture's prediction, to first order at degree
    D); ``candidate``: not slot-wise; ``certified``: a candidate whose integrated map passed the
    exact re-check; ``refutes_conjecture``: certified while f is sufficiently independent of
    exact order N. ``seconds`` / ``cpu_seconds``: wall-clock and process CPU time;
    ``timings``: wall-clock seconds per stage.
    """

    trial: int
    seed: int
    generator: str
    outputs: int
    order_verified: bool
    independent: bool | None
    independence_method: str
    unknowns: int
    equations: int
    dimension: int
    slotwise_dimension: int
    slotwise: bool
    candidate: bool
    certified: bool
    refutes_conjecture: bool
    note: str
    seconds: float
    cpu_seconds: float
    timings: dict[str, float]
    candidate_file: str | None = None
    degree: int = 1
    discrete_candidates: int | None = None
    discrete_complete: bool | None = None

    @property
    def rules_out(self) -> str:
        """What this trial has excluded for its generator, exactly (see :data:`RULES_OUT`)."""
        if self.certified:
            return "nothing: a certified ambiguity mixes slots (see note)"
        if not self.slotwise:
            return ("nothing certified: a first-order non-slot-wise direction of degree <="
                    f" {self.degree} exists but does not integrate to a certified map")
        text = RULES_OUT.format(D=self.degree)
        if self.discrete_complete:
            text += (f"; and all {self.discrete_candidates} coordinate permutations (signed or"
                     " not) that move latents between slots")
        elif self.discrete_candidates is not None:
            text += "; the search over coordinate permutations was incomplete"
        return text


@dataclass
class ConjectureReport:
    """All trials of one run, with its parameters; ``to_dict`` / ``format_table``."""

    order: int
    slot_sizes: tuple[int, ...]
    degree: int
    outputs: int | None
    seed: int
    trials: list[TrialResult] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def n_slotwise(self) -> int:
        """Trials whose ambiguity space is exactly the slot-wise one."""
        return sum(t.slotwise for t in self.trials)

    @property
    def candidates(self) -> list[TrialResult]:
        """Trials with non-slot-wise ambiguities (candidate counterexamples)."""
        return [t for t in self.trials if t.candidate]

    @property
    def counterexamples(self) -> list[TrialResult]:
        """Candidates certified exactly (a non-slot-wise map h with f o h in the class)."""
        return [t for t in self.trials if t.certified]

    @property
    def rules_out(self) -> str:
        """What the slot-wise trials of this run have excluded for their generators."""
        done = [t for t in self.trials if t.slotwise and not t.certified]
        if not done:
            return "no trial was slot-wise: nothing excluded"
        text = RULES_OUT.format(D=self.degree)
        complete = sum(bool(t.discrete_complete) for t in done)
        return (f"for {len(done)} of {len(self.trials)} generators: {text}; coordinate"
                f" permutations between slots searched completely for {complete} of them")

    @property
    def consistent_with_conjecture(self) -> bool:
        """No trial refutes the conjecture (certified, independent, exact order N)."""
        return not any(t.refutes_conjecture for t in self.trials)

    def to_dict(self) -> dict[str, object]:
        """JSON-able report: parameters, summary and one dict per trial."""
        return {
            "order": self.order,
            "slot_sizes": list(self.slot_sizes),
            "degree": self.degree,
            "outputs": self.outputs,
            "seed": self.seed,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "summary": {
                "trials": len(self.trials),
                "slotwise": self.n_slotwise,
                "candidates": len(self.candidates),
                "certified_counterexamples": len(self.counterexamples),
                "consistent_with_conjecture": self.consistent_with_conjecture,
                "rules_out": self.rules_out,
            },
            "trials": [asdict(t) for t in self.trials],
        }

    def format_table(self) -> str:
        """Readable table, one row per trial, then a summary line (candidates flagged)."""
        head = (f"conjecture check: order N = {self.order}, slots {self.slot_sizes}, field degree"
                f" D = {self.degree}, {len(self.trials)} trials, {self.seconds:.1f} s wall,"
                f" {self.cpu_seconds:.1f} s CPU")
        cols = ["trial", "seed", "d_x", "order ok", "indep.", "unknowns", "eqs", "dim",
                "slot-wise dim", "slot-wise?", "wall s", "cpu s"]
        rows = [[str(t.trial), str(t.seed), str(t.outputs), "yes" if t.order_verified else "NO",
                 {True: "yes", False: "NO", None: "?"}[t.independent], str(t.unknowns),
                 str(t.equations), str(t.dimension), str(t.slotwise_dimension),
                 "COUNTEREXAMPLE" if t.certified else ("yes" if t.slotwise else "CANDIDATE"),
                 f"{t.seconds:.2f}", f"{t.cpu_seconds:.2f}"] for t in self.trials]
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                  for i, c in enumerate(cols)]
        lines = [head, "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        lines.append(f"slot-wise in {self.n_slotwise}/{len(self.trials)} trials;"
                     f" {len(self.candidates)} candidate(s), {len(self.counterexamples)} certified")
        lines.append(f"ruled out: {self.rules_out}")
        for t in self.candidates:
            lines.append(f"!!! CANDIDATE COUNTEREXAMPLE trial {t.trial} (seed {t.seed}):"
                         f" {t.note} [saved: {t.candidate_file}]")
            if t.refutes_conjecture:
                lines.append("!!! certified, with f sufficiently independent of exact order"
                             f" {self.order}: this REFUTES the conjecture")
        return "\n".join(lines)


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
    integrated map with :func:`theory.counterexamples.certify_reparametrization` and saves
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
    f = slots.check_generator(f)
    t = time.perf_counter()
    order_ok = interaction_order(f, slots) == order  # <= N and not <= N - 1, one pass
    timings["order"] = time.perf_counter() - t

    t = time.perf_counter()
    if independence_verified:
        independent, method = True, "verified by the generator's constructor"
    else:
        indep = sufficient_independence(f, slots, order=order)
        independent, method = indep.holds, indep.method
    timings["independence"] = time.perf_counter() - t

    t = time.perf_counter()
    amb = ambiguities(f, slots, order, degree)
    timings["ambiguity"] = time.perf_counter() - t

    certified, note, candidate_file = False, "every ambiguity is slot-wise", None
    discrete = None
    if amb.is_slotwise and discrete_search:
        t = time.perf_counter()
        discrete = discrete_ambiguities(f, slots, order, timeout=discrete_timeout)
        timings["discrete"] = time.perf_counter() - t
        if discrete.counterexample is not None:
            cert = certify_reparametrization(f, slots, order, discrete.counterexample.h)
            certified = cert.valid
            note = ("certified discrete ambiguity: " if certified else "re-check FAILED: ") + (
                cert.claim)
    if not amb.is_slotwise:
        t = time.perf_counter()
        note = amb.note
        if amb.counterexample is not None:
            cert = certify_reparametrization(f, slots, order, amb.counterexample.h,
                                            amb.counterexample.inverse)
            certified = cert.valid
            note = ("certified: " if certified else "re-check FAILED: ") + cert.claim
        if candidate_dir is not None:
            path = Path(candidate_dir) / f"candidate_{name}_N{order}_D{degree}_seed{seed}.json"
            _save_candidate(path, _candidate_payload(f, slots, order, degree, reproduce, amb,
                                                     certified, note))
            candidate_file = str(path)
        timings["certify"] = time.perf_counter() - t

    return TrialResult(
        trial=trial, seed=seed, generator=name, outputs=len(f),
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
    """:func:`check_generator` for f = C m(z) of :func:`theory.generators.class_draw`, solved
    through m(z).

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
                       reproduce: dict[str, object] | None, amb, certified: bool,
                       note: str) -> dict[str, object]:
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
    outputs: d_x (None: :func:`theory.generators.minimum_outputs`, the fewest that allow
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

