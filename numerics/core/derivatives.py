"""Cross-slot derivatives of torch functions, computing cross entries only.

For f : R^{d_z} -> R^{d_x} with slots B_1, ..., B_K and order m >= 2, the cross-slot partials are

    d^m f_l / dz_{i_1} ... dz_{i_m}  over sorted tuples i_1 <= ... <= i_m touching >= 2 slots,

whose vanishing for m = n + 1 defines "at most n-th order interaction" (docs/theory.md section 2).
For m = 1 the cross entries are the products d_i f_l * d_j f_l (i < j in different slots), whose
vanishing defines n = 0. The full tensor D^m f is never built.

Method "taylor" (the default, :mod:`numerics.core.taylor`). Work is shared between tuples: the
function is evaluated once on a multivariate Taylor jet that carries every partial d_M y for the
multisets M in the *downward closure* of the cross tuples (the tuples and all their
sub-multisets). Every multiset of size <= m - 1 lies below some cross tuple, so with
d = d_z and T_m = :func:`tuple_count` the number of carried terms is

    N_m = C(d + m - 1, m - 1) + T_m                      (:func:`forward_passes`)

(3 slots x 2: N = 19 / 72 / 195 for T = 12 / 44 / 111 at m = 2 / 3 / 4). A linear layer costs
N_m times its forward pass (one matrix product of N_m stacked rows), an elementwise nonlinearity
sum_r r * P_r products of activation-sized tensors (Faa di Bruno partitions with r blocks; the
first nonlinearity after the input only needs the partition into singletons). Lower bounds: any
scheme that propagates exact partials forward through a generic elementwise nonlinearity needs
every term of the closure (each one appears with a non-zero coefficient phi^{(r)} in Faa di
Bruno's formula of some cross tuple), so N_m is optimal in that class; any scheme at all needs
at least T_m coefficients per output (one per wanted entry), so N_m / T_m = 1.64 / 1.76 at
m = 3 / 4 on 3 slots x 2 bounds the remaining gain. For comparison, univariate Taylor
interpolation (Griewank, Utke and Walther 2000) needs C(d + m - 1, m) directions of m + 1
coefficients (224 / 630), and the box method below 150 / 960 terms.

Method "boxes" (the fallback for operations that :class:`numerics.core.taylor.Jet` does not
propagate, and the reference). A nested forward-mode directional derivative
``jvp(jvp(... f, e_{i_1}) ..., e_{i_m})`` gives one partial; nesting ``vmap``-ed ``jvp`` levels
over *sets* of directions S_1, ..., S_m gives all partials in S_1 x ... x S_m at about
prod_l (1 + |S_l|) forward passes. The cross tuples are covered by K - 1 such boxes: box a takes
S_1 = B_a, S_2 = (slots after a), S_3..S_m = (slots from a on).

Both methods run in chunks of the batch (``chunk_size`` samples; by default about
``TAYLOR_ROWS`` / N_m samples for "taylor" and ``CHUNK_TERMS`` / prod_l (1 + |S_l|) per box for
"boxes"), so memory is bounded independently of the batch size and the terms in flight stay
cache-sized.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacfwd, jacrev, jvp, vmap

from numerics.core import jet_terms, taylor
from numerics.core.errors import ConfigError, DataError
from numerics.core.validation import positive_int, positive_sizes

Tensor = torch.Tensor
Function = Callable[[Tensor], Tensor]


def validate_points(z: Tensor, slot_sizes: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(z, Tensor):
        raise DataError(f"z must be a torch tensor of shape (batch, d_z), got {type(z).__name__}")
    if z.ndim != 2 or z.shape[0] == 0:
        raise DataError(f"z must have shape (batch, d_z) with batch >= 1, got {tuple(z.shape)}")
    if not z.is_floating_point():
        raise DataError(f"z must be floating point (float64 for checks), got {z.dtype}")
    sizes = check_sizes(slot_sizes)
    if sum(sizes) != z.shape[1]:
        raise DataError(f"slot sizes {sizes} sum to {sum(sizes)} but z has {z.shape[1]} latents")
    return sizes


def check_sizes(slot_sizes: Sequence[int]) -> tuple[int, ...]:
    return positive_sizes("slot_sizes", slot_sizes, error=DataError)


def check_order(order: int) -> int:
    return positive_int("derivative order", order)


def single_sample(f: Function) -> Function:
    """``f`` on one sample: (d_z,) -> (d_x,), for any f written for (batch, d_z) inputs."""
    def g(z: Tensor) -> Tensor:
        out = f(z.unsqueeze(0))
        return out.reshape(out.shape[-1])
    return g


def cross_tuples(slot_sizes: Sequence[int], order: int) -> list[tuple[int, ...]]:
    """Sorted latent index tuples of length ``order`` touching >= 2 slots.

    ``order >= 2``: tuples i_1 <= ... <= i_m (repeats allowed); ``order == 1``: the cross pairs
    i < j of the product entries d_i f * d_j f.
    """
    order = check_order(order)
    slot_of = np.repeat(np.arange(len(slot_sizes)), slot_sizes)
    d_z = len(slot_of)
    if order == 1:
        return [(i, j) for i, j in itertools.combinations(range(d_z), 2)
                if slot_of[i] != slot_of[j]]
    return [t for t in itertools.combinations_with_replacement(range(d_z), order)
            if len(set(slot_of[list(t)].tolist())) >= 2]


@dataclass(frozen=True)
class _Box:
    """Direction sets (innermost first) and where each assigned cross tuple sits in the box."""

    sets: tuple[tuple[int, ...], ...]
    leaf: tuple[int, ...]
    tuple_ids: tuple[int, ...]


def _boxes(slot_sizes: tuple[int, ...], tuples: list[tuple[int, ...]]) -> list[_Box]:
    """Cover the cross tuples by K - 1 boxes of direction sets (see module docstring)."""
    offsets = np.concatenate([[0], np.cumsum(slot_sizes)])
    slot_of = np.repeat(np.arange(len(slot_sizes)), slot_sizes)
    order = len(tuples[0])
    boxes = []
    for a in range(len(slot_sizes) - 1):
        first = tuple(range(offsets[a], offsets[a + 1]))
        later = tuple(range(offsets[a + 1], offsets[-1]))
        rest = tuple(range(offsets[a], offsets[-1]))
        sets = (first, later) + (rest,) * (order - 2)
        leaf, ids = [], []
        for t_id, t in enumerate(tuples):
            if slot_of[t[0]] != a:
                continue
            second = next(i for i in t if slot_of[i] > a)
            remaining = list(t)
            remaining.remove(t[0])
            remaining.remove(second)
            chosen = (t[0], second, *remaining)
            positions = [sets[level].index(i) for level, i in enumerate(chosen)]
            # nested vmap output axes run from the outermost level (last set) inwards
            dims = [len(s) for s in reversed(sets)]
            leaf.append(int(np.ravel_multi_index(tuple(reversed(positions)), dims)))
            ids.append(t_id)
        if ids:
            boxes.append(_Box(sets, tuple(leaf), tuple(ids)))
    return boxes


def _directional(g: Function, basis: Tensor) -> Function:
    """z -> (|S|, *g(z).shape): derivatives of g along each row of ``basis``."""
    def h(z: Tensor) -> Tensor:
        return vmap(lambda v: jvp(g, (z,), (v,))[1])(basis)
    return h


CHUNK_TERMS = 2**14


def _box_chunk(box: _Box, batch: int, chunk_size: int | None) -> int | None:
    """Samples per vmap chunk: ``chunk_size`` if given, else CHUNK_TERMS / (terms per sample)."""
    if chunk_size is not None:
        return chunk_size
    chunk = max(1, CHUNK_TERMS // math.prod(1 + len(s) for s in box.sets))
    return None if chunk >= batch else chunk


def _box_values(f1: Function, z: Tensor, box: _Box, chunk_size: int | None) -> Tensor:
    """Cross partials of the tuples assigned to ``box``: (batch, n_assigned, d_x)."""
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    g = f1
    for directions in box.sets:
        g = _directional(g, eye[list(directions)])
    chunk = _box_chunk(box, z.shape[0], chunk_size)
    try:
        values = vmap(g, chunk_size=chunk)(z)
    except NotImplementedError:  # e.g. SiLU: nested forward AD only in the autograd-mode form
        if torch.is_grad_enabled():
            raise
        with torch.enable_grad():
            values = vmap(g, chunk_size=chunk)(z).detach()
    values = values.reshape(z.shape[0], -1, values.shape[-1])
    return values[:, list(box.leaf), :]


def jacobian(f: Function, z: Tensor, chunk_size: int | None = None) -> Tensor:
    """Jacobian of a batched function: ``z: (batch, d_z) -> (batch, d_x, d_z)`` (forward mode)."""
    if not isinstance(z, Tensor) or z.ndim != 2:
        raise DataError(f"z must be a tensor of shape (batch, d_z), got {getattr(z, 'shape', z)}")
    return vmap(jacfwd(single_sample(f)), chunk_size=chunk_size)(z)


@dataclass(frozen=True)
class CrossDerivatives:
    """Cross-slot entries of D^order f.

    ``values: (batch, d_x, n_tuples)``; ``tuples[t]`` is the sorted latent index tuple of column
    t (for order 1: the pair (i, j) and the entry d_i f_l * d_j f_l).
    """

    order: int
    values: Tensor
    tuples: tuple[tuple[int, ...], ...]


METHODS = ("auto", "taylor", "boxes")
#: Rows (terms x samples) per Taylor chunk: 2**12 keeps the largest Faa di Bruno product of a
#: 256-wide layer at order 4 near 20 MB (16 samples); the bench's 1-thread optimum is 16-32.
TAYLOR_ROWS = 2**12


def _taylor_chunk(n_terms: int, batch: int, chunk_size: int | None) -> int:
    """Samples per Taylor chunk: ``chunk_size``, else the largest power of two <= ROWS/N."""
    if chunk_size is not None:
        return max(1, int(chunk_size))
    return min(batch, 1 << max(0, (TAYLOR_ROWS // n_terms).bit_length() - 1))


def _taylor_values(f: Function, z: Tensor, tuples: list[tuple[int, ...]],
                   chunk_size: int | None) -> Tensor:
    """Cross partials by one Taylor jet per chunk: ``(batch, d_x, n_tuples)``."""
    terms = jet_terms.term_set(tuple(jet_terms.closure(tuples)))
    rows = torch.tensor([terms.index[t] for t in tuples], device=z.device)
    step = _taylor_chunk(len(terms.terms), z.shape[0], chunk_size)
    parts = [taylor.evaluate(f, piece, terms)[rows] for piece in z.split(step)]
    return torch.cat(parts, dim=1).permute(1, 2, 0)


def _box_method(f: Function, z: Tensor, sizes: tuple[int, ...], tuples: list[tuple[int, ...]],
                chunk_size: int | None) -> Tensor:
    """Cross partials by the K - 1 boxes of nested vmapped jvp: ``(batch, d_x, n_tuples)``."""
    f1 = single_sample(f)
    parts: list[Tensor] = []
    ids: list[int] = []
    for box in _boxes(sizes, tuples):
        parts.append(_box_values(f1, z, box, chunk_size))
        ids.extend(box.tuple_ids)
    stacked = torch.cat(parts, dim=1)
    inverse = torch.empty(len(ids), dtype=torch.long, device=z.device)
    inverse[torch.tensor(ids, device=z.device)] = torch.arange(len(ids), device=z.device)
    return stacked[:, inverse, :].transpose(1, 2)


def cross_derivatives(f: Function, z: Tensor, slot_sizes: Sequence[int], order: int,
                      chunk_size: int | None = None, method: str = "auto"
                      ) -> CrossDerivatives:
    """All cross-slot partials of order ``order`` of ``f`` at the points ``z``.

    ``f``: batched torch function ``(batch, d_z) -> (batch, d_x)`` (any torch.func-compatible
    code); ``z: (batch, d_z)``; returns values of shape ``(batch, d_x, n_tuples)`` with
    ``tuples`` from :func:`cross_tuples`. ``method``: "taylor" (one multivariate Taylor jet,
    :mod:`numerics.core.taylor`), "boxes" (nested vmapped jvp) or "auto" (Taylor, falling back to
    boxes when ``f`` uses an operation the jet does not propagate); see the module docstring.
    ``chunk_size``: samples processed at once (default: from the number of Taylor terms).
    Raises :class:`ConfigError` for an unknown method or when "taylor" cannot trace ``f``.
    """
    sizes = validate_points(z, slot_sizes)
    order = check_order(order)
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    tuples = cross_tuples(sizes, order)
    if not tuples:
        empty = z.new_zeros(z.shape[0], f(z[:1]).shape[-1], 0)
        return CrossDerivatives(order, empty, ())
    if order == 1:
        jac = jacobian(f, z, chunk_size)
        first = torch.tensor([t[0] for t in tuples], device=z.device)
        second = torch.tensor([t[1] for t in tuples], device=z.device)
        return CrossDerivatives(1, jac[:, :, first] * jac[:, :, second], tuple(tuples))
    if method != "boxes":
        try:
            return CrossDerivatives(order, _taylor_values(f, z, tuples, chunk_size),
                                    tuple(tuples))
        except taylor.Unsupported as err:
            if method == "taylor":
                raise ConfigError(f"method 'taylor' cannot propagate this function ({err}); "
                                  f"use method 'boxes' or 'auto'") from err
        except Exception:
            # "auto": f may reject a non-tensor input (type checks); the boxes pass plain
            # tensors, and re-raise if f fails on those too
            if method == "taylor":
                raise
    return CrossDerivatives(order, _box_method(f, z, sizes, tuples, chunk_size), tuple(tuples))


def cross_derivative_norms(f: Function, z: Tensor, slot_sizes: Sequence[int], order: int,
                           chunk_size: int | None = None, batch_chunk: int | None = None,
                           method: str = "auto") -> Tensor:
    """sqrt(sum_l sum_t (d^order f_l / dz_t)^2) over cross-slot sorted tuples t: ``(batch,)``.

    Each sorted tuple counts once. For ``order == 1`` the entries are d_i f_l * d_j f_l over
    cross pairs i < j, so the result is sqrt(sum_l sum_{k<k'} |D_{B_k} f_l|^2 |D_{B_k'} f_l|^2),
    the root-sum-of-squares counterpart of the compositional contrast. ``batch_chunk`` processes
    the batch in pieces so that the (batch, d_x, n_tuples) values are never all in memory;
    ``method`` as in :func:`cross_derivatives`.
    """
    sizes = validate_points(z, slot_sizes)
    order = check_order(order)
    step = batch_chunk or z.shape[0]
    norms = [cross_derivatives(f, piece, sizes, order, chunk_size, method).values
             .square().sum((1, 2)) for piece in z.split(step)]
    return torch.cat(norms).sqrt()


def compositional_contrast(f: Function, z: Tensor, slot_sizes: Sequence[int],
                           chunk_size: int | None = None) -> Tensor:
    """Compositional contrast (Brady et al. 2023) per point: ``(batch,)``.

        C(f, z) = sum_l sum_{k<k'} |d f_l / d z_{B_k}| * |d f_l / d z_{B_k'}|

    (Euclidean norms of the per-slot gradient blocks); zero iff every output depends locally on
    at most one slot (interaction order 0).
    """
    sizes = validate_points(z, slot_sizes)
    jac = jacobian(f, z, chunk_size)
    slot_of = torch.repeat_interleave(torch.arange(len(sizes), device=z.device),
                                      torch.tensor(sizes, device=z.device))
    block_sq = jac.new_zeros(*jac.shape[:2], len(sizes)).index_add_(2, slot_of, jac.square())
    block = block_sq.sqrt()
    pairs = torch.einsum("blk,blm->bkm", block, block)
    upper = torch.ones(len(sizes), len(sizes), dtype=torch.bool, device=z.device).triu(1)
    return (pairs * upper).sum((1, 2))


def derivative_tensor(f: Function, z: Tensor, order: int) -> Tensor:
    """Full derivative tensor D^order f: ``(batch, d_x, d_z, ..., d_z)`` (reference method).

    ``vmap(jacfwd(...jacfwd(jacrev(f))))``: reverse mode for the first derivative, forward mode
    on top, as in the object-centric identifiability code. Cost grows like d_x * d_z^order; use
    it to check :func:`cross_derivatives`, not on hot paths.
    """
    order = check_order(order)
    if not isinstance(z, Tensor) or z.ndim != 2:
        raise DataError(f"z must be a tensor of shape (batch, d_z), got {getattr(z, 'shape', z)}")
    g = jacrev(single_sample(f))
    for _ in range(order - 1):
        g = jacfwd(g)
    return vmap(g)(z)


def select_cross(full: Tensor, tuples: Sequence[tuple[int, ...]]) -> Tensor:
    """Pick cross entries from a full tensor (batch, d_x, d_z, ...): ``(batch, d_x, n_tuples)``."""
    order = full.ndim - 2
    d_z = full.shape[-1]
    flat = full.reshape(*full.shape[:2], d_z**order)
    index = [int(np.ravel_multi_index(t, (d_z,) * order)) for t in tuples]
    return flat[:, :, torch.tensor(index, dtype=torch.long, device=full.device)]


def forward_passes(slot_sizes: Sequence[int], order: int, method: str = "taylor") -> int:
    """Forward-pass equivalents per sample that :func:`cross_derivatives` evaluates.

    Order 1: 1 + d_z (primal and one tangent per latent, forward-mode Jacobian). Order m >= 2,
    ``method`` "taylor" (also "auto"): N_m = C(d_z + m - 1, m - 1) + T_m, the terms of the
    downward closure of the cross tuples that the jet carries through every layer; "boxes":
    sum over the K - 1 boxes of prod_l (1 + |S_l|), the terms (primal, and one per non-empty
    choice of directions from a subset of the levels) that the nested vmapped jvp carries. The
    bench compares the time with one forward pass on that many copies of the batch.
    """
    sizes = check_sizes(slot_sizes)
    order = check_order(order)
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    if order == 1:
        return 1 + sum(sizes)
    count = tuple_count(sizes, order)
    if count == 0:
        return 0
    if method != "boxes":
        return math.comb(sum(sizes) + order - 1, order - 1) + count
    tuples = cross_tuples(sizes, order)
    return sum(math.prod(1 + len(s) for s in box.sets) for box in _boxes(sizes, tuples))


def passes_lower_bound(slot_sizes: Sequence[int], order: int) -> int:
    """T_m = :func:`tuple_count`: one propagated coefficient per wanted cross entry, the least
    any method can carry per output and sample (order 1: 1 + d_z, a full first derivative)."""
    sizes = check_sizes(slot_sizes)
    order = check_order(order)
    return 1 + sum(sizes) if order == 1 else tuple_count(sizes, order)


def tuple_count(slot_sizes: Sequence[int], order: int) -> int:
    """Number of cross-slot sorted tuples: C(d_z + m - 1, m) - sum_k C(d_k + m - 1, m)."""
    order = check_order(order)
    d_z = sum(slot_sizes)
    if order == 1:
        return math.comb(d_z, 2) - sum(math.comb(d, 2) for d in slot_sizes)
    return math.comb(d_z + order - 1, order) - sum(math.comb(d + order - 1, order)
                                                   for d in slot_sizes)


# --- stochastic cross-derivative penalty ---------------------------------------------------------


