"""Faults a careless or hostile user causes: malformed checkpoints, mismatched resumes, shared
checkpoints, bad paths, unbounded inputs. Every one must be a package error (CLI: exit 2 and one
line), never a traceback or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from numerics.cli import main
from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import CheckpointError, ConfigError, DivergenceError
from numerics.core.io import check_output_path, hold_lock
from theory.errors import BudgetError, ExactnessWarning, ParseError

TINY = ["--generator", "neural", "--slots", "2x1", "--outputs", "6", "--n-train", "128",
        "--n-eval", "60", "--hidden", "8", "--steps", "12", "--batch-size", "16",
        "--device", "cpu", "--no-progress", "--candidates", "2"]


def _task():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    data = torch.randn(32, 3)

    def sample(step, gen):
        return data[torch.randint(32, (8,), generator=gen)]

    def loss_fn(m, x, step):
        loss = m(x).square().mean()
        return loss, {"mse": float(loss.detach())}

    return model, sample, loss_fn


@pytest.mark.parametrize("content", [
    [1, 2, 3], {"model": {}}, {"model": {}, "optimizer": {}, "step": "3",
                               "generator": torch.zeros(3), "torch_rng": torch.zeros(3)},
    {"model": {}, "optimizer": {}, "step": 2, "generator": torch.zeros(3),
     "torch_rng": torch.zeros(5, dtype=torch.uint8)}])
def test_malformed_checkpoints_are_refused(tmp_path, content) -> None:
    ckpt = tmp_path / "c.pt"
    torch.save(content, ckpt)
    model, sample, loss_fn = _task()
    with pytest.raises(CheckpointError):
        fit(model, loss_fn, sample, EngineConfig(steps=4, progress=False, device="cpu",
                                                 checkpoint=str(ckpt)))


def test_checkpoint_step_outside_the_segment_is_refused(tmp_path) -> None:
    ckpt = tmp_path / "c.pt"
    model, sample, loss_fn = _task()
    config = EngineConfig(steps=6, schedule="constant", progress=False, device="cpu",
                          checkpoint=str(ckpt), checkpoint_every=6)
    fit(model, loss_fn, sample, config)
    with pytest.raises(CheckpointError, match="outside this segment"):
        fit(model, loss_fn, sample, EngineConfig(steps=3, schedule="constant", progress=False,
                                                 device="cpu", checkpoint=str(ckpt)))
    state = torch.load(ckpt, weights_only=True)
    state["step"] = -100
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError, match="outside"):
        fit(model, loss_fn, sample, config)


def test_fingerprint_mismatch_names_the_fields(tmp_path) -> None:
    ckpt = tmp_path / "c.pt"
    model, sample, loss_fn = _task()
    base = EngineConfig(steps=4, progress=False, device="cpu", checkpoint=str(ckpt),
                        fingerprint={"config": {"seed": 3, "order": 1}, "package": "x"})
    fit(model, loss_fn, sample, base)
    other = EngineConfig(**{**base.__dict__, "fingerprint": {"config": {"seed": 4, "order": 1},
                                                             "package": "x"}})
    with pytest.raises(CheckpointError, match=r"config\.seed"):
        fit(model, loss_fn, sample, other)
    fit(model, loss_fn, sample, base)  # the same run resumes (here: is already done)


def test_resuming_another_seed_exits_2(tmp_path, capsys) -> None:
    ckpt = str(tmp_path / "c.pt")
    assert main(["train", *TINY, "--seed", "3", "--checkpoint", ckpt, "--json"]) == 0
    capsys.readouterr()
    assert main(["train", *TINY, "--seed", "4", "--checkpoint", ckpt, "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "config.seed" in err and "does not match" in err
    assert main(["train", *TINY, "--seed", "3", "--checkpoint", ckpt, "--json"]) == 0


def test_a_live_lock_refuses_a_second_run(tmp_path) -> None:
    path = tmp_path / "c.pt"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "c.pt.lock").write_text(str(sleeper.pid))
        with pytest.raises(ConfigError, match="in use by process"), hold_lock(path):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with hold_lock(path):  # the holder is dead: the stale lock is taken over
        assert (tmp_path / "c.pt.lock").read_text() == str(os.getpid())
        with hold_lock(path):  # re-entrant in one process
            pass
        assert (tmp_path / "c.pt.lock").exists()
    assert not (tmp_path / "c.pt.lock").exists()


def test_output_paths_are_checked_before_work(tmp_path) -> None:
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_path(regular / "x.pt", "checkpoint")
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_path(tmp_path, "checkpoint")
    assert check_output_path(tmp_path / "new" / "x.pt", "checkpoint").name == "x.pt"
    t0 = time.perf_counter()
    assert main(["train", *TINY, "--checkpoint", str(regular / "x.pt")]) == 2
    assert time.perf_counter() - t0 < 30  # refused before training, not after


def test_divergence_is_a_package_error() -> None:
    model, sample, _ = _task()

    def loss_fn(m, x, step):
        return m(x).sum() * float("inf"), {}

    with pytest.raises(DivergenceError, match="lower the learning rate"):
        fit(model, loss_fn, sample, EngineConfig(steps=2, progress=False, device="cpu"))


@pytest.mark.parametrize("argv", [
    ["train", "--device", "meta"], ["train", "--seed", str(2**70)], ["train", "--n-train", "1"],
    ["train", "--batch-size", "1000000000"], ["train", "--n-train", "10000000000"],
    ["train", "--steps", "x"], ["train", "--timeout", "-1"],
    ["analyze", "--slots", "x1|y1", "--", "1e5000*x1"],
    ["analyze", "--slots", "x1|y1", "--", "1e99999999*x1"],
    ["analyze", "--slots", "x1|y1", "--", "(x1+y1)**256"],
    ["analyze", "--slots", "x1|y1", "--", "x1**(2**8)*y1"],
    ["analyze", "--degree", "50", "--slots", "x1|y1", "--", "x1*y1", "x1**2", "y1**2"],
])
def test_cli_failures_are_one_line_and_exit_2(argv, capsys) -> None:
    extra = ["--no-progress"] if argv[0] == "train" else []
    try:
        code = main([*argv, *extra])
    except SystemExit as stop:  # argparse usage errors exit by themselves
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize(("exprs", "order", "verdict"), [
    (["x1+y1", "pi*x1**2+y1**3", "x1**3", "y1**2"], 1, "identifiable"),
    (["E*x1*y1"], 2, "not-identifiable"),
    (["sqrt(2)*x1*y1", "x1", "y1"], 2, "not-identifiable"),
])
def test_cli_constants_are_answered_exactly(exprs, order, verdict, capsys) -> None:
    # pi, E and sqrt(2) in coefficients used to end in a one-line error; the analysis now
    # treats them exactly (theory: formal constants in the rank certificates)
    assert main(["analyze", "--slots", "x1|y1", "--json", "--", *exprs]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["order"] == order and report["verdict"] == verdict


def test_timeout_stops_a_long_analysis(capsys) -> None:
    t0 = time.perf_counter()
    code = main(["analyze", "--timeout", "1", "--slots", "x1,x2,x3|y1,y2,y3", "--",
                 "(x1+x2+x3+y1+y2+y3)**20"])
    assert time.perf_counter() - t0 < 20
    err = capsys.readouterr().err
    assert code == 2 and ("time budget" in err or "budget" in err)


def test_library_errors_are_in_the_package_tree() -> None:
    from theory.parsing import parse_generator, parse_slots
    from theory.report import analyze

    slots = parse_slots("x1|y1")
    x1, y1 = slots.symbols
    with pytest.warns(ExactnessWarning, match="1.5"):  # a Float becomes the rational 3/2
        report = analyze([x1 * y1 * __import__("sympy").Float(1.5)], slots)
    assert report.order == 2 and report.verdict == "not-identifiable"
    with pytest.raises(ParseError):
        parse_generator(["1e400*x1"], slots)
    with pytest.raises(BudgetError):
        analyze(parse_generator(["x1*y1", "x1**2", "y1**2"], slots), slots, degree=50)


def test_metrics_refuse_bad_arguments_and_survive_huge_scales() -> None:
    from numerics.core.errors import DataError
    from numerics.synthetic.metrics import slot_identifiability

    gen = torch.Generator().manual_seed(0)
    z = torch.rand(400, 2, generator=gen, dtype=torch.float64)
    z_hat = torch.stack([z[:, 1] ** 3, torch.tanh(z[:, 0])], 1)
    base = slot_identifiability(z, z_hat, (1, 1), regressor="linear").sis
    huge = slot_identifiability(z, z_hat * 1e155, (1, 1), regressor="linear").sis
    assert base > 0.8 and huge == pytest.approx(base, abs=1e-9)
    with pytest.raises(DataError):
        slot_identifiability(z, z_hat, 4)
    with pytest.raises(ConfigError):
        slot_identifiability(z, z_hat, (1, 1), alpha=float("nan"))

    def broken(x_train, y_train, x_test):
        raise ValueError("singular")

    with pytest.raises(DataError, match="regressor callable failed"):
        slot_identifiability(z, z_hat, (1, 1), regressor=broken)


def test_expression_files_with_bom_and_endless_files(tmp_path) -> None:
    from theory.parsing import read_expression_file

    path = tmp_path / "f.txt"
    path.write_bytes("\ufeffx1*y1\n# comment\ny1**2\n".encode())
    assert read_expression_file(path) == ["x1*y1", "y1**2"]
    t0 = time.perf_counter()
    with pytest.raises(ParseError, match="larger than"):
        read_expression_file("/dev/zero")
    assert time.perf_counter() - t0 < 10


def test_results_are_ordinary_files(tmp_path) -> None:
    from numerics.core.io import atomic_write_json

    atomic_write_json(tmp_path / "r.json", {"a": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_counterexample_train_without_seeds_is_refused(capsys) -> None:
    assert main(["counterexample", "linear", "--train", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_sweep_summary_ignores_undefined_metrics() -> None:
    from numerics.sweep import summarize

    records = [{"status": "ok", "axes": {"support": "full", "seed": s},
                "result": {"sis": 0.9 + s / 100, "ood_ratio": float("nan")}} for s in range(3)]
    (row,) = summarize(records, ["support", "seed"])
    assert row["sis"] == pytest.approx(0.91) and "sis_n" not in row
    assert row["ood_ratio"] != row["ood_ratio"] and row["ood_ratio_n"] == 0


def test_sweep_workers_die_with_their_parent(tmp_path) -> None:
    """kill -9 of a running sweep leaves no worker behind (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signal is Linux only")
    script = tmp_path / "run.py"
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: orphan\nbase:\n  sleep: 60\ngrid:\n  seed: [0, 1]\n"
                    "  order: [1]\n  decoder: [mlp]\n")
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(os.getcwd())!r})\n"
        "from numerics.sweep import load_spec, run_sweep\n"
        "from tests.numerics.sweep_trials import quadratic\n"
        "if __name__ == '__main__':\n"
        f"    run_sweep(load_spec({str(spec)!r}), {str(tmp_path / 'r.jsonl')!r}, workers=2,\n"
        "              trial_fn=quadratic, progress=False)\n")
    parent = subprocess.Popen([sys.executable, str(script)])
    children: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(children) < 2:
        time.sleep(0.5)
        children = {int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) ==
                    parent.pid and "python" in _cmdline(int(p))}
    assert children, "the sweep started no worker"
    time.sleep(2)  # let the workers run their initializer
    parent.kill()
    parent.wait()
    time.sleep(3)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and
             _state(pid) != "Z"]
    assert not alive, f"workers {alive} outlived the killed sweep"


def _ppid(pid: int) -> int:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return ""


def test_sweep_rejects_unknown_metrics_before_any_trial(tmp_path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("grid: {order: [1], decoder: [mlp], seed: [0]}\n")
    results = tmp_path / "r.jsonl"
    assert main(["sweep", str(spec), "--results", str(results), "--metrics", "bogus",
                 "--no-progress"]) == 2
    assert "bogus" in capsys.readouterr().err and not results.exists()


def test_sweep_bad_spec_files_and_result_paths(tmp_path, capsys) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    spec = tmp_path / "s.yaml"
    spec.write_text("grid: {order: [1], decoder: [mlp], seed: [0]}\n")
    (tmp_path / "rdir").mkdir()
    for argv in (["sweep", str(binary)],
                 ["sweep", str(spec), "--results", str(tmp_path / "rdir")],
                 ["conjecture", "--order", "3", "--out", str(tmp_path / "rdir")],
                 ["figures", "--out", str(spec)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err and "internal error" not in err, err


def test_sigkill_and_resume_give_the_same_numbers(tmp_path) -> None:
    """kill -9 while training, rerun the same command: the stale lock is taken over, the run
    resumes from its stage checkpoints and ends with the numbers of an uninterrupted run."""
    import json

    args = [*TINY[:TINY.index("--steps")], *TINY[TINY.index("--steps") + 2:], "--steps", "400",
            "--json"]
    cmd = [sys.executable, "-m", "numerics", "train", *args]
    clean = json.loads(subprocess.run([*cmd, "--checkpoint", str(tmp_path / "a.pt")],
                                      capture_output=True, text=True, check=True).stdout)
    ckpt = tmp_path / "b.pt"
    proc = subprocess.Popen([*cmd, "--checkpoint", str(ckpt)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "b.r0-explore.pt").exists():
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert (tmp_path / "b.r0-explore.pt").exists() and not ckpt.exists()
    resumed = json.loads(subprocess.run([*cmd, "--checkpoint", str(ckpt)], capture_output=True,
                                        text=True, check=True).stdout)
    for key in ("sis", "val_recon", "recon_mse", "off_block"):
        assert resumed[key] == clean[key], key
    assert not (tmp_path / "b.pt.lock").exists()


def test_version(capsys) -> None:
    from numerics.core.io import package_version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"iasym {package_version()}"


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path) -> None:
    from numerics.core.io import atomic_write_text

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".r.json.{dead.pid}.abc123.tmp"  # what SIGKILL mid-save leaves
    orphan.write_text("half")
    live = tmp_path / f".r.json.{os.getppid()}.def456.tmp"  # a writer that still runs
    live.write_text("busy")
    other = tmp_path / f".q.json.{dead.pid}.abc123.tmp"  # another file's temporary
    other.write_text("half")
    atomic_write_text(tmp_path / "r.json", "done")
    assert (tmp_path / "r.json").read_text() == "done"
    assert not orphan.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, other.name, "r.json"])


def test_two_processes_on_one_checkpoint(tmp_path) -> None:
    """A second real process on a checkpoint that a running one holds exits 2 at once."""
    ckpt = tmp_path / "c.pt"
    args = [*TINY[:TINY.index("--steps")], *TINY[TINY.index("--steps") + 2:], "--steps",
            "3000", "--checkpoint", str(ckpt)]
    cmd = [sys.executable, "-m", "numerics", "train", *args]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (tmp_path / "c.pt.lock").exists():
            time.sleep(0.05)
        assert (tmp_path / "c.pt.lock").exists()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert first.poll() is None  # still training: the refusal is not a late resume
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and "in use by process" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_same_thread_count_same_bits_and_threads_recorded(tmp_path) -> None:
    """The documented reproducibility contract: same seed, config and thread count give
    bit-identical numbers in separate processes, and the result records the thread count."""
    import json

    cmd = [sys.executable, "-m", "numerics", "train", *TINY, "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                      env=env).stdout) for _ in range(2)]
    assert runs[0]["threads"] == runs[1]["threads"] == 1
    for key in ("sis", "val_recon", "recon_mse", "off_block", "block_norms", "r2"):
        assert runs[0][key] == runs[1][key], key
    for a, b in zip(runs[0]["selection"]["rounds"], runs[1]["selection"]["rounds"],
                    strict=True):
        assert a["explore_recon"] == b["explore_recon"] and a["final_recon"] == b["final_recon"]


@pytest.mark.parametrize(("argv", "limit"), [
    (["--order", "99", "--slots", "3x2"], "MAX_DECODER_MONOMIALS"),
    (["--slots", "1000x1000"], "MAX_LATENTS"),
    (["--order", "3", "--slots", "4x2", "--outputs", "5000"], "MAX_GENERATOR_TERMS"),
    (["--order", "5", "--slots", "3x2"], "MAX_GENERATOR_TERMS"),
])
def test_train_refuses_work_beyond_its_limits_before_building(argv, limit, capsys) -> None:
    t0 = time.perf_counter()
    assert main(["train", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and limit in err
    assert time.perf_counter() - t0 < 10  # counted by formula, nothing enumerated or built


def test_minimum_outputs_is_counted_not_listed() -> None:
    from theory.class_construction import class_indices, class_size, minimum_outputs, slots_of_sizes

    for sizes, order, top in [((2, 2, 2), 3, 4), ((2, 3, 1), 2, 3), ((1, 1, 1), 1, 3),
                              ((4,), 0, 3), ((2, 2, 2, 2), 3, 4)]:
        indices = class_indices(slots_of_sizes(sizes), order, top)
        assert class_size(sizes, order, top) == len(indices)
    assert minimum_outputs(99, (2, 2, 2)) == 1609344402  # C(105, 6) - 1 + 3 * C(101, 100)


@pytest.mark.parametrize(("argv", "limit"), [
    (["demo", "--steps", "100000000000"], "MAX_STEPS"),
    (["counterexample", "linear", "--train", "--seeds", "100000"], "MAX_SEEDS"),
    (["grid", "--seeds", "100000"], "MAX_SEEDS"),
    (["sprites", "render", "--n", "1000000000", "--size", "64", "--out", "x.npz"],
     "MEMORY_LIMIT"),
])
def test_counts_that_multiply_work_are_bounded_up_front(argv, limit, tmp_path, capsys,
                                                        monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and limit in err
    assert time.perf_counter() - t0 < 15 and not any(tmp_path.iterdir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watcher reads /proc")
def test_reaper_kills_the_orphans_of_a_sigkilled_process(tmp_path) -> None:
    """What a local Ray cluster leaves when the sweep is SIGKILLed (node agents reparented to
    init): a grandchild that outlives its parent. The watcher kills it; other processes live."""
    from numerics.core.reaper import _stat

    pid_file = tmp_path / "grandchild.pid"
    # parent -> middle (dies with the parent, as Ray's raylet does) -> grandchild (does not)
    middle_code = ("import ctypes, signal, subprocess, time\n"
                   "ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL)\n"
                   "p = subprocess.Popen(['sleep', '60'], stdout=subprocess.DEVNULL)\n"
                   "print(p.pid, flush=True)\n"
                   "time.sleep(60)\n")
    parent_code = (
        "import subprocess, sys, time\n"
        "from numerics.core.reaper import start_reaper\n"
        "start_reaper()\n"
        f"child = subprocess.Popen([sys.executable, '-c', {middle_code!r}],"
        " stdout=subprocess.PIPE, text=True)\n"
        f"open({str(pid_file)!r}, 'w').write(child.stdout.readline().strip())\n"
        "time.sleep(60)\n")
    bystander = subprocess.Popen(["sleep", "60"])
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not (pid_file.exists() and pid_file.read_text()):
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
        time.sleep(0.5)  # the watcher has scanned the tree at least once
        assert _stat(grandchild) is not None
        parent.kill()
        parent.wait()
        deadline = time.time() + 10
        while time.time() < deadline and _stat(grandchild) not in (None,) and \
                Path(f"/proc/{grandchild}/stat").read_text().split()[2] != "Z":
            time.sleep(0.05)
        stat = Path(f"/proc/{grandchild}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"  # killed (or a zombie)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
