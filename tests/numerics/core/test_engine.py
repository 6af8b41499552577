import math

import pytest
import torch
from torch import nn

from numerics.core.device import resolve_device
from numerics.core.engine import EngineConfig, fit
from numerics.core.errors import CheckpointError, ConfigError


def _task():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    w = torch.tensor([[1.0], [-2.0], [0.5]])

    def sample(step, gen):
        x = torch.randn(32, 3, generator=gen)
        return x, x @ w

    def loss_fn(model, batch, step):
        x, y = batch
        mse = ((model(x) - y) ** 2).mean()
        return mse, {"mse": mse.item()}

    return model, sample, loss_fn


def test_fit_reduces_loss_and_reports():
    model, sample, loss_fn = _task()
    result = fit(model, loss_fn, sample, EngineConfig(steps=200, lr=1e-2, log_every=50,
                                                       progress=False, device="cpu"))
    assert result.steps == 200 and result.steps_run == 200 and result.device == "cpu"
    assert [h["step"] for h in result.history] == [50, 100, 150, 200]
    assert result.history[-1]["loss"] < 0.2 * result.history[0]["loss"]
    assert result.steps_per_second > 0


def test_resume_after_interruption_gives_identical_parameters(tmp_path):
    ckpt = tmp_path / "run.pt"
    base = {"steps": 60, "lr": 1e-2, "progress": False, "device": "cpu"}
    model_ref, sample, loss_fn = _task()
    fit(model_ref, loss_fn, sample, EngineConfig(**base))
    cfg = EngineConfig(**base, checkpoint=str(ckpt), checkpoint_every=20)
    model_a, sample, loss_fn = _task()
    # the interrupted run: killed after step 40 (simulated by an exception in the loss)
    def dying_loss(model, batch, step):
        if step == 45:
            raise KeyboardInterrupt
        return loss_fn(model, batch, step)

    with pytest.raises(KeyboardInterrupt):
        fit(model_a, dying_loss, sample, cfg)
    model_b, sample, loss_fn = _task()
    resumed = fit(model_b, loss_fn, sample, cfg)
    assert resumed.resumed_from == 40 and resumed.steps_run == 20
    for pr, pb in zip(model_ref.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(pr, pb)


def test_training_time_accumulates_across_a_resume(tmp_path):
    """total_seconds = seconds of the calls before (carried by the checkpoint) + this call."""
    ckpt = tmp_path / "run.pt"
    base = {"steps": 20, "lr": 1e-2, "progress": False, "device": "cpu",
            "checkpoint": str(ckpt), "checkpoint_every": 10, "schedule": "constant"}
    model, sample, loss_fn = _task()
    first = fit(model, loss_fn, sample, EngineConfig(**{**base, "steps": 10}))
    assert first.total_seconds == first.seconds > 0
    saved = torch.load(ckpt, weights_only=True)["seconds"]
    assert 0 < saved <= first.seconds
    model, sample, loss_fn = _task()
    second = fit(model, loss_fn, sample, EngineConfig(**base))
    assert second.resumed_from == 10
    assert second.total_seconds == pytest.approx(saved + second.seconds)
    # the final write carries the first call's saved time plus this call's up to the write
    # (not first.seconds: the first call ran on for a moment after its own write)
    saved_first, saved = saved, torch.load(ckpt, weights_only=True)["seconds"]
    assert saved_first < saved <= second.total_seconds
    model, sample, loss_fn = _task()
    done = fit(model, loss_fn, sample, EngineConfig(**base))
    assert done.steps_run == 0 and done.total_seconds == pytest.approx(saved + done.seconds)
    # a checkpoint from before the time was recorded: total unknown, not a guess
    state = torch.load(ckpt, weights_only=True)
    del state["seconds"]
    torch.save(state, ckpt)
    model, sample, loss_fn = _task()
    assert math.isnan(fit(model, loss_fn, sample, EngineConfig(**base)).total_seconds)
    state["seconds"] = "long"
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError, match="seconds"):
        fit(model, loss_fn, sample, EngineConfig(**base))


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    model, sample, loss_fn = _task()
    fit(model, loss_fn, sample, EngineConfig(steps=5, progress=False, device="cpu",
                                             checkpoint=str(ckpt), checkpoint_every=5))
    other = nn.Linear(3, 1)
    with pytest.raises(CheckpointError, match="does not match"):
        fit(other, loss_fn, sample, EngineConfig(steps=10, progress=False, device="cpu",
                                                 checkpoint=str(ckpt)))


def test_lr_schedule_warmup_then_cosine():
    cfg = EngineConfig(steps=110, lr=1.0, warmup_steps=10)
    assert cfg.lr_at(0) == pytest.approx(0.1)
    assert cfg.lr_at(9) == pytest.approx(1.0)
    assert cfg.lr_at(10) == pytest.approx(1.0)
    assert cfg.lr_at(60) == pytest.approx(0.5)
    assert cfg.lr_at(110) == pytest.approx(0.0, abs=1e-12)
    assert math.isclose(EngineConfig(schedule="constant").lr_at(1000), 1e-3)


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": -1}, {"lr": 0.0}, {"schedule": "linear"}, {"grad_clip": 0.0}, {"log_every": 0}],
)
def test_invalid_config_is_rejected(kwargs):
    with pytest.raises(ConfigError):
        EngineConfig(**kwargs).validate()


def test_resolve_device():
    assert resolve_device("auto").type in ("cpu", "cuda")
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


def test_step_hook_runs_before_every_forward_pass_of_the_stage():
    model, sample, loss_fn = _task()
    calls, seen = [], []

    def hook(m, step):
        calls.append(step)
        if step == 3:  # a state change at step 3 is what the forward pass of step 3 sees
            with torch.no_grad():
                m[2].bias.fill_(100.0)

    def recording_loss(m, batch, step):
        seen.append((step, float(m[2].bias.detach())))
        return loss_fn(m, batch, step)

    config = EngineConfig(steps=6, first_step=1, last_step=5, progress=False, device="cpu",
                          lr=1e-9, weight_decay=0.0)
    fit(model, recording_loss, sample, config, step_hook=hook)
    assert calls == [1, 2, 3, 4]
    assert [s for s, _ in seen] == calls
    assert seen[2][1] == pytest.approx(100.0) and seen[1][1] != pytest.approx(100.0)


@pytest.mark.parametrize("native", [True, False])
def test_amp_autocasts_only_where_the_device_has_native_bf16(monkeypatch, native):
    """amp=True trains under bf16 autocast when bf16_autocast(device) says so, and otherwise
    gives exactly the float32 run (amp=False)."""
    monkeypatch.setattr("numerics.core.engine.bf16_autocast", lambda device: native)
    model, sample, loss_fn = _task()
    seen = []

    def watching_loss(m, batch, step):
        seen.append(torch.is_autocast_enabled("cpu"))
        return loss_fn(m, batch, step)

    base = {"steps": 5, "lr": 1e-2, "progress": False, "device": "cpu"}
    fit(model, watching_loss, sample, EngineConfig(**base, amp=True))
    assert seen == [native] * 5
    reference, sample, loss_fn = _task()
    fit(reference, loss_fn, sample, EngineConfig(**base))
    same = all(torch.equal(a, b) for a, b in
               zip(model.parameters(), reference.parameters(), strict=True))
    assert same is not native


def test_bf16_autocast_is_false_off_cpu_and_cuda():
    from numerics.core.device import bf16_autocast

    assert bf16_autocast(torch.device("meta")) is False
    assert bf16_autocast(torch.device("cpu")) is bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
