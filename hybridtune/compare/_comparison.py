"""The cost-fair comparison: each study against the grid's best validation accuracy (when it matched, at what
cost) and, retrained on the same seeds, against the grid's test accuracy (the paired difference)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core import finite_json
from ..study import keys
from ..train import Cost
from ._outcome import StudyOutcome, direction_sign
from ._stats import Difference, TestScore, accuracy_se, normalised_score


@dataclass(frozen=True)
class Match:
    """One study in the comparison: when it first matched the grid's best validation accuracy and what that
    cost, what it cost in all, and its chosen configuration's retrained test accuracy against the grid's.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid", test_seeds=2,
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> m = r.comparison.rows["search"]
        >>> m.role, isinstance(m.matched, bool), m.test_score.seeds
        ('search', True, (1000, 1001))
    """

    role: str
    best_value: float | None
    matched: bool
    trials_to_match: int | None
    cost_to_match: Cost | None
    cost_ratio: float | None
    seconds_ratio: float | None
    total_cost: Cost
    test_score: TestScore | None = None
    #: this study's retrained test accuracy minus the grid's, paired on the same seeds (``None`` for the grid)
    difference_vs_grid: Difference | None = None
    #: the study's whole cost (probes included) / the grid's whole cost, in training examples
    total_ratio: float | None = None

    @property
    def test_accuracy(self) -> float | None:
        return None if self.test_score is None else self.test_score.mean

    def to_dict(self) -> dict[str, Any]:
        c = self.cost_to_match
        return finite_json({
            "best_value": self.best_value, "matched": self.matched,
            "cost_to_match_grid": None if c is None else {**c.to_dict(), "trials": self.trials_to_match},
            "cost_ratio_to_match_grid": self.cost_ratio, "seconds_ratio_to_match_grid": self.seconds_ratio,
            "cost": self.total_cost.to_dict(), "cost_ratio_to_grid": self.total_ratio,
            "test_accuracy": self.test_score.to_dict() if self.test_score else None,
            "difference_vs_grid": self.difference_vs_grid.to_dict() if self.difference_vs_grid else None})


@dataclass(frozen=True)
class Comparison:
    """The cost-fair comparison: each study against the grid.

    **Matching, on validation.** A study matches once its best validation accuracy reaches ``target``:
    the grid's best minus ``match_z`` standard errors of that best (binomial, on the ``n_val`` validation
    examples, :func:`accuracy_se`), or minus ``tolerance`` points when a tolerance is given (``rule`` says
    which). A study's ``cost_to_match`` is its cumulative cost (the probes included for the search) after the
    first trial, in completion order, that reached the target; ``cost_ratio`` divides its examples by the
    grid's total examples (the price of running the grid to learn its best), ``seconds_ratio`` the same in
    wall seconds.

    **Quality, on test.** Each study's chosen configuration is retrained on the same seeds and scored on the
    test split (``test_score``); ``difference_vs_grid`` is the paired difference with the grid, and
    ``normalised_score`` is ``(search - random) / (grid - random)`` (:func:`normalised_score`, ``None`` with
    ``normalised_note`` saying why when it is undefined). ``search_vs_random`` is the priors' gain over
    random search on test.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> sorted(r.comparison.rows), len(r.comparison.to_frame()), r.comparison.rule
        (['grid', 'search'], 2, 'se')
    """

    rule: str
    match_z: float
    tolerance: float | None
    noise: float | None
    grid_best_value: float | None
    target: float | None
    rows: dict[str, Match]
    normalised_score: float | None = None
    normalised_note: str = ""
    search_vs_random: Difference | None = None

    @property
    def margin(self) -> str:
        """The matching rule in words, e.g. ``1 standard error (0.72 points)`` or ``0.5 points``."""
        if self.rule == "points":
            return f"{self.tolerance:g} points"
        noise = "" if self.noise is None else f" ({100 * self.match_z * self.noise:.2f} points)"
        return f"{self.match_z:g} standard error{'' if self.match_z == 1 else 's'}{noise}"

    def to_dict(self) -> dict[str, Any]:
        return finite_json({
            "rule": self.rule, "match_z": self.match_z, "tolerance_points": self.tolerance,
            "grid_best_value": self.grid_best_value, "grid_best_se": self.noise, "target": self.target,
            "normalised_score": self.normalised_score, "normalised_score_note": self.normalised_note,
            "search_vs_random": self.search_vs_random.to_dict() if self.search_vs_random else None,
            **{role: m.to_dict() for role, m in self.rows.items()}})

    def to_frame(self) -> Any:
        """One row per study, as a pandas DataFrame."""
        import pandas as pd

        def val(x: Any, attr: str) -> Any:
            return None if x is None else getattr(x, attr)

        return pd.DataFrame([{"study": role, "best_value": m.best_value, "matched": m.matched,
                              "trials_to_match": m.trials_to_match,
                              "examples_to_match": m.cost_to_match.examples if m.cost_to_match else None,
                              "cost_ratio": m.cost_ratio, "seconds_ratio": m.seconds_ratio,
                              "examples": m.total_cost.examples, "seconds": m.total_cost.seconds,
                              "epochs": m.total_cost.epochs, "total_ratio": m.total_ratio,
                              "test_accuracy": m.test_accuracy, "test_se": val(m.test_score, "se"),
                              "difference_vs_grid": val(m.difference_vs_grid, "mean"),
                              "difference_se": val(m.difference_vs_grid, "se")}
                             for role, m in self.rows.items()])


def match_target(grid_best: float, *, n_val: int | None, match_z: float = 1.0,
                 tolerance: float | None = None, direction: str = "maximize") -> tuple[float, float | None]:
    """``(target, noise)``: the validation accuracy a study must reach to match the grid's best, and the
    standard error of that best (``None`` under the points rule or without ``n_val``).

    Example:
        >>> t, se = match_target(0.96, n_val=600, match_z=1.0)
        >>> round(se, 5), round(t, 5)
        (0.008, 0.952)
        >>> match_target(0.96, n_val=600, tolerance=0.5)
        (0.955, None)
    """
    sign = direction_sign(direction)  # a minimised metric's target lies above the grid's best
    if tolerance is not None or not n_val:
        return grid_best - sign * (0.5 if tolerance is None else tolerance) / 100.0, None
    se = accuracy_se(grid_best, n_val)
    return grid_best - sign * match_z * se, se


def compare(outcomes: Mapping[str, StudyOutcome], *, n_val: int | None = None, match_z: float = 1.0,
            tolerance: float | None = None, direction: str = "maximize") -> Comparison:
    """The cost-fair comparison of studies against the grid (see :class:`Comparison`).

    Without a grid (or a grid with no completed trial) there is no target: every ``cost_to_match`` is
    ``None``, the rest is still filled in. Without ``n_val`` (a metric that is not an accuracy on a known
    split) the standard-error rule falls back to 0.5 points.
    """
    grid = outcomes.get(keys.GRID)
    grid_best = grid.best_value if grid is not None else None
    # a metric that is not an accuracy: the SE of the grid's best from its per-example validation scores
    grid_se = grid.best_se if grid is not None and not n_val and tolerance is None else None
    rule = "points" if tolerance is not None or (not n_val and grid_se is None) else "se"
    if rule == "points" and tolerance is None:
        tolerance = 0.5  # a metric that is not an accuracy on a known split: the old rule, in points
    target = noise = None
    if grid_best is not None:
        if grid_se is not None:
            target, noise = grid_best - direction_sign(direction) * match_z * grid_se, grid_se
        else:
            target, noise = match_target(grid_best, n_val=n_val, match_z=match_z, tolerance=tolerance,
                                         direction=direction)
    sign = direction_sign(direction)
    grid_score = grid.test_score if grid is not None else None
    rows: dict[str, Match] = {}
    for role, o in outcomes.items():
        hit = None
        if target is not None:
            hit = next(((i, p) for i, p in enumerate(o.history)
                        if p.best_so_far is not None and sign * p.best_so_far >= sign * target - 1e-12), None)
        cost = hit[1].cumulative if hit else None
        ratio = sratio = total = None
        if grid is not None and grid.cost.examples:
            total = o.cost.examples / grid.cost.examples
            ratio = None if cost is None else cost.examples / grid.cost.examples
        if cost is not None and grid is not None and grid.cost.seconds:
            sratio = cost.seconds / grid.cost.seconds
        rows[role] = Match(role=role, best_value=o.best_value, matched=hit is not None,
                           trials_to_match=None if hit is None else hit[0] + 1, cost_to_match=cost,
                           cost_ratio=ratio, seconds_ratio=sratio, total_cost=o.cost, test_score=o.test_score,
                           difference_vs_grid=None if role == keys.GRID else Difference.of(o.test_score,
                                                                                              grid_score),
                           total_ratio=total)
    search, random = outcomes.get(keys.SEARCH), outcomes.get(keys.RANDOM)
    score, note = normalised_score(search.test_score if search else None, grid_score,
                                   random.test_score if random else None)
    return Comparison(rule=rule, match_z=float(match_z), tolerance=None if tolerance is None else float(tolerance),
                      noise=noise, grid_best_value=grid_best, target=target, rows=rows, normalised_score=score,
                      normalised_note=note,
                      search_vs_random=Difference.of(search.test_score if search else None,
                                                     random.test_score if random else None))
