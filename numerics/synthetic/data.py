"""The data of one synthetic run: the generator f, the latent support, the finite training set.

:func:`build_data` draws, from ``TrainConfig.engine.seed``, the generator (the theory's exact one
translated term by term, :func:`sympy_generator_for`, or a seeded neural one), the support,
``n_train`` training latents z with images x = f(z), and held-out ID latents for scoring and
for the held-out reconstruction that every choice of the search uses. Images are standardized
per output with *training* statistics; every error of a run is in these units (an MSE of 1 means
"predicts the mean"). :func:`batch_sampler` draws training batches for
numerics.core.engine.fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from numerics.core.errors import ConfigError
from numerics.synthetic.train_config import TrainConfig

if TYPE_CHECKING:
    from numerics.synthetic.supports import LatentSupport
    from numerics.synthetic.translate import SymbolicGenerator

Tensor = torch.Tensor

__all__ = ["Data", "batch_sampler", "build_data", "build_generator", "symbolic_generator",
           "sympy_generator_for"]


@dataclass
class Data:
    """Everything :func:`numerics.synthetic.training.train` derives from the config before training.

    ``render(z)``: latents ``(m, d_z)`` -> standardized float32 images ``(m, d_x)``.
    """

    generator: nn.Module
    support: LatentSupport
    z_train: Tensor
    x_train: Tensor
    z_test: Tensor
    mean: Tensor
    std: Tensor
    x_val: Tensor
    symbolic: SymbolicGenerator | None = None

    @torch.no_grad()
    def render(self, z: Tensor) -> Tensor:
        """``(m, d_z) -> (m, d_x)``: (f(z) - mean) / std in float32."""
        dtype = getattr(self.generator, "dtype", torch.float64)
        x = torch.cat([self.generator(part.to(dtype)) for part in z.split(8192)])
        return ((x.double() - self.mean) / self.std).float()


def sympy_generator_for(order: int, slot_sizes: tuple[int, ...], outputs: int, seed: int,
                        slot_degree: int | None = None) -> SymbolicGenerator:
    """The theory's exact polynomial generator of interaction order ``order``.

    theory.generators: n = 0 ``order0`` (each output a random polynomial in one slot), n = 1
    ``additive``, n = 2 ``bilinear``, n >= 3 ``polynomial``; all certified sufficiently
    independent (GeneratorError -> ConfigError when ``outputs`` is too small).
    ``slot_degree``: the within-slot degree (default: 3 for n <= 2, n + 1 above).
    """
    from theory import generators
    from theory.errors import GeneratorError

    try:
        return generators.of_order(order, slot_sizes, outputs, seed, degree=slot_degree)
    except GeneratorError as err:
        raise ConfigError(f"cannot build the order-{order} sympy generator: {err}") from err


def symbolic_generator(config: TrainConfig) -> SymbolicGenerator | None:
    """The exact sympy generator of ``config`` (seeded by its seed), None for neural ones."""
    if config.generator != "sympy":
        return None
    return config.sympy_generator or sympy_generator_for(
        config.order, config.true_sizes(), config.d_x(), config.engine.seed, config.slot_degree)


def build_generator(config: TrainConfig) -> tuple[nn.Module, SymbolicGenerator | None]:
    """``(torch generator, exact sympy generator or None)`` of ``config`` (seeded by its seed)."""
    from numerics.synthetic.generators import make_generator
    from numerics.synthetic.translate import from_sympy

    symbolic = symbolic_generator(config)
    if symbolic is not None:
        return from_sympy(symbolic), symbolic
    return make_generator(config.order, config.true_sizes(), config.d_x(), seed=config.engine.seed,
                          hidden=config.generator_hidden, depth=config.generator_depth), None


def build_data(config: TrainConfig) -> Data:
    """Generator, support, standardized training set and ID test latents of ``config``."""
    from numerics.synthetic.supports import make_support

    sizes = config.true_sizes()
    generator, symbolic = build_generator(config)
    support = make_support(config.support, sizes, **config.support_options)
    gen = torch.Generator().manual_seed(config.engine.seed + 1)
    z_train = support.sample_train(config.n_train, gen, dtype=torch.float64)
    z_test = support.sample_train(config.n_eval, gen, dtype=torch.float64)
    z_val = support.sample_train(config.n_val, gen, dtype=torch.float64)
    with torch.no_grad():
        dtype = getattr(generator, "dtype", torch.float64)
        x_raw = generator(z_train.to(dtype)).double()
    if not torch.isfinite(x_raw).all():
        raise ConfigError("the generator returns NaN or infinite values on the support")
    mean = x_raw.mean(0)
    std = x_raw.std(0).clamp_min(1e-8)
    data = Data(generator, support, z_train, torch.empty(0), z_test, mean, std, torch.empty(0),
                symbolic)
    data.x_train = ((x_raw - mean) / std).float()
    data.x_val = data.render(z_val)
    return data


def batch_sampler(data: Data, batch_size: int) -> Callable[[int, torch.Generator], Tensor]:
    """``sample_batch(step, gen)`` for numerics.core.engine.fit: ``batch_size`` rows of the
    standardized training set drawn with replacement from ``gen``: ``(batch_size, d_x)``."""
    x_train = data.x_train
    n_train = x_train.shape[0]

    def sample_batch(step: int, gen: torch.Generator) -> Tensor:
        return x_train[torch.randint(n_train, (batch_size,), generator=gen)]
    return sample_batch
