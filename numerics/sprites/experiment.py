"""The paper's comparison on sprites: interaction penalty, KL term and decoder ablations.

Variants (each trained from the same seed on the same scenes, then evaluated on held-out scenes):

- ``full``: Transformer encoder + cross-attention decoder, alpha > 0, beta > 0 (the method);
- ``alpha=0``: no interaction penalty;  ``beta=0``: no KL term (a plain autoencoder with noise);
- ``spatial-broadcast``: spatial-broadcast decoder (no attention, so alpha = 0), beta > 0;
- ``slot-attention``: Slot Attention encoder with the full objective.

Every variant runs for each requested seed and scene mode. Writes ``results.json``
(configuration, one row per mode/variant/seed, the mean ± std summary over seeds, the
learning curves of the figure (``curves``) and of every run (``run_curves``, keyed
``MODE/VARIANT/sSEED``)), ``results.md`` (summary and per-run tables), ``jacobian_maps.png``
(per variant and mode, first seed: a test scene, its reconstruction and the normalized decoder
Jacobian map Jn_{p,k} of every slot) and, with ``engine.eval_every > 0``,
``learning_curves.png`` (the same runs; figure labels are ``VARIANT``, or ``MODE VARIANT`` with
several modes). Every row carries a
``verdict`` (:func:`numerics.sprites.metrics.judge_run`: ``objects``, ``collapsed``,
``no-recon`` or ``mixed``) and ``collapsed``: a run whose slots collapse onto one slot has a
high JIS and a low J-ARI, and is flagged rather than counted as a success. Each run trains
through :func:`numerics.core.engine.fit` with a checkpoint in the output folder, so an interrupted
experiment resumes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from numerics.core.engine import EngineConfig, differences
from numerics.core.errors import ConfigError
from numerics.core.io import atomic_write_json, atomic_write_text
from numerics.core.progress import configure_logging, logging_setup
from numerics.sprites.data import Scenes, SpritesConfig, render
from numerics.sprites.loss import LossConfig
from numerics.sprites.metrics import decoder_jacobian, normalize_jacobian
from numerics.sprites.models import ModelConfig, SlotVAE, make_model
from numerics.sprites.training import (
    SpritesRun,
    evaluate_sprites,
    train_sprites,
    training_scenes,
)

#: How each variant (module docstring) changes the base run of the ``full`` variant.
_VARIANT_CHANGES: dict[str, Callable[[SpritesRun], SpritesRun]] = {
    "full": lambda base: base,
    "alpha=0": lambda base: replace(base, loss=replace(base.loss, alpha=0.0)),
    "beta=0": lambda base: replace(base, loss=replace(base.loss, beta=0.0)),
    # no attention to penalize, and its CNN renders whole images only
    "spatial-broadcast": lambda base: replace(
        base, model=replace(base.model, decoder="spatial-broadcast"),
        loss=replace(base.loss, alpha=0.0, pixel_fraction=1.0)),
    "slot-attention": lambda base: replace(base, model=replace(base.model,
                                                               encoder="slot-attention")),
}
VARIANTS = tuple(_VARIANT_CHANGES)
COLUMNS = ("mode", "variant", "seed", "alpha", "beta", "recon_mse", "recon_r2", "jis",
           "jis_single", "jis_overlap", "j_ari", "fg_ari", "sis", "dominant_share", "verdict",
           "steps", "train_s")
#: J-ARI on the learning-curve scenes at which a run counts as having found objects
#: (``steps_to_objects``, ``seconds_to_objects``: the first evaluation at or above it; NaN if
#: none; seconds = steps x the run's wall time per step over all its training calls,
#: evaluations included, which its checkpoint carries across a resume; NaN when resumed from a
#: checkpoint written before checkpoints recorded it).
OBJECTS_J_ARI = 0.8
#: Held-out scenes of the comparison, and how many of them get the decoder Jacobian (JIS,
#: J-ARI): all of them, since J-ARI per scene is close to all-or-nothing (a slot owns an object
#: or it does not), so a mean over a few dozen scenes moves by 0.1 between scene sets.
N_EVAL = 256
N_JACOBIAN = 256
#: Held-out scenes (another seed) of every learning-curve point.
N_CURVE = 64
#: Metrics averaged over seeds in the summary (mean and std).
SUMMARY_METRICS = ("jis", "jis_single", "jis_overlap", "j_ari", "j_ari_overlap", "j_ari_apart",
                   "fg_ari", "sis", "recon_mse",
                   "recon_r2", "dominant_share")


def _smoke() -> SpritesRun:
    """Seconds per run: the test suite's model."""
    return SpritesRun(
        data=SpritesConfig(size=16, min_objects=2, max_objects=2),
        model=ModelConfig(size=16, slots=3, slot_dim=4, width=16, encoder_layers=1,
                          encoder_heads=2, decoder_layers=1, decoder_heads=2, octaves=3,
                          cnn_channels=8, iterations=1),
        loss=LossConfig(sigma=5.0, beta=0.05, alpha=0.05, alpha_warmup=4),
        engine=EngineConfig(steps=8, lr=1e-3, log_every=4, progress=False),
        n_train=64, batch_size=8)


def _cpu_24() -> SpritesRun:
    """The round-4 recipe of docs/sprites.md (run e3), the ``cpu`` preset of the paper's
    comparison there: 24 x 24 scenes of 2-3 objects 5-9 pixels across (fewer overlaps and
    boundary pixels than 16 x 16), K = 3 slots of dimension 6, 4 encoder layers, tokens at
    quarter resolution, one decoder head, the posterior log-variance starting at -4, the
    penalty off for 2000 steps (reconstruction first; an earlier penalty collapses onto one
    slot), then warmed up to alpha = 40 over 2000 steps (one head: the penalty is at most 1/3
    per pixel)."""
    return SpritesRun(
        data=SpritesConfig(size=24, min_objects=2, max_objects=3, min_scale=0.11,
                           max_scale=0.18, margin=0.12),
        model=ModelConfig(size=24, slots=3, slot_dim=6, width=64, encoder_layers=4,
                          encoder_heads=4, decoder_layers=2, decoder_heads=1, octaves=4,
                          cnn_channels=32, downsample=4, logvar_init=-4.0),
        loss=LossConfig(sigma=1.0, beta=0.05, alpha=40.0, alpha_warmup=2000,
                        alpha_start=2000),
        engine=EngineConfig(steps=6000, lr=1.5e-3, warmup_steps=100, min_lr_ratio=0.1,
                            log_every=50, eval_every=500),
        n_train=4000, batch_size=32)


def _cpu() -> SpritesRun:
    """The round-7 recipe of docs/sprites.md: ``cpu-24`` on a 28 x 28 canvas with objects of
    the same pixel sizes (scale, margin x 24/28: objects overlap in 36 % of the scenes
    instead of 47 %), the decoder rendering a random three quarters of the pixels per step
    (``pixel_fraction`` 0.75: a step costs what a whole 24 x 24 image did)."""
    base, size = _cpu_24(), 28

    def same_pixels(fraction: float) -> float:  # a fraction of 24 pixels, of 28 (4 decimals)
        return round(fraction * base.data.size / size, 4)

    return replace(
        base,
        data=replace(base.data, size=size, min_scale=same_pixels(base.data.min_scale),
                     max_scale=same_pixels(base.data.max_scale),
                     margin=same_pixels(base.data.margin)),
        model=replace(base.model, size=size),
        loss=replace(base.loss, pixel_fraction=0.75))


def _paper() -> SpritesRun:
    """The paper's sizes and weights (docs/theory.md section 5), for a GPU."""
    return SpritesRun(
        data=SpritesConfig(size=64, min_objects=1, max_objects=4),
        model=ModelConfig(size=64, slots=5, slot_dim=32, width=192, encoder_layers=5,
                          encoder_heads=4, decoder_layers=2, decoder_heads=12, octaves=8,
                          cnn_channels=64),
        loss=LossConfig(sigma=5.0, beta=0.05, alpha=0.05, alpha_warmup=25_000),
        engine=EngineConfig(steps=500_000, lr=5e-4, warmup_steps=10_000, amp=True,
                            log_every=500, checkpoint_every=5000),
        n_train=100_000, batch_size=64)


def _gpu() -> SpritesRun:
    """The ``cpu`` recipe with a wider model, five encoder layers as in the paper, whole images
    at every step, twice the batch and more steps: sized (not measured: no GPU was lent to the
    sessions that set it) for <= 10 minutes on one H100."""
    cpu = _cpu()
    return replace(
        cpu,
        model=replace(cpu.model, width=128, cnn_channels=64, encoder_layers=5),
        loss=replace(cpu.loss, pixel_fraction=1.0),
        engine=replace(cpu.engine, steps=20_000, amp=True, log_every=200, eval_every=1000,
                       checkpoint_every=2000, device="auto"),
        n_train=50_000, batch_size=64)


#: The named base runs of :func:`preset`.
PRESETS: dict[str, Callable[[], SpritesRun]] = {"smoke": _smoke, "cpu": _cpu,
                                                "cpu-24": _cpu_24, "gpu": _gpu,
                                                "paper": _paper}


def preset(name: str) -> SpritesRun:
    """Base run of the ``full`` variant: ``smoke`` (seconds, tests), ``cpu`` (24 minutes
    per run with both cores of a slow 2-core machine, an AMD EPYC without AVX-512; 39 each
    with two runs at a time there), ``cpu-24`` (the previous ``cpu`` recipe, at which the
    paper's comparison of docs/sprites.md ran), ``gpu`` (the ``cpu`` recipe, larger, for one
    GPU) or ``paper`` (the paper's sizes and weights, docs/theory.md section 5, for a GPU).

    ``cpu`` is the best recipe measured on a 2-core CPU (docs/sprites.md): 28 x 28 scenes of
    2-3 objects 5-9 pixels across (the more canvas around objects of that size, the fewer
    scenes with overlapping objects, where J-ARI is lost: 67 % of the scenes on 16 x 16, 47 %
    on 24 x 24, 36 % on 28 x 28), K = 3 slots of dimension 6, four encoder layers on tokens at
    quarter resolution, one decoder head, the posterior log-variance starting at -4 (less
    sampling noise while the reconstruction is learned), alpha = 0 for 2000 steps and then
    warmed up to 40 over 2000 steps, 6000 steps in which the decoder renders a random three
    quarters of the pixels (``pixel_fraction`` 0.75, an unbiased estimate of the whole-image
    loss; evaluation renders whole images). With one head the penalty is at most
    (1 - 1/K)/2 = 1/3 per pixel, and the paper's alpha = 0.05 with the per-image squared
    error as reconstruction term leaves it without effect in so few steps; a penalty that
    starts before the reconstruction is learned collapses every pixel onto one slot.
    """
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}") from None


def variant_run(base: SpritesRun, variant: str) -> SpritesRun:
    """The configuration of ``variant`` (see the module docstring) derived from ``base``."""
    try:
        change = _VARIANT_CHANGES[variant]
    except KeyError:
        raise ConfigError(f"unknown variant {variant!r}: use one of {VARIANTS}") from None
    return change(base)


@dataclass
class ExperimentResult:
    """Rows of the comparison (one per mode, variant and seed, dicts with :data:`COLUMNS`),
    the summary over seeds (:data:`SUMMARY_METRICS` as mean and std) and the written files."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else ""
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown_table(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    """The rows as a GitHub markdown table (floats with 3 decimals; a collapsed run's verdict
    in bold)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [_cell(r.get(c, "")) for c in columns]
        if r.get("collapsed") and "verdict" in columns:
            i = columns.index("verdict")
            cells[i] = f"**{cells[i]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def group_runs(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rows of each (mode, variant), in order of first appearance: one entry per seed."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["mode"], r["variant"]), []).append(r)
    return groups


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and (population) std over seeds of :data:`SUMMARY_METRICS` per (mode, variant), the
    number of seeds and how many runs got each verdict (e.g. ``objects 2, collapsed 1``)."""
    out = []
    for (mode, variant), group in group_runs(rows).items():
        entry: dict[str, Any] = {"mode": mode, "variant": variant, "seeds": len(group)}
        for m in SUMMARY_METRICS:
            values = np.array([float(g[m]) for g in group], dtype=np.float64)
            finite = values[np.isfinite(values)]
            entry[m] = float(finite.mean()) if finite.size else math.nan
            entry[m + "_std"] = float(finite.std()) if finite.size else math.nan
        verdicts = [g["verdict"] for g in group]
        entry["verdicts"] = ", ".join(f"{v} {verdicts.count(v)}" for v in dict.fromkeys(verdicts))
        entry["collapsed"] = sum(bool(g["collapsed"]) for g in group)
        out.append(entry)
    return out


def summary_markdown(summary: list[dict[str, Any]]) -> str:
    """The summary as a markdown table: ``mean ± std`` per metric, verdict counts."""
    head = ("mode", "variant", "seeds", *SUMMARY_METRICS, "verdicts")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["mode"], e["variant"], str(e["seeds"])]
        cells += [f"{e[m]:.3f} ± {e[m + '_std']:.3f}" for m in SUMMARY_METRICS]
        cells.append(e["verdicts"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _image(model: SlotVAE, z: torch.Tensor) -> torch.Tensor:
    """The decoded image of slot latents ``z`` in float32."""
    return model.decoder(z).image.float()


def jacobian_figure(models: dict[str, tuple[SlotVAE, torch.Tensor]], path: str | os.PathLike,
                    device: str = "cpu") -> None:
    """Save a figure: one row per entry ``name: (model, image)`` with the scene ``image``
    (1, 3, H, W), its reconstruction and Jn_{:,k} per slot k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(m.config.slots for m, _ in models.values())
    fig, axes = plt.subplots(len(models), k + 2, figsize=(1.6 * (k + 2), 1.7 * len(models)),
                             squeeze=False)
    for row, (name, (model, images)) in enumerate(models.items()):
        size = images.shape[-1]
        model = model.to(device).eval()
        x = images.to(device)
        with torch.no_grad():
            out = model(x)
        jac = decoder_jacobian(functools.partial(_image, model), out.mu)
        maps = normalize_jacobian(jac)[0].T.reshape(-1, size, size).cpu()
        panels = [("scene", x[0].permute(1, 2, 0).clamp(0, 1).cpu()),
                  ("recon", out.decoded.image[0].float().permute(1, 2, 0).clamp(0, 1).cpu())]
        panels += [(f"slot {j}", maps[j]) for j in range(maps.shape[0])]
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(panels):
                title, img = panels[col]
                ax.imshow(img.numpy(), vmin=0, vmax=1, cmap=None if img.ndim == 3 else "magma")
                ax.set_title(title, fontsize=7)
            else:
                ax.axis("off")
        axes[row][0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curve_figure(curves: dict[str, dict[str, list]], path: str | os.PathLike) -> None:
    """Learning curves, one column per run name: the loss terms (recon, KL, interaction,
    alpha(t); log scale) over steps on top, JIS, J-ARI, FG-ARI and the dominant-slot share on
    held-out scenes below. ``curves[name]``: ``{"history": [...], "evaluations": [...]}`` as in
    :class:`numerics.core.engine.FitResult`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(curves), figsize=(4.2 * len(curves), 6.0), squeeze=False)
    for col, (name, curve) in enumerate(curves.items()):
        top, bottom = axes[0][col], axes[1][col]
        hist = curve["history"]
        steps = [h["step"] for h in hist]
        for key in ("recon", "kl", "interaction", "alpha"):
            values = [h[key] for h in hist if key in h]
            if values and max(values) > 0:
                top.plot(steps[:len(values)], values, label=key)
        top.set_yscale("log")
        top.set_title(name, fontsize=9)
        top.legend(fontsize=7)
        evals = curve["evaluations"]
        if evals:
            e_steps = [e["step"] for e in evals]
            for key in ("jis", "j_ari", "fg_ari", "dominant_share"):
                bottom.plot(e_steps, [e[key] for e in evals], marker=".", label=key)
        bottom.axhline(0.8, color="grey", lw=0.6, ls="--")
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel("step")
        bottom.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class _Task:
    """One (mode, variant, seed) training run of :func:`run_experiment`."""

    mode: str
    variant: str
    seed: int
    run: SpritesRun
    n_jacobian: int
    regressor: str


def _train_and_score(task: _Task, train: Scenes, test: Scenes, curve_scenes: Scenes,
                     threads: int | None = None, quiet: bool | None = None
                     ) -> tuple[dict[str, Any], dict[str, list], dict[str, torch.Tensor]]:
    """Train ``task.run`` and score it on ``test``: returns (row, learning curve, weights).

    In a worker process: ``threads``, torch's intra-op thread count for this run; ``quiet``,
    the parent's log set-up (:func:`~numerics.core.progress.configure_logging`; None: the
    parent logged nothing, so neither does the worker)."""
    if threads is not None:
        torch.set_num_threads(threads)
    if quiet is not None:
        configure_logging(quiet=quiet)
    run = task.run
    model, fit_result = train_sprites(run, train, eval_scenes=curve_scenes,
                                      n_jacobian=min(task.n_jacobian, len(curve_scenes)))
    metrics = evaluate_sprites(model, test, n_jacobian=task.n_jacobian, regressor=task.regressor,
                               seed=task.seed, device=run.engine.device)
    row = {"mode": task.mode, "variant": task.variant, "seed": task.seed,
           "decoder": run.model.decoder, "encoder": run.model.encoder,
           "alpha": run.loss.alpha, "beta": run.loss.beta, **metrics,
           "train_s": fit_result.total_seconds, "steps": fit_result.steps,
           "resumed_from": fit_result.resumed_from, "device": fit_result.device}
    reached = [e["step"] for e in fit_result.evaluations if e["j_ari"] >= OBJECTS_J_ARI]
    # wall time per step over every call of the run (a resumed run's checkpoint carries the
    # seconds of the calls before; NaN for checkpoints written before they did)
    trained = fit_result.steps - run.engine.first_step
    per_step = fit_result.total_seconds / trained if trained else math.nan
    row["steps_to_objects"] = float(reached[0]) if reached else math.nan
    row["seconds_to_objects"] = float(reached[0]) * per_step if reached else math.nan
    curve = {"history": fit_result.history, "evaluations": fit_result.evaluations}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return row, curve, state


def run_experiment(base: SpritesRun, out: str | os.PathLike, *,
                   variants: tuple[str, ...] = VARIANTS, seeds: tuple[int, ...] | None = None,
                   modes: tuple[str, ...] | None = None, n_eval: int = N_EVAL,
                   n_jacobian: int = N_JACOBIAN, regressor: str = "kernel",
                   eval_seed: int = 12345, n_curve: int = N_CURVE,
                   jobs: int = 1) -> ExperimentResult:
    """Train and evaluate every (mode, variant, seed) on the same data per mode; write JSON,
    markdown, the Jacobian-map figure (first seed of each variant in each mode) and, when
    ``base.engine.eval_every > 0``, learning curves (the same runs; scored on
    ``n_curve`` held-out scenes of another seed than the test scenes).

    ``seeds``: model/batch seeds (default: ``base.engine.seed``); ``modes``: scene composition
    modes (default: ``base.data.mode``). A run's checkpoint is ``out/MODE-VARIANT-sSEED.pt``.
    ``jobs`` > 1 trains that many runs at once in worker processes, each with
    ``max(1, torch.get_num_threads() // jobs)`` threads; a run's numbers depend on its thread
    count only (same thread count per run: the same rows, bit for bit, whatever ``jobs``);
    rows keep the order mode, variant, seed.
    """
    from numerics.core.io import check_output_path

    out = check_output_path(out, "output folder", directory=True)
    seeds = tuple(seeds) if seeds else (base.engine.seed,)
    modes = tuple(modes) if modes else (base.data.mode,)
    if len(set(seeds)) != len(seeds) or len(set(modes)) != len(modes):
        raise ConfigError("seeds and modes must not repeat")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    runs = {(mode, v): variant_run(replace(base, data=replace(base.data, mode=mode)), v)
            for mode in modes for v in variants}
    for run in runs.values():
        run.validate()
    data: dict[str, tuple[Scenes, Scenes, Scenes]] = {}
    tasks: list[_Task] = []
    for (mode, name), run in runs.items():
        if mode not in data:
            data[mode] = (training_scenes(run, progress=run.engine.progress),
                          render(run.data, n_eval, eval_seed),
                          render(run.data, n_curve, eval_seed + 1))
        for seed in seeds:
            tag = f"{mode}-{name}-s{seed}"
            seeded = replace(run, engine=replace(run.engine, seed=seed,
                                                 checkpoint=str(out / f"{tag}.pt")))
            tasks.append(_Task(mode, name, seed, seeded, n_jacobian, regressor))
    if jobs == 1:
        results = [_train_and_score(t, *data[t.mode]) for t in tasks]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, torch.get_num_threads() // jobs)
        quiet = logging_setup()  # spawned workers start with a bare logger
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_train_and_score, t, *data[t.mode], threads, quiet)
                       for t in tasks]
            results = [f.result() for f in futures]
    rows: list[dict[str, Any]] = []
    models: dict[str, tuple[SlotVAE, torch.Tensor]] = {}
    curves: dict[str, dict[str, list]] = {}
    run_curves: dict[str, dict[str, list]] = {}
    for task, (row, curve, state) in zip(tasks, results, strict=True):
        rows.append(row)
        run_curves[f"{task.mode}/{task.variant}/s{task.seed}"] = curve
        if task.seed == seeds[0]:
            model = make_model(task.run.model)
            model.load_state_dict(state)
            label = task.variant if len(modes) == 1 else f"{task.mode} {task.variant}"
            models[label] = (model, data[task.mode][1].images[:1])
            curves[label] = curve
    header = {"base": dataclasses.asdict(base), "n_eval": n_eval, "n_jacobian": n_jacobian,
              "regressor": regressor, "eval_seed": eval_seed, "seeds": list(seeds),
              "modes": list(modes)}
    return _write_results(out, header, rows, curves, run_curves, models)


def _write_results(out: Path, header: dict[str, Any], rows: list[dict[str, Any]],
                   curves: dict[str, dict[str, list]], run_curves: dict[str, dict[str, list]],
                   models: dict[str, tuple[SlotVAE, torch.Tensor]]) -> ExperimentResult:
    """Write ``results.json`` (``header`` + rows, summary and curves), ``results.md``,
    ``jacobian_maps.png`` and, when the figure's curves have evaluations,
    ``learning_curves.png`` into ``out``."""
    summary = summarize(rows)
    files = {"json": str(out / "results.json"), "markdown": str(out / "results.md"),
             "figure": str(out / "jacobian_maps.png")}
    atomic_write_json(files["json"], {**header, "rows": rows, "summary": summary,
                                      "curves": curves, "run_curves": run_curves})
    flagged = [f"{r['mode']} {r['variant']} seed {r['seed']}" for r in rows if r["collapsed"]]
    note = ("\nCollapsed (one slot owns nearly every foreground pixel while J-ARI stays low; "
            "JIS is high for that reason alone): " + "; ".join(flagged) + "\n") if flagged else ""
    atomic_write_text(files["markdown"], "## Mean ± std over seeds\n\n" + summary_markdown(summary)
                      + note + "\n## Runs\n\n" + markdown_table(rows))
    jacobian_figure(models, files["figure"])
    if any(c["evaluations"] for c in curves.values()):
        files["curves"] = str(out / "learning_curves.png")
        curve_figure(curves, files["curves"])
    return ExperimentResult(rows=rows, summary=summary, files=files)


#: Run settings that runs combined by :func:`combine_experiments` may differ in: the scene mode
#: (a table has one row group per mode), and what does not change a run's numbers or is chosen
#: per run anyway (seed, checkpoint path, device, progress bars, data cache path).
_PER_RUN = {"data": ("mode",), "engine": ("seed", "checkpoint", "fingerprint", "device",
                                          "progress"), "": ("cache",)}
#: The held-out scene seed of results written before ``results.json`` recorded it (every
#: earlier file was written with :func:`run_experiment`'s default).
_DEFAULT_EVAL_SEED = 12345


def _read_results(folder: Path) -> dict[str, Any]:
    """``folder/results.json`` of :func:`run_experiment`, its ``base`` parsed to a
    :class:`SpritesRun` (fields an older file lacks take their defaults)."""
    import json

    path = folder / "results.json"
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    keys = ("base", "rows", "run_curves", "n_eval", "n_jacobian", "regressor")
    if not isinstance(d, dict) or any(k not in d for k in keys) or not isinstance(d["rows"], list):
        raise ConfigError(f"{path} is not the results.json of 'iasym sprites experiment' (needs "
                          f"{', '.join(keys)})")
    d["base"] = SpritesRun.from_dict(d["base"])
    d.setdefault("eval_seed", _DEFAULT_EVAL_SEED)
    for r in d["rows"]:
        if not isinstance(r, dict) or any(k not in r for k in ("mode", "variant", "seed")):
            raise ConfigError(f"{path}: a row lacks mode, variant or seed")
        if r["variant"] not in VARIANTS:
            raise ConfigError(f"{path}: unknown variant {r['variant']!r}")
        r.update({k: math.nan for k, v in r.items() if v is None})  # null metric = NaN
    return d


def _shared_settings(results: dict[str, Any]) -> dict[str, Any]:
    """What every folder of one comparison must share: the base run as a nested dict without
    the settings of :data:`_PER_RUN`, the held-out scenes and the regressor."""
    base = dataclasses.asdict(results["base"])
    for part, names in _PER_RUN.items():
        for name in names:
            (base[part] if part else base).pop(name)
    return {"base": base, **{k: results[k] for k in ("n_eval", "n_jacobian", "regressor",
                                                      "eval_seed")}}


def _written_for(state: Any, run: SpritesRun) -> bool:
    """Whether the training checkpoint ``state`` carries the scenes, model and loss settings
    of ``run`` (settings an older checkpoint lacks take their defaults)."""
    saved = state.get("fingerprint") if isinstance(state, dict) else None
    try:
        return (isinstance(saved, dict) and SpritesConfig(**saved["data"]) == run.data
                and ModelConfig(**saved["model"]) == run.model
                and LossConfig(**saved["loss"]) == run.loss)
    except (KeyError, TypeError):
        return False


def combine_experiments(folders: list[str | os.PathLike],
                        out: str | os.PathLike) -> ExperimentResult:
    """One comparison from the output folders of several :func:`run_experiment` calls (e.g.
    variants or seeds trained on different machines or days): the union of their rows (rows
    ordered mode, variant as in :data:`VARIANTS`, seed), summary, curves and Jacobian maps,
    written to ``out`` as :func:`run_experiment` writes them.

    The folders must share every setting but those of :data:`_PER_RUN` (the same base run,
    held-out scenes and regressor; :class:`ConfigError` naming the first differing settings),
    and no (mode, variant, seed) may appear twice. The Jacobian-map figure needs the checkpoint
    ``MODE-VARIANT-sSEED.pt`` of the first seed of every (mode, variant) in the folder that
    holds its row; a checkpoint written for another configuration is refused
    (:class:`~numerics.core.errors.CheckpointError`).
    """
    from numerics.core.errors import CheckpointError
    from numerics.core.io import check_output_path, load_checkpoint

    if not folders:
        raise ConfigError("combine needs at least one experiment folder")
    check_output_path(out, "output folder", directory=True)
    paths = [Path(f) for f in folders]
    results = [_read_results(p) for p in paths]
    first = results[0]
    shared = _shared_settings(first)
    for path, res in zip(paths[1:], results[1:], strict=True):
        differing = [name.removeprefix("base.")
                     for name in differences(_shared_settings(res), shared)]
        if differing:
            raise ConfigError(f"{path} differs from {paths[0]} in {', '.join(differing[:6])}"
                              f"{' ...' if len(differing) > 6 else ''}: not one comparison")
    owner: dict[tuple[str, str, int], Path] = {}
    rows: list[dict[str, Any]] = []
    run_curves: dict[str, dict[str, list]] = {}
    for path, res in zip(paths, results, strict=True):
        for r in res["rows"]:
            key = (r["mode"], r["variant"], r["seed"])
            if key in owner:
                raise ConfigError(f"{key[0]} {key[1]} seed {key[2]} is in both {owner[key]} and "
                                  f"{path}")
            owner[key] = path
            rows.append(r)
            tag = f"{key[0]}/{key[1]}/s{key[2]}"
            if tag in res["run_curves"]:
                run_curves[tag] = res["run_curves"][tag]
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    rows.sort(key=lambda r: (modes.index(r["mode"]), VARIANTS.index(r["variant"]), r["seed"]))
    models: dict[str, tuple[SlotVAE, torch.Tensor]] = {}
    curves: dict[str, dict[str, list]] = {}
    scenes: dict[str, torch.Tensor] = {}
    for (mode, variant), group in group_runs(rows).items():
        seed = group[0]["seed"]
        run = variant_run(replace(first["base"], data=replace(first["base"].data, mode=mode)),
                          variant)
        ckpt = owner[(mode, variant, seed)] / f"{mode}-{variant}-s{seed}.pt"
        state = load_checkpoint(ckpt)
        if not _written_for(state, run):
            raise CheckpointError(f"{ckpt} was not written for the {mode} {variant} run of "
                                  f"these results (its data, model or loss settings differ)")
        model = make_model(run.model)
        try:
            model.load_state_dict(state["model"])
        except (KeyError, RuntimeError, TypeError) as err:
            raise CheckpointError(f"{ckpt} does not hold the model: {err}") from err
        if mode not in scenes:
            scenes[mode] = render(run.data, first["n_eval"], first["eval_seed"]).images[:1]
        label = variant if len(modes) == 1 else f"{mode} {variant}"
        models[label] = (model, scenes[mode])
        curves[label] = run_curves.get(f"{mode}/{variant}/s{seed}",
                                       {"history": [], "evaluations": []})
    header = {"base": dataclasses.asdict(first["base"]), "n_eval": first["n_eval"],
              "n_jacobian": first["n_jacobian"], "regressor": first["regressor"],
              "eval_seed": first["eval_seed"],
              "seeds": sorted({r["seed"] for r in rows}), "modes": modes,
              "combined_from": [str(p) for p in paths]}
    return _write_results(Path(out), header, rows, curves, run_curves, models)
