"""Symbolic demo: the verdict of :func:`theory.report.analyze` on a built-in set of generators.

One row per generator, covering every verdict: the identifiable classes n = 0, 1, 2 (with the
affine restriction of interacting coordinates at n = 2), sufficiently independent order-3
polynomials (conjectured), the counterexample families (linear, low-degree, product of
non-affine factors, the additive log-bump whose rotations are ambiguities), and the Gaussian
bump (no finite order). Used by ``iasym demo``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from theory import generators as G
from theory.class_construction import minimum_outputs
from theory.report import analyze

__all__ = ["DEMO_GENERATORS", "format_table", "symbolic_demo"]

#: (row name, constructor seed -> Generator) in display order.
DEMO_GENERATORS: tuple[tuple[str, Callable[[int], G.Generator]], ...] = (
    ("order 0, 2x2 latents", lambda s: G.order0((2, 2), minimum_outputs(0, (2, 2)), s)),
    ("additive, 2x2 latents", lambda s: G.additive((2, 2), minimum_outputs(1, (2, 2)), s)),
    ("bilinear, 2+1 latents", lambda s: G.bilinear((2, 1), minimum_outputs(2, (2, 1)), s)),
    ("order 3 polynomial, 1x1", lambda s: G.polynomial(3, (1, 1), minimum_outputs(3, (1, 1)),
                                                        s)),
    ("linear f = A z, 2x2", lambda s: G.linear((2, 2), 6, s)),
    ("low-degree (quadratic), 1x1", lambda s: G.low_degree((1, 1), 6, s)),
    ("product of quadratics, 1x1", lambda s: G.product_interaction((1, 1), 4, s)),
    ("Gaussian bump 3x3", lambda s: G.gaussian_bump(3)),
    ("log Gaussian bump 3x3", lambda s: G.gaussian_bump(3, log=True)),
)


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "-"}[value]


def symbolic_demo(seed: int = 0) -> list[dict[str, Any]]:
    """Analyze every generator of :data:`DEMO_GENERATORS` (random ones built with ``seed``).

    Returns one JSON-able dict per generator: ``name``, ``family``, ``slots``, ``outputs``,
    ``order`` (int or "inf"), ``sufficiently_independent``, ``ambiguity_dimension``,
    ``slotwise_dimension`` (None without an ambiguity analysis), ``verdict``,
    ``counterexample`` (the map h as strings, or None) and ``restrictions``.
    """
    rows = []
    for name, build in DEMO_GENERATORS:
        gen = build(seed)
        data = analyze(gen.f, gen.slots).to_dict()
        amb = data["ambiguity"]
        ce = data["counterexample"]
        rows.append({
            "name": name,
            "family": gen.name,
            "slots": data["slots"],
            "outputs": data["outputs"],
            "order": data["order"],
            "sufficiently_independent": data["sufficiently_independent"],
            "ambiguity_dimension": None if amb is None else amb["dimension"],
            "slotwise_dimension": None if amb is None else amb["slotwise_dimension"],
            "verdict": data["verdict"],
            "counterexample": None if ce is None else ce["h"],
            "restrictions": data["restrictions"],
        })
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Plain-text table: name, order, sufficiently independent, ambiguity dim / slot-wise dim,
    verdict (rows as returned by :func:`symbolic_demo`)."""
    header = ("generator", "order", "suff. indep.", "ambiguities / slot-wise", "verdict")
    cells = [header]
    for r in rows:
        dims = "-" if r["ambiguity_dimension"] is None else (
            f"{r['ambiguity_dimension']} / {r['slotwise_dimension']}")
        cells.append((str(r["name"]), str(r["order"]), _yes_no(r["sufficiently_independent"]),
                      dims, str(r["verdict"])))
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
