"""``iasym analyze``: library-equivalent output, JSON schema, and exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from numerics.cli import main

ROOT = Path(__file__).resolve().parents[2]
LINEAR = ["--slots", "x1,x2 | y1,y2", "x1 + 2*y1", "x2 - y2", "x1 + x2 + y1", "y2 - 3*x1"]


def test_json_output_for_a_linear_generator(capsys):
    assert main(["analyze", *LINEAR, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"order", "sufficiently_independent", "verdict"} <= set(data)
    assert data["order"] == 1
    assert data["sufficiently_independent"] is False
    assert data["verdict"] == "not-identifiable"
    assert data["ambiguity"]["dimension"] == 20 and data["ambiguity"]["slotwise_dimension"] == 12


def test_text_output_and_file_input(tmp_path, capsys):
    path = tmp_path / "f.txt"
    path.write_text("# product of two slots\nexp(x*y)\nx + y**3\n")
    assert main(["analyze", "--slots", "x | y", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "interaction order: inf" in out and "verdict: unknown" in out


@pytest.mark.parametrize("argv,fragment", [
    (["analyze", "--slots", "x | y", "__import__('os')"], "output 0"),
    (["analyze", "--slots", "x | y", "x + z"], "z"),
    (["analyze", "--slots", "x | y"], "no expressions"),
    (["analyze", "--slots", "x | y", "--file", "/nonexistent/f.txt"], "not found"),
    (["analyze", "--slots", "x,x | y", "x"], "twice"),
    (["analyze", "--slots", "x | y", "x*y", "--degree", "-1"], "degree"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("iasym analyze: error:")
    assert fragment in err


def test_real_subprocess_json_and_exit_code_2():
    exe = Path(sys.executable).with_name("iasym")
    ok = subprocess.run([str(exe), "analyze", *LINEAR, "--json"], capture_output=True,
                        text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "not-identifiable"
    bad = subprocess.run([str(exe), "analyze", "--slots", "x | y", "__import__('os')"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
