"""Slots: a validated partition of the latent symbols z into blocks B_1, ..., B_K."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import sympy

from theory.errors import AnalysisError, GeneratorError, SlotError


def _as_symbol_block(block: object, k: int) -> tuple[sympy.Symbol, ...]:
    if isinstance(block, (str, bytes)) or not isinstance(block, Iterable):
        raise SlotError(
            f"slot {k} must be a sequence of sympy symbols, got {type(block).__name__} {block!r}"
        )
    symbols = tuple(block)
    if not symbols:
        raise SlotError(f"slot {k} is empty: every slot needs at least one latent symbol")
    for s in symbols:
        if not isinstance(s, sympy.Symbol):
            raise SlotError(
                f"slot {k} contains {s!r} ({type(s).__name__}), which is not a sympy Symbol"
            )
    return symbols


def exponent_vectors(symbols: Sequence[sympy.Symbol], indices: Iterable[Sequence[sympy.Symbol]]
                     ) -> list[tuple[int, ...]]:
    """The exponent vector of each multi-index: ``e[i]`` counts how often ``symbols[i]`` occurs
    in it (the monomial prod_i z_i^e[i]), one tuple of ``len(symbols)`` entries per index."""
    position = {s: i for i, s in enumerate(symbols)}
    out = []
    for v in indices:
        e = [0] * len(position)
        for s in v:
            e[position[s]] += 1
        out.append(tuple(e))
    return out


def _symbols_of(e: sympy.Basic) -> set[sympy.Basic]:
    """``e.free_symbols``, walking sums and products once and reading each distinct factor's
    symbols once (a polynomial with many terms repeats a few factors x**k many times)."""
    if not (e.is_Add or e.is_Mul):
        return set(e.free_symbols)
    out: set[sympy.Basic] = set()
    seen: dict[sympy.Basic, frozenset] = {}
    stack = [e]
    while stack:
        node = stack.pop()
        for a in node.args:
            if a.is_Add or a.is_Mul:
                stack.append(a)
            elif a not in seen:
                seen[a] = frozenset(a.free_symbols)
                out |= seen[a]
    return out


@dataclass(frozen=True)
class Slots:
    """A partition of the latent coordinates into K slots (blocks) B_1, ..., B_K.

    The flat latent vector is z = (z_{B_1}, ..., z_{B_K}); ``symbols`` lists it in that order
    and ``slot_of`` maps each coordinate index to its slot.

    Raises :class:`SlotError` for an empty partition, empty slots, non-symbols or a symbol that
    appears twice (overlapping slots).
    """

    blocks: tuple[tuple[sympy.Symbol, ...], ...]
    _index: dict[sympy.Symbol, int] = field(init=False, repr=False, compare=False, hash=False)

    def __init__(self, blocks: Iterable[Iterable[sympy.Symbol]]) -> None:
        if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Iterable):
            raise SlotError(f"slots must be a sequence of symbol sequences, got {blocks!r}")
        checked = tuple(_as_symbol_block(b, k) for k, b in enumerate(blocks))
        if not checked:
            raise SlotError("there must be at least one slot")
        index: dict[sympy.Symbol, int] = {}
        for k, block in enumerate(checked):
            for s in block:
                if s in index:
                    where = "twice in the same slot" if index[s] == k else (
                        f"in slots {index[s]} and {k} (slots must not overlap)"
                    )
                    raise SlotError(f"symbol {s} appears {where}")
                index[s] = k
        object.__setattr__(self, "blocks", checked)
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_sizes(cls, *sizes: int, prefix: str = "z") -> Slots:
        """Fresh real symbols ``{prefix}{k}_{i}`` (1-based) for slots of the given sizes.

        ``Slots.from_sizes(2, 3)`` gives slots (z1_1, z1_2 | z2_1, z2_2, z2_3).
        """
        if len(sizes) == 1 and isinstance(sizes[0], Sequence):
            sizes = tuple(sizes[0])
        if not sizes:
            raise SlotError("from_sizes needs at least one slot size")
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, int) or s < 1:
                raise SlotError(f"slot sizes must be positive integers, got {s!r}")
        return cls(
            tuple(sympy.Symbol(f"{prefix}{k + 1}_{i + 1}", real=True) for i in range(n))
            for k, n in enumerate(sizes)
        )

    # -- shape ----------------------------------------------------------------------------
    @property
    def K(self) -> int:
        """Number of slots K."""
        return len(self.blocks)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Slot sizes |B_1|, ..., |B_K|."""
        return tuple(len(b) for b in self.blocks)

    @property
    def dim(self) -> int:
        """Latent dimension d_z = sum_k |B_k|."""
        return len(self._index)

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """All latent symbols in slot order, z = (z_{B_1}, ..., z_{B_K})."""
        return tuple(s for b in self.blocks for s in b)

    @property
    def slot_of(self) -> tuple[int, ...]:
        """Slot index of every flat latent coordinate, length d_z."""
        return tuple(k for k, b in enumerate(self.blocks) for _ in b)

    @property
    def offsets(self) -> tuple[int, ...]:
        """Start index of each slot in the flat latent vector (length K + 1, last = d_z)."""
        out = [0]
        for n in self.sizes:
            out.append(out[-1] + n)
        return tuple(out)

    def slot(self, symbol: sympy.Symbol) -> int:
        """Slot index of a latent symbol; :class:`SlotError` if it belongs to no slot."""
        try:
            return self._index[symbol]
        except KeyError:
            raise SlotError(f"symbol {symbol} belongs to no slot") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __iter__(self) -> Iterator[tuple[sympy.Symbol, ...]]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, k: int) -> tuple[sympy.Symbol, ...]:
        return self.blocks[k]

    def __str__(self) -> str:
        return " | ".join(",".join(str(s) for s in b) for b in self.blocks)

    # -- generators -----------------------------------------------------------------------
    def check_generator(self, f: object) -> sympy.Matrix:
        """Validate a generator and return it as a column ``sympy.Matrix`` of shape (d_x, 1).

        ``f`` may be a sympy Matrix (any shape; it is flattened row-major), a sequence of sympy
        expressions/numbers, or a single expression. Raises :class:`GeneratorError` for
        anything else and :class:`SlotError` when f uses a symbol that belongs to no slot.
        """
        if isinstance(f, sympy.MatrixBase):
            entries = list(f)
        elif isinstance(f, sympy.Basic):
            entries = [f]
        elif isinstance(f, (str, bytes)):
            raise GeneratorError(
                "generator is a string: parse it first with theory.parsing.parse_generator"
            )
        elif isinstance(f, Iterable):
            entries = list(f)
        else:
            raise GeneratorError(
                f"generator must be a sympy Matrix or a sequence of expressions, got {f!r}"
            )
        if not entries:
            raise GeneratorError("generator has no outputs")
        out = []
        for l, e in enumerate(entries):
            if isinstance(e, bool) or not isinstance(e, (sympy.Basic, int, float)):
                raise GeneratorError(
                    f"output {l} is {e!r} ({type(e).__name__}), not a sympy expression"
                )
            if not isinstance(e, sympy.Basic):  # a Python number, taken exactly
                e = sympy.Integer(e) if isinstance(e, int) else sympy.Rational(e)
            if not isinstance(e, sympy.Expr):
                raise GeneratorError(f"output {l} is {e!r}, which is not a scalar expression")
            unknown = [s for s in _symbols_of(e) if s not in self._index]
            if unknown:
                names = ", ".join(sorted(str(s) for s in unknown))
                hint = ""
                slot_names = {str(s) for s in self._index}
                if any(str(s) in slot_names for s in unknown):
                    hint = (
                        " (a slot has a symbol with the same name but other assumptions, e.g."
                        " real=True: build f from the Slots' own symbols)"
                    )
                raise SlotError(f"output {l} uses symbols that belong to no slot: {names}{hint}")
            out.append(e)
        return sympy.Matrix(out)


def require_slots(slots: object) -> Slots:
    """``slots`` itself when it is a :class:`Slots`; :class:`AnalysisError` otherwise (the
    check every analysis entry point makes before it touches the layout)."""
    if not isinstance(slots, Slots):
        raise AnalysisError(f"slots must be a theory.slots.Slots, got {type(slots).__name__}")
    return slots
