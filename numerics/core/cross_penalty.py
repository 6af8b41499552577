"""The stochastic cross-derivative penalty: unbiased estimates of

    P = mean_b sum_t sum_l (d_t f_l(z_b))^2

over the cross tuples t of :func:`numerics.core.derivatives.cross_tuples` (order m, tuples that
touch >= 2 slots; order 1: products of first partials of different slots) from random
(point, tuple) draws, so that a penalty on a decoder with many cross tuples costs 2^m
forward-pass equivalents per sample instead of one pass per tuple. Draws are seeded by the run's
seed and the step (:func:`step_generator`), so a resumed run draws the same tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.func import jvp, vmap

from numerics.core import jet_terms, taylor
from numerics.core.derivatives import (
    METHODS,
    Function,
    check_order,
    check_sizes,
    cross_tuples,
    single_sample,
    tuple_count,
    validate_points,
)
from numerics.core.errors import ConfigError, DataError
from numerics.core.validation import positive_int

Tensor = torch.Tensor

def _tuple_table(sizes: tuple[int, ...], order: int, device: torch.device) -> Tensor:
    """The cross tuples of :func:`cross_tuples` as a long tensor ``(T, m)`` (order 1: pairs)."""
    return torch.tensor(cross_tuples(sizes, order), dtype=torch.long, device=device)


def _nested_jvp(f1: Function, z: Tensor, directions: Tensor) -> Tensor:
    """d^m f(z)[v_1, ..., v_m] for one sample: ``z: (d_z,)``, ``directions: (m, d_z)``."""
    def level(k: int) -> Function:
        if k == 0:
            return f1
        inner = level(k - 1)
        return lambda y: jvp(inner, (y,), (directions[k - 1],))[1]
    return level(directions.shape[0])(z)


def cross_sample_values(f: Function, z: Tensor, slot_sizes: Sequence[int], order: int,
                        tuple_ids: Tensor, method: str = "auto") -> Tensor:
    """One cross entry per sample: row b is entry ``tuple_ids[b]`` of D^order f at ``z[b]``.

    ``z: (n, d_z)``, ``tuple_ids: (n,)`` long indices into :func:`cross_tuples`; returns
    ``(n, d_x)``: d^m f_l / dz_{t_b}(z_b) (order 1: d_i f_l * d_j f_l for the pair t_b = (i, j)).
    Each sample carries its own directions: a Taylor jet over the 2^m subsets of the m
    directions (``method`` "auto"/"taylor"), or m nested jvp (the fallback, "boxes"); either way
    2^m forward-pass equivalents per sample, independent of the number of cross tuples.
    """
    sizes = validate_points(z, slot_sizes)
    order = check_order(order)
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    table = _tuple_table(sizes, order, z.device)
    if table.numel() == 0:
        raise DataError(f"slots {sizes} have no cross tuples of order {order}")
    if not isinstance(tuple_ids, Tensor) or tuple_ids.shape != (z.shape[0],):
        raise DataError(f"tuple_ids must be a tensor of shape ({z.shape[0]},), got "
                        f"{getattr(tuple_ids, 'shape', tuple_ids)}")
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    directions = eye[table[tuple_ids.to(z.device)]].transpose(0, 1)  # (m, n, d_z)
    m = directions.shape[0]
    wanted = ((0,), (1,)) if order == 1 else (tuple(range(m)),)
    if method != "boxes":
        terms = jet_terms.term_set(tuple(jet_terms.closure(wanted)))
        try:
            coeffs = taylor.evaluate(f, z, terms, directions)
            rows = [coeffs[terms.index[w]] for w in wanted]
            return rows[0] * rows[1] if order == 1 else rows[0]
        except taylor.Unsupported as err:
            if method == "taylor":
                raise ConfigError(f"method 'taylor' cannot propagate this function ({err}); "
                                  f"use method 'boxes' or 'auto'") from err
        except Exception:  # "auto": as in cross_derivatives, the jvp pass re-raises real errors
            if method == "taylor":
                raise
    f1 = single_sample(f)
    if order == 1:
        first = vmap(lambda y, v: jvp(f1, (y,), (v,))[1], in_dims=(None, 0))
        pair = vmap(first)(z, directions.transpose(0, 1))
        return pair[:, 0] * pair[:, 1]
    return vmap(lambda y, v: _nested_jvp(f1, y, v))(z, directions.transpose(0, 1))


@dataclass(frozen=True)
class PenaltyEstimate:
    """Unbiased estimate of the cross-derivative penalty from S i.i.d. (point, tuple) draws.

    ``value``: scalar, mean_s X_s with X_s = T * sum_l (d_{t_s} f_l(z_{b_s}))^2, so that
    E[value] = P = mean_b sum_t sum_l (d_t f_l(z_b))^2; ``variance``: scalar, the unbiased
    estimate s^2 / S of Var(value) (NaN when S = 1); ``samples``: S.
    """

    value: Tensor
    variance: Tensor
    samples: int


def cross_penalty_estimate(f: Function, z: Tensor, slot_sizes: Sequence[int], order: int,
                           tuple_ids: Tensor, points: Tensor | None = None,
                           method: str = "auto") -> PenaltyEstimate:
    """The penalty estimate for given draws: sample s is point ``points[s]`` (default s) with
    cross tuple ``tuple_ids[s]``.

    With points uniform on the batch and tuple ids uniform on the T cross tuples, all
    independent, E[X_s] = (1/B) sum_b (1/T) sum_t T sum_l (d_t f_l(z_b))^2 = P exactly; the
    estimate is differentiable in f's parameters (and z). ``z: (B, d_z)``, ``tuple_ids: (S,)``,
    ``points: (S,)``.
    """
    sizes = validate_points(z, slot_sizes)
    rows = z if points is None else z[points.to(z.device)]
    values = cross_sample_values(f, rows, sizes, order, tuple_ids, method)
    x = tuple_count(sizes, order) * values.square().sum(-1)
    n = x.shape[0]
    variance = x.var(correction=1) / n if n > 1 else x.new_full((), float("nan"))
    return PenaltyEstimate(x.mean(), variance, n)


def draw_cross_samples(batch: int, slot_sizes: Sequence[int], order: int, samples: int,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """S i.i.d. uniform draws (``points: (S,)`` in [0, batch), ``tuple_ids: (S,)`` in [0, T))
    for :func:`cross_penalty_estimate` (CPU long tensors)."""
    sizes = check_sizes(slot_sizes)
    order = check_order(order)
    count = tuple_count(sizes, order)
    if count == 0:
        raise DataError(f"slots {sizes} have no cross tuples of order {order}")
    positive_int("samples", samples)
    positive_int("batch", batch)
    points = torch.randint(int(batch), (int(samples),), generator=generator)
    tuple_ids = torch.randint(count, (int(samples),), generator=generator)
    return points, tuple_ids


def step_generator(seed: int, step: int) -> torch.Generator:
    """A CPU generator determined by (run seed, step): the same draws when a run is repeated or
    resumed from a checkpoint at that step."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) % 2**63)


def stochastic_cross_penalty(f: Function, z: Tensor, slot_sizes: Sequence[int], order: int,
                             samples: int, generator: torch.Generator | None = None,
                             method: str = "auto") -> PenaltyEstimate:
    """Unbiased estimate of P = mean_b sum_t sum_l (d^order f_l / dz_t (z_b))^2 from ``samples``
    uniform (point, cross tuple) draws (:func:`draw_cross_samples`,
    :func:`cross_penalty_estimate`). Cost: 2^order forward-pass equivalents per sample, against
    N_order (:func:`forward_passes`) per point for the exact penalty; the variance is reported.
    """
    points, tuple_ids = draw_cross_samples(z.shape[0], slot_sizes, order, samples, generator)
    return cross_penalty_estimate(f, z, slot_sizes, order, tuple_ids, points, method)


def penalty_tuple_ids(n: int, slot_sizes: Sequence[int], order: int, seed: int, step: int
                      ) -> Tensor:
    """``(n,)`` uniform cross-tuple indices of order ``order`` for training step ``step`` of a
    run seeded ``seed`` (:func:`step_generator`): the draws of the stochastic penalty."""
    count = tuple_count(check_sizes(slot_sizes), check_order(order))
    if count == 0:
        raise DataError(f"slots {tuple(slot_sizes)} have no cross tuples of order {order}")
    return torch.randint(count, (int(n),), generator=step_generator(seed, step))
