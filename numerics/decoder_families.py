"""Decoder families: the registry that turns ``--decoder NAME`` into a decoder.

A family is a name, a factory ``build(order, slot_sizes, d_x, hidden, seed, depth) ->
nn.Module`` (a module mapping ``z: (batch, d_z) -> x: (batch, d_x)``, the same weights for the
same seed) and one fact the pipeline relies on: ``interaction_order``, whether the family's
decoders have at most ``order``-th order interaction across slots *by construction* (one block
per slot plus a cross-slot polynomial of degree <= order, numerics.models.StructuredDecoder).
Only such decoders are covered by the theorems (numerics.verdict.predict), have blocks that
the discrete search can regroup or unmix (numerics.selection), a slot assignment to harden at
order 0, and cross-slot coefficients to warm-start; they must provide ``harden()``,
``penalty()`` and ``warm_start(interaction, constant)`` as StructuredDecoder does. Any other
family is trained as an unconstrained decoder (like the MLP): reconstruction, plus the
cross-derivative penalty when one is asked for.

Everything that lists decoders reads this registry: ``TrainConfig.validate``, the choices of
``iasym train --decoder``, sweeps (which validate through TrainConfig) and
``numerics.models.make_decoder``. A new family is one module and one :func:`register` call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from numerics.errors import ConfigError

__all__ = ["DecoderFamily", "family", "names", "register", "unregister"]

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


def _structured(order: int, slot_sizes: Sequence[int], d_x: int, hidden: int | None,
                seed: int, depth: int) -> nn.Module:
    from numerics.models import StructuredDecoder

    return StructuredDecoder(order, slot_sizes, d_x, hidden=hidden or 64, depth=depth,
                             seed=seed)


def _mlp(order: int, slot_sizes: Sequence[int], d_x: int, hidden: int | None, seed: int,
         depth: int) -> nn.Module:
    from numerics.models import MLPDecoder

    return MLPDecoder(slot_sizes, d_x, hidden=hidden or 128, depth=depth, seed=seed)


register(DecoderFamily(
    "structured", _structured, True,
    "per-slot MLP blocks (width hidden, default 64) plus a cross-slot polynomial of degree "
    "<= order: at most order-th order interaction by construction"))
register(DecoderFamily(
    "mlp", _mlp, False, "an unconstrained MLP (width hidden, default 128)"))
