"""``python -m bench``: discovery, --quick forwarding, failures, manifest merge, report."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from bench import __main__ as runner
from bench import common

FAST = textwrap.dedent('''
    """A fake benchmark that honours --quick."""
    import argparse

    from bench.common import write_results


    def main(argv=None):
        parser = argparse.ArgumentParser()
        parser.add_argument("--quick", action="store_true")
        args = parser.parse_args(argv)
        rows = [{"case": "a|b", "ours_s": 0.5, "ref_s": 2.0, "ratio": 4.0},
                {"case": "big", "ours_s": float("nan"), "quick": args.quick}]
        write_results("fast", rows, note="ratio = ref / ours",
                      reach=[{"family": "f", "max_n": 3}],
                      notes=["ratio: the reference's time over ours.", "Second paragraph."])
''')

NO_ARGV = textwrap.dedent('''
    """A benchmark whose main() takes no argv and parses sys.argv itself."""
    import argparse

    from bench.common import write_results


    def main():
        args = argparse.ArgumentParser().parse_args()
        write_results("noargv", [{"seen": "ok"}])
''')

STRAY = textwrap.dedent('''
    """A benchmark during whose run another process writes a JSON file into the results dir."""
    from bench import common
    from bench.common import write_results


    def main(argv=None):
        common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (common.RESULTS_DIR / "other.json").write_text("{}")
        write_results("stray", [{"x": 1}])
''')

BROKEN = textwrap.dedent('''
    def main(argv=None):
        assert not argv, "no options expected"
        raise RuntimeError("reference diverged")
''')


@pytest.fixture
def fake_bench(tmp_path, monkeypatch):
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bench_fast.py").write_text(FAST)
    (package / "bench_broken.py").write_text(BROKEN)
    (package / "bench_noargv.py").write_text(NO_ARGV)
    (package / "bench_stray.py").write_text(STRAY)
    (package / "helpers.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path / "results")
    yield tmp_path
    for name in [m for m in sys.modules if m.split(".")[0] == "fakebench"]:
        del sys.modules[name]


def test_runner_runs_all_and_writes_the_report(fake_bench):
    doc = fake_bench / "benchmarks.md"
    assert runner.discover("fakebench") == ["broken", "fast", "noargv", "stray"]
    status = runner.run_benches(quick=True, package="fakebench", doc=doc)
    assert status == 1  # one benchmark failed
    manifest = json.loads((fake_bench / "results" / "index.json").read_text())
    assert manifest["fast"]["command"] == "python -m fakebench.bench_fast --quick"
    assert manifest["fast"]["results"] == [str(fake_bench / "results" / "fast.json")]
    assert manifest["broken"]["command"] == "python -m fakebench.bench_broken"
    assert manifest["broken"]["error"] == "RuntimeError: reference diverged"
    text = doc.read_text()
    assert "Command: `python -m fakebench.bench_fast --quick`" in text
    assert "| case | ours_s | ref_s | ratio | quick |" in text
    assert "| a\\|b | 0.5 | 2 | 4 |  |" in text
    assert "| big | — |  |  | True |" in text
    assert "- note: ratio = ref / ours" in text
    # an extra that is a list of rows is a table of its own; notes are paragraphs after them
    fast = runner.report_sections(text)["fast"]
    assert fast.endswith("| a\\|b | 0.5 | 2 | 4 |  |\n| big | — |  |  | True |\n\nreach:\n\n"
                         "| family | max_n |\n|---|---|\n| f | 3 |\n\n"
                         "ratio: the reference's time over ours.\n\nSecond paragraph.")
    assert "- reach" not in fast and "- notes" not in fast
    assert "**Failed**: RuntimeError: reference diverged" in text
    assert manifest["noargv"]["status"] == "ok"
    assert "| seen |" in text and "| ok |" in text
    # a file written meanwhile by someone else is not attributed to the benchmark
    assert manifest["stray"]["results"] == [str(fake_bench / "results" / "stray.json")]
    assert "other.json" not in text


def test_only_reruns_one_benchmark_and_keeps_the_others(fake_bench):
    doc = fake_bench / "benchmarks.md"
    runner.run_benches(quick=True, package="fakebench", doc=doc)
    assert runner.run_benches(["fast"], quick=False, package="fakebench", doc=doc) == 0
    manifest = json.loads((fake_bench / "results" / "index.json").read_text())
    assert manifest["fast"]["command"] == "python -m fakebench.bench_fast"
    assert manifest["broken"]["status"] == "failed"
    text = doc.read_text()
    assert "## broken" in text and "## fast" in text
    assert "| big | — |  |  | False |" in text


def test_only_without_a_manifest_keeps_the_other_sections_of_the_report(fake_bench):
    """A fresh clone has the report but no manifest (bench/results/ is not in git): --only
    rewrites its own section and keeps every other benchmark's section verbatim, notes
    included; a section of a benchmark that no longer exists is dropped."""
    doc = fake_bench / "benchmarks.md"
    noargv = "## noargv\n\nCommand: `old`\n\n| seen |\n|---|\n| old |\n\nA note by hand."
    doc.write_text("# Benchmarks\n\nintro\n\n" + noargv + "\n\n## fast\n\nstale table\n\n"
                   "## gone\n\nremoved benchmark\n")
    assert runner.run_benches(["fast"], quick=True, package="fakebench", doc=doc) == 0
    text = doc.read_text()
    assert noargv + "\n" in text
    assert "stale table" not in text and "| a\\|b | 0.5 | 2 | 4 |  |" in text
    assert "## gone" not in text
    assert text.index("## fast") < text.index("## noargv")
    assert runner.report_sections(text)["noargv"] == noargv


def test_unknown_benchmark_is_rejected(fake_bench, capsys):
    assert runner.run_benches(["nope"], package="fakebench", doc=fake_bench / "d.md") == 2
    err = capsys.readouterr().err
    assert "unknown benchmark(s) nope; available: broken, fast, noargv, stray" in err
    assert not (fake_bench / "d.md").exists()


def test_markdown_table_cells():
    table = runner.markdown_table([{"a": 1.23456789, "b": [1, 2]}, {"c": "x"}])
    assert table.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1.235 | [1, 2] |  |",
                                  "|  |  | x |"]


def test_sprites_time_to_objects_medians_over_the_seeds_that_got_there():
    from bench.bench_sprites import time_to_objects

    nan = float("nan")
    rows = [{"mode": "occlusion", "variant": "full", "steps_to_objects": s, "seconds_to_objects": t,
             "train_s": 100.0 + i, "j_ari": j}
            for i, (s, t, j) in enumerate([(3000.0, 30.0, 0.85), (nan, nan, 0.8),
                                           (5000.0, 50.0, 0.79)])]
    rows.append({"mode": "occlusion", "variant": "alpha=0", "steps_to_objects": None,
                 "seconds_to_objects": None, "train_s": 90.0, "j_ari": 0.5})  # NaN as saved
    full, ablation = time_to_objects(rows)
    assert (full["seeds"], full["reached"], full["median_steps"], full["median_s"],
            full["train_s_median"]) == (3, 2, 4000.0, 40.0, 101.0)
    # the final test-scene J-ARI counts on its own: >= 0.8 at seeds 0 and 1 (train 100, 101 s)
    assert (full["final_reached"], full["final_median_s"]) == (2, 100.5)
    assert ablation["reached"] == 0 and ablation["median_s"] != ablation["median_s"]
    assert ablation["final_reached"] == 0
    assert ablation["final_median_s"] != ablation["final_median_s"]


def test_sprites_diagnose_usual_slots_measure_slots_as_regions():
    import numpy as np

    from bench.sprites_diagnose import usual_slots

    # 3 scenes, 4 pixels: pixel 0 is on slot 0 in every scene, pixels 1 and 2 on slot 1
    # twice, pixel 3 on slots 2, 1, 0 (a tie: the lower index wins) and background only
    pred = np.array([[0, 1, 2, 2], [0, 1, 1, 1], [0, 2, 1, 0]])
    seg = np.array([[1, 1, 2, 0], [1, 2, 2, 0], [1, 1, 0, 0]])
    usual, agreement = usual_slots(pred, seg, 3)
    assert usual.tolist() == [0, 1, 1, 0]
    # foreground: scene 0 pixels 0-2 (slots 0, 1, 2 against 0, 1, 1: 2 on their usual slot),
    # scene 1 pixels 0-2 (3), scene 2 pixels 0-1 (slots 0, 2: 1): 6 of 8
    assert agreement == 6 / 8
    fixed = np.tile([0, 1, 2, 0], (5, 1))
    assert usual_slots(fixed, np.ones_like(fixed), 3)[1] == 1.0


def test_sprites_true_latents_slots_by_hand():
    """Two scenes of up to three objects: a present object's slot is its scaled latents with
    +1 and its depth 2k/2 - 1; an absent one's is (0, 0, 0, 0, 0, -1, depth)."""
    import torch

    from bench.sprites_true_latents import true_slots
    from numerics.sprites.data import Scenes

    latents = torch.zeros(2, 3, 5)
    latents[0, 0] = torch.tensor([0.25, 0.75, 0.15, 0.5, 2.0])
    latents[0, 1] = torch.tensor([0.5, 0.5, 0.1, 0.0, 0.0])
    latents[1, 0] = torch.tensor([1.0, 0.0, 0.2, 0.85, 1.0])
    present = torch.tensor([[True, True, False], [True, False, False]])
    scenes = Scenes(images=torch.zeros(2, 3, 4, 4), masks=torch.zeros(2, 3, 4, 4, dtype=torch.bool),
                    segmentation=torch.zeros(2, 4, 4, dtype=torch.long), latents=latents,
                    present=present)
    expected = torch.tensor([
        [[-0.5, 0.5, 0.5, 0.0, 1.0, 1.0, -1.0], [0.0, 0.0, 0.0, -1.0, -1.0, 1.0, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 1.0]],
        [[1.0, -1.0, 1.0, 0.7, 0.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 1.0]]])
    torch.testing.assert_close(true_slots(scenes), expected, rtol=0, atol=1e-6)


def test_sprites_diagnose_counts_merges_purity_and_scene_kinds():
    import numpy as np
    import torch

    from bench.sprites_diagnose import diagnose, scene_kinds, slot_usage
    from numerics.sprites.data import Scenes, render
    from numerics.sprites.experiment import preset
    from numerics.sprites.models import make_model

    seg = np.array([[1, 1, 2, 2, 0], [1, 1, 2, 2, 0]])
    pred = np.array([[0, 0, 0, 1, 2], [1, 1, 0, 0, 0]])
    merged, used, purity = slot_usage(pred, seg)
    assert merged.tolist() == [True, False] and used.tolist() == [2, 2]
    assert purity == [1.0, 0.5, 1.0, 1.0]
    # 3 x 3 scenes: objects touching side by side, overlapping, and apart (corners)
    masks = torch.zeros(3, 3, 3, 3, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 0, 1] = True
    masks[1, 0, 0, :2] = masks[1, 1, 0, 1:] = True
    masks[2, 0, 0, 0] = masks[2, 1, 2, 2] = True
    segmentation = torch.zeros(3, 3, 3, dtype=torch.long)
    for o in range(2):  # object 1 in front
        segmentation[masks[:, o]] = o + 1
    present = torch.tensor([[True, True, False]] * 3)
    scenes = Scenes(torch.zeros(3, 3, 3, 3), masks, segmentation, torch.zeros(3, 3, 5), present)
    kinds = scene_kinds(scenes)
    assert kinds["overlap"].tolist() == [False, True, False]
    assert kinds["touch"].tolist() == [True, True, False]
    assert kinds["three"].tolist() == [False, False, False]
    run = preset("smoke")
    report = diagnose(make_model(run.model), run.data, 8, 3)
    assert report["j_ari"]["all"]["scenes"] == 8 == len(render(run.data, 8, 3))
    assert len(report["posterior_std"]) == run.model.slot_dim


def test_sprites_diagnose_reads_the_configuration_its_checkpoint_carries(tmp_path):
    import argparse
    from dataclasses import replace

    import pytest
    import torch

    from bench.sprites_diagnose import _load
    from numerics.sprites.experiment import preset
    from numerics.sprites.models import make_model

    smoke = preset("smoke")  # trained on 20 x 20 scenes: not what any preset says
    run = replace(smoke, data=replace(smoke.data, size=20),
                  model=replace(smoke.model, size=20, slots=4))
    path = tmp_path / "occlusion-full-s0.pt"
    torch.save({"model": make_model(run.model, seed=1).state_dict(),
                "fingerprint": run.fingerprint()}, path)
    model, data = _load(argparse.Namespace(weights=str(path), record=None))
    assert model.config == run.model and data == run.data
    torch.save(make_model(run.model).state_dict(), path)  # a bare state dict needs --record
    with pytest.raises(SystemExit, match="--record"):
        _load(argparse.Namespace(weights=str(path), record=None))
