"""Candidate counterexamples: saving a run that contradicts the theory, and re-examining it.

A run whose verdict is ``mixed-but-reconstructs`` where the theory predicts identifiability
(numerics.synthetic.verdict) contradicts the theorem, or the conjecture, numerically. Such a run
often sits near the verdict's thresholds (held-out error just below ``RECON_THRESHOLD``, off-block
fraction just above ``OFF_BLOCK_THRESHOLD``), and then the first question is whether it is a
slot-mixing minimum that more optimization would leave, or a mixed solution that keeps
reconstructing. :func:`save_candidate` writes what reproduces the run; :func:`recheck` loads
it and trains the **same** model (saved encoder and decoder) for more steps on the same data
(the generator is rebuilt from its saved expressions), then judges it again with the same
thresholds. The conclusion says which of three things happened:

* ``slot-wise after more training``: the off-block fraction fell to the threshold or below,
  so the run was an unconverged optimization, not evidence against the theory;
* ``mixed, no longer reconstructs``: more training did not keep it below the error threshold
  (an optimization failure);
* ``still mixed and reconstructing``: the candidate stands at this budget. Look at the trace
  first: measured on (2,3,1) slots at order 3, slot-mixing runs drift to slot-wise slowly
  (off-block 0.14 -> 0.08 in 2000 steps, below 0.05 only after about 5000), passing through
  "mixed and reconstructing" on the way; a falling off-block fraction asks for a longer
  recheck. One that stays put is the real thing: analyse its generator exactly (``iasym
  analyze --file``) and retrain it with other seeds.

The continuation uses the run's loss and batch size with a cosine schedule from ``lr``
(default half the run's), seeded by ``seed``: the same folder, steps, lr and seed give
the same numbers on the CPU.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from numerics.core.errors import CheckpointError, ConfigError
from numerics.core.jsonio import JSONDict, plain
from numerics.core.validation import is_int, is_real

if TYPE_CHECKING:
    from numerics.synthetic.data import Data
    from numerics.synthetic.selection import Members
    from numerics.synthetic.training import TrainConfig, TrainResult
    from theory.generators import Generator

__all__ = ["CONCLUSIONS", "MAX_RECHECK_STEPS", "Recheck", "conclude", "load_candidate", "recheck",
           "save_candidate"]

CONCLUSIONS = ("slot-wise after more training", "mixed, no longer reconstructs",
               "still mixed and reconstructing")
#: Continuation steps a recheck may run (each costs one training step of the model).
MAX_RECHECK_STEPS = 1_000_000


def save_candidate(result: TrainResult, directory: str) -> str:
    """Save what reproduces a candidate counterexample run; returns the folder written.

    ``result``: a :class:`numerics.synthetic.training.TrainResult`.
    ``directory/<layout>-n<order>-d<decoder order>-seed<seed>/`` gets ``result.json`` (the verdict,
    every metric and the config, including the chosen initialization seed), ``generator.json`` (the
    exact generator: output expressions and slot symbols, loadable with ``theory.parsing``) and
    ``model.pt`` (the trained autoencoder's state dict; load with ``torch.load(...,
    weights_only=True)`` into ``build_model(config, seed)``, or with :func:`load_candidate`).
    Writes are atomic. Rerun with ``iasym train`` and the same options to reproduce it,
    ``iasym recheck FOLDER`` to train it further (:func:`recheck`).
    """
    from numerics.core.io import atomic_torch_save, atomic_write_json

    config = result.config
    layout = "x".join(str(s) for s in config["slot_sizes"])
    order = config["order"]
    decoder_order = config["decoder_order"] if config["decoder_order"] is not None else order
    folder = Path(directory) / f"{layout}-n{order}-d{decoder_order}-seed{config['seed']}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create {folder}: {err}") from err
    out = result.to_dict()
    atomic_write_json(folder / "result.json", out)
    symbolic = getattr(result, "symbolic", None)
    if symbolic is not None:
        atomic_write_json(folder / "generator.json", {
            "outputs": [str(e) for e in symbolic.f],
            "slots": [[str(v) for v in block] for block in symbolic.slots.blocks],
            "order": str(getattr(symbolic, "order", config["order"])),
            "name": getattr(symbolic, "name", "sympy")})
    if result.model is not None:
        atomic_torch_save(folder / "model.pt", {"model": result.model.state_dict(),
                                                 "config": out["config"],
                                                 "seed": out["selection"].get("seed")})
    return str(folder)


def _read_json(path: Path) -> JSONDict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: not a folder written by save_candidate"
                          ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return data


def _generator(folder: Path, config: JSONDict) -> Generator | None:
    """The exact generator saved in ``generator.json`` (None when the run's was neural)."""
    from theory.errors import InteractionAsymmetryError
    from theory.generators import Generator
    from theory.parsing import parse_generator, parse_slots

    path = folder / "generator.json"
    if not path.exists():
        if config.get("generator") == "sympy":
            raise ConfigError(f"{path} is missing: the run's exact generator was not saved")
        return None
    saved = _read_json(path)
    try:
        slots = parse_slots(" | ".join(",".join(block) for block in saved["slots"]))
        f = parse_generator(list(saved["outputs"]), slots)
        order = math.inf if saved.get("order") in ("oo", "inf") else int(saved["order"])
    except (KeyError, TypeError, ValueError, InteractionAsymmetryError) as err:
        raise CheckpointError(f"{path} is not a saved generator: {err}") from err
    return Generator(f, slots, order, str(saved.get("name", "sympy")),
                     f"loaded from {path}")


def load_candidate(folder: str | Path) -> tuple[TrainConfig, nn.Module, JSONDict]:
    """``(config, model, result)`` of a folder written by :func:`save_candidate`.

    ``config``: the run's :class:`numerics.synthetic.training.TrainConfig` with its exact generator
    (from ``generator.json``); ``model``: the saved autoencoder (``model.pt`` loaded with
    ``weights_only=True``, checked to belong to this config); ``result``: ``result.json``.
    Raises :class:`ConfigError` for a folder that is not a candidate, :class:`CheckpointError`
    for unreadable or mismatching files.
    """
    from numerics.synthetic.training import TrainConfig, build_model

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder (give the folder save_candidate wrote)")
    result = _read_json(folder / "result.json")
    saved_config = result.get("config")
    if not isinstance(saved_config, dict):
        raise CheckpointError(f"{folder / 'result.json'} has no config")
    names = set(TrainConfig().settings())
    unknown = sorted(set(saved_config) - names)
    if unknown:
        raise CheckpointError(f"{folder / 'result.json'}: unknown config fields {unknown} "
                              "(written by another version of the package?)")
    try:
        config = TrainConfig.from_settings(saved_config,
                                           sympy_generator=_generator(folder, saved_config),
                                           progress=False)
        config.validate()
    except TypeError as err:
        raise CheckpointError(f"{folder / 'result.json'}: config does not fit TrainConfig: "
                              f"{err}") from err
    path = folder / "model.pt"
    if not path.exists():
        raise ConfigError(f"{path} is missing: the trained model was not saved")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a corrupt or foreign file
        raise CheckpointError(f"cannot load {path}: {' '.join(str(err).split())[:200]}"
                              ) from err
    # the checkpoint keeps the config as Python values (tuples), result.json as JSON (lists)
    if not isinstance(state, dict) or "model" not in state or plain(
            state.get("config")) != saved_config:
        raise CheckpointError(f"{path} does not belong to {folder / 'result.json'}")
    model = build_model(config, state.get("seed"))
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(f"{path} does not fit the model of its config: "
                              f"{' '.join(str(err).split())[:200]}") from err
    return config, model, result


@dataclass(frozen=True)
class Recheck:
    """What :func:`recheck` found: the verdicts before and after ``steps`` more steps.

    ``before`` / ``after``: ``{"val_recon", "off_block", "sis", "verdict"}`` (``verdict`` the
    :class:`numerics.synthetic.verdict.RunVerdict` as a dict, judged with the run's thresholds);
    ``conclusion``: one of :data:`CONCLUSIONS` (module docstring); ``trace``: ``{"step",
    "val_recon", "off_block"}`` at every quarter of the continuation, so that a slow drift
    (off-block falling, error falling) can be told from a plateau.
    """

    folder: str
    steps: int
    lr: float
    seed: int
    before: JSONDict
    after: JSONDict
    conclusion: str
    seconds: float
    trace: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> JSONDict:
        """JSON-ready copy."""
        return asdict(self)


def _assess(model: nn.Module, data: Data, config: TrainConfig, prediction: tuple[str, str]
            ) -> JSONDict:
    """Held-out error, off-block fraction, SIS and verdict of ``model`` (as
    numerics.synthetic.training judges a run); ``prediction``: the theory's ``(prediction, reason)``
    for the run."""
    from numerics.synthetic.decoder_families import constrained_decoder
    from numerics.synthetic.population import SingleMember
    from numerics.synthetic.training import block_structure, held_out_recon, identifiability
    from numerics.synthetic.verdict import judge

    model.eval()
    if config.constrained():
        constrained_decoder(model.decoder).harden()
    recon = float(held_out_recon(data)(SingleMember(model))[0])
    score, _ = identifiability(model, data, config, data.z_test)
    blocks = block_structure(model, data, config)
    verdict = judge(recon, blocks.off_block, *prediction,
                    recon_threshold=config.selection.threshold)
    return {"val_recon": recon, "off_block": float(blocks.off_block), "sis": float(score.sis),
            "verdict": verdict.to_dict()}


def recheck(folder: str | Path, steps: int = 5000, lr: float | None = None, seed: int = 0
            ) -> Recheck:
    """Train a saved candidate's model ``steps`` more steps and judge it again (module doc).

    ``lr``: peak learning rate of the continuation's cosine schedule (default half the run's:
    measured on (2,3,1) slots at order 3, slot-mixing runs reached off-block 0.001-0.05 at 5e-3
    within 5000 steps, at 1e-3 one reached 0.040 after 10000). The held-out error and the
    off-block fraction are also measured at every quarter of the continuation (``trace``).
    Raises :class:`ConfigError` / :class:`CheckpointError` as :func:`load_candidate`, and
    :class:`ConfigError` for steps outside 1..MAX_RECHECK_STEPS or a non-positive lr.
    """
    import time

    from numerics.core.engine import fit
    from numerics.synthetic.data import batch_sampler, build_data
    from numerics.synthetic.population import SingleMember
    from numerics.synthetic.training import population_loss, step_hook
    from numerics.synthetic.verdict import predict

    if not is_int(steps) or not 1 <= steps <= MAX_RECHECK_STEPS:
        raise ConfigError(f"steps must be an integer in 1..{MAX_RECHECK_STEPS}, got {steps!r}")
    if not is_int(seed):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    config, model, _ = load_candidate(folder)
    rate = config.engine.lr / 2 if lr is None else lr
    if not is_real(rate) or not 0 < rate < math.inf:
        raise ConfigError(f"lr must be a positive number, got {lr!r}")
    start = time.perf_counter()
    data = build_data(config)
    prediction = predict(data.symbolic, config.decoder, config.model_order(), config.order)
    before = _assess(model, data, config, prediction)
    model.train()
    # the loss ramps and the hardening step follow the continuation's steps; its batches and
    # schedule come from ``seed`` and ``rate``
    continued = replace(config, engine=replace(config.engine, steps=steps, checkpoint=None,
                                               progress=False, eval_every=max(1, steps // 4)))
    engine = replace(continued.fit_engine(), lr=float(rate), seed=seed)
    member = SingleMember(model)
    done = fit(member, population_loss(continued), batch_sampler(data, config.batch_size),
               engine, description="recheck", evaluate=lambda pop: _progress(pop, data, config),
               clip_gradients=lambda m, c: m.clip_grad_norm_(c),
               step_hook=step_hook(continued, data))
    after = _assess(member.member(0), data, config, prediction)
    return Recheck(str(folder), steps, float(rate), seed, before, after, conclude(after),
                   time.perf_counter() - start, [dict(e) for e in done.evaluations])


def _progress(pop: Members, data: Data, config: TrainConfig) -> dict[str, float]:
    """Held-out error and off-block fraction during the continuation (model not hardened)."""
    from numerics.synthetic.training import block_structure, held_out_recon

    blocks = block_structure(pop.member(0), data, config)
    return {"val_recon": float(held_out_recon(data)(pop)[0]),
            "off_block": float(blocks.off_block)}


def conclude(after: JSONDict) -> str:
    """The :data:`CONCLUSIONS` entry for the state after the continuation (``after`` as in
    :class:`Recheck`): slot-wise when the off-block fraction is at most its threshold, else
    mixed and not reconstructing when the verdict is ``not-converged``, else the candidate
    stands."""
    if after["off_block"] <= after["verdict"]["off_block_threshold"]:
        return CONCLUSIONS[0]
    if after["verdict"]["verdict"] == "not-converged":
        return CONCLUSIONS[1]
    return CONCLUSIONS[2]
