import numpy as np
import pytest

from numerics.core.errors import DataError
from numerics.core.figure_style import save
from numerics.figures.results import (
    ambiguity_figure,
    conjecture_figure,
    independence_figure,
    jacobian_maps_figure,
    r2_matrices_figure,
    recovery_grid_figure,
    support_figure,
)


def _png_is_drawn(fig, tmp_path, name):
    png, pdf = save(fig, tmp_path, name)
    assert png.stat().st_size > 5_000 and pdf.stat().st_size > 1_000
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.std() > 0.05  # not a blank canvas


def test_r2_matrices_figure_plots_exactly_the_data(tmp_path):
    perfect = np.eye(3)
    mixed = np.full((3, 3), 0.5)
    plotted = r2_matrices_figure({"structured": perfect, "mlp": mixed},
                                 {"structured": (0, 1, 2), "mlp": (2, 0, 1)})
    np.testing.assert_array_equal(plotted.arrays["structured"], perfect)
    np.testing.assert_array_equal(plotted.arrays["mlp"], mixed)
    _png_is_drawn(plotted.figure, tmp_path, "r2")


def test_r2_matrices_figure_rejects_invalid_values():
    with pytest.raises(DataError, match="entries in"):
        r2_matrices_figure({"bad": np.array([[1.5]])})
    with pytest.raises(DataError, match="no R"):
        r2_matrices_figure({})


def test_support_and_grid_figures(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.uniform(-1, 1, (200, 2))
    ood = rng.uniform(-1, 1, (50, 2))
    err = rng.uniform(0.01, 1, 50)
    plotted = support_figure(train, ood, err)
    np.testing.assert_array_equal(plotted.arrays["ood_error"], err)
    _png_is_drawn(plotted.figure, tmp_path, "support")
    with pytest.raises(DataError):
        support_figure(train, ood, err[:3])
    grid = recovery_grid_figure(np.array([[0.95, 0.2], [0.1, 0.93]]), [1, 2], [1, 2])
    assert grid.arrays["sis"][0, 0] == 0.95
    _png_is_drawn(grid.figure, tmp_path, "grid")


def test_jacobian_maps_are_normalised_over_slots(tmp_path):
    jac = np.zeros((2, 4, 4))
    jac[0, :2] = 3.0
    jac[1, 2:] = 1.0
    jac[:, 0, 0] = 1.0
    plotted = jacobian_maps_figure(np.zeros((4, 4, 3)), jac)
    norm = plotted.arrays["normalized_jacobian"]
    assert norm[0, 1, 1] == 1.0 and norm[1, 1, 1] == 0.0
    assert norm[0, 0, 0] == 0.5 and norm[1, 0, 0] == 0.5
    assert norm[1, 3, 3] == 1.0


def test_independence_ambiguity_and_conjecture_figures(tmp_path):
    m = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    plotted = independence_figure(m, ["a", "b", "c"], rank=2, needed=3)
    assert "rank deficient" in plotted.figure.axes[0].get_title()
    np.testing.assert_array_equal(plotted.arrays["scaled"], [[1.0, 0.0, 1.0], [0.0, 1.0, -0.5]])
    amb = ambiguity_figure(["additive", "linear"], [12, 20], [12, 12])
    assert amb.arrays["dimension"].tolist() == [12, 20]
    conj = conjecture_figure([3, 4], [1.0, 0.5], [4, 4], [0.2, 1.5])
    assert conj.arrays["slotwise_fraction"].tolist() == [1.0, 0.5]
    _png_is_drawn(amb.figure, tmp_path, "amb")
    with pytest.raises(DataError):
        conjecture_figure([3], [1.0, 0.5], [4], [0.1])
