"""Renderer: determinism, occlusion order, exact additivity, locality of shadows, cache."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError, DataError
from numerics.sprites.data import (
    SpritesConfig,
    compose,
    hue_to_rgb,
    load_or_render,
    render,
    sample_latents,
    shape_masks,
)


def test_same_seed_same_scenes_and_chunking_does_not_matter() -> None:
    config = SpritesConfig(size=16, max_objects=3)
    a = render(config, 12, seed=3)
    b = render(config, 12, seed=3, chunk=5)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.segmentation, b.segmentation)
    assert torch.equal(a.latents, b.latents)
    assert not torch.equal(a.images, render(config, 12, seed=4).images)


def test_hue_to_rgb_primaries() -> None:
    rgb = hue_to_rgb(torch.tensor([0.0, 1 / 3, 2 / 3], dtype=torch.float64))
    assert torch.allclose(rgb, torch.eye(3, dtype=torch.float64), atol=1e-12)


def _two_squares(mode: str) -> tuple[torch.Tensor, torch.Tensor, SpritesConfig]:
    latents = torch.tensor([[[0.40, 0.40, 0.2, 0.0, 0.0],      # red square, back
                             [0.60, 0.60, 0.2, 2 / 3, 0.0]]])  # blue square, front
    return latents, torch.ones(1, 2, dtype=torch.bool), SpritesConfig(size=20, mode=mode)


def test_occlusion_front_object_wins() -> None:
    latents, present, config = _two_squares("occlusion")
    scenes = compose(latents, present, config)
    both = scenes.masks[0, 0] & scenes.masks[0, 1]
    assert both.sum() > 0
    assert (scenes.segmentation[0][both] == 2).all()
    only_back = scenes.masks[0, 0] & ~scenes.masks[0, 1]
    assert (scenes.segmentation[0][only_back] == 1).all()
    blue = hue_to_rgb(torch.tensor(2 / 3))
    assert torch.allclose(scenes.images[0][:, both], blue[:, None].expand(3, int(both.sum())))
    assert (scenes.images[0][:, ~(scenes.masks[0, 0] | scenes.masks[0, 1])] == 0).all()


def test_additive_is_exactly_the_sum_of_single_object_images() -> None:
    config = SpritesConfig(size=16, min_objects=2, max_objects=4, mode="additive")
    latents, present = sample_latents(config, 10, torch.Generator().manual_seed(1))
    total = compose(latents, present, config).images
    parts = torch.zeros_like(total)
    for k in range(config.max_objects):
        alone = present & (torch.arange(config.max_objects) == k)
        parts = parts + compose(latents, alone, config).images
    assert torch.equal(total, parts)
    assert total.max() > 1.0  # overlaps add up, no clipping


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_shadow_differs_from_occlusion_only_where_shadows_fall_on_objects(seed: int) -> None:
    config = SpritesConfig(size=16, min_objects=2, max_objects=4, mode="shadow")
    latents, present = sample_latents(config, 8, torch.Generator().manual_seed(seed))
    shadow = compose(latents, present, config)
    plain = compose(latents, present, SpritesConfig(size=16, min_objects=2, max_objects=4))
    assert torch.equal(shadow.segmentation, plain.segmentation)
    changed = (shadow.images != plain.images).any(dim=1)
    cast = shape_masks(latents, present, 16, config.shadow_offset).any(dim=1)
    objects = shadow.masks.any(dim=1)
    assert not (changed & ~(cast & objects)).any()


def test_shadow_variant_has_a_visible_cross_object_effect() -> None:
    latents, present, _ = _two_squares("shadow")
    latents = latents.flip(1)  # the blue square is now behind the red one and gets its shadow
    shadow = compose(latents, present, SpritesConfig(size=20, mode="shadow"))
    plain = compose(latents, present, SpritesConfig(size=20))
    changed = (shadow.images != plain.images).any(dim=1)
    assert changed.any()
    assert (shadow.segmentation[changed] == 1).all()


def test_cache_round_trip_and_invalidation(tmp_path) -> None:
    config = SpritesConfig(size=8, max_objects=2)
    path = tmp_path / "s.npz"
    first = load_or_render(path, config, 6, seed=0, progress=False)
    again = load_or_render(path, config, 6, seed=0, progress=False)
    assert torch.equal(first.images, again.images) and torch.equal(first.present, again.present)
    other = load_or_render(path, config, 6, seed=1, progress=False)
    assert not torch.equal(first.images, other.images)


@pytest.mark.parametrize("kwargs", [{"size": 2}, {"min_objects": 3, "max_objects": 2},
                                    {"mode": "glass"}, {"max_scale": 0.7},
                                    {"shadow_strength": 2.0}, {"min_distance": -0.1},
                                    {"margin": 0.3, "min_distance": 0.5}])
def test_bad_config_raises(kwargs) -> None:
    with pytest.raises(ConfigError):
        render(SpritesConfig(**kwargs), 2)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), min_distance=st.floats(0.05, 0.35),
       max_objects=st.integers(2, 4))
def test_min_distance_redraws_exactly_the_crowded_scenes(seed: int, min_distance: float,
                                                         max_objects: int) -> None:
    free = SpritesConfig(size=16, min_objects=1, max_objects=max_objects, margin=0.1)
    spread = SpritesConfig(size=16, min_objects=1, max_objects=max_objects, margin=0.1,
                           min_distance=min_distance)
    a, present = sample_latents(free, 64, torch.Generator().manual_seed(seed))
    b, present_b = sample_latents(spread, 64, torch.Generator().manual_seed(seed))
    assert torch.equal(present, present_b)
    assert torch.equal(a[..., 2:], b[..., 2:])  # scale, hue and shape are never redrawn
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(max_objects, dtype=torch.bool)
    gaps_a = torch.cdist(a[..., :2], a[..., :2])
    gaps_b = torch.cdist(b[..., :2], b[..., :2])
    assert (gaps_b[pair] >= min_distance).all()
    crowded = ((gaps_a < min_distance) & pair).flatten(1).any(dim=1)
    assert torch.equal(a[~crowded], b[~crowded])  # a scene that was fine is kept as drawn
    centres = b[..., :2][present]
    assert ((centres >= 0.1) & (centres <= 0.9)).all()


def test_min_distance_that_cannot_be_met_is_a_bounded_data_error() -> None:
    # four centres pairwise 0.39 apart in a square of side 0.4: each within about 0.01 of a
    # corner, probability about 1e-12 per draw
    config = SpritesConfig(size=8, min_objects=4, max_objects=4, min_scale=0.05,
                           max_scale=0.05, margin=0.3, min_distance=0.39)
    with pytest.raises(DataError, match="min_distance"):
        render(config, 4)
