"""Object-centric metrics: decoder Jacobian per pixel and slot, JIS, J-ARI, FG-ARI, ARI, SIS.

Decoder Jacobian (docs/theory.md section 5): for slots z (K blocks B_k of d coordinates) and a
decoder x_hat(z) with pixels p and channels c,

    J_{p,k} = sum_c sum_{i in B_k} |d x_hat_{p,c} / d z_i|,   Jn_{p,k} = J_{p,k} / sum_k' J_{p,k'}.

JIS = (m - 1/K) / (1 - 1/K), m = mean over all foreground pixels (pooled over images) of
max_k Jn_{p,k}: 1 iff each foreground pixel depends on one slot, 0 iff on all slots equally.
J-ARI = ARI between argmax_k J_{p,k} and the ground-truth object labels on the foreground pixels
of each image, averaged over images. FG-ARI is the same with the decoder's masks in place of J.

ARI (Hubert & Arabie) from the pair counts of the two labelings: with tp, fp, fn, tn the
numbers of ordered pairs of distinct points that are together in both / only in the prediction
/ only in the truth / in neither,

    ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)),

and ARI = 1 when fn = fp = 0 (identical partitions, including the trivial ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from numerics.core.errors import DataError
from numerics.synthetic.metrics import SlotIdentifiability, slot_identifiability

SIS_LATENTS = (0, 1, 2, 3)


def decoder_jacobian(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                     chunk: int = 16) -> torch.Tensor:
    """J_{p,k} = sum_c sum_{i in B_k} |d x_hat_{p,c} / d z_i| by forward-mode AD (torch.func).

    ``decode: (B, K, d) -> (B, C, H, W)`` must treat samples independently (no batch-level
    coupling); ``z: (B, K, d)``. Directions are pushed through ``torch.func.jvp`` vmapped over
    up to ``chunk`` latent coordinates at a time (each tangent moves coordinate i of every
    sample at once). Returns (B, P, K) with P = H*W, detached (computed under no_grad).
    """
    if z.ndim != 3:
        raise DataError(f"z must have shape (batch, slots, slot_dim), got {tuple(z.shape)}")
    if chunk < 1:
        raise DataError(f"chunk must be >= 1, got {chunk}")
    b, k, d = z.shape
    eye = torch.eye(k * d, dtype=z.dtype, device=z.device).view(k * d, 1, k, d)

    def push(tangent: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(decode, (z,), (tangent.expand(b, k, d),))[1]

    jvp_many = torch.func.vmap(push)
    sums = []
    with torch.no_grad():
        for start in range(0, k * d, chunk):
            block = jvp_many(eye[start:start + chunk]).abs()
            sums.append(block.flatten(3).sum(dim=2))
    per_coord = torch.cat(sums, dim=0)
    return per_coord.view(k, d, b, -1).sum(dim=1).permute(1, 2, 0)


def normalize_jacobian(jacobian: torch.Tensor) -> torch.Tensor:
    """Jn = J / sum_k J over the slot axis (last); pixels with J = 0 get 1/K. (..., K)."""
    total = jacobian.sum(dim=-1, keepdim=True)
    uniform = torch.full_like(jacobian, 1.0 / jacobian.shape[-1])
    return torch.where(total > 0, jacobian / total.clamp_min(torch.finfo(jacobian.dtype).tiny),
                       uniform)


def _check_pair(values: torch.Tensor, labels: torch.Tensor, name: str) -> None:
    if values.ndim != 3:
        raise DataError(f"{name} must have shape (n, pixels, slots), got {tuple(values.shape)}")
    if labels.shape != values.shape[:2]:
        raise DataError(f"labels must have shape {tuple(values.shape[:2])}, got "
                        f"{tuple(labels.shape)}")


def jis(jacobian: torch.Tensor, foreground: torch.Tensor) -> float:
    """Jacobian interaction score; jacobian (n, P, K) >= 0, foreground (n, P) bool."""
    _check_pair(jacobian, foreground, "jacobian")
    k = jacobian.shape[-1]
    if k < 2:
        raise DataError("JIS needs at least 2 slots")
    fg = foreground.bool()
    if not fg.any():
        raise DataError("no foreground pixels: JIS is undefined")
    m = normalize_jacobian(jacobian.double()).amax(dim=-1)[fg].mean().item()
    return (m - 1.0 / k) / (1.0 - 1.0 / k)


def ari(labels_true: Sequence[int] | np.ndarray | torch.Tensor,
        labels_pred: Sequence[int] | np.ndarray | torch.Tensor) -> float:
    """Adjusted Rand index of two labelings of the same points (formula in the module doc)."""
    t = np.asarray(labels_true.cpu() if isinstance(labels_true, torch.Tensor) else labels_true)
    p = np.asarray(labels_pred.cpu() if isinstance(labels_pred, torch.Tensor) else labels_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise DataError(f"labelings must be 1-D of equal length, got {t.shape} and {p.shape}")
    n = t.shape[0]
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    counts = np.bincount(ti * (pi.max(initial=0) + 1) + pi).astype(np.float64)
    together_both = float((counts * (counts - 1)).sum())
    a = np.bincount(ti).astype(np.float64)
    b = np.bincount(pi).astype(np.float64)
    together_true = float((a * (a - 1)).sum())
    together_pred = float((b * (b - 1)).sum())
    tp = together_both
    fn = together_true - tp
    fp = together_pred - tp
    tn = float(n) * (n - 1) - tp - fn - fp
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def foreground_ari_per_image(scores: torch.Tensor, segmentation: torch.Tensor) -> np.ndarray:
    """ARI(argmax_k scores_{p,k}, segmentation_p) on the foreground pixels of each image.

    scores (n, P, K) (Jacobian J for J-ARI, decoder masks for FG-ARI); segmentation (n, P)
    int with 0 = background. Returns (n,) float64, NaN for an image without foreground pixels.
    """
    _check_pair(scores, segmentation, "scores")
    pred = scores.argmax(dim=-1).cpu().numpy()
    seg = segmentation.cpu().numpy()
    return np.array([ari(seg[i][seg[i] > 0], pred[i][seg[i] > 0]) if (seg[i] > 0).any()
                     else np.nan for i in range(seg.shape[0])], dtype=np.float64)


def foreground_ari(scores: torch.Tensor, segmentation: torch.Tensor) -> float:
    """Mean over images of :func:`foreground_ari_per_image`; images without foreground pixels
    are skipped."""
    values = foreground_ari_per_image(scores, segmentation)
    if np.isnan(values).all():
        raise DataError("no foreground pixels: ARI is undefined")
    return float(np.nanmean(values))


def j_ari(jacobian: torch.Tensor, segmentation: torch.Tensor) -> float:
    """J-ARI: :func:`foreground_ari` of the decoder Jacobian (n, P, K) and labels (n, P)."""
    return foreground_ari(jacobian, segmentation)


def fg_ari(masks: torch.Tensor, segmentation: torch.Tensor) -> float:
    """FG-ARI: :func:`foreground_ari` of decoder masks (n, K, P) and labels (n, P)."""
    if masks.ndim != 3:
        raise DataError(f"masks must have shape (n, slots, pixels), got {tuple(masks.shape)}")
    return foreground_ari(masks.transpose(1, 2), segmentation)


@dataclass(frozen=True)
class SpritesSIS:
    """Slot identifiability against object latents: ``result`` and per-scene ``matching``
    (n, O): the slot matched to each object."""

    result: SlotIdentifiability
    matching: np.ndarray

    @property
    def sis(self) -> float:
        """The slot identifiability score."""
        return self.result.sis


def match_slots(assignment: torch.Tensor, segmentation: torch.Tensor, n_objects: int,
                n_slots: int) -> np.ndarray:
    """Per scene, the Hungarian matching of objects to slots maximizing pixel overlap.

    assignment (n, P): slot of each pixel (e.g. argmax_k J); segmentation (n, P): 0 background,
    o + 1 for object o. Returns (n, O) slot indices (distinct within a scene). Needs K >= O.
    """
    if n_slots < n_objects:
        raise DataError(f"{n_slots} slots cannot be matched to {n_objects} objects")
    a = assignment.cpu().numpy()
    s = segmentation.cpu().numpy()
    out = np.empty((a.shape[0], n_objects), dtype=np.int64)
    for i in range(a.shape[0]):
        fg = s[i] > 0
        overlap = np.zeros((n_objects, n_slots))
        np.add.at(overlap, (s[i][fg] - 1, a[i][fg]), 1.0)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        out[i, rows] = cols
    return out


def sprites_sis(slots: torch.Tensor, assignment: torch.Tensor, segmentation: torch.Tensor,
                latents: torch.Tensor, present: torch.Tensor, *, regressor: str = "kernel",
                seed: int = 0, columns: Sequence[int] = SIS_LATENTS) -> SpritesSIS:
    """SIS of inferred slots against ground-truth object latents.

    slots (n, K, d) (posterior means); assignment, segmentation (n, P); latents (n, O, L);
    present (n, O) must be all True (a fixed object count). Objects are matched to slots per
    scene (:func:`match_slots`); then the true "slots" are the O objects (latent ``columns``,
    by default x, y, scale, hue) and the inferred ones their matched slots, scored by
    :func:`numerics.synthetic.metrics.slot_identifiability`.
    """
    if not bool(present.all()):
        raise DataError("SIS needs scenes with a fixed number of objects (all present)")
    n, o, _ = latents.shape
    matching = match_slots(assignment, segmentation, o, slots.shape[1])
    index = torch.as_tensor(matching)
    matched = slots.detach().cpu()[torch.arange(n)[:, None], index]
    z = latents[:, :, list(columns)].reshape(n, -1)
    result = slot_identifiability(z, matched.reshape(n, -1), [len(columns)] * o,
                                  [slots.shape[2]] * o, regressor=regressor, seed=seed,
                                  device="cpu")
    return SpritesSIS(result=result, matching=matching)


#: A run is flagged ``collapsed`` when, on average over images, one slot owns at least this share
#: of the foreground pixels (argmax_k J) and at least :data:`COLLAPSE_MASS` of the normalized
#: Jacobian mass, while J-ARI stays below :data:`COLLAPSE_MAX_J_ARI`. (The mass condition tells
#: a collapse from an untrained, uniform decoder, whose near-tied argmax can also favour one slot.)
COLLAPSE_SHARE = 0.9
COLLAPSE_MASS = 0.5
COLLAPSE_MAX_J_ARI = 0.5
#: ``objects`` needs JIS and J-ARI at least this and a reconstruction R^2 of at least
#: :data:`OBJECTS_MIN_RECON_R2` (1 - recon_mse / per-pixel variance of the scenes).
OBJECTS_MIN_SCORE = 0.8
OBJECTS_MIN_RECON_R2 = 0.9


def slot_dominance(jacobian: torch.Tensor, segmentation: torch.Tensor) -> dict[str, float]:
    """How much one slot dominates each image; jacobian (n, P, K) >= 0, segmentation (n, P).

    On the foreground pixels of every image: ``dominant_share`` = mean over images of
    max_k (share of pixels with argmax_k' J_{p,k'} = k); ``dominant_mass`` = mean over images of
    max_k sum_p J_{p,k} / sum_{p,k} J_{p,k} and ``dominant_mass_score`` = (dominant_mass - 1/K) /
    (1 - 1/K) (0 for a uniform decoder, 1 when one slot has all the mass);
    ``true_dominant_share`` = mean over images of the share of the largest visible object
    (what an object-wise model's ``dominant_share`` is).
    A model that routes every pixel through one slot has dominant_share = 1.
    """
    _check_pair(jacobian, segmentation, "jacobian")
    pred = jacobian.argmax(dim=-1)
    k = jacobian.shape[-1]
    shares, masses, truths = [], [], []
    for i in range(jacobian.shape[0]):
        fg = segmentation[i] > 0
        if not bool(fg.any()):
            continue
        n = float(fg.sum())
        shares.append(float(torch.bincount(pred[i][fg], minlength=k).max()) / n)
        mass = jacobian[i][fg].double().sum(dim=0)
        masses.append(float(mass.max() / mass.sum()) if float(mass.sum()) > 0 else 1.0 / k)
        truths.append(float(torch.bincount(segmentation[i][fg]).max()) / n)
    if not shares:
        raise DataError("no foreground pixels: slot dominance is undefined")
    mean_mass = float(np.mean(masses))
    return {"dominant_share": float(np.mean(shares)), "dominant_mass": mean_mass,
            "dominant_mass_score": (mean_mass - 1.0 / k) / (1.0 - 1.0 / k) if k > 1 else 1.0,
            "true_dominant_share": float(np.mean(truths))}


def judge_run(metrics: dict[str, float]) -> str:
    """One word for a run's metrics (keys jis, j_ari, recon_r2, dominant_share,
    dominant_mass_score).

    ``collapsed``: dominant_share >= COLLAPSE_SHARE, dominant_mass_score >= COLLAPSE_MASS and
    j_ari < COLLAPSE_MAX_J_ARI (one slot explains nearly every pixel; JIS can be high for this
    reason alone);
    ``objects``: jis, j_ari >= OBJECTS_MIN_SCORE and recon_r2 >= OBJECTS_MIN_RECON_R2;
    ``no-recon``: recon_r2 < OBJECTS_MIN_RECON_R2 (and not collapsed);
    ``mixed``: reconstructs, but the slots are not object-wise.
    """
    if (metrics["dominant_share"] >= COLLAPSE_SHARE
            and metrics["dominant_mass_score"] >= COLLAPSE_MASS
            and metrics["j_ari"] < COLLAPSE_MAX_J_ARI):
        return "collapsed"
    if metrics["recon_r2"] < OBJECTS_MIN_RECON_R2:
        return "no-recon"
    if metrics["jis"] >= OBJECTS_MIN_SCORE and metrics["j_ari"] >= OBJECTS_MIN_SCORE:
        return "objects"
    return "mixed"
