"""Numerical demonstrations of the catalogue (small runs), and the two CLI commands."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sympy
import torch

from numerics.cli import main
from numerics.core.errors import ConfigError
from numerics.counterexamples.demo import CONNECTED_CONTROL, DemoConfig, demonstrate
from numerics.synthetic.supports import box_support
from numerics.synthetic.translate import from_sympy
from numerics.synthetic.verdict import RUN_VERDICTS
from theory import counterexamples as C
from theory.errors import CatalogueError
from theory.slots import Slots
from theory.supports import smoothstep

SMALL = DemoConfig(steps=600, batch=128, hidden=16, n_eval=400, seeds=0, device="cpu")
# order-2 decoders: the cross-slot coefficients must grow to O(1 / std(z_i z_j)) with Adam steps
# of size ~lr, so they get a larger rate and more steps (at 600 steps, lr 1e-2 both the witness
# and the control stay near 0.08 relative error)
SMALL_ORDER_2 = replace(SMALL, steps=1000, lr=3e-2)


@pytest.mark.parametrize("name, config", [
    ("linear", SMALL), ("higher_order_interaction", SMALL), ("latent_dim_too_large", SMALL),
    ("support_not_aligned_connected", SMALL), ("low_degree", SMALL_ORDER_2),
    ("model_order_too_high", SMALL_ORDER_2),
])
def test_small_demonstration_shows_the_failure(name, config):
    result = demonstrate(name, config)
    assert result.shown, result.format()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["name"] == name and data["shown"] is True
    assert all(v == v for v in result.metrics.values())  # no NaN


@pytest.mark.slow
@pytest.mark.parametrize("name", C.names())
def test_full_demonstration_shows_the_failure(name):
    result = demonstrate(name, DemoConfig(device="cpu"))
    assert result.shown, result.format()


def test_demonstration_is_deterministic():
    cfg = DemoConfig(steps=60, batch=64, hidden=8, n_eval=200, seeds=1, regressor="linear",
                     device="cpu")
    entry = C.get("linear")
    f_before, witness_before = entry.f.copy(), entry.witness
    a, b = demonstrate("linear", cfg), demonstrate("linear", cfg)
    assert a.metrics == b.metrics
    # one numerics.synthetic.training.train run per seed: float metrics and the run's verdict beside
    # them
    assert [r["seed"] for r in a.per_seed] == [0.0] and a.per_seed == b.per_seed
    row = a.per_seed[0]
    assert {"recon_rel", "sis", "matched_r2", "second_r2", "off_block", "seed",
            "model_order"} <= set(row)
    assert all(isinstance(v, float) for v in row.values())
    assert [v["seed"] for v in a.verdicts] == [0]
    assert a.verdicts[0]["verdict"] in RUN_VERDICTS
    # f is linear: every invertible linear h is a certified counterexample
    assert a.verdicts[0]["prediction"] == "not-identifiable"
    assert a.verdicts[0]["off_block"] == row["off_block"]
    assert a.metrics["ae_recon_rel"] == row["recon_rel"]
    assert "autoencoders: seed 0" in a.format()
    assert json.loads(json.dumps(a.to_dict()))["verdicts"][0]["seed"] == 0
    # the catalogue entry is read, not changed
    assert entry.f == f_before and entry.witness is witness_before


def test_support_demo_uses_box_supports_with_the_same_unseen_squares():
    entry = C.get("support_not_aligned_connected")
    support = box_support(entry.witness.train_boxes, entry.slots.sizes)
    control = box_support(CONNECTED_CONTROL, entry.slots.sizes)
    unseen = (((0.0, 1.0), (2.0, 3.0)), ((2.0, 3.0), (0.0, 1.0)))
    assert support.ood_boxes == control.ood_boxes == unseen
    assert len(CONNECTED_CONTROL) == 7 and control.train_fraction_of_box == pytest.approx(7 / 9)
    assert support.cpe_boxes != control.cpe_boxes and len(control.cpe_boxes) == 9


def test_bad_config_and_name():
    with pytest.raises(ConfigError, match="steps"):
        demonstrate("linear", DemoConfig(steps=0))
    with pytest.raises(ConfigError, match="lr"):
        demonstrate("linear", DemoConfig(lr=0.0))
    with pytest.raises(CatalogueError, match="unknown counterexample"):
        demonstrate("nope", SMALL)


def test_smoothstep_derivatives_match_torch_func():
    # the C^m check of the support witness uses sympy derivatives of the smoothstep polynomial
    slots = Slots.from_sizes(1)
    (t,) = slots.symbols
    poly = smoothstep(t, sympy.Integer(1), sympy.Integer(2), 2).args[1][0]
    f = from_sympy(sympy.Matrix([poly]), slots)
    g = torch.Generator().manual_seed(0)
    pts = 1 + torch.rand(16, generator=g, dtype=torch.float64)
    scalar = lambda x: f(x.reshape(1, 1))[0, 0]  # noqa: E731
    for order in (1, 2):
        fn = scalar
        for _ in range(order):
            fn = torch.func.grad(fn)
        got = torch.stack([fn(p) for p in pts])
        d = sympy.lambdify(t, sympy.diff(poly, t, order))
        want = torch.tensor([float(d(float(p))) for p in pts], dtype=torch.float64)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_cli_counterexample_list_and_verify(capsys):
    assert main(["counterexample", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["entries"]
    assert set(listed) == set(C.names())
    assert main(["counterexample", "linear", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["certificate"]["valid"] is True and data["demonstration"] is None
    assert main(["counterexample", "model_order_too_high"]) == 0
    assert "VALID: every check passed" in capsys.readouterr().out


def test_cli_counterexample_unknown_name_exits_2(capsys):
    assert main(["counterexample", "nope"]) == 2
    assert "unknown counterexample" in capsys.readouterr().err


def test_cli_conjecture_json_and_out(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["conjecture", "--order", "1", "--trials", "1", "--slots", "1,1", "--json",
                 "--out", str(out), "--candidates", str(tmp_path / "c")])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["slotwise"] == 1 and data["trials"][0]["dimension"] == 4
    assert json.loads(out.read_text())["order"] == 1
    assert main(["conjecture", "--order", "1", "--slots", "x"]) == 2
