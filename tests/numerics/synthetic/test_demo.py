"""The demo loop theory -> numerics, and the property it demonstrates on small cases."""

from __future__ import annotations

import json

import pytest

from numerics.cli import main
from numerics.synthetic.demo import CASES, format_table, run_demo
from numerics.synthetic.training import TrainConfig, train


def test_quick_demo_writes_json_png_and_rows(tmp_path, capsys) -> None:
    assert main(["demo", "--quick", "--out", str(tmp_path), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    data = json.loads((tmp_path / "results.json").read_text())
    rows = data["rows"]
    assert len(rows) == 2 * len(CASES)
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verdicts = {r["case"]: r["predicted"] for r in rows if r["decoder"] == "structured"}
    assert [verdicts[c.label] for c in CASES] == ["identifiable"] * 3 + ["not-identifiable"]
    assert [r["order"] for r in rows[::2]] == [0, 1, 2, 1]
    for row in rows:
        assert 0.0 <= row["sis"] <= 1.0 and row["steps"] == 60
        assert row["case"] in printed
    assert "predicted" in format_table(rows).splitlines()[0]


def test_run_demo_rejects_bad_steps(tmp_path) -> None:
    from numerics.core.errors import ConfigError

    with pytest.raises(ConfigError):
        run_demo(tmp_path, steps=0)


def _run(family: str, order: int, sizes: tuple[int, ...], steps: int) -> object:
    from theory import generators

    symbolic = getattr(generators, family)(sizes, 8 if len(sizes) == 2 else 40, 0)
    return train(TrainConfig.from_settings(order=order, generator="sympy",
                                           sympy_generator=symbolic, steps=steps, n_train=2048,
                                           n_eval=500, progress=False, device="cpu"))


def test_identifiable_generator_generalizes_counterexample_does_not() -> None:
    """2 slots: the additive decoder on a sufficiently independent additive generator
    reconstructs unseen slot combinations (OOD error within a small factor of ID) and nearly
    identifies the slots; on the linear counterexample (additive but not sufficiently
    independent) the OOD error explodes."""
    good = _run("additive", 1, (1, 1), 600)
    bad = _run("linear", 1, (1, 1), 600)
    assert good.sis >= 0.8
    assert good.ood_recon_mse < 5 * good.recon_mse
    assert bad.ood_recon_mse > 100 * bad.recon_mse


@pytest.mark.slow
@pytest.mark.parametrize("family,order", [("order0", 0), ("additive", 1), ("bilinear", 2)])
def test_three_slots_identified_counterexample_not(family: str, order: int) -> None:
    good = _run(family, order, (1, 1, 1), 2000)
    bad = _run("linear", 1, (1, 1, 1), 2000)
    assert good.sis >= 0.9 > bad.sis
    assert good.ood_recon_mse < 10 * good.recon_mse
    assert bad.ood_recon_mse > 100 * bad.recon_mse
