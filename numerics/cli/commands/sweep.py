"""``iasym sweep``: run a grid of training trials resumably, on all local cores or on Ray.

Example::

    iasym sweep examples/sweep_small.yaml --results runs/small.jsonl
    iasym sweep spec.yaml --backend ray --ray-address auto --json

Results go to one JSON Lines file (one record per finished trial). Re-running the same command
skips completed trials, so an interrupted sweep resumes where it stopped; failed trials are
run again only with ``--retry-failed``. The library call is :func:`numerics.sweep.run_sweep`.
"""

from __future__ import annotations

import argparse

from numerics.cli.types import positive_int

NAME = "sweep"
HELP = ("run a grid of trials (orders x decoders x seeds x supports ...) from a YAML spec,"
        " resumably, locally on all cores or on a Ray cluster")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: SPEC.yaml, --results, --backend, --workers, --ray-address, --retry-failed, ..."""
    parser.add_argument("spec", metavar="SPEC.yaml", help="sweep spec: base settings and grid")
    parser.add_argument("--results", default=None, metavar="PATH",
                        help="results file (JSON Lines); default: the spec's 'results' key, "
                             "else <name>.results.jsonl in the working directory")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray tasks")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="local: worker processes (default: all cores; 1 runs in-process);"
                             " ray: CPUs of a newly started local Ray instance")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="address of an existing Ray cluster (default: RAY_ADDRESS, else a "
                             "new local instance)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run trials recorded with status 'error' again")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="hide the progress bar")
    parser.add_argument("--metrics", default=None, metavar="NAME[,NAME...]",
                        help="metrics shown in the summary table (default: sis, matched_r2, "
                             "recon_mse, ood_recon_mse, seconds when present)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Load the spec, run the pending trials, print the summary; exit 1 if any trial failed."""
    from numerics.core.jsonio import dumps
    from numerics.sweep import format_summary, load_spec, run_sweep, trial_metrics

    spec = load_spec(args.spec)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    known = trial_metrics() if metrics is not None else None
    if known is not None and metrics is not None:  # checked before any trial runs
        from numerics.core.errors import ConfigError

        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; available: "
                              f"{', '.join(sorted(known))}")
    result = run_sweep(spec, args.results, backend=args.backend, workers=args.workers,
                       retry_failed=args.retry_failed, ray_address=args.ray_address,
                       progress=args.progress and not args.quiet)
    if args.json:
        print(dumps(result.to_dict()))
    else:
        print(f"sweep {spec.name}: {result.total} trials, {result.ran} run now, "
              f"{result.skipped} already done, {result.failed} failed -> {result.results_path}")
        print(format_summary(result.summary, spec.axes, metrics))
        if result.failed:
            print("failed trials are listed with their error in the results file; "
                  "re-run with --retry-failed to run them again")
    return 1 if result.failed else 0
