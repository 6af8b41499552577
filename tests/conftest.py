"""Shared test set-up: headless matplotlib, one torch thread per xdist worker."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        try:
            import torch
        except ImportError:  # theory tests run without torch
            return
        torch.set_num_threads(1)
