"""Tests for numerics.synthetic.supports: training supports, OOD samples of Z_CPE minus Z."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.supports import KINDS, BoxSupport, box_support, make_support
from theory.counterexamples import get
from theory.supports import cpe_boxes


def test_hand_points_are_classified_exactly() -> None:
    band = make_support("band", [2, 1], width=0.25)  # positions are coordinates 0 and 2
    z = torch.tensor([[0.0, 0.9, 0.2], [0.0, -0.9, 0.6], [-1.0, 0.0, -1.0], [0.0, 0.0, 1.5]])
    # |u_1 - u_2| = |z0 - z2| / 2: 0.1 (in), 0.3 (out), 0 (in), outside the box (out)
    assert band.contains(z).tolist() == [True, False, True, False]
    lshape = make_support("lshape", [1, 1], fraction=0.5)
    z = torch.tensor([[0.5, 0.5], [-0.5, 0.9], [0.9, -0.1], [0.1, 0.1]])
    assert lshape.contains(z).tolist() == [False, True, True, False]
    assert make_support("full", [1, 1]).contains(z).all()


@pytest.mark.parametrize("kind", ["band", "lshape"])
def test_train_and_ood_samples_partition_the_box(kind: str) -> None:
    support = make_support(kind, [2, 1, 2])
    train = support.sample_train(4000, 0, dtype=torch.float64)
    ood = support.sample_ood(4000, 1, dtype=torch.float64)
    assert train.shape == ood.shape == (4000, 5)
    assert support.contains(train).all() and not support.contains(ood).any()
    for z in (train, ood):
        assert float(z.min()) >= -1.0 and float(z.max()) <= 1.0
    # slot-supported: every slot position covers its whole interval in training
    for p in support.positions:
        assert float(train[:, p].min()) < -0.95 and float(train[:, p].max()) > 0.95


@pytest.mark.parametrize(("kind", "kw"), [("band", {"width": 0.3}), ("lshape", {"fraction": 0.4}),
                                          ("band", {"width": 0.5})])
def test_training_volume_matches_exact_formula(kind: str, kw: dict) -> None:
    support = make_support(kind, [1, 2, 1], **kw)
    k = 3
    if kind == "band":
        w = kw["width"]
        exact = k * w ** (k - 1) - (k - 1) * w**k
    else:
        exact = 1 - (1 - kw["fraction"]) ** k
    assert support.train_fraction_of_box == pytest.approx(exact, abs=1e-15)
    z = support.sample_cpe(200_000, 3, dtype=torch.float64)
    observed = float(support.contains(z).double().mean())
    assert abs(observed - exact) < 4 * math.sqrt(exact * (1 - exact) / 200_000)


def test_correlated_copula_has_the_exact_rank_correlation() -> None:
    rho = 0.6
    support = make_support("correlated", [1, 1], rho=rho)
    z = support.sample_train(100_000, 0, dtype=torch.float64).numpy()
    # for a Gaussian copula, the correlation of the uniform margins is (6/pi) asin(rho/2)
    expected = 6 / math.pi * math.asin(rho / 2)
    assert abs(np.corrcoef(z.T)[0, 1] - expected) < 0.01
    assert support.contains(torch.as_tensor(z)).all()
    assert not support.has_ood
    with pytest.raises(ConfigError, match="no out-of-support"):
        support.sample_ood(10, 0)


def test_correlated_only_links_matching_positions_across_slots() -> None:
    z = make_support("correlated", [2, 2], rho=0.8).sample_train(50_000, 1).double().numpy()
    corr = np.corrcoef(z.T)
    assert corr[0, 2] > 0.7 and corr[1, 3] > 0.7
    assert abs(corr[0, 1]) < 0.03 and abs(corr[0, 3]) < 0.03


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_deterministic_given_the_generator(kind: str) -> None:
    support = make_support(kind, [2, 2])
    a = support.sample_train(100, torch.Generator().manual_seed(7))
    b = support.sample_train(100, 7)
    assert torch.equal(a, b) and a.dtype == torch.float32
    assert not torch.equal(a, support.sample_train(100, 8))


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4),
       kind=st.sampled_from(["band", "lshape"]), param=st.floats(0.2, 0.8),
       seed=st.integers(0, 2**31))
def test_property_ood_never_in_training_support(sizes: list[int], kind: str, param: float,
                                                seed: int) -> None:
    key = "width" if kind == "band" else "fraction"
    support = make_support(kind, sizes, low=-2.0, high=3.0, **{key: param})
    train = support.sample_train(300, seed, dtype=torch.float64)
    ood = support.sample_ood(300, seed + 1, dtype=torch.float64)
    assert support.contains(train).all() and not support.contains(ood).any()
    assert float(ood.min()) >= -2.0 and float(ood.max()) <= 3.0


def test_validation_errors() -> None:
    with pytest.raises(ConfigError, match="unknown support kind"):
        make_support("disc", [1, 1])
    with pytest.raises(ConfigError, match="width"):
        make_support("band", [1, 1], width=1.5)
    with pytest.raises(ConfigError, match="fraction"):
        make_support("lshape", [1, 1], fraction=0.0)
    with pytest.raises(ConfigError, match="rho"):
        make_support("correlated", [1, 1, 1], rho=-0.6)
    with pytest.raises(ConfigError, match="at least 2 slots"):
        make_support("band", [3])
    with pytest.raises(ConfigError, match="unknown support option"):
        make_support("full", [1, 1], sigma=1.0)
    with pytest.raises(ConfigError, match="low < high"):
        make_support("full", [1, 1], low=1.0, high=0.0)
    with pytest.raises(ConfigError, match="positive integers"):
        make_support("full", [1, 0])
    with pytest.raises(ConfigError, match="non-negative"):
        make_support("full", [1, 1]).sample_train(-1, 0)
    with pytest.raises(ConfigError, match="generator"):
        make_support("full", [1, 1]).sample_train(3, "seed")
    with pytest.raises(DataError, match="shape"):
        make_support("full", [1, 1]).contains(torch.zeros(3, 3))


# --- box supports: finite unions of boxes (the catalogue's witnesses) ------------------------

TWO_SQUARES = [((0, 1), (0, 1)), ((2, 3), (2, 3))]  # S = [0,1]^2 u [2,3]^2, two scalar slots


def _box_of(z: torch.Tensor, boxes) -> list[int]:
    """Index of the (closed) box each row of z lies in, -1 for none."""
    out = []
    for row in z.tolist():
        hits = [j for j, b in enumerate(boxes)
                if all(lo <= x <= hi for x, (lo, hi) in zip(row, b, strict=True))]
        out.append(hits[0] if hits else -1)
    return out


def test_two_squares_have_four_square_cpe_and_two_unseen_squares() -> None:
    support = box_support(TWO_SQUARES, [1, 1])
    assert isinstance(support, BoxSupport) and support.dim == 2 and support.slot_sizes == (1, 1)
    assert support.boxes == (((0.0, 1.0), (0.0, 1.0)), ((2.0, 3.0), (2.0, 3.0)))
    assert support.cpe_boxes == (((0.0, 1.0), (0.0, 1.0)), ((0.0, 1.0), (2.0, 3.0)),
                                 ((2.0, 3.0), (0.0, 1.0)), ((2.0, 3.0), (2.0, 3.0)))
    assert support.ood_boxes == (((0.0, 1.0), (2.0, 3.0)), ((2.0, 3.0), (0.0, 1.0)))
    assert support.has_ood and support.train_fraction_of_box == 0.5
    # the catalogue's witness gives the same support (exact Rationals in, floats out)
    entry = get("support_not_aligned_connected")
    assert box_support(entry.witness.train_boxes, entry.slots.sizes) == support
    # Z_CPE is the theory's (one implementation): the same boxes as cpe_boxes of the Rationals
    cpe, ood = cpe_boxes(entry.witness.train_boxes, entry.slots)
    as_float = lambda bs: tuple(tuple((float(a), float(b)) for a, b in x) for x in bs)  # noqa: E731
    assert support.cpe_boxes == as_float(cpe) and support.ood_boxes == as_float(ood)


def test_box_contains_is_exact_on_hand_points() -> None:
    support = box_support(TWO_SQUARES, [1, 1])
    z = torch.tensor([[0.5, 0.5], [2.5, 2.5], [0.5, 2.5], [2.5, 0.5], [1.5, 1.5],
                      [0.0, 0.0], [1.0, 1.0], [2.0, 3.0], [1.0 + 1e-12, 0.5], [3.5, 2.5],
                      [-1e-12, 0.5]], dtype=torch.float64)
    assert support.contains(z).tolist() == [True, True, False, False, False,
                                            True, True, True, False, False, False]
    assert support.contains([[0.5, 0.5]]).tolist() == [True]  # array-likes are accepted


def test_box_samples_land_where_they_should() -> None:
    support = box_support(TWO_SQUARES, [1, 1])
    n = 4000
    train = support.sample_train(n, 0, dtype=torch.float64)
    ood = support.sample_ood(n, 1, dtype=torch.float64)
    cpe = support.sample_cpe(n, 2, dtype=torch.float64)
    for z in (train, ood, cpe):
        assert z.shape == (n, 2) and z.dtype == torch.float64
    assert support.contains(train).all() and not support.contains(ood).any()
    assert -1 not in _box_of(train, support.boxes)
    assert -1 not in _box_of(ood, support.ood_boxes)
    in_cpe = _box_of(cpe, support.cpe_boxes)
    assert -1 not in in_cpe
    # equal volumes: each box gets about n / (number of boxes) samples
    for z, boxes in ((train, support.boxes), (ood, support.ood_boxes), (cpe, support.cpe_boxes)):
        counts = np.bincount(_box_of(z, boxes), minlength=len(boxes))
        p = 1 / len(boxes)
        assert np.all(np.abs(counts / n - p) < 4 * math.sqrt(p * (1 - p) / n))
    # uniform inside each box: the mean of a coordinate is the box centre
    first = train[torch.tensor(_box_of(train, support.boxes)) == 0]
    assert torch.allclose(first.mean(0), torch.tensor([0.5, 0.5], dtype=torch.float64),
                          atol=0.03)
    assert support.sample_train(0, 0).shape == (0, 2)


def test_boxes_are_chosen_proportionally_to_their_volume() -> None:
    # S = [0,1]^2 u [2,3]x[2,4]: volumes 1 and 2; Z_CPE = {[0,1],[2,3]} x {[0,1],[2,4]}, volume 6
    support = box_support([((0, 1), (0, 1)), ((2, 3), (2, 4))], [1, 1])
    assert support.train_fraction_of_box == 0.5
    assert support.ood_boxes == (((0.0, 1.0), (2.0, 4.0)), ((2.0, 3.0), (0.0, 1.0)))
    n = 30_000
    # the larger box is the second training box and the first unseen one: probability 2/3
    for z, boxes, big in ((support.sample_train(n, 3, torch.float64), support.boxes, 1),
                          (support.sample_ood(n, 4, torch.float64), support.ood_boxes, 0)):
        share = float(np.mean(np.asarray(_box_of(z, boxes)) == big))
        assert abs(share - 2 / 3) < 4 * math.sqrt(2 / 9 / n)
    # exact volume ratio with fractional bounds: ([0, 1/3] u [1/2, 1]) x [0, 1] slot-wise
    third = box_support([((Fraction(0), Fraction(1, 3)), (0, 1)),
                         ((Fraction(1, 2), Fraction(1)), (0, 1))], [1, 1])
    assert not third.has_ood and third.train_fraction_of_box == 1.0
    with pytest.raises(ConfigError, match="no out-of-support"):
        third.sample_ood(3, 0)


def test_multi_dimensional_slots_and_touching_boxes() -> None:
    # slot 1 = (z1, z2), slot 2 = z3; the 7 unit squares of [0,3]^2 minus two corners touch
    squares = [((float(a), a + 1.0), (float(b), b + 1.0)) for a in range(3) for b in range(3)
               if (a, b) not in ((0, 2), (2, 0))]
    control = box_support(squares, [1, 1])
    assert len(control.cpe_boxes) == 9 and control.train_fraction_of_box == pytest.approx(7 / 9)
    assert control.ood_boxes == (((0.0, 1.0), (2.0, 3.0)), ((2.0, 3.0), (0.0, 1.0)))
    z = control.sample_train(2000, 5, dtype=torch.float64)
    assert control.contains(z).all() and float(z.min()) >= 0 and float(z.max()) <= 3
    cube = box_support([((0, 1), (0, 1), (0, 1)), ((2, 3), (2, 3), (2, 3))], [2, 1])
    assert cube.dim == 3 and len(cube.cpe_boxes) == 4 and len(cube.ood_boxes) == 2
    assert cube.train_fraction_of_box == 0.5
    ood = cube.sample_ood(500, 6, dtype=torch.float64)
    assert not cube.contains(ood).any()


def test_box_sampling_is_deterministic_given_the_generator() -> None:
    support = box_support(TWO_SQUARES, [1, 1])
    for method in (support.sample_train, support.sample_cpe, support.sample_ood):
        a = method(100, torch.Generator().manual_seed(7))
        b = method(100, 7)
        assert torch.equal(a, b) and a.dtype == torch.float32
        assert not torch.equal(a, method(100, 8))


def test_box_support_validation_errors() -> None:
    with pytest.raises(ConfigError, match="non-empty list of boxes"):
        box_support([], [1, 1])
    with pytest.raises(ConfigError, match="d_z = 2"):
        box_support([((0, 1),)], [1, 1])
    with pytest.raises(ConfigError, match="lo < hi"):
        box_support([((0, 1), (1, 1))], [1, 1])
    with pytest.raises(ConfigError, match="lo < hi"):
        box_support([((2, 1), (0, 1))], [1, 1])
    with pytest.raises(ConfigError, match="pair"):
        box_support([((0, 1, 2), (0, 1))], [1, 1])
    with pytest.raises(ConfigError, match="finite"):
        box_support([((0, math.inf), (0, 1))], [1, 1])
    with pytest.raises(ConfigError, match="finite"):
        box_support([((0, "1"), (0, 1))], [1, 1])
    with pytest.raises(ConfigError, match="overlap"):
        box_support([((0, 2), (0, 2)), ((1, 3), (1, 3))], [1, 1])
    with pytest.raises(ConfigError, match="overlap"):
        box_support([((0, 1), (0, 1)), ((0, 1), (0, 1))], [1, 1])
    with pytest.raises(ConfigError, match="product boxes"):  # projections [0,2] and [1,3]
        box_support([((0, 2), (0, 1)), ((1, 3), (2, 3))], [1, 1])
    with pytest.raises(ConfigError, match="positive integers"):
        box_support(TWO_SQUARES, [1, 0])
    with pytest.raises(DataError, match="shape"):
        box_support(TWO_SQUARES, [1, 1]).contains(torch.zeros(3, 3))
    with pytest.raises(ConfigError, match="non-negative"):
        box_support(TWO_SQUARES, [1, 1]).sample_ood(-1, 0)
    with pytest.raises(ConfigError, match="generator"):
        box_support(TWO_SQUARES, [1, 1]).sample_train(3, "seed")


@st.composite
def _box_grids(draw):
    """A random support on a grid: per latent coordinate cut points c_0 < ... < c_m (halves)
    give cells [c_i, c_{i+1}]; the support is a non-empty set of products of cells (so slot
    projections are equal or meet at most on their boundary, and boxes may touch)."""
    sizes = draw(st.lists(st.integers(1, 2), min_size=1, max_size=3))
    cells = []
    for _ in range(sum(sizes)):
        cuts = sorted(draw(st.sets(st.integers(-6, 6), min_size=2, max_size=4)))
        cells.append([(Fraction(a, 2), Fraction(b, 2)) for a, b in itertools.pairwise(cuts)])
    grid = [()]
    for cell in cells:
        grid = [(*g, c) for g in grid for c in cell]
    chosen = draw(st.lists(st.sampled_from(range(len(grid))), min_size=1, unique=True,
                           max_size=min(6, len(grid))))
    return [grid[i] for i in chosen], sizes


@settings(max_examples=25, deadline=None)
@given(case=_box_grids(), seed=st.integers(0, 2**31))
def test_property_box_train_inside_ood_outside(case, seed: int) -> None:
    boxes, sizes = case
    support = box_support(boxes, sizes)
    train = support.sample_train(300, seed, dtype=torch.float64)
    assert support.contains(train).all()
    assert 0 < support.train_fraction_of_box <= 1
    if support.has_ood:
        ood = support.sample_ood(300, seed + 1, dtype=torch.float64)
        assert not support.contains(ood).any()
    cpe = support.sample_cpe(300, seed + 2, dtype=torch.float64)
    assert -1 not in _box_of(cpe, support.cpe_boxes)
