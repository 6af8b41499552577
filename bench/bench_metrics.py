"""Block R^2 (kernel) on 100k samples: torch Nystroem kernel ridge vs scikit-learn KernelRidge.

Data: 3 slots x 2 uniform latents; inferred slots are permuted slot-wise diffeomorphisms
("diffeo", R^2 near 1 on the diagonal) or additionally mix 40% of another slot into each
("mixed", intermediate R^2). For each scenario, timed side by side in one run:

* ``ours_100k``: numerics.synthetic.metrics.slot_identifiability(regressor="kernel") on all samples.
* ``ours_5k``: the same on the first 5k samples.
* ``sklearn_5k``: the same pipeline (split, training-split standardization, Hungarian, SIS) with
  exact ``sklearn.kernel_ridge.KernelRidge(alpha=1, kernel="rbf")`` as the regressor on the
  first 5k samples, bandwidth by the same median heuristic (gamma = 1 / (2 median^2)).

Reports wall-clock and process CPU seconds (``--threads``, default 1), matched R^2, SIS and
the largest |R^2| difference to sklearn. Run:
``.venv/bin/python -m bench.bench_metrics [--n 100000] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.kernel_ridge import KernelRidge

from bench.common import print_table, write_results
from numerics.synthetic.metrics import slot_identifiability


def _sklearn_kernel_ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
                          ) -> np.ndarray:
    probe = x_train[:1000]
    dist = np.sqrt(((probe[:, None, :] - probe[None, :, :]) ** 2).sum(-1))
    median = np.median(dist[np.triu_indices(len(probe), 1)])
    model = KernelRidge(alpha=1.0, kernel="rbf", gamma=1.0 / (2.0 * median**2))
    return model.fit(x_train, y_train).predict(x_test)


def _data(n: int, scenario: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, (n, 6))
    slots = [z[:, 0:2], z[:, 2:4], z[:, 4:6]]
    maps = [np.tanh(1.5 * slots[2]), np.sinh(slots[0]) + slots[0] ** 3, np.arctan(2 * slots[1])]
    if scenario == "mixed":
        maps = [maps[0] + 0.4 * slots[0], maps[1] + 0.4 * slots[1], maps[2] + 0.4 * slots[2]]
    return z, np.concatenate(maps, axis=1)


def _run(z: np.ndarray, zh: np.ndarray, regressor: object) -> tuple[object, float, float]:
    """Result, wall-clock seconds and process CPU seconds (robust to a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    res = slot_identifiability(z, zh, [2, 2, 2], regressor=regressor, device="cpu")
    return res, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    slot_identifiability(*_data(500, "diffeo", 0), [2, 2, 2], device="cpu")  # warm-up
    for scenario in ("diffeo", "mixed"):
        z, zh = _data(args.n, scenario, seed=0)
        big, t_big, c_big = _run(z, zh, "kernel")
        small, t_small, _ = _run(z[:args.small], zh[:args.small], "kernel")
        ref, t_ref, c_ref = _run(z[:args.small], zh[:args.small], _sklearn_kernel_ridge)
        rows.append({
            "scenario": scenario, "n": args.n, "ours_100k_s": t_big, "ours_100k_cpu_s": c_big,
            "ours_5k_s": t_small, "sklearn_5k_s": t_ref, "sklearn_5k_cpu_s": c_ref,
            "matched_r2_ours_100k": big.matched_r2,
            "matched_r2_ours_5k": small.matched_r2, "matched_r2_sklearn_5k": ref.matched_r2,
            "sis_ours_100k": big.sis, "sis_sklearn_5k": ref.sis,
            "max_abs_r2_diff_5k": float(np.abs(small.r2 - ref.r2).max()),
            "max_abs_r2_diff_100k_vs_sklearn_5k": float(np.abs(big.r2 - ref.r2).max()),
            "sklearn_5k_over_ours_100k": t_ref / t_big,
        })
        print_table(rows[-1:])
    write_results("bench_metrics", rows, args.out, slot_sizes=[2, 2, 2],
                  regressor="Nystroem RBF kernel ridge, 300 landmarks, alpha=1, median bandwidth")


if __name__ == "__main__":
    main()
