"""``iasym train``: option parsing, JSON output, exit code 2 on bad input."""

from __future__ import annotations

import json

import pytest

from numerics.cli import main
from theory.errors import ParseError
from theory.parsing import parse_slot_sizes

TINY = ["--generator", "neural", "--slots", "2x1", "--outputs", "6", "--steps", "15",
        "--n-train", "128", "--n-eval", "60", "--hidden", "8", "--device", "cpu"]


def test_parse_slot_sizes() -> None:
    assert parse_slot_sizes("3x2") == (2, 2, 2)
    assert parse_slot_sizes(" 2,1,3 ") == (2, 1, 3)
    for bad in ("3x", "x2", "a,b", "3x0", "0", ""):
        with pytest.raises(ParseError):
            parse_slot_sizes(bad)


def test_json_is_one_object_with_required_keys(capsys) -> None:
    assert main(["train", *TINY, "--json", "--decoder", "mlp", "--support", "band"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    data = json.loads(out[0])
    for key in ("sis", "matched_r2", "recon_mse", "ood_recon_mse", "device", "seconds"):
        assert key in data
    assert data["device"] == "cpu" and data["config"]["decoder"] == "mlp"
    assert data["config"]["support"] == "band" and data["config"]["slot_sizes"] == [1, 1]


def test_text_output(capsys) -> None:
    assert main(["train", *TINY, "--order", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "structured decoder, order 0" in out and "sis" in out


@pytest.mark.parametrize("args", [
    ["--slots", "3x0"], ["--order", "-1"], ["--steps", "-5"], ["--lr", "0"],
    ["--device", "tpu"], ["--latent-slots", "1"], ["--support", "band", "--slots", "1x2"],
])
def test_bad_input_exits_2_with_one_line(args: list[str], capsys) -> None:
    assert main(["train", *TINY, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iasym train: error:")
