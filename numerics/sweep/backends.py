"""Where the trials of a sweep run: in this process, on a spawn process pool, or on Ray.

Every backend yields one record per trial (:func:`execute_trial`: never raises for an error
inside the trial). ``local`` spawns a process pool (a script calling numerics.sweep.run_sweep
needs an ``if __name__ == "__main__":`` guard, as for any spawn pool): one math thread per
worker, workers die with the sweep. ``ray`` submits one task per trial; Ray 2.x has no
``local_mode`` any more, so without a cluster address a single-node Ray instance is started on
this machine (what the test suite uses) and shut down at the end, with numerics.core.reaper
watching for node agents that outlive a killed sweep.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from numerics.core.errors import ConfigError, DataError, SweepError
from numerics.core.jsonio import JSONDict, JSONValue, plain
from numerics.sweep.spec import Trial

__all__ = ["BACKENDS", "TrialFn", "execute_trial", "ray_resources", "run_local", "run_ray",
           "run_serial"]

TrialFn = Callable[[JSONDict], Any]
#: The records of finished trials as they come (closing it stops the workers).
Records = Generator[JSONDict, None, None]
BACKENDS = ("local", "ray")


def execute_trial(trial_fn: TrialFn, trial: Trial) -> JSONDict:
    """Run one trial and return its record (never raises for an error inside the trial).

    Record: ``id, index, axes, config, status ("ok" | "error"), result, error, seconds,
    finished`` (UNIX time), ``host``, ``pid``.
    """
    start = time.perf_counter()
    result = error = trace = None
    try:
        output = trial_fn(dict(trial.config))
        result = plain(output)
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


def run_serial(trials: Sequence[Trial], trial_fn: TrialFn) -> Records:
    for trial in trials:
        yield execute_trial(trial_fn, trial)


def run_local(trials: Sequence[Trial], trial_fn: TrialFn, workers: int,
               salvage: Callable[[JSONDict], None] | None = None
               ) -> Records:
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


def ray_resources(config: Mapping[str, JSONValue], cluster_gpus: float) -> dict[str, float]:
    """Ray task resources of a trial: 1 CPU, plus 1 GPU when its device is ``cuda[:N]`` or
    ``auto`` and the cluster has GPUs. A ``cuda`` trial on a cluster without GPUs would wait
    forever, so it raises :class:`ConfigError` instead."""
    device = str(config.get("device", "auto")).strip().lower()
    if device.startswith("cuda") and not cluster_gpus:
        raise ConfigError(f"a trial asks for device {device!r} but the Ray cluster has no GPUs; "
                          "use device: auto or cpu")
    wants_gpu = device == "auto" or device.startswith("cuda")
    return {"num_cpus": 1, "num_gpus": 1 if wants_gpu and cluster_gpus else 0}


def run_ray(trials: Sequence[Trial], trial_fn: TrialFn, workers: int | None,
             address: str | None) -> Records:
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
            from numerics.core.reaper import start_reaper

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
