"""Wall time of whole ``iasym train`` calls: the default search against one initialization.

Each cell (generator order, slot layout, outputs) is run twice as a separate process, side by
side: ``single`` = ``--candidates 1 --keep 1 --restarts 0 --assignments 1`` (one
initialization trained for the whole schedule: the cost of the pre-search pipeline) and
``default`` (8 candidates explored together for 10 % of the schedule, the best ones regrouped
by numerics.synthetic.block_assignment (decoder order <= 1) or unmixed by
numerics.synthetic.unmixing (order >= 2, with the late check at 40 % of the schedule) and finished,
restarts within the time budget). Reported: wall seconds of the whole command (start-up, data,
training, metrics), the training seconds inside it, the verdict and SIS of each, and the ratio
default / single. Structured decoder of the generator's order, every other option at its default; 2
torch threads (the CLI's cap).

Run: ``.venv/bin/python -m bench.bench_train_call [--quick] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import print_table, write_results

CELLS = (
    (0, "3x2", 24), (1, "3x2", 24), (2, "3x2", 40), (3, "3x2", None), (1, "2x3", 40),
    (1, "4x2", None), (2, "2,3,1", None), (3, "4x2", None), (3, "2,3,1", None),
)
QUICK_CELLS = CELLS[1:3]
MODES = {"single": ["--candidates", "1", "--keep", "1", "--restarts", "0", "--assignments", "1"],
         "default": []}


def _call(order: int, slots: str, outputs: int | None, seed: int, extra: list[str]
          ) -> dict[str, object]:
    cmd = [sys.executable, "-m", "numerics", "train", "--order", str(order), "--slots",
           slots, "--seed", str(seed), "--json", *extra]
    if outputs is not None:
        cmd += ["--outputs", str(outputs)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "train_s": sum(r["seconds"] for r in result["selection"]["rounds"]),
            "verdict": result["verdict"]["verdict"], "sis": result["sis"],
            "restarts": result["restarts"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cells only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = []
    for order, slots, outputs in (QUICK_CELLS if args.quick else CELLS):
        runs = {mode: _call(order, slots, outputs, args.seed, extra)
                for mode, extra in MODES.items()}
        row: dict[str, object] = {"order": order, "slots": slots,
                                  "outputs": outputs if outputs is not None else "auto"}
        for mode, r in runs.items():
            row[f"{mode}_wall_s"] = r["wall_s"]
            row[f"{mode}_train_s"] = r["train_s"]
            row[f"{mode}_verdict"] = r["verdict"]
            row[f"{mode}_sis"] = r["sis"]
        row["wall_ratio"] = runs["default"]["wall_s"] / runs["single"]["wall_s"]
        rows.append(row)
    print_table(rows)
    write_results("bench_train_call", rows, args.out, seed=args.seed,
                  note="one process per call, run one after another on an otherwise idle "
                       "machine")


if __name__ == "__main__":
    main()
