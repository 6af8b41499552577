"""``--train`` for the conjecture runner: does an order-N model recover the slots in practice?

For a trial of :func:`theory.conjecture.run_conjecture` (generator
``theory.generators.polynomial(N, slot_sizes, d_x, seed)``), :func:`train_trial` runs the
package's one synthetic pipeline, :func:`numerics.synthetic.training.train`, with that exact
generator, an order-N structured decoder and an L-shaped training support (aligned-connected, its
Cartesian-product extension holds unseen slot combinations). It reports recovery (SIS, the
off-block fraction of dh/dz), the run's verdict (``identified`` / ``not-converged`` /
``mixed-but-reconstructs``; the last one, where the theory says ``conjectured``, is a
numerical candidate counterexample to the conjecture) and the errors on the training support
and off it.

The results are returned, one dict per trial, to be stored *beside* the theory's report
(:func:`training_results`); the report itself is not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from numerics.core.jsonio import JSONDict
from numerics.synthetic.training import TrainConfig, train

if TYPE_CHECKING:
    from theory.conjecture_report import ConjectureReport

__all__ = ["VERDICTS", "TrainTrialConfig", "train_trial", "training_results", "training_summary"]

_DEFAULTS = TrainConfig()
#: The verdicts a training run can get (numerics.synthetic.verdict), in the order they are counted.
VERDICTS = ("identified", "not-converged", "mixed-but-reconstructs")


@dataclass(frozen=True)
class TrainTrialConfig:
    """Training settings per trial (defaults: those of
    :class:`numerics.synthetic.training.TrainConfig`)."""

    steps: int = _DEFAULTS.engine.steps
    batch: int = _DEFAULTS.batch_size
    lr: float = _DEFAULTS.engine.lr
    hidden: int | None = _DEFAULTS.hidden
    n_eval: int = _DEFAULTS.n_eval
    device: str = _DEFAULTS.engine.device
    progress: bool = False


def train_trial(order: int, slot_sizes: tuple[int, ...], outputs: int, seed: int,
                config: TrainTrialConfig | None = None) -> JSONDict:
    """Train on one conjecture trial's generator; returns recovery, verdict and errors.

    Keys: ``sis``, ``matched_r2``, ``off_block``, ``verdict`` (the verdict's name),
    ``candidate_counterexample``, ``recon_rel`` (held-out error on the training support, in
    units of the output variance), ``ood_recon_rel`` (direct autoencoding on Z_CPE minus the
    support), ``restarts``, ``seconds``.
    """
    from theory.generators import polynomial

    cfg = config or TrainTrialConfig()
    generator = polynomial(order, tuple(slot_sizes), outputs, seed)
    result = train(TrainConfig.from_settings(
        order=order, generator="sympy", sympy_generator=generator, support="lshape",
        steps=cfg.steps, batch_size=cfg.batch, lr=cfg.lr, hidden=cfg.hidden,
        n_eval=cfg.n_eval, device=cfg.device, seed=seed, progress=cfg.progress))
    return {"sis": result.sis, "matched_r2": result.matched_r2, "off_block": result.off_block,
            "verdict": result.verdict["verdict"],
            "candidate_counterexample": result.verdict["candidate_counterexample"],
            "recon_rel": result.recon_mse, "ood_recon_rel": result.ood_autoencode_mse,
            "restarts": result.restarts, "seconds": result.seconds}


def training_results(report: ConjectureReport, config: TrainTrialConfig | None = None
                     ) -> list[JSONDict]:
    """:func:`train_trial` for every trial of a ConjectureReport, in trial order (each dict
    also names its ``trial`` and ``seed``)."""
    return [{"trial": t.trial, "seed": t.seed,
             **train_trial(report.order, report.slot_sizes, t.outputs, t.seed, config)}
            for t in report.trials]


def training_summary(results: list[JSONDict]) -> JSONDict:
    """Counts of :func:`training_results`: ``trials``, one count per entry of
    :data:`VERDICTS`, ``candidates`` (mixed-but-reconstructs where the theory says
    conjectured) and ``median_sis`` (NaN for no trials)."""
    import statistics

    counts = {v: sum(r["verdict"] == v for r in results) for v in VERDICTS}
    return {"trials": len(results), **counts,
            "candidates": sum(bool(r["candidate_counterexample"]) for r in results),
            "median_sis": statistics.median(r["sis"] for r in results) if results
            else float("nan")}
