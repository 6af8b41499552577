"""Sweeps: spec validation, expansion, resumability after SIGKILL, torn lines, failures, Ray."""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import ConfigError, DataError
from numerics.sweep import (
    SweepError,
    check_against,
    execute_trial,
    expand,
    format_summary,
    load_spec,
    parse_spec,
    read_results,
    run_sweep,
    summarize,
    trial_id,
)
from numerics.sweep.store import ResultsFile
from tests.numerics.sweep_trials import fail_on_seed_one, quadratic

ROOT = Path(__file__).resolve().parents[2]
GRID = {"order": [0, 1, 2], "decoder": ["structured", "mlp"], "seed": [0, 1]}


def small_spec(sleep: float = 0.0) -> dict:
    return {"name": "t", "base": {"sleep": sleep}, "grid": dict(GRID)}


def expected_result(config: dict) -> dict:
    """The clean, uninterrupted value of a trial (same function, no sleep)."""
    return quadratic({**config, "sleep": 0.0})


# ----------------------------------------------------------------------------- expansion

def test_expand_is_the_cartesian_product_first_axis_slowest():
    spec = parse_spec({"base": {"steps": 5}, "grid": {"order": [0, 1, 2], "seed": [7, 8]}})
    trials = expand(spec)
    assert spec.size == 6
    assert [t.axes for t in trials] == [
        {"order": o, "seed": s} for o in (0, 1, 2) for s in (7, 8)
    ]
    assert [t.index for t in trials] == list(range(6))
    assert trials[3].config == {"steps": 5, "order": 1, "seed": 8}
    assert len({t.id for t in trials}) == 6


def test_trial_id_is_a_hash_of_the_canonical_config():
    a = trial_id({"order": 1, "seed": 0, "slot_sizes": [2, 2]})
    assert a == trial_id({"slot_sizes": [2, 2], "seed": 0, "order": 1})
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != trial_id({"order": 1, "seed": 1, "slot_sizes": [2, 2]})
    assert a != trial_id({"order": 1, "seed": 0, "slot_sizes": [2, 3]})


@settings(max_examples=30, deadline=None)
@given(
    axes=st.dictionaries(
        st.sampled_from(["order", "seed", "decoder", "support", "steps"]),
        st.lists(st.integers(-3, 3), min_size=1, max_size=3, unique=True),
        min_size=1, max_size=4,
    ),
    data=st.data(),
)
def test_ids_do_not_depend_on_axis_order(axes, data):
    """Reordering the grid axes permutes the trials but keeps the set of ids (resumable)."""
    keys = data.draw(st.permutations(list(axes)))
    spec = parse_spec({"grid": axes})
    permuted = parse_spec({"grid": {k: axes[k] for k in keys}})
    trials = expand(spec)
    assert len(trials) == math.prod(len(v) for v in axes.values())
    assert len({t.id for t in trials}) == len(trials)
    assert {t.id for t in trials} == {t.id for t in expand(permuted)}


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "must be a mapping"),
    ({"grid": {"seed": [0]}, "grids": {}}, "unknown key(s) grids"),
    ({"base": {"steps": 3}}, "grid must be a non-empty mapping"),
    ({"grid": {}}, "grid must be a non-empty mapping"),
    ({"grid": {"seed": []}}, "grid.seed is empty"),
    ({"grid": {"seed": 3}}, "grid.seed must be a list"),
    ({"grid": {"seed": [0, 0]}}, "grid.seed lists a value twice"),
    ({"base": {"seed": 1}, "grid": {"seed": [0]}}, "'seed' is both in base and in grid"),
    ({"base": [1], "grid": {"seed": [0]}}, "base must be a mapping"),
    ({"base": {"lr": float("nan")}, "grid": {"seed": [0]}}, "base.lr: non-finite"),
    ({"base": {"bad key": 1}, "grid": {"seed": [0]}}, "not a valid setting name"),
    ({"name": "", "grid": {"seed": [0]}}, "name must be a non-empty string"),
    ({"results": 3, "grid": {"seed": [0]}}, "results must be a path string"),
])
def test_parse_spec_rejects_bad_specs_precisely(data, message):
    with pytest.raises(ConfigError) as info:
        parse_spec(data)
    assert message in str(info.value)


def test_load_spec_rejects_bad_yaml_and_non_json_values(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {seed: [0, 1}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_spec(bad)
    dated = tmp_path / "dated.yaml"
    dated.write_text("base: {start: 2024-01-01}\ngrid: {seed: [0]}\n")
    with pytest.raises(ConfigError, match=r"base.start: unsupported value .* type date"):
        load_spec(dated)
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")


@dataclasses.dataclass
class _Config:
    order: int = 1
    lr: float = 1e-3
    decoder: str = "structured"
    amp: bool = False
    slot_sizes: tuple = (2, 2)


def test_check_against_config_fields_and_types():
    spec = parse_spec({"base": {"lr": 1, "slot_sizes": [3, 3]}, "grid": {"order": [0, 2]}})
    checked = check_against(spec, _Config)
    assert checked.base["lr"] == 1.0 and isinstance(checked.base["lr"], float)
    assert trial_id({"lr": 1.0, "slot_sizes": [3, 3], "order": 0}) == expand(checked)[0].id
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) ordr .* valid: amp, decoder"):
        check_against(parse_spec({"grid": {"ordr": [0]}}), _Config)
    with pytest.raises(ConfigError, match=r"grid.order\[1\] must be of type int, got 'two'"):
        check_against(parse_spec({"grid": {"order": [1, "two"]}}), _Config)
    with pytest.raises(ConfigError, match=r"base\.amp must be of type bool, got 1"):
        check_against(parse_spec({"base": {"amp": 1}, "grid": {"order": [1]}}), _Config)
    with pytest.raises(ConfigError, match=r"base\.order must be of type int, got True"):
        check_against(parse_spec({"base": {"order": True}, "grid": {"lr": [0.1]}}), _Config)


def test_run_sweep_rejects_bad_arguments(tmp_path):
    spec = parse_spec(small_spec())
    with pytest.raises(ConfigError, match="backend must be one of local, ray"):
        run_sweep(spec, tmp_path / "r.jsonl", backend="dask", trial_fn=quadratic)
    with pytest.raises(ConfigError, match="workers must be a positive integer"):
        run_sweep(spec, tmp_path / "r.jsonl", workers=0, trial_fn=quadratic)
    with pytest.raises(ConfigError, match="cannot be sent to worker processes"):
        run_sweep(spec, tmp_path / "r.jsonl", workers=2, trial_fn=lambda c: {"v": 1},
                  progress=False)


# ----------------------------------------------------------------------------- resumability

KILLED_SWEEP = textwrap.dedent("""
    import json, sys
    from numerics.sweep import parse_spec, run_sweep
    from tests.numerics.sweep_trials import quadratic
    spec = parse_spec(json.loads(sys.argv[1]))
    run_sweep(spec, sys.argv[2], workers=2, trial_fn=quadratic, progress=False)
""")


def _complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sweep_killed_midway_resumes_without_losing_or_repeating_a_trial(tmp_path):
    """SIGKILL the whole sweep (parent and pool workers) mid-run, re-run, compare."""
    data = small_spec(sleep=0.3)
    spec = parse_spec(data)
    trials = expand(spec)
    path = tmp_path / "results.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SWEEP, json.dumps(data), str(path)],
                            cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _complete_lines(path) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.fail(f"the sweep ended before it was killed: {proc.stderr.read().decode()}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    before = path.read_bytes()
    n_before = len(read_results(path))
    assert 3 <= n_before < len(trials), "the sweep was not killed midway"

    result = run_sweep(spec, path, workers=1, trial_fn=quadratic, progress=False)

    after = path.read_bytes()
    assert after.startswith(before[: before.rfind(b"\n") + 1])
    records = read_results(path)
    counts = collections.Counter(r["id"] for r in records)
    assert set(counts) == {t.id for t in trials}
    assert set(counts.values()) == {1}, "a trial was recorded twice"
    assert all(r["status"] == "ok" for r in records)
    by_id = {r["id"]: r for r in records}
    for trial in trials:
        assert by_id[trial.id]["config"] == trial.config
        assert by_id[trial.id]["result"] == expected_result(trial.config)
    assert (result.ran, result.skipped, result.failed, result.missing) == (
        len(trials) - n_before, n_before, 0, 0)

    again = run_sweep(spec, path, workers=1, trial_fn=quadratic, progress=False)
    assert (again.ran, again.skipped) == (0, len(trials))
    assert path.read_bytes() == after


def test_torn_last_line_is_ignored_then_truncated_and_its_trial_rerun(tmp_path):
    spec = parse_spec(small_spec())
    trials = expand(spec)
    path = tmp_path / "results.jsonl"
    for trial in trials[:4]:
        line = json.dumps(execute_trial(quadratic, trial)) + "\n"
        with path.open("a") as handle:
            handle.write(line)
    torn = json.dumps(execute_trial(quadratic, trials[4]))[:37]
    with path.open("a") as handle:
        handle.write(torn)
    assert [r["id"] for r in read_results(path)] == [t.id for t in trials[:4]]

    result = run_sweep(spec, path, workers=1, trial_fn=quadratic, progress=False)
    assert (result.ran, result.skipped) == (len(trials) - 4, 4)
    assert torn.encode() not in path.read_bytes()
    records = read_results(path)
    assert sorted(r["id"] for r in records) == sorted(t.id for t in trials)
    assert {r["id"]: r["result"] for r in records} == {
        t.id: expected_result(t.config) for t in trials}


def test_a_corrupt_line_before_the_end_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a", "status": "ok"}\nnot json\n{"id": "b", "status": "ok"}\n')
    with pytest.raises(DataError, match=r"results.jsonl:2: not a JSON record"):
        read_results(path)
    path.write_text('{"status": "ok"}\n')
    with pytest.raises(DataError, match="needs at least 'id' and 'status'"):
        read_results(path)


def test_failed_trials_are_recorded_and_rerun_only_with_retry_failed(tmp_path, monkeypatch):
    spec = parse_spec(small_spec())
    path = tmp_path / "results.jsonl"
    first = run_sweep(spec, path, workers=1, trial_fn=fail_on_seed_one, progress=False)
    assert (first.ran, first.failed) == (12, 6)
    errors = [r for r in read_results(path) if r["status"] == "error"]
    assert {r["axes"]["seed"] for r in errors} == {1}
    assert all(r["error"].startswith("RuntimeError: seed 1 diverged") for r in errors)
    assert all(r["result"] is None and "Traceback" in r["traceback"] for r in errors)
    assert [row["n"] for row in first.summary] == [1] * 6

    monkeypatch.setenv("SWEEP_TEST_HEALED", "1")
    second = run_sweep(spec, path, workers=1, trial_fn=fail_on_seed_one, progress=False)
    assert (second.ran, second.failed) == (0, 6)
    third = run_sweep(spec, path, workers=1, trial_fn=fail_on_seed_one, progress=False,
                      retry_failed=True)
    assert (third.ran, third.skipped, third.failed) == (6, 6, 0)
    assert all(r["status"] == "ok" for r in third.records)
    assert len(read_results(path)) == 18  # 12 first records + 6 retried; the newest wins


def test_non_mapping_trial_output_is_an_error_record():
    trial = expand(parse_spec({"grid": {"seed": [0]}}))[0]
    record = execute_trial(len, trial)
    assert record["status"] == "error"
    assert "must return a mapping" in record["error"]


def test_results_file_is_locked_against_a_second_sweep(tmp_path):
    path = tmp_path / "results.jsonl"
    holder = ResultsFile(path)
    try:
        with pytest.raises(SweepError, match="being written by another running sweep"):
            run_sweep(parse_spec(small_spec()), path, workers=1, trial_fn=quadratic,
                      progress=False)
    finally:
        holder.close()


# ----------------------------------------------------------------------------- summary

def test_summary_mean_and_std_over_seeds_per_group():
    records = [
        {"status": "ok", "axes": {"order": 1, "seed": 0}, "result": {"sis": 0.5, "dev": "cpu"}},
        {"status": "ok", "axes": {"order": 1, "seed": 1}, "result": {"sis": 1.0, "dev": "cpu"}},
        {"status": "ok", "axes": {"order": 1, "seed": 2}, "result": {"sis": 0.75}},
        {"status": "error", "axes": {"order": 1, "seed": 3}, "result": None},
        {"status": "ok", "axes": {"order": 2, "seed": 0}, "result": {"sis": "nan"}},
    ]
    rows = summarize(records, ["order", "seed"])
    assert rows[0] == {"order": 1, "n": 3, "sis": 0.75, "sis_std": 0.25}
    assert rows[1]["n"] == 1 and math.isnan(rows[1]["sis"]) and rows[1]["sis_std"] == 0.0
    table = format_summary(rows, ["order", "seed"])
    assert table.splitlines()[0].split() == ["order", "n", "sis"]
    assert "0.75 ± 0.25" in table


# ----------------------------------------------------------------------------- Ray

def test_ray_backend_on_a_local_single_node_cluster(tmp_path):
    """Ray 2.x has no local mode any more: a 1-CPU local Ray instance runs the tasks."""
    pytest.importorskip("ray", reason="the ray backend needs `pip install ray`")
    spec = parse_spec({"grid": {"order": [0, 2], "decoder": ["mlp"], "seed": [0], "device":
                                ["cpu"]}})
    path = tmp_path / "results.jsonl"
    done = run_sweep(spec, path, workers=1, trial_fn=quadratic, progress=False)
    assert done.ran == 2
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")  # keep only trial 0
    result = run_sweep(spec, path, backend="ray", workers=1, trial_fn=quadratic,
                       progress=False)
    assert (result.ran, result.skipped, result.failed) == (1, 1, 0)
    records = read_results(path)
    assert sorted(r["id"] for r in records) == sorted(t.id for t in expand(spec))
    assert {r["id"]: r["result"] for r in records} == {
        t.id: expected_result(t.config) for t in expand(spec)}


# ----------------------------------------------------------------------------- training + CLI

EXAMPLE = ROOT / "examples" / "sweep_small.yaml"
TINY = """\
name: tiny
base: {slot_sizes: [1, 1], outputs: 4, steps: 2, batch_size: 16, n_train: 64, n_eval: 64,
       device: cpu, support: full}
grid: {order: [1], decoder: [mlp], seed: [0]}
"""


def test_example_spec_is_a_valid_training_sweep():
    from numerics.sweep import train_config
    from numerics.synthetic.training import TrainConfig

    spec = check_against(load_spec(EXAMPLE), TrainConfig().settings())
    assert spec.axes == ("order", "decoder", "seed", "support") and spec.size == 24
    configs = [train_config(t.config) for t in expand(spec)]
    assert configs[0].slot_sizes == (2, 2) and configs[0].engine.progress is False
    assert {(c.order, c.decoder, c.support) for c in configs} == {
        (o, d, s) for o in (0, 1, 2) for d in ("structured", "mlp") for s in ("full", "band")}
    from numerics.synthetic.data import build_data

    highest = next(c for c in configs if c.order == 2)
    assert build_data(highest) is not None  # enough outputs for the order-2 generator


@pytest.mark.parametrize(("base", "message"), [
    ({"checkpoint": "run.pt"}, "'checkpoint' cannot be set in a sweep"),
    ({"decoder": "cnn"}, "unknown decoder 'cnn': choose one of structured, mlp"),
    ({"steps": "many"}, "base.steps must be of type int"),
    ({"lerning_rate": 0.1}, r"unknown setting\(s\) lerning_rate"),
])
def test_training_sweeps_are_validated_before_any_trial_runs(tmp_path, base, message):
    spec = parse_spec({"base": base, "grid": {"seed": [0, 1]}})
    with pytest.raises(ConfigError, match=message):
        run_sweep(spec, tmp_path / "r.jsonl", workers=1, progress=False)
    assert not (tmp_path / "r.jsonl").exists()


def test_default_trial_trains_and_records_the_metrics(tmp_path):
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(TINY)
    result = run_sweep(load_spec(spec_path), tmp_path / "r.jsonl", workers=1, progress=False)
    (record,) = result.records
    assert record["status"] == "ok", record["error"]
    assert {"sis", "matched_r2", "recon_mse", "ood_recon_mse", "device"} <= set(record["result"])
    assert record["result"]["device"] == "cpu"
    assert result.summary[0]["n"] == 1


def test_cli_sweep_runs_resumes_and_reports(tmp_path, monkeypatch, capsys):
    from numerics import sweep
    from numerics.cli import main

    monkeypatch.setattr(sweep, "train_trial", quadratic)
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("grid: {order: [0, 1], decoder: [mlp], seed: [0, 1]}\n")
    results = tmp_path / "out" / "r.jsonl"
    args = ["sweep", str(spec_path), "--results", str(results), "--workers", "1",
            "--no-progress"]
    monkeypatch.setattr(sweep, "check_against", lambda spec, _type: spec)
    monkeypatch.setattr(sweep, "train_config", lambda config: config)
    assert main([*args, "--metrics", "value"]) == 0
    out = capsys.readouterr().out
    assert "4 trials, 4 run now, 0 already done, 0 failed" in out
    assert out.splitlines()[1].split() == ["order", "decoder", "n", "value"]
    assert "9 ± 7.1" in out  # order 0, mlp: values 4 and 14 over seeds 0, 1
    assert main([*args, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["ran"], payload["skipped"], payload["total"]) == (0, 4, 4)
    assert payload["summary"][0] == {"order": 0, "decoder": "mlp", "n": 2, "value": 9.0,
                                     "value_std": math.sqrt(50), "half": 4.5,
                                     "half_std": math.sqrt(12.5)}


def test_cli_sweep_bad_spec_exits_2_with_one_line(tmp_path, capsys):
    from numerics.cli import main

    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("grid: {seed: []}\n")
    assert main(["sweep", str(spec_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"iasym sweep: error: {spec_path}: grid.seed is empty; give at least" \
                          " one value"


def test_ray_resources_ask_for_gpus_only_when_the_trial_can_use_them():
    from numerics.sweep import ray_resources

    assert ray_resources({"device": "auto"}, 2) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources({}, 2) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources({"device": "cuda:0"}, 1) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources({"device": "cpu"}, 2) == {"num_cpus": 1, "num_gpus": 0}
    assert ray_resources({"device": "auto"}, 0) == {"num_cpus": 1, "num_gpus": 0}
    with pytest.raises(ConfigError, match="asks for device 'cuda' but the Ray cluster has no"):
        ray_resources({"device": "cuda"}, 0)
