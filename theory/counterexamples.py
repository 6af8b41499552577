"""Catalogue of certified counterexamples: drop one assumption of the theorems, watch them fail.

The theorems (docs/theory.md section 4) need: (i) a generator f with at most n-th order
interaction across slots, (ii) sufficient independence within slots, (iii) a model of the same
order n and (iv) the same latent dimension, and for compositional generalization (v) an
aligned-connected training support. Each entry of :data:`CATALOGUE` keeps every assumption but
one and carries an explicit witness that the conclusion then fails; :func:`verify` re-checks the
witness exactly (sympy, rationals, no floats).

The witness types and their verification are :mod:`theory.witnesses`; this module holds the
entries only. ``verify`` is re-exported here because the catalogue is used as
``counterexamples.get(name)`` then ``counterexamples.verify(entry)``.
"""

from __future__ import annotations

import sympy

from theory.errors import CatalogueError
from theory.slots import Slots
from theory.supports import smoothstep
from theory.witnesses import (
    CounterexampleEntry,
    LargerDecoder,
    Reparametrization,
    SupportWitness,
    verify,
)

__all__ = ["CATALOGUE", "additive_quadratic", "get", "names", "verify"]


def _two_scalar_slots() -> tuple[Slots, sympy.Symbol, sympy.Symbol]:
    slots = Slots.from_sizes(1, 1)
    (z1,), (z2,) = slots.blocks
    return slots, z1, z2


def additive_quadratic(z1: sympy.Symbol, z2: sympy.Symbol) -> sympy.Matrix:
    """f = (z1, z2, z1^2 + z2, z2^2 + z1): additive (order 1) and sufficiently nonlinear at
    order 1, but with zero third derivatives. The base generator of several catalogue entries
    and the restored-assumption control of the ``linear`` demonstration."""
    return sympy.Matrix([z1, z2, z1**2 + z2, z2**2 + z1])


def _linear() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = sympy.Matrix([z1 + 2 * z2, 3 * z1 - z2, z1 - z2, 2 * z1 + z2])
    return CounterexampleEntry(
        name="linear",
        assumption="sufficient independence (f is linear)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f(z) = A z is additive (order 1) but not sufficiently nonlinear; the shear"
               " h(z) = (z1 + z2, z2) mixes the slots and f o h = A M z is again linear, hence an"
               " additive decoder f_hat = f o h fits the data exactly with mixed latents."),
        derivation=("D^2 f = 0, so the n = 1 columns {D_i f, D_ii f} are {A e_1, A e_2, 0, 0}:"
                    " rank 2 < 4. For any invertible M, (f o M)(z) = (AM) z is linear, so every"
                    " invertible linear h is an ambiguity; h = [[1, 1], [0, 1]] is not slot-wise."),
    )


def _low_degree() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = sympy.Matrix([z1, z2, z1**2, z2**2, z1 * z2])
    return CounterexampleEntry(
        name="low_degree",
        assumption="sufficient independence (slot functions of too low degree for order 2)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=2, model_order=2,
        independent_at={2: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f has exact order 2 (the bilinear term z1 z2) but is quadratic, so its third"
               " within-slot derivatives vanish; the linear shear h = (z1 + z2, z2) keeps f o h"
               " quadratic, hence of order <= 2: an order-2 decoder fits the data with mixed"
               " latents."),
        derivation=("A polynomial of total degree <= 2 has no monomial of degree > 2, so it has"
                    " order <= 2 whatever its cross-slot terms; composing with a linear map keeps"
                    " the degree. Sufficient independence at order 2 needs the within-slot third"
                    " derivatives D_111 f, D_222 f, which are 0."),
    )


def _higher_order_interaction() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    u1, u2 = 2 * z1 + z2, -z1 + z2
    f = sympy.Matrix([u1, u2, sympy.expand(u1**2), sympy.expand(u2**2)])
    third = sympy.Rational(1, 3)
    return CounterexampleEntry(
        name="higher_order_interaction",
        assumption="at most n-th order interaction across slots (f has order 2, model order 1)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=2, model_order=1,
        independent_at={1: True},
        witness=Reparametrization(sympy.Matrix([third * (z1 - z2), third * (z1 + 2 * z2)]),
                                  sympy.Matrix([2 * z1 + z2, -z1 + z2]), f_h_independent_at=1),
        claim=("f = g(A z) with g(u) = (u1, u2, u1^2, u2^2) and A = [[2, 1], [-1, 1]] has exact"
               " order 2 > 1 yet is sufficiently nonlinear at order 1. Certified: h = A^{-1} mixes"
               " the slots and f o h = g is additive, so an additive (order-1) decoder reproduces"
               " the data exactly with latents u = A z. Since g is sufficiently nonlinear at"
               " order 1 (checked), the n = 1 theorem makes every additive decoder that fits the"
               " data recover u up to slot-wise maps: no order-1 model recovers the true slots"
               " of z."),
        derivation=("(f o A^{-1})(u) = g(u) = (u1, u2, u1^2, u2^2): every output depends on one"
                    " slot. The n = 1 columns of g are (1,0,2u1,0), (0,1,0,2u2), (0,0,2,0),"
                    " (0,0,0,2): rank 4 everywhere. For f: D_1 f = 2 g_1 - g_2, D_2 f = g_1 + g_2,"
                    " D_11 f = 4 g_11 + g_22, D_22 f = g_11 + g_22 (g_12 = 0): rank 4 as well;"
                    " D_12 f = 2 g_11 - g_22 = (0,0,4,-2) != 0 with f quadratic: order exactly"
                    " 2."),
    )


def _model_order_too_high() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    return CounterexampleEntry(
        name="model_order_too_high",
        assumption="model order equal to the generator's (additive f, order-2 model)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=2,
        independent_at={1: True, 2: False},
        witness=Reparametrization(sympy.Matrix([z1 + z2, z2]), sympy.Matrix([z1 - z2, z2])),
        claim=("f is additive with quadratic slot functions: order exactly 1 and sufficiently"
               " nonlinear at order 1 (identifiable by an additive model), but under an order-2"
               " model the shear h = (z1 + z2, z2) keeps f o h quadratic, hence of order <= 2:"
               " the order-2 model fits the data with mixed latents."),
        derivation=("f o h = (z1 + z2, z2, (z1 + z2)^2 + z2, z2^2 + z1 + z2) has total degree 2,"
                    " so no monomial of degree > 2 mixes slots. At order 2 sufficient"
                    " independence would need the third within-slot derivatives, which vanish."),
    )


def _latent_dim_too_large() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    model = Slots.from_sizes(2, 1, prefix="w")
    (w1, w2), (w3,) = model.blocks
    decoder = sympy.Matrix([w1 + (w2 - w3), w3, w1**2 + w3, w3**2 + w1])
    return CounterexampleEntry(
        name="latent_dim_too_large",
        assumption="model latent dimension equal to the truth (model 3 latents, truth 2)",
        conclusion="slot identifiability",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: True},
        witness=LargerDecoder(model, decoder, sympy.Matrix([z1, z2, z2]),
                              sympy.Matrix([w1, w3])),
        claim=("With model slots (w1_1, w1_2 | w2_1) the additive decoder"
               " f_hat(w) = f(w1_1, w2_1) + e_1 (w1_2 - w2_1) and the injective encoding"
               " phi(z) = (z1, z2, z2) reproduce f exactly, but model slot 1 holds a copy of the"
               " true slot 2: slot 2 is recovered in two model slots (its R^2 on model slot 1 is"
               " 1), so slot identifiability fails."),
        derivation=("f_hat(phi(z)) = f(z1, z2) + e_1 (z2 - z2) = f(z). f_hat is a sum of"
                    " single-slot terms (w1_2 - w2_1 is linear), so it is additive. The spare"
                    " latent w1_2 must carry some function of the data; here it carries z2."),
    )


def _support_not_aligned_connected() -> CounterexampleEntry:
    slots, z1, z2 = _two_scalar_slots()
    f = additive_quadratic(z1, z2)
    one, two, three = sympy.Integer(1), sympy.Integer(2), sympy.Integer(3)
    zero = sympy.Integer(0)
    step1, step2 = smoothstep(z1, one, two, 2), smoothstep(z2, one, two, 2)
    decoder = f + sympy.Matrix([0, 0, step1 - step2, step1 - step2])
    x1, x2 = sympy.symbols("x1 x2", real=True)
    return CounterexampleEntry(
        name="support_not_aligned_connected",
        assumption="aligned-connected training support (S = [0,1]^2 u [2,3]^2)",
        conclusion="compositional generalization",
        slots=slots, f=f, generator_order=1, model_order=1,
        independent_at={1: True},
        witness=SupportWitness((((zero, one), (zero, one)), ((two, three), (two, three))),
                               decoder, sympy.Matrix([x1, x2]), 2),
        claim=("On the support S = [0,1]^2 u [2,3]^2 the additive decoder"
               " f_hat = f + (0, 0, 1, 1) (s(z1) - s(z2)), s a C^2 step from 0 (t <= 1) to 1"
               " (t >= 2), equals f exactly (so h = id: slot identifiability holds), but on the"
               " unseen combinations [0,1] x [2,3] and [2,3] x [0,1] of Z_CPE it differs from f by"
               " -/+ (0, 0, 1, 1): compositional generalization fails."),
        derivation=("Both f and f_hat are additive; their difference g_1(z1) + g_2(z2) with"
                    " g_1 = s, g_2 = -s vanishes on S because s is constant on each of the two"
                    " components [0,1] and [2,3] of the slot projections and equal in both slots"
                    " on each square. A connected support would force g_1, g_2 to be constants"
                    " summing to 0; the gap between the squares lets s jump by 1, and the"
                    " Cartesian extension combines the two levels."),
    )


def _build() -> dict[str, CounterexampleEntry]:
    entries = [_linear(), _low_degree(), _higher_order_interaction(), _model_order_too_high(),
               _latent_dim_too_large(), _support_not_aligned_connected()]
    return {e.name: e for e in entries}


CATALOGUE: dict[str, CounterexampleEntry] = _build()


def names() -> tuple[str, ...]:
    """Names of the catalogue entries, in catalogue order."""
    return tuple(CATALOGUE)


def get(name: str) -> CounterexampleEntry:
    """The catalogue entry ``name``; :class:`CatalogueError` listing the names otherwise."""
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise CatalogueError(
            f"unknown counterexample {name!r}; choose one of: {', '.join(names())}") from None
