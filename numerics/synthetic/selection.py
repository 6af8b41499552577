"""Choosing among initializations without ground truth: populations, halving and restarts.

A run that stops in a slot-mixing local minimum is an optimization failure: its held-out
reconstruction error is far above that of a slot-wise solution. :func:`select_model` therefore
trains several initializations and keeps the best by **held-out reconstruction error only**
(the true latents are never looked at, so the procedure is what a user without ground truth
can run). One *round*:

1. exploration: ``candidates`` members (seeds ``seed + SEED_STRIDE * i``) are trained together
   as a :class:`numerics.synthetic.population.Population` for the first ``explore_fraction`` of the
   schedule;
2. halving: the ``keep`` members with the lowest held-out error go on (``regroup_members``
   when a regrouping stage follows), the others stop;
3. regrouping (when the caller gives ``assignments`` with more than one entry,
   numerics.synthetic.block_assignment): the ``regroup_members`` best explored members when the
   assignments are every grouping there is (default 2: the best one after exploration is not
   always the one whose coordinates can be regrouped into slots), else the best one, are each
   copied once per assignment of its encoder
   coordinates to the decoder's blocks (``regroup(member, perm, seed)``: the member's encoder
   with permuted outputs and a fresh decoder), the copies are trained together for the next
   ``regroup_fraction`` of the schedule, and again the ``keep`` lowest held-out errors go on.
   When the assignments are only a neighbourhood of the current grouping (too many groupings
   to try them all), the stage is repeated from the new grouping (a local search, at most
   ``regroup_stages`` stages) until keeping the current grouping wins. This is the discrete
   step that gradient descent does not take: a slot-mixing minimum of block slots is mostly
   coordinates of the right slots handed to the wrong decoder blocks;
   or, when the caller gives ``unmix`` (structured decoders of order >= 2,
   numerics.synthetic.training), unmixing instead of regrouping: the ``regroup_members`` best
   explored members train one more ``regroup_fraction`` ("settle"), ``unmix(member, seed,
   unmix_search)`` proposes up to ``unmix_proposals`` copies per member (its encoder composed with
   an affine map of the coordinates that numerics.synthetic.unmixing fits without ground truth, a
   fresh decoder warm-started at the fit's cross-slot coefficients), the copies train together for
   another ``regroup_fraction``, and the ``keep`` lowest held-out errors go on; at ``late_unmix_at``
   of the schedule the kept members are checked once more ("late", a wider search,
   ``late_search``): a member whose best proposal has a residual below ``switch_ratio`` times its
   own (its coordinates as they are) is replaced by that proposal. This catches a
   slot-mixing minimum that formed after the first unmixing, when the encoder was still far
   from converged: measured on 4x2 slots at order 3 at 40 % of the schedule, the mixed runs'
   own residual was 1.2-1.9x their best proposal's, that of four identified runs 1.04-1.16x;
   with 4 starts of 60 Adam steps the late check missed the slot-wise map of six of twenty
   seeds there; a successive-halving search (32 starts halved to 8 and 2,
   numerics.synthetic.unmixing.propose_unmixings, the default ``late_search``) finds it for all six
   offline, and whole runs with it identify all six (SIS 0.993-0.998);
4. the kept members finish the schedule (the same learning-rate schedule, fresh optimizer
   state; a single kept member is trained as a plain module,
   :class:`numerics.synthetic.population.SingleMember`) and the one with the lowest held-out error
   is the round's choice.

Whenever the round's choice does not reconstruct (held-out error above ``threshold``), another
round with new seeds is run, at most ``restarts`` times and only while the time of one more
round (predicted from the rounds so far) ends within ``time_budget`` seconds of the start of
the run (numerics.synthetic.training counts from the start of ``train``, so that a whole ``iasym
train`` call stays within about 30 s at the defaults on 2 CPU cores). The result lists
every round: seeds, held-out errors after exploration and at the end, which members were kept,
seconds, and why the search stopped.

Reproducibility: given the number of rounds, every number is a function of the config (the
same on the CPU on every run; the number of rounds only depends on the machine when the time
budget binds, and the result says so with ``stopped = "time budget"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn

from numerics.core.engine import (
    BatchT,
    EngineConfig,
    FitResult,
    LossFn,
    SampleFn,
    StepHook,
    fit,
)
from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONValue
from numerics.core.validation import int_at_least, is_real, open_fraction, positive_finite
from numerics.synthetic.population import Population, SingleMember
from numerics.synthetic.unmixing import check_halving
from numerics.synthetic.verdict import RECON_THRESHOLD

Tensor = torch.Tensor
Members = Population | SingleMember
#: A search of numerics.synthetic.unmixing: ``((starts, steps), (keep, steps), ...)``: ``starts``
#: maps run ``steps`` Adam steps, then each further stage keeps the ``keep`` lowest residuals and
#: runs its ``steps`` more (successive halving)
Search = tuple[tuple[int, int], ...]
#: ``unmix(member, seed, search) -> (own residual, [(residual, copy), ...])``
#: (numerics.synthetic.training, numerics.synthetic.unmixing)
Unmix = Callable[[nn.Module, int, Search], tuple[float, list[tuple[float, nn.Module]]]]
#: Settings of earlier versions and their meaning now: a number of starts of 60 Adam steps.
#: Still needed: the saved runs under docs/reliability/candidates and
#: docs/conjecture_train/candidates (result.json, model.pt) were written with them, and
#: ``iasym recheck FOLDER`` reads their selection settings through SelectionSettings.from_dict.
_LEGACY_SEARCH = {"unmix_restarts": "unmix_search", "late_restarts": "late_search"}
#: Seed offset between consecutive initializations (member 0 of round 0 uses the run's seed).
SEED_STRIDE = 1_000_003
STOP_REASONS = ("reconstructs", "restarts exhausted", "time budget")
#: A regrouping stage shorter than this cannot tell groupings apart (a fresh decoder needs a
#: few dozen steps), so shorter schedules skip regrouping.
MIN_REGROUP_STEPS = 50

__all__ = ["SEED_STRIDE", "Round", "Selection", "SelectionSettings", "select_model"]


@dataclass(frozen=True)
class SelectionSettings:
    """How many initializations are tried (see the module docstring)."""

    candidates: int = 8
    keep: int = 1
    explore_fraction: float = 0.1
    restarts: int = 1
    time_budget: float | None = 26.0
    regroup_fraction: float = 0.1
    regroup_stages: int = 3
    regroup_members: int = 2
    max_assignments: int = 16
    unmix_proposals: int = 3
    unmix_search: Search = ((8, 60),)
    late_search: Search = ((32, 20), (8, 40), (2, 60))
    late_unmix_at: float = 0.4
    switch_ratio: float = 0.8
    threshold: float = RECON_THRESHOLD

    def validate(self) -> None:
        """:class:`ConfigError` for values that cannot be searched with."""
        for name, low in (("candidates", 1), ("keep", 1), ("restarts", 0),
                          ("max_assignments", 1), ("regroup_stages", 0),
                          ("regroup_members", 1), ("unmix_proposals", 1)):
            int_at_least(name, getattr(self, name), low)
        if self.keep > self.candidates:
            raise ConfigError(f"keep ({self.keep}) cannot exceed candidates "
                              f"({self.candidates})")
        for name in ("explore_fraction", "regroup_fraction", "late_unmix_at", "switch_ratio"):
            open_fraction(name, getattr(self, name))
        for name in ("unmix_search", "late_search"):
            search = getattr(self, name)
            if not isinstance(search, tuple) or not search:
                raise ConfigError(f"{name} must be a non-empty tuple of (maps, steps) pairs, "
                                  f"got {search!r}")
            check_halving(search)
        budget = self.time_budget
        if budget is not None and (not is_real(budget) or not budget > 0
                                   or budget == float("inf")):
            raise ConfigError(f"time_budget must be a positive number of seconds or None, "
                              f"got {budget!r}")
        positive_finite("threshold", self.threshold)


    @classmethod
    def from_dict(cls, d: Mapping[str, JSONValue]) -> SelectionSettings:
        """Inverse of ``dataclasses.asdict`` (JSON lists become tuples); the settings of earlier
        versions ``unmix_restarts`` / ``late_restarts`` (n starts of 60 Adam steps) are read
        as the searches ``((n, 60),)`` they meant. :class:`ConfigError` for unknown names."""
        values = dict(d)
        for old, new in _LEGACY_SEARCH.items():
            if old in values:
                values[new] = ((values.pop(old), 60),)
        for name in ("unmix_search", "late_search"):
            if isinstance(values.get(name), list):
                values[name] = tuple(tuple(s) if isinstance(s, list) else s
                                     for s in values[name])
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown selection settings {unknown}")
        settings = cls(**values)
        settings.validate()
        return settings


@dataclass
class Round:
    """One round of the search: its seeds and held-out errors (see the module docstring).

    ``assignments``: the encoder-coordinate permutations tried per kept member in every
    regrouping stage (empty: no regrouping), ``regroup_recon``: per stage, their held-out
    errors (member-major), ``assignment``: per member that finished the schedule, the
    composition of the stages' choices (decoder block k reads the explored encoder's outputs
    ``assignment[o_k:o_k + d_k]``). ``unmix_residual``: per settled member, the residuals of
    its unmixing proposals (numerics.synthetic.unmixing), ``unmix_recon``: the held-out errors of
    the proposals after the unmixing stage (member-major; empty: no unmixing). ``late_residual``:
    per kept member at the late check, ``[own residual, best proposal's residual]``, and
    ``late_switched``: whether the proposal replaced it (empty: no late check).
    """

    seeds: list[int]
    explore_recon: list[float]
    kept: list[int]
    final_recon: list[float]
    seconds: float
    assignments: list[list[int]] = field(default_factory=list)
    regroup_recon: list[list[float]] = field(default_factory=list)
    assignment: list[list[int]] = field(default_factory=list)
    unmix_residual: list[list[float]] = field(default_factory=list)
    unmix_recon: list[float] = field(default_factory=list)
    late_residual: list[list[float]] = field(default_factory=list)
    late_switched: list[bool] = field(default_factory=list)


@dataclass
class Selection:
    """The chosen model and how it was found.

    ``model``: the chosen member (a standalone module); ``seed``: its initialization seed;
    ``round``: the round it comes from; ``val_recon``: its held-out reconstruction error;
    ``assignment``: the permutation of its encoder coordinates chosen by regrouping (decoder
    block k reads the explored encoder's outputs ``assignment[o_k:o_k + d_k]``; empty when
    there was no regrouping stage);
    ``stopped``: one of :data:`STOP_REASONS`; ``history``: the loss log of the chosen
    population (exploration, then the kept members), ``steps_run`` / ``fit_seconds``: all
    optimization steps of all rounds and the seconds they took.
    """

    model: nn.Module
    seed: int
    round: int
    val_recon: float
    stopped: str
    rounds: list[Round] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    steps_run: int = 0
    fit_seconds: float = 0.0
    device: str = "cpu"
    assignment: list[int] = field(default_factory=list)

    @property
    def restarts(self) -> int:
        """Rounds after the first."""
        return len(self.rounds) - 1

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (no model)."""
        return {"seed": self.seed, "round": self.round, "val_recon": self.val_recon,
                "stopped": self.stopped, "restarts": self.restarts,
                "assignment": self.assignment,
                "rounds": [asdict(r) for r in self.rounds]}


def _stage_path(checkpoint: str | None, round_index: int, stage: str) -> str | None:
    """``run.pt`` -> ``run.pt`` (round 0's last stage), ``run.r0-explore.pt``, ``run.r1.pt``."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if round_index == 0 and stage == "final":
        return str(path)
    tag = f"r{round_index}" + ("" if stage == "final" else f"-{stage}")
    return str(path.with_name(f"{path.stem}.{tag}{path.suffix}"))


def select_model(build: Callable[[int], nn.Module], loss_fn: LossFn[Members, BatchT],
                 sample_batch: SampleFn[BatchT],
                 engine: EngineConfig, val_recon: Callable[[Members], Tensor],
                 settings: SelectionSettings, *, description: str = "train",
                 evaluate: Callable[[Members], dict[str, float]] | None = None,
                 assignments: Sequence[Sequence[int]] = (),
                 regroup: Callable[[nn.Module, Sequence[int], int], nn.Module] | None = None,
                 exhaustive: bool = False,
                 unmix: Unmix | None = None, started: float | None = None,
                 step_hook: StepHook[Members] | None = None) -> Selection:
    """Train initializations of ``build(seed)`` and keep the best by held-out error.

    ``loss_fn(population, batch, step)`` must return the *sum* of the member losses (so that
    members stay independent) and logs; ``val_recon(population)``: the members' held-out
    reconstruction errors, shape ``(R,)``. ``engine``: the schedule of one run (its seed is the
    run's seed and seeds the data stream). ``assignments`` and ``regroup``: the regrouping stage
    (both or neither; skipped with fewer than 2 assignments or without exploration);
    ``exhaustive``: the assignments are every grouping there is, so one stage finds the best
    and none is repeated. ``unmix(member, seed, restarts)``: the residual of the member's own
    coordinates and ``(residual, copy)`` pairs, each copy the member's encoder composed with a
    proposed affine unmixing and a fresh decoder (numerics.synthetic.unmixing); given, it replaces
    the regrouping stages. ``started``: the ``time.perf_counter()`` value the time budget counts
    from (default: the call of this function; numerics.synthetic.training passes the start of the
    run, so that the budget bounds the whole call). ``step_hook``: passed to every
    numerics.core.engine.fit call (e.g. the order-0 hardening of
    numerics.synthetic.training.step_hook). See the module docstring for the procedure.
    """
    if (regroup is None) != (not assignments):
        raise ConfigError("select_model needs both assignments and regroup, or neither")
    settings.validate()
    engine.validate()
    t_start = time.perf_counter() if started is None else started
    explore_end = 0
    if settings.candidates > settings.keep and engine.steps >= 2:
        explore_end = min(engine.steps - 1,
                          max(1, round(engine.steps * settings.explore_fraction)))
    perms = [list(p) for p in assignments]
    stage_steps = max(1, round(engine.steps * settings.regroup_fraction))
    staged = bool(explore_end) and stage_steps >= MIN_REGROUP_STEPS
    unmixing = unmix is not None and staged and explore_end + 2 * stage_steps < engine.steps
    late_step = round(engine.steps * settings.late_unmix_at)
    late = unmixing and explore_end + 2 * stage_steps < late_step <= (
        engine.steps - MIN_REGROUP_STEPS)
    regroups = (settings.regroup_stages if len(perms) > 1 and staged and not unmixing else 0)
    rounds: list[Round] = []
    best: tuple[float, int, int, nn.Module, list[int]] | None = None
    best_log: tuple[list, list] = ([], [])
    steps_run, fit_seconds, device = 0, 0.0, "cpu"
    stopped = "restarts exhausted"

    def run(pop: Members, first: int, last: int, q: int, stage: str) -> FitResult:
        stage_engine = replace(engine, first_step=first, last_step=last,
                               checkpoint=_stage_path(engine.checkpoint, q, stage))
        return fit(pop, loss_fn, sample_batch, stage_engine, description=description,
                   evaluate=evaluate if stage == "final" else None,
                   clip_gradients=lambda m, c: m.clip_grad_norm_(c), step_hook=step_hook)

    for q in range(settings.restarts + 1):
        t_round = time.perf_counter()
        seeds = [engine.seed + SEED_STRIDE * (q * settings.candidates + r)
                 for r in range(settings.candidates)]
        population: Members = (Population([build(s) for s in seeds])
                               if settings.candidates > 1 else SingleMember(build(seeds[0])))
        explore_recon: list[float] = []
        history: list[dict[str, float]] = []
        kept = list(range(settings.candidates))
        if explore_end:
            done = run(population, 0, explore_end, q, "explore")
            steps_run, fit_seconds = steps_run + done.steps_run, fit_seconds + done.seconds
            history = list(done.history)
            explore_recon = [float(v) for v in val_recon(population)]
            order = sorted(range(settings.candidates), key=lambda r: explore_recon[r])
            # several explored members are regrouped when one stage tries every grouping; a
            # local search (not exhaustive) spends its time on further stages instead
            go_on = (max(settings.keep, settings.regroup_members)
                     if (regroups and exhaustive) or unmixing else settings.keep)
            kept = sorted(order[:go_on])
            population = population.subset(kept)
        regroup_recon: list[list[float]] = []
        chosen_perms = ([list(range(len(perms[0])))] * len(kept) if perms and not unmixing
                        else [])
        first = explore_end
        unmix_residual: list[list[float]] = []
        unmix_recon: list[float] = []
        if unmixing:
            assert unmix is not None
            # settle: the kept members train one more stage, so that their encoders carry
            # the within-slot structure that the unmixing fits
            done = run(population, first, first + stage_steps, q, "settle")
            first += stage_steps
            steps_run, fit_seconds = steps_run + done.steps_run, fit_seconds + done.seconds
            history += list(done.history)
            owners, copies = [], []
            for r in range(len(kept)):
                _, proposed = unmix(population.member(r), seeds[kept[r]] + 1,
                                    settings.unmix_search)
                unmix_residual.append([res for res, _ in proposed])
                owners += [kept[r]] * len(proposed)
                copies += [copy for _, copy in proposed]
            population = Population(copies) if len(copies) > 1 else SingleMember(copies[0])
            done = run(population, first, first + stage_steps, q, "unmix")
            first += stage_steps
            steps_run, fit_seconds = steps_run + done.steps_run, fit_seconds + done.seconds
            history += list(done.history)
            unmix_recon = [float(v) for v in val_recon(population)]
            best_copies = sorted(sorted(range(len(copies)),
                                        key=lambda i: unmix_recon[i])[:settings.keep])
            kept = [owners[i] for i in best_copies]
            population = population.subset(best_copies)
        for stage in range(regroups):
            if first + stage_steps >= engine.steps:
                break
            assert regroup is not None
            bases = [population.member(r) for r in range(len(kept))]
            pairs = [(r, j) for r in range(len(kept)) for j in range(len(perms))]
            population = Population([regroup(bases[r], perms[j],
                                             seeds[kept[r]] + 1 + stage * len(perms) + j)
                                     for r, j in pairs])
            done = run(population, first, first + stage_steps, q, f"regroup{stage}")
            first += stage_steps
            steps_run, fit_seconds = steps_run + done.steps_run, fit_seconds + done.seconds
            history += list(done.history)
            recon = [float(v) for v in val_recon(population)]
            regroup_recon.append(recon)
            best_pairs = sorted(sorted(range(len(pairs)), key=lambda i: recon[i])[:settings.keep])
            # compose: the new encoder's output i is the previous one's perms[j][i]
            chosen_perms = [[chosen_perms[pairs[i][0]][c] for c in perms[pairs[i][1]]]
                            for i in best_pairs]
            kept = [kept[pairs[i][0]] for i in best_pairs]
            population = population.subset(best_pairs)
            if exhaustive or pairs[min(best_pairs, key=lambda i: recon[i])][1] == 0:
                break  # every grouping was tried, or the current one won: a local optimum
        late_residual: list[list[float]] = []
        late_switched: list[bool] = []
        if late:
            assert unmix is not None
            done = run(population, first, late_step, q, "late")
            first = late_step
            steps_run, fit_seconds = steps_run + done.steps_run, fit_seconds + done.seconds
            history += list(done.history)
            members = []
            for r in range(len(kept)):
                member = population.member(r)
                own, proposed = unmix(member, seeds[kept[r]] + 2, settings.late_search)
                best_residual, best_copy = min(proposed, key=lambda p: p[0],
                                               default=(own, member))
                switch = best_residual < settings.switch_ratio * own
                late_residual.append([own, best_residual])
                late_switched.append(switch)
                members.append(best_copy if switch else member)
            if any(late_switched):
                population = (Population(members) if len(members) > 1
                              else SingleMember(members[0]))
        done = run(population, first, engine.steps, q, "final")
        steps_run, fit_seconds, device = (steps_run + done.steps_run,
                                          fit_seconds + done.seconds, done.device)
        final_recon = [float(v) for v in val_recon(population)]
        rounds.append(Round(seeds=seeds, explore_recon=explore_recon, kept=kept,
                            final_recon=final_recon, seconds=time.perf_counter() - t_round,
                            assignments=perms if regroup_recon else [],
                            regroup_recon=regroup_recon, assignment=chosen_perms,
                            unmix_residual=unmix_residual, unmix_recon=unmix_recon,
                            late_residual=late_residual, late_switched=late_switched))
        r_best = min(range(len(kept)), key=lambda r: final_recon[r])
        if best is None or final_recon[r_best] < best[0]:
            best = (final_recon[r_best], q, seeds[kept[r_best]], population.member(r_best),
                    chosen_perms[r_best] if chosen_perms else [])
            best_log = (history + list(done.history), list(done.evaluations))
        if best[0] <= settings.threshold:
            stopped = "reconstructs"
            break
        elapsed = time.perf_counter() - t_start
        per_round = sum(r.seconds for r in rounds) / len(rounds)
        if q < settings.restarts and settings.time_budget is not None and (
                elapsed + per_round > settings.time_budget):
            stopped = "time budget"
            break
    assert best is not None
    return Selection(model=best[3], seed=best[2], round=best[1], val_recon=best[0],
                     stopped=stopped, rounds=rounds, history=best_log[0],
                     evaluations=best_log[1], steps_run=steps_run, fit_seconds=fit_seconds,
                     device=device, assignment=best[4])
