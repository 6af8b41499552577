"""The 2D Gaussian bump benchmark (Liang et al., ICML 2025): when disentangled inputs (x, y)
still do not compose, and how interaction-asymmetric decoders fix it.

``task`` (data), ``explain`` (exact interaction orders via :mod:`theory`), ``models`` (MLP/conv
baselines, log-additive and outer-product decoders), ``metrics`` (ID/OOD error, pullback-metric
factorization, cross-slot derivative norms), ``experiment`` (the comparison, table, figure).
"""

from numerics.bump.experiment import BumpConfig, BumpResult, format_table, run_bump, save_bump
from numerics.bump.explain import BumpExplanation, explain_bump
from numerics.bump.metrics import (
    Errors,
    cross_derivative_norm,
    factorization_score,
    layer_factorization_scores,
    pullback_metrics,
    reconstruction_errors,
)
from numerics.bump.models import DECODER_KINDS, BumpDecoder, make_bump_decoder
from numerics.bump.task import BumpTask, bump_image, encode, split_centres

__all__ = [
    "DECODER_KINDS",
    "BumpConfig",
    "BumpDecoder",
    "BumpExplanation",
    "BumpResult",
    "BumpTask",
    "Errors",
    "bump_image",
    "cross_derivative_norm",
    "encode",
    "explain_bump",
    "factorization_score",
    "format_table",
    "layer_factorization_scores",
    "make_bump_decoder",
    "pullback_metrics",
    "reconstruction_errors",
    "run_bump",
    "save_bump",
    "split_centres",
]
