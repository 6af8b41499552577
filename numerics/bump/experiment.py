"""The bump comparison: every decoder trained on the donut with one budget, evaluated OOD.

``run_bump(config)`` trains each decoder of ``config.models`` through
:func:`numerics.core.engine.fit` (MSE on target images at training centres, same steps, batch, lr
and data seed for all) and measures ID/OOD MSE, their ratio, the per-layer pullback-metric
factorization score and the cross-slot derivative norm (:mod:`numerics.bump.metrics`), next to
the same quantities for the true generator. Derivative metrics use the integer centres on a
``metric_stride`` lattice (all of the Cartesian-product extension); the cross-slot norm is also
split into ID and OOD centres: a decoder that renders the bump has the target's value at both,
one that memorizes matches it at ID centres only. ``save_bump`` writes the JSON (atomically) and a
figure of OOD reconstructions; ``format_table`` prints the table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch

from numerics.bump.explain import explain_bump
from numerics.bump.metrics import (
    cross_derivative_norm,
    layer_factorization_scores,
    reconstruction_errors,
    target_cross_derivative_norm,
    target_factorization_score,
)
from numerics.bump.models import BASELINES, DECODER_KINDS, BumpDecoder, make_bump_decoder
from numerics.bump.task import (
    BumpTask,
    bump_image,
    encode,
    grid_centres,
    is_ood,
    sample_train_centres,
)
from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import ConfigError
from numerics.core.io import atomic_write_json
from numerics.core.validation import positive_int

Tensor = torch.Tensor


@dataclass
class BumpConfig:
    """Task geometry, model sizes and the shared training budget of the comparison."""

    size: int = 28
    sigma: float = 1.0
    ood: tuple[int, int] = (6, 22)
    inputs: str = "bump"
    inverted: bool = True
    continuous: bool = False
    models: tuple[str, ...] = DECODER_KINDS
    steps: int = 1500
    batch: int = 64
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    hidden: int = 256
    depth: int = 3
    channels: int = 32
    slot_hidden: int = 64
    rank: int = 1
    metric_stride: int = 2
    explain: bool = True
    progress: bool = True

    def task(self) -> BumpTask:
        """The :class:`BumpTask` of this configuration (validates the geometry)."""
        ood = cast(tuple[int, int], tuple(self.ood))  # a list from JSON; BumpTask checks it
        return BumpTask(self.size, self.sigma, ood, self.inputs, self.inverted, self.continuous)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot run."""
        if not self.models or any(m not in DECODER_KINDS for m in self.models):
            raise ConfigError(f"models must be a non-empty subset of {DECODER_KINDS}, got "
                              f"{self.models!r}")
        for name in ("batch", "metric_stride"):
            positive_int(name, getattr(self, name))
        task = self.task()
        if "conv" in self.models and task.size % 4:
            raise ConfigError(f"the conv decoder needs a size divisible by 4, got {task.size}:"
                              " change --size or leave conv out of --models")


@dataclass
class BumpResult:
    """One row per decoder (plus the true generator), the exact explanation and the config."""

    rows: list[dict[str, object]]
    explanation: dict[str, object] | None
    config: dict[str, object]
    explanation_text: str = ""
    decoders: dict[str, BumpDecoder] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dictionary (trained decoders left out)."""
        return {"rows": self.rows, "explanation": self.explanation, "config": self.config,
                "explanation_text": self.explanation_text}


def _train(kind: str, task: BumpTask, config: BumpConfig) -> tuple[BumpDecoder, float]:
    model = make_bump_decoder(kind, task, seed=config.seed, hidden=config.hidden,
                              depth=config.depth, channels=config.channels,
                              slot_hidden=config.slot_hidden, rank=config.rank)

    def sample_batch(step: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        xy = sample_train_centres(config.batch, task, generator)
        return xy, bump_image(xy, task)

    def loss_fn(net: BumpDecoder, batch: tuple[Tensor, Tensor], step: int
                ) -> tuple[Tensor, dict[str, float]]:
        xy, target = batch
        return (net(encode(xy, task)) - target).square().mean(), {}

    engine = EngineConfig(steps=config.steps, lr=config.lr, warmup_steps=min(50, config.steps),
                          seed=config.seed, device=config.device, progress=config.progress,
                          log_every=max(1, config.steps // 10))
    result = fit(model, loss_fn, sample_batch, engine, description=f"bump {kind}")
    return model, result.seconds


def _metric_centres(task: BumpTask, stride: int) -> Tensor:
    xy = grid_centres(task, torch.float64)
    keep = (xy[:, 0] % stride == 0) & (xy[:, 1] % stride == 0)
    return xy[keep]


def run_bump(config: BumpConfig) -> BumpResult:
    """Train and evaluate every decoder of ``config.models``; see the module docstring."""
    config.validate()
    task = config.task()
    xy = _metric_centres(task, config.metric_stride)
    ood = is_ood(xy, task)
    if not ood.any() or ood.all():
        raise ConfigError(f"metric_stride {config.metric_stride} leaves no ID or no OOD centre;"
                          " use a smaller stride")
    rows: list[dict[str, object]] = []
    if task.differentiable:
        rows.append({"model": "target", "role": "true generator", "params": 0,
                     "id_mse": 0.0, "ood_mse": 0.0, "ratio": None,
                     "factorization": {"image": target_factorization_score(task, xy)},
                     "cross_norm": target_cross_derivative_norm(task, xy),
                     "cross_norm_id": target_cross_derivative_norm(task, xy[~ood]),
                     "cross_norm_ood": target_cross_derivative_norm(task, xy[ood]),
                     "seconds": 0.0})
    decoders = {}
    for kind in config.models:
        model, seconds = _train(kind, task, config)
        decoders[kind] = model
        errors = reconstruction_errors(model, task)
        row: dict[str, object] = {
            "model": kind, "role": "baseline" if kind in BASELINES else "interaction-asymmetric",
            "params": sum(p.numel() for p in model.parameters()),
            "id_mse": errors.id_mse, "ood_mse": errors.ood_mse, "ratio": errors.ratio,
            "factorization": None, "cross_norm": None, "cross_norm_id": None,
            "cross_norm_ood": None, "seconds": seconds,
        }
        if task.differentiable:
            row["factorization"] = layer_factorization_scores(model, task, xy)
            row["cross_norm"] = cross_derivative_norm(model, task, xy)
            row["cross_norm_id"] = cross_derivative_norm(model, task, xy[~ood])
            row["cross_norm_ood"] = cross_derivative_norm(model, task, xy[ood])
        rows.append(row)
    explanation, text = None, ""
    if config.explain:
        exact = explain_bump(config.sigma)
        explanation, text = exact.to_dict(), exact.format()
    return BumpResult(rows, explanation, dataclasses.asdict(config), text, decoders)


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def format_table(result: BumpResult) -> str:
    """Plain-text table: model, ID MSE, OOD MSE, OOD/ID, factorization (mean over hidden layers,
    image), cross-slot derivative norm at ID and at OOD centres, training seconds."""
    header = ["model", "role", "ID MSE", "OOD MSE", "OOD/ID", "fact.hidden", "fact.image",
              "cross ID", "cross OOD", "train s"]
    lines = [header]
    for row in result.rows:
        fact = row["factorization"]
        hidden = None
        if isinstance(fact, dict):
            inner = [v for k, v in fact.items() if k != "image"]
            hidden = sum(inner) / len(inner) if inner else None
        lines.append([str(row["model"]), str(row["role"]), _fmt(row["id_mse"]),
                      _fmt(row["ood_mse"]), _fmt(row["ratio"]), _fmt(hidden),
                      _fmt(fact["image"] if isinstance(fact, dict) else None),
                      _fmt(row["cross_norm_id"]), _fmt(row["cross_norm_ood"]),
                      f"{row['seconds']:.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def ood_examples(task: BumpTask) -> Tensor:
    """Four held-out centres spread over the OOD square: ``(4, 2)``."""
    lo, hi = task.ood
    a, b, m = lo + (hi - lo) // 4, hi - (hi - lo) // 4, (lo + hi) // 2
    return torch.tensor([[a, b], [m, m], [b, a], [a, a]], dtype=torch.float32)


def plot_ood_reconstructions(result: BumpResult, task: BumpTask, out_dir: str | Path
                             ) -> list[Path]:
    """Figure ``bump_ood.png``/``.pdf``: targets (top row) vs each decoder at held-out centres,
    the held-out square outlined."""
    from matplotlib.patches import Rectangle

    from numerics.core.figure_style import new_figure, save

    xy = ood_examples(task)
    rows = [("target", bump_image(xy, task))]
    with torch.no_grad():
        for kind, model in result.decoders.items():
            p = next(model.parameters())
            code = encode(xy.to(device=p.device, dtype=p.dtype), task)
            rows.append((kind, model(code).float().cpu()))
    fig, axes = new_figure(ncols=len(xy), nrows=len(rows), width=1.6, height=1.6)
    lo, hi = task.ood
    for r, (name, images) in enumerate(rows):
        for c in range(len(xy)):
            ax = axes[r * len(xy) + c]
            ax.imshow(images[c].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            ax.add_patch(Rectangle((lo - 0.5, lo - 0.5), hi - lo + 1, hi - lo + 1, fill=False,
                                   edgecolor="tab:red", linestyle="--", linewidth=0.8))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"({int(xy[c, 0])}, {int(xy[c, 1])})")
            if c == 0:
                ax.set_ylabel(name)
    return save(fig, out_dir, "bump_ood")


def save_bump(result: BumpResult, task: BumpTask, out_dir: str | Path) -> dict[str, str]:
    """Write ``bump_results.json`` (atomic) and the OOD figure; return the paths written."""
    out = Path(out_dir)
    atomic_write_json(out / "bump_results.json", result.to_dict())
    figures = plot_ood_reconstructions(result, task, out)
    return {"json": str(out / "bump_results.json"), "figure": str(figures[0])}
