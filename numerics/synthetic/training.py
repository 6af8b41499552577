"""Train an autoencoder on a generator of known interaction order and measure identifiability.

:func:`train` is the one entry point used by the CLI (``iasym train``), the demo, the tests and
notebooks. Pipeline, all seeded from ``TrainConfig.engine.seed``:

1. generator f: a seeded neural generator of order ``order``
   (numerics.synthetic.generators.make_generator) or a sympy generator translated exactly
   (numerics.synthetic.translate.from_sympy);
2. support Z (numerics.synthetic.supports.make_support); a **finite training set** of ``n_train``
   latents z ~ Z with images x = f(z) (default 32768: the identifiability theory is about the data
   distribution, and with 4096 samples a model with slots of several latents overfits, e.g.
   training error 1e-3 against held-out 5e-3 on 4 slots of 2 latents, which hides a slot-wise
   solution behind a held-out error above the verdict's threshold; 32768 brings both to
   3e-4 there). Images are
   standardized per output with training statistics; every error below is in these units
   (an MSE of 1 means "predicts the mean");
3. model: :class:`numerics.synthetic.models.MLPEncoder` (d_x -> d_zhat, d_zhat = sum(latent_sizes),
   default the true latent dimension: minimal capacity) and a decoder from
   :func:`numerics.synthetic.decoder_families.make_decoder`;
4. loss per batch: mean_b,l (xhat - x)^2 + alpha(t) * L_int (order-0 structured decoders, the
   assignment penalty, warmed up linearly over the first quarter of the steps) +
   ``cross_penalty`` * P_{n+1} (numerics.synthetic.models.cross_penalty on ``penalty_batch``
   latents); optimized by numerics.core.engine.fit (AdamW, warm-up + cosine schedule, gradient
   clipping, checkpoints, resumption, bfloat16 autocast on CUDA only when ``amp`` and no derivative
   penalty is used);
5. order-0 structured decoders are hardened (one-hot argmax slot assignment: exactly order 0)
   after the fraction ``harden_at`` of the steps; the remaining steps fine-tune the renderers
   to that assignment;
6. metrics: held-out ID reconstruction error, slot identifiability (numerics.synthetic.metrics, SIS
   and matched R^2 on ``n_eval`` held-out samples) and compositional generalization
   (numerics.synthetic.compgen: recombination protocol on OOD targets, direct OOD autoencoding, OOD
   SIS).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from numerics.core.engine import LossFn
from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONDict
from numerics.synthetic.data import Data, batch_sampler, build_data
from numerics.synthetic.decoder_families import constrained_decoder, make_decoder
from numerics.synthetic.selection import Members, Search, Unmix
from numerics.synthetic.train_config import (
    DEFAULT_OUTPUTS,
    GENERATOR_KINDS,
    MAX_BATCH,
    MAX_DECODER_MONOMIALS,
    MAX_GENERATOR_TERMS,
    MAX_LATENTS,
    MAX_SEED,
    MEMORY_LIMIT,
    SUPPORT_KINDS,
    TrainConfig,
)

if TYPE_CHECKING:
    from numerics.synthetic.metrics import SlotIdentifiability
    from numerics.synthetic.models import Autoencoder
    from numerics.synthetic.slotwise import BlockJacobian
    from numerics.synthetic.translate import SymbolicGenerator

Tensor = torch.Tensor

__all__ = [
    "DEFAULT_OUTPUTS",
    "GENERATOR_KINDS",
    "MAX_BATCH",
    "MAX_DECODER_MONOMIALS",
    "MAX_GENERATOR_TERMS",
    "MAX_LATENTS",
    "MAX_SEED",
    "MEMORY_LIMIT",
    "SUPPORT_KINDS",
    "TrainConfig",
    "TrainResult",
    "autoencoder",
    "block_structure",
    "build_model",
    "h_map",
    "held_out_recon",
    "identifiability",
    "population_loss",
    "regroup_model",
    "step_hook",
    "train",
]


@dataclass
class TrainResult:
    """Metrics of a finished run; ``model`` (the trained autoencoder) is not serialized.

    ``verdict``: :class:`numerics.synthetic.verdict.RunVerdict` as a dict (``verdict``, thresholds,
    the theory's prediction, ``candidate_counterexample``, ``message``); ``off_block`` and
    ``block_norms``: the Jacobian block structure of h = ghat o f (numerics.synthetic.slotwise);
    ``val_recon``: held-out reconstruction error on ``n_val`` training-support samples (what
    the initialization was chosen by); ``sis_true_latents``: the SIS of the true latents
    scored against themselves by the same protocol on the same samples, i.e. what a perfect
    encoder reaches: below 1 when the support makes the slots dependent (the best other R^2 is
    then the dependence itself; 0.917 for 2 slots of 2 latents on the L-shape, 0.991 for 3);
    ``selection``: the rounds of the search (numerics.synthetic.selection); ``restarts``: rounds
    after the first; ``threads``: torch's intra-op thread count during the run (numbers are
    bit-identical only for the same seed, config, device and thread count: reductions are
    split by thread).
    """

    sis: float
    matched_r2: float
    r2: list[list[float]]
    permutation: list[int]
    recon_mse: float
    ood_recon_mse: float
    id_recombination_mse: float
    ood_autoencode_mse: float
    ood_sis: float
    ood_ratio: float
    device: str
    seconds: float
    steps_per_second: float
    config: JSONDict
    verdict: JSONDict = field(default_factory=dict)
    off_block: float = float("nan")
    block_norms: list[list[float]] = field(default_factory=list)
    val_recon: float = float("nan")
    sis_true_latents: float = float("nan")
    restarts: int = 0
    selection: JSONDict = field(default_factory=dict)
    threads: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    model: Autoencoder | None = field(default=None, repr=False)
    symbolic: SymbolicGenerator | None = field(default=None, repr=False)

    def to_dict(self) -> JSONDict:
        """All fields except the model and the sympy generator, as plain Python values."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("model", "symbolic")}


def build_model(config: TrainConfig, seed: int | None = None) -> Autoencoder:
    """Encoder + decoder of ``config``, initialized from ``seed`` (default
    ``config.engine.seed``)."""
    from numerics.synthetic.models import Autoencoder, MLPEncoder

    seed = config.engine.seed if seed is None else seed
    latent = config.inferred_sizes()
    encoder = MLPEncoder(config.d_x(), sum(latent), hidden=config.encoder_hidden,
                         depth=config.depth, seed=seed)
    decoder = make_decoder(config.decoder, config.model_order(), latent, config.d_x(),
                           hidden=config.hidden, seed=seed, depth=config.depth)
    return Autoencoder(encoder, decoder)


def regroup_model(config: TrainConfig, member: nn.Module, perm: Sequence[int], seed: int
                  ) -> Autoencoder:
    """``member``'s encoder with outputs permuted by ``perm`` and a fresh decoder from ``seed``:
    decoder block k then reads the encoder coordinates ``perm[o_k:o_k + d_k]``
    (numerics.synthetic.block_assignment)."""
    model = _fresh_decoder(config, member, seed)
    model.encoder.permute_outputs(perm)
    return model


def _fresh_decoder(config: TrainConfig, member: nn.Module, seed: int) -> Autoencoder:
    """A copy of ``member``'s encoder with a fresh decoder initialized from ``seed``."""
    model = build_model(config, seed)
    model.encoder.load_state_dict(autoencoder(member).encoder.state_dict())
    return model


def autoencoder(module: object) -> Autoencoder:
    """``module`` (a member the search hands back, a result's model) as the
    :class:`numerics.synthetic.models.Autoencoder` it is; :class:`ConfigError` for anything else."""
    from numerics.synthetic.models import Autoencoder

    if not isinstance(module, Autoencoder):
        raise ConfigError(f"expected an Autoencoder (numerics.synthetic.training.build_model), got "
                          f"{type(module).__name__}")
    return module


def _unmixer(config: TrainConfig, data: Data) -> Unmix | None:
    """The unmixing stage of numerics.synthetic.selection for structured decoders of order >=
    numerics.synthetic.unmixing.FROM_ORDER on several slots (with at most MAX_FEATURES features and
    a training set of at least numerics.synthetic.unmixing.points_for points), else None:
    ``unmix(member, seed, search)`` (``search``: a numerics.synthetic.selection.Search) returns the
    residual of the member's own coordinates and ``(residual, copy)`` pairs, each copy the
    member's encoder composed with a proposed affine map and a fresh decoder seeded from
    ``seed`` whose cross-slot coefficients and bias start at the proposal's least-squares fit."""
    from numerics.synthetic import unmixing

    latent = config.inferred_sizes()
    order = config.model_order()
    if not config.constrained() or order < unmixing.FROM_ORDER or len(latent) < 2 or (
            unmixing.feature_count(latent, order) > unmixing.MAX_FEATURES) or (
            len(data.x_train) < unmixing.points_for(latent, order)):
        return None
    points = unmixing.points_for(latent, order)
    x_fit = data.x_train[:max(points, unmixing.FIT_POINTS)]
    x = x_fit[:points]

    def unmix(member: nn.Module, seed: int, search: Search
              ) -> tuple[float, list[tuple[float, nn.Module]]]:
        device = next(member.parameters()).device
        with torch.no_grad():
            z_fit = autoencoder(member).encoder(x_fit.to(device)).cpu()
        z_hat = z_fit[:points]
        own = unmixing.coordinate_residual(z_hat, x, latent, order)
        out: list[tuple[float, nn.Module]] = []
        for i, proposal in enumerate(unmixing.propose_unmixings(
                z_hat, x, latent, order, proposals=config.selection.unmix_proposals,
                restarts=search[0][0], steps=search[0][1], halving=search[1:], seed=seed,
                fit_on=(z_fit, x_fit))):
            model = _fresh_decoder(config, member, seed + i)
            model.encoder.transform_outputs(proposal.matrix, proposal.shift)
            constrained_decoder(model.decoder).warm_start(proposal.interaction,
                                                          proposal.constant)
            out.append((proposal.residual, model))
        return own, out
    return unmix


def _assignments(config: TrainConfig) -> list[tuple[int, ...]]:
    """Groupings of the encoder coordinates tried by the regrouping stage: none for the MLP
    decoder (it has no blocks) or when there is only one grouping (scalar slots)."""
    from numerics.synthetic.block_assignment import assignments, is_trivial

    sizes = config.inferred_sizes()
    if not config.constrained() or is_trivial(sizes):
        return []
    return assignments(sizes, config.selection.max_assignments, seed=config.engine.seed)


def population_loss(config: TrainConfig) -> LossFn[Members, Tensor]:
    """Loss of a population of autoencoders: the sum over members of the member losses."""
    from numerics.core.cross_penalty import penalty_tuple_ids
    from numerics.synthetic.models import cross_penalty

    latent = config.inferred_sizes()
    ramp = max(1, config.engine.steps // 4)
    order0 = config.constrained() and config.model_order() == 0

    def loss_fn(pop: Members, x: Tensor, step: int) -> tuple[Tensor, Mapping[str, float]]:
        z, x_hat = pop(x)
        mse = (x_hat.float() - x).square().mean((1, 2))
        loss = mse.sum()
        logs = {"mse": float(mse.detach().mean()), "mse_best": float(mse.detach().min())}
        if order0 and config.assignment_penalty:
            alpha = config.assignment_penalty * min(1.0, (step + 1) / ramp)
            penalty = pop.call(lambda m: constrained_decoder(m.decoder).penalty())
            loss = loss + alpha * penalty.sum()
            logs["assignment"] = float(penalty.detach().mean())
        if config.cross_penalty:
            zz, ids = z[:, :config.penalty_batch].float(), None
            if config.penalty_tuples:  # unbiased estimate: random cross tuples per point
                zz = zz.repeat(1, config.penalty_tuples, 1)
                ids = penalty_tuple_ids(zz.shape[1], latent, config.model_order() + 1,
                                        config.engine.seed, step)
            p = pop.call(lambda m, zz: cross_penalty(m.decoder, zz, latent, config.model_order(),
                                                     ids), zz, in_dims=(0,))
            loss = loss + config.cross_penalty * p.sum()
            logs["cross"] = float(p.detach().mean())
        return loss, logs

    return loss_fn


def step_hook(config: TrainConfig, data: Data | None = None
              ) -> Callable[[Members, int], None] | None:
    """The hook numerics.core.engine.fit calls before every step's forward pass, or None: for a
    structured decoder of order 0, the slot assignment of every member is hardened (made
    one-hot, numerics.synthetic.models.StructuredDecoder.harden) from step ``harden_at * steps``
    on. With ``data``, each output first goes to the inferred slot that explains it best on the
    first training images (numerics.synthetic.output_assignment.regression_assignment on the
    member's encoding); without, to the learned argmax."""
    from numerics.synthetic.output_assignment import PROBE_POINTS, regression_assignment

    if not (config.constrained() and config.model_order() == 0):
        return None
    probe = None if data is None else data.x_train[:PROBE_POINTS]

    def harden(member: nn.Module) -> None:
        assignment = None
        if probe is not None:
            model = autoencoder(member)
            with torch.no_grad():
                z_hat = model.encode(probe.to(next(model.parameters()).device))
            assignment = regression_assignment(z_hat.cpu(), probe, config.inferred_sizes())
        constrained_decoder(member.decoder).harden(assignment)

    def hook(pop: Members, step: int) -> None:
        if step >= config.harden_at * config.engine.steps and not bool(
                pop.buffer("decoder.hard").all()):
            pop.update_members(harden)

    return hook


def identifiability(model: nn.Module, data: Data, config: TrainConfig, z: Tensor
                    ) -> tuple[SlotIdentifiability, float]:
    """``(score, recon)``: :func:`numerics.synthetic.metrics.slot_identifiability` of the encoder's
    outputs on latents ``z: (m, d_z)`` and the mean squared reconstruction error of the
    rendered ``x = (f(z) - mean) / std``."""
    from numerics.synthetic.metrics import slot_identifiability

    device = next(model.parameters()).device
    x = data.render(z)
    with torch.no_grad():
        z_hat, x_hat = model(x.to(device))
    recon = float((x_hat.float().cpu() - x).square().mean())
    score = slot_identifiability(z, z_hat.double().cpu(), config.true_sizes(),
                                 config.inferred_sizes(), seed=config.engine.seed, device="cpu")
    return score, recon


def block_structure(model: nn.Module, data: Data, config: TrainConfig) -> BlockJacobian:
    """numerics.synthetic.slotwise.block_jacobian of h = ghat o f (:func:`h_map`) at the first
    min(500, n_eval) test latents: the block norms and the off-block fraction of a run."""
    from numerics.synthetic.slotwise import block_jacobian

    return block_jacobian(h_map(model, data), data.z_test[:min(500, config.n_eval)],
                          config.true_sizes(), config.inferred_sizes())


def held_out_recon(data: Data) -> Callable[[Members], Tensor]:
    """Held-out reconstruction error of every member of a population: ``(R,)``."""
    def val_recon(pop: Members) -> Tensor:
        device = next(pop.parameters()).device
        x = data.x_val.to(device)
        with torch.no_grad():
            _, x_hat = pop(x)
        return (x_hat.float() - x).square().mean((1, 2)).cpu()
    return val_recon


def train(config: TrainConfig) -> TrainResult:
    """Train an autoencoder as ``config`` says, measure it and give the run its verdict.

    Initializations are searched by held-out reconstruction (numerics.synthetic.selection, no ground
    truth); the chosen model is scored by SIS, the Jacobian block structure of
    h = ghat o f (numerics.synthetic.slotwise), ID/OOD errors (numerics.synthetic.compgen) and
    judged by numerics.synthetic.verdict against the theory's prediction. Returns a
    :class:`TrainResult`. Same config on the CPU -> same numbers (given the same number of search
    rounds, which the result lists). Raises :class:`ConfigError` for invalid configs. A run with a
    checkpoint holds ``<checkpoint>.lock`` while it trains: a second run on the same checkpoint is
    refused, and resuming a checkpoint of another config raises :class:`CheckpointError`.
    """
    import contextlib

    from numerics.core.device import flush_denormals
    from numerics.core.io import hold_lock

    config.validate()
    checkpoint = config.engine.checkpoint
    lock = (hold_lock(checkpoint, "checkpoint") if checkpoint is not None
            else contextlib.nullcontext())
    with lock, flush_denormals():  # numerics.core.device: subnormals slow the CPU 10-100x
        return _train(config)


def _train(config: TrainConfig) -> TrainResult:
    from numerics.synthetic.block_assignment import count_assignments
    from numerics.synthetic.compgen import compositional_generalization
    from numerics.synthetic.metrics import slot_identifiability
    from numerics.synthetic.selection import select_model
    from numerics.synthetic.verdict import judge, predict

    t0 = time.perf_counter()
    data = build_data(config)
    sample_batch = batch_sampler(data, config.batch_size)
    z_periodic = data.z_test[:min(500, config.n_eval)]
    val_recon = held_out_recon(data)

    def evaluate(pop: Members) -> dict[str, float]:
        best = int(val_recon(pop).argmin())
        score, recon = identifiability(pop.member(best), data, config, z_periodic)
        return {"recon_mse": recon, "sis": float(score.sis),
                "matched_r2": float(score.matched_r2)}

    perms = _assignments(config)
    chosen = select_model(lambda seed: build_model(config, seed), population_loss(config),
                          sample_batch, config.fit_engine(), val_recon, config.selection,
                          description=f"{config.decoder} n={config.model_order()}",
                          evaluate=evaluate if config.engine.eval_every else None,
                          assignments=perms,
                          regroup=(lambda m, p, s: regroup_model(config, m, p, s)) if perms
                          else None,
                          exhaustive=bool(perms) and len(perms) == count_assignments(
                              config.inferred_sizes()),
                          unmix=_unmixer(config, data), started=t0,
                          step_hook=step_hook(config, data))
    model = autoencoder(chosen.model)
    if config.constrained():
        constrained_decoder(model.decoder).harden()
    model.eval()
    score, _ = identifiability(model, data, config, data.z_test)
    ceiling = slot_identifiability(data.z_test, data.z_test, config.true_sizes(),
                                   seed=config.engine.seed, device="cpu")
    comp = compositional_generalization(
        model, data.render, data.support, data.z_train, config.true_sizes(), score.permutation,
        latent_sizes=config.inferred_sizes(), z_test=data.z_test, n=config.n_eval,
        seed=config.engine.seed)
    blocks = block_structure(model, data, config)
    prediction, reason = predict(data.symbolic, config.decoder, config.model_order(),
                                 config.order)
    verdict = judge(chosen.val_recon, blocks.off_block, prediction, reason,
                    recon_threshold=config.selection.threshold)
    steps_per_second = (chosen.steps_run / chosen.fit_seconds if chosen.fit_seconds > 0
                        else float("nan"))
    return TrainResult(
        sis=float(score.sis), matched_r2=float(score.matched_r2),
        r2=np.asarray(score.r2).round(6).tolist(), permutation=list(score.permutation),
        recon_mse=comp.recon_mse, ood_recon_mse=comp.ood_recon_mse,
        id_recombination_mse=comp.id_recombination_mse,
        ood_autoencode_mse=comp.ood_autoencode_mse, ood_sis=comp.ood_sis,
        ood_ratio=comp.ood_ratio, device=chosen.device, seconds=time.perf_counter() - t0,
        steps_per_second=steps_per_second, config=config.to_dict(),
        verdict=verdict.to_dict(), off_block=blocks.off_block,
        block_norms=blocks.norms.round(6).tolist(), val_recon=chosen.val_recon,
        sis_true_latents=float(ceiling.sis),
        restarts=chosen.restarts, selection=chosen.to_dict(), threads=torch.get_num_threads(),
        history=chosen.history, evaluations=chosen.evaluations, model=model,
        symbolic=data.symbolic)


def h_map(model: nn.Module, data: Data) -> Callable[[Tensor], Tensor]:
    """h = ghat o f on float64 copies: ``(b, d_z) -> (b, d_zhat)``, standardized as in
    training (an affine map of x, which does not change which latents h depends on)."""
    encoder = copy.deepcopy(autoencoder(model).encoder).to("cpu", torch.float64)
    dtype = getattr(data.generator, "dtype", torch.float64)

    def h(z: Tensor) -> Tensor:
        x = data.generator(z.to(dtype)).double()
        return encoder((x - data.mean) / data.std)
    return h
