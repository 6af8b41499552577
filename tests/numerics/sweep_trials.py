"""Cheap trial functions for the sweep tests (importable by spawned workers and Ray tasks)."""

from __future__ import annotations

import os
import time
from typing import Any


def quadratic(config: dict[str, Any]) -> dict[str, Any]:
    """Deterministic metrics of the config after a short sleep (``sleep`` seconds, default 0).

    ``value = (order + 1) ** 2 + 10 * seed + len(decoder)``, ``half = value / 2``.
    """
    time.sleep(float(config.get("sleep", 0.0)))
    value = (config["order"] + 1) ** 2 + 10 * config["seed"] + len(config["decoder"])
    return {"value": value, "half": value / 2}


def fail_on_seed_one(config: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`quadratic` but raises for seed 1 unless ``SWEEP_TEST_HEALED`` is set."""
    if config["seed"] == 1 and not os.environ.get("SWEEP_TEST_HEALED"):
        raise RuntimeError(f"seed 1 diverged (order {config['order']})")
    return quadratic(config)
