"""The verdict of a training run: identified, an optimization failure, or a candidate
counterexample.

A trained autoencoder (encoder ghat, decoder fhat) is judged by two numbers:

* ``recon``: held-out reconstruction error mean |fhat(ghat(x)) - x|^2 on standardized outputs
  (1 = predicting the mean), on samples from the training support that no gradient step saw;
* ``off_block``: the off-block fraction of dh/dz for h = ghat o f (numerics.synthetic.slotwise): 0
  when h is slot-wise up to permutation.

The theorems are about decoders that **reconstruct** the data: a run whose error is above
:data:`RECON_THRESHOLD` did not (it stopped in a local minimum or ran out of steps), so it is an
optimization failure and says nothing about the theorem. The verdicts:

* ``identified``: recon <= RECON_THRESHOLD and off_block <= OFF_BLOCK_THRESHOLD;
* ``not-converged``: recon > RECON_THRESHOLD (an optimization failure, not evidence);
* ``mixed-but-reconstructs``: recon <= RECON_THRESHOLD yet off_block > OFF_BLOCK_THRESHOLD.
  Where the theory predicts identifiability (a structured decoder of order n, a generator of
  order <= n that is sufficiently independent at order n: ``identifiable`` for n <= 2,
  ``conjectured`` for n >= 3) this contradicts the theorem (or the conjecture) numerically: it
  is a **candidate counterexample**, to be reproduced from its saved config, seed, checkpoint
  and generator. Elsewhere it is what the theory allows: an MLP decoder, a generator that is
  not sufficiently independent, and above all a ``not-identifiable`` prediction, where the
  theory holds a certified counterexample h (f o h fits with an order-n decoder as well as f).

Thresholds, from 45 measured runs of ``iasym train`` at its defaults (2-core CPU; structured
decoders of the generator's order on 3x2, 2x3, 4x2 and (2, 3, 1) slots, orders 0-3): runs
whose h is slot-wise (SIS >= 0.96) reach held-out errors 2.8e-4 to 2.4e-3 with off-block
fractions 0.001-0.005; runs stuck in slot-mixing minima stay at 5.4e-3 to 2.8e-2 with
off-block fractions 0.08-0.52. The thresholds sit in those gaps, on the side that keeps a
mixed run that only approximately reconstructs from being called a candidate counterexample:
3e-3 and 0.05.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from numerics.synthetic.translate import SymbolicGenerator

__all__ = ["OFF_BLOCK_THRESHOLD", "RECON_THRESHOLD", "RUN_VERDICTS", "RunVerdict", "judge",
           "predict"]

RECON_THRESHOLD = 3e-3
OFF_BLOCK_THRESHOLD = 0.05
RUN_VERDICTS = ("identified", "not-converged", "mixed-but-reconstructs")
#: Theory predictions under which a mixed run that reconstructs contradicts a theorem.
PREDICTS_IDENTIFIABLE = ("identifiable", "conjectured")


@dataclass(frozen=True)
class RunVerdict:
    """A run's verdict (module docstring) and what it is compared with.

    ``prediction``: what the theory says for this generator and decoder (``identifiable``,
    ``conjectured``, ``no-theorem`` or ``cannot-reconstruct``, with ``reason``);
    ``candidate_counterexample``: ``mixed-but-reconstructs`` where the prediction is
    ``identifiable`` or ``conjectured``.
    """

    verdict: str
    recon: float
    off_block: float
    recon_threshold: float
    off_block_threshold: float
    prediction: str
    reason: str
    candidate_counterexample: bool

    def message(self) -> str:
        """One line saying what the verdict means."""
        if self.verdict == "not-converged":
            return (f"not converged: held-out reconstruction {self.recon:.3g} > "
                    f"{self.recon_threshold:g}, an optimization failure (no evidence about the "
                    f"theorem)")
        if self.verdict == "identified":
            return (f"identified: reconstructs ({self.recon:.3g} <= {self.recon_threshold:g}) "
                    f"and h = ghat o f is slot-wise (off-block {self.off_block:.3g} <= "
                    f"{self.off_block_threshold:g}); theory: {self.prediction}")
        line = (f"mixed but reconstructs: reconstruction {self.recon:.3g} <= "
                f"{self.recon_threshold:g} while h mixes slots (off-block {self.off_block:.3g})")
        if self.candidate_counterexample:
            return (f"CANDIDATE COUNTEREXAMPLE: {line}, although the theory predicts "
                    f"{self.prediction} ({self.reason})")
        return f"{line}; allowed by the theory: {self.prediction} ({self.reason})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready copy (with the message)."""
        return {**asdict(self), "message": self.message()}


def judge(recon: float, off_block: float, prediction: str, reason: str = "",
          recon_threshold: float = RECON_THRESHOLD,
          off_block_threshold: float = OFF_BLOCK_THRESHOLD) -> RunVerdict:
    """The verdict of a run with held-out error ``recon`` and off-block fraction ``off_block``.

    A NaN error counts as not reconstructing.
    """
    if not recon <= recon_threshold:
        verdict = "not-converged"
    elif off_block <= off_block_threshold:
        verdict = "identified"
    else:
        verdict = "mixed-but-reconstructs"
    candidate = verdict == "mixed-but-reconstructs" and prediction in PREDICTS_IDENTIFIABLE
    return RunVerdict(verdict, float(recon), float(off_block), float(recon_threshold),
                      float(off_block_threshold), prediction, reason, candidate)


def predict(generator: SymbolicGenerator | None, decoder: str, decoder_order: int,
            generator_order: int) -> tuple[str, str]:
    """What the theory predicts for a run: ``(prediction, reason)``.

    ``generator``: the exact sympy generator (an object with ``.f`` and ``.slots``) or None for
    a neural generator (its order is known by construction, its sufficient independence is
    not certified). Rules, in this order: an MLP decoder is unconstrained (``no-theorem``); a
    structured decoder of order n < the generator's order cannot reproduce f
    (``cannot-reconstruct``); a certified counterexample at order n (theory.ambiguity: an
    invertible h that mixes slots while f o h keeps order <= n, checked exactly, e.g. a
    linear mixing when f is a polynomial of total degree <= n) makes it ``not-identifiable``:
    both latent parametrizations fit the data with an order-n decoder, so a mixed run is what
    the theory predicts and an identified one is one of the solutions; otherwise
    ``identifiable`` (n <= 2) or ``conjectured`` (n >= 3) when f is sufficiently independent at
    order n (decided exactly by theory.independence), else ``no-theorem``.
    """
    from numerics.synthetic.decoder_families import family

    if not family(decoder).interaction_order:
        return "no-theorem", f"a {decoder} decoder has no interaction constraint"
    if decoder_order < generator_order:
        return ("cannot-reconstruct", f"a decoder of order {decoder_order} cannot represent a "
                                      f"generator of order {generator_order}")
    if generator is None:
        return "no-theorem", "sufficient independence of a neural generator is not certified"
    from theory.ambiguity import ambiguities
    from theory.errors import AnalysisError
    from theory.independence import sufficient_independence

    known = getattr(generator, "independence", None)  # certified by the generator's builder
    try:
        holds = (known.holds if known is not None and known.order == decoder_order else
                 sufficient_independence(generator.f, generator.slots, order=decoder_order).holds)
    except AnalysisError as err:
        holds, undecided = None, f"sufficient independence undecided: {err}"
    if holds is not True or decoder_order >= 3:
        try:
            witness = ambiguities(generator.f, generator.slots, decoder_order).counterexample
        except AnalysisError:  # BudgetError included: no witness searched, nothing claimed
            witness = None
        if witness is not None:
            h = ", ".join(str(e) for e in witness.h)
            reason = (f"certified counterexample at order {decoder_order}: h(z) = ({h}) mixes "
                      f"slots and f o h has order {witness.order_of_f_h} <= {decoder_order}")
            if holds is True:
                reason += (f", although f is sufficiently independent at order {decoder_order}"
                           f" (a counterexample to the conjecture)")
            return "not-identifiable", reason
    if holds is None:
        return "no-theorem", undecided
    if holds is not True:
        return "no-theorem", f"f is not sufficiently independent at order {decoder_order}"
    if decoder_order <= 2:
        return "identifiable", (f"order {generator_order} <= {decoder_order}, sufficiently "
                                f"independent at order {decoder_order} (Theorem 4.3)")
    return "conjectured", (f"order {generator_order} <= {decoder_order}, sufficiently "
                           f"independent at order {decoder_order} (the paper's conjecture)")
