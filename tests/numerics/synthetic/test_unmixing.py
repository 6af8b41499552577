"""numerics.synthetic.unmixing: the polynomial features, the variable-projection residual,
proposals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError
from numerics.synthetic.models import MLPEncoder
from numerics.synthetic.slotwise import block_norms
from numerics.synthetic.unmixing import (
    coordinate_residual,
    feature_count,
    points_for,
    propose_unmixings,
    residual_system,
    search_starts,
    unmixing_features,
    unmixing_residual,
)

Tensor = torch.Tensor


def _class_data(sizes: tuple[int, ...], order: int, d_x: int, m: int = 400, seed: int = 0
                ) -> tuple[Tensor, Tensor]:
    """Latents z in [-1, 1] and x = Phi(z) B: exactly in the model class, every feature used."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.rand(m, sum(sizes), generator=gen, dtype=torch.float64) * 2 - 1
    phi = unmixing_features(z, sizes, order)
    coeffs = torch.randn(phi.shape[-1], d_x, generator=gen, dtype=torch.float64)
    return z, phi @ coeffs


def _mixing(d: int, seed: int, strength: float = 1.0) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.eye(d, dtype=torch.float64) + strength * torch.randn(
        d, d, generator=gen, dtype=torch.float64)


def test_features_hand_built() -> None:
    # slots {u0}, {u1}, order 2: cross u0*u1; within u0, u0^2, u0^3, u1, u1^2, u1^3; constant
    u = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    phi = unmixing_features(u, (1, 1), 2)
    assert phi.tolist() == [[6.0, 2.0, 4.0, 8.0, 3.0, 9.0, 27.0, 1.0]]
    # 3 slots x 2 latents at order 3: 56 cross monomials, 3 x 14 within-slot ones, constant
    assert unmixing_features(torch.zeros(1, 6), (2, 2, 2), 3).shape == (1, 99)
    with pytest.raises(ConfigError):
        unmixing_features(torch.zeros(1, 5), (2, 2, 2), 3)


def test_residual_is_zero_in_the_true_coordinates_and_positive_after_mixing() -> None:
    sizes = (2, 2)
    z, x = _class_data(sizes, 2, 30)
    true = unmixing_residual(z[None], x, sizes, 2)
    mixed = unmixing_residual((z @ _mixing(4, 1).T)[None], x, sizes, 2)
    assert true.shape == (1,) and float(true) < 1e-10
    assert float(mixed) > 1e-3


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 10_000), swap=st.booleans())
def test_residual_invariant_under_slot_permutation_and_slotwise_affine_maps(
        seed: int, swap: bool) -> None:
    sizes = (2, 2)
    z, x = _class_data(sizes, 2, 30, seed=seed)
    base = float(unmixing_residual(z[None], x, sizes, 2))
    gen = torch.Generator().manual_seed(seed + 1)
    blocks = []  # well-conditioned slot-wise linear maps: rotation x scales in [0.5, 2]
    for _ in sizes:
        theta, s1, s2 = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
        c, s = np.cos(6.3 * theta), np.sin(6.3 * theta)
        rotation = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        blocks.append(rotation @ torch.diag(torch.tensor([0.5 + 1.5 * s1, 0.5 + 1.5 * s2],
                                                         dtype=torch.float64)))
    a = torch.block_diag(*blocks)
    u = z @ a.T + torch.randn(4, generator=gen, dtype=torch.float64)
    if swap:
        u = u[:, [2, 3, 0, 1]]
    moved = float(unmixing_residual(u[None], x, sizes, 2))
    assert abs(moved - base) < 1e-8
    # strictly worse once one coordinate of slot 0 takes in slot 1's latents
    cross = torch.eye(4, dtype=torch.float64)
    cross[0, 2] = cross[0, 3] = 0.7
    assert float(unmixing_residual((u @ cross.T)[None], x, sizes, 2)) > base + 1e-4


def test_residual_hand_built() -> None:
    """One slot {u0} and one slot {u1} at order 1 (features 1, u0, u0^2, u1, u1^2; no cross
    term): x = u0 * u1 on the four points (+-1, +-1) is orthogonal to every feature (each is
    even in u0 or in u1 while u0 u1 is odd in both), so r = 1 exactly; x = u0^2 + u1 is fit
    exactly, r = 0. The search's projected residual agrees."""
    u = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
                     dtype=torch.float64)
    product = (u[:, 0] * u[:, 1])[:, None]
    assert float(unmixing_residual(u[None], product, (1, 1), 1)[0]) == pytest.approx(1.0,
                                                                                    abs=1e-12)
    assert coordinate_residual(u, product, (1, 1), 1) == pytest.approx(1.0, abs=1e-12)
    exact = (u[:, 0] ** 2 + u[:, 1])[:, None]
    assert float(unmixing_residual(u[None], exact, (1, 1), 1)[0]) == pytest.approx(0.0,
                                                                                  abs=1e-12)
    assert coordinate_residual(u, exact, (1, 1), 1) == pytest.approx(0.0, abs=1e-12)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10_000),
       case=st.sampled_from([((2, 2), 2), ((2, 3, 1), 3), ((2, 2, 2), 3), ((3, 3), 2)]))
def test_projected_residual_equals_the_definition(seed: int, case: tuple) -> None:
    """ResidualSystem.residual (the search's O(m r q) form) equals unmixing_residual (Phi(u) in
    full) for well-conditioned maps: random rotations times scales in [0.5, 2]."""
    sizes, order = case
    d = sum(sizes)
    gen = torch.Generator().manual_seed(seed)
    m = points_for(sizes, order)
    z = torch.rand(m, d, generator=gen, dtype=torch.float64) * 2 - 1
    x = torch.tanh(z @ torch.randn(d, 12, generator=gen, dtype=torch.float64)) ** 2
    q = torch.linalg.qr(torch.randn(3, d, d, generator=gen, dtype=torch.float64))[0]
    maps = q * (0.5 + 1.5 * torch.rand(3, 1, d, generator=gen, dtype=torch.float64))
    system = residual_system(z, x, sizes, order)
    fast = system.residual(maps)
    reference = unmixing_residual(torch.einsum("mj,rij->rmi", system.z, maps), x, sizes, order)
    assert torch.allclose(fast, reference, rtol=0, atol=1e-9)
    assert coordinate_residual(z, x, sizes, order) == pytest.approx(
        float(unmixing_residual(z[None], x, sizes, order)[0]), abs=1e-9)


def test_overlap_hand_built_and_invariant() -> None:
    """kappa = -log(1 - rho^2) for two scalar slots of sample correlation rho; 0 for
    uncorrelated slots; unchanged by slot-wise linear maps; unbounded as the slots meet."""
    t = torch.linspace(-1, 1, 201, dtype=torch.float64)
    a, b = t, t.square() - t.square().mean()  # sample correlation exactly 0 (odd vs even)
    x = torch.zeros(201, 1, dtype=torch.float64)
    system = residual_system(torch.stack([a, b], 1), x, (1, 1), 1)
    eye = torch.eye(2, dtype=torch.float64)
    assert float(system.overlap(eye[None])[0]) == pytest.approx(0.0, abs=1e-12)
    mix = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)  # u2 = 0.6 za + 0.8 zb
    za, zb = system.z[:, 0], system.z[:, 1]
    rho = torch.corrcoef(torch.stack([za, 0.6 * za + 0.8 * zb]))[0, 1]
    assert float(system.overlap(mix[None])[0]) == pytest.approx(
        float(-torch.log(1 - rho**2)), rel=1e-10)
    sizes = (2, 1)
    z = torch.randn(300, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    system = residual_system(z, torch.zeros(300, 1, dtype=torch.float64), sizes, 2)
    base = torch.eye(3, dtype=torch.float64) + 0.3 * torch.ones(3, 3, dtype=torch.float64)
    slotwise = torch.block_diag(torch.tensor([[2.0, 1.0], [0.5, -1.0]], dtype=torch.float64),
                                torch.tensor([[-3.0]], dtype=torch.float64))
    values = system.overlap(torch.stack([base, slotwise @ base]))
    assert float(values[0]) == pytest.approx(float(values[1]), rel=1e-10)
    near = base.clone()
    near[2] = near[0] + 1e-4 * near[2]  # slot 2's coordinate almost that of slot 1
    assert float(system.overlap(near[None])[0]) > float(values[0]) + 5


def test_search_starts_identity_full_and_slot_pair_rotations() -> None:
    """Start 0 is the identity, odd starts rotate all coordinates, even starts >= 2 rotate the
    coordinates of one slot pair (pairs in turn) and are the identity elsewhere; all are
    orthogonal and the same for the same seed."""
    sizes = (2, 3, 1)
    starts = search_starts(sizes, 9, seed=4)
    eye = torch.eye(6, dtype=torch.float64)
    assert starts.shape == (9, 6, 6) and torch.equal(starts[0], eye)
    assert torch.allclose(starts @ starts.transpose(1, 2), eye.expand(9, 6, 6), atol=1e-12)
    pair_coords = [[0, 1, 2, 3, 4], [0, 1, 5], [2, 3, 4, 5], [0, 1, 2, 3, 4]]
    for start, coords in zip(starts[2::2], pair_coords, strict=True):
        rest = [i for i in range(6) if i not in coords]
        assert torch.equal(start[rest][:, rest], torch.eye(len(rest), dtype=torch.float64))
        assert torch.equal(start[rest][:, coords], torch.zeros(len(rest), len(coords),
                                                               dtype=torch.float64))
        assert not torch.equal(start[coords][:, coords], torch.eye(len(coords),
                                                                   dtype=torch.float64))
    assert (starts[1].abs() > 0).all()  # a rotation of all coordinates
    assert torch.equal(search_starts(sizes, 9, seed=4), starts)
    assert not torch.equal(search_starts(sizes, 9, seed=5)[2], starts[2])


def test_points_grow_with_the_features() -> None:
    assert points_for((2, 2, 2), 3) == 512  # p = 99
    assert feature_count((3, 3, 3), 3) == 265 and points_for((3, 3, 3), 3) == 795


def test_proposal_undoes_a_linear_mixing() -> None:
    sizes = (2, 2)
    z, x = _class_data(sizes, 2, 30, m=512)
    mixing = _mixing(4, 3, strength=0.5)
    z_hat = z @ mixing.T + 0.3
    proposals = propose_unmixings(z_hat, x, sizes, 2, restarts=8, steps=150, seed=0)
    assert 1 <= len(proposals) <= 3
    # best first by the search's objective r + mu kappa: here every proposal fits exactly
    best = proposals[0]
    assert best.residual < 1e-6
    # u = matrix @ zhat + shift = (matrix @ mixing) z + ...: slot-wise up to permutation
    jac = (best.matrix @ mixing).abs().numpy()[None]
    norms = block_norms(jac, sizes, sizes)
    assert norms.off_block < 1e-3
    again = propose_unmixings(z_hat, x, sizes, 2, restarts=8, steps=150, seed=0)
    assert torch.equal(again[0].matrix, best.matrix)


def test_successive_halving_search_undoes_the_mixing_and_keeps_its_survivors() -> None:
    """24 starts halved to 6 and 2: at most 2 distinct proposals, the best undoes the mixing,
    and the search is deterministic given its seed."""
    sizes = (2, 2)
    z, x = _class_data(sizes, 2, 30, m=512)
    z_hat = z @ _mixing(4, 3, strength=0.5).T + 0.3
    kw = dict(restarts=24, steps=15, halving=((6, 30), (2, 90)), seed=1)
    proposals = propose_unmixings(z_hat, x, sizes, 2, **kw)
    assert 1 <= len(proposals) <= 2 and proposals[0].residual < 1e-6
    again = propose_unmixings(z_hat, x, sizes, 2, **kw)
    assert torch.equal(again[0].matrix, proposals[0].matrix)


@pytest.mark.parametrize("halving", [((0, 5),), ((9, 5),), ((2, 0),), ((2,),), ((True, 3),),
                                     ((4, 5), (6, 5))])
def test_halving_stages_are_checked(halving: tuple) -> None:
    with pytest.raises(ConfigError):
        propose_unmixings(torch.randn(40, 4), torch.randn(40, 3), (2, 2), 2, restarts=8,
                          halving=halving)


def test_proposal_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        propose_unmixings(torch.zeros(10, 4), torch.zeros(9, 3), (2, 2), 2)
    with pytest.raises(ConfigError):
        propose_unmixings(torch.zeros(10, 4), torch.zeros(10, 3), (2, 2), 2, restarts=0)


def test_encoder_transform_outputs_is_the_affine_map() -> None:
    enc = MLPEncoder(5, 3, hidden=8, seed=0)
    x = torch.randn(7, 5)
    before = enc(x).double()
    a = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [0.5, 0.0, 1.0]], dtype=torch.float64)
    c = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    enc.transform_outputs(a, c)
    np.testing.assert_allclose(enc(x).double().detach().numpy(),
                               (before @ a.T + c).detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError):
        enc.transform_outputs(torch.eye(2), torch.zeros(2))


def test_training_unmixes_from_order_2_and_regroups_below() -> None:
    from numerics.synthetic.selection import SelectionSettings
    from numerics.synthetic.training import TrainConfig, train

    def first_round(order: int) -> dict:
        config = TrainConfig.from_settings(
            order=order, slot_sizes=(2, 2), steps=500, n_train=2048, n_eval=200,
            progress=False, selection=SelectionSettings(candidates=2, restarts=0))
        return train(config).selection["rounds"][0]

    unmixed = first_round(2)
    assert len(unmixed["unmix_residual"]) == 2  # the two explored members
    assert all(1 <= len(r) <= 3 for r in unmixed["unmix_residual"])
    assert len(unmixed["unmix_recon"]) == sum(len(r) for r in unmixed["unmix_residual"])
    assert unmixed["regroup_recon"] == [] and unmixed["assignment"] == []
    regrouped = first_round(1)
    assert regrouped["unmix_residual"] == [] and len(regrouped["regroup_recon"]) == 1


def test_fit_coefficients_recover_the_class_and_warm_start_the_decoder() -> None:
    from numerics.synthetic.models import StructuredDecoder, cross_monomials
    from numerics.synthetic.unmixing import fit_coefficients

    sizes = (2, 1, 2)
    z, x = _class_data(sizes, 2, 12, m=400, seed=4)
    coeffs = fit_coefficients(z, x, sizes, 2)
    # exact up to the ridge (1e-8 of the mean diagonal of the Gram matrix)
    np.testing.assert_allclose((unmixing_features(z, sizes, 2) @ coeffs).numpy(), x.numpy(),
                               atol=1e-5 * float(x.abs().max()))
    n_cross = len(cross_monomials(sizes, 2))
    decoder = StructuredDecoder(2, sizes, 12, hidden=8, seed=0).double()
    decoder.warm_start(coeffs[:n_cross], coeffs[-1])
    slotwise = decoder.renderers(z).sum(-2)
    cross = unmixing_features(z, sizes, 2)[:, :n_cross] @ coeffs[:n_cross]
    np.testing.assert_allclose((decoder(z) - slotwise).detach().numpy(),
                               (cross + coeffs[-1]).numpy(), atol=1e-10)
    with pytest.raises(ConfigError):
        decoder.warm_start(coeffs[:3], coeffs[-1])
