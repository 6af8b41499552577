"""Reliability of block-slot identification: ``iasym train`` over many seeds per cell.

Every run is one ``iasym train --order N --slots LAYOUT --seed S --json`` process at the
defaults (structured decoder of the generator's order, exact generator, L-shaped support), run
one after another so that wall times are not shared; the process's wall time is measured around
it. Each run is appended to ``OUT/runs.jsonl`` as soon as it ends (a rerun skips the
(layout, order, seed) triples already there, so an interrupted measurement resumes), and
``OUT/summary.json`` / ``OUT/summary.md`` are rewritten after every run: per cell the counts of
``identified`` / ``not-converged`` / ``mixed-but-reconstructs`` and candidate
counterexamples, the runs with SIS >= 0.9 *and* verdict ``identified`` (the issue's target),
restarts and late switches, the smallest SIS of an identified run and the median / max wall
seconds per call. Candidate counterexamples are saved under ``OUT/candidates`` (recheck one
with ``iasym recheck``). ``--time-budget`` and other ``iasym train`` options can be passed
after ``--``.

Run: ``.venv/bin/python -m bench.reliability --cells 4x2:3 2,3,1:3 --seeds 900-919
--out docs/reliability/current`` (about 25 s per run on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import machine_info
from numerics.core.io import atomic_write_text

#: The README's cells: (layout, generator order); the decoder is structured of the same order.
DEFAULT_CELLS = ("3x2:0", "4x2:0", "3x2:1", "2x3:1", "4x2:1", "3x2:2", "4x2:2", "2,3,1:2",
                 "2x2:3", "3x2:3", "2x3:3", "2,3,1:3", "4x2:3")
SIS_TARGET = 0.9


def parse_cell(text: str) -> tuple[str, int]:
    """``"4x2:3"`` -> ``("4x2", 3)``."""
    layout, _, order = text.rpartition(":")
    if not layout or not order.isdigit():
        raise argparse.ArgumentTypeError(f"a cell is LAYOUT:ORDER, e.g. 4x2:3, got {text!r}")
    return layout, int(order)


def parse_seeds(text: str) -> list[int]:
    """``"900-919"`` or ``"900,905"`` -> the seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise argparse.ArgumentTypeError(f"seeds are A-B or A,B,..., got {text!r}")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + ("+dirty" if dirty else "")


def run_one(layout: str, order: int, seed: int, extra: Sequence[str], candidates: Path
            ) -> dict[str, Any]:
    """One ``iasym train`` process (candidate counterexamples saved under ``candidates``):
    the fields of a runs.jsonl row."""
    cmd = [sys.executable, "-m", "numerics", "train", "--order", str(order), "--slots", layout,
           "--seed", str(seed), "--json", "--quiet", "--candidates-dir", str(candidates),
           *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {"layout": layout, "order": order, "seed": seed, "wall": wall,
                           "extra": list(extra)}
    if done.returncode != 0:
        row.update(verdict="error", error=done.stderr.strip()[-300:])
        return row
    result = json.loads(done.stdout.strip().splitlines()[-1])
    selection = result["selection"]
    row.update(
        verdict=result["verdict"]["verdict"], prediction=result["verdict"]["prediction"],
        candidate=result["verdict"]["candidate_counterexample"], sis=result["sis"],
        sis_true_latents=result["sis_true_latents"], off_block=result["off_block"],
        val_recon=result["val_recon"],
        restarts=result["restarts"], stopped=selection["stopped"],
        late_switched=[s for r in selection["rounds"] for s in r["late_switched"]],
        outputs=result["config"]["outputs"], train_s=result["seconds"],
        threads=result["threads"])
    return row


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per cell, in the order the cells first appear."""
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["layout"], row["order"]), []).append(row)
    out = []
    for (layout, order), runs in cells.items():
        verdicts = [r["verdict"] for r in runs]
        identified = [r for r in runs if r["verdict"] == "identified"]
        walls = [r["wall"] for r in runs]
        out.append({
            "layout": layout, "order": order, "runs": len(runs),
            "seeds": f"{min(r['seed'] for r in runs)}-{max(r['seed'] for r in runs)}",
            "identified": len(identified),
            "target": sum(r["verdict"] == "identified" and r["sis"] >= SIS_TARGET for r in runs),
            "not_converged": verdicts.count("not-converged"),
            "mixed": verdicts.count("mixed-but-reconstructs"),
            "errors": verdicts.count("error"),
            "candidates": sum(bool(r.get("candidate")) for r in runs),
            "restarts": sum(r.get("restarts", 0) for r in runs),
            "late_switches": sum(sum(r.get("late_switched", [])) for r in runs),
            "sis_min_identified": min((r["sis"] for r in identified), default=float("nan")),
            "wall_median": statistics.median(walls), "wall_max": max(walls),
        })
    return out


def markdown(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    lines = ["| layout | order | seeds | identified | SIS >= 0.9 and identified | "
             "not-converged | mixed-but-reconstructs | candidates | restarts | late switches "
             "| SIS of identified, min | wall s per call, median / max |",
             "|" + "---|" * 12]
    for c in summary:
        lines.append(
            f"| {c['layout']} | {c['order']} | {c['seeds']} | {c['identified']}/{c['runs']} | "
            f"{c['target']}/{c['runs']} | {c['not_converged']} | {c['mixed']} | "
            f"{c['candidates']} | {c['restarts']} | {c['late_switches']} | "
            f"{c['sis_min_identified']:.3f} | {c['wall_median']:.1f} / {c['wall_max']:.1f} |")
    runs = sum(c["runs"] for c in summary)
    lines.append("")
    lines.append(f"{runs} runs: {sum(c['identified'] for c in summary)} identified, "
                 f"{sum(c['target'] for c in summary)} identified with SIS >= 0.9, "
                 f"{sum(c['not_converged'] for c in summary)} not-converged, "
                 f"{sum(c['mixed'] for c in summary)} mixed-but-reconstructs, "
                 f"{sum(c['candidates'] for c in summary)} candidate counterexamples.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", type=parse_cell,
                        default=[parse_cell(c) for c in DEFAULT_CELLS],
                        help="LAYOUT:ORDER cells (default: the README's 13)")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("900-919"))
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["layout"], r["order"], r["seed"]) for r in rows}
    commit, machine = _commit(), machine_info()
    for layout, order in args.cells:
        for seed in args.seeds:
            if (layout, order, seed) in done:
                continue
            row = run_one(layout, order, seed, extra, out / "candidates")
            row["commit"] = commit
            rows.append(row)
            with log.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{layout} n={order} seed {seed}: {row['verdict']} "
                  f"SIS {row.get('sis', float('nan')):.3f} "
                  f"off-block {row.get('off_block', float('nan')):.3f} "
                  f"{row['wall']:.1f} s", flush=True)
            summary = summarize(rows)
            atomic_write_text(out / "summary.json", json.dumps(
                {"machine": machine, "cells": summary}, indent=1) + "\n")
            atomic_write_text(out / "summary.md", markdown(summary))


if __name__ == "__main__":
    main()
