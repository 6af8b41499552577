"""CPU smoke runs of every model variant through engine.fit, the experiment runner and the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from numerics.cli import main
from numerics.core.errors import CheckpointError, ConfigError, DataError
from numerics.core.progress import configure_logging
from numerics.sprites.data import render
from numerics.sprites.experiment import VARIANTS, preset, run_experiment, variant_run
from numerics.sprites.training import SpritesRun, batch_index, evaluate_sprites, train_sprites


def test_smoke_experiment_every_variant_and_metric(tmp_path) -> None:
    # full: Transformer encoder + decoder; the other two cover the baseline encoder and decoder
    variants = ("full", "spatial-broadcast", "slot-attention")
    result = run_experiment(preset("smoke"), tmp_path, variants=variants, n_eval=24,
                            n_jacobian=2, regressor="linear")
    assert [r["variant"] for r in result.rows] == list(variants)
    for row in result.rows:
        assert row["recon_mse"] > 0 and row["recon_r2"] <= 1.0
        assert -1.0 <= row["j_ari"] <= 1.0 and -1.0 <= row["fg_ari"] <= 1.0
        assert 0.0 <= row["jis"] <= 1.0 and row["sis"] == row["sis"]
        assert row["verdict"] in ("objects", "collapsed", "no-recon", "mixed")
        assert row["collapsed"] == (row["verdict"] == "collapsed")
        assert 0.0 < row["dominant_share"] <= 1.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["variant"] for r in saved["rows"]] == list(variants)
    assert [s["variant"] for s in saved["summary"]] == list(variants)
    table = (tmp_path / "results.md").read_text()
    assert "| spatial-broadcast |" in table and "verdict" in table and "±" in table
    assert (tmp_path / "jacobian_maps.png").stat().st_size > 0
    assert "curves" not in result.files  # eval_every = 0: no learning curves
    for v in variants:
        assert (tmp_path / f"occlusion-{v}-s0.pt").is_file()


def test_experiment_seeds_modes_curves_and_collapse_flag(tmp_path, monkeypatch) -> None:
    import numerics.sprites.experiment as experiment

    base = replace(preset("smoke"), engine=replace(preset("smoke").engine, eval_every=4))
    monkeypatch.setattr(experiment, "OBJECTS_J_ARI", -1.0)  # every evaluation "finds objects"
    result = run_experiment(base, tmp_path, variants=("full",), seeds=(3, 4),
                            modes=("occlusion", "shadow"), n_eval=8, n_jacobian=2,
                            regressor="linear", n_curve=4)
    for row in result.rows:  # the first evaluation (step 4 of 8) reached the threshold
        assert row["steps_to_objects"] == 4.0
        assert row["seconds_to_objects"] == pytest.approx(row["train_s"] / 2)
    assert [(r["mode"], r["seed"]) for r in result.rows] == [
        ("occlusion", 3), ("occlusion", 4), ("shadow", 3), ("shadow", 4)]
    assert [s["seeds"] for s in result.summary] == [2, 2]
    jis_values = [r["jis"] for r in result.rows[:2]]
    assert result.summary[0]["jis"] == pytest.approx(sum(jis_values) / 2)
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
    curves = json.loads((tmp_path / "results.json").read_text())["curves"]
    # the figures' runs: the first seed in every mode, labelled "MODE VARIANT"
    assert sorted(curves) == ["occlusion full", "shadow full"]
    curve = curves["occlusion full"]
    assert [e["step"] for e in curve["evaluations"]] == [4.0, 8.0]
    run_curves = json.loads((tmp_path / "results.json").read_text())["run_curves"]
    assert sorted(run_curves) == ["occlusion/full/s3", "occlusion/full/s4", "shadow/full/s3",
                                  "shadow/full/s4"]
    assert run_curves["occlusion/full/s3"] == curve
    assert run_curves["shadow/full/s3"] == curves["shadow full"]
    assert {"jis", "j_ari", "dominant_share"} <= set(curve["evaluations"][0])
    # a collapsed run (forced verdict) is flagged in the markdown
    rows = [{**result.rows[0], "verdict": "collapsed", "collapsed": True}]
    assert "**collapsed**" in experiment.markdown_table(rows)
    assert experiment.summarize(rows)[0]["collapsed"] == 1
    with pytest.raises(ConfigError):
        run_experiment(base, tmp_path, variants=("full",), seeds=(1, 1))


def test_parallel_jobs_give_the_same_rows(tmp_path, capfd) -> None:
    """Two worker processes of one thread each reproduce the sequential one-thread runs, and
    log as the parent does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    configure_logging()
    base = replace(preset("smoke"), engine=replace(preset("smoke").engine, eval_every=4))
    try:
        kwargs = {"variants": ("full", "alpha=0"), "seeds": (1,), "n_eval": 8, "n_jacobian": 2,
                  "regressor": "linear", "n_curve": 4}
        parallel = run_experiment(base, tmp_path / "b", jobs=2, **kwargs)
        logged = capfd.readouterr().err
        torch.set_num_threads(1)
        serial = run_experiment(base, tmp_path / "a", **kwargs)
    finally:
        torch.set_num_threads(threads)
    # each worker logged its two learning-curve points (steps 4 and 8)
    assert logged.count("sprites eval (occlusion, seed 1):") == 4
    def same(rows: list[dict]) -> str:  # NaN-safe comparison of everything but wall time
        return json.dumps([{k: v for k, v in r.items() if k != "train_s"} for r in rows],
                          sort_keys=True)

    assert same(parallel.rows) == same(serial.rows)
    with pytest.raises(ConfigError, match="jobs"):
        run_experiment(preset("smoke"), tmp_path, jobs=0)


def test_gpu_preset_config_path_on_cpu_without_autocast(tmp_path) -> None:
    gpu = preset("gpu")
    assert gpu.engine.amp and gpu.model.decoder == "transformer" and gpu.loss.alpha > 0
    small = replace(gpu, n_train=16, batch_size=4, compile=False,
                    engine=replace(gpu.engine, steps=2, amp=False, device="cpu",
                                   warmup_steps=1, progress=False, checkpoint=None))
    model, fit = train_sprites(small)
    assert fit.steps == 2 and fit.device == "cpu"
    metrics = evaluate_sprites(model, render(small.data, 4, 1), n_jacobian=1, sis=False,
                               device="cpu")
    assert metrics["recon_mse"] > 0 and metrics["sis"] != metrics["sis"]


def test_training_is_reproducible_and_resumes(tmp_path) -> None:
    # constant lr: the 2-step first half then follows the same schedule as the 4-step run
    run = replace(preset("smoke"), engine=replace(preset("smoke").engine, steps=4,
                                                  schedule="constant"))
    scenes = render(run.data, run.n_train, run.data_seed)
    a, _ = train_sprites(run, scenes)
    b, _ = train_sprites(run, scenes)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    ckpt = str(tmp_path / "m.pt")
    half = replace(run, engine=replace(run.engine, steps=2, checkpoint=ckpt))
    train_sprites(half, scenes)
    resumed, fit = train_sprites(replace(run, engine=replace(run.engine, checkpoint=ckpt)),
                                 scenes)
    assert fit.resumed_from == 2
    for pa, pr in zip(a.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(pa, pr, atol=1e-6)
    # a checkpoint of other settings is refused, naming what differs
    other = replace(run, loss=replace(run.loss, alpha=run.loss.alpha * 2),
                    engine=replace(run.engine, checkpoint=ckpt))
    with pytest.raises(CheckpointError, match=r"loss\.alpha"):
        train_sprites(other, scenes)


def test_modulation_start_trains_the_unmodulated_run_until_then() -> None:
    """With modulation_start = the number of steps, the modulated run is the unmodulated run
    bit for bit (W_g, b_g never act, never train, stay zero); started earlier, W_g trains and
    the runs part."""
    run = preset("smoke")
    scenes = render(run.data, run.n_train, run.data_seed)
    plain, _ = train_sprites(run, scenes)
    steps = run.engine.steps

    def modulated(start: int) -> dict[str, torch.Tensor]:
        model = replace(run.model, modulation=True, modulation_start=start)
        return train_sprites(replace(run, model=model), scenes)[0].state_dict()

    late, early = modulated(steps), modulated(steps // 2)
    gammas = [k for k in late if ".gamma." in k]
    assert len(gammas) == 2 * run.model.decoder_layers
    assert all(torch.equal(v, late[k]) for k, v in plain.state_dict().items())
    assert all(not late[k].any() for k in gammas)
    assert any(early[k].any() for k in gammas)
    assert not torch.equal(early["decoder.out.3.weight"], late["decoder.out.3.weight"])


def test_object_count_curriculum_draws_full_scenes_first_then_all() -> None:
    run = replace(preset("smoke"), batch_size=16, curriculum_steps=3)
    scenes = render(replace(run.data, min_objects=1, max_objects=3), 200, 0)
    full = (scenes.present.sum(dim=1) == 3).nonzero().flatten()
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        assert (scenes.present[batch_index(run, step, 200, full, g)].sum(dim=1) == 3).all()
    later = batch_index(run, 3, 200, full, g)
    assert (scenes.present[later].sum(dim=1) < 3).any()
    # after the curriculum, and without one, the draw is the plain uniform one
    plain = replace(run, curriculum_steps=0)
    a = batch_index(plain, 0, 200, full, torch.Generator().manual_seed(5))
    assert torch.equal(a, torch.randint(0, 200, (16,), generator=torch.Generator().manual_seed(5)))
    assert SpritesRun.from_dict(run.to_dict()) == run
    with pytest.raises(ConfigError, match="curriculum_steps"):
        replace(run, curriculum_steps=-1).validate()
    two = replace(run, data=replace(run.data, min_objects=1, max_objects=2))
    scenes = render(two.data, 64, 0)
    with pytest.raises(DataError, match="curriculum_steps"):  # no scene with two objects
        train_sprites(two, scenes.subset(scenes.present.sum(dim=1) < 2))


def test_evaluate_on_variable_object_counts_and_errors() -> None:
    run = preset("smoke")
    model, _ = train_sprites(replace(run, engine=replace(run.engine, steps=1)))
    data = replace(run.data, min_objects=1, max_objects=2)
    metrics = evaluate_sprites(model, render(data, 12, 7), n_jacobian=2, regressor="linear")
    assert metrics["sis"] != metrics["sis"]  # NaN: fewer than 20 scenes with all objects
    assert variant_run(run, "alpha=0").loss.alpha == 0.0
    assert variant_run(run, "beta=0").loss.beta == 0.0
    assert {variant_run(run, v).model.decoder for v in VARIANTS} == {"transformer",
                                                                     "spatial-broadcast"}
    with pytest.raises(ConfigError, match="unknown variant"):
        variant_run(run, "no-such-variant")
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("laptop")
    with pytest.raises(ConfigError):
        SpritesRun(data=replace(run.data, size=32), model=run.model).validate()


def test_cli_names_are_the_registries() -> None:
    """The CLI's torch-free name lists are the library's registries, in the same order."""
    from numerics.cli.commands import sprites as cli
    from numerics.sprites.data import MODES
    from numerics.sprites.experiment import PRESETS
    from numerics.sprites.models import ENCODER_CLASSES, ENCODERS

    assert cli.PRESETS == tuple(PRESETS) and cli.VARIANTS == VARIANTS and cli.MODES == MODES
    assert cli.ENCODERS == ENCODERS == tuple(ENCODER_CLASSES)


def test_jis_and_j_ari_by_cover(monkeypatch) -> None:
    """jis_single / jis_overlap: JIS on the pixels one / several object masks cover;
    j_ari_overlap / j_ari_apart: J-ARI on the scenes with / without such a pixel."""
    import numerics.sprites.training as training

    jac = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [3.0, 1.0], [0.0, 5.0]]])  # (1, P=4, K=2)
    seg = torch.tensor([[1, 1, 2, 0]])
    cover = torch.tensor([[1, 2, 2, 0]])
    got = training._by_cover(jac, seg, cover)
    assert got["jis_single"] == 1.0  # max share 1 -> (1 - 1/2) / (1 - 1/2)
    assert got["jis_overlap"] == pytest.approx(((0.5 + 0.75) / 2 - 0.5) / 0.5)
    # argmax on the foreground: slots (0, 0, 0) against objects (1, 1, 2): ARI 0
    assert got["j_ari"] == got["j_ari_overlap"] == 0.0
    assert math.isnan(got["j_ari_apart"])
    apart = training._by_cover(jac, seg, torch.tensor([[1, 1, 0, 1]]))
    assert math.isnan(apart["jis_overlap"]) and math.isnan(apart["j_ari_overlap"])
    assert apart["j_ari_apart"] == 0.0
    # two scenes: a perfect one without overlap (ARI 1) and the one above (ARI 0)
    two = training._by_cover(torch.cat([torch.tensor([[[2.0, 0.0], [0.0, 1.0], [0.0, 1.0],
                                                       [1.0, 1.0]]]), jac]),
                             torch.cat([torch.tensor([[1, 2, 2, 0]]), seg]),
                             torch.cat([torch.tensor([[1, 1, 1, 0]]), cover]))
    assert (two["j_ari"], two["j_ari_apart"], two["j_ari_overlap"]) == (0.5, 1.0, 0.0)
    run = preset("smoke")
    model, _ = train_sprites(replace(run, engine=replace(run.engine, steps=1)))
    scenes = render(run.data, 6, 3)
    metrics = evaluate_sprites(model, scenes, n_jacobian=6, sis=False)
    seen = []
    by_cover = training._by_cover
    monkeypatch.setattr(training, "_by_cover",
                        lambda j, s, c: seen.append((j, s, c)) or by_cover(j, s, c))
    evaluate_sprites(model, scenes, n_jacobian=6, sis=False)
    jac_seen, seg_seen, cover_seen = seen[0]
    assert torch.equal(cover_seen, scenes.masks.flatten(2).sum(dim=1))
    assert torch.equal(seg_seen, scenes.segmentation.flatten(1))
    expected = by_cover(jac_seen, seg_seen, cover_seen)
    for key in ("jis_single", "j_ari", "j_ari_overlap", "j_ari_apart"):
        assert metrics[key] == expected[key] or (math.isnan(metrics[key])
                                                 and math.isnan(expected[key]))


def test_cli_train_eval_render(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["sprites", "train", "--preset", "smoke", "--steps", "2", "--out", str(out),
                 "--no-progress", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["steps"] == 2 and (out / "model.pt").is_file()
    assert main(["sprites", "eval", str(out), "--n", "25", "--n-jacobian", "2",
                 "--regressor", "linear", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) >= {"recon_mse", "jis", "j_ari", "fg_ari", "sis"}
    cache = tmp_path / "s.npz"
    assert main(["sprites", "render", "--n", "5", "--size", "8", "--out", str(cache),
                 "--no-progress"]) == 0
    assert cache.is_file()
    assert main(["sprites", "train", "--preset", "smoke", "--decoder", "spatial-broadcast",
                 "--alpha", "1", "--out", str(tmp_path / "bad")]) == 2
    assert main(["sprites", "eval", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err
    # a run folder whose model file or configuration was replaced: one line, exit 2
    good_state = torch.load(out / "model.pt", weights_only=True)
    for content in ([1, 2, 3], {"model": [1, 2]}, {"model": {"w": torch.zeros(2)}}):
        torch.save(content, out / "model.pt")
        assert main(["sprites", "eval", str(out), "--n", "5"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "model.pt" in err
    torch.save(good_state, out / "model.pt")
    config = json.loads((out / "run.json").read_text())
    config["model"]["slots"] = -3
    (out / "run.json").write_text(json.dumps(config))
    assert main(["sprites", "eval", str(out), "--n", "5"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_experiment_seeds_and_bad_input(tmp_path, capsys) -> None:
    out = tmp_path / "exp"
    assert main(["sprites", "experiment", "--preset", "smoke", "--variants", "full",
                 "--seeds", "0", "1", "--n-eval", "6", "--n-jacobian", "2", "--regressor",
                 "linear", "--alpha-start", "2", "--alpha-warmup", "2", "--lr", "2e-3",
                 "--curriculum-steps", "1", "--modulation", "--modulation-start", "3",
                 "--out", str(out), "--no-progress",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in payload["rows"]] == [0, 1]
    assert payload["summary"][0]["seeds"] == 2
    saved = json.loads((out / "results.json").read_text())
    assert saved["base"]["loss"]["alpha_start"] == 2 and saved["base"]["engine"]["lr"] == 2e-3
    assert saved["base"]["curriculum_steps"] == 1 and saved["base"]["model"]["modulation"]
    assert saved["base"]["model"]["modulation_start"] == 3
    command = ["sprites", "experiment", "--preset", "smoke", "--variants", "full", "--out",
               str(tmp_path / "bad")]
    for bad in (["--alpha-start", "-1"], ["--lr", "0"], ["--curriculum-steps", "-2"]):  # parser
        with pytest.raises(SystemExit) as stop:
            main([*command, *bad])
        assert stop.value.code == 2
    capsys.readouterr()
    assert main([*command, "--seeds", "1", "1"]) == 2  # refused by run_experiment
    assert capsys.readouterr().err.count("\n") == 1


def test_pixel_subsampled_training_is_seeded_and_reaches_the_cli(tmp_path, capsys) -> None:
    """pixel_fraction < 1 trains reproducibly (the pixel sets come from the run's generator),
    differs from the full-image run, and --pixel-fraction sets it (out of (0, 1]: exit 2)."""
    base = preset("smoke")
    half = replace(base, loss=replace(base.loss, pixel_fraction=0.5))
    scenes = render(base.data, base.n_train, 0)
    a, _ = train_sprites(half, scenes)
    b, _ = train_sprites(half, scenes)
    full, _ = train_sprites(base, scenes)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pf) for pa, pf in zip(a.parameters(), full.parameters(),
                                                          strict=True))
    out = tmp_path / "run"
    assert main(["sprites", "train", "--preset", "smoke", "--steps", "2", "--pixel-fraction",
                 "0.25", "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "run.json").read_text())["loss"]["pixel_fraction"] == 0.25
    capsys.readouterr()
    for bad in ("0", "1.5", "x"):  # refused by the parser: one line, exit 2
        with pytest.raises(SystemExit) as stop:
            main(["sprites", "train", "--preset", "smoke", "--pixel-fraction", bad,
                  "--out", str(tmp_path / "bad")])
        assert stop.value.code == 2
        assert "--pixel-fraction" in capsys.readouterr().err


def test_combine_equals_one_experiment_and_refuses_mismatches(tmp_path, capsys) -> None:
    """Folders of separate experiments combine into the rows and summary one experiment over
    all of them writes; mismatched settings, repeated runs and foreign checkpoints are refused."""
    import shutil

    from numerics.sprites.experiment import combine_experiments

    base = replace(preset("smoke"), engine=replace(preset("smoke").engine, eval_every=4))
    kwargs = {"n_eval": 8, "n_jacobian": 2, "regressor": "linear", "n_curve": 4}
    whole = run_experiment(base, tmp_path / "whole", variants=("full", "alpha=0"), seeds=(1, 2),
                           **kwargs)
    run_experiment(base, tmp_path / "a", variants=("alpha=0",), seeds=(1, 2), **kwargs)
    run_experiment(base, tmp_path / "b", variants=("full",), seeds=(2,), **kwargs)
    run_experiment(base, tmp_path / "c", variants=("full",), seeds=(1,), **kwargs)
    # an older results.json: no eval_seed, no pixel_fraction in the base (defaults apply)
    old = json.loads((tmp_path / "c" / "results.json").read_text())
    del old["eval_seed"], old["base"]["loss"]["pixel_fraction"]
    (tmp_path / "c" / "results.json").write_text(json.dumps(old))
    combined = combine_experiments([tmp_path / "a", tmp_path / "b", tmp_path / "c"],
                                   tmp_path / "all")

    def same(rows: list[dict]) -> str:  # NaN-safe, without wall time
        return json.dumps([{k: v for k, v in r.items()
                            if k not in ("train_s", "seconds_to_objects")} for r in rows],
                          sort_keys=True)

    assert [(r["variant"], r["seed"]) for r in combined.rows] == [
        ("full", 1), ("full", 2), ("alpha=0", 1), ("alpha=0", 2)]
    assert same(combined.rows) == same(whole.rows)
    saved = json.loads((tmp_path / "all" / "results.json").read_text())
    assert saved["seeds"] == [1, 2] and saved["eval_seed"] == 12345
    assert sorted(saved["curves"]) == ["alpha=0", "full"]
    assert sorted(saved["run_curves"]) == sorted(json.loads(
        (tmp_path / "whole" / "results.json").read_text())["run_curves"])
    for e, w in zip(combined.summary, whole.summary, strict=True):
        assert (e["variant"], e["seeds"]) == (w["variant"], 2)
        assert e["j_ari"] == pytest.approx(w["j_ari"]) and e["jis"] == pytest.approx(w["jis"])
    assert (tmp_path / "all" / "jacobian_maps.png").stat().st_size > 0
    assert (tmp_path / "all" / "learning_curves.png").stat().st_size > 0
    with pytest.raises(ConfigError, match="full seed 1 is in both"):
        combine_experiments([tmp_path / "whole", tmp_path / "c"], tmp_path / "x")
    other = replace(base, loss=replace(base.loss, alpha=0.5))
    run_experiment(other, tmp_path / "d", variants=("beta=0",), seeds=(1,), **kwargs)
    with pytest.raises(ConfigError, match=r"loss\.alpha"):
        combine_experiments([tmp_path / "a", tmp_path / "d"], tmp_path / "x")
    with pytest.raises(ConfigError, match=r"results\.json"):
        combine_experiments([tmp_path / "a", tmp_path / "nowhere"], tmp_path / "x")
    # the figure's checkpoint (first seed of full, in b) replaced by another run's
    shutil.copy(tmp_path / "a" / "occlusion-alpha=0-s1.pt", tmp_path / "c" / "occlusion-full-s1.pt")
    with pytest.raises(CheckpointError, match="not written for the occlusion full run"):
        combine_experiments([tmp_path / "a", tmp_path / "c"], tmp_path / "x")
    (tmp_path / "c" / "occlusion-full-s1.pt").unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        combine_experiments([tmp_path / "a", tmp_path / "c"], tmp_path / "x")
    (tmp_path / "file").write_text("")
    capsys.readouterr()
    assert main(["sprites", "combine", str(tmp_path / "a"), "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["sprites", "combine", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                 str(tmp_path / "cli"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [(r["variant"], r["seed"]) for r in payload["rows"]] == [
        ("full", 2), ("alpha=0", 1), ("alpha=0", 2)]


def test_cpu_preset_is_cpu_24_on_a_28_canvas_with_objects_of_the_same_pixel_size() -> None:
    cpu, old = preset("cpu"), preset("cpu-24")
    assert (cpu.data.size, cpu.model.size, cpu.loss.pixel_fraction) == (28, 28, 0.75)
    assert old.data.size == 24 and old.loss.pixel_fraction == 1.0
    same_pixels = {"min_scale", "max_scale", "margin"}
    for name in same_pixels:  # in pixels, to the 4 decimals the preset is written with
        assert abs(getattr(cpu.data, name) * 28 - getattr(old.data, name) * 24) < 28e-4
    # nothing else differs: the round-7 runs changed the canvas and the rendered pixels only
    assert replace(cpu.data, size=24, **{n: getattr(old.data, n) for n in same_pixels}) \
        == old.data
    assert replace(cpu.model, size=24) == old.model
    assert replace(cpu.loss, pixel_fraction=1.0) == old.loss
    assert replace(cpu, data=old.data, model=old.model, loss=old.loss) == old
    gpu = preset("gpu")  # whole images on a GPU, the cpu recipe's canvas
    assert gpu.loss.pixel_fraction == 1.0 and gpu.data == cpu.data
