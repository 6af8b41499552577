"""Decoder families: the registry that turns ``--decoder NAME`` into a decoder.

A family is a name, a factory ``build(order, slot_sizes, d_x, hidden, seed, depth) ->
nn.Module`` (a module mapping ``z: (batch, d_z) -> x: (batch, d_x)``, the same weights for the
same seed) and one fact the pipeline relies on: ``interaction_order``, whether the family's
decoders have at most ``order``-th order interaction across slots *by construction* (one block
per slot plus a cross-slot polynomial of degree <= order,
numerics.synthetic.models.StructuredDecoder). Only such decoders are covered by the theorems
(numerics.synthetic.verdict.predict), have blocks that the discrete search can regroup or unmix
(numerics.synthetic.selection), a slot assignment to harden at order 0, and cross-slot coefficients
to warm-start: their decoders are :class:`ConstrainedDecoder` s (``penalty()``, ``harden()``,
``warm_start(interaction, bias)``, as StructuredDecoder), which :func:`constrained_decoder`
checks. Any other family's decoder is a :class:`Decoder` (any module ``z -> x``) trained as an
unconstrained decoder (like the MLP): reconstruction, plus the cross-derivative penalty when one
is asked for.

Everything that lists decoders reads this registry: ``TrainConfig.validate``, the choices of
``iasym train --decoder``, sweeps (which validate through TrainConfig) and
:func:`make_decoder`. A new family is one module and one :func:`register` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor, nn

from numerics.core.errors import ConfigError
from numerics.core.validation import non_negative_int
from numerics.synthetic.models import MLPDecoder, StructuredDecoder

__all__ = ["ConstrainedDecoder", "Decoder", "DecoderFamily", "constrained_decoder", "family",
           "make_decoder", "names", "register", "unregister"]


class Decoder(Protocol):
    """What every family builds (as an ``nn.Module``): ``z: (batch, d_z) -> x: (batch, d_x)``."""

    def __call__(self, z: Tensor) -> Tensor: ...


@runtime_checkable
class ConstrainedDecoder(Protocol):
    """The decoder of a family with ``interaction_order=True`` (numerics.synthetic.models
    .StructuredDecoder): at most ``order``-th order interaction across slots by construction.

    ``penalty()``: a scalar the loss adds (times ``TrainConfig.assignment_penalty``) for
    order 0, the assignment penalty that drives the soft slot assignment to one-hot;
    ``harden()``: the change the training's step hook (numerics.synthetic.training.step_hook, called
    by numerics.core.engine.fit before a step) makes from step ``harden_at * steps`` on, and the
    pipeline once more after training: the one-hot slot assignment from then on, with the
    outputs moved to the slots of ``assignment`` ``(d_x,)`` when one is given (no-op above
    order 0); ``warm_start(interaction, bias)``: in place, the cross-slot coefficients
    ``(n_monomials, d_x)`` and bias ``(d_x,)`` start at given values (numerics.synthetic.unmixing).
    """

    def __call__(self, z: Tensor) -> Tensor: ...

    def penalty(self) -> Tensor: ...

    def harden(self, assignment: Tensor | None = None) -> None: ...

    def warm_start(self, interaction: Tensor, bias: Tensor) -> None: ...


def constrained_decoder(decoder: object) -> ConstrainedDecoder:
    """``decoder`` typed as a :class:`ConstrainedDecoder`; :class:`ConfigError` when it lacks
    one of its methods (a family registered with ``interaction_order=True`` whose decoder does
    not provide them)."""
    if not isinstance(decoder, ConstrainedDecoder):
        raise ConfigError(f"{type(decoder).__name__} is the decoder of a family with "
                          f"interaction_order=True but lacks penalty(), harden() or "
                          f"warm_start(interaction, bias) (numerics.synthetic.decoder_families)")
    return decoder

#: ``build(order, slot_sizes, d_x, hidden, seed, depth) -> decoder``
Build = Callable[[int, Sequence[int], int, "int | None", int, int], nn.Module]


@dataclass(frozen=True)
class DecoderFamily:
    """A registered decoder family (module docstring)."""

    name: str
    build: Build
    interaction_order: bool
    description: str


_FAMILIES: dict[str, DecoderFamily] = {}


def register(entry: DecoderFamily, *, replace: bool = False) -> DecoderFamily:
    """Add ``entry`` to the registry (``replace`` to overwrite a name); returns it.

    Raises :class:`ConfigError` for a name that is empty, not lower-case letters, digits and
    dashes, or already registered.
    """
    name = entry.name
    if not isinstance(name, str) or not name or not all(
            c.islower() or c.isdigit() or c == "-" for c in name):
        raise ConfigError(f"a decoder family needs a lower-case name of letters, digits and "
                          f"dashes, got {name!r}")
    if name in _FAMILIES and not replace:
        raise ConfigError(f"decoder family {name!r} is already registered")
    _FAMILIES[name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a family (for tests that register their own); unknown names raise ConfigError."""
    family(name)
    del _FAMILIES[name]


def names() -> tuple[str, ...]:
    """Registered family names, in registration order."""
    return tuple(_FAMILIES)


def family(name: str) -> DecoderFamily:
    """The family called ``name``; :class:`ConfigError` naming the registered ones if none."""
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown decoder {name!r}: choose one of {', '.join(_FAMILIES)}"
                          ) from None


def make_decoder(kind: str, order: int, slot_sizes: Sequence[int], d_x: int,
                 hidden: int | None = None, seed: int = 0, depth: int = 2) -> nn.Module:
    """Decoder of the registered family ``kind`` ("structured", the order-n
    :class:`numerics.synthetic.models.StructuredDecoder` with per-slot width ``hidden``, default
    64; "mlp", the :class:`numerics.synthetic.models.MLPDecoder` of width ``hidden``, default
    128; and any family registered since). Same seed, same weights. Raises
    :class:`ConfigError` for unknown kinds or bad sizes.
    """
    entry = family(kind)
    non_negative_int("order", order)
    return entry.build(order, slot_sizes, d_x, hidden, seed, depth)


def _structured(order: int, slot_sizes: Sequence[int], d_x: int, hidden: int | None,
                seed: int, depth: int) -> nn.Module:
    return StructuredDecoder(order, slot_sizes, d_x, hidden=hidden or 64, depth=depth,
                             seed=seed)


def _mlp(order: int, slot_sizes: Sequence[int], d_x: int, hidden: int | None, seed: int,
         depth: int) -> nn.Module:
    return MLPDecoder(slot_sizes, d_x, hidden=hidden or 128, depth=depth, seed=seed)


register(DecoderFamily(
    "structured", _structured, True,
    "per-slot MLP blocks (width hidden, default 64) plus a cross-slot polynomial of degree "
    "<= order: at most order-th order interaction by construction"))
register(DecoderFamily(
    "mlp", _mlp, False, "an unconstrained MLP (width hidden, default 128)"))
