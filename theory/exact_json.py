"""Exact JSON: polynomial columns and slot layouts as JSON-able data without floats.

A polynomial entry is stored as its list of terms [exponent vector, "p/q"] over the latents, so
that it is re-read exactly (no parsing of expressions, no rounding).
"""

from __future__ import annotations

import sympy

from theory.errors import CatalogueError
from theory.slots import Slots

__all__ = ["ExactColumn", "ExactTerm", "matrix_from_exact", "matrix_to_exact", "slots_summary"]

ExactTerm = list[list[int] | str]
"""One term of a polynomial: [exponent vector, "p/q"] (a JSON array)."""
ExactColumn = list[list[ExactTerm]]
"""A column of polynomials: per entry, its terms as [exponent vector, "p/q"] pairs."""


def matrix_to_exact(m: sympy.Matrix, symbols: tuple[sympy.Symbol, ...]) -> ExactColumn:
    """A polynomial column as JSON-able exact data: per entry, a list of
    [exponent vector, "p/q"] pairs (re-read with :func:`matrix_from_exact`, no parsing)."""
    out: ExactColumn = []
    for e in m:
        poly = sympy.Poly(e, *symbols, domain="QQ")
        out.append([[list(mono), str(c)] for mono, c in poly.terms()])
    return out


def matrix_from_exact(data: ExactColumn, symbols: tuple[sympy.Symbol, ...]) -> sympy.Matrix:
    """Inverse of :func:`matrix_to_exact` (exact rationals from "p/q" strings)."""
    entries = []
    for terms in data:
        expr = sympy.Integer(0)
        for mono, coeff in terms:
            if isinstance(mono, str) or len(mono) != len(symbols):
                raise CatalogueError(f"exponent vector {mono} does not match {len(symbols)}"
                                     " symbols")
            p, _, q = str(coeff).partition("/")
            try:
                c = sympy.Rational(int(p), int(q or 1))
            except ValueError:
                raise CatalogueError(f"coefficient {coeff!r} is not a rational p/q") from None
            expr += c * sympy.Mul(*(s**int(k) for s, k in zip(symbols, mono, strict=True)))
        entries.append(expr)
    return sympy.Matrix(entries)


def slots_summary(slots: Slots) -> list[list[str]]:
    """Slot blocks as lists of symbol names (JSON-able)."""
    return [[str(s) for s in block] for block in slots.blocks]
