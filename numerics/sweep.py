"""Sweeps: a grid of training trials run on all local cores or on a Ray cluster, resumably.

A sweep spec (YAML) holds a ``base`` configuration (fields of
:class:`numerics.training.TrainConfig`) and ``grid`` axes, each a non-empty list of values::

    name: small
    base: {slot_sizes: [2, 2], outputs: 12, steps: 300}
    grid:
      order: [0, 1, 2]
      decoder: [structured, mlp]
      seed: [0, 1, 2]
      support: [full, band]

:func:`expand` turns it into the Cartesian product of the axes (in the order written), one
:class:`Trial` per grid point. A trial's id is a hash of the canonical JSON of its full
configuration, so a re-run recognises the trials that are already done whatever their position.

:func:`run_sweep` appends one JSON line per finished trial to ONE results file. Each line is
written by the parent process only, with a single ``os.write`` on an ``O_APPEND`` descriptor
followed by ``fsync``; a crash can at worst leave an unterminated last line, which the reader
ignores and the next run truncates. Completed trials are skipped on a re-run; failed trials are
recorded with ``status: "error"`` and the message, and run again only with ``retry_failed``.
An advisory lock (``flock``) on the results file stops a second sweep from writing to it at the
same time.

Backends: ``local`` spawns a process pool (a script calling :func:`run_sweep` needs an
``if __name__ == "__main__":`` guard, as for any spawn pool); ``ray`` submits one task per trial.
Ray 2.x has no ``local_mode`` any more: without a cluster address, a single-node Ray instance is
started on this machine (this is what the test suite uses) and shut down at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import pickle
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numerics.errors import ConfigError, DataError
from theory.errors import InteractionAsymmetryError

TrialFn = Callable[[dict[str, Any]], Any]

SPEC_KEYS = ("name", "description", "base", "grid", "results")
BACKENDS = ("local", "ray")
SEED_AXIS = "seed"


class SweepError(InteractionAsymmetryError, RuntimeError):
    """A sweep cannot go on: its results file is busy or a worker process died."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``base`` settings shared by every trial and ``grid`` axes.

    ``grid`` maps an axis (a configuration key) to its non-empty list of values; the trials are
    the Cartesian product of the axes in the order given. ``results`` is an optional default
    results path (relative to the working directory).
    """

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
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
    config: dict[str, Any]
    axes: dict[str, Any]


@dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`.

    ``records`` holds the latest record of every trial of the spec that has one (in grid
    order); ``summary`` the mean and standard deviation of each numeric metric over seeds,
    grouped by the other axes (see :func:`summarize`).
    """

    results_path: str
    total: int
    ran: int
    skipped: int
    failed: int
    missing: int
    seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (records left out: they are in the results file)."""
        data = dataclasses.asdict(self)
        data.pop("records")
        return _jsonable(data)


# ----------------------------------------------------------------------------- spec parsing

def _check_value(where: str, value: Any) -> None:
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


def _check_key(where: str, key: Any) -> str:
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
        canon = [_canonical(v) for v in values]
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


def check_against(spec: SweepSpec, config_type: type) -> SweepSpec:
    """Check ``spec``'s keys and simple value types against the fields of a config dataclass.

    Unknown keys raise :class:`ConfigError` listing the valid fields. A field whose default is
    a bool/int/float/str must get a value of that type (an int is accepted, and converted, for a
    float field). Returns a spec with those conversions applied, so that trial ids are canonical.
    """
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    unknown = sorted(k for k in (*spec.base, *spec.grid) if k not in fields)
    if unknown:
        raise ConfigError(f"sweep {spec.name!r}: unknown setting(s) {', '.join(unknown)} for "
                          f"{config_type.__name__}; valid: {', '.join(sorted(fields))}")

    def convert(where: str, key: str, value: Any) -> Any:
        default = fields[key].default
        if default is dataclasses.MISSING or default is None or value is None:
            return value
        kind = type(default)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
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


# ----------------------------------------------------------------------------- expansion

def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def trial_id(config: Mapping[str, Any]) -> str:
    """Stable id of a trial: first 16 hex digits of sha256 of its canonical JSON config."""
    return hashlib.sha256(_canonical(dict(config)).encode()).hexdigest()[:16]


def expand(spec: SweepSpec) -> list[Trial]:
    """All trials of ``spec``: the Cartesian product of the grid axes, first axis slowest."""
    trials = []
    for index, values in enumerate(itertools.product(*spec.grid.values())):
        axes = dict(zip(spec.grid, values, strict=True))
        config = {**spec.base, **axes}
        trials.append(Trial(id=trial_id(config), index=index, config=config, axes=axes))
    return trials


# ----------------------------------------------------------------------------- results file

def _jsonable(obj: Any) -> Any:
    """Plain JSON types: non-finite floats become strings, tensors/arrays become lists."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return _jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if hasattr(obj, "tolist"):  # numpy arrays/scalars, torch tensors
        return _jsonable(obj.tolist())
    return str(obj)


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a results file (JSON Lines) in the order written.

    A last line without its terminating newline is the trace of a write interrupted by a crash:
    it is ignored (its trial counts as not done). Any other unreadable line raises
    :class:`DataError` with its line number. A missing file has no records.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, _torn = lines[:-1], lines[-1]
    records = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}:{number}: not a JSON record ({err}); the results file was "
                            "edited or written by another program") from err
        if not isinstance(record, dict) or "id" not in record or "status" not in record:
            raise DataError(f"{path}:{number}: a record needs at least 'id' and 'status'")
        records.append(record)
    return records


def latest_records(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Map trial id -> its last record (a retried trial's newer record wins)."""
    return {record["id"]: dict(record) for record in records}


def _drop_torn_tail(fd: int) -> int:
    """Truncate an unterminated last line (left by a crash mid-write); returns bytes dropped."""
    size = os.lseek(fd, 0, os.SEEK_END)
    end = size
    chunk = 4096
    while end > 0:
        start = max(0, end - chunk)
        block = os.pread(fd, end - start, start)
        if end == size and block.endswith(b"\n"):
            return 0
        cut = block.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        end = start
    else:
        keep = 0
    if keep < size:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    return size - keep


class _ResultsFile:
    """The results file opened for appending, locked against a second concurrent sweep."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                os.close(self.fd)
                raise SweepError(f"results file {path} is being written by another running "
                                 "sweep; wait for it or choose another --results path") from err
        self.dropped = _drop_torn_tail(self.fd)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line with a single write on the O_APPEND descriptor, fsync."""
        line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
        written = os.write(self.fd, line)
        if written != len(line):
            raise SweepError(f"short write to {self.path} ({written} of {len(line)} bytes); "
                             "is the disk full?")
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


# ----------------------------------------------------------------------------- execution

NOT_SWEEPABLE = {
    "checkpoint": "every trial would share one checkpoint file; sweeps resume per trial",
    "sympy_generator": ("a sympy object cannot be written in YAML; `generator: sympy` builds "
                        "a seeded one from order, slot_sizes, outputs and seed"),
}


def train_config(config: Mapping[str, Any]) -> Any:
    """The validated :class:`numerics.training.TrainConfig` of a trial's config.

    YAML lists become tuples for tuple fields (``slot_sizes``, ``latent_sizes``); the per-trial
    progress bar is off unless the config sets ``progress``. Raises :class:`ConfigError`.
    """
    from numerics.training import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for key, reason in NOT_SWEEPABLE.items():
        if key in config:
            raise ConfigError(f"{key!r} cannot be set in a sweep: {reason}")
    unknown = sorted(k for k in config if k not in fields)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} for TrainConfig; valid: "
                          f"{', '.join(sorted(fields))}")
    settings = {k: tuple(v) if isinstance(v, list) and str(fields[k].type).startswith("tuple")
                else v for k, v in config.items()}
    settings.setdefault("progress", False)
    train_cfg = TrainConfig(**settings)
    train_cfg.validate()
    return train_cfg


def train_trial(config: dict[str, Any]) -> dict[str, Any]:
    """Default trial: ``numerics.training.train(train_config(config)).to_dict()``."""
    from numerics.training import train

    return train(train_config(config)).to_dict()


_DEFAULT_TRIAL = train_trial


def trial_metrics() -> set[str] | None:
    """Names of the numeric metrics the default trial returns (the numeric fields of
    :class:`numerics.training.TrainResult`), or None when ``train_trial`` was replaced."""
    if train_trial is not _DEFAULT_TRIAL:
        return None
    import typing
    from dataclasses import fields

    from numerics.training import TrainResult

    hints = typing.get_type_hints(TrainResult)
    return {f.name for f in fields(TrainResult) if hints[f.name] in (float, int)}


def execute_trial(trial_fn: TrialFn, trial: Trial) -> dict[str, Any]:
    """Run one trial and return its record (never raises for an error inside the trial).

    Record: ``id, index, axes, config, status ("ok" | "error"), result, error, seconds,
    finished`` (UNIX time), ``host``, ``pid``.
    """
    start = time.perf_counter()
    result = error = trace = None
    try:
        output = trial_fn(dict(trial.config))
        result = _jsonable(output)
        if not isinstance(result, dict):
            raise DataError(f"trial function returned {type(output).__name__}; it must return "
                            "a mapping of metric names to values")
    except Exception as err:
        result = None
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"
        trace = traceback.format_exc(limit=-8)
    return {
        "id": trial.id,
        "index": trial.index,
        "axes": trial.axes,
        "config": trial.config,
        "status": "ok" if error is None else "error",
        "result": result,
        "error": error,
        "traceback": trace,
        "seconds": time.perf_counter() - start,
        "finished": time.time(),
        "host": os.uname().nodename if hasattr(os, "uname") else "",
        "pid": os.getpid(),
    }


def _init_worker() -> None:
    """Pool worker set-up: one math thread per worker (torch, OpenMP, MKL); the worker dies
    with the sweep process (Linux: PR_SET_PDEATHSIG), and ignores SIGINT so that Ctrl-C in the
    terminal lets running trials finish and be saved instead of killing them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() == 1:  # the parent died before the line above ran
            os._exit(1)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _run_serial(trials: Sequence[Trial], trial_fn: TrialFn) -> Iterator[dict[str, Any]]:
    for trial in trials:
        yield execute_trial(trial_fn, trial)


def _run_local(trials: Sequence[Trial], trial_fn: TrialFn, workers: int,
               salvage: Callable[[dict[str, Any]], None] | None = None
               ) -> Iterator[dict[str, Any]]:
    """Trials on a spawn process pool, records in completion order. When the consumer stops
    early (Ctrl-C, an error), running trials finish and ``salvage(record)`` receives every
    finished record that was not yielded, so nothing computed is lost."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    try:
        pickle.dumps(trial_fn)
    except Exception as err:
        raise ConfigError(f"trial function {trial_fn!r} cannot be sent to worker processes "
                          "(define it at module level in an importable module)") from err
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    futures = []
    delivered: set[int] = set()
    try:
        futures = [pool.submit(execute_trial, trial_fn, trial) for trial in trials]
        for future in as_completed(futures):
            try:
                record = future.result()
            except BrokenProcessPool as err:
                raise SweepError("a worker process died (out of memory or killed) while "
                                 "running trials; finished trials are saved, re-run the sweep "
                                 "to resume") from err
            delivered.add(id(future))
            yield record
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if salvage is not None:
            for future in futures:
                if id(future) not in delivered and future.done() and not future.cancelled() \
                        and future.exception() is None:
                    salvage(future.result())


def ray_resources(config: Mapping[str, Any], cluster_gpus: float) -> dict[str, float]:
    """Ray task resources of a trial: 1 CPU, plus 1 GPU when its device is ``cuda[:N]`` or
    ``auto`` and the cluster has GPUs. A ``cuda`` trial on a cluster without GPUs would wait
    forever, so it raises :class:`ConfigError` instead."""
    device = str(config.get("device", "auto")).strip().lower()
    if device.startswith("cuda") and not cluster_gpus:
        raise ConfigError(f"a trial asks for device {device!r} but the Ray cluster has no GPUs; "
                          "use device: auto or cpu")
    wants_gpu = device == "auto" or device.startswith("cuda")
    return {"num_cpus": 1, "num_gpus": 1 if wants_gpu and cluster_gpus else 0}


def _run_ray(trials: Sequence[Trial], trial_fn: TrialFn, workers: int | None,
             address: str | None) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError as err:
        raise ConfigError("the ray backend needs Ray: pip install 'interaction-asymmetry[ray]' "
                          "(or use --backend local)") from err
    started = False
    reaper = None
    if not ray.is_initialized():
        if not (address or os.environ.get("RAY_ADDRESS")):
            # a local cluster's node agents outlive a SIGKILLed sweep: a watcher kills them
            from numerics.reaper import start_reaper

            reaper = start_reaper()
        try:
            if address or os.environ.get("RAY_ADDRESS"):
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
            if reaper is not None:
                reaper.terminate()
                reaper.wait()
            where = address or os.environ.get("RAY_ADDRESS") or "a new local cluster"
            raise SweepError(f"cannot start or reach the Ray cluster at {where}: "
                             f"{' '.join(str(err).split())[:200]}") from err
        started = True
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(execute_trial)
        pending = {}
        resources = [ray_resources(trial.config, gpus) for trial in trials]
        for trial, needs in zip(trials, resources, strict=True):
            pending[remote.options(**needs).remote(trial_fn, trial)] = trial
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                trial = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as err:
                    raise SweepError(f"Ray lost trial {trial.id} ({type(err).__name__}); "
                                     "finished trials are saved, re-run the sweep to resume"
                                     ) from err
                yield record
    finally:
        if started:
            ray.shutdown()
        if reaper is not None:
            reaper.terminate()
            reaper.wait()


# ----------------------------------------------------------------------------- summary

def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def summarize(records: Sequence[Mapping[str, Any]], axes: Sequence[str],
              metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Mean and sample standard deviation of numeric metrics over seeds, per group.

    Groups are the distinct values of the grid axes other than ``seed`` (in first-seen order);
    only records with status ``ok`` count. Each row: the group's axis values, ``n`` (trials),
    and for each metric m: ``m`` (mean) and ``m_std`` (standard deviation with n - 1 in the
    denominator; 0.0 for a single trial). ``metrics`` defaults to every numeric result key.
    """
    group_axes = [a for a in axes if a != SEED_AXIS]
    groups: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("status") != "ok":
            continue
        key_values = {a: record["axes"].get(a) for a in group_axes}
        key = _canonical(key_values)
        group = groups.setdefault(key, {"axes": key_values, "values": {}, "n": 0})
        group["n"] += 1
        for name, value in (record.get("result") or {}).items():
            number = _number(value)
            if number is not None and (metrics is None or name in metrics):
                group["values"].setdefault(name, []).append(number)
    rows = []
    for group in groups.values():
        row: dict[str, Any] = {**group["axes"], "n": group["n"]}
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


def format_summary(rows: Sequence[Mapping[str, Any]], axes: Sequence[str],
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

    def cell(row: Mapping[str, Any], key: str) -> str:
        if key in metrics:
            return f"{row[key]:.4g} ± {row[f'{key}_std']:.2g}"
        return json.dumps(row[key]) if not isinstance(row[key], str) else row[key]

    table = [header, *[[cell(r, k) for k in header] for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- driver

def default_results_path(spec: SweepSpec) -> Path:
    """``spec.results`` if set, else ``<name>.results.jsonl`` in the working directory."""
    return Path(spec.results) if spec.results else Path(f"{spec.name}.results.jsonl")


def run_sweep(spec: SweepSpec, results_path: str | os.PathLike[str] | None = None,
              backend: str = "local", workers: int | None = None,
              trial_fn: TrialFn | None = None, *, retry_failed: bool = False,
              ray_address: str | None = None, progress: bool = True) -> SweepResult:
    """Run every trial of ``spec`` not yet completed in ``results_path``; return a summary.

    ``trial_fn(config: dict) -> mapping of metrics`` defaults to :func:`train_trial` (training
    with :class:`numerics.training.TrainConfig`, whose fields the spec is then checked
    against). ``backend="local"``: a spawn process pool of ``workers`` processes (default: all
    cores; 1 runs in this process), one math thread each. ``backend="ray"``: one Ray task per
    trial on the cluster at ``ray_address`` / ``RAY_ADDRESS`` or on a new local one with
    ``workers`` CPUs; trials whose device is ``cuda`` or ``auto`` ask Ray for one GPU when the
    cluster has GPUs. This process is the only writer of the results file.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SweepError("run_sweep was called again while a worker process was starting: the "
                         "script that calls it needs an `if __name__ == '__main__':` guard "
                         "(worker processes are spawned and re-import the main module)")
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if trial_fn is None:
        from numerics.training import TrainConfig

        spec = check_against(spec, TrainConfig)
        trial_fn = train_trial
        trials = expand(spec)
        for trial in trials:
            try:
                train_config(trial.config)
            except ConfigError as err:
                raise ConfigError(f"sweep {spec.name!r}, trial {trial.axes}: {err}") from err
    else:
        trials = expand(spec)
    path = Path(results_path) if results_path is not None else default_results_path(spec)
    from numerics.io import check_output_path

    check_output_path(path, "results file")
    start = time.perf_counter()
    results = _ResultsFile(path)
    try:
        if results.dropped:
            print(f"sweep: dropped an unfinished last line ({results.dropped} bytes) of {path} "
                  "left by an interrupted run", file=sys.stderr)
        latest = latest_records(read_results(path))

        def done(trial: Trial) -> bool:
            record = latest.get(trial.id)
            if record is None:
                return False
            return record["status"] == "ok" or not retry_failed

        pending = [t for t in trials if not done(t)]
        n_workers = workers or os.cpu_count() or 1
        if backend == "ray" and pending:
            records = _run_ray(pending, trial_fn, workers, ray_address)
        elif n_workers == 1 or len(pending) <= 1:
            records = _run_serial(pending, trial_fn)
        else:
            records = _run_local(pending, trial_fn, min(n_workers, len(pending)),
                                 salvage=results.append)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=f"sweep {spec.name}", unit="trial",
                   disable=None if progress and pending else True)  # None: TTY only
        with contextlib.closing(records), bar:
            for record in records:
                results.append(record)
                latest[record["id"]] = record
                bar.update(1)
                if record["status"] == "error":
                    bar.write(f"trial {record['id']} {record['axes']} failed: {record['error']}")
    finally:
        results.close()
    ordered = [latest[t.id] for t in trials if t.id in latest]
    return SweepResult(
        results_path=str(path),
        total=len(trials),
        ran=len(pending),
        skipped=len(trials) - len(pending),
        failed=sum(r["status"] == "error" for r in ordered),
        missing=len(trials) - len(ordered),
        seconds=time.perf_counter() - start,
        records=ordered,
        summary=summarize(ordered, spec.axes),
    )
