"""numerics.core.jsonio: one JSON policy (strict JSON, non-finite numbers as null) for every file
and every --json output."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from numerics.core.io import atomic_write_json
from numerics.core.jsonio import dumps, plain


@dataclass
class Point:
    x: float
    tags: tuple[str, ...]


class Result:
    def to_dict(self) -> dict[str, object]:
        return {"sis": math.nan, "ratio": -math.inf}


def test_plain_builds_json_types_and_nulls_non_finite_numbers() -> None:
    value = plain({"a": (1, 2.5, math.nan), 3: math.inf, "t": torch.tensor([1.0, math.nan]),
                   "n": np.float32(0.5), "i": np.int64(7), "p": Point(1.0, ("u",)),
                   "r": Result(), "none": None, "flag": True})
    assert value == {"a": [1, 2.5, None], "3": None, "t": [1.0, None], "n": 0.5, "i": 7,
                     "p": {"x": 1.0, "tags": ["u"]}, "r": {"sis": None, "ratio": None},
                     "none": None, "flag": True}
    assert type(value["i"]) is int and plain(torch.ones(2, requires_grad=True) * 2) == [2.0, 2.0]


def test_dumps_is_strict_json() -> None:
    text = dumps({"b": math.nan, "a": [math.inf, 1]}, sort_keys=True)
    assert text == '{"a": [null, 1], "b": null}'
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))


def test_files_follow_the_same_policy(tmp_path) -> None:
    atomic_write_json(tmp_path / "r.json", {"ood_ratio": math.nan, "sis": 0.5})
    assert json.loads((tmp_path / "r.json").read_text()) == {"ood_ratio": None, "sis": 0.5}
