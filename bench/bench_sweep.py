"""Sweep throughput: the local process pool against serial runs, side by side in one run.

Two workloads, each run with ``workers=1`` (serial, in this process, all torch threads) and with
``workers=W`` (spawned pool, one math thread per worker), into fresh results files:

* ``train``: a grid of real training trials (``numerics.sweep.train_trial``: structured and MLP
  decoders, order 1, 2 scalar-slot pairs, ``--steps`` steps each), the workload of a sweep;
* ``noop``: trials that return at once, so the wall time is the per-trial overhead (the fsynced
  append, bookkeeping) plus, for the pool, worker start-up (spawn + imports).

``speedup`` = serial wall / pool wall. The serial run is also timed with one torch thread
(``serial_1t_s``, what each pool worker gets): ``pool_efficiency`` = serial_1t / (W * pool) is
the parallel efficiency of the pool itself, while ``speedup`` also counts what torch's own
intra-op threads already gave the serial run. The ``noop`` rows show how much of a short sweep
goes to starting workers (spawn + importing torch).

Run: ``.venv/bin/python -m bench.bench_sweep [--quick] [--workers W] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import print_table, write_results
from numerics.sweep import parse_spec, run_sweep


def noop_trial(config: dict[str, Any]) -> dict[str, Any]:
    """A trial that does no work: ``{"seed": seed}``."""
    return {"seed": config["seed"]}


def _train_spec(trials: int, steps: int) -> dict[str, Any]:
    return {
        "name": "bench_train",
        "base": {"slot_sizes": [1, 1], "outputs": 16, "order": 1, "steps": steps,
                 "batch_size": 128, "n_train": 1024, "n_eval": 300, "device": "cpu"},
        "grid": {"decoder": ["structured", "mlp"], "seed": list(range(max(1, trials // 2)))},
    }


def _noop_spec(trials: int) -> dict[str, Any]:
    return {"name": "bench_noop", "base": {}, "grid": {"seed": list(range(trials))}}


def _timed(spec: dict[str, Any], workers: int, path: Path, trial_fn: Any = None
           ) -> tuple[float, int]:
    """Wall seconds and trial count of the whole sweep into the fresh results file ``path``."""
    start = time.perf_counter()
    result = run_sweep(parse_spec(spec), path, workers=workers, trial_fn=trial_fn,
                       progress=False)
    wall = time.perf_counter() - start
    if result.failed or result.ran != result.total:
        raise RuntimeError(f"sweep {spec['name']} with {workers} workers: {result.failed} failed,"
                           f" {result.ran} of {result.total} ran")
    return wall, result.total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 training trials, 100 steps")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--noop-trials", type=int, default=200)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    trials, steps = (4, 100) if args.quick else (args.trials, args.steps)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, spec, fn in (("train", _train_spec(trials, steps), None),
                                ("noop", _noop_spec(args.noop_trials), noop_trial)):
            serial, n = _timed(spec, 1, folder / f"{label}-serial.jsonl", fn)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                serial_1t, _ = _timed(spec, 1, folder / f"{label}-serial-1t.jsonl", fn)
            finally:
                torch.set_num_threads(threads)
            pooled, _ = _timed(spec, args.workers, folder / f"{label}-pool.jsonl", fn)
            rows.append({"workload": label, "trials": n, "workers": args.workers,
                         "serial_threads": threads, "serial_s": serial,
                         "serial_1t_s": serial_1t, "pool_s": pooled,
                         "pool_per_trial_s": pooled / n, "speedup": serial / pooled,
                         "pool_efficiency": serial_1t / (args.workers * pooled)})
            print_table(rows[-1:])
    print()
    print_table(rows)
    write_results("bench_sweep", rows, args.out, steps=steps, cpu_count=os.cpu_count(),
                  note="speedup = serial wall / pool wall, same trials, fresh results files")


if __name__ == "__main__":
    main()
