"""JSON of results, with one policy for every file and every ``--json`` output (torch-free).

Policy: what is written is strict JSON (RFC 8259, which has no NaN or infinity): a non-finite
float (NaN, +inf, -inf: an undefined metric, e.g. an OOD/ID ratio without OOD samples) is
written as ``null``. Readers of results take ``null`` in a metric as NaN
(:func:`numerics.sweep.summarize`, :mod:`numerics.grid`).

:func:`plain` turns results into JSON types: mappings (keys as strings), lists and tuples,
objects with ``to_dict()``, dataclasses, and numpy or torch scalars and arrays (through their
``tolist()``); anything else is written as its ``str``. :func:`dumps` is ``json.dumps`` of
:func:`plain` that refuses non-finite numbers (``allow_nan=False``), so nothing slips past the
policy; :func:`numerics.core.io.atomic_write_json` writes files with it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["JSONDict", "JSONValue", "dumps", "plain"]

#: A value of the JSON data model as Python builds it (``json.loads``' result types: None,
#: bool, int, float, str, lists and str-keyed dicts of them). The alias names that intent; it
#: is not a checked recursive union, so that readers of records index them without narrowing.
JSONValue = Any
#: A JSON object: a record, a result, a saved config (``plain`` of a dataclass).
JSONDict = dict[str, JSONValue]


def plain(obj: object) -> JSONValue:
    """A copy of ``obj`` built from JSON types only; non-finite floats become ``None``."""
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars, torch tensors
        return plain(tolist())
    return str(obj)


def dumps(obj: object, **kwargs: Any) -> str:
    """Strict JSON text of :func:`plain` ``(obj)``; ``kwargs`` go to ``json.dumps`` (e.g.
    ``indent``, ``sort_keys``)."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)
