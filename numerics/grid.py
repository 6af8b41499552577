"""The recovery grid on block slots: generator order x decoder order, many seeds per cell.

For every generator order n (rows) and decoder (columns: structured decoders of orders
0..3 and the unconstrained MLP) :func:`run_grid` trains ``seeds`` runs of
:func:`numerics.synthetic.training.train` on the same slot layout (default 3 slots of 2 latents) and
an L-shaped training support, and records per cell

* the theory's prediction (numerics.synthetic.verdict.predict: ``identifiable`` / ``conjectured`` /
  ``not-identifiable`` (a certified counterexample at the decoder's order) / ``no-theorem`` /
  ``cannot-reconstruct``),
* counts of the run verdicts ``identified`` / ``not-converged`` / ``mixed-but-reconstructs``
  and of candidate counterexamples,
* median SIS, median off-block fraction of dh/dz, median OOD/ID error ratio (recombination
  protocol of numerics.synthetic.compgen) and median seconds per run.

Generators: the theory's exact ones of each order (numerics.synthetic.data.sympy_generator_for)
with slot functions of degree ``slot_degree``, by default the largest decoder order + 1 (4 for
decoders up to order 3). With cubic slot functions (the single-run default for orders 0-2) a
decoder of order 3 is not in the theorem's regime: any linear mixing h keeps f o h of order
<= 3, a certified counterexample, so mixed runs there say nothing about decoders of higher
order than the generator. Generator seeds are the run seeds, so a row's cells see the same
generators. Runs go seed by
seed over all cells, so a grid stopped early (or extended with more ``seeds`` later) has about
the same number of runs in every cell. Every finished
run is appended to ``runs.jsonl`` in the output folder at once, and a rerun with the same
folder skips the runs already there (a killed grid resumes without repeating work) and
re-derives their theory predictions from their generators (the prediction does not depend on
the training, and the theory may have learned more since they ran). The
summary goes to ``grid.json``, ``grid.md`` and ``grid.png``/``grid.pdf``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONDict, dumps
from numerics.core.progress import LOGGER
from numerics.core.validation import is_int, positive_int
from numerics.synthetic.verdict import RUN_VERDICTS
from theory.errors import BudgetError

if TYPE_CHECKING:
    from numerics.synthetic.training import TrainResult

#: Most seeds per cell (each seed is one training run per cell: 20 cells x 1000 seeds is days).
MAX_SEEDS = 1000

__all__ = ["GridConfig", "cell_summary", "format_markdown", "parse_orders", "run_grid",
           "write_summary"]


@dataclass(frozen=True)
class GridConfig:
    """Which cells and how many seeds (see the module docstring).

    ``steps``: None means TrainConfig's default. ``slot_degree``: the generators' within-slot
    degree (None: :meth:`degree`, the largest decoder or generator order + 1, at least 3).
    ``options``: further TrainConfig fields for every run (e.g. ``{"n_train": 1024}``);
    outputs default to what sufficient independence of the generator order needs (at least 40).
    """

    slot_sizes: tuple[int, ...] = (2, 2, 2)
    generator_orders: tuple[int, ...] = (0, 1, 2, 3)
    decoder_orders: tuple[int, ...] = (0, 1, 2, 3)
    mlp: bool = True
    seeds: int = 10
    first_seed: int = 0
    steps: int | None = None
    slot_degree: int | None = None
    support: str = "lshape"
    device: str = "auto"
    options: JSONDict = field(default_factory=dict)

    def validate(self) -> None:
        """:class:`ConfigError` for an empty or malformed grid."""
        for name in ("generator_orders", "decoder_orders"):
            values = getattr(self, name)
            if not values or any(not is_int(v) or v < 0 for v in values):
                raise ConfigError(f"{name} must be non-empty non-negative integers, got "
                                  f"{values!r}")
        positive_int("seeds", self.seeds)
        if self.seeds > MAX_SEEDS:
            raise BudgetError(f"seeds={self.seeds} per cell is above the limit of {MAX_SEEDS} "
                              f"(numerics.grid.MAX_SEEDS)")
        from theory.generators import MAX_SLOT_DEGREE

        low = max(3, max(self.generator_orders) + 1)
        if self.slot_degree is not None and (
                not is_int(self.slot_degree) or not low <= self.slot_degree <= MAX_SLOT_DEGREE):
            raise ConfigError(f"slot_degree must be an integer in {low}..{MAX_SLOT_DEGREE} for "
                              f"generator orders up to {max(self.generator_orders)}, got "
                              f"{self.slot_degree!r}")

    def degree(self) -> int:
        """The generators' within-slot degree: ``slot_degree`` or max(3, the largest decoder or
        generator order + 1)."""
        if self.slot_degree is not None:
            return self.slot_degree
        return max(3, max(self.decoder_orders) + 1, max(self.generator_orders) + 1)

    def columns(self) -> list[tuple[str, str, int | None]]:
        """(label, decoder kind, decoder order) of every column."""
        cols: list[tuple[str, str, int | None]] = [
            (f"structured {d}", "structured", d) for d in self.decoder_orders]
        if self.mlp:
            cols.append(("mlp", "mlp", None))
        return cols


def _key(order: int, label: str, seed: int) -> str:
    return f"{order}|{label}|{seed}"


def _load(path: Path) -> dict[str, JSONDict]:
    done: dict[str, JSONDict] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            done[_key(row["generator_order"], row["column"], row["seed"])] = row
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a line cut by a kill: that run is simply redone
    return done


def _row(order: int, label: str, seed: int, result: TrainResult) -> JSONDict:
    v = result.verdict
    return {"generator_order": order, "column": label, "seed": seed,
            "verdict": v["verdict"], "prediction": v["prediction"], "reason": v["reason"],
            "candidate_counterexample": v["candidate_counterexample"], "sis": result.sis,
            "off_block": result.off_block, "val_recon": result.val_recon,
            "recon_mse": result.recon_mse, "ood_ratio": result.ood_ratio,
            "restarts": result.restarts, "seconds": result.seconds}


def _repredict(config: GridConfig, rows: dict[str, JSONDict]
               ) -> dict[str, JSONDict]:
    """Stored runs with the current theory's prediction for their generator and decoder.

    The prediction is a function of the generator (rebuilt from the run's order and seed) and
    the decoder, not of the training, so a grid resumed after the theory learned more (e.g. a
    certified counterexample at the decoder's order) labels its old runs as its new ones.
    """
    from numerics.synthetic.data import symbolic_generator
    from numerics.synthetic.training import TrainConfig
    from numerics.synthetic.verdict import PREDICTS_IDENTIFIABLE, predict

    columns = {label: (decoder, d_order) for label, decoder, d_order in config.columns()}
    cache: dict[tuple[int, str, int], tuple[str, str]] = {}
    out: dict[str, JSONDict] = {}
    for key, row in rows.items():
        n, label, seed = row["generator_order"], row["column"], row["seed"]
        if label not in columns:
            out[key] = row
            continue
        decoder, d_order = columns[label]
        if (n, label, seed) not in cache:
            train_config = TrainConfig.from_settings(
                config.options, order=n, decoder=decoder, decoder_order=d_order,
                slot_sizes=config.slot_sizes, seed=seed, slot_degree=config.degree())
            cache[(n, label, seed)] = predict(symbolic_generator(train_config), decoder,
                                              train_config.model_order(), n)
        prediction, reason = cache[(n, label, seed)]
        candidate = (row["verdict"] == "mixed-but-reconstructs"
                     and prediction in PREDICTS_IDENTIFIABLE)
        out[key] = {**row, "prediction": prediction, "reason": reason,
                    "candidate_counterexample": candidate}
    return out


def _median(values: Sequence[float | None]) -> float:
    """Median of the defined values (null in runs.jsonl and NaN are undefined:
    numerics.core.jsonio)."""
    finite = [v for v in values if v is not None and v == v]
    return float(statistics.median(finite)) if finite else float("nan")


def cell_summary(rows: Sequence[JSONDict]) -> JSONDict:
    """Counts and medians of one cell's runs (module docstring)."""
    predictions = [r["prediction"] for r in rows]
    counts = {v: sum(r["verdict"] == v for r in rows) for v in RUN_VERDICTS}
    return {"runs": len(rows),
            "prediction": max(set(predictions), key=predictions.count) if rows else "",
            "predictions": sorted(set(predictions)),
            **counts,
            "candidates": sum(bool(r["candidate_counterexample"]) for r in rows),
            "identified_fraction": counts["identified"] / len(rows) if rows else float("nan"),
            "median_sis": _median([r["sis"] for r in rows]),
            "median_off_block": _median([r["off_block"] for r in rows]),
            "median_ood_ratio": _median([r["ood_ratio"] for r in rows]),
            "median_seconds": _median([r["seconds"] for r in rows])}


def run_grid(config: GridConfig, out_dir: str | Path, progress: bool = True
             ) -> JSONDict:
    """Train every cell's seeds (resuming from ``out_dir/runs.jsonl``), write the summary."""
    from numerics.synthetic.training import TrainConfig, train

    config.validate()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    done = _repredict(config, _load(log))
    if log.exists():  # drop a line cut by a kill, so that appended runs start on a new line
        from numerics.core.io import atomic_write_text

        atomic_write_text(log, "".join(dumps(row) + "\n" for row in done.values()))
    # seeds outermost: a grid stopped early has about the same number of runs in every cell
    todo = [(n, col, s) for s in range(config.first_seed, config.first_seed + config.seeds)
            for n in config.generator_orders for col in config.columns()]
    t0 = time.perf_counter()
    with log.open("a") as handle:
        for i, (n, (label, decoder, d_order), seed) in enumerate(todo):
            if _key(n, label, seed) in done:
                continue
            kw: JSONDict = dict(config.options)
            if config.steps is not None:
                kw["steps"] = config.steps
            result = train(TrainConfig.from_settings(
                order=n, decoder=decoder, decoder_order=d_order, slot_sizes=config.slot_sizes,
                slot_degree=config.degree(), support=config.support, seed=seed,
                device=config.device, progress=False, **kw))
            row = _row(n, label, seed, result)
            handle.write(dumps(row) + "\n")
            handle.flush()
            done[_key(n, label, seed)] = row
            if progress:
                LOGGER.info("[%d/%d] n=%d %s seed %d: %s (SIS %.3f, off-block %.3f, %.0f s)",
                            i + 1, len(todo), n, label, seed, row["verdict"], row["sis"],
                            row["off_block"], row["seconds"])
    summary = write_summary(config, done, out)
    summary["seconds"] = time.perf_counter() - t0
    return summary


def write_summary(config: GridConfig, rows: dict[str, JSONDict], out: Path
                  ) -> JSONDict:
    """grid.json, grid.md and the figure from the runs of ``config``'s cells."""
    from numerics.core.figure_style import save
    from numerics.core.io import atomic_write_json, atomic_write_text
    from numerics.figures.results import block_grid_figure

    seeds = range(config.first_seed, config.first_seed + config.seeds)
    cells: list[JSONDict] = []
    for n in config.generator_orders:
        for label, _, d_order in config.columns():
            runs = [rows[k] for s in seeds if (k := _key(n, label, s)) in rows]
            cells.append({"generator_order": n, "column": label, "decoder_order": d_order,
                          **cell_summary(runs)})
    summary = {"config": {**asdict(config), "slot_sizes": list(config.slot_sizes),
                          "slot_degree": config.degree()},
               "cells": cells}
    atomic_write_json(out / "grid.json", summary)
    atomic_write_text(out / "grid.md", format_markdown(summary))
    labels = [c[0] for c in config.columns()]
    fraction = [[c["identified_fraction"] for c in cells if c["generator_order"] == n]
                for n in config.generator_orders]
    text = [[f"{c['identified']}/{c['runs']}\n{_short(c['prediction'])}" for c in cells
             if c["generator_order"] == n] for n in config.generator_orders]
    plotted = block_grid_figure(fraction, text, list(config.generator_orders), labels,
                                "x".join(map(str, config.slot_sizes))
                                if len(set(config.slot_sizes)) > 1 else
                                f"{len(config.slot_sizes)}x{config.slot_sizes[0]}")
    save(plotted.figure, out, "grid")
    return summary


_SHORT = {"identifiable": "thm: ident.", "conjectured": "conjectured",
          "no-theorem": "no theorem", "cannot-reconstruct": "cannot fit",
          "not-identifiable": "not ident."}


def _short(prediction: str) -> str:
    return _SHORT.get(prediction, prediction)


def format_markdown(summary: JSONDict) -> str:
    """The grid as a markdown table, one row per cell."""
    lines = ["| generator order | decoder | theory predicts | identified | not-converged | "
             "mixed | candidates | median SIS | median off-block | median OOD/ID | "
             "median s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in summary["cells"]:
        lines.append(
            f"| {c['generator_order']} | {c['column']} | {', '.join(c['predictions'])} | "
            f"{c['identified']}/{c['runs']} | {c['not-converged']} | "
            f"{c['mixed-but-reconstructs']} | {c['candidates']} | {c['median_sis']:.3f} | "
            f"{c['median_off_block']:.3f} | {c['median_ood_ratio']:.3g} | "
            f"{c['median_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def parse_orders(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> (0, 1, 2); ConfigError for anything else."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"orders must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 0 or max(values) > 6:
        raise ConfigError(f"orders must lie in 0..6, got {text!r}")
    return values

