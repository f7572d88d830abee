"""The honest comparison's statistics against hand-computed values (issue 13): the standard-error match rule,
paired differences over test seeds, the normalised score and its undefined case."""

from __future__ import annotations

import math

import pytest

from hybridtune.compare._comparison import compare, match_target
from hybridtune.compare import _stats
from hybridtune.compare._outcome import HistoryPoint, StudyOutcome, score_of_record
from hybridtune.compare._stats import Difference, accuracy_se, normalised_score
from hybridtune.train import Cost

Score = _stats.TestScore  # (not imported by its name: pytest would take a Test* class for a test)


def _outcome(role: str, values: list[float], *, examples: int = 100, test: dict[int, float] | None = None,
             start: int = 0) -> StudyOutcome:
    """A study whose trials finished in this order with these validation accuracies, each costing
    ``examples``; ``test``: its chosen configuration's test accuracy per seed."""
    points, cum, best = [], Cost(examples=start), None
    for i, v in enumerate(values):
        cum = cum + Cost(examples=examples)
        best = v if best is None else max(best, v)
        points.append(HistoryPoint(number=i, state="COMPLETE", outcome="completed", value=v,
                                   cost=Cost(examples=examples), cumulative=cum, best_so_far=best))
    return StudyOutcome(role=role, study_name=role, best_value=best, best_trial=0, best_params={},
                        best_config={}, n_trials=len(values), n_complete=len(values), n_pruned=0, n_diverged=0,
                        n_failed=0, cost=cum, probe_cost=Cost(examples=start) if start else None,
                        history=tuple(points), test_score=Score.of(test or {}))


def test_the_match_rule_counts_standard_errors_of_the_grids_best() -> None:
    # p = 0.96 on 600 validation examples: SE = sqrt(0.96 * 0.04 / 600) = 0.008
    assert accuracy_se(0.96, 600) == pytest.approx(0.008)
    assert match_target(0.96, n_val=600, match_z=1.0) == (pytest.approx(0.952), pytest.approx(0.008))
    assert match_target(0.96, n_val=600, match_z=2.0)[0] == pytest.approx(0.944)
    assert match_target(0.96, n_val=600, tolerance=0.3) == (pytest.approx(0.957), None)
    grid = _outcome("grid", [0.90, 0.96, 0.95], examples=1000)  # 3,000 examples in all
    search = _outcome("search", [0.93, 0.951, 0.953], examples=100, start=50)
    c = compare({"grid": grid, "search": search}, n_val=600, match_z=1.0)
    assert c.rule == "se" and c.target == pytest.approx(0.952) and c.noise == pytest.approx(0.008)
    m = c.rows["search"]
    # 0.951 is just outside one SE, 0.953 inside: the third trial matches, after the probes and 3 trials
    assert m.matched and m.trials_to_match == 3 and m.cost_to_match.examples == 350
    assert m.cost_ratio == pytest.approx(350 / 3000) and m.total_ratio == pytest.approx(350 / 3000)
    # at two SEs the second trial already matches; in points, 0.5 below the best
    assert compare({"grid": grid, "search": search}, n_val=600, match_z=2.0).rows["search"].trials_to_match == 2
    pts = compare({"grid": grid, "search": search}, n_val=600, tolerance=0.5)
    assert pts.rule == "points" and pts.target == pytest.approx(0.955) and not pts.rows["search"].matched


def test_paired_difference_is_over_the_common_seeds() -> None:
    search = Score.of({1000: 0.970, 1001: 0.962, 1002: 0.966})
    grid = Score.of({1000: 0.965, 1001: 0.960, 1002: 0.958})
    d = Difference.of(search, grid)
    diffs = [0.005, 0.002, 0.008]
    mean = sum(diffs) / 3
    se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 2 / 3)
    assert d.seeds == (1000, 1001, 1002)
    assert d.mean == pytest.approx(mean) and d.se == pytest.approx(se)
    assert d.z == pytest.approx(mean / se) and d.beyond_noise == (mean / se > 2)
    # the unpaired SEs would be larger: the seeds' common part cancels in the pairs
    assert d.se < math.hypot(search.se, grid.se)
    assert Difference.of(search, Score.of({7: 0.9})) is None  # no common seed
    one = Difference.of(Score.of({1: 0.9}), Score.of({1: 0.8}))
    assert one.se is None and not one.beyond_noise  # one seed says nothing about noise


def test_normalised_score_and_its_undefined_case() -> None:
    grid = Score.of({1: 0.97, 2: 0.972, 3: 0.968})
    random = Score.of({1: 0.90, 2: 0.905, 3: 0.91})
    search = Score.of({1: 0.95, 2: 0.951, 3: 0.955})
    score, _ = normalised_score(search, grid, random)
    assert score == pytest.approx((0.952 - 0.905) / (0.97 - 0.905))
    # grid and random tie within noise: a ratio of noise is not a number worth printing
    tie = Score.of({1: 0.969, 2: 0.973, 3: 0.967})
    score, why = normalised_score(search, grid, tie)
    assert score is None and "within noise" in why
    assert normalised_score(search, grid, None)[0] is None
    assert normalised_score(search, Score.of({1: 0.97}), Score.of({1: 0.9}))[0] is None  # one seed
    c = compare({"grid": _outcome("grid", [0.9], test=grid.by_seed()),
                 "search": _outcome("search", [0.9], test=search.by_seed()),
                 "random": _outcome("random", [0.8], test=random.by_seed())}, n_val=100)
    assert c.normalised_score == pytest.approx((0.952 - 0.905) / (0.97 - 0.905))
    assert c.search_vs_random.mean == pytest.approx(0.047)
    assert c.rows["search"].difference_vs_grid.mean == pytest.approx(0.952 - 0.97)
    assert c.rows["grid"].difference_vs_grid is None


def test_stored_test_records_old_and_new() -> None:
    new = {"trial": 2, "chance": 0.25, "runs": [{"seed": 1001, "test_accuracy": 0.9},
                                                 {"seed": 1000, "test_accuracy": None, "status": "diverged"}]}
    s = score_of_record(new, chance=0.25)
    assert s.seeds == (1000, 1001) and s.accuracies == (0.25, 0.9)  # a diverged retrain counts at chance
    old = {"trial": 2, "test_accuracy": 0.93, "val_accuracy": 0.94}  # before test seeds: one retrain
    assert score_of_record(old).accuracies == (0.93,) and score_of_record(old).se is None
    assert score_of_record(None) is None
