"""Numerical demonstrations of the counterexample catalogue (theory.counterexamples).

Each entry of the catalogue certifies symbolically that a conclusion of the theorems fails when
one assumption is dropped. Here small models are trained on data from the same generator f
(translated with :func:`numerics.synthetic.translate.from_sympy`, outputs standardized) and the
failure is *measured*:

* identifiability entries, witness fit: a structured decoder of the entry's model order
  (:class:`numerics.synthetic.models.StructuredDecoder`, trained by
  :func:`numerics.core.engine.fit`) is regressed from the certificate's mixed latents zhat =
  h^{-1}(z) (phi(z) for latent_dim_too_large) to x = f(z), z ~ U[-1, 1]^{d_z}. ``witness_fit_rel`` =
  mean|fhat(zhat) - x|^2 / mean|x - mean x|^2. The failure is shown when the class fits the
  mixed latents (``witness_fit_rel < TIGHT``) while a control that restores the assumption
  cannot (``fit_rel > RATIO x witness_fit_rel``): the same mixing on a sufficiently independent
  generator (linear, low_degree), the generator's own order (model_order_too_high), the true
  latents z (higher_order_interaction: the order-1 class fits u = A z but not z). For
  latent_dim_too_large the witness latents put a true slot in two model slots (its block R^2 on
  the second model slot is reported).
* the same entries, autoencoders from random initializations, ``cfg.seeds`` seeds: each is one
  run of the package's one synthetic pipeline :func:`numerics.synthetic.training.train` (data -> fit
  -> score -> verdict) on the entry's exact f, z ~ U[-1, 1]^{d_z} (support ``full``), an MLP
  encoder and a structured decoder of the entry's model order and model slots, one
  initialization per seed (``SelectionSettings(candidates=1, keep=1, restarts=0)``: no search).
  Per seed: ``recon_rel`` (the run's held-out ``recon_mse`` on per-output standardized outputs,
  i.e. relative to the output variance), ``sis``, ``matched_r2``, ``second_r2`` (from the run's
  R^2 matrix), ``off_block`` and, for higher_order_interaction, ``sis_mixed`` /
  ``matched_r2_mixed`` of the trained encoder against the witness's mixed latents h^{-1}(z) on
  the run's held-out latents (:func:`numerics.synthetic.data.build_data`); the run's verdict
  goes to ``DemoResult.verdicts``. The fitting seed with the lowest SIS (the one closest to the
  mixed latents where those are scored) is reported as ``ae_*`` (not part of the criterion: at these
  budgets an autoencoder may also stall at an approximate, mixed fit in identifiable cases).
* support_not_aligned_connected: a structured additive decoder is regressed on (z, f(z)) for z
  uniform on the disconnected support S = [0,1]^2 u [2,3]^2 (h = id, so identifiability is
  given) and on a connected control support with the same two unseen squares (the 7 unit
  squares of [0,3]^2 other than [0,1]x[2,3] and [2,3]x[0,1]); both are
  :func:`numerics.synthetic.supports.box_support` supports, whose Z_CPE and unseen squares come from
  the exact :func:`theory.counterexamples.cpe_boxes`. Measured: relative error (in units of the
  output variance on [0,3]^2) on the training support and on the unseen squares of Z_CPE
  (``sample_ood`` of S). The failure is shown when the decoder fits S but its error on the
  unseen squares is more than ``OOD_RATIO`` times larger than on S and than the control's.

The witness and control regressions standardize f per output with the statistics of 4096
samples; the autoencoders use the pipeline's standardization (training-set statistics). Theory
objects are read, never changed: the measurements are returned in a :class:`DemoResult` beside
the entry's certificate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import sympy
import torch
from torch import nn

from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import ConfigError
from numerics.core.validation import int_at_least, positive_finite
from numerics.synthetic.data import build_data
from numerics.synthetic.metrics import slot_identifiability
from numerics.synthetic.models import StructuredDecoder
from numerics.synthetic.selection import SelectionSettings
from numerics.synthetic.supports import BoxSupport, Support, box_support, make_support
from numerics.synthetic.training import TrainConfig, train
from numerics.synthetic.translate import from_sympy
from theory.counterexamples import CatalogueError, additive_quadratic
from theory.errors import BudgetError
from theory.generators import Generator
from theory.witnesses import CounterexampleEntry

Tensor = torch.Tensor
Sampler = Callable[[int, torch.Generator], Tensor]
Function = Callable[[Tensor], Tensor]

FIT = 0.02
#: Most training seeds per model (each is one training run).
MAX_SEEDS = 1000
MIXED = 0.8
TIGHT = 5e-3
RATIO = 10.0
OOD_RATIO = 10.0
#: The connected control of support_not_aligned_connected: the 7 unit squares of [0,3]^2 other
#: than the unseen [0,1]x[2,3] and [2,3]x[0,1] (the Z_CPE of both supports is [0,3]^2).
CONNECTED_CONTROL = tuple(((float(a), a + 1.0), (float(b), b + 1.0)) for a in range(3)
                          for b in range(3) if (a, b) not in ((0, 2), (2, 0)))

__all__ = ["DemoConfig", "DemoResult", "demonstrate"]


@dataclass(frozen=True)
class DemoConfig:
    """Training settings of a demonstration (about 10 s per model on one CPU core).

    ``seeds``: autoencoders trained from random initializations per model (0: none, only the
    witness and control fits), each one :func:`numerics.synthetic.training.train` run (``steps``,
    ``batch``, ``lr``, ``hidden``, ``n_eval``, ``device``, ``progress`` passed on, the rest the
    pipeline's defaults). ``regressor``: of the witness R^2 and of the autoencoders' SIS
    against the mixed latents (their SIS against the true slots is the pipeline's). ``lr``:
    Adam's steps move a parameter by about ``lr``, and the cross-slot coefficients of an
    order-2 decoder must reach O(1 / std(z_i z_j)) ~ 5-10 on standardized outputs, so at 3e-3
    and 1500 steps they cannot get there (witness and control both end near 0.15 relative
    error); 1e-2 and 3000 steps fit the witnesses to <= 1e-4.
    """

    steps: int = 3000
    batch: int = 256
    lr: float = 1e-2
    hidden: int = 32
    n_eval: int = 2000
    seed: int = 0
    seeds: int = 3
    regressor: str = "kernel"
    device: str = "auto"
    progress: bool = False

    def validate(self) -> None:
        """:class:`ConfigError` for non-positive sizes."""
        for name in ("steps", "batch", "hidden", "n_eval", "seeds"):
            int_at_least(name, getattr(self, name), 0 if name == "seeds" else 1)
        positive_finite("lr", self.lr)
        if self.n_eval < 50:
            raise ConfigError(f"n_eval must be >= 50 to score slots, got {self.n_eval}")
        if self.seeds > MAX_SEEDS:
            raise BudgetError(f"seeds={self.seeds} is above the limit of {MAX_SEEDS} "
                              f"(numerics.counterexamples.demo.MAX_SEEDS)")


@dataclass
class DemoResult:
    """What was measured: ``shown`` says whether the claimed failure is visible, by
    ``criterion``; ``metrics`` for the model in question (for identifiability entries: the
    fitting seed with the lowest SIS, the witness), ``control`` for the control run (its worst
    seed), ``per_seed`` the metrics of every autoencoder seed and ``verdicts`` their
    :class:`numerics.synthetic.verdict.RunVerdict` dicts (with ``seed``), in the same order: the
    training results stand beside the catalogue entry, which is not changed."""

    name: str
    failure: str
    criterion: str
    shown: bool
    metrics: dict[str, float]
    control: dict[str, float] | None
    seconds: float
    per_seed: list[dict[str, float]] | None = None
    verdicts: list[dict[str, object]] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-able copy."""
        return asdict(self)

    def format(self) -> str:
        """A few readable lines."""
        fmt = lambda d: ", ".join(f"{k}={v:.4g}" for k, v in d.items())  # noqa: E731
        lines = [f"numerical demonstration of {self.name!r}: {self.failure}",
                 f"  model:   {fmt(self.metrics)}"]
        if self.control is not None:
            lines.append(f"  control: {fmt(self.control)}")
        if self.verdicts:
            lines.append("  autoencoders: " + ", ".join(
                f"seed {v['seed']} {v['verdict']}"
                + (" (CANDIDATE COUNTEREXAMPLE)" if v.get("candidate_counterexample") else "")
                for v in self.verdicts))
        lines.append(f"  criterion: {self.criterion}")
        lines.append(f"  {'SHOWN' if self.shown else 'NOT SHOWN'} ({self.seconds:.1f} s)")
        return "\n".join(lines)


def _train_sampler(support: Support | BoxSupport) -> Sampler:
    """z ~ the support's training distribution, float64: ``(n, d_z)``."""
    return lambda n, gen: support.sample_train(n, gen, dtype=torch.float64)


def _ood_sampler(support: BoxSupport) -> Sampler:
    """z ~ U(Z_CPE minus Z), float64: ``(n, d_z)``."""
    return lambda n, gen: support.sample_ood(n, gen, dtype=torch.float64)


def _full(sizes: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> Sampler:
    """z ~ U[low, high]^{d_z} (the ``full`` support of numerics.synthetic.supports)."""
    return _train_sampler(make_support("full", sizes, low=low, high=high))


def _standardize(f: nn.Module, sample: Sampler, seed: int) -> Callable[[Tensor], Tensor]:
    """z -> (f(z) - mean) / std in float32, per output, with the statistics of 4096 samples of
    ``sample``: an affine map of the outputs, which keeps the interaction order of f."""
    with torch.no_grad():
        x = f(sample(4096, torch.Generator().manual_seed(seed + 104729)))
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
    return lambda z: ((f(z) - mean) / std).float()


def _engine_config(cfg: DemoConfig) -> EngineConfig:
    """The training settings of the witness and control regressions (warm-up: 10% up to 100)."""
    return EngineConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, device=cfg.device,
                        progress=cfg.progress, warmup_steps=min(100, cfg.steps // 10))


def _train_config(entry, model_order: int, model_sizes: tuple[int, ...], cfg: DemoConfig,
                  seed: int) -> TrainConfig:
    """The :func:`numerics.synthetic.training.train` run of one autoencoder seed: the entry's exact
    f on z ~ U[-1, 1]^{d_z}, a structured decoder of ``model_order`` with slots ``model_sizes``, one
    random initialization (no search over initializations)."""
    generator = Generator(entry.f, entry.slots, entry.generator_order, entry.name,
                          f"catalogue entry {entry.name} (violates {entry.assumption})")
    return TrainConfig.from_settings(
        order=entry.generator_order, decoder="structured", decoder_order=model_order,
        generator="sympy", sympy_generator=generator, latent_sizes=tuple(model_sizes),
        support="full", steps=cfg.steps, batch_size=cfg.batch, lr=cfg.lr, hidden=cfg.hidden,
        n_eval=cfg.n_eval, seed=seed, device=cfg.device, progress=cfg.progress,
        selection=SelectionSettings(candidates=1, keep=1, restarts=0))


def _mixed_scores(result, config: TrainConfig, mixed: nn.Module, cfg: DemoConfig
                  ) -> dict[str, float]:
    """SIS and matched R^2 of the trained encoder against the witness's mixed latents
    zbar = mixed(z), on the run's held-out latents ``data.z_test: (n_eval, d_z)``."""
    data = build_data(config)
    device = next(result.model.parameters()).device
    with torch.no_grad():
        z_hat = result.model.encoder(data.render(data.z_test).to(device))
        zbar = mixed(data.z_test)
    score = slot_identifiability(zbar.double(), z_hat.double().cpu(), config.true_sizes(),
                                 config.inferred_sizes(), seed=config.engine.seed,
                                 regressor=cfg.regressor, device="cpu")
    return {"sis_mixed": float(score.sis), "matched_r2_mixed": float(score.matched_r2)}


def _over_seeds(entry, model_order: int, model_sizes: tuple[int, ...], cfg: DemoConfig,
                mixed: nn.Module | None = None
                ) -> tuple[list[dict[str, float]], list[dict[str, object]]]:
    """One :func:`numerics.synthetic.training.train` run per seed cfg.seed .. cfg.seed + cfg.seeds -
    1.

    Returns (per-seed metrics, per-seed verdicts). Metrics: ``recon_rel`` (the run's held-out
    ``recon_mse`` on per-output standardized outputs, i.e. relative to the output variance),
    ``sis``, ``matched_r2``, ``second_r2`` (the largest second-best R^2 of a true slot over the
    inferred slots, from ``r2``: true x inferred), ``off_block`` (of dh/dz), and with ``mixed``
    ``sis_mixed``, ``matched_r2_mixed`` against zbar = mixed(z). Verdicts: the run's
    :class:`numerics.synthetic.verdict.RunVerdict` dict with its ``seed``.
    """
    runs, verdicts = [], []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        config = _train_config(entry, model_order, model_sizes, cfg, s)
        result = train(config)
        row = {"seed": float(s), "model_order": float(model_order),
               "recon_rel": float(result.recon_mse), "sis": float(result.sis),
               "matched_r2": float(result.matched_r2),
               "second_r2": float(max(sorted(r)[-2] for r in result.r2)),
               "off_block": float(result.off_block)}
        if mixed is not None:
            row.update(_mixed_scores(result, config, mixed, cfg))
        runs.append(row)
        verdicts.append({"seed": s, **result.verdict})
    return runs, verdicts


def _witness(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fitting run with the lowest SIS (else the best-fitting run); where the mixed latents
    are scored, the fitting run that recovers them best."""
    fitting = [r for r in runs if r["recon_rel"] < FIT]
    if fitting and "matched_r2_mixed" in fitting[0]:
        return max(fitting, key=lambda r: r["matched_r2_mixed"])
    return min(fitting, key=lambda r: r["sis"]) if fitting else min(
        runs, key=lambda r: r["recon_rel"])


def _controls(entry) -> tuple[sympy.Matrix, int, str]:
    """(control generator, control model order, what it restores) for the mixed-latent fit."""
    z1, z2 = entry.slots.symbols
    if entry.name == "linear":
        return (additive_quadratic(z1, z2), entry.model_order,
                "a sufficiently nonlinear additive generator")
    if entry.name == "low_degree":
        return (sympy.Matrix([*entry.f, z1**3, z2**3]), entry.model_order,
                "a sufficiently independent order-2 generator (cubic slot terms added)")
    if entry.name == "model_order_too_high":
        return entry.f, entry.generator_order, "the model order equal to the generator's"
    raise CatalogueError(f"no mixed-latent control for {entry.name}")


def _autoencoder_summary(runs: list[dict[str, float]]) -> dict[str, float]:
    if not runs:
        return {}
    best = _witness(runs)
    return {f"ae_{k}": v for k, v in best.items() if k != "model_order"}


def _mixing_demo(entry, cfg: DemoConfig) -> DemoResult:
    """Mixed-latent fit (witness) vs control, plus autoencoders from random initializations."""
    w = entry.witness
    witness = _witness_fit(entry.f, entry.slots, w.inverse, entry.slots, entry.model_order, cfg,
                           f"{entry.name}-witness")
    if entry.name == "higher_order_interaction":
        control_f, control_order, restored = entry.f, entry.model_order, "the true latents z"
        control = _witness_fit(control_f, entry.slots, None, entry.slots, control_order, cfg,
                               f"{entry.name}-control")
        mixed = from_sympy(w.inverse, entry.slots)
    else:
        control_f, control_order, restored = _controls(entry)
        control = _witness_fit(control_f, entry.slots, w.inverse, entry.slots, control_order, cfg,
                               f"{entry.name}-control")
        mixed = None
    runs, verdicts = _over_seeds(entry, entry.model_order, entry.slots.sizes, cfg, mixed)
    metrics = {"witness_fit_rel": witness, "model_order": float(entry.model_order),
               **_autoencoder_summary(runs)}
    shown = witness < TIGHT and control > RATIO * witness
    return DemoResult(
        entry.name,
        f"an order-{entry.model_order} decoder fits the data from mixed latents h^-1(z)"
        f" ({entry.assumption})",
        f"witness_fit_rel < {TIGHT} and the control ({restored}, order {control_order})"
        f" fit_rel > {RATIO} x witness_fit_rel; autoencoders from random init reported (ae_*:"
        " the fitting seed with the lowest sis)",
        shown, metrics, {"fit_rel": control, "model_order": float(control_order)}, 0.0, runs,
        verdicts)


def _latent_dim_demo(entry, cfg: DemoConfig) -> DemoResult:
    sizes = entry.slots.sizes
    w = entry.witness
    model_sizes = w.model_slots.sizes
    witness = _witness_fit(entry.f, entry.slots, w.embedding, w.model_slots, entry.model_order,
                           cfg, f"{entry.name}-witness")
    runs, verdicts = _over_seeds(entry, entry.model_order, model_sizes, cfg)
    embedding = from_sympy(w.embedding, entry.slots)
    z = _full(sizes)(cfg.n_eval, torch.Generator().manual_seed(cfg.seed + 9))
    r2 = slot_identifiability(z, embedding(z), sizes, model_sizes, seed=cfg.seed,
                              regressor=cfg.regressor, device="cpu")
    metrics = {"witness_fit_rel": witness, "witness_second_r2": float(
        max(sorted(row)[-2] for row in r2.r2)), "witness_sis": r2.sis,
        **_autoencoder_summary(runs)}
    shown = witness < TIGHT and metrics["witness_second_r2"] > 0.9
    return DemoResult(
        entry.name, f"a decoder with model slots {model_sizes} fits the data from latents"
        " phi(z) in which a true slot appears in two model slots",
        f"witness_fit_rel < {TIGHT} and witness_second_r2 (R^2 of a true slot on its second"
        " model slot) > 0.9; autoencoders from random init reported (ae_*)",
        shown, metrics, None, 0.0, runs, verdicts)


def _fit_decoder(f: Function, sample: Sampler, sizes: tuple[int, ...], order: int, d_x: int,
                 cfg: DemoConfig, description: str,
                 latents: Callable[[Tensor], Tensor] | None = None) -> StructuredDecoder:
    """Regress a structured decoder of ``order`` from zhat = latents(z) (default z) to f(z)."""
    decoder = StructuredDecoder(order, sizes, d_x, hidden=cfg.hidden, seed=cfg.seed)
    latents = latents or (lambda z: z)

    def batch(step: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        z = sample(cfg.batch, gen)
        return latents(z).float(), f(z)

    def loss(m: nn.Module, b: tuple[Tensor, Tensor], step: int):
        mse = ((m(b[0]) - b[1]) ** 2).mean()
        return mse, {"mse": float(mse.detach())}

    fit(decoder, loss, batch, _engine_config(cfg), description=description)
    return decoder.cpu()


def _relative_error(decoder: nn.Module, f: Function, sample: Sampler, n: int, seed: int,
                    scale: float, latents: Callable[[Tensor], Tensor] | None = None) -> float:
    z = sample(n, torch.Generator().manual_seed(seed))
    zhat = z if latents is None else latents(z)
    with torch.no_grad():
        return float(((decoder(zhat.float()) - f(z)) ** 2).mean() / scale)


def _witness_fit(f_sym: sympy.Matrix, slots, latents_sym: sympy.Matrix | None, model_slots,
                 order: int, cfg: DemoConfig, description: str) -> float:
    """Relative error mean|fhat(zhat) - x|^2 / mean|x - mean x|^2 of a structured decoder of
    ``order`` (slots ``model_slots``) regressed on zhat = latents(z), x = f(z), z ~ U[-1, 1]."""
    sample = _full(slots.sizes)
    f = _standardize(from_sympy(f_sym, slots), sample, cfg.seed)
    latents = None if latents_sym is None else from_sympy(latents_sym, slots)
    decoder = _fit_decoder(f, sample, model_slots.sizes, order, len(f_sym), cfg, description,
                           latents)
    return _relative_error(decoder, f, sample, cfg.n_eval, cfg.seed + 5, 1.0, latents) / float(
        f(sample(4096, torch.Generator().manual_seed(cfg.seed + 6))).var(0).mean())


def _support_demo(entry, cfg: DemoConfig) -> DemoResult:
    sizes, d_x = entry.slots.sizes, len(entry.f)
    support = box_support(entry.witness.train_boxes, sizes)
    control = box_support(CONNECTED_CONTROL, sizes)
    if control.ood_boxes != support.ood_boxes:
        raise CatalogueError(f"{entry.name}: the connected control must leave out the unseen "
                             f"squares {support.ood_boxes} of Z_CPE, it leaves out "
                             f"{control.ood_boxes}")
    ood = _ood_sampler(support)
    full = _full(sizes, 0.0, 3.0)
    f = _standardize(from_sympy(entry.f, entry.slots), full, cfg.seed)
    scale = float(f(full(4096, torch.Generator().manual_seed(cfg.seed))).var(0).mean())
    out = {}
    for label, on in (("model", support), ("control", control)):
        sample = _train_sampler(on)
        dec = _fit_decoder(f, sample, sizes, entry.model_order, d_x, cfg, f"{entry.name}-{label}")
        out[label] = {
            "train_rel": _relative_error(dec, f, sample, cfg.n_eval, cfg.seed + 1, scale),
            "ood_rel": _relative_error(dec, f, ood, cfg.n_eval, cfg.seed + 2, scale),
        }
    m, c = out["model"], out["control"]
    shown = (m["train_rel"] < FIT and m["ood_rel"] > OOD_RATIO * m["train_rel"]
             and m["ood_rel"] > OOD_RATIO * c["ood_rel"])
    return DemoResult(
        entry.name, "additive decoder fits the disconnected support but not the unseen"
        " combinations [0,1]x[2,3], [2,3]x[0,1] of Z_CPE",
        f"train_rel < {FIT}, ood_rel > {OOD_RATIO} x train_rel and > {OOD_RATIO} x the connected"
        " control's ood_rel", shown, m, c, 0.0)


#: Catalogue entries whose demonstration is not the default one (train on the generator, show
#: that a reconstructing decoder of the entry's order mixes slots: :func:`_mixing_demo`).
DEMONSTRATIONS: dict[str, Callable[[CounterexampleEntry, DemoConfig], DemoResult]] = {
    "support_not_aligned_connected": _support_demo,
    "latent_dim_too_large": _latent_dim_demo,
}


def demonstrate(name: str, config: DemoConfig | None = None) -> DemoResult:
    """Train and measure the numerical demonstration of catalogue entry ``name``.

    Raises :class:`theory.counterexamples.CatalogueError` for an unknown name and
    :class:`ConfigError` for a bad config. Deterministic for a given ``config.seed`` on CPU.
    """
    from theory.counterexamples import get

    cfg = config or DemoConfig()
    cfg.validate()
    entry = get(name)
    t0 = time.perf_counter()
    result = DEMONSTRATIONS.get(name, _mixing_demo)(entry, cfg)
    return replace(result, seconds=time.perf_counter() - t0)
