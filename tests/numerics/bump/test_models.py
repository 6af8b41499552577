"""Decoders: shapes, seeds, and the exact structure of the interaction-asymmetric ones."""

from __future__ import annotations

import pytest
import torch

from numerics.bump.metrics import layer_factorization_scores
from numerics.bump.models import DECODER_KINDS, make_bump_decoder
from numerics.bump.task import BumpTask, encode
from numerics.core.derivatives import cross_derivative_norms, cross_derivatives
from numerics.core.errors import ConfigError

SMALL = {"hidden": 16, "depth": 2, "channels": 4, "slot_hidden": 8}


def _points(task: BumpTask, n: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=gen, dtype=torch.float64) * (task.size - 1)


@pytest.mark.parametrize("inputs", ["raw", "onehot", "bump"])
@pytest.mark.parametrize("kind", DECODER_KINDS)
def test_shapes_and_inversion(kind, inputs):
    task = BumpTask(size=8, ood=(2, 5), inputs=inputs)
    model = make_bump_decoder(kind, task, seed=1, **SMALL)
    code = encode(torch.tensor([[0.0, 7.0], [3.0, 3.0], [6.0, 1.0]]), task)
    image = model(code)
    assert image.shape == (3, 8, 8)
    assert torch.equal(image, 1.0 - model.render(code))
    assert len(model.layers(code)) == len(model.layer_names())


def test_seeded_construction_leaves_global_rng_alone():
    task = BumpTask(size=8, ood=(2, 5))
    state = torch.get_rng_state()
    a = make_bump_decoder("mlp", task, seed=4, **SMALL)
    assert torch.equal(state, torch.get_rng_state())
    b = make_bump_decoder("mlp", task, seed=4, **SMALL)
    c = make_bump_decoder("mlp", task, seed=5, **SMALL)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_log_additive_has_order_one_in_log_space():
    """d2 log r / dx dy = 0 exactly: log r = a(x) (+) b(y) separates the slots."""
    task = BumpTask(size=8, ood=(2, 5), inverted=False)
    model = make_bump_decoder("log-additive", task, seed=0, **SMALL).double()
    z = _points(task)
    log_norms = cross_derivative_norms(lambda p: model.log_render(encode(p, task)).flatten(1),
                                       z, (1, 1), 2)
    assert torch.equal(log_norms, torch.zeros_like(log_norms))
    pixel_norms = cross_derivative_norms(lambda p: model(encode(p, task)).flatten(1), z, (1, 1), 2)
    assert (pixel_norms > 0).all()  # in pixel space the product does interact (like the bump)
    singular = torch.linalg.svdvals(model.render(encode(z, task)))
    assert (singular[:, 1] <= 1e-12 * singular[:, 0]).all()


@pytest.mark.parametrize("rank", [1, 2])
def test_outer_product_rank_in_pixel_space(rank):
    """r(x, y) and its cross derivative d2 r / dx dy = sum_k u_k'(x) v_k'(y)^T have rank <= r."""
    task = BumpTask(size=8, ood=(2, 5), inverted=False)
    model = make_bump_decoder("outer-product", task, seed=0, rank=rank, **SMALL).double()
    z = _points(task)
    image = model.render(encode(z, task))
    mixed = cross_derivatives(lambda p: model(encode(p, task)).flatten(1), z, (1, 1),
                              2).values[:, :, 0].reshape(-1, 8, 8)
    for matrix in (image, mixed):
        singular = torch.linalg.svdvals(matrix)
        assert (singular[:, rank] <= 1e-12 * singular[:, 0]).all()
        assert (singular[:, rank - 1] > 1e-6 * singular[:, 0]).all()


@pytest.mark.parametrize("kind", ["log-additive", "outer-product"])
def test_factorized_hidden_layers_score_exactly_one(kind):
    task = BumpTask(size=8, ood=(2, 5))
    model = make_bump_decoder(kind, task, seed=2, **SMALL)
    scores = layer_factorization_scores(model, task, _points(task, 10))
    assert scores["slot-hidden1"] == 1.0 and scores["slot-hidden2"] == 1.0
    assert scores["image"] < 1.0


def test_mlp_mixes_the_slots():
    task = BumpTask(size=8, ood=(2, 5))
    model = make_bump_decoder("mlp", task, seed=2, **SMALL)
    scores = layer_factorization_scores(model, task, _points(task, 10))
    assert all(s < 1.0 for s in scores.values())


def test_invalid_decoders():
    task = BumpTask(size=10, ood=(2, 5))
    with pytest.raises(ConfigError, match="unknown decoder"):
        make_bump_decoder("transformer", task)
    with pytest.raises(ConfigError, match="divisible by 4"):
        make_bump_decoder("conv", task)
    with pytest.raises(ConfigError, match="rank"):
        make_bump_decoder("outer-product", task, rank=0)
    with pytest.raises(ConfigError, match="hidden"):
        make_bump_decoder("mlp", task, hidden=0)
