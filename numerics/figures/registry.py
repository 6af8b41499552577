"""Every figure of the package, by name: ``iasym figures`` and the notebooks call these.

A registry entry computes its data with library calls (real generators, real analyses, real
training runs at small settings) and saves PNG + PDF. ``quick=True`` shrinks sizes so the whole
set renders in CI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import sympy
import torch

from numerics.core.figure_style import save
from numerics.core.progress import track
from numerics.figures import proof, results
from numerics.figures.derivatives import sample_points
from numerics.synthetic.data import build_data
from numerics.synthetic.training import TrainConfig, TrainResult, autoencoder, train
from theory import Slots, ambiguities
from theory import generators as gen
from theory.class_construction import minimum_outputs
from theory.conjecture import run_conjecture
from theory.derivative_matrix import derivative_multi_indices
from theory.independence import sufficient_independence

FigureFn = Callable[[Path, bool, dict], list[Path]]

_POINTS = 6


def _proof(order: int) -> FigureFn:
    def make(out: Path, quick: bool, cache: dict) -> list[Path]:
        sizes = (2, 2)
        g = gen.of_order(order, sizes, minimum_outputs(order, sizes), seed=0)
        plotted = proof.block_structure_figure(
            g.f, g.slots, order, sample_points(g.slots, _POINTS, seed=0),
            title=f"{g.name}: interaction order n = {order} (certified {g.order})")
        return save(plotted.figure, out, f"proof_order{order}")

    return make


def _split_slot(out: Path, quick: bool, cache: dict) -> list[Path]:
    """f additive over slots (2, 2) vs f~ additive over (1, 1, 1, 1) read as slots (2, 2)."""
    whole = gen.additive((2, 2), minimum_outputs(1, (2, 2)), seed=1)
    fine = gen.additive((1, 1, 1, 1), minimum_outputs(1, (2, 2)), seed=1)
    coarse = Slots([fine.slots.symbols[:2], fine.slots.symbols[2:]])
    f_split = fine.f.subs(dict(zip(coarse.symbols, whole.slots.symbols, strict=True)))
    plotted = proof.split_slot_figure(whole.f, sympy.Matrix(f_split), whole.slots, 1,
                                      sample_points(whole.slots, _POINTS, seed=0))
    return save(plotted.figure, out, "proof_split_slot")


def _ambiguity(out: Path, quick: bool, cache: dict) -> list[Path]:
    """Affine ambiguity fields of class generators and counterexamples (order of each)."""
    sizes = (2, 2)
    cases = [
        (gen.additive(sizes, minimum_outputs(1, sizes), seed=0), 1),
        (gen.bilinear(sizes, minimum_outputs(2, sizes), seed=0), 2),
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


def _independence(out: Path, quick: bool, cache: dict) -> list[Path]:
    """Stacked derivative columns (n = 1) at the certifying point: additive vs linear."""
    paths = []
    for name, g in (("additive", gen.additive((2, 2), minimum_outputs(1, (2, 2)), seed=0)),
                    ("linear", gen.linear((2, 2), minimum_outputs(1, (2, 2)), seed=0))):
        result = sufficient_independence(g.f, g.slots, order=1)
        point = result.witness_point or dict.fromkeys(g.slots.symbols, sympy.Rational(1, 3))
        columns = [sympy.diff(g.f, *v).subs(point) for v in derivative_multi_indices(g.slots, 1)]
        matrix = np.array([[float(c[l]) for c in columns] for l in range(g.f.rows)])
        plotted = results.independence_figure(
            matrix, result.columns, result.rank, result.needed,
            title=f"{name}: rank {result.rank} / {result.needed} ({result.method})")
        paths += save(plotted.figure, out, f"independence_{name}")
    return paths


def _trained(cache: dict, quick: bool, order: int, decoder: str, sizes: tuple[int, ...],
             decoder_order: int | None = None) -> TrainResult:
    """One training run per (generator order, decoder, sizes, decoder order), shared."""
    key = (order, decoder, sizes, decoder_order)
    if key not in cache:
        outputs = max(12, minimum_outputs(order, sizes)) if quick else 40
        cache[key] = train(TrainConfig.from_settings(
            order=order, decoder=decoder, decoder_order=decoder_order, slot_sizes=sizes,
            outputs=outputs, support="lshape", steps=150 if quick else 3000,
            n_train=1024 if quick else 4096, n_eval=500 if quick else 2000, seed=0,
            progress=not quick))
    return cache[key]


def _r2(out: Path, quick: bool, cache: dict) -> list[Path]:
    """R² matrices of a structured order-1 decoder and the unconstrained MLP baseline."""
    runs = {d: _trained(cache, quick, 1, d, (1, 1, 1)) for d in ("structured", "mlp")}
    plotted = results.r2_matrices_figure(
        {f"{d} (SIS {r.sis:.2f})": np.asarray(r.r2) for d, r in runs.items()},
        {f"{d} (SIS {r.sis:.2f})": r.permutation for d, r in runs.items()})
    return save(plotted.figure, out, "r2_structured_vs_mlp")


def _support(out: Path, quick: bool, cache: dict) -> list[Path]:
    """L-shaped support of three scalar slots (projected onto slots 1, 2), Z_CPE and the
    per-point OOD error of each model. (With two scalar slots the structured decoder does not
    separate the slots at this budget, so the 3-slot runs shared with the R² figure are used.)
    """
    paths = []
    for decoder in ("structured", "mlp"):
        run = _trained(cache, quick, 1, decoder, (1, 1, 1))
        config = TrainConfig.from_settings(run.config)
        data = build_data(config)
        z_ood = data.support.sample_ood(400, torch.Generator().manual_seed(1))
        model = autoencoder(run.model)
        with torch.no_grad():
            x = data.render(z_ood)
            _, x_hat = model(x.to(next(model.parameters()).device))
            err = (x_hat.cpu() - x) ** 2
        plotted = results.support_figure(
            data.z_train[:1500, :2].numpy(), z_ood[:, :2].numpy(), err.mean(1).numpy(),
            labels=("$z_{B_1}$ (projection)", "$z_{B_2}$ (projection)"),
            title=f"{decoder} decoder (SIS {run.sis:.2f}); recombination OOD/ID error"
                  f" ratio {run.ood_ratio:.3g}")
        paths += save(plotted.figure, out, f"support_ood_{decoder}")
    return paths


def _recovery(out: Path, quick: bool, cache: dict) -> list[Path]:
    """SIS for generator orders 0-2 against structured decoders of orders 0-2 and the MLP.

    Three scalar slots: with 2-dimensional slots the structured decoders often end in
    slot-mixing local minima at these step counts (a known optimisation issue, not a
    prediction of the theory), which would hide the matched/mismatched pattern.
    """
    gen_orders = (0, 1, 2)
    models: list[tuple[str, int, str]] = [(str(m), m, "structured") for m in gen_orders]
    models.append(("mlp", 1, "mlp"))
    sis = np.zeros((len(gen_orders), len(models)))
    for i, n in enumerate(gen_orders):
        for j, (_, m, decoder) in enumerate(models):
            sis[i, j] = _trained(cache, quick, n, decoder, (1, 1, 1),
                                 decoder_order=None if decoder == "mlp" else m).sis
    plotted = results.recovery_grid_figure(sis, gen_orders, [m[0] for m in models])
    return save(plotted.figure, out, "recovery_vs_order")


def _conjecture(out: Path, quick: bool, cache: dict) -> list[Path]:
    """Conjecture runner on 2 x 2 slots with affine fields for N = 1 .. 3 (or 4)."""
    orders = (1, 2, 3) if quick else (1, 2, 3, 4)
    trials = 2 if quick else 5
    reports = [run_conjecture(n, trials, (2, 2), degree=1, seed=0) for n in orders]
    plotted = results.conjecture_figure(
        orders, [sum(t.slotwise for t in r.trials) / len(r.trials) for r in reports],
        [len(r.trials) for r in reports],
        [float(np.mean([t.seconds for t in r.trials])) for r in reports])
    return save(plotted.figure, out, "conjecture")


FIGURES: dict[str, FigureFn] = {
    "proof_order0": _proof(0),
    "proof_order1": _proof(1),
    "proof_order2": _proof(2),
    "proof_split_slot": _split_slot,
    "independence": _independence,
    "ambiguity_affine": _ambiguity,
    "conjecture": _conjecture,
    "r2_structured_vs_mlp": _r2,
    "support_ood": _support,
    "recovery_vs_order": _recovery,
}


def render(out_dir: str | Path, only: str | None = None, quick: bool = False) -> list[Path]:
    """Render all figures (or the one named ``only``) into ``out_dir``; return saved paths."""
    from numerics.core.errors import ConfigError

    if only is not None and only not in FIGURES:
        raise ConfigError(f"unknown figure {only!r}; choose from {', '.join(FIGURES)}")
    names = [only] if only else list(FIGURES)
    paths: list[Path] = []
    cache: dict = {}
    for name in track(names, len(names), "figures", enabled=len(names) > 1):
        paths.extend(FIGURES[name](Path(out_dir), quick, cache))
    return paths
