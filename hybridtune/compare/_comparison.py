"""The cost-fair comparison: each study against the grid's best validation accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._core._json import finite_json
from ..study import _schema as schema
from ..train._results import Cost
from ._outcome import StudyOutcome


@dataclass(frozen=True)
class Match:
    """When a study first came within the tolerance of the grid's best accuracy, and what that cost.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> m = r.comparison.rows["search"]
        >>> m.role, isinstance(m.matched, bool)
        ('search', True)
    """

    role: str
    best_value: float | None
    matched: bool
    trials_to_match: int | None
    cost_to_match: Cost | None
    cost_ratio: float | None
    seconds_ratio: float | None
    total_cost: Cost
    test_accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.cost_to_match
        return finite_json({
            "best_value": self.best_value, "matched": self.matched,
            "cost_to_match_grid": None if c is None else {**c.to_dict(), "trials": self.trials_to_match},
            "cost_ratio_to_match_grid": self.cost_ratio, "seconds_ratio_to_match_grid": self.seconds_ratio,
            "cost": self.total_cost.to_dict(), "test_accuracy": self.test_accuracy})


@dataclass(frozen=True)
class Comparison:
    """The cost-fair comparison: each study against the grid's best validation accuracy.

    ``target = grid_best - tolerance / 100``. A study's ``cost_to_match`` is its cumulative cost (the
    probes included for the search) after the first trial, in completion order, whose value reached the
    target; ``cost_ratio`` divides its examples by the grid's total examples (the price of running the grid
    to learn its best), ``seconds_ratio`` does the same with wall seconds.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> sorted(r.comparison.rows), len(r.comparison.to_frame())
        (['grid', 'search'], 2)
    """

    tolerance: float
    grid_best_value: float | None
    target: float | None
    rows: dict[str, Match]

    def to_dict(self) -> dict[str, Any]:
        return finite_json({"tolerance_points": self.tolerance, "grid_best_value": self.grid_best_value,
                            "target": self.target, **{role: m.to_dict() for role, m in self.rows.items()}})

    def to_frame(self) -> Any:
        """One row per study, as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([{"study": role, "best_value": m.best_value, "matched": m.matched,
                              "trials_to_match": m.trials_to_match,
                              "examples_to_match": m.cost_to_match.examples if m.cost_to_match else None,
                              "cost_ratio": m.cost_ratio, "seconds_ratio": m.seconds_ratio,
                              "examples": m.total_cost.examples, "seconds": m.total_cost.seconds,
                              "epochs": m.total_cost.epochs, "test_accuracy": m.test_accuracy}
                             for role, m in self.rows.items()])


def compare(outcomes: Mapping[str, StudyOutcome], *, tolerance: float = 0.5) -> Comparison:
    """The cost-fair comparison of studies against the grid (see :class:`Comparison`).

    Without a grid (or a grid with no completed trial) there is no target: every ``cost_to_match`` is
    ``None``, the rest is still filled in.
    """
    grid = outcomes.get(schema.GRID)
    grid_best = grid.best_value if grid is not None else None
    target = None if grid_best is None else grid_best - tolerance / 100.0
    rows: dict[str, Match] = {}
    for role, o in outcomes.items():
        hit = None
        if target is not None:
            hit = next(((i, p) for i, p in enumerate(o.history)
                        if p.best_so_far is not None and p.best_so_far >= target - 1e-12), None)
        cost = hit[1].cumulative if hit else None
        ratio = sratio = None
        if cost is not None and grid is not None:
            ratio = cost.examples / grid.cost.examples if grid.cost.examples else None
            sratio = cost.seconds / grid.cost.seconds if grid.cost.seconds else None
        rows[role] = Match(role=role, best_value=o.best_value, matched=hit is not None,
                           trials_to_match=None if hit is None else hit[0] + 1, cost_to_match=cost,
                           cost_ratio=ratio, seconds_ratio=sratio, total_cost=o.cost,
                           test_accuracy=o.test_accuracy)
    return Comparison(tolerance=float(tolerance), grid_best_value=grid_best, target=target, rows=rows)
