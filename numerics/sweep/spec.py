"""Sweep specs: a YAML grid of training settings, validated, expanded into trials.

A spec holds a ``base`` configuration and ``grid`` axes, each a non-empty list of values
(numerics.sweep shows one). :func:`expand` gives the Cartesian product of the axes in the order
written, one :class:`Trial` per grid point; a trial's id is a hash of the canonical JSON of its
full configuration (:func:`trial_id`), so a re-run recognises the trials that are already done
whatever their position.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONDict, JSONValue, dumps
from numerics.core.validation import is_int, is_real

__all__ = ["MAX_SPEC_BYTES", "SPEC_KEYS", "SweepSpec", "Trial", "canonical_json",
           "check_against", "expand", "load_spec", "parse_spec", "trial_id"]

SPEC_KEYS = ("name", "description", "base", "grid", "results")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``base`` settings shared by every trial and ``grid`` axes.

    ``grid`` maps an axis (a configuration key) to its non-empty list of values; the trials are
    the Cartesian product of the axes in the order given. ``results`` is an optional default
    results path (relative to the working directory).
    """

    name: str
    base: JSONDict
    grid: dict[str, list[JSONValue]]
    description: str = ""
    results: str | None = None

    @property
    def axes(self) -> tuple[str, ...]:
        """Grid axis names in order."""
        return tuple(self.grid)

    @property
    def size(self) -> int:
        """Number of trials, the product of the axis lengths."""
        return math.prod(len(values) for values in self.grid.values())


@dataclass(frozen=True)
class Trial:
    """One grid point: ``config`` = base updated with ``axes`` (this point's grid values)."""

    id: str
    index: int
    config: JSONDict
    axes: JSONDict


def _check_value(where: str, value: object) -> None:
    """Accept only JSON-like values (str, int, float, bool, None, lists, string-keyed maps)."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: non-finite number {value!r} is not allowed")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(f"{where}[{i}]", item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: keys must be strings, got {key!r}")
            _check_value(f"{where}.{key}", item)
        return
    raise ConfigError(f"{where}: unsupported value {value!r} of type {type(value).__name__}; "
                      "use numbers, strings, booleans, null, lists or mappings")


def _check_key(where: str, key: object) -> str:
    if not isinstance(key, str) or not key.isidentifier():
        raise ConfigError(f"{where}: key {key!r} is not a valid setting name")
    return key


def parse_spec(data: Any, source: str = "spec") -> SweepSpec:
    """Validate a mapping (e.g. from ``yaml.safe_load``) into a :class:`SweepSpec`.

    Raises :class:`ConfigError` naming the offending key for: unknown top-level keys, a missing
    or empty ``grid``, an axis that is not a non-empty list, a key both in ``base`` and
    ``grid``, duplicate values on an axis, or values that are not JSON-like.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a sweep spec must be a mapping with keys "
                          f"{', '.join(SPEC_KEYS)}; got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in SPEC_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(SPEC_KEYS)}")
    name = data.get("name", Path(source).stem if source != "spec" else "sweep")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{source}: name must be a non-empty string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{source}: description must be a string, got {description!r}")
    results = data.get("results")
    if results is not None and (not isinstance(results, str) or not results.strip()):
        raise ConfigError(f"{source}: results must be a path string, got {results!r}")

    base = data.get("base", {})
    if base is None:
        base = {}
    if not isinstance(base, dict):
        raise ConfigError(f"{source}: base must be a mapping of settings, got "
                          f"{type(base).__name__}")
    for key, value in base.items():
        _check_value(f"{source}: base.{_check_key(f'{source}: base', key)}", value)

    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{source}: grid must be a non-empty mapping of axis -> list of values"
                          f", got {grid!r}")
    for key, values in grid.items():
        _check_key(f"{source}: grid", key)
        if not isinstance(values, list):
            raise ConfigError(f"{source}: grid.{key} must be a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{source}: grid.{key} is empty; give at least one value")
        for i, value in enumerate(values):
            _check_value(f"{source}: grid.{key}[{i}]", value)
        canon = [canonical_json(v) for v in values]
        if len(set(canon)) != len(canon):
            raise ConfigError(f"{source}: grid.{key} lists a value twice: {values!r}")
        if key in base:
            raise ConfigError(f"{source}: {key!r} is both in base and in grid; keep one")
    return SweepSpec(name=name.strip(), base=dict(base), grid={k: list(v) for k, v in grid.items()},
                     description=description, results=results)


#: Largest sweep spec read (specs are a few hundred bytes; this bounds a wrong path).
MAX_SPEC_BYTES = 1_000_000


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a YAML sweep spec with ``yaml.safe_load`` and validate it (:func:`parse_spec`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep spec {path} does not exist")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise ConfigError(f"sweep spec {path} is larger than {MAX_SPEC_BYTES} bytes")
        data = yaml.safe_load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"sweep spec {path} is not UTF-8 text (a binary file?)") from None
    except OSError as err:
        raise ConfigError(f"cannot read sweep spec {path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())[:300]}"
                          ) from err
    return parse_spec(data, source=str(path))


def check_against(spec: SweepSpec, config: type | Mapping[str, object]) -> SweepSpec:
    """Check ``spec``'s keys and simple value types against a config's settings: the fields of
    a config dataclass, or a mapping of setting name -> default (the training sweeps pass
    ``TrainConfig().settings()``, whose engine settings are nested in the dataclass).

    Unknown keys raise :class:`ConfigError` listing the valid settings. A setting whose default
    is a bool/int/float/str must get a value of that type (an int is accepted, and converted,
    for a float setting). Returns a spec with those conversions applied, so that trial ids are
    canonical.
    """
    if isinstance(config, type):
        defaults: Mapping[str, object] = {f.name: f.default for f in dataclasses.fields(config)}
        what = config.__name__
    else:
        defaults, what = config, "the trial config"
    unknown = sorted(k for k in (*spec.base, *spec.grid) if k not in defaults)
    if unknown:
        raise ConfigError(f"sweep {spec.name!r}: unknown setting(s) {', '.join(unknown)} for "
                          f"{what}; valid: {', '.join(sorted(defaults))}")

    def convert(where: str, key: str, value: Any) -> Any:
        default = defaults[key]
        if default is dataclasses.MISSING or default is None or value is None:
            return value
        kind = type(default)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = is_int(value)
        elif kind is float:
            ok = is_real(value)
            value = float(value) if ok else value
        elif kind is str:
            ok = isinstance(value, str)
        else:
            return value
        if not ok:
            raise ConfigError(f"sweep {spec.name!r}: {where} must be of type {kind.__name__}, "
                              f"got {value!r} ({type(value).__name__})")
        return value

    base = {k: convert(f"base.{k}", k, v) for k, v in spec.base.items()}
    grid = {k: [convert(f"grid.{k}[{i}]", k, v) for i, v in enumerate(vs)]
            for k, vs in spec.grid.items()}
    return dataclasses.replace(spec, base=base, grid=grid)


def canonical_json(obj: object) -> str:
    """Sorted-key compact JSON of ``obj``: the form trial ids and groups hash."""
    return dumps(obj, sort_keys=True, separators=(",", ":"))


def trial_id(config: Mapping[str, JSONValue]) -> str:
    """Stable id of a trial: first 16 hex digits of sha256 of its canonical JSON config."""
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()[:16]


def expand(spec: SweepSpec) -> list[Trial]:
    """All trials of ``spec``: the Cartesian product of the grid axes, first axis slowest."""
    trials = []
    for index, values in enumerate(itertools.product(*spec.grid.values())):
        axes = dict(zip(spec.grid, values, strict=True))
        config = {**spec.base, **axes}
        trials.append(Trial(id=trial_id(config), index=index, config=config, axes=axes))
    return trials
