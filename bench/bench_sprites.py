"""Throughput of the sprites slot VAE: images/s for one forward + backward training step.

The regularized model (alpha > 0: the interaction penalty on the decoder attention is computed
and back-propagated) and the same model without the penalty (alpha = 0: the penalty is only
logged, not differentiated) are timed side by side, interleaved, in one run, at each size, on
the CPU and, when present, on CUDA, in float32 and, where the device has native bf16 kernels
(:func:`numerics.core.device.bf16_autocast`), under bf16 autocast (what ``amp`` trains with).
Reported: images/s of both, the penalty's overhead ratio (time with / time without) and, on
the bf16 rows, the speed-up over float32 measured in the same interleaved loop. On the float32
rows of the Transformer decoder the same model with its cross-attention computed as written
(:meth:`numerics.sprites.models.CrossAttentionBlock.direct`: query and output projections on
every pixel instead of folded onto the K slots) is timed in the same loop: ``fold_speedup`` =
its step time / the folded one's, both with the penalty. A step renders the preset's share of
the pixels (``pixel_fraction``), as in training.

With ``--experiment DIR`` (a folder written by ``iasym sprites experiment``) a second table
gives, per mode and variant, the time to objects: the first learning-curve evaluation with
J-ARI >= 0.8 (``steps_to_objects`` / ``seconds_to_objects`` of each run), as median over
seeds and the number of seeds that got there, and the runs that ended with J-ARI >= 0.8 on
the held-out test scenes with the median of their training times.

    .venv/bin/python -m bench.bench_sprites [--sizes smoke cpu] [--repeat 5] [--out PATH]
                                            [--experiment DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from bench.common import print_table, timeit, write_results
from numerics.core.device import bf16_autocast
from numerics.sprites.experiment import OBJECTS_J_ARI, PRESETS, group_runs, preset
from numerics.sprites.loss import LossConfig, slot_vae_loss
from numerics.sprites.models import CrossAttentionBlock, make_model

#: The report's explanation of the columns (``notes`` of the result file, rendered under the
#: tables by ``python -m bench``).
NOTES = (
    "`pixel_fraction`: the share of the pixels the decoder renders per step, as in training "
    "(`cpu`: three quarters of 28 x 28, about what a whole 24 x 24 image costs). "
    "`img_per_s_penalty` / `img_per_s_no_penalty`: images per second of one forward and "
    "backward pass with the interaction penalty differentiated (alpha > 0) and without it; "
    "`overhead_ratio`: the ratio of their step times. `img_per_s_direct` / `fold_speedup`: "
    "the same model with the decoder's cross-attention computed as written (query and output "
    "projections on every pixel, `CrossAttentionBlock.direct`) against the folded computation "
    "the models use (projections on the K slots), in the same interleaved loop. "
    "`speedup_vs_fp32`: bf16 autocast over float32, on devices with native bf16 only.",
    "`time_to_objects` (with `--experiment DIR`): per scene mode and variant of that "
    "experiment, the seeds whose learning curve (64 held-out curve scenes) reached J-ARI >= "
    "0.8, and the median steps and seconds of training to the first such evaluation over "
    "those seeds (empty when none did); `final_reached` / `final_median_s`: the runs whose "
    "final J-ARI on the 256 held-out test scenes is >= 0.8, and the median of their training "
    "times (learning-curve evaluations included); `train_s_median`: over all the runs.",
)


def _step_fn(size: str, alpha: float, device: torch.device, amp: bool, direct: bool = False):
    run = preset(size)
    model = make_model(run.model, seed=0).to(device).train()
    if direct:  # the reference: the decoder's cross-attention as written (same parameters)
        for block in model.decoder.modules():
            if isinstance(block, CrossAttentionBlock):
                block.forward = block.direct  # type: ignore[method-assign]
    loss_config = replace(run.loss, alpha=alpha, alpha_warmup=0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(run.batch_size, 3, run.model.size, run.model.size, generator=g).to(device)
    pixels = None  # the preset's pixel subsampling, as in training (a fixed random subset)
    if run.loss.pixel_fraction < 1:
        pixels = run.loss.pixel_subset(run.model.size ** 2, g).to(device)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss, _ = slot_vae_loss(model, x, 0, loss_config, pixels=pixels)
        loss.backward()

    return step, run.batch_size


def time_to_objects(rows: list[dict]) -> list[dict]:
    """Per (mode, variant): seeds; how many reached J-ARI >= 0.8 on the learning curve, and
    the median steps / seconds to get there over those that did (NaN if none); how many
    ended with J-ARI >= 0.8 on the held-out test scenes (``final_reached``), and the median
    training seconds of those runs (``final_median_s``: the time to a model that scores
    J-ARI >= 0.8, NaN if none)."""
    out = []
    for (mode, variant), group in group_runs(rows).items():
        # results.json stores NaN as null (numerics.core.jsonio): both mean "not reached"
        hit = [r for r in group if r.get("steps_to_objects") is not None
               and math.isfinite(float(r["steps_to_objects"]))]
        final = [r for r in group if r.get("j_ari") is not None
                 and float(r["j_ari"]) >= OBJECTS_J_ARI]
        out.append({
            "mode": mode, "variant": variant, "seeds": len(group), "reached": len(hit),
            "median_steps": statistics.median(r["steps_to_objects"] for r in hit) if hit
            else math.nan,
            "median_s": statistics.median(r["seconds_to_objects"] for r in hit) if hit
            else math.nan,
            "final_reached": len(final),
            "final_median_s": statistics.median(float(r["train_s"]) for r in final) if final
            else math.nan,
            "train_s_median": statistics.median(float(r["train_s"]) for r in group),
        })
    return out


def main(argv: list[str] | None = None) -> None:
    """Time both variants per size and device; print the table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["smoke", "cpu"],
                        choices=list(PRESETS), help="presets to time (paper: CUDA only)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--experiment", default=None, metavar="DIR",
                        help="also tabulate time to J-ARI 0.8 from DIR/results.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    rows = []
    for device in devices:
        sync = torch.cuda.synchronize if device.type == "cuda" else None
        for size in args.sizes:
            if size == "paper" and device.type == "cpu":
                continue
            precisions = [False, True] if bf16_autocast(device) else [False]
            steps = {(alpha, amp, False): _step_fn(size, alpha, device, amp)
                     for amp in precisions for alpha in (LossConfig().alpha, 0.0)}
            direct = preset(size).model.decoder == "transformer"
            if direct:
                steps[(LossConfig().alpha, False, True)] = _step_fn(
                    size, LossConfig().alpha, device, False, direct=True)
            batch = steps[(0.0, False, False)][1]
            times: dict[tuple[float, bool, bool], list[float]] = {key: [] for key in steps}
            for _ in range(args.repeat):  # interleaved, so that load changes hit all alike
                for key, (step, _) in steps.items():
                    times[key] += timeit(step, repeat=1, warmup=1, sync=sync)["times_s"]
            median = {key: statistics.median(t) for key, t in times.items()}
            for amp in precisions:
                with_p = median[(LossConfig().alpha, amp, False)]
                without = median[(0.0, amp, False)]
                reference = median.get((LossConfig().alpha, amp, True))
                rows.append({
                    "device": device.type, "size": size, "precision": "bf16" if amp else "fp32",
                    "pixel_fraction": preset(size).loss.pixel_fraction,
                    "batch": batch, "img_per_s_penalty": batch / with_p,
                    "img_per_s_no_penalty": batch / without,
                    "overhead_ratio": with_p / without,
                    "speedup_vs_fp32": median[(LossConfig().alpha, False, False)] / with_p,
                    "img_per_s_direct": batch / reference if reference else math.nan,
                    "fold_speedup": reference / with_p if reference else math.nan,
                    "step_s_penalty": with_p, "step_s_no_penalty": without,
                })
    print_table(rows)
    extra: dict = {}
    if args.experiment:
        results = json.loads((Path(args.experiment) / "results.json").read_text())
        extra["time_to_objects"] = time_to_objects(results["rows"])
        extra["experiment"] = str(args.experiment)
        print_table(extra["time_to_objects"])
    write_results("bench_sprites", rows, args.out, repeat=args.repeat, threads=args.threads,
                  **extra, notes=list(NOTES))


if __name__ == "__main__":
    main()
