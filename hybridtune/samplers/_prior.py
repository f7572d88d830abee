"""One parameter's prior (:class:`ParamPrior`) and how it draws on each kind of Optuna distribution.

A numeric prior is a normal distribution on a scale: ``log`` (the value's log10), ``log1m`` (log10(1 - value), for
a momentum: 0.9 and 0.99 a decade apart) or ``linear`` (the value itself), truncated to the distribution's range
and, for an int or a stepped float, rounded onto its step. A categorical prior is a weight per choice (or one
preferred choice), mixed with the uniform by its confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from .._core import ConfigError, check_choice

#: ``log``: the value's log10; ``log1m``: log10(1 - value), for a momentum; ``linear``: the value itself.
SCALES = ("log", "log1m", "linear")
#: On a ``log`` or ``log1m`` scale the prior's width (decades) is ``SIGMA_CONFIDENT / confidence``...
SIGMA_CONFIDENT = 0.5
#: ...up to this, where the prior is nearly as wide as a learning rate's wide space.
SIGMA_MAX = 2.0
#: On the ``linear`` scale the width is ``LINEAR_CONFIDENT / confidence`` of the range...
LINEAR_CONFIDENT = 0.1
#: ...up to this fraction of it.
LINEAR_MAX = 0.5
#: The perturbation around the incumbent: this many decades on a ``log`` or ``log1m`` scale (a factor of
#: about 1.8 either way)...
SIGMA_INCUMBENT = 0.25
#: ...this fraction of the range on the ``linear`` scale...
LINEAR_INCUMBENT = 0.05
#: ...and, for a categorical parameter, the chance of keeping the incumbent's choice (else a uniform one).
KEEP_INCUMBENT = 0.75
#: Draws of the truncated normal before the last one is clipped into the range instead.
_REJECTION_TRIES = 32
#: ``around`` for a draw from the prior itself (``None`` is a choice a categorical parameter may offer).
FROM_PRIOR: Any = object()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def same_choice(a: Any, b: Any) -> bool:
    """``a == b`` as a choice: ``True`` and ``1`` are different choices, ``1`` and ``1.0`` the same."""
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (choices of types that do not compare)
        return False


@dataclass(frozen=True)
class ParamPrior:
    """One parameter's prior: where you believe its best value lies, and how sure you are.

    Args:
        centre: a number for a float or int parameter (the prior's centre, on ``scale``); for a categorical
            parameter, the preferred choice, or a mapping choice -> weight (the weights need not sum to 1).
        confidence: in (0, 1]. A numeric prior's width is ``0.5 / confidence`` decades on a ``log`` or
            ``log1m`` scale (at most 2), ``0.1 / confidence`` of the range on the ``linear`` one (at most
            half); a categorical prior draws from its weights with probability ``confidence``, uniformly
            otherwise. The mean confidence of a sampler's priors also sets how long they lead
            (:class:`PriorSampler`).
        bounds: ``(low, high)``, optional, for a numeric parameter: where the sampler's wide source draws it
            with the default base sampler (intersected with the distribution; default: the distribution's range).
        scale: ``log``, ``log1m`` (log10(1 - value), for a momentum), ``linear``, or ``None``: the
            distribution's own (``log`` for a log distribution, ``linear`` otherwise).

    A prior that does not fit the distribution a trial suggests (a log prior on a range of negative numbers,
    a choice the distribution does not offer) leaves that parameter to the base sampler.

    Example:
        >>> ParamPrior(1e-3, 0.8, scale="log").width(1e-5, 1.0)  # decades
        0.625
        >>> ParamPrior({"adam": 3, "sgd": 1}, 0.5).centre["adam"]
        3
    """

    centre: Any
    confidence: float
    bounds: tuple[float, float] | None = None
    scale: str | None = None

    def __post_init__(self) -> None:
        if self.scale is not None:
            check_choice("scale", self.scale, SCALES)
        c = self.confidence
        if not (_is_number(c) and 0 < c <= 1):
            raise ConfigError(f"confidence must be in (0, 1], but got confidence={c}.")
        if isinstance(self.centre, Mapping):
            if not self.centre or not all(_is_number(w) and math.isfinite(w) and w >= 0
                                           for w in self.centre.values()) or not sum(self.centre.values()) > 0:
                raise ConfigError(f"a categorical prior's weights must be non-negative numbers, not all zero, but "
                                  f"got {dict(self.centre)}.")
        elif self.numeric:
            if not self.holds(float(self.centre)):
                raise ConfigError(f"the centre must be {self._rule()} on the {self.scale or 'linear'} scale, but "
                                  f"got {self.centre}.")
        if self.bounds is not None:
            if not self.numeric:
                raise ConfigError(f"bounds apply to a numeric prior, but got bounds={self.bounds} with "
                                  f"centre={self.centre!r}.")
            lo, hi = (float(b) for b in self.bounds)
            for name, v in (("low bound", lo), ("high bound", hi)):
                if not self.holds(v):
                    raise ConfigError(f"the {name} must be {self._rule()} on the {self.scale or 'linear'} scale, "
                                      f"but got {v}.")
            if lo > hi:
                raise ConfigError(f"bounds must be (low, high) with low <= high, but got bounds={(lo, hi)}.")
            object.__setattr__(self, "bounds", (lo, hi))

    def _rule(self) -> str:
        return {"log": "a positive number", "log1m": "a number below 1"}.get(self.scale or "", "a finite number")

    @property
    def numeric(self) -> bool:
        """Whether this is a numeric prior (a number as its centre) rather than a categorical one."""
        return _is_number(self.centre)

    def scale_for(self, dist: BaseDistribution) -> str:
        """The scale this prior draws ``dist`` on: its own, or the distribution's."""
        if self.scale is not None:
            return self.scale
        return "log" if getattr(dist, "log", False) else "linear"

    def holds(self, v: float, scale: str | None = None) -> bool:
        """Whether ``scale`` (default: this prior's) can hold ``v``: positive on ``log``, below 1 on ``log1m``."""
        scale = scale or self.scale or "linear"
        return math.isfinite(v) and (v > 0 if scale == "log" else v < 1 if scale == "log1m" else True)

    def width(self, low: float, high: float, scale: str | None = None) -> float:
        """The prior's standard deviation on ``scale`` for a parameter ranging over ``[low, high]``: decades on
        a log scale, a fraction of the range on the linear one."""
        scale = scale or self.scale or "linear"
        if scale == "linear":
            return min(LINEAR_MAX, LINEAR_CONFIDENT / self.confidence) * (high - low)
        return min(SIGMA_MAX, SIGMA_CONFIDENT / self.confidence)

    def fits(self, dist: BaseDistribution) -> bool:
        """Whether this prior can draw ``dist``'s values (else the base sampler draws them)."""
        if isinstance(dist, CategoricalDistribution):
            return bool(self._weights(dist.choices).sum() > 0)
        if not isinstance(dist, (FloatDistribution, IntDistribution)) or not self.numeric:
            return False
        scale = self.scale_for(dist)
        return self.holds(float(self.centre), scale) and _t_range(scale, dist.low, dist.high)[1] > -math.inf

    def _weights(self, choices: tuple[Any, ...]) -> np.ndarray:
        """The prior's weight of each of ``choices`` (zeros where it names none of them)."""
        named = self.centre.items() if isinstance(self.centre, Mapping) else [(self.centre, 1.0)]
        return np.array([sum(float(w) for k, w in named if same_choice(k, c)) for c in choices])

    # ------------------------------------------------------------------------------------------
    # Draws

    def draw(self, rng: np.random.Generator, dist: BaseDistribution, *, around: Any = FROM_PRIOR) -> Any:
        """A value of ``dist`` from the prior, or, given ``around`` (the incumbent's value), perturbed around it.

        A numeric draw is a normal on the prior's scale truncated to the range (by rejection; after
        :data:`_REJECTION_TRIES` misses, where the range lies far from the centre, the last draw is clipped into
        it), rounded onto an int's or stepped float's step."""
        if isinstance(dist, CategoricalDistribution):
            k = len(dist.choices)
            keep = [i for i, c in enumerate(dist.choices) if around is not FROM_PRIOR and same_choice(c, around)]
            if keep:
                p = np.full(k, (1 - KEEP_INCUMBENT) / k)
                p[keep[0]] += KEEP_INCUMBENT
            else:
                w = self._weights(dist.choices)
                p = self.confidence * w / w.sum() + (1 - self.confidence) / k
            return dist.choices[int(rng.choice(k, p=p / p.sum()))]
        assert isinstance(dist, (FloatDistribution, IntDistribution))
        scale = self.scale_for(dist)
        centre, sigma = _to_t(scale, float(self.centre)), self.width(dist.low, dist.high, scale)
        if around is not FROM_PRIOR and _is_number(around) and self.holds(float(around), scale):
            centre = _to_t(scale, float(around))
            sigma = LINEAR_INCUMBENT * (dist.high - dist.low) if scale == "linear" else SIGMA_INCUMBENT
        t_lo, t_hi = _t_range(scale, dist.low, dist.high)
        for _ in range(_REJECTION_TRIES):  # a normal truncated to the distribution, by rejection...
            t = rng.normal(centre, sigma)
            if t_lo <= t <= t_hi:
                break
        # ...or, where the distribution lies far from the centre, the last draw clipped into it
        return fit(_from_t(scale, t), dist)


def _to_t(scale: str, v: float) -> float:
    return math.log10(v) if scale == "log" else math.log10(1 - v) if scale == "log1m" else v


def _from_t(scale: str, t: float) -> float:
    return 10 ** t if scale == "log" else 1 - 10 ** t if scale == "log1m" else t


def _t_range(scale: str, low: float, high: float) -> tuple[float, float]:
    """``[low, high]`` on ``scale``, sorted; an end the scale cannot hold (0 on ``log``, 1 on ``log1m``) is -inf."""
    def t(v: float) -> float:
        ok = v > 0 if scale == "log" else v < 1 if scale == "log1m" else True
        return _to_t(scale, v) if ok else -math.inf

    ends = [t(low), t(high)]
    return min(ends), max(ends)


def fit(value: float, dist: FloatDistribution | IntDistribution) -> float | int:
    """``value`` clipped into ``dist``'s range and, for an int or a stepped float, rounded onto its step, as
    the Python type Optuna expects (``int`` or ``float``)."""
    v = min(max(float(value), dist.low), dist.high)
    if dist.step is not None:
        k = round((v - dist.low) / dist.step)
        v = min(dist.low + k * dist.step, dist.high)
    return int(round(v)) if isinstance(dist, IntDistribution) else float(v)


def wide_draw(rng: np.random.Generator, dist: BaseDistribution, bounds: tuple[float, float] | None) -> Any:
    """A uniform draw of ``dist`` (log-uniform for a log distribution) within ``bounds`` where they overlap it:
    the wide source with the default base sampler."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    lo, hi = (dist.low, dist.high) if bounds is None else (max(bounds[0], dist.low), min(bounds[1], dist.high))
    lo, hi = (lo, hi) if lo <= hi else (dist.low, dist.high)
    if dist.log:
        return fit(math.exp(rng.uniform(math.log(lo), math.log(hi))), dist)
    return fit(rng.uniform(lo, hi), dist)
