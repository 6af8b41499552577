"""Constants in a generator's coefficients: floats made exact, irrational constants made formal.

* Floats (``sympy.Float``) are replaced by the exact rational of their decimal text
  (``1.5 -> 3/2``, ``0.1 -> 1/10``), with an :class:`theory.errors.ExactnessWarning` naming
  every replacement: the analysis is then exact for that rational generator, which is what the
  warning says.
* Irrational constants (pi, E, sqrt(2), exp(1/2), log(3), ...: number-valued atoms that are not
  rational) are kept exact. :func:`formal_constants` replaces each by a fresh positive symbol
  T, so that the rank certificates can work with rational points of (z, T). What carries over
  to the true constants c (the ring map Q[z, T] -> R[z], T -> c):

  - an identity in Q[z, T] (a verified kernel vector, a vanishing coefficient) holds at T = c,
    so every rank *deficiency* certified formally holds for the true generator (specialization
    never raises a rank);
  - a *full* rank found formally carries over when the map is injective: one constant that is
    transcendental (pi; E and exp(q) for rational q != 0 by Lindemann-Weierstrass) and a
    polynomial generator. Otherwise the full rank is confirmed at the true constants by a
    50-digit evaluation (:mod:`theory.independence`).

Complex constants (``I``) are refused: generators are real.
"""

from __future__ import annotations

import warnings

import sympy

from theory.errors import AnalysisError, ExactnessWarning

__all__ = ["constant_atoms", "formal_constants", "is_transcendental", "rationalize_floats"]


def rationalize_floats(f: sympy.Matrix) -> tuple[sympy.Matrix, list[tuple[sympy.Float,
                                                                            sympy.Rational]]]:
    """(f with every Float replaced by the rational of its decimal text, the replacements);
    warns with :class:`ExactnessWarning` when there were any."""
    floats = sorted(set().union(*(e.atoms(sympy.Float) for e in f)), key=float)
    if not floats:
        return f, []
    pairs = [(x, sympy.Rational(str(x))) for x in floats]
    shown = ", ".join(f"{x} -> {q}" for x, q in pairs[:6]) + (" ..." if len(pairs) > 6 else "")
    warnings.warn(f"floating-point coefficients replaced by exact rationals ({shown}); the"
                  " analysis is exact for the rational generator", ExactnessWarning,
                  stacklevel=3)
    mapping = dict(pairs)
    return f.applyfunc(lambda e: e.xreplace(mapping)), pairs


def _is_constant_atom(e: sympy.Expr) -> bool:
    return bool(e.is_number) and not e.is_Rational


def constant_atoms(expr: sympy.Expr) -> list[sympy.Expr]:
    """Irrational number-valued atoms of ``expr``: named constants (pi, E, ...), powers of
    rationals with non-integer exponents (sqrt(2)) and functions of numbers (log(3), exp(1/2));
    sorted. :class:`AnalysisError` for the imaginary unit."""
    if expr.has(sympy.I):
        raise AnalysisError(f"{expr} contains the imaginary unit I: generators must be real")
    found: set[sympy.Expr] = set()

    def walk(e: sympy.Expr) -> None:
        if isinstance(e, sympy.Float):
            return
        if _is_constant_atom(e) and not e.is_Add and not e.is_Mul:
            found.add(e)
            return
        for a in e.args:
            walk(a)

    walk(expr)
    return sorted(found, key=sympy.default_sort_key)


def is_transcendental(c: sympy.Expr) -> bool:
    """True for constants known to be transcendental: pi, E, exp(q) with q a non-zero
    rational (Lindemann-Weierstrass). False means "not known here", not "algebraic"."""
    if c is sympy.pi or c is sympy.E:
        return True
    return isinstance(c, sympy.exp) and c.args[0].is_Rational and c.args[0] != 0


def formal_constants(f: sympy.Matrix) -> tuple[sympy.Matrix, dict[sympy.Symbol, sympy.Expr]]:
    """f with every irrational constant atom replaced by a fresh positive symbol, and the map
    symbol -> constant (empty when f has none)."""
    atoms = sorted(set().union(*(constant_atoms(e) for e in f)), key=sympy.default_sort_key)
    if not atoms:
        return f, {}
    symbols = {c: sympy.Dummy(f"c{i}", positive=True) for i, c in enumerate(atoms)}
    return f.applyfunc(lambda e: e.xreplace(symbols)), {t: c for c, t in symbols.items()}
