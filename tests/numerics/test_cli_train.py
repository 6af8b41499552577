"""``iasym train``: option parsing, JSON output, exit code 2 on bad input."""

from __future__ import annotations

import json

import pytest

from numerics.cli import main
from numerics.synthetic.selection import SelectionSettings
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


def test_options_default_to_the_config_dataclasses() -> None:
    from numerics.cli import build_parser
    from numerics.synthetic.training import TrainConfig

    args = build_parser().parse_args(["train"])
    config, settings = TrainConfig().settings(), SelectionSettings()
    for name in ("order", "decoder", "decoder_order", "outputs", "generator", "slot_degree",
                 "support", "steps", "batch_size", "lr", "seed", "cross_penalty",
                 "penalty_tuples", "n_train", "n_eval", "hidden", "device", "checkpoint"):
        assert getattr(args, name) == config[name], name
    assert parse_slot_sizes(args.slots) == config["slot_sizes"]
    assert (args.candidates, args.keep, args.restarts, args.assignments) == (
        settings.candidates, settings.keep, settings.restarts, settings.max_assignments)
    assert float(args.time_budget) == settings.time_budget


def test_json_is_one_object_with_required_keys(capsys) -> None:
    assert main(["train", *TINY, "--json", "--decoder", "mlp", "--support", "band"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    data = json.loads(out[0])
    for key in ("sis", "matched_r2", "recon_mse", "ood_recon_mse", "device", "seconds"):
        assert key in data
    assert data["device"] == "cpu" and data["config"]["decoder"] == "mlp"
    assert data["config"]["support"] == "band" and data["config"]["slot_sizes"] == [1, 1]
    assert data["verdict"]["verdict"] in ("identified", "not-converged",
                                          "mixed-but-reconstructs")
    assert data["verdict"]["prediction"] == "no-theorem"
    assert 0.0 <= data["off_block"] <= 1.0 and data["restarts"] == len(
        data["selection"]["rounds"]) - 1
    assert data["config"]["selection"]["candidates"] == SelectionSettings().candidates


def test_search_options_reach_the_config(capsys) -> None:
    assert main(["train", *TINY, "--json", "--candidates", "3", "--keep", "1", "--restarts",
                 "1", "--time-budget", "none"]) == 0
    data = json.loads(capsys.readouterr().out.strip())
    assert data["config"]["selection"]["candidates"] == 3
    assert data["config"]["selection"]["time_budget"] is None
    rounds = data["selection"]["rounds"]
    assert len(rounds[0]["seeds"]) == 3 and len(rounds[0]["kept"]) == 1
    # the tiny run cannot reconstruct: the one restart allowed runs, and is reported
    assert data["verdict"]["verdict"] == "not-converged" and data["restarts"] == 1
    assert data["selection"]["stopped"] == "restarts exhausted"


def test_text_output(capsys) -> None:
    assert main(["train", *TINY, "--order", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "structured decoder, order 0" in out and "sis" in out


@pytest.mark.parametrize("args", [
    ["--slots", "3x0"], ["--order", "-1"], ["--steps", "-5"], ["--lr", "0"],
    ["--device", "tpu"], ["--latent-slots", "1"], ["--support", "band", "--slots", "1x2"],
    ["--candidates", "0"], ["--keep", "5", "--candidates", "2"], ["--restarts", "-1"],
    ["--time-budget", "0"], ["--decoder-order", "-2"],
])
def test_bad_input_exits_2_with_one_line(args: list[str], capsys) -> None:
    assert main(["train", *TINY, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iasym train: error:")
