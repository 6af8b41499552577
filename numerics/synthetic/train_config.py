"""The configuration of one training run: :class:`TrainConfig`, its validation and work limits.

Every setting of ``iasym train``, sweeps and the library call numerics.synthetic.training.train is a
field here, the optimisation settings (steps, learning rate, schedule, seed, device,
checkpoints, ...) in the nested :class:`numerics.core.engine.EngineConfig` ``engine``, whose
defaults for this pipeline are :func:`default_engine`. Sweep specs, the CLI and saved configs
name settings flat (``steps`` and ``seed`` beside ``order``; :data:`ENGINE_SETTINGS`):
:meth:`TrainConfig.settings`, :meth:`TrainConfig.to_dict` and :meth:`TrainConfig.from_settings`
convert (the CLI reads its defaults and choices from here); ``validate`` refuses
what cannot be trained with before anything is built, with the package's own errors
(:class:`numerics.core.errors.ConfigError`, and :class:`theory.errors.BudgetError` for work above
the limits below). numerics.synthetic.training re-exports everything in this module.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from numerics.core.engine import EngineConfig
from numerics.core.errors import ConfigError
from numerics.core.jsonio import JSONDict
from numerics.core.validation import (
    finite_at_least,
    int_at_least,
    is_int,
    is_real,
    non_negative_int,
    optional_int_at_least,
    positive_finite,
    positive_int,
    positive_sizes,
)
from numerics.synthetic.selection import SelectionSettings
from theory.errors import BudgetError

if TYPE_CHECKING:
    from numerics.synthetic.translate import SymbolicGenerator

__all__ = ["DEFAULT_OUTPUTS", "ENGINE_SETTINGS", "GENERATOR_KINDS", "MAX_BATCH",
           "MAX_DECODER_MONOMIALS", "MAX_GENERATOR_TERMS", "MAX_LATENTS", "MAX_SEED",
           "MEMORY_LIMIT", "SUPPORT_KINDS", "TrainConfig", "default_engine"]
GENERATOR_KINDS = ("neural", "sympy")
SUPPORT_KINDS = ("full", "correlated", "band", "lshape")
#: Outputs of a run that does not set them, unless the order needs more (TrainConfig.d_x).
DEFAULT_OUTPUTS = 40
#: Most bytes of training, validation and test data a run may hold (8 GiB).
MEMORY_LIMIT = 8 * 2**30
#: Largest batch (drawn with replacement from the training set).
MAX_BATCH = 65_536
#: Work limits checked before anything is built (TrainConfig._check_work): latents, the
#: structured decoder's cross-slot monomials, the exact generator's terms. 4 slots x 2 latents
#: at order 3 needs 8 latents, 128 monomials and 33,856 terms (184 outputs x 184 monomials);
#: 3x3 at order 3 69,696; 3x2 at order 5 (232,324 terms) is refused.
MAX_LATENTS = 256
MAX_DECODER_MONOMIALS = 8192
MAX_GENERATOR_TERMS = 120_000
#: Seeds are non-negative and below 2**62, so that every derived seed fits torch's generator.
MAX_SEED = 2**62
#: EngineConfig fields a run sets (by these flat names in sweeps, the CLI and saved configs):
#: all but the segment bounds and the checkpoint fingerprint, which the pipeline derives
#: (numerics.synthetic.selection trains in stages; TrainConfig.fit_engine).
ENGINE_SETTINGS = tuple(f.name for f in fields(EngineConfig)
                        if f.name not in ("first_step", "last_step", "fingerprint"))


def default_engine() -> EngineConfig:
    """The synthetic pipeline's optimisation defaults: 2000 AdamW steps at peak learning rate
    1e-2 with weight decay 1e-4, 100 linear warm-up steps, then cosine decay to 0.02 x the peak;
    gradient norm clipped at 1 (per member of a population); seed 0 (the other fields are
    EngineConfig's own defaults)."""
    return EngineConfig(steps=2000, lr=1e-2, weight_decay=1e-4, warmup_steps=100,
                        schedule="cosine", min_lr_ratio=0.02, grad_clip=1.0, seed=0)


@dataclass
class TrainConfig:
    """Everything that defines one training run (see the module docstring).

    ``sympy_generator``: for ``generator="sympy"``, a ``theory.generators.Generator`` (or any
    object with ``.f`` and ``.slots``); then ``slot_sizes`` and ``outputs`` are taken from it.
    ``order`` is the generator's interaction order; ``decoder_order`` the structured decoder's
    (default: the same, the matched case; set it to study mismatched model and generator).
    ``latent_sizes``: inferred slot sizes (default ``slot_sizes``). ``hidden``: decoder width
    (per slot for structured decoders; default 64 structured, 128 MLP). ``assignment_penalty``:
    alpha of the order-0 structured decoder. ``cross_penalty``: weight of the order-(n+1)
    cross-derivative penalty (MLP baseline); ``penalty_tuples``: 0 for the exact penalty over
    all cross tuples at ``penalty_batch`` points, k > 0 for its unbiased estimate from k random
    cross tuples per point (drawn from the seed and the step). ``slot_degree``: the within-slot
    degree of the exact (sympy) generator (default: 3 for orders 0-2, order + 1 above;
    numerics.synthetic.data.sympy_generator_for): a decoder of order N is only in the theorem's
    regime on generators whose slot functions have degree >= N + 1 (below, any linear mixing
    keeps f o h of order <= N: a certified counterexample). ``engine``: the optimisation
    settings (:func:`default_engine`): ``steps``, peak ``lr``, ``weight_decay``,
    ``warmup_steps`` of linear warm-up, the schedule, gradient clipping, ``seed`` (of the data,
    the models and the batches), ``device``, ``amp``, ``eval_every`` (steps between periodic
    metrics, 0: none), ``checkpoint`` (path of a resumable checkpoint, None: none),
    ``checkpoint_every``, ``progress``; its segment bounds and fingerprint are derived
    (:meth:`fit_engine`).
    """

    order: int = 1
    decoder: str = "structured"
    decoder_order: int | None = None
    slot_sizes: tuple[int, ...] = (1, 1, 1)
    outputs: int | None = None
    generator: str = "sympy"
    slot_degree: int | None = None
    sympy_generator: SymbolicGenerator | None = field(default=None, repr=False)
    latent_sizes: tuple[int, ...] | None = None
    generator_hidden: int = 16
    generator_depth: int = 1
    batch_size: int = 256
    support: str = "lshape"
    support_options: dict[str, float] = field(default_factory=dict)
    hidden: int | None = None
    depth: int = 2
    encoder_hidden: int = 128
    assignment_penalty: float = 0.2
    harden_at: float = 0.7
    cross_penalty: float = 0.0
    penalty_batch: int = 32
    penalty_tuples: int = 0
    n_train: int = 32768
    n_eval: int = 2000
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    n_val: int = 1024
    engine: EngineConfig = field(default_factory=default_engine)

    def constrained(self) -> bool:
        """Whether the decoder family has at most ``model_order()``-th order interaction by
        construction (numerics.synthetic.decoder_families: blocks to regroup or unmix, theorems
        apply)."""
        from numerics.synthetic.decoder_families import family

        return family(self.decoder).interaction_order

    def model_order(self) -> int:
        """Interaction order of the structured decoder: ``decoder_order`` or ``order``."""
        return self.order if self.decoder_order is None else self.decoder_order

    def validate(self) -> None:
        """Raise :class:`ConfigError` for any value that cannot be trained with."""
        if not isinstance(self.engine, EngineConfig):
            raise ConfigError(f"engine must be an EngineConfig, got {self.engine!r}")
        derived = {"first_step": 0, "last_step": None, "fingerprint": None}
        for name, value in derived.items():
            if getattr(self.engine, name) != value:
                raise ConfigError(f"engine.{name} is derived by the pipeline (stages, "
                                  f"checkpoints) and must be left at {value!r}, got "
                                  f"{getattr(self.engine, name)!r}")
        non_negative_int("order", self.order)
        optional_int_at_least("decoder_order", self.decoder_order, 0,
                              what="a non-negative integer")
        from numerics.synthetic.decoder_families import family

        family(self.decoder)  # ConfigError naming the registered families
        if self.generator not in GENERATOR_KINDS:
            raise ConfigError(f"generator must be one of {GENERATOR_KINDS}, got "
                              f"{self.generator!r}")
        if self.generator == "sympy" and self.sympy_generator is not None:
            if not (hasattr(self.sympy_generator, "f") and hasattr(self.sympy_generator,
                                                                   "slots")):
                raise ConfigError("sympy_generator must be an object with .f (sympy Matrix) "
                                  "and .slots (theory.slots.Slots)")
        from_generator = self.generator == "sympy" and self.sympy_generator is not None
        sizes = positive_sizes("slot_sizes",
                               self.true_sizes() if from_generator else self.slot_sizes)
        latent = self.latent_sizes
        if latent is not None and len(positive_sizes("latent_sizes", latent)) < len(sizes):
            raise ConfigError(f"latent_sizes {tuple(latent)} has fewer slots than the "
                              f"{len(sizes)} true slots: slots could not be matched")
        self._check_work(sizes)
        outputs = positive_int("outputs", self.d_x())
        from theory.generators import MAX_SLOT_DEGREE

        if self.slot_degree is not None and (
                not is_int(self.slot_degree) or self.generator != "sympy"
                or self.sympy_generator is not None
                or not max(2 if self.order <= 1 else 3, self.order + 1) <= self.slot_degree
                <= MAX_SLOT_DEGREE):
            raise ConfigError(f"slot_degree applies to the built-in sympy generators and must "
                              f"lie in {max(2 if self.order <= 1 else 3, self.order + 1)}.."
                              f"{MAX_SLOT_DEGREE} for order {self.order}, got "
                              f"{self.slot_degree!r}")
        if self.generator == "neural" and self.order == 0 and outputs < sum(sizes):
            raise ConfigError(f"order 0 needs outputs >= d_z = {sum(sizes)}, got {outputs}")
        if self.generator == "neural" and self.order >= 2 and len(sizes) < 2:
            raise ConfigError(f"order {self.order} needs at least 2 slots")
        if self.support not in SUPPORT_KINDS:
            raise ConfigError(f"support must be one of {SUPPORT_KINDS}, got {self.support!r}")
        if self.support in ("band", "lshape") and len(sizes) < 2:
            raise ConfigError(f"a {self.support} support needs at least 2 slots")
        engine = self.engine
        for name in ("steps", "warmup_steps"):
            int_at_least(name, getattr(engine, name), 0)
        for name in ("batch_size", "n_train", "n_eval", "depth", "encoder_hidden",
                     "penalty_batch", "generator_hidden", "generator_depth", "penalty_tuples"):
            int_at_least(name, getattr(self, name), 0 if name == "penalty_tuples" else 1)
        if self.n_train < 2:
            raise ConfigError(f"n_train must be >= 2 (outputs are standardized with training "
                              f"statistics), got {self.n_train}")
        floats = (self.n_train + self.n_eval + self.n_val) * (outputs + 2 * sum(sizes))
        if floats * 8 > MEMORY_LIMIT:
            raise BudgetError(f"n_train={self.n_train}, n_eval={self.n_eval} with {outputs} "
                              f"outputs need about {floats * 8 / 2**30:.1f} GiB of data, above "
                              f"the limit of {MEMORY_LIMIT / 2**30:.0f} GiB "
                              f"(numerics.synthetic.train_config.MEMORY_LIMIT)")
        if self.batch_size > MAX_BATCH:
            raise BudgetError(f"batch_size {self.batch_size} is above the limit of {MAX_BATCH} "
                              f"(numerics.synthetic.train_config.MAX_BATCH); batches are drawn "
                              f"with replacement from the n_train={self.n_train} samples")
        if self.n_eval < 50:
            raise ConfigError(f"n_eval must be >= 50 for the slot identifiability score, "
                              f"got {self.n_eval}")
        optional_int_at_least("hidden", self.hidden, 1, what="a positive integer")
        if not is_real(self.harden_at) or not 0.0 <= self.harden_at <= 1.0:
            raise ConfigError(f"harden_at must be a fraction in [0, 1], got {self.harden_at!r}")
        for name in ("assignment_penalty", "cross_penalty"):
            finite_at_least(name, getattr(self, name))
        finite_at_least("weight_decay", engine.weight_decay)
        positive_finite("lr", engine.lr)
        if not is_int(engine.seed) or not 0 <= engine.seed < MAX_SEED:
            raise ConfigError(f"seed must be an integer in [0, 2**62), got {engine.seed!r}")
        if engine.checkpoint is not None:
            from numerics.core.io import check_output_path

            check_output_path(engine.checkpoint, "checkpoint")
        int_at_least("eval_every", engine.eval_every, 0)
        if not isinstance(self.selection, SelectionSettings):
            raise ConfigError(f"selection must be a SelectionSettings, got {self.selection!r}")
        self.selection.validate()
        int_at_least("n_val", self.n_val, 16)
        self.fit_engine().validate()

    def _check_work(self, sizes: tuple[int, ...]) -> None:
        """:class:`BudgetError` before anything is built when the run is too large to be
        built at all: more latents than MAX_LATENTS, a structured decoder with more than
        MAX_DECODER_MONOMIALS cross-slot monomials, or an exact generator with more than
        MAX_GENERATOR_TERMS terms (outputs x monomials per output); all counted by formula."""
        from numerics.synthetic.models import monomial_count
        from theory.class_construction import class_size

        latent = self.inferred_sizes()
        for what, dims in (("true", sizes), ("inferred", latent)):
            if sum(dims) > MAX_LATENTS:
                raise BudgetError(f"{sum(dims)} {what} latents are above the limit of "
                                  f"{MAX_LATENTS} (numerics.synthetic.train_config.MAX_LATENTS)")
        if self.constrained():
            count = monomial_count(latent, self.model_order())
            if count > MAX_DECODER_MONOMIALS:
                raise BudgetError(
                    f"a structured decoder of order {self.model_order()} on slots "
                    f"{latent} has {count} cross-slot monomials, above the limit of "
                    f"{MAX_DECODER_MONOMIALS} "
                    f"(numerics.synthetic.train_config.MAX_DECODER_MONOMIALS)")
        if self.generator == "sympy" and self.sympy_generator is None:
            order = self.order
            per_output = (max(class_size((n,), 0, 3) for n in sizes) if order == 0 else
                          class_size(sizes, order, 3 if order <= 2 else order + 1))
            outputs = self.d_x()
            terms = per_output * outputs if is_int(outputs) else per_output
            if terms > MAX_GENERATOR_TERMS:
                raise BudgetError(
                    f"the exact order-{order} generator on slots {sizes} with {outputs} "
                    f"outputs has about {terms} terms, above the limit of "
                    f"{MAX_GENERATOR_TERMS} (numerics.synthetic.train_config.MAX_GENERATOR_TERMS);"
                    f" use fewer latents or outputs, a lower order or --generator neural")

    def true_sizes(self) -> tuple[int, ...]:
        """True slot sizes (from the sympy generator when there is one)."""
        if self.generator == "sympy" and self.sympy_generator is not None:
            return tuple(self.sympy_generator.slots.sizes)
        return tuple(self.slot_sizes)

    def inferred_sizes(self) -> tuple[int, ...]:
        """Inferred slot sizes: ``latent_sizes`` or the true ones."""
        return tuple(self.latent_sizes) if self.latent_sizes is not None else self.true_sizes()

    def d_x(self) -> int:
        """Number of outputs: from the sympy generator when there is one, else ``outputs``, or by
        default the larger of 40 and the fewest a sufficiently independent generator of this
        order and layout can have (theory.generators.minimum_outputs; 98 for order 3 on 3x2)."""
        if self.generator == "sympy" and self.sympy_generator is not None:
            return len(tuple(self.sympy_generator.f))
        if self.outputs is None:
            from theory.class_construction import minimum_outputs

            if not is_int(self.order) or self.order < 0:
                return DEFAULT_OUTPUTS
            try:
                return max(DEFAULT_OUTPUTS, minimum_outputs(self.order, self.true_sizes()))
            except ValueError:
                return DEFAULT_OUTPUTS
        return self.outputs

    def fit_engine(self) -> EngineConfig:
        """The :class:`numerics.core.engine.EngineConfig` that numerics.core.engine.fit runs
        with: ``engine`` with the values that follow from the rest of the run: the warm-up at
        most ``steps`` long, no bfloat16 autocast with a derivative penalty (cross_penalty > 0),
        a logged loss at least once (``log_every`` at most ``steps``), ``lr`` and
        ``weight_decay`` as floats, and the checkpoint's :meth:`fingerprint` when there is a
        checkpoint. The segment bounds are set per stage by numerics.synthetic.selection."""
        engine = self.engine
        return replace(
            engine, lr=float(engine.lr), weight_decay=float(engine.weight_decay),
            warmup_steps=min(engine.warmup_steps, engine.steps),
            amp=bool(engine.amp and self.cross_penalty == 0),
            log_every=max(1, min(engine.log_every, engine.steps)),
            fingerprint=self.fingerprint() if engine.checkpoint is not None else None)

    def fingerprint(self) -> JSONDict:
        """What a checkpoint of this run must match to be resumed: every setting that changes
        the numbers (not progress, checkpoint paths, evaluation or log cadence, device), the exact
        generator (sha256 of its expressions and slots) and the package version."""
        import hashlib

        from numerics.core.io import package_version
        from numerics.core.jsonio import plain

        out = plain(self.to_dict())
        for name in ("progress", "checkpoint", "checkpoint_every", "eval_every", "device",
                     "log_every"):
            out.pop(name)
        symbolic = self.sympy_generator
        if symbolic is not None:
            text = repr((tuple(str(e) for e in symbolic.f),
                         tuple(tuple(str(v) for v in b) for b in symbolic.slots.blocks)))
            out["sympy_generator"] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return {"config": out, "package": package_version()}

    def settings(self) -> dict[str, object]:
        """Every setting by its flat name: the fields other than ``engine``, then the engine's
        :data:`ENGINE_SETTINGS` (``steps``, ``lr``, ``seed``, ...). These names are the ones
        of ``iasym train``'s options, sweep specs and :meth:`to_dict`; ``TrainConfig().settings()``
        are the defaults."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)
                                  if f.name != "engine"}
        return out | {name: getattr(self.engine, name) for name in ENGINE_SETTINGS}

    def to_dict(self) -> JSONDict:
        """JSON-friendly :meth:`settings`: the sympy generator by its name, the slot sizes and
        outputs the run uses, ``selection`` as a dict (read back by :meth:`from_settings`)."""
        out = {name: copy.deepcopy(value) for name, value in self.settings().items()
               if name != "sympy_generator"}
        out["sympy_generator"] = (None if self.sympy_generator is None else
                                  getattr(self.sympy_generator, "name", "sympy"))
        out["slot_sizes"] = list(self.true_sizes())
        out["latent_sizes"] = list(self.inferred_sizes())
        out["outputs"] = self.d_x()
        out["selection"] = asdict(self.selection)
        return out

    @classmethod
    def from_settings(cls, settings: Mapping[str, object] | None = None, /,
                      **more: object) -> TrainConfig:
        """The config of flat settings (:meth:`settings`' names), from ``settings`` and then
        ``more``; engine settings not given keep :func:`default_engine`'s values. JSON forms are
        read back (:meth:`to_dict`): lists as tuples for ``slot_sizes`` / ``latent_sizes``, a
        dict as :class:`SelectionSettings` (:meth:`SelectionSettings.from_dict`). Raises
        :class:`ConfigError` naming unknown settings; the values are checked by
        :meth:`validate`."""
        given = {**(settings or {}), **more}
        names = {f.name for f in fields(cls)} - {"engine"}
        unknown = sorted(set(given) - names - set(ENGINE_SETTINGS))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)} for TrainConfig; "
                              f"valid: {', '.join(sorted(names | set(ENGINE_SETTINGS)))}")
        for name in ("slot_sizes", "latent_sizes"):
            sizes = given.get(name)
            if isinstance(sizes, list):
                given[name] = tuple(sizes)
        selection = given.get("selection")
        if isinstance(selection, Mapping):
            given["selection"] = SelectionSettings.from_dict(selection)
        # the values' types are checked by validate, not here
        own: dict[str, Any] = {k: v for k, v in given.items() if k in names}
        optimisation: dict[str, Any] = {k: v for k, v in given.items() if k in ENGINE_SETTINGS}
        return cls(**own, engine=replace(default_engine(), **optimisation))
