"""Where a trained sprites model loses J-ARI: ``python -m bench.sprites_diagnose WEIGHTS ...``.

Scores the model on held-out scenes (seed ``--eval-seed``, the experiment's test scenes by
default) and splits the per-scene J-ARI by scene kind: 2 or 3 objects, whether two objects'
masks overlap, whether two visible objects touch (4-neighbourhood, overlaps included). It also
counts *merged* scenes (two visible objects whose pixels mostly go to the same slot by
argmax_k J_{p,k}), the slots in use per scene, the mean *purity* of an object (share of its
pixels on its majority slot), how far the slots are fixed regions of the canvas (each
pixel's *usual* slot over the scenes, the share of foreground pixels on it, and the J-ARI of
that fixed tiling), and the posterior: per latent coordinate the mean posterior
standard deviation and the spread of the means over scenes (a coordinate whose posterior stays
at the prior, std near 1 and spread near 0, carries nothing). Used for round 4 of
docs/sprites.md.

WEIGHTS is an experiment checkpoint (``MODE-VARIANT-sSEED.pt``: scenes and model from the
configuration it carries) or a state dict saved by ``bench.sprites_explore --save-model`` (with
``--record NAME.json``, the run's record, for its configuration).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
import torch

from numerics.core.io import load_checkpoint
from numerics.sprites.data import Scenes, SpritesConfig, render
from numerics.sprites.metrics import foreground_ari_per_image
from numerics.sprites.models import ModelConfig, SlotVAE, make_model
from numerics.sprites.training import scene_jacobians


def _dilate(mask: np.ndarray) -> np.ndarray:
    """4-neighbourhood dilation of a boolean (H, W) mask."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def scene_kinds(scenes: Scenes) -> dict[str, np.ndarray]:
    """Boolean (n,) arrays: ``three`` (3 objects present), ``overlap`` (a pixel covered by two
    objects' masks), ``touch`` (two visible objects overlap or are 4-neighbours)."""
    seg = scenes.segmentation.numpy()
    touch = []
    for i in range(len(scenes)):
        visible = [seg[i] == o + 1 for o in range(scenes.masks.shape[1])
                   if (seg[i] == o + 1).any()]
        touch.append(any((_dilate(a) & b).any() for j, a in enumerate(visible)
                         for b in visible[j + 1:]))
    return {"three": (scenes.present.sum(dim=1) == 3).numpy(),
            "overlap": (scenes.masks.flatten(2).sum(dim=1) >= 2).any(dim=1).numpy(),
            "touch": np.array(touch, dtype=bool)}


def slot_usage(pred: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """From the slot argmax ``pred`` (n, P) and labels ``seg`` (n, P): merged (n,) bool, slots
    in use on the foreground (n,) and the purity of every visible object."""
    merged, used, purity = [], [], []
    for p, s in zip(pred, seg, strict=True):
        majority = []
        for label in np.unique(s[s > 0]):
            values, counts = np.unique(p[s == label], return_counts=True)
            majority.append(values[counts.argmax()])
            purity.append(counts.max() / counts.sum())
        merged.append(len(set(majority)) < len(majority))
        used.append(len(np.unique(p[s > 0])))
    return np.array(merged), np.array(used), purity


def usual_slots(pred: np.ndarray, seg: np.ndarray, slots: int) -> tuple[np.ndarray, float]:
    """Slots as regions: from the slot argmax ``pred`` (n, P) and labels ``seg`` (n, P), each
    pixel's usual slot (the one it is assigned to in most scenes; ties to the lower index),
    (P,), and the share of all foreground pixels (seg > 0) that sit on their pixel's usual
    slot (1 for slots that are fixed regions of the canvas; about 1/K for slots that ignore
    position)."""
    counts = np.stack([(pred == k).sum(axis=0) for k in range(slots)])
    usual = counts.argmax(axis=0)
    foreground = seg > 0
    return usual, float((pred == usual[None])[foreground].mean())


def diagnose(model: SlotVAE, data: SpritesConfig, n: int, seed: int) -> dict[str, object]:
    """The numbers of the module doc for ``model`` on ``n`` scenes of ``data`` (seed)."""
    scenes = render(data, n, seed)
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encoder(scenes.images)
    jac = scene_jacobians(model, mu, n)
    seg = scenes.segmentation.flatten(1)
    per_scene = foreground_ari_per_image(jac, seg)
    kinds = scene_kinds(scenes)
    pred, labels, slots = jac.argmax(-1).numpy(), seg.numpy(), jac.shape[-1]
    merged, used, purity = slot_usage(pred, labels)
    usual, agreement = usual_slots(pred, labels, slots)
    tiling = torch.nn.functional.one_hot(torch.as_tensor(usual), slots).to(jac.dtype)
    tiling_ari = foreground_ari_per_image(tiling.expand(n, -1, -1), seg)
    groups = {"all": np.ones(n, bool), "2 objects": ~kinds["three"], "3 objects": kinds["three"],
              "overlap": kinds["overlap"], "no overlap": ~kinds["overlap"],
              "touching": kinds["touch"], "apart": ~kinds["touch"], "merged": merged,
              "not merged": ~merged}
    std = (0.5 * logvar).exp()
    return {
        "j_ari": {name: {"scenes": int(m.sum()), "j_ari": float(np.nanmean(per_scene[m])),
                         "share_at_least_0.8": float((per_scene[m] >= 0.8).mean())}
                  for name, m in groups.items() if m.any()},
        "merged_share": float(merged.mean()),
        "usual_slot_agreement": agreement,
        "usual_tiling_j_ari": float(np.nanmean(tiling_ari)),
        "object_purity": float(np.mean(purity)),
        "slots_used": {f"{k} objects": {int(u): int(((used == u) & m).sum())
                                        for u in np.unique(used)}
                       for k, m in ((2, ~kinds["three"]), (3, kinds["three"]))},
        "posterior_std": std.mean(dim=(0, 1)).tolist(),
        "posterior_mean_spread": mu.std(dim=0).mean(dim=0).tolist(),
    }


def _load(args: argparse.Namespace) -> tuple[SlotVAE, SpritesConfig]:
    """The model and its scene configuration: from the experiment checkpoint's own fingerprint
    (the run it was trained for, whatever the preset says today), or from ``--record`` for an
    exploration state dict."""
    state = load_checkpoint(args.weights)
    if args.record:
        run = json.loads(open(args.record).read())["run"]
    elif isinstance(state, dict) and isinstance(state.get("fingerprint"), dict):
        run, state = state["fingerprint"], state["model"]
    else:
        raise SystemExit(f"{args.weights}: neither an experiment checkpoint with its "
                         "fingerprint nor given with --record")
    model = make_model(ModelConfig(**run["model"]))
    model.load_state_dict(state)
    return model, SpritesConfig(**run["data"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights")
    p.add_argument("--record", default=None, help="bench.sprites_explore record (NAME.json)")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--eval-seed", type=int, default=12345)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-distance", type=float, default=None,
                   help="score on scenes whose object centres lie at least this far apart "
                        "(default: the training scenes' own min_distance)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, data = _load(args)
    if args.min_distance is not None:
        data = replace(data, min_distance=args.min_distance)
    print(json.dumps(diagnose(model, data, args.n, args.eval_seed), indent=1))


if __name__ == "__main__":
    main()
