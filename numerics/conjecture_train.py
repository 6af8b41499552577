"""``--train`` for the conjecture runner: does an order-N model recover the slots in practice?

For a trial of :func:`theory.conjecture.run_conjecture` (generator
``theory.generators.polynomial(N, slot_sizes, d_x, seed)``), train an autoencoder with an
order-N structured decoder (:func:`numerics.counterexample_demo.fit_autoencoder`) on x = f(z),
z uniform on an L-shaped training support (:func:`numerics.supports.make_support`, "lshape":
an aligned-connected support whose Cartesian-product extension contains unseen slot
combinations) and measure:

* recovery: SIS and matched R^2 of the inferred slots against the true ones (kernel regressor,
  :func:`numerics.metrics.slot_identifiability`), on the training support;
* compositional generalization: relative reconstruction error
  mean|fhat(ghat(x)) - x|^2 / mean|x - mean x|^2 on the training support and on Z_CPE minus the
  support (``support.sample_ood``).

Outputs are standardized with training-support statistics (an affine map of x, which keeps the
interaction order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from numerics.counterexample_demo import DemoConfig, fit_autoencoder, identifiability_scores
from numerics.generators import from_sympy
from numerics.supports import make_support

__all__ = ["TrainTrialConfig", "attach_training", "train_trial"]


@dataclass(frozen=True)
class TrainTrialConfig:
    """Training settings per trial (structured decoder width ``hidden``, Adam ``lr``)."""

    steps: int = 2000
    batch: int = 256
    lr: float = 3e-3
    hidden: int = 32
    n_eval: int = 2000
    device: str = "auto"
    progress: bool = False


def train_trial(order: int, slot_sizes: tuple[int, ...], outputs: int, seed: int,
                config: TrainTrialConfig | None = None) -> dict[str, float]:
    """Train on one conjecture trial's generator; returns recovery and OOD metrics (see module).

    Keys: ``sis``, ``matched_r2``, ``recon_rel`` (training support), ``ood_recon_rel``
    (Z_CPE minus the support), ``seconds``.
    """
    from theory.generators import polynomial

    cfg = config or TrainTrialConfig()
    t0 = time.perf_counter()
    gen = polynomial(order, tuple(slot_sizes), outputs, seed)
    support = make_support("lshape", list(gen.slots.sizes))
    f_raw = from_sympy(gen)
    x = f_raw(support.sample_train(4096, torch.Generator().manual_seed(seed + 7)))
    mean, std = x.mean(0), x.std(0).clamp_min(1e-8)

    def f(z: torch.Tensor) -> torch.Tensor:
        return ((f_raw(z.double()) - mean) / std).float()

    def train_sample(n: int, g: torch.Generator) -> torch.Tensor:
        return support.sample_train(n, g).double()

    def ood_sample(n: int, g: torch.Generator) -> torch.Tensor:
        return support.sample_ood(n, g).double()

    demo = DemoConfig(steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, hidden=cfg.hidden,
                      n_eval=cfg.n_eval, seed=seed, device=cfg.device, progress=cfg.progress,
                      seeds=1)
    sizes = gen.slots.sizes
    model = fit_autoencoder(f, train_sample, len(gen.f), order, sizes, demo, f"conjecture-N{order}")
    scores = identifiability_scores(model, f, train_sample, sizes, sizes, demo)
    z_ood = ood_sample(cfg.n_eval, torch.Generator().manual_seed(seed + 3))
    with torch.no_grad():
        x_ood = f(z_ood)
        _, x_hat = model(x_ood)
        ood = float(((x_hat - x_ood) ** 2).mean() / ((x_ood - x_ood.mean(0)) ** 2).mean())
    return {"sis": scores["sis"], "matched_r2": scores["matched_r2"],
            "recon_rel": scores["recon_rel"], "ood_recon_rel": ood,
            "seconds": time.perf_counter() - t0}


def attach_training(report, config: TrainTrialConfig | None = None) -> None:
    """Run :func:`train_trial` for every trial of a ConjectureReport and store it in ``.train``."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(min(threads, 2))
        for trial in report.trials:
            trial.train = train_trial(report.order, report.slot_sizes, trial.outputs, trial.seed,
                                      config)
    finally:
        torch.set_num_threads(threads)
