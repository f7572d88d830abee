"""Learning-rate suggestions from a range-test curve: pure functions of ``(lrs, losses)``.

Computation is kept apart from plotting (torch-lr-finder hides its suggestion inside ``plot()``), so every
rule here is a plain function with its own tests. All of them share one preparation step:

1. drop non-finite points (a NaN or inf loss, a non-positive LR);
2. smooth the loss in log10-LR space with a centred robust smoother (a running median against single
   spiky batches, then a local-linear Gaussian fit ``bandwidth`` decades wide). Being centred, it has no
   lag: the causal moving average a range test uses to decide when to stop trails the raw curve by about
   ``1 / (1 - beta)`` steps, which on a 100-step sweep of 8 decades is several decades;
3. cut the divergence tail: everything after the smoothed loss climbs back above its starting level
   (all progress lost) is ignored;
4. take every slope against log10(LR), never the raw LR. Lightning >= 2.5.3 takes it against the raw LR
   and its suggestions land about three decades too low.

Raw or already smoothed losses may be passed; the rules are deterministic and raise a
:class:`~hybridtune.ConfigError` naming the rule and the value when a curve cannot support a suggestion
(too few finite points, LRs not increasing, a loss that never falls).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._core import ConfigError, running_median

#: Fewer finite points than this cannot show a fall, a minimum and a rise.
MIN_POINTS = 8
#: Width (standard deviation, in decades of LR) of the smoothing kernel. Features of a range-test curve
#: (the fall, the valley floor, the blow-up) span about a decade; a batch's noise spans one step.
BANDWIDTH = 0.15
#: Steps a too-large LR takes to show in the loss; the sweep's minimum lies about this far past the edge.
OVERSHOOT_STEPS = 5
#: lr_max sits this many decades below the edge (a factor of about 3).
SAFETY_DECADES = 0.5
#: A valley run continues while the loss falls by at least this fraction of its whole fall per decade.
VALLEY_SLOPE = 0.05


@dataclass(frozen=True)
class LRBand:
    """A learning-rate band ``[lr_min, lr_max]`` and why it was chosen.

    ``lr_max`` is the peak for 1cycle training and the upper bound of the search; ``lr_min`` is a tenth of
    it, as Smith recommends for 1cycle's starting LR.

    Example:
        >>> import hybridtune as ht
        >>> band = ht.LRBand(lr_min=0.01, lr_max=0.1, reasoning="by hand")
        >>> round(band.lr_max / band.lr_min)
        10
    """

    lr_min: float
    lr_max: float
    reasoning: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LRBand:
        return cls(lr_min=float(d["lr_min"]), lr_max=float(d["lr_max"]), reasoning=str(d["reasoning"]))


@dataclass(frozen=True)
class _Curve:
    """A prepared curve: finite points, log10 LRs, the smoothed loss, the kept (pre-divergence) length."""

    lrs: np.ndarray
    x: np.ndarray
    raw: np.ndarray
    smooth: np.ndarray
    keep: int
    i_min: int
    head: float
    floor: float
    noise: float

    @property
    def drop(self) -> float:
        return self.head - self.floor

    def lr(self, i: int) -> float:
        return float(self.lrs[i])


def _local_linear(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian-weighted local-linear regression of ``y`` on ``x`` at every ``x``.

    Local-linear rather than a plain kernel average: it has no bias at the ends of the curve, where the
    blow-up is. Written by hand because numpy has no such smoother and scipy's filters assume even spacing
    (a linear sweep is far from even in log-LR).
    """
    out = np.empty_like(y)
    lo = np.searchsorted(x, x - 4 * bandwidth, side="left")
    hi = np.searchsorted(x, x + 4 * bandwidth, side="right")
    for i in range(len(x)):
        xs, ys = x[lo[i]:hi[i]], y[lo[i]:hi[i]]
        w = np.exp(-0.5 * ((xs - x[i]) / bandwidth) ** 2)
        sw = w.sum()
        mx = (w * xs).sum() / sw
        my = (w * ys).sum() / sw
        vx = (w * (xs - mx) ** 2).sum() / sw
        if vx < 1e-12:  # one point in reach (the sparse low end of a linear sweep)
            out[i] = my
            continue
        slope = (w * (xs - mx) * (ys - my)).sum() / sw / vx
        out[i] = my + slope * (x[i] - mx)
    return out


def _as_array(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a sequence of numbers, but got {type(values).__name__}.") from None
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be one-dimensional, but got shape {arr.shape}.")
    return arr


def _prepare(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
             bandwidth: float = BANDWIDTH, rule: str) -> _Curve:
    lr = _as_array(lrs, "lrs")
    loss = _as_array(losses, "losses")
    if len(lr) != len(loss):
        raise ConfigError(f"lrs and losses must have the same length, but got {len(lr)} and {len(loss)}.")
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ConfigError(f"bandwidth must be a positive number of decades, but got bandwidth={bandwidth}.")
    ok = np.isfinite(lr) & np.isfinite(loss) & (lr > 0)
    lr, loss = lr[ok], loss[ok]
    if len(lr) < MIN_POINTS:
        raise ConfigError(f"{rule} needs at least {MIN_POINTS} finite (lr, loss) points, but got {len(lr)}.")
    steps = np.diff(lr)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ConfigError(f"lrs must be strictly increasing (a range sweep), but got lrs[{i}]={lr[i]:.6g} "
                          f"followed by {lr[i + 1]:.6g}.")
    x = np.log10(lr)
    window = max(5, (len(loss) // 50) | 1)  # odd, >= 5 points: two bad batches in a row never move it
    smooth = _local_linear(x, running_median(loss, window), bandwidth)
    resid = loss - smooth
    noise = float(1.4826 * np.median(np.abs(resid - np.median(resid))))  # robust sigma of one batch's loss
    # the starting level: the median over the first tenth of the sweep's decades (at least 3 points), not
    # one noisy boundary estimate; counted in decades because a linear sweep has few points there
    n_head = max(3, int(np.searchsorted(x, x[0] + 0.1 * (x[-1] - x[0]), side="right")))
    head = float(np.median(loss[:n_head]))
    # 3. the divergence tail: from the first point where all progress is lost and the loss climbs clearly
    #    (10% and three noise sigmas) above where it started
    #    (a smoothed start a little below the head, its boundary estimate on a few noisy batches, is no progress
    #    to lose: the loss must then climb clearly above the head itself, not merely back to it)
    clear = max(0.1 * abs(head), 3 * noise, 1e-12)
    run_min = np.minimum.accumulate(smooth)
    tol = np.maximum(head - run_min, clear)
    tol = np.where(head - run_min < clear, np.maximum(tol, head + clear - run_min), tol)
    over = np.nonzero(smooth > run_min + tol)[0]
    keep = int(over[0]) if len(over) else len(smooth)
    if keep < MIN_POINTS:
        raise ConfigError(f"{rule} needs the loss to fall before it rises, but it rose above its starting "
                          f"value {head:.4g} after {keep} points (at lr={lr[max(keep, 0)]:.3g}); "
                          f"start the sweep lower.")
    i_min = int(np.argmin(smooth[:keep]))
    return _Curve(lrs=lr, x=x, raw=loss, smooth=smooth, keep=keep, i_min=i_min, head=head,
                  floor=float(smooth[i_min]), noise=noise)


def _require_fall(c: _Curve, rule: str) -> None:
    # a fall must beat both 2% of the loss and half the single-batch noise, or it is noise itself
    if c.i_min == 0 or c.drop <= max(0.02 * abs(c.head), 0.5 * c.noise):
        raise ConfigError(f"{rule} needs a loss that falls during the sweep, but it never fell clearly below "
                          f"its starting value {c.head:.4g} between lr={c.lrs[0]:.3g} and "
                          f"lr={c.lrs[c.keep - 1]:.3g}; widen the sweep, take more steps (a slow learner needs about 400), or check the model and data.")


def _steepest_index(c: _Curve) -> int:
    # only within the fall itself (from 10% of it down to the minimum): the slope at the ends of a smoothed
    # curve rests on one side's points alone and is the noisiest number on it
    grad = np.gradient(c.smooth[:c.keep], c.x[:c.keep])
    start = int(np.argmax(c.smooth[:c.i_min + 1] <= c.head - 0.1 * c.drop))
    return start + int(np.argmin(grad[start:c.i_min + 1]))


# ----------------------------------------------------------------------------------------------
# The rules


def suggest_steepest(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
                     bandwidth: float = BANDWIDTH) -> float:
    """The LR where the loss falls fastest against log10(LR) (torch-lr-finder's and fastai's "steep").

    The slope is a centred gradient of the smoothed curve, so one lucky batch cannot become the answer,
    and only the fall before the smoothed minimum is searched (never the blow-up after it).

    Args:
        lrs: the swept learning rates, strictly increasing.
        losses: the loss at each LR (raw or smoothed; NaN and inf are dropped).
        bandwidth: width of the smoothing kernel in decades of LR.

    Example:
        >>> import numpy as np, hybridtune as ht
        >>> lrs = np.logspace(-6, 1, 100)
        >>> losses = 2 - np.tanh(np.log10(lrs) + 3) + np.exp(np.log10(lrs))
        >>> round(float(np.log10(ht.suggest_steepest(lrs, losses))), 1)
        -3.0
    """
    c = _prepare(lrs, losses, bandwidth=bandwidth, rule="suggest_steepest")
    _require_fall(c, "suggest_steepest")
    return c.lr(_steepest_index(c))


def suggest_valley(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
                   bandwidth: float = BANDWIDTH) -> float:
    """fastai's "valley": halfway (in log-LR) along the longest run over which the loss keeps falling.

    A run is a stretch of the smoothed, pre-divergence curve whose slope stays below
    ``-VALLEY_SLOPE`` of the whole fall per decade, and the longest is measured in decades. The threshold
    matters: on a noisy curve fastai's own run is broken up by the noise, but a smoothed plateau drifts
    down by tiny amounts all the way from the first LR, and without it the "valley" would start there.

    Args:
        lrs: the swept learning rates, strictly increasing.
        losses: the loss at each LR (raw or smoothed; NaN and inf are dropped).
        bandwidth: width of the smoothing kernel in decades of LR.

    Example:
        >>> import numpy as np, hybridtune as ht
        >>> lrs = np.logspace(-6, 1, 100)
        >>> losses = 2 - np.tanh(np.log10(lrs) + 3) + np.exp(np.log10(lrs))
        >>> round(float(np.log10(ht.suggest_valley(lrs, losses))), 1)
        -3.3
    """
    c = _prepare(lrs, losses, bandwidth=bandwidth, rule="suggest_valley")
    _require_fall(c, "suggest_valley")
    end = c.i_min + 1
    falling = np.gradient(c.smooth[:c.keep], c.x[:c.keep])[:end] < -VALLEY_SLOPE * c.drop
    best, best_len, i = (c.i_min, c.i_min), -1.0, 0
    while i < end:
        if not falling[i]:
            i += 1
            continue
        j = i
        while j + 1 < end and falling[j + 1]:
            j += 1
        if c.x[j] - c.x[i] > best_len:
            best, best_len = (i, j), c.x[j] - c.x[i]
        i = j + 1
    first, last = best
    mid_x = 0.5 * (c.x[first] + c.x[last])
    return c.lr(int(np.argmin(np.abs(c.x[first:last + 1] - mid_x))) + first)


def suggest_min_div10(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
                      bandwidth: float = BANDWIDTH) -> float:
    """A tenth of the LR at the minimum of the smoothed loss (the LR finder's rule: one decade below the minimum).

    Args:
        lrs: the swept learning rates, strictly increasing.
        losses: the loss at each LR (raw or smoothed; NaN and inf are dropped).
        bandwidth: width of the smoothing kernel in decades of LR.

    Example:
        >>> import numpy as np, hybridtune as ht
        >>> lrs = np.logspace(-6, 1, 141)
        >>> losses = (np.log10(lrs) + 1) ** 2
        >>> round(float(np.log10(ht.suggest_min_div10(lrs, losses))), 1)
        -2.0
    """
    c = _prepare(lrs, losses, bandwidth=bandwidth, rule="suggest_min_div10")
    _require_fall(c, "suggest_min_div10")
    return c.lr(c.i_min) / 10


def suggest_band(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
                 bandwidth: float = BANDWIDTH) -> LRBand:
    """hybridtune's rule: an LR band ``[lr_min, lr_max]`` just below where the loss stops falling.

    1. Find where the smoothed loss bottoms out: the LR at its minimum, before the divergence tail.
    2. Step back by the sweep's overshoot. A too-large LR takes a few steps to show in the loss, and
       meanwhile the sweep keeps raising it, so the minimum sits about :data:`OVERSHOOT_STEPS` steps past
       the LR where training breaks. Measured in steps rather than decades, this makes the answer hold
       for a short sweep (100 steps over 8 decades overshoot by about half a decade) and a long one alike.
    3. ``lr_max`` is half a decade (a factor of about 3) below that edge: constant-LR training is fastest
       there without flirting with the blow-up (the optimizer x LR sweep's valleys end sharply on the high side).
    4. ``lr_min = lr_max / 10``, Smith's 1cycle starting LR.

    On a 100-step sweep of 8 decades this lands near the LR finder's "a decade below the minimum"; on a denser
    sweep it moves closer to the minimum, as it should. The minimum of a centred, lag-free smoothing is
    far steadier than the raw minimum or the steepest slope: across noise seeds it moves by a few tenths
    of a decade, not orders of magnitude.

    Args:
        lrs: the swept learning rates, strictly increasing.
        losses: the loss at each LR (raw or smoothed; NaN and inf are dropped).
        bandwidth: width of the smoothing kernel in decades of LR.

    Raises:
        ConfigError: fewer than 8 finite points, LRs not increasing, or a loss that never falls.

    Example:
        >>> import numpy as np, hybridtune as ht
        >>> lrs = np.logspace(-7, 1, 100)
        >>> x = np.log10(lrs)
        >>> losses = 2.3 - 1.5 / (1 + np.exp(-(x + 2) / 0.3)) + np.exp((x + 0.5) / 0.15)
        >>> band = ht.suggest_band(lrs, losses)
        >>> round(float(np.log10(band.lr_max)), 1), round(band.lr_max / band.lr_min)
        (-2.0, 10)
    """
    c = _prepare(lrs, losses, bandwidth=bandwidth, rule="suggest_band")
    _require_fall(c, "suggest_band")
    i = c.i_min
    near = np.diff(c.x[max(i - 3, 0):min(i + 4, len(c.x))])
    step = float(np.median(near))  # decades per step where the loss turns (uneven in a linear sweep)
    x_edge = c.x[i] - OVERSHOOT_STEPS * step
    lr_max = float(10 ** (x_edge - SAFETY_DECADES))
    at_end = i >= c.keep - 2 and c.keep == len(c.x)
    why = (f"the smoothed loss fell from {c.head:.4g} to {c.floor:.4g} and bottomed out at lr {c.lr(i):.3g}"
           + (" (the end of the sweep: it was still falling, raise end_lr)" if at_end else "")
           + f"; the sweep overshoots by about {OVERSHOOT_STEPS} steps ({OVERSHOOT_STEPS * step:.2f} decades), "
           f"so training breaks near lr {10 ** x_edge:.3g}; lr_max is half a decade below that, {lr_max:.3g}, "
           f"and lr_min = lr_max / 10")
    return LRBand(lr_min=lr_max / 10, lr_max=lr_max, reasoning=why)


def _fall_fraction(lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *,
                   bandwidth: float = BANDWIDTH) -> float:
    """How far the smoothed loss fell, from its starting level to its minimum, as a fraction of the start.

    The range test reads it to tell a sweep that was too short for the learner (the loss barely moved)
    from one that found where training breaks. Raises :class:`~hybridtune.ConfigError` as the rules do
    when the curve cannot be read at all.
    """
    c = _prepare(lrs, losses, bandwidth=bandwidth, rule="the fall of the loss")
    return c.drop / abs(c.head) if c.head != 0 else math.inf
