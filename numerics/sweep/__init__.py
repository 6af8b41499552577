"""Sweeps: a grid of training trials run on all local cores or on a Ray cluster, resumably.

A sweep spec (YAML) holds a ``base`` configuration (fields of
:class:`numerics.synthetic.training.TrainConfig`) and ``grid`` axes, each a non-empty list of
values::

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

Modules: :mod:`numerics.sweep.spec` (parsing, expansion), :mod:`numerics.sweep.store` (the
results file), :mod:`numerics.sweep.backends` (local pool, Ray), :mod:`numerics.sweep.summary`;
this module is the driver.

Backends: ``local`` spawns a process pool (a script calling :func:`run_sweep` needs an
``if __name__ == "__main__":`` guard, as for any spawn pool); ``ray`` submits one task per trial.
Ray 2.x has no ``local_mode`` any more: without a cluster address, a single-node Ray instance is
started on this machine (this is what the test suite uses) and shut down at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from numerics.core.errors import ConfigError, SweepError
from numerics.core.jsonio import JSONDict, JSONValue, plain
from numerics.core.validation import positive_int
from numerics.sweep.backends import (
    BACKENDS,
    TrialFn,
    execute_trial,
    ray_resources,
    run_local,
    run_ray,
    run_serial,
)
from numerics.sweep.spec import (
    SPEC_KEYS,
    SweepSpec,
    Trial,
    check_against,
    expand,
    load_spec,
    parse_spec,
    trial_id,
)
from numerics.sweep.store import ResultsFile, latest_records, read_results
from numerics.sweep.summary import KEY_METRICS, SEED_AXIS, format_summary, summarize

if TYPE_CHECKING:
    from numerics.synthetic.training import TrainConfig

__all__ = ["BACKENDS", "KEY_METRICS", "NOT_SWEEPABLE", "SEED_AXIS", "SPEC_KEYS", "SweepError",
           "SweepResult", "SweepSpec", "Trial", "TrialFn", "check_against",
           "default_results_path", "execute_trial", "expand", "format_summary", "latest_records",
           "load_spec", "parse_spec", "ray_resources", "read_results", "run_sweep",
           "summarize", "train_config", "train_trial", "trial_id", "trial_metrics"]


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
    records: list[JSONDict] = field(default_factory=list)
    summary: list[JSONDict] = field(default_factory=list)

    def to_dict(self) -> JSONDict:
        """JSON-ready dictionary (records left out: they are in the results file)."""
        data = dataclasses.asdict(self)
        data.pop("records")
        return plain(data)


NOT_SWEEPABLE = {
    "checkpoint": "every trial would share one checkpoint file; sweeps resume per trial",
    "sympy_generator": ("a sympy object cannot be written in YAML; `generator: sympy` builds "
                        "a seeded one from order, slot_sizes, outputs and seed"),
}


def train_config(config: Mapping[str, JSONValue]) -> TrainConfig:
    """The validated :class:`numerics.synthetic.training.TrainConfig` of a trial's config: its
    flat settings (``TrainConfig.settings``: the fields and the engine's ``steps``, ``lr``,
    ``seed``, ...) read by ``TrainConfig.from_settings`` (YAML lists become tuples for
    ``slot_sizes`` / ``latent_sizes``); the per-trial progress bar is off unless the config sets
    ``progress``. Raises :class:`ConfigError`.
    """
    from numerics.synthetic.training import TrainConfig

    for key, reason in NOT_SWEEPABLE.items():
        if key in config:
            raise ConfigError(f"{key!r} cannot be set in a sweep: {reason}")
    train_cfg = TrainConfig.from_settings({"progress": False, **config})
    train_cfg.validate()
    return train_cfg


def train_trial(config: JSONDict) -> JSONDict:
    """Default trial: ``numerics.synthetic.training.train(train_config(config)).to_dict()``."""
    from numerics.synthetic.training import train

    return train(train_config(config)).to_dict()


_DEFAULT_TRIAL = train_trial


def trial_metrics() -> set[str] | None:
    """Names of the numeric metrics the default trial returns (the numeric fields of
    :class:`numerics.synthetic.training.TrainResult`), or None when ``train_trial`` was replaced."""
    if train_trial is not _DEFAULT_TRIAL:
        return None
    from dataclasses import fields

    from numerics.synthetic.training import TrainResult

    # the annotations are strings (from __future__ import annotations in
    # numerics.synthetic.training)
    return {f.name for f in fields(TrainResult) if f.type in ("float", "int")}


def default_results_path(spec: SweepSpec) -> Path:
    """``spec.results`` if set, else ``<name>.results.jsonl`` in the working directory."""
    return Path(spec.results) if spec.results else Path(f"{spec.name}.results.jsonl")


def run_sweep(spec: SweepSpec, results_path: str | os.PathLike[str] | None = None,
              backend: str = "local", workers: int | None = None,
              trial_fn: TrialFn | None = None, *, retry_failed: bool = False,
              ray_address: str | None = None, progress: bool = True) -> SweepResult:
    """Run every trial of ``spec`` not yet completed in ``results_path``; return a summary.

    ``trial_fn(config: dict) -> mapping of metrics`` defaults to :func:`train_trial` (training
    with :class:`numerics.synthetic.training.TrainConfig`, whose fields the spec is then checked
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
    if workers is not None:
        positive_int("workers", workers)
    if trial_fn is None:
        from numerics.synthetic.training import TrainConfig

        spec = check_against(spec, TrainConfig().settings())
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
    from numerics.core.io import check_output_path

    check_output_path(path, "results file")
    start = time.perf_counter()
    results = ResultsFile(path)
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
            records = run_ray(pending, trial_fn, workers, ray_address)
        elif n_workers == 1 or len(pending) <= 1:
            records = run_serial(pending, trial_fn)
        else:
            records = run_local(pending, trial_fn, min(n_workers, len(pending)),
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
