"""The package's one training loop, shared by synthetic generators, sprites and the bump task.

A task supplies a model, ``sample_batch(step, generator) -> batch`` (tensors, tuples or dicts of
tensors, made on the CPU from the given seeded generator) and
``loss_fn(model, batch, step) -> (loss, logs)``. :func:`fit` runs AdamW with linear warm-up and a
cosine schedule, clips gradients, reports progress (:mod:`numerics.core.progress`: a bar on a
terminal, a log line per 10 % elsewhere), calls an optional ``evaluate`` callback
periodically, writes atomic checkpoints and resumes from one after an interruption, so that an
interrupted and resumed run gives the same numbers as an uninterrupted one on the CPU.
Mixed precision (bfloat16 autocast) is used only when the task asks for it (``amp``) and the
device has native bfloat16 kernels (:func:`~numerics.core.device.bf16_autocast`: CUDA, or a
CPU with AVX512-BF16 or AMX); elsewhere the same run trains in float32.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from numerics.core.device import bf16_autocast, resolve_device
from numerics.core.errors import CheckpointError, ConfigError, DivergenceError
from numerics.core.io import atomic_torch_save, load_checkpoint
from numerics.core.jsonio import JSONDict
from numerics.core.progress import Progress
from numerics.core.validation import int_at_least, non_negative_int, positive_finite
from theory.errors import BudgetError

#: Most optimization steps of one schedule (a million steps is hours on a CPU; a larger value
#: is a typo, refused before any work).
MAX_STEPS = 1_000_000

#: A batch: a tensor or nested tuples, lists and dicts of tensors (:func:`to_device`).
Batch = Any
#: A loaded training checkpoint (:func:`fit` writes it): model and optimiser state dicts, step,
#: RNG states, schedule, fingerprint, history and evaluations.
CheckpointState = dict[str, Any]
#: The model :func:`fit` trains (e.g. a numerics.synthetic.population.Population) and its batches.
ModelT = TypeVar("ModelT", bound=nn.Module)
BatchT = TypeVar("BatchT")
#: ``sample_batch(step, generator) -> batch``
SampleFn = Callable[[int, torch.Generator], BatchT]
#: ``loss_fn(model, batch, step) -> (loss, logs)``
LossFn = Callable[[ModelT, BatchT, int], tuple[torch.Tensor, Mapping[str, float]]]
#: ``evaluate(model) -> metrics``
EvalFn = Callable[[ModelT], Mapping[str, float]]
#: ``step_hook(model, step)``: called by :func:`fit` before the forward pass of every step
StepHook = Callable[[ModelT, int], None]


@dataclass
class EngineConfig:
    """Optimisation settings common to every task.

    lr(t) = lr * t / warmup for t < warmup, then lr * (r + (1 - r) * (1 + cos(pi * s)) / 2)
    with s the fraction of post-warm-up steps done and r = ``min_lr_ratio`` (cosine), or lr
    (constant). ``first_step`` and ``last_step`` select a segment [first_step, last_step) of
    that schedule (default: all of it), so that a run can be trained in stages, each with its
    own checkpoint, on one schedule of ``steps`` steps. ``fingerprint``: a JSON-like dict of
    everything else that defines the run (the task's config, generator, package version);
    it is written into every checkpoint and a checkpoint whose fingerprint or schedule differs
    is refused on resume (:class:`CheckpointError` naming the differing fields).
    """

    steps: int = 2000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    log_every: int = 100
    eval_every: int = 0
    checkpoint: str | None = None
    checkpoint_every: int = 500
    progress: bool = True
    first_step: int = 0
    last_step: int | None = None
    fingerprint: JSONDict | None = None

    def end(self) -> int:
        """The step this segment stops at: ``last_step`` or ``steps``."""
        return self.steps if self.last_step is None else self.last_step

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot be trained with."""
        non_negative_int("steps", self.steps)
        if self.steps > MAX_STEPS:
            raise BudgetError(f"steps={self.steps} is above the limit of {MAX_STEPS} "
                              f"(numerics.core.engine.MAX_STEPS)")
        positive_finite("lr", self.lr)
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        int_at_least("warmup_steps", self.warmup_steps, 0)
        if self.schedule not in ("cosine", "constant"):
            raise ConfigError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ConfigError(f"min_lr_ratio must lie in [0, 1], got {self.min_lr_ratio!r}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ConfigError(f"grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.log_every < 1:
            raise ConfigError(f"log_every must be >= 1, got {self.log_every!r}")
        if self.eval_every < 0 or self.checkpoint_every < 0:
            raise ConfigError("eval_every and checkpoint_every must be >= 0")
        if not 0 <= self.first_step <= self.end() <= self.steps:
            raise ConfigError(f"need 0 <= first_step <= last_step <= steps, got "
                              f"{self.first_step}, {self.last_step}, {self.steps}")

    def lr_at(self, step: int) -> float:
        """Learning rate used for optimisation step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        span = max(1, self.steps - self.warmup_steps)
        s = min(1.0, (step - self.warmup_steps) / span)
        r = self.min_lr_ratio
        return self.lr * (r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * s)))


@dataclass
class FitResult:
    """What :func:`fit` did: steps done in total, wall seconds of this call, device, logs.

    ``total_seconds``: training wall time of the whole segment, this call plus the calls
    before a resume (the checkpoint carries it); NaN when resumed from a checkpoint written
    before checkpoints recorded it.
    """

    steps: int
    seconds: float
    device: str
    steps_run: int
    resumed_from: int = 0
    total_seconds: float = math.nan
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        """Optimisation steps per wall-clock second in this call."""
        return self.steps_run / self.seconds if self.seconds > 0 else float("nan")


def to_device(batch: Batch, device: torch.device) -> Batch:
    """Move every tensor inside a (nested) tuple/list/dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


#: EngineConfig fields that determine the numbers of a segment (a resume must match them).
SCHEDULE_FIELDS = ("steps", "lr", "weight_decay", "warmup_steps", "schedule", "min_lr_ratio",
                   "grad_clip", "seed", "amp", "first_step", "last_step")


def _schedule(config: EngineConfig) -> JSONDict:
    return {name: getattr(config, name) for name in SCHEDULE_FIELDS} | {"last_step": config.end()}


def differences(saved: object, wanted: object, prefix: str = "") -> list[str]:
    """Dotted names of the entries where two nested dicts differ (at most a few levels)."""
    if isinstance(saved, dict) and isinstance(wanted, dict):
        out: list[str] = []
        for key in sorted(set(saved) | set(wanted), key=str):
            out += differences(saved.get(key, "<missing>"), wanted.get(key, "<missing>"),
                                f"{prefix}{key}.")
        return out
    return [] if saved == wanted else [prefix.rstrip(".") or "fingerprint"]


def _resume_state(state: object, ckpt: Path, config: EngineConfig) -> CheckpointState:
    """Validate a loaded checkpoint against ``config`` before anything of it is used."""
    required = {"model": dict, "optimizer": dict, "step": int, "generator": torch.Tensor,
                "torch_rng": torch.Tensor}
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {ckpt} is not a training checkpoint (it holds a "
                              f"{type(state).__name__}); delete it or choose another path")
    for key, kind in required.items():
        value = state.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CheckpointError(f"checkpoint {ckpt} is not a training checkpoint: entry "
                                  f"{key!r} is missing or not a {kind.__name__}")
    for key in ("generator", "torch_rng"):
        if state[key].dtype != torch.uint8 or state[key].ndim != 1:
            raise CheckpointError(f"checkpoint {ckpt}: {key!r} is not an RNG state")
    differing = ([] if config.fingerprint is None else
                 differences(state.get("fingerprint", "<missing>"), config.fingerprint))
    saved, wanted = dict(state.get("schedule", {})), _schedule(config)
    if saved.get("schedule") == wanted["schedule"] == "constant":
        for name in ("steps", "last_step"):  # a constant schedule may be extended
            saved.pop(name, None)
            wanted.pop(name)
    differing += [f"schedule.{name}" for name in differences(saved, wanted)]
    if differing:
        shown = ", ".join(differing[:8]) + (" ..." if len(differing) > 8 else "")
        raise CheckpointError(f"checkpoint {ckpt} does not match this run (differs in: {shown});"
                              f" delete it or choose another --checkpoint")
    step = state["step"]
    if not config.first_step <= step <= config.end():
        raise CheckpointError(f"checkpoint {ckpt} is at step {step}, outside this segment "
                              f"[{config.first_step}, {config.end()}]")
    for key in ("history", "evaluations"):
        if not isinstance(state.get(key, []), list):
            raise CheckpointError(f"checkpoint {ckpt}: {key!r} is not a list")
    seconds = state.get("seconds", math.nan)
    if not isinstance(seconds, float) or seconds < 0:
        raise CheckpointError(f"checkpoint {ckpt}: 'seconds' is not a non-negative float")
    return state


def _save(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int,
          gen: torch.Generator, config: EngineConfig, history: list, evals: list,
          seconds: float) -> None:
    atomic_torch_save(path, {
        "seconds": seconds,
        "fingerprint": config.fingerprint,
        "schedule": _schedule(config),
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history,
        "evaluations": evals,
        "config": asdict(config),
    })


def fit(
    model: ModelT,
    loss_fn: LossFn[ModelT, BatchT],
    sample_batch: SampleFn[BatchT],
    config: EngineConfig,
    *,
    evaluate: EvalFn[ModelT] | None = None,
    description: str = "train",
    clip_gradients: Callable[[ModelT, float], object] | None = None,
    step_hook: StepHook[ModelT] | None = None,
) -> FitResult:
    """Train ``model`` in place for the steps [first_step, last_step) of the schedule.

    Resumes from ``config.checkpoint`` when that file exists (model, optimiser, step, data
    generator and torch RNG state), so that an interrupted run continues exactly.
    ``clip_gradients(model, max_norm)`` replaces the global-norm clipping
    (``torch.nn.utils.clip_grad_norm_`` over all parameters), e.g. by the per-member clipping
    of :class:`numerics.synthetic.population.Population`. ``step_hook(model, step)`` runs before
    every step's forward pass (e.g. hardening an order-0 slot assignment at a given step), so that
    state changes are not hidden inside the loss function.
    """
    config.validate()
    device = resolve_device(config.device)
    model.to(device)
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    start = config.first_step
    end = config.end()
    before = 0.0  # training seconds of earlier calls (read from a checkpoint)
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if ckpt is not None and ckpt.exists():
        state = _resume_state(load_checkpoint(ckpt, map_location="cpu"), ckpt, config)
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint {ckpt} does not match this model: "
                                  f"{' '.join(str(err).split())[:300]}") from err
        start = state["step"]
        before = state.get("seconds", math.nan)
        history = list(state.get("history", []))
        evals = list(state.get("evaluations", []))
    use_amp = bool(config.amp and bf16_autocast(device))
    model.train()
    running: dict[str, float] = {}
    count = 0
    t0 = time.perf_counter()
    bar = Progress(end, description, initial=min(start, end), enabled=config.progress)
    for step in range(start, end):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        batch = to_device(sample_batch(step, gen), device)
        if step_hook is not None:
            step_hook(model, step)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss, logs = loss_fn(model, batch, step)
        if not torch.isfinite(loss):
            raise DivergenceError(f"training diverged: the loss became {loss.item()} at step "
                                  f"{step} (lower the learning rate, currently "
                                  f"{config.lr_at(step):.3g} at that step)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None and clip_gradients is not None:
            clip_gradients(model, config.grad_clip)
        elif config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        running["loss"] = running.get("loss", 0.0) + float(loss.detach())
        for k, v in logs.items():
            running[k] = running.get(k, 0.0) + float(v)
        count += 1
        done = step + 1
        if done % config.log_every == 0 or done == end:
            entry = {"step": float(done), **{k: v / count for k, v in running.items()}}
            history.append(entry)
            bar.advance(done, loss=f"{entry['loss']:.4g}")
            running, count = {}, 0
        else:
            bar.advance(done)
        if evaluate is not None and config.eval_every and done % config.eval_every == 0:
            model.eval()
            evals.append({"step": float(done), **dict(evaluate(model))})
            model.train()
        if ckpt is not None and config.checkpoint_every and (
            done % config.checkpoint_every == 0 or done == end
        ):
            _save(ckpt, model, opt, done, gen, config, history, evals,
                  before + time.perf_counter() - t0)
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    model.eval()
    return FitResult(steps=end, seconds=seconds, device=str(device),
                     steps_run=max(0, end - start), resumed_from=start,
                     total_seconds=before + seconds, history=history, evaluations=evals)
