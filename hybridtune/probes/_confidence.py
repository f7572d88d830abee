"""How far the probes' own evidence supports the priors: a confidence in (0, 1] for the LR and the momentum.

Both are pure functions of what :class:`~hybridtune.Priors` stores (the range test's curve and suggestions,
the momentum runs' final validation losses), so a stored priors dict written before confidences existed gets
the same numbers when it is read back. A prior-guided search uses them to set how narrow its prior is and
how long it trusts it; a confidence is never a constant picked by hand.

**The LR** (:func:`lr_confidence`): the product of five factors, each 1 when that piece of evidence is as
clear as on a good sweep, and smaller as it weakens (floored at :data:`CONFIDENCE_FLOOR`):

1. *how far the loss fell*: the fall of the smoothed loss as a fraction of its start, over
   :data:`FALL_FULL` (0.3). The range test itself calls a fall under 15% too short to trust (its
   ``WEAK_FALL``): such a sweep gets at most 0.5; Adam on mnist5k falls 20-50% in one epoch;
2. *the fall against the noise*: the fall in units of one batch's robust noise, over :data:`SNR_FULL` (8).
   The rules accept a fall of half a noise sigma; real sweeps of the tiny test task fall 17-26 sigmas,
   a slow learner's short sweep 4, a synthetic curve drowned in noise 1.5-3;
3. *how sharply it bottoms out*: how far the smoothed loss climbs back within :data:`SHARP_DECADES` (one
   decade) past its minimum, as a fraction of the fall, over :data:`RISE_FULL` (0.5). A sweep that was
   still falling at its end (truncated) found no edge at all and gets about 0; real sweeps climb back 1-250
   times their fall there;
4. *whether the rules agree*: :data:`AGREE_DECADES` (one decade) over the spread of the four rules'
   suggestions (steepest, valley, min_div10 and the band's lr_max) in decades. By design they sit within
   about a decade of each other on a readable curve (min_div10 is a decade below the minimum, lr_max half a
   decade below the edge, steepest and valley inside the fall; 0.2-1.0 decades measured); a wider spread
   means they read different features of the curve;
5. *whether the sweep was extended*: :data:`EXTENDED_FACTOR` (0.8) when the default sweep was too short and
   was re-run longer: the learner is slow, and the longer sweep's band has been checked less.

**The momentum** (:func:`momentum_confidence`): how clearly the best short run beat the runner-up. Their gap,
relative to the best loss, is counted in units of ``MOMENTUM_TOLERANCE`` (5%, the seed-to-seed noise of one
short run); two units give full credit (a difference of two noisy numbers has about 1.4 of them as its
noise, so another seed would rarely flip the choice). A diverged run counts as infinitely worse, but
any divergence multiplies by :data:`DIVERGED_FACTOR` (0.7): the runs were at ``lr_max``, and a run that
blew up there says that LR sits near the edge for high momenta (the step grows like ``lr / (1 - m)``), so
the winner partly reflects the LR.

Without any evidence (no curve stored, no momentum runs, a single run) the confidence is
:data:`UNMEASURED` (0.25): a guess, not a measurement. With evidence that supports nothing (no band, every
momentum run diverged) it is :data:`CONFIDENCE_FLOOR` (0.05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._core import ConfigError
from ._suggest import _prepare

if TYPE_CHECKING:  # pragma: no cover
    from ._rangetest import RangeTestResult

#: The lowest confidence: evidence that supports nothing. Confidences live in (0, 1].
CONFIDENCE_FLOOR = 0.05
#: The confidence of a prior that nothing measured (no curve stored, no momentum runs, a single run).
UNMEASURED = 0.25
#: A fall of this fraction of the starting loss gets full credit.
FALL_FULL = 0.3
#: A fall of this many single-batch noise sigmas gets full credit.
SNR_FULL = 8.0
#: How far past the minimum (decades) the loss must climb back...
SHARP_DECADES = 1.0
#: ...and by what fraction of its fall, for full credit.
RISE_FULL = 0.5
#: The rules' suggestions may spread this many decades before the confidence drops.
AGREE_DECADES = 1.0
#: When the default sweep was too short and was re-run longer.
EXTENDED_FACTOR = 0.8
#: The momentum runner-up's gap, in units of the seed noise, that gets full credit.
SEPARATION_FULL = 2.0
#: When any momentum run diverged at the probes' LR.
DIVERGED_FACTOR = 0.7


def _finish(what: str, factors: list[tuple[float, str]]) -> tuple[float, str]:
    """The product of ``factors`` (floored, rounded) and one line that names the ones that cost something."""
    value = max(CONFIDENCE_FLOOR, round(math.prod(f for f, _ in factors), 3))
    costly = [f"{why} (x{f:.2f})" for f, why in factors if f < 1]
    return value, f"{what} confidence {value:g}: " + ("; ".join(costly) if costly else "every check passed")


def lr_confidence(rt: RangeTestResult) -> tuple[float, str]:
    """The LR prior's confidence in (0, 1], from a range test's curve and suggestions, and why.

    See the module docstring for the rule and its numbers.

    Example:
        >>> import numpy as np, hybridtune as ht
        >>> from hybridtune.probes._confidence import lr_confidence
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="adam", device="cpu")
        >>> value, why = lr_confidence(ht.lr_range_test(task, steps=100, batch_size=32))
        >>> 0 < value <= 1 and why.startswith("LR confidence")
        True
    """
    if len(rt.lrs) == 0:
        return UNMEASURED, f"LR confidence {UNMEASURED:g}: no range-test curve is stored, so nothing was measured"
    if rt.band is None:
        return CONFIDENCE_FLOOR, (f"LR confidence {CONFIDENCE_FLOOR:g}: the range test gave no band "
                                  f"({rt.suggestion_error})")
    try:
        c = _prepare(rt.lrs, rt.losses, rule="the LR confidence")
    except ConfigError as exc:
        return CONFIDENCE_FLOOR, f"LR confidence {CONFIDENCE_FLOOR:g}: the curve cannot be read ({exc})"
    fall = c.drop / abs(c.head) if c.head != 0 else 0.0
    snr = c.drop / c.noise if c.noise > 0 else math.inf
    past = (c.x > c.x[c.i_min]) & (c.x <= c.x[c.i_min] + SHARP_DECADES)
    rise = (float(np.max(c.smooth[past])) - c.floor) / c.drop if past.any() and c.drop > 0 else 0.0
    factors = [
        (min(1.0, max(fall, 0.0) / FALL_FULL), f"the loss fell {fall:.1%} of its start"),
        (min(1.0, snr / SNR_FULL), f"the fall is {snr:.1f}x one batch's noise"),
        (min(1.0, max(rise, 0.0) / RISE_FULL),
         f"the loss climbed back {max(rise, 0.0):.2f}x its fall within a decade past its minimum" if past.any()
         else "the loss was still falling at the end of the sweep: no edge was found"),
    ]
    logs = [math.log10(v) for v in rt.suggestions.values() if v > 0]
    if len(logs) >= 2:
        spread = max(logs) - min(logs)
        factors.append((min(1.0, AGREE_DECADES / spread) if spread > 0 else 1.0,
                        f"the rules' suggestions spread over {spread:.2f} decades"))
    else:
        factors.append((0.5, "the suggestion rules could not all read the curve"))
    if rt.extended is not None:
        factors.append((EXTENDED_FACTOR, "the default sweep was too short and was re-run longer"))
    return _finish("LR", factors)


def momentum_confidence(val_losses: Sequence[float | None], *, tolerance: float) -> tuple[float, str]:
    """The momentum prior's confidence in (0, 1], from the short runs' final validation losses (``None``
    for a run that diverged), and why.

    ``tolerance`` is the seed-to-seed noise of one short run, as a fraction of its loss (the priors'
    ``MOMENTUM_TOLERANCE``). See the module docstring for the rule and its numbers.

    Example:
        >>> from hybridtune.probes._confidence import momentum_confidence
        >>> momentum_confidence([0.50, 0.60, 0.70], tolerance=0.05)[0]
        1.0
        >>> momentum_confidence([0.50, 0.501, 0.502], tolerance=0.05)[0]
        0.05
    """
    finite = sorted(v for v in val_losses if v is not None and math.isfinite(v))
    n_diverged = len(val_losses) - len(finite)
    if not finite:
        if not val_losses:
            return UNMEASURED, f"momentum confidence {UNMEASURED:g}: no momentum runs are stored"
        return CONFIDENCE_FLOOR, f"momentum confidence {CONFIDENCE_FLOOR:g}: every momentum run diverged"
    if len(val_losses) == 1:
        return UNMEASURED, f"momentum confidence {UNMEASURED:g}: a single momentum run compares nothing"
    best = finite[0]
    runner_up = finite[1] if len(finite) > 1 else math.inf
    gap = (runner_up - best) / max(abs(best), 1e-12)
    sep = gap / tolerance
    factors = [(min(1.0, sep / SEPARATION_FULL),
                f"the runner-up's loss is {gap:.1%} above the best ({sep:.2f}x the seed noise)")]
    if n_diverged:
        factors.append((DIVERGED_FACTOR, f"{n_diverged} of {len(val_losses)} runs diverged at the probes' LR"))
    return _finish("momentum", factors)
