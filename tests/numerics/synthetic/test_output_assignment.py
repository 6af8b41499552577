"""numerics.synthetic.output_assignment: the slot that explains each output, by regression."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError
from numerics.synthetic.models import StructuredDecoder
from numerics.synthetic.output_assignment import regression_assignment, slot_residuals


def _latents(m: int = 600, d: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(m, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_hand_built_outputs_go_to_the_slot_they_read() -> None:
    z = _latents()  # slots (2, 1, 1): z0 z1 | z2 | z3
    x = torch.stack([z[:, 0] * z[:, 1] + z[:, 0] ** 3, z[:, 2] ** 2, torch.sin(3 * z[:, 3]),
                     z[:, 1]], dim=1)
    assert regression_assignment(z, x, (2, 1, 1)).tolist() == [0, 1, 2, 0]
    residuals = slot_residuals(z, x, (2, 1, 1))
    assert residuals.shape == (3, 4)
    # polynomials of degree <= 3 in the right slot are fitted exactly
    assert float(residuals[0, 0]) < 1e-20 and float(residuals[1, 1]) < 1e-20
    assert float(residuals[0, 3]) < 1e-20
    # an output is explained by no other slot (independent uniform latents)
    assert float(residuals[1:, 0].min()) > 0.9 and float(residuals[[0, 2], 1].min()) > 0.9


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(3)), st.integers(0, 2**16))
def test_invariant_under_slotwise_maps_and_follows_slot_permutations(perm, seed) -> None:
    z = _latents(500, 3, seed)
    x = torch.stack([z[:, 0] ** 2, z[:, 1] ** 3 - z[:, 1], z[:, 2], z[:, 0]], dim=1)
    # inferred slots: a permutation of the true ones, each through a monotone map
    z_hat = torch.stack([torch.tanh(z[:, perm[k]]) + z[:, perm[k]] for k in range(3)], dim=1)
    expected = [perm.index(k) for k in (0, 1, 2, 0)]
    assert regression_assignment(z_hat, x, (1, 1, 1)).tolist() == expected


def test_a_mixed_slot_explains_less() -> None:
    z = _latents(800, 2, 3)
    x = torch.stack([z[:, 0] ** 3, z[:, 1] ** 3], dim=1)
    mixed = torch.stack([z[:, 0] + z[:, 1], z[:, 0] - z[:, 1]], dim=1)
    # the best slot of every output: exact in the true coordinates, far from it when mixed
    assert float(slot_residuals(z, x, (1, 1)).min(0).values.max()) < 1e-20
    assert float(slot_residuals(mixed, x, (1, 1)).min(0).values.min()) > 0.05


def test_bad_shapes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="z_hat"):
        slot_residuals(torch.zeros(5, 3), torch.zeros(4, 2), (1, 2))
    with pytest.raises(ConfigError, match="z_hat"):
        slot_residuals(torch.zeros(5, 3), torch.zeros(5, 2), (1, 1))


def test_harden_moves_only_the_outputs_that_disagree() -> None:
    decoder = StructuredDecoder(0, (1, 1, 1), 4, hidden=4, seed=0)
    with torch.no_grad():
        decoder.assignment_logits.copy_(torch.tensor([[2.0, 0, 0, 0], [0, 1, 0, 0],
                                                      [0, 0, 3, 1]]))
    before = decoder.assignment_logits.clone()
    decoder.harden(torch.tensor([0, 2, 2, 1]))
    assert decoder.assignment().argmax(0).tolist() == [0, 2, 2, 1]
    assert torch.equal(decoder.assignment_logits[:, [0, 2]], before[:, [0, 2]])
    assert decoder.assignment().sum(0).tolist() == [1.0] * 4
    with pytest.raises(ConfigError, match="slot indices"):
        StructuredDecoder(0, (1, 1), 3, hidden=4).harden(torch.tensor([0, 2, 1]))
