"""Summaries of a sweep: mean and standard deviation of each metric over seeds, per group."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONDict, JSONValue, dumps
from numerics.sweep.spec import canonical_json

__all__ = ["KEY_METRICS", "SEED_AXIS", "format_summary", "summarize"]

SEED_AXIS = "seed"


def _number(value: object) -> float | None:
    """A metric's value as a float, or None when it is not a number. ``null`` is an undefined
    metric (NaN: numerics.core.jsonio writes non-finite numbers as null); the strings "nan", "inf"
    and "-inf" are how results files of earlier versions wrote them."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def summarize(records: Sequence[Mapping[str, JSONValue]], axes: Sequence[str],
              metrics: Sequence[str] | None = None) -> list[JSONDict]:
    """Mean and sample standard deviation of numeric metrics over seeds, per group.

    Groups are the distinct values of the grid axes other than ``seed`` (in first-seen order);
    only records with status ``ok`` count. Each row: the group's axis values, ``n`` (trials),
    and for each metric m: ``m`` (mean) and ``m_std`` (standard deviation with n - 1 in the
    denominator; 0.0 for a single trial). ``metrics`` defaults to every numeric result key.
    """
    group_axes = [a for a in axes if a != SEED_AXIS]
    groups: dict[str, JSONDict] = {}
    for record in records:
        if record.get("status") != "ok":
            continue
        key_values = {a: record["axes"].get(a) for a in group_axes}
        key = canonical_json(key_values)
        group = groups.setdefault(key, {"axes": key_values, "values": {}, "n": 0})
        group["n"] += 1
        for name, value in (record.get("result") or {}).items():
            number = _number(value)
            if number is not None and (metrics is None or name in metrics):
                group["values"].setdefault(name, []).append(number)
    rows = []
    for group in groups.values():
        row: JSONDict = {**group["axes"], "n": group["n"]}
        names = metrics if metrics is not None else sorted(group["values"])
        for name in names:
            values = [v for v in group["values"].get(name, []) if math.isfinite(v)]
            row[name] = statistics.fmean(values) if values else math.nan
            row[f"{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            if len(values) < len(group["values"].get(name, [])):
                row[f"{name}_n"] = len(values)  # some were NaN: the metric is undefined there
        rows.append(row)
    return rows


KEY_METRICS = ("sis", "matched_r2", "recon_mse", "ood_recon_mse", "seconds")


def format_summary(rows: Sequence[Mapping[str, JSONValue]], axes: Sequence[str],
                   metrics: Sequence[str] | None = None) -> str:
    """Plain-text table of :func:`summarize` rows, metrics shown as ``mean ± std``.

    ``metrics`` defaults to those of :data:`KEY_METRICS` present in the rows, else all.
    """
    if not rows:
        return "(no completed trials)"
    group_axes = [a for a in axes if a != SEED_AXIS]
    present = [k for k in rows[0] if k not in group_axes and k != "n"
               and not k.endswith(("_std", "_n"))]
    if metrics is None:
        metrics = [k for k in KEY_METRICS if k in present] or present
    unknown = [m for m in metrics if m not in present]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; available: "
                          f"{', '.join(present)}")
    header = [*group_axes, "n", *metrics]

    def cell(row: Mapping[str, JSONValue], key: str) -> str:
        if key in metrics:
            return f"{row[key]:.4g} ± {row[f'{key}_std']:.2g}"
        return dumps(row[key]) if not isinstance(row[key], str) else row[key]

    table = [header, *[[cell(r, k) for k in header] for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
