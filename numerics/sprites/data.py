"""Multi-object sprites: a seeded, vectorized renderer with three composition modes, and a cache.

A scene holds up to ``max_objects`` objects in depth order (object 0 at the back). Object o has
latents ``(x, y, scale, hue, shape)`` with centre (x, y) in [0, 1]^2 (x to the right, y down),
half-size ``scale``, hue in [0, ``max_hue``] (fully saturated HSV colour, so no wrap-around)
and shape 0 = square, 1 = circle, 2 = triangle. Centres are uniform on [margin, 1 - margin]^2;
with ``min_distance`` > 0 a scene whose two objects' centres lie closer than that is redrawn
(rejection sampling, as CLEVR's generator places objects), which thins out heavy occlusions
without removing partial ones. Its coverage mask on pixel centres
u = (j + 1/2)/W, v = (i + 1/2)/H is

    square:   max(|u - x|, |v - y|) <= s
    circle:   (u - x)^2 + (v - y)^2 <= s^2
    triangle: |v - y| <= s  and  |u - x| <= (v - y + s) / 2     (apex up).

Composition (``mode``):

- ``"occlusion"`` (interaction order 0): painter's algorithm on a constant background; each
  pixel shows the front-most covering object.
- ``"additive"`` (order 1): x = background + sum_o colour_o * mask_o, exactly (no clipping, so
  values may exceed 1).
- ``"shadow"`` (higher order): occlusion, and before object o is painted everything already on
  the canvas under its shadow (its mask shifted by ``shadow_offset``) is darkened by the factor
  (1 - ``shadow_strength``). On the default black background a shadow is visible only where it
  falls on an object behind, so the difference from ``"occlusion"`` is a pure cross-object effect.

Ground truth: ``masks`` (n, O, H, W) coverage masks, ``segmentation`` (n, H, W) with 0 for the
background and o + 1 for the front-most object covering a pixel, ``latents`` (n, O, 5),
``present`` (n, O).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from numerics.core.errors import ConfigError, DataError
from numerics.core.io import atomic_write
from numerics.core.progress import track
from numerics.core.validation import int_at_least
from theory.errors import BudgetError

MODES = ("occlusion", "additive", "shadow")
LATENT_NAMES = ("x", "y", "scale", "hue", "shape")
N_SHAPES = 3
#: Most bytes of rendered scenes one call may hold (float32 images, bool masks, int64
#: segmentation: 12 + O + 8 bytes per pixel).
MEMORY_LIMIT = 8 * 2**30
#: Most rounds of redrawing the object centres of crowded scenes (``min_distance``).
PLACEMENT_ROUNDS = 1000


@dataclass(frozen=True)
class SpritesConfig:
    """Scene distribution: image size, object count range, latent ranges, composition mode."""

    size: int = 64
    min_objects: int = 1
    max_objects: int = 4
    mode: str = "occlusion"
    min_scale: float = 0.08
    max_scale: float = 0.16
    margin: float = 0.15
    max_hue: float = 0.85
    background: float = 0.0
    shadow_offset: float = 0.06
    shadow_strength: float = 0.5
    min_distance: float = 0.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an impossible scene distribution."""
        int_at_least("size", self.size, 4)
        if not 1 <= self.min_objects <= self.max_objects:
            raise ConfigError("need 1 <= min_objects <= max_objects, got "
                              f"{self.min_objects}, {self.max_objects}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not 0 < self.min_scale <= self.max_scale < 0.5:
            raise ConfigError("need 0 < min_scale <= max_scale < 0.5")
        if not 0 <= self.margin < 0.5:
            raise ConfigError(f"margin must lie in [0, 0.5), got {self.margin}")
        if not 0 < self.max_hue <= 1:
            raise ConfigError(f"max_hue must lie in (0, 1], got {self.max_hue}")
        if not 0 <= self.shadow_strength <= 1:
            raise ConfigError(f"shadow_strength must lie in [0, 1], got {self.shadow_strength}")
        if not 0 <= self.min_distance <= 1 - 2 * self.margin:
            raise ConfigError("min_distance must lie in [0, 1 - 2 * margin] = "
                              f"[0, {1 - 2 * self.margin:g}], got {self.min_distance}")


@dataclass
class Scenes:
    """A batch of rendered scenes (CPU tensors).

    images (n, 3, H, W) float32; masks (n, O, H, W) bool; segmentation (n, H, W) int64;
    latents (n, O, 5) float32 (x, y, scale, hue, shape; zeros for absent objects);
    present (n, O) bool.
    """

    images: torch.Tensor
    masks: torch.Tensor
    segmentation: torch.Tensor
    latents: torch.Tensor
    present: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: torch.Tensor | slice) -> Scenes:
        """The scenes selected by ``index`` (same fields, first axis indexed)."""
        return Scenes(*(getattr(self, f.name)[index] for f in fields(self)))


def hue_to_rgb(hue: torch.Tensor) -> torch.Tensor:
    """Fully saturated, full-value HSV colour: hue (...,) in [0, 1] -> rgb (..., 3) in [0, 1]."""
    h6 = hue[..., None] * 6.0
    centre = torch.tensor([3.0, 2.0, 4.0], dtype=hue.dtype, device=hue.device)
    sign = torch.tensor([1.0, -1.0, -1.0], dtype=hue.dtype, device=hue.device)
    offset = torch.tensor([-1.0, 2.0, 2.0], dtype=hue.dtype, device=hue.device)
    return (sign * (h6 - centre).abs() + offset).clamp(0.0, 1.0)


def sample_latents(config: SpritesConfig, n: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` scenes' object latents: returns latents (n, O, 5) and present (n, O)."""
    config.validate()
    o = config.max_objects
    count = torch.randint(config.min_objects, config.max_objects + 1, (n,), generator=generator)
    present = torch.arange(o)[None, :] < count[:, None]
    u = torch.rand(n, o, 4, generator=generator)
    lo, hi = config.margin, 1.0 - config.margin
    shape = torch.randint(0, N_SHAPES, (n, o), generator=generator).float()
    centres = lo + (hi - lo) * u[..., :2]
    if config.min_distance > 0:  # after every other draw: scenes not redrawn stay as without
        centres = _spread(centres, present, config, generator)
    latents = torch.stack([
        centres[..., 0],
        centres[..., 1],
        config.min_scale + (config.max_scale - config.min_scale) * u[..., 2],
        config.max_hue * u[..., 3],
        shape,
    ], dim=-1)
    return latents * present[..., None], present


def _crowded(centres: torch.Tensor, present: torch.Tensor, min_distance: float) -> torch.Tensor:
    """(n,) bool: scenes in which two present objects' centres (n, O, 2) lie closer than
    ``min_distance``."""
    close = torch.cdist(centres, centres) < min_distance
    pair = present[:, :, None] & present[:, None, :]
    pair &= ~torch.eye(present.shape[1], dtype=torch.bool)
    return (close & pair).flatten(1).any(dim=1)


def _spread(centres: torch.Tensor, present: torch.Tensor, config: SpritesConfig,
            generator: torch.Generator) -> torch.Tensor:
    """Redraw all centres (n, O, 2) of every scene with two present objects closer than
    ``config.min_distance``, until none is (rejection sampling: the centres are uniform on the
    allowed configurations); at most :data:`PLACEMENT_ROUNDS` rounds."""
    lo, hi = config.margin, 1.0 - config.margin
    for _ in range(PLACEMENT_ROUNDS):
        bad = _crowded(centres, present, config.min_distance).nonzero().flatten()
        if len(bad) == 0:
            return centres
        redraw = torch.rand(len(bad), centres.shape[1], 2, generator=generator)
        centres[bad] = lo + (hi - lo) * redraw
    raise DataError(f"could not place {config.max_objects} objects with centres at least "
                    f"min_distance = {config.min_distance} apart inside the margin "
                    f"{config.margin} in {PLACEMENT_ROUNDS} rounds; lower min_distance, the "
                    "margin or max_objects")


def shape_masks(latents: torch.Tensor, present: torch.Tensor, size: int,
                shift: float = 0.0) -> torch.Tensor:
    """Coverage masks of objects (see module docstring), optionally shifted by (shift, shift).

    latents (n, O, 5), present (n, O) -> masks (n, O, size, size) bool.
    """
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    v, u = c[:, None], c[None, :]
    x, y, s, _, kind = (latents[..., i, None, None] for i in range(5))
    du, dv = u - x - shift, v - y - shift
    square = torch.maximum(du.abs(), dv.abs()) <= s
    circle = du.square() + dv.square() <= s.square()
    triangle = (dv.abs() <= s) & (du.abs() <= (dv + s) / 2)
    masks = torch.where(kind == 0, square, torch.where(kind == 1, circle, triangle))
    return masks & present[..., None, None]


def compose(latents: torch.Tensor, present: torch.Tensor, config: SpritesConfig) -> Scenes:
    """Render scenes from latents (n, O, 5) and present (n, O) by ``config.mode``."""
    n, o = present.shape
    size = config.size
    masks = shape_masks(latents, present, size)
    colours = hue_to_rgb(latents[..., 3])[..., None, None]
    images = torch.full((n, 3, size, size), float(config.background))
    segmentation = torch.zeros(n, size, size, dtype=torch.int64)
    shadows = (shape_masks(latents, present, size, config.shadow_offset)
               if config.mode == "shadow" else None)
    for k in range(o):
        m = masks[:, k, None]
        segmentation = torch.where(masks[:, k], k + 1, segmentation)
        if config.mode == "additive":
            images = images + colours[:, k] * m
            continue
        if shadows is not None:
            images = images * (1.0 - config.shadow_strength * shadows[:, k, None])
        images = torch.where(m, colours[:, k], images)
    return Scenes(images=images, masks=masks, segmentation=segmentation, latents=latents,
                  present=present)


def render(config: SpritesConfig, n: int, seed: int = 0, *, chunk: int = 2048,
           progress: bool = False) -> Scenes:
    """Render ``n`` random scenes of ``config`` from ``seed`` (same seed -> same scenes).

    Work is done in chunks of ``chunk`` scenes (bounded memory); the latents of all scenes are
    drawn first, so the result does not depend on ``chunk``.
    """
    config.validate()
    if n < 1:
        raise ConfigError(f"number of scenes must be >= 1, got {n}")
    size = n * config.size ** 2 * (3 * 4 + config.max_objects + 8)  # images, masks, segments
    if size > MEMORY_LIMIT:
        raise BudgetError(f"{n} scenes of {config.size}x{config.size} need about "
                          f"{size / 2**30:.1f} GiB, above the limit of "
                          f"{MEMORY_LIMIT / 2**30:.0f} GiB (numerics.sprites.data.MEMORY_LIMIT)")
    latents, present = sample_latents(config, n, torch.Generator().manual_seed(seed))
    starts = range(0, n, chunk)
    parts = [compose(latents[i:i + chunk], present[i:i + chunk], config)
             for i in track(starts, len(starts), "render sprites", enabled=progress)]
    return Scenes(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Scenes)))


def _key(config: SpritesConfig, n: int, seed: int) -> np.ndarray:
    items = sorted({**asdict(config), "n": n, "seed": seed}.items())
    return np.array(repr(items))


def load_or_render(path: str | os.PathLike[str], config: SpritesConfig, n: int, seed: int = 0,
                   *, progress: bool = True) -> Scenes:
    """Scenes from the ``.npz`` cache at ``path``, rendering and caching them if needed.

    The cache stores the exact float32 images and records the configuration, ``n`` and ``seed``;
    a cache written for other settings is re-rendered and overwritten.
    """
    path = Path(path)
    key = _key(config, n, seed)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) == str(key):
                    return Scenes(*(torch.from_numpy(data[f.name]) for f in fields(Scenes)))
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"cannot read sprites cache {path}: {err}") from err
    scenes = render(config, n, seed, progress=progress)
    arrays = {f.name: getattr(scenes, f.name).numpy() for f in fields(Scenes)}
    atomic_write(path, lambda h: np.savez_compressed(h, key=key, **arrays), "wb")
    return scenes
