"""Numerical demonstrations of the counterexample catalogue (theory.counterexamples).

Each entry of the catalogue certifies symbolically that a conclusion of the theorems fails when
one assumption is dropped. The demonstration here trains a small model on data from the same
generator f (translated with :func:`numerics.generators.from_sympy`) and *measures* the failure:

* identifiability entries (linear, low_degree, higher_order_interaction, model_order_too_high,
  latent_dim_too_large): an autoencoder (MLP encoder, structured decoder of the entry's model
  order, :class:`numerics.models.StructuredDecoder`) trained by :func:`numerics.engine.fit` on
  x = f(z), z ~ U[-1, 1]^{d_z}; measured: relative reconstruction error
  mean|xhat - x|^2 / mean|x - mean x|^2 and the slot identifiability score SIS
  (:func:`numerics.metrics.slot_identifiability`, kernel regressor). The failure is shown when the
  model fits the data (relative error < ``FIT``) but its slots are mixed (SIS < ``MIXED``).
  Where a control exists (same data, the assumption restored: an order-1 model for
  model_order_too_high, the true latent dimension for latent_dim_too_large) it is trained too.
  For higher_order_interaction the SIS is also measured against u = A z, the mixed latents that
  the certificate predicts the additive model recovers.
* support_not_aligned_connected: a structured additive decoder is regressed on (z, f(z)) for z
  in the disconnected support S = [0,1]^2 u [2,3]^2 (h = id, so identifiability is given) and on
  a connected control support with the same two unseen squares ([0,3]^2 minus [0,1]x[2,3] and
  [2,3]x[0,1]); measured: relative error on S and on the unseen squares of Z_CPE. The failure is
  shown when the decoder fits S but its error on the unseen squares is more than ``OOD_RATIO``
  times larger than on S and than the control's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from numerics.engine import EngineConfig, fit
from numerics.errors import ConfigError
from numerics.generators import from_sympy
from numerics.metrics import slot_identifiability
from numerics.models import Autoencoder, MLPEncoder, StructuredDecoder

Tensor = torch.Tensor
Sampler = Callable[[int, torch.Generator], Tensor]

FIT = 0.02
MIXED = 0.8
OOD_RATIO = 10.0

__all__ = ["DemoConfig", "DemoResult", "demonstrate", "fit_autoencoder", "identifiability_scores"]


@dataclass(frozen=True)
class DemoConfig:
    """Training settings of a demonstration (small by default: a few seconds on one CPU core)."""

    steps: int = 1500
    batch: int = 256
    lr: float = 3e-3
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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.n_eval < 50:
            raise ConfigError(f"n_eval must be >= 50 to score slots, got {self.n_eval}")


@dataclass
class DemoResult:
    """What was measured: ``shown`` says whether the claimed failure is visible, by
    ``criterion``; ``metrics`` for the model in question (for identifiability entries: the
    fitting seed with the lowest SIS, the witness), ``control`` for the control run (its worst
    seed), ``per_seed`` the metrics of every training seed."""

    name: str
    failure: str
    criterion: str
    shown: bool
    metrics: dict[str, float]
    control: dict[str, float] | None
    seconds: float
    per_seed: list[dict[str, float]] | None = None

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
        lines.append(f"  criterion: {self.criterion}")
        lines.append(f"  {'SHOWN' if self.shown else 'NOT SHOWN'} ({self.seconds:.1f} s)")
        return "\n".join(lines)


def _uniform(d: int, low: float = -1.0, high: float = 1.0) -> Sampler:
    def sample(n: int, gen: torch.Generator) -> Tensor:
        return low + (high - low) * torch.rand(n, d, generator=gen, dtype=torch.float64)
    return sample


def _boxes(boxes: list[tuple[tuple[float, float], ...]]) -> Sampler:
    """Uniform on a union of equal-volume disjoint boxes (each box equally likely)."""
    lo = torch.tensor([[a for a, _ in b] for b in boxes], dtype=torch.float64)
    hi = torch.tensor([[c for _, c in b] for b in boxes], dtype=torch.float64)

    def sample(n: int, gen: torch.Generator) -> Tensor:
        which = torch.randint(len(boxes), (n,), generator=gen)
        u = torch.rand(n, lo.shape[1], generator=gen, dtype=torch.float64)
        return lo[which] + (hi[which] - lo[which]) * u
    return sample


def _rejection(low: float, high: float, d: int, keep: Callable[[Tensor], Tensor]) -> Sampler:
    def sample(n: int, gen: torch.Generator) -> Tensor:
        out = []
        count = 0
        while count < n:
            z = low + (high - low) * torch.rand(2 * n, d, generator=gen, dtype=torch.float64)
            z = z[keep(z)]
            out.append(z)
            count += len(z)
        return torch.cat(out)[:n]
    return sample


class _Standardized(nn.Module):
    """x -> (f(z) - mean) / std with statistics of a fixed sample: an affine map of the outputs,
    which keeps the interaction order of f."""

    def __init__(self, f: nn.Module, sample: Sampler, seed: int) -> None:
        super().__init__()
        self.f = f
        x = f(sample(4096, torch.Generator().manual_seed(seed + 104729)))
        self.register_buffer("mean", x.mean(0))
        self.register_buffer("std", x.std(0).clamp_min(1e-8))

    def forward(self, z: Tensor) -> Tensor:
        return ((self.f(z) - self.mean) / self.std).float()


def fit_autoencoder(f: nn.Module, sample: Sampler, d_x: int, model_order: int,
                    model_sizes: tuple[int, ...], cfg: DemoConfig, description: str
                    ) -> Autoencoder:
    """Train encoder + structured decoder of order ``model_order`` on x = f(z), z ~ sample.

    f: ``z: (batch, d_z) -> (batch, d_x)`` (float32 outputs); loss mean |fhat(ghat(x)) - x|^2.
    """
    encoder = MLPEncoder(d_x, sum(model_sizes), hidden=4 * cfg.hidden, seed=cfg.seed)
    decoder = StructuredDecoder(model_order, model_sizes, d_x, hidden=cfg.hidden, seed=cfg.seed)
    model = Autoencoder(encoder, decoder)

    def batch(step: int, gen: torch.Generator) -> Tensor:
        return f(sample(cfg.batch, gen))

    def loss(m: nn.Module, x: Tensor, step: int):
        _, x_hat = m(x)
        mse = ((x_hat - x) ** 2).mean()
        return mse, {"mse": float(mse.detach())}

    fit(model, loss, batch, EngineConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed,
                                         device=cfg.device, progress=cfg.progress,
                                         warmup_steps=min(100, cfg.steps // 10)),
        description=description)
    return model.cpu()


def identifiability_scores(model: Autoencoder, f: nn.Module, sample: Sampler,
                           true_sizes: tuple[int, ...], model_sizes: tuple[int, ...],
                           cfg: DemoConfig, mixed_latents: Callable[[Tensor], Tensor] | None = None
                           ) -> dict[str, float]:
    """Relative reconstruction error and SIS of ``model`` on ``cfg.n_eval`` fresh samples.

    Returns ``recon_rel`` = mean|xhat - x|^2 / mean|x - mean x|^2, ``sis`` and ``matched_r2``
    against the true slots, and ``sis_mixed`` against ``mixed_latents(z)`` when given.
    """
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    z = sample(cfg.n_eval, gen)
    with torch.no_grad():
        x = f(z)
        z_hat, x_hat = model(x)
    out = {"recon_rel": float(((x_hat - x) ** 2).mean() / ((x - x.mean(0)) ** 2).mean())}
    score = slot_identifiability(z.float(), z_hat, true_sizes, model_sizes, seed=cfg.seed,
                                 regressor=cfg.regressor, device="cpu")
    out["sis"], out["matched_r2"] = score.sis, score.matched_r2
    out["second_r2"] = float(max(sorted(row)[-2] for row in score.r2))
    if mixed_latents is not None:
        mixed = slot_identifiability(mixed_latents(z).float(), z_hat, true_sizes, model_sizes,
                                     seed=cfg.seed, regressor=cfg.regressor, device="cpu")
        out["sis_mixed"], out["matched_r2_mixed"] = mixed.sis, mixed.matched_r2
    return out


def _entry_generator(entry, sample: Sampler, seed: int) -> nn.Module:
    return _Standardized(from_sympy(entry.f, entry.slots), sample, seed)


def _over_seeds(f: nn.Module, sample: Sampler, d_x: int, order: int, true_sizes, model_sizes,
                cfg: DemoConfig, description: str,
                mixed: Callable[[Tensor], Tensor] | None = None) -> list[dict[str, float]]:
    """Train one autoencoder per seed cfg.seed .. cfg.seed + cfg.seeds - 1 and score each."""
    out = []
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        c = replace(cfg, seed=s)
        model = fit_autoencoder(f, sample, d_x, order, model_sizes, c, f"{description}-{s}")
        scores = identifiability_scores(model, f, sample, true_sizes, model_sizes, c, mixed)
        out.append({"seed": float(s), "model_order": float(order), **scores})
    return out


def _witness(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fitting run with the lowest SIS (else the best-fitting run); where the mixed latents
    are scored, the fitting run that recovers them best."""
    fitting = [r for r in runs if r["recon_rel"] < FIT]
    if fitting and "matched_r2_mixed" in fitting[0]:
        return max(fitting, key=lambda r: r["matched_r2_mixed"])
    return min(fitting, key=lambda r: r["sis"]) if fitting else min(
        runs, key=lambda r: r["recon_rel"])


def _mixing_demo(entry, cfg: DemoConfig, control_order: int | None = None,
                 mixed: Callable[[Tensor], Tensor] | None = None) -> DemoResult:
    sizes = entry.slots.sizes
    sample = _uniform(entry.slots.dim)
    f = _entry_generator(entry, sample, cfg.seed)
    d_x = len(entry.f)
    runs = _over_seeds(f, sample, d_x, entry.model_order, sizes, sizes, cfg, entry.name, mixed)
    metrics = _witness(runs)
    control = None
    criterion = (f"some seed fits (recon_rel < {FIT}) with mixed slots (sis < {MIXED}): a fitting"
                 " model that is not slot-wise")
    shown = metrics["recon_rel"] < FIT and metrics["sis"] < MIXED
    if control_order is not None:
        ctrl = _over_seeds(f, sample, d_x, control_order, sizes, sizes, cfg,
                           entry.name + "-control")
        control = min(ctrl, key=lambda r: r["sis"])
        criterion += f"; the order-{control_order} control's worst sis is higher"
        shown = shown and control["sis"] > metrics["sis"]
    if mixed is not None:
        criterion = (f"some seed fits (recon_rel < {FIT}) and no fitting seed recovers the true"
                     f" slots (every fitting seed has sis < {MIXED}); matched_r2_mixed reports"
                     " the recovery of the predicted latents u = A z")
        fitting = [r for r in runs if r["recon_rel"] < FIT]
        shown = bool(fitting) and all(r["sis"] < MIXED for r in fitting)
    return DemoResult(entry.name, f"model fits the data with mixed slots ({entry.assumption})",
                      criterion, shown, metrics, control, 0.0, runs)


def _latent_dim_demo(entry, cfg: DemoConfig) -> DemoResult:
    sizes = entry.slots.sizes
    model_sizes = entry.witness.model_slots.sizes
    sample = _uniform(entry.slots.dim)
    f = _entry_generator(entry, sample, cfg.seed)
    d_x = len(entry.f)
    runs = _over_seeds(f, sample, d_x, entry.model_order, sizes, model_sizes, cfg, entry.name)
    metrics = _witness(runs)
    ctrl = _over_seeds(f, sample, d_x, entry.model_order, sizes, sizes, cfg,
                       entry.name + "-control")
    control = min(ctrl, key=lambda r: r["sis"])
    shown = (metrics["recon_rel"] < FIT and metrics["second_r2"] >= 0.5
             and metrics["sis"] < control["sis"])
    return DemoResult(
        entry.name, f"a true slot is encoded in two model slots (model slots {model_sizes})",
        f"some seed fits (recon_rel < {FIT}) with a true slot of R^2 >= 0.5 on a second model"
        " slot (second_r2) and sis below the worst seed of the control with the true latent"
        " dimension", shown, metrics, control, 0.0, runs)


def _fit_decoder(f: nn.Module, sample: Sampler, sizes: tuple[int, ...], order: int, d_x: int,
                 cfg: DemoConfig, description: str) -> StructuredDecoder:
    decoder = StructuredDecoder(order, sizes, d_x, hidden=cfg.hidden, seed=cfg.seed)

    def batch(step: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        z = sample(cfg.batch, gen)
        return z.float(), f(z)

    def loss(m: nn.Module, b: tuple[Tensor, Tensor], step: int):
        mse = ((m(b[0]) - b[1]) ** 2).mean()
        return mse, {"mse": float(mse.detach())}

    fit(decoder, loss, batch, EngineConfig(steps=cfg.steps, lr=cfg.lr, seed=cfg.seed,
                                           device=cfg.device, progress=cfg.progress,
                                           warmup_steps=min(100, cfg.steps // 10)),
        description=description)
    return decoder.cpu()


def _relative_error(decoder: nn.Module, f: nn.Module, sample: Sampler, n: int, seed: int,
                    scale: float) -> float:
    z = sample(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float(((decoder(z.float()) - f(z)) ** 2).mean() / scale)


def _support_demo(entry, cfg: DemoConfig) -> DemoResult:
    boxes = [tuple((float(a), float(b)) for a, b in box) for box in entry.witness.train_boxes]
    train = _boxes(boxes)
    ood = _boxes([((0.0, 1.0), (2.0, 3.0)), ((2.0, 3.0), (0.0, 1.0))])

    def connected_keep(z: Tensor) -> Tensor:
        off = ((z[:, 0] < 1) & (z[:, 1] > 2)) | ((z[:, 0] > 2) & (z[:, 1] < 1))
        return ~off

    control_support = _rejection(0.0, 3.0, 2, connected_keep)
    full = _uniform(2, 0.0, 3.0)
    f = _entry_generator(entry, full, cfg.seed)
    scale = float(f(full(4096, torch.Generator().manual_seed(cfg.seed))).var(0).mean())
    sizes, d_x = entry.slots.sizes, len(entry.f)
    out = {}
    for label, support in (("model", train), ("control", control_support)):
        dec = _fit_decoder(f, support, sizes, entry.model_order, d_x, cfg, f"{entry.name}-{label}")
        out[label] = {
            "train_rel": _relative_error(dec, f, support, cfg.n_eval, cfg.seed + 1, scale),
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


def _higher_order(entry, cfg: DemoConfig) -> DemoResult:
    inverse = entry.witness.inverse  # u = A z, as a map of z
    symbols = entry.slots.symbols
    rows = [[float(e.coeff(s)) for s in symbols] for e in inverse]
    A = torch.tensor(rows, dtype=torch.float64)
    return _mixing_demo(entry, cfg, mixed=lambda z: z @ A.T)


def demonstrate(name: str, config: DemoConfig | None = None) -> DemoResult:
    """Train and measure the numerical demonstration of catalogue entry ``name``.

    Raises :class:`theory.counterexamples.CatalogueError` for an unknown name and
    :class:`ConfigError` for a bad config. Deterministic for a given ``config.seed`` on CPU.
    """
    from theory.counterexamples import get

    cfg = config or DemoConfig()
    cfg.validate()
    entry = get(name)
    torch_threads = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        torch.set_num_threads(min(torch_threads, 2))
        if name == "support_not_aligned_connected":
            result = _support_demo(entry, cfg)
        elif name == "latent_dim_too_large":
            result = _latent_dim_demo(entry, cfg)
        elif name == "higher_order_interaction":
            result = _higher_order(entry, cfg)
        elif name == "model_order_too_high":
            result = _mixing_demo(entry, cfg, control_order=entry.generator_order)
        else:
            result = _mixing_demo(entry, cfg)
    finally:
        torch.set_num_threads(torch_threads)
    return replace(result, seconds=time.perf_counter() - t0)
