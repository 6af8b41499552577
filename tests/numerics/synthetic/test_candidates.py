"""numerics.synthetic.candidates: saving, loading and re-examining candidate counterexample runs."""

from __future__ import annotations

import json

import pytest
import torch

from numerics.cli import main
from numerics.core.errors import CheckpointError, ConfigError
from numerics.synthetic.candidates import (
    CONCLUSIONS,
    conclude,
    load_candidate,
    recheck,
    save_candidate,
)
from numerics.synthetic.training import TrainConfig, train

TINY = {"steps": 30, "n_train": 256, "n_eval": 100, "n_val": 128, "batch_size": 64,
        "progress": False, "device": "cpu", "hidden": 8, "encoder_hidden": 16,
        "generator": "sympy", "slot_sizes": (1, 1), "outputs": 8, "seed": 5}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    result = train(TrainConfig.from_settings(TINY))
    folder = save_candidate(result, str(tmp_path_factory.mktemp("cands")))
    return result, folder


def test_load_candidate_gives_back_the_run(saved) -> None:
    result, folder = saved
    config, model, stored = load_candidate(folder)
    # the same settings; the generator is now given as the saved expressions
    assert {k: v for k, v in config.to_dict().items() if k != "sympy_generator"} == \
        {k: v for k, v in result.config.items() if k != "sympy_generator"}
    assert list(config.sympy_generator.f) == list(result.symbolic.f)
    assert stored["val_recon"] == result.val_recon
    x = torch.randn(5, 8)
    assert torch.equal(model(x)[1], result.model(x)[1])


def test_recheck_reproduces_the_run_then_trains_deterministically(saved) -> None:
    result, folder = saved
    first = recheck(folder, steps=20, seed=3)
    # before: the run's own numbers, recomputed from the saved files
    assert first.before["val_recon"] == result.val_recon
    assert first.before["off_block"] == pytest.approx(result.off_block, rel=1e-12)
    assert first.before["sis"] == pytest.approx(result.sis, rel=1e-12)
    assert first.steps == 20 and first.lr == pytest.approx(TINY.get("lr", 0.01) / 2)
    assert [p["step"] for p in first.trace] == [5.0, 10.0, 15.0, 20.0]
    assert all(0 <= p["off_block"] <= 1 and p["val_recon"] > 0 for p in first.trace)
    assert first.after["val_recon"] != first.before["val_recon"]  # it did train
    assert first.conclusion == conclude(first.after) and first.conclusion in CONCLUSIONS
    again = recheck(folder, steps=20, seed=3)
    assert again.after == first.after
    json.dumps(first.to_dict())


def _state(verdict: str, off_block: float) -> dict:
    return {"off_block": off_block, "verdict": {"verdict": verdict, "off_block_threshold": 0.05}}


@pytest.mark.parametrize(("state", "expected"), [
    (_state("identified", 0.01), "slot-wise after more training"),
    (_state("not-converged", 0.05), "slot-wise after more training"),
    (_state("not-converged", 0.2), "mixed, no longer reconstructs"),
    (_state("mixed-but-reconstructs", 0.051), "still mixed and reconstructing"),
])
def test_conclude_hand_built(state: dict, expected: str) -> None:
    assert conclude(state) == expected


def test_bad_folders_and_arguments(saved, tmp_path) -> None:
    _, folder = saved
    with pytest.raises(ConfigError, match="not a folder"):
        load_candidate(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"result\.json does not exist"):
        load_candidate(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("result.json", "generator.json"):
        with open(f"{folder}/{name}", "rb") as source:
            (broken / name).write_bytes(source.read())
    (broken / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot load"):
        load_candidate(broken)
    other = torch.load(f"{folder}/model.pt", weights_only=True)
    other["config"] = {**other["config"], "seed": 6}
    torch.save(other, broken / "model.pt")
    with pytest.raises(CheckpointError, match="does not belong"):
        load_candidate(broken)
    (broken / "result.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="JSON object"):
        load_candidate(broken)
    for steps in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="steps"):
            recheck(folder, steps=steps)
    with pytest.raises(ConfigError, match="lr"):
        recheck(folder, steps=1, lr=-1.0)


def test_cli_recheck_prints_both_verdicts_and_fails_in_one_line(saved, capsys) -> None:
    _, folder = saved
    assert main(["recheck", folder, "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "before:" in out and "after :" in out and "conclusion:" in out
    assert main(["recheck", folder, "--steps", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["conclusion"] in CONCLUSIONS
    assert main(["recheck", "/nonexistent/candidate"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a folder" in err


def test_cli_train_save_writes_a_folder_that_recheck_reads(tmp_path, capsys) -> None:
    argv = ["train", "--generator", "neural", "--slots", "2x1", "--outputs", "6", "--steps",
            "15", "--n-train", "128", "--n-eval", "60", "--hidden", "8", "--device", "cpu",
            "--seed", "2", "--save", str(tmp_path), "--json"]
    assert main(argv) == 0
    run = json.loads(capsys.readouterr().out)
    (folder,) = list(tmp_path.iterdir())
    assert folder.name == "1x1-n1-d1-seed2" and not (folder / "generator.json").exists()
    config, _, stored = load_candidate(folder)  # a neural generator is rebuilt from its seed
    assert config.generator == "neural" and stored["val_recon"] == run["val_recon"]
    assert main(["recheck", str(folder), "--steps", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["before"]["val_recon"] == run["val_recon"]
