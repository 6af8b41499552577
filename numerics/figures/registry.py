"""Every figure of the package, by name: ``iasym figures`` and the notebooks call these.

A registry entry computes its data with library calls (real generators, real analyses, real
training runs at small settings) and saves PNG + PDF. ``quick=True`` shrinks sizes so the whole
set renders in CI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sympy

from numerics.figures import proof, results
from numerics.figures.derivatives import sample_points
from numerics.figures.style import save
from theory import Slots, ambiguities
from theory import generators as gen

FigureFn = Callable[[Path, bool], list[Path]]

_POINTS = 6


def _proof(order: int) -> FigureFn:
    def make(out: Path, quick: bool) -> list[Path]:
        sizes = (2, 2)
        build = {0: gen.order0, 1: gen.additive, 2: gen.bilinear}[order]
        g = build(sizes, gen.minimum_outputs(order, sizes), seed=0)
        plotted = proof.block_structure_figure(
            g.f, g.slots, order, sample_points(g.slots, _POINTS, seed=0),
            title=f"{g.name}: interaction order n = {order} (certified {g.order})")
        return save(plotted.figure, out, f"proof_order{order}")

    return make


def _split_slot(out: Path, quick: bool) -> list[Path]:
    """f additive over slots (2, 2) vs f~ additive over (1, 1, 1, 1) read as slots (2, 2)."""
    whole = gen.additive((2, 2), gen.minimum_outputs(1, (2, 2)), seed=1)
    fine = gen.additive((1, 1, 1, 1), gen.minimum_outputs(1, (2, 2)), seed=1)
    coarse = Slots([fine.slots.symbols[:2], fine.slots.symbols[2:]])
    f_split = fine.f.subs(dict(zip(coarse.symbols, whole.slots.symbols, strict=True)))
    plotted = proof.split_slot_figure(whole.f, sympy.Matrix(f_split), whole.slots, 1,
                                      sample_points(whole.slots, _POINTS, seed=0))
    return save(plotted.figure, out, "proof_split_slot")


def _ambiguity(out: Path, quick: bool) -> list[Path]:
    """Affine ambiguity fields of class generators and counterexamples (order of each)."""
    sizes = (2, 2)
    cases = [
        (gen.additive(sizes, gen.minimum_outputs(1, sizes), seed=0), 1),
        (gen.bilinear(sizes, gen.minimum_outputs(2, sizes), seed=0), 2),
        (gen.linear(sizes, 6, seed=0), 1),
        (gen.low_degree(sizes, 12, seed=0), 2),
    ]
    names, dims, slotwise = [], [], []
    for g, order in cases:
        result = ambiguities(g.f, g.slots, order=order, degree=1)
        names.append(f"{g.name} (n={order})")
        dims.append(result.dimension)
        slotwise.append(result.slotwise_dimension)
    plotted = results.ambiguity_figure(names, dims, slotwise)
    return save(plotted.figure, out, "ambiguity_affine")


FIGURES: dict[str, FigureFn] = {
    "proof_order0": _proof(0),
    "proof_order1": _proof(1),
    "proof_order2": _proof(2),
    "proof_split_slot": _split_slot,
    "ambiguity_affine": _ambiguity,
}


def render(out_dir: str | Path, only: str | None = None, quick: bool = False) -> list[Path]:
    """Render all figures (or the one named ``only``) into ``out_dir``; return saved paths."""
    from numerics.errors import ConfigError

    if only is not None and only not in FIGURES:
        raise ConfigError(f"unknown figure {only!r}; choose from {', '.join(FIGURES)}")
    names = [only] if only else list(FIGURES)
    paths: list[Path] = []
    for name in names:
        paths.extend(FIGURES[name](Path(out_dir), quick))
    return paths
