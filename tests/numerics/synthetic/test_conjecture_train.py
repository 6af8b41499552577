"""numerics.synthetic.conjecture_train and ``iasym conjecture --train``: training beside the
theory."""

from __future__ import annotations

import json
import math

from numerics.cli import main
from numerics.synthetic.conjecture_train import VERDICTS, training_summary


def _row(verdict: str, sis: float, candidate: bool = False) -> dict:
    return {"verdict": verdict, "sis": sis, "candidate_counterexample": candidate}


def test_training_summary_hand_built() -> None:
    rows = [_row("identified", 0.99), _row("identified", 0.95), _row("not-converged", 0.5),
            _row("mixed-but-reconstructs", 0.7, candidate=True)]
    assert training_summary(rows) == {"trials": 4, "identified": 2, "not-converged": 1,
                                      "mixed-but-reconstructs": 1, "candidates": 1,
                                      "median_sis": 0.825}
    empty = training_summary([])
    assert empty["trials"] == 0 and all(empty[v] == 0 for v in VERDICTS)
    assert math.isnan(empty["median_sis"])


def test_cli_conjecture_train_reports_the_counts_beside_the_theory(capsys) -> None:
    argv = ["conjecture", "--order", "2", "--trials", "2", "--slots", "1,1", "--train",
            "--steps", "20", "--quiet"]
    main([*argv, "--json"])
    data = json.loads(capsys.readouterr().out)
    summary = data["training_summary"]
    assert summary["trials"] == 2 == len(data["training"]) == len(data["trials"])
    assert sum(summary[v] for v in VERDICTS) == 2
    assert summary == training_summary(data["training"])
    main(argv)
    out = capsys.readouterr().out
    assert "training: 2 trials" in out and "not-converged (optimization failures)" in out
