"""Exact explanation of the bump benchmark through interaction orders (``theory``, sympy only).

Certified on a reduced pixel lattice (``grid`` x ``grid`` pixels, exact rational sigma):

1. The bump f_uv(x, y) = exp(-(u - x)^2 / 2 s^2) exp(-(v - y)^2 / 2 s^2) has no finite
   interaction order across the slots (x | y): d^(a+b) f_uv / dx^a dy^b = H_a H_b f_uv with
   Hermite-type polynomial factors, never identically zero (``interaction_order`` = inf).
2. Its logarithm -(u - x)^2 / 2 s^2 - (v - y)^2 / 2 s^2 is additive: order exactly 1.
3. Sufficient independence (order 1) fails for the log-bump: d^2/dx^2 = d^2/dy^2 = -1/s^2 for
   every pixel, so those two columns coincide (rank 3 < 4 needed).

Why a reduced lattice suffices: every pixel is a translate of pixel (0, 0),
f_uv(x, y) = f_00(x - u, y - v), and a translation acts on each slot separately, so every mixed
partial of f_uv is the translate of the same partial of f_00 and vanishes identically iff it
does for f_00. The order of an image (the maximum over its pixels) therefore equals the order
of any one pixel, and the column identity of point 3 holds for every pixel.

Predictions (Brady et al., section 4.2; docs/theory.md sections 4 and 7): a decoder class of order
<= n is determined on the Cartesian-product extension by its values on an aligned-connected
training support (the donut is connected and its projections cover every x and every y). An
unrestricted MLP or CNN lies in no finite-order class, so its values on held-out combinations
are not determined by training and it can (and does) memorize. A decoder that is additive in
log space (order 1) or renders a rank-r outer product u(x) v(y)^T is pinned down on the held-out
square by the training data, so it composes. Because inputs (x, y) are given, identifiability of
the latents is not needed, which is why the failed sufficient independence (point 3: a rotation
of (x, y) keeps the log-bump additive) does not prevent composition here. Caveat: pixel-space
MSE does not see log-intensities of dark pixels, so the log-additive decoder must share its
slot functions across rows/columns (log r = a(x) (+) b(y)) rather than be additive per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy

from numerics.core.errors import ConfigError
from numerics.core.validation import is_int
from theory.generators import gaussian_bump
from theory.independence import sufficient_independence
from theory.order import cross_derivatives, interaction_order


@dataclass(frozen=True)
class BumpExplanation:
    """Certified facts about the bump generator on a ``grid`` x ``grid`` lattice.

    ``order_bump`` (inf), ``order_log`` (1), ``mixed_partial``: the exact d^2 f_00 / dx dy,
    ``log_independent``: order-1 sufficient independence of the log-bump (False),
    ``log_rank`` / ``log_needed``: rank of its derivative columns vs columns needed,
    ``log_dependent``: labels of the dependent columns.
    """

    grid: int
    sigma: sympy.Rational
    order_bump: int | float
    order_log: int | float
    mixed_partial: sympy.Expr
    log_independent: bool | None
    log_rank: int
    log_needed: int
    log_dependent: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (exact values as strings)."""
        return {
            "grid": self.grid, "sigma": str(self.sigma),
            "order_bump": "inf" if self.order_bump == float("inf") else self.order_bump,
            "order_log": self.order_log, "mixed_partial_pixel00": str(self.mixed_partial),
            "log_sufficiently_independent": self.log_independent, "log_rank": self.log_rank,
            "log_needed": self.log_needed, "log_dependent_columns": list(self.log_dependent),
        }

    def format(self) -> str:
        """Plain-text explanation with the theorem's prediction."""
        order = "infinite (no finite n)" if self.order_bump == float("inf") else self.order_bump
        return "\n".join([
            f"Bump generator on a {self.grid}x{self.grid} pixel lattice, sigma = {self.sigma}, "
            "slots (x | y); every pixel is a slot-wise translate of pixel (0, 0).",
            f"  interaction order of the image f:     {order}",
            f"    d2 f_00 / dx dy = {self.mixed_partial}",
            f"  interaction order of log f:           {self.order_log} (additive in x and y)",
            f"  order-1 sufficient independence of log f: {self.log_independent} "
            f"(rank {self.log_rank} < {self.log_needed}; dependent: "
            f"{', '.join(self.log_dependent)})",
            "Prediction: decoders of unrestricted order (MLP, CNN) are not determined on "
            "held-out combinations and memorize; decoders of order 1 in log space, or rank-r "
            "outer products u(x) v(y)^T, are determined there by the training donut and compose."
            " Inputs are given, so the failed independence (rotation ambiguity) is harmless.",
        ])


def exact_sigma(sigma: float | int | str | sympy.Rational) -> sympy.Rational:
    """Exact rational for sigma: floats through their shortest decimal repr (1.5 -> 3/2)."""
    if isinstance(sigma, bool):
        raise ConfigError(f"sigma must be a positive number, got {sigma!r}")
    try:
        value = Fraction(repr(sigma)) if isinstance(sigma, float) else Fraction(str(sigma))
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"sigma must be a positive rational number, got {sigma!r}") from None
    if value <= 0:
        raise ConfigError(f"sigma must be positive, got {sigma!r}")
    return sympy.Rational(value.numerator, value.denominator)


def explain_bump(sigma: float | int | str | sympy.Rational = 1, grid: int = 2) -> BumpExplanation:
    """Certify orders and independence of the bump and its logarithm on a small lattice."""
    if not is_int(grid) or not 1 <= grid <= 6:
        raise ConfigError(f"grid must be an integer in [1, 6] (a reduced lattice), got {grid!r}")
    s = exact_sigma(sigma)
    bump = gaussian_bump(grid=grid, sigma=s)
    log = gaussian_bump(grid=grid, sigma=s, log=True)
    x, y = bump.slots.symbols
    mixed = next(d.expr for d in cross_derivatives(bump.f, bump.slots, 2)
                 if d.output == 0 and set(d.variables) == {x, y})
    independence = sufficient_independence(log.f, log.slots, order=1)
    return BumpExplanation(
        grid=grid, sigma=s,
        order_bump=interaction_order(bump.f, bump.slots),
        order_log=interaction_order(log.f, log.slots),
        mixed_partial=sympy.factor(mixed),
        log_independent=independence.holds, log_rank=independence.rank,
        log_needed=independence.needed, log_dependent=tuple(independence.dependent_columns),
    )
