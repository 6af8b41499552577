"""Decoders for the bump task: two failing baselines and two interaction-asymmetric decoders.

Every decoder maps the input code of the two slots, ``code: (batch, 2 c)`` (x code then y code,
c = ``task.code_size``), to an image ``(batch, N, N)``; with ``task.inverted`` the image is
1 - r(code) for the model's rendering r. ``layers(code)`` returns the representations that the
pullback-metric factorization score inspects, ``(batch, D_l)`` per layer, the image last.

* ``mlp``: 2c -> depth x [Linear(hidden), SiLU] -> Linear(N^2) (Liang et al.'s MLP decoder).
* ``conv``: Linear(2c -> C * (N/4)^2), then two stride-2 transposed convolutions
  (N/4 -> N/2 -> N; 7 x 7 -> 28 x 28 for N = 28), C channels.
* ``log-additive``: log r[u, v] = a_u(x) + b_v(y), i.e. log r = a(x) (+) b(y) (outer sum),
  then r = exp(log r). Each log-pixel is additive across the slots: interaction order 1 in log
  space, the class in which the log-bump lies (see :mod:`numerics.bump.explain`). The
  log-intensities are parametrized as a = log phi_x(code_x)^2, b = log phi_y(code_y)^2, so
  r = phi_x^2 (x) phi_y^2 (outer product). With a = phi_x directly, d r / d a = r vanishes on
  dark pixels and pixel-space MSE training collapses to a blank image (measured: ID MSE stuck
  at the blank level ~ pi sigma^2 / N^2 after 800 steps at lr 1e-3 and 3e-3); with the square,
  d r / d phi = 2 phi r / phi^2 decays only like sqrt(r).
* ``outer-product``: r = sum_{k=1}^{rank} u_k(x) v_k(y)^T, u = phi_x(code_x), v = phi_y(code_y)
  in R^{rank x N}: a rendering that stays factorized (rank <= ``rank``) in pixel space.

phi_x, phi_y are per-slot MLPs c -> hidden -> hidden -> out. Smooth SiLU activations are used
throughout so that second derivatives in (x, y), i.e. interaction orders, are meaningful (ReLU
networks have vanishing second derivatives almost everywhere in raw inputs).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from numerics.bump.task import BumpTask
from numerics.core.errors import ConfigError
from numerics.core.validation import positive_int

Tensor = torch.Tensor
DECODER_KINDS = ("mlp", "conv", "log-additive", "outer-product")
BASELINES = ("mlp", "conv")


class BumpDecoder(nn.Module):
    """Base class: ``forward(code: (batch, 2c)) -> (batch, N, N)``, ``layers``, ``layer_names``.
    """

    kind = "base"

    def __init__(self, task: BumpTask) -> None:
        super().__init__()
        self.size = task.size
        self.code_size = task.code_size
        self.inverted = task.inverted

    def render(self, code: Tensor) -> Tensor:
        """The model's bump rendering r(code): ``(batch, 2c) -> (batch, N, N)``."""
        return self.layers(code)[-1].reshape(-1, self.size, self.size)

    def layers(self, code: Tensor) -> list[Tensor]:
        """Representations ``(batch, D_l)`` per layer; the last one is r(code) flattened."""
        raise NotImplementedError

    def layer_names(self) -> list[str]:
        """One name per entry of :meth:`layers`."""
        raise NotImplementedError

    def forward(self, code: Tensor) -> Tensor:
        """Image ``(batch, N, N)``: r(code), or 1 - r(code) for inverted targets."""
        image = self.render(code)
        return 1.0 - image if self.inverted else image


def _slot_mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                         nn.SiLU(), nn.Linear(hidden, d_out))


class MLPDecoder(BumpDecoder):
    """2c -> ``depth`` SiLU layers of width ``hidden`` -> N^2 (no structure across slots)."""

    kind = "mlp"

    def __init__(self, task: BumpTask, hidden: int = 256, depth: int = 3) -> None:
        super().__init__(task)
        dims = [2 * task.code_size] + [hidden] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.out = nn.Linear(dims[-1], task.size**2)

    def layers(self, code: Tensor) -> list[Tensor]:
        acts, h = [], code
        for layer in self.hidden:
            h = nn.functional.silu(layer(h))
            acts.append(h)
        return [*acts, self.out(h)]

    def layer_names(self) -> list[str]:
        return [f"hidden{i + 1}" for i in range(len(self.hidden))] + ["image"]


class ConvDecoder(BumpDecoder):
    """Linear 2c -> C x N/4 x N/4, SiLU, ConvT(C, C, 4, 2, 1), SiLU, ConvT(C, 1, 4, 2, 1)."""

    kind = "conv"

    def __init__(self, task: BumpTask, channels: int = 64) -> None:
        super().__init__(task)
        if task.size % 4:
            raise ConfigError(f"the conv decoder needs a size divisible by 4, got {task.size}")
        self.channels, self.base = channels, task.size // 4
        self.linear = nn.Linear(2 * task.code_size, channels * self.base**2)
        self.up1 = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1)

    def layers(self, code: Tensor) -> list[Tensor]:
        h0 = nn.functional.silu(self.linear(code))
        h1 = nn.functional.silu(self.up1(h0.reshape(-1, self.channels, self.base, self.base)))
        out = self.up2(h1)
        return [h0, h1.flatten(1), out.flatten(1)]

    def layer_names(self) -> list[str]:
        return ["dense", "upsample1", "image"]


class _SlotwiseDecoder(BumpDecoder):
    """Shared part of the factorized decoders: phi_x(code_x), phi_y(code_y)."""

    def __init__(self, task: BumpTask, hidden: int, d_out: int) -> None:
        super().__init__(task)
        self.phi_x = _slot_mlp(task.code_size, hidden, d_out)
        self.phi_y = _slot_mlp(task.code_size, hidden, d_out)

    def _slot_layers(self, code: Tensor) -> tuple[list[Tensor], Tensor, Tensor]:
        """Hidden layers (x part | y part concatenated) and the two slot outputs."""
        hx, hy = code[:, : self.code_size], code[:, self.code_size:]
        acts = []
        for lx, ly in zip(self.phi_x, self.phi_y, strict=True):
            hx, hy = lx(hx), ly(hy)
            if isinstance(lx, nn.SiLU):
                acts.append(torch.cat([hx, hy], dim=1))
        return acts, hx, hy

    def layer_names(self) -> list[str]:
        return ["slot-hidden1", "slot-hidden2", "image"]


class LogAdditiveDecoder(_SlotwiseDecoder):
    """log r = a(x) (+) b(y) with a = log phi_x^2, b = log phi_y^2 in R^N: order 1 in log space.
    """

    kind = "log-additive"

    def __init__(self, task: BumpTask, hidden: int = 128) -> None:
        super().__init__(task, hidden, task.size)

    def log_render(self, code: Tensor) -> Tensor:
        """log r(code)[u, v] = a_u(x) + b_v(y): ``(batch, 2c) -> (batch, N, N)``."""
        _, sx, sy = self._slot_layers(code)
        return sx.square().log()[:, :, None] + sy.square().log()[:, None, :]

    def layers(self, code: Tensor) -> list[Tensor]:
        acts, sx, sy = self._slot_layers(code)
        # exp(a (+) b) evaluated as the product of the factors (no log of an exact zero)
        return [*acts, (sx.square()[:, :, None] * sy.square()[:, None, :]).flatten(1)]


class OuterProductDecoder(_SlotwiseDecoder):
    """r = sum_k u_k(x) v_k(y)^T, u, v in R^{rank x N}: rank <= ``rank`` in pixel space."""

    kind = "outer-product"

    def __init__(self, task: BumpTask, hidden: int = 128, rank: int = 1) -> None:
        positive_int("rank", rank)
        super().__init__(task, hidden, rank * task.size)
        self.rank = rank

    def factors(self, code: Tensor) -> tuple[Tensor, Tensor]:
        """u(x), v(y): ``(batch, rank, N)`` each."""
        _, sx, sy = self._slot_layers(code)
        return sx.reshape(-1, self.rank, self.size), sy.reshape(-1, self.rank, self.size)

    def layers(self, code: Tensor) -> list[Tensor]:
        acts, _, _ = self._slot_layers(code)
        u, v = self.factors(code)
        return [*acts, torch.einsum("bku,bkv->buv", u, v).flatten(1)]


def make_bump_decoder(kind: str, task: BumpTask, *, seed: int = 0, hidden: int = 256,
                      depth: int = 3, channels: int = 64, slot_hidden: int = 128,
                      rank: int = 1) -> BumpDecoder:
    """Build a decoder of ``kind`` in :data:`DECODER_KINDS` with parameters initialised from
    ``seed`` (the global torch RNG is left untouched)."""
    if kind not in DECODER_KINDS:
        raise ConfigError(f"unknown decoder {kind!r}: choose from {', '.join(DECODER_KINDS)}")
    for name, value in (("hidden", hidden), ("depth", depth), ("channels", channels),
                        ("slot_hidden", slot_hidden)):
        positive_int(name, value)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "mlp":
            return MLPDecoder(task, hidden, depth)
        if kind == "conv":
            return ConvDecoder(task, channels)
        if kind == "log-additive":
            return LogAdditiveDecoder(task, slot_hidden)
        return OuterProductDecoder(task, slot_hidden, rank)
