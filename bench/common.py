"""Shared helpers for bench scripts: timing, machine info, table printing, atomic JSON output.

Every bench script measures the fast path and its reference side by side in one run and reports
ratios; results go to ``bench/results/<name>.json`` (override with ``--out``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from numerics.core.io import atomic_write

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WRITTEN: list[Path] = []
"""Every path :func:`write_results` wrote in this process, in order (the runner attributes a
benchmark's result files by the entries added during its run, not by file times, so files that
another process writes meanwhile are never mixed in)."""


def machine_info() -> dict[str, Any]:
    """Python, platform, CPU count, and torch/CUDA versions when torch is importable."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    return info


def timeit(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1,
           sync: Callable[[], None] | None = None) -> dict[str, float]:
    """Wall-clock seconds of ``fn()``: median, min and all repeats (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times}


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print rows (dicts) as an aligned plain-text table."""
    if not rows:
        print("(no rows)")
        return
    columns = list(columns or rows[0].keys())

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def write_results(name: str, rows: Sequence[dict[str, Any]], out: str | Path | None = None,
                  **extra: Any) -> Path:
    """Write ``{"bench": name, "machine": ..., "rows": rows, **extra}`` atomically as JSON."""
    path = Path(out) if out else RESULTS_DIR / f"{name}.json"
    payload = {"bench": name, "machine": machine_info(), "rows": list(rows), **extra}
    atomic_write(path, lambda h: json.dump(payload, h, indent=2, default=str))
    WRITTEN.append(path)
    print(f"wrote {path}")
    return path
