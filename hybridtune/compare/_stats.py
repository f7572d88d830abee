"""The statistics of an honest comparison: a configuration's test accuracy over seeds (:class:`TestScore`),
the paired difference of two studies on the same seeds (:class:`Difference`), the noise of a best validation
accuracy (:func:`accuracy_se`), and the normalised score against random search (:func:`normalised_score`).

All pure functions of numbers; no study is read here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._core import finite_json

#: Two results are "within noise" of each other when their paired difference is at most this many of its
#: standard errors. A conventional bar, not a significance test: with 3 seeds (2 degrees of freedom) +-2 SE
#: is about an 82% interval (95% would need 4.3 SE), so "beyond noise" here is a screen, and the benchmarks
#: report the differences with their SEs for a reader to weigh.
NOISE_Z = 2.0


def _mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean and its standard error (sample SD / sqrt(n)); no standard error from one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


@dataclass(frozen=True)
class TestScore:
    """One configuration's test accuracy, retrained on several seeds: the mean, its standard error (``None``
    from a single seed) and each seed's accuracy (a diverged retrain counts at chance, as a trial does).

    Example:
        >>> s = TestScore.of({1000: 0.96, 1001: 0.97, 1002: 0.95})
        >>> round(s.mean, 4), round(s.se, 4), s.seeds
        (0.96, 0.0058, (1000, 1001, 1002))
    """

    mean: float
    se: float | None
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]

    @classmethod
    def of(cls, by_seed: Mapping[int, float]) -> TestScore | None:
        """The score of ``{seed: test accuracy}``; ``None`` when empty."""
        if not by_seed:
            return None
        seeds = tuple(sorted(by_seed))
        accs = tuple(float(by_seed[s]) for s in seeds)
        mean, se = _mean_se(accs)
        return cls(mean=mean, se=se, seeds=seeds, accuracies=accs)

    def by_seed(self) -> dict[int, float]:
        return dict(zip(self.seeds, self.accuracies))

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"mean": self.mean, "se": self.se, "seeds": list(self.seeds),
                            "accuracies": list(self.accuracies)})


@dataclass(frozen=True)
class Difference:
    """A paired difference ``a - b`` over the seeds both were retrained on: its mean and standard error.

    Example:
        >>> a, b = TestScore.of({1: 0.97, 2: 0.96}), TestScore.of({1: 0.95, 2: 0.95})
        >>> d = Difference.of(a, b)
        >>> round(d.mean, 3), round(d.se, 3), d.beyond_noise
        (0.015, 0.005, True)
    """

    mean: float
    se: float | None
    seeds: tuple[int, ...]

    @classmethod
    def of(cls, a: TestScore | None, b: TestScore | None) -> Difference | None:
        """``a - b`` on their common seeds; ``None`` when they share none."""
        if a is None or b is None:
            return None
        ra, rb = a.by_seed(), b.by_seed()
        common = tuple(s for s in a.seeds if s in rb)
        if not common:
            return None
        mean, se = _mean_se([ra[s] - rb[s] for s in common])
        return cls(mean=mean, se=se, seeds=common)

    @property
    def z(self) -> float | None:
        """The mean in standard errors (``None`` without a standard error; infinite for a constant nonzero
        difference)."""
        if self.se is None:
            return None
        if self.se == 0:
            return 0.0 if self.mean == 0 else math.copysign(math.inf, self.mean)
        return self.mean / self.se

    @property
    def beyond_noise(self) -> bool:
        """Whether the difference is more than :data:`NOISE_Z` standard errors from zero (never, from one seed)."""
        return self.z is not None and abs(self.z) > NOISE_Z

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"mean": self.mean, "se": self.se, "seeds": list(self.seeds)})


def accuracy_se(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` examples: ``sqrt(p (1 - p) / n)``.

    Example:
        >>> round(accuracy_se(0.96, 749), 5)
        0.00716
    """
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else math.nan


def normalised_score(search: TestScore | None, grid: TestScore | None,
                     random: TestScore | None) -> tuple[float | None, str]:
    """``(search - random) / (grid - random)`` on the retrained test means (paired, on common seeds), as the
    systematic HPO studies normalise: 1 is the grid's accuracy, 0 random search's. Returns the score and
    why it is ``None`` when it is: a missing study, or grid and random within noise of each other
    (:data:`NOISE_Z` standard errors of their paired difference), where the ratio would divide noise.

    Example:
        >>> g, r = TestScore.of({1: 0.97, 2: 0.971, 3: 0.969}), TestScore.of({1: 0.90, 2: 0.91, 3: 0.905})
        >>> s = TestScore.of({1: 0.95, 2: 0.951, 3: 0.949})
        >>> round(normalised_score(s, g, r)[0], 2)
        0.69
        >>> normalised_score(s, g, g)[0] is None
        True
    """
    if search is None or grid is None or random is None:
        return None, "needs the search, the grid and the random baseline, each retrained"
    gap = Difference.of(grid, random)
    num = Difference.of(search, random)
    if gap is None or num is None or gap.se is None:
        return None, "needs at least two common test seeds"
    if not gap.beyond_noise:
        return None, (f"undefined: the grid and random search are within noise of each other "
                      f"({100 * gap.mean:+.2f} +- {100 * gap.se:.2f} points)")
    return num.mean / gap.mean, "(search - random) / (grid - random), retrained test means"
