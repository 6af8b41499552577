"""Results of the conjecture runner: one :class:`TrialResult` per generator and the
:class:`ConjectureReport` of a run, with what a slot-wise trial rules out (:data:`RULES_OUT`).

The runner itself is :mod:`theory.conjecture`; every field here is JSON-able.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["RULES_OUT", "ConjectureReport", "TrialResult"]


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
