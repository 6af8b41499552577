"""Run the benchmarks and write ``docs/benchmarks.md``: ``python -m bench [--only NAME] [--quick]``.

Every module ``bench/bench_<name>.py`` with a ``main(argv)`` is one benchmark. Each is run in
turn in this process (``--quick`` is passed to those whose source declares that option); the
JSON files it writes with ``bench.common.write_results`` during its run are collected. A manifest
(``bench/results/index.json``) keeps, per benchmark, the exact command, its status and result
files, so that ``--only`` re-runs one benchmark without dropping the others from the report.
``docs/benchmarks.md`` is then rewritten atomically from the manifest: per benchmark the command
that produced it, the machine it ran on and one table per result file. A benchmark that the
manifest does not list (``bench/results/`` is not in git, so a fresh clone has no manifest)
keeps its section of the existing report verbatim, so ``--only NAME`` never drops the others.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import common

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PREFIX = "bench_"


def discover(package: str = "bench") -> list[str]:
    """Names (without the ``bench_`` prefix) of the benchmark modules of ``package``, sorted."""
    pkg = importlib.import_module(package)
    return sorted(m.name[len(PREFIX):] for m in pkgutil.iter_modules(pkg.__path__)
                  if m.name.startswith(PREFIX))


def _supports_quick(module: ModuleType) -> bool:
    try:
        return '"--quick"' in inspect.getsource(module)
    except (OSError, TypeError):
        return False


def _call_main(main: Any, module_name: str, argv: list[str]) -> None:
    """``main(argv)``; a ``main()`` without parameters reads ``sys.argv``, set for the call."""
    if inspect.signature(main).parameters:
        main(argv)
        return
    saved = sys.argv
    sys.argv = [module_name, *argv]
    try:
        main()
    finally:
        sys.argv = saved


def run_one(name: str, quick: bool, package: str = "bench") -> dict[str, Any]:
    """Run ``package.bench_<name>.main`` and return its manifest entry.

    Entry: ``command`` (the equivalent shell command), ``status`` ("ok" | "failed"),
    ``error``, ``results`` (paths of the JSON files it wrote), ``seconds``, ``finished``.
    """
    module_name = f"{package}.{PREFIX}{name}"
    mark = len(common.WRITTEN)
    start = time.perf_counter()
    argv: list[str] = []
    error = None
    try:
        module = importlib.import_module(module_name)
        if quick and _supports_quick(module):
            argv.append("--quick")
        main = getattr(module, "main", None)
        if not callable(main):
            raise TypeError(f"{module_name} has no main(argv) function")
        _call_main(main, module_name, argv)
    except SystemExit as stop:
        if stop.code not in (None, 0):
            error = f"exited with status {stop.code}"
    except Exception as err:
        traceback.print_exc()
        error = f"{type(err).__name__}: {' '.join(str(err).split())}"
    written = list(dict.fromkeys(str(p) for p in common.WRITTEN[mark:]))
    return {
        "command": " ".join(["python", "-m", module_name, *argv]),
        "status": "ok" if error is None else "failed",
        "error": error,
        "results": written,
        "seconds": time.perf_counter() - start,
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows (dicts) as a GitHub markdown table; columns in order of first appearance."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _machine_line(machine: dict[str, Any]) -> str:
    parts = [f"Python {machine.get('python')}", str(machine.get("platform")),
             f"{machine.get('cpu_count')} CPUs ({machine.get('processor')})"]
    if machine.get("torch"):
        parts.append(f"torch {machine['torch']} ({machine.get('torch_threads')} threads)")
    parts.append(f"GPU: {machine.get('cuda') or 'none'}")
    return ", ".join(parts)


def report_sections(text: str) -> dict[str, str]:
    """The sections of a report written by :func:`render`: benchmark name -> its text, from its
    ``## NAME`` line up to the next such line (trailing blank lines dropped)."""
    sections: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "## "]:
        if line.startswith("## "):
            if name:
                sections[name] = "\n".join(lines).rstrip()
            name, lines = line[3:].strip(), [line]
        elif name is not None:
            lines.append(line)
    return sections


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(r, dict) for r in value)


def _result_body(payload: dict[str, Any]) -> list[str]:
    """Report lines of one result file: its scalar extras as ``- key: value``, its rows as a
    table, every extra that is a list of rows as a table of its own under ``key:``, then
    ``notes`` (a list of paragraphs, the benchmark's explanation of its columns) verbatim."""
    extra = {k: v for k, v in payload.items()
             if k not in ("bench", "machine", "rows", "notes")}
    lines = [f"- {k}: {_cell(v)}" for k, v in extra.items() if not _is_table(v)]
    lines += ["", markdown_table(payload.get("rows", []))]
    for key, value in extra.items():
        if _is_table(value):
            lines += ["", f"{key}:", "", markdown_table(value)]
    for paragraph in payload.get("notes", []):
        lines += ["", str(paragraph)]
    return lines


def render(manifest: dict[str, dict[str, Any]], kept: dict[str, str] | None = None) -> str:
    """The benchmarks report (markdown) from the manifest and the result files it lists;
    ``kept``: sections (name -> text, :func:`report_sections`) of benchmarks the manifest does
    not list, written verbatim in their place in the name order."""
    kept = {k: v for k, v in (kept or {}).items() if k not in manifest}
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (= `python -m bench`; add `--quick` for a short run and "
        "`--only NAME` for one benchmark); do not edit by hand. Each benchmark times the fast "
        "path and its reference side by side in one run; ratios compare the two within that "
        "run. Every section gives the exact command that produced it.",
    ]
    for name in sorted(set(manifest) | set(kept)):
        if name in kept:
            out += ["", kept[name]]
            continue
        entry = manifest[name]
        out += ["", f"## {name}", "", f"Command: `{entry['command']}` "
                f"({entry['finished']}, {entry['seconds']:.1f} s)"]
        if entry["status"] != "ok":
            out += ["", f"**Failed**: {entry['error']}"]
        for file in entry["results"]:
            path = Path(file)
            try:
                payload = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as err:
                out += ["", f"Result file `{path.name}` unreadable: {err}"]
                continue
            out += ["", f"Result `{path.name}` — machine: {_machine_line(payload['machine'])}"]
            out += _result_body(payload)
    return "\n".join(out) + "\n"


def run_benches(names: Sequence[str] | None = None, quick: bool = False,
                package: str = "bench", doc: str | Path = DOC) -> int:
    """Run the named benchmarks (default: all), update the manifest and rewrite ``doc``.

    Returns the exit status: 0 when every benchmark run now succeeded, 1 otherwise.
    """
    from numerics.core.io import atomic_write_json, atomic_write_text

    available = discover(package)
    selected = list(names) if names else available
    unknown = [n for n in selected if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}",
              file=sys.stderr)
        return 2
    index = Path(common.RESULTS_DIR) / "index.json"
    manifest = json.loads(index.read_text()) if index.is_file() else {}
    manifest = {k: v for k, v in manifest.items() if k in available}
    status = 0
    for name in selected:
        print(f"== {name}", flush=True)
        entry = run_one(name, quick, package)
        manifest[name] = entry
        atomic_write_json(index, manifest)
        if entry["status"] != "ok":
            print(f"== {name} failed: {entry['error']}", file=sys.stderr)
            status = 1
    previous = Path(doc).read_text() if Path(doc).is_file() else ""
    kept = {k: v for k, v in report_sections(previous).items() if k in available}
    atomic_write_text(doc, render(manifest, kept))
    print(f"wrote {doc}")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--only NAME`` (repeatable; ``order`` or ``bench_order``), ``--quick``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--quick", action="store_true", help="short runs (fewer repeats/cases)")
    parser.add_argument("--doc", default=str(DOC), help="report path (default docs/benchmarks.md)")
    args = parser.parse_args(argv)
    names = [n.removeprefix(PREFIX).removesuffix(".py") for n in args.only or []]
    return run_benches(names or None, quick=args.quick, doc=args.doc)


if __name__ == "__main__":
    sys.exit(main())
