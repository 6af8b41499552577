"""numerics.grid and ``iasym grid``: cells, resumption, summary files."""

from __future__ import annotations

import json

import pytest

from numerics.cli import main
from numerics.core.errors import ConfigError
from numerics.grid import GridConfig, cell_summary, parse_orders, run_grid

TINY = {"n_train": 256, "n_eval": 100, "n_val": 64, "hidden": 8, "encoder_hidden": 16,
        "batch_size": 32}


def test_cell_summary_counts_and_medians() -> None:
    rows = [{"verdict": v, "prediction": "identifiable", "candidate_counterexample": c,
             "sis": s, "off_block": o, "ood_ratio": 1.0, "seconds": 2.0}
            for v, c, s, o in [("identified", False, 0.9, 0.01),
                               ("not-converged", False, 0.3, 0.4),
                               ("mixed-but-reconstructs", True, 0.5, 0.3)]]
    cell = cell_summary(rows)
    assert (cell["identified"], cell["not-converged"], cell["mixed-but-reconstructs"]) == (1, 1, 1)
    assert cell["candidates"] == 1 and cell["median_sis"] == 0.5
    assert cell["median_off_block"] == 0.3 and cell["identified_fraction"] == 1 / 3
    assert cell["prediction"] == "identifiable"


def test_tiny_grid_writes_summary_and_resumes(tmp_path) -> None:
    config = GridConfig(slot_sizes=(1, 1), generator_orders=(1,), decoder_orders=(0, 1),
                        seeds=2, steps=10, device="cpu", options=TINY)
    summary = run_grid(config, tmp_path, progress=False)
    assert [c["column"] for c in summary["cells"]] == ["structured 0", "structured 1", "mlp"]
    assert all(c["runs"] == 2 for c in summary["cells"])
    assert summary["cells"][0]["predictions"] == ["cannot-reconstruct"]
    assert summary["cells"][2]["predictions"] == ["no-theorem"]
    for name in ("grid.json", "grid.md", "grid.png", "runs.jsonl"):
        assert (tmp_path / name).exists()
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 6
    # a cut last line is redone, the rest is reused
    (tmp_path / "runs.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:10])
    again = run_grid(config, tmp_path, progress=False)
    assert all(c["runs"] == 2 for c in again["cells"])
    rows = [json.loads(x) for x in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and rows[:5] == [json.loads(x) for x in lines[:5]]


def test_grid_generators_have_slot_functions_beyond_every_decoder_order() -> None:
    assert GridConfig().degree() == 4  # decoders up to order 3
    assert GridConfig(generator_orders=(1,), decoder_orders=(0, 1)).degree() == 3
    assert GridConfig(decoder_orders=(0, 4)).degree() == 5
    assert GridConfig(slot_degree=6).degree() == 6
    with pytest.raises(ConfigError, match="slot_degree"):
        GridConfig(slot_degree=3).validate()  # generator order 3 needs 4
    with pytest.raises(ConfigError, match="slot_degree"):
        GridConfig(slot_degree=99).validate()


def test_bad_grid_input() -> None:
    with pytest.raises(ConfigError):
        parse_orders("1,a")
    with pytest.raises(ConfigError):
        GridConfig(seeds=0).validate()
    with pytest.raises(ConfigError):
        GridConfig(generator_orders=()).validate()


def test_cli_grid_bad_orders_exit_2(capsys, tmp_path) -> None:
    assert main(["grid", "--generator-orders", "x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iasym grid: error:")
