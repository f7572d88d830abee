"""hybridtune's search with ``space="prior"``: the public PriorSampler with hybridtune's rules (study/_prior_sampler).

The sampler itself (its sources, draws, contract) is tested in tests/samplers; here, what a search study adds: its
evidence (diverged, collapsed to chance, failed on its own, interrupted), the range test's suggestions that follow
the evidence, and the identity of its draws with the sampler as it was before it became public.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from conftest import ROOT
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

import hybridtune as ht
from hybridtune.samplers import ENQUEUED, INCUMBENT, PRIOR, SOURCE_ATTR, SOURCES, WIDE, ParamPrior, PriorSampler
from hybridtune.samplers import shares_of as generic_shares_of
from hybridtune.space import SearchSpace
from hybridtune.study._prior_sampler import (RECOVERY_TRIALS, evidence, sampler_from_record, stepped_suggestion,
                                             widened)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SOURCE_DRAW = SOURCE_ATTR
LR_OPT = 0.01


def hybrid(priors: dict[str, ParamPrior], *, seed: int = 0,
           suggestions: dict[str, list[float]] | None = None) -> PriorSampler:
    """The sampler a search study builds from its stored record: hybridtune's rules, no chance floor."""
    record = {"params": {k: {"centre": p.centre, "confidence": p.confidence, "bounds": list(p.bounds),
                             "scale": p.scale} for k, p in priors.items()}, "suggestions": suggestions or {}}
    return sampler_from_record(record, seed=seed)


def sampler(centre: float = LR_OPT, confidence: float = 1.0, *, seed: int = 0) -> PriorSampler:
    return hybrid({"lr": ParamPrior(centre, confidence, (1e-5, 1.0), scale="log"),
                   "momentum": ParamPrior(0.9, confidence, (0.8, 0.99), scale="log1m")}, seed=seed)


def shares_of(trials: list[Any], confidence: float, *, maximize: bool = True,
              floor: float | None = None) -> dict[str, float]:
    """The shares under a search study's rules."""
    return generic_shares_of(trials, confidence, directions=["maximize" if maximize else "minimize"],
                             evidence=evidence(floor))


def bowl(trial: optuna.Trial, *, lr_opt: float = LR_OPT, diverge_above: float | None = None) -> float:
    """Validation accuracy of a synthetic learner: best at ``lr_opt``, chance (0.1) once it diverges."""
    lr = trial.suggest_float("lr", 1e-6, 10.0, log=True)
    m = trial.suggest_float("momentum", 0.5, 0.999)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    trial.suggest_categorical("batch_size", (32, 64, 128))
    if diverge_above is not None and lr > diverge_above:
        trial.set_user_attr("outcome", "diverged")
        return 0.1
    return 0.9 - 0.1 * math.log10(lr / lr_opt) ** 2 - 0.01 * math.log10((1 - m) / 0.1) ** 2


def study_of(s: PriorSampler, objective: Any = bowl, n: int = 0, **kw: Any) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=s, **kw)
    if n:
        study.optimize(objective, n_trials=n)
    return study


def sources(study: optuna.Study) -> list[str]:
    return [t.user_attrs[SOURCE_DRAW] for t in study.trials]


# ----------------------------------------------------------------------------------------------
# The same draws as before the sampler became public


def _recorder() -> Any:
    spec = importlib.util.spec_from_file_location("record_prior_draws", ROOT / "tests/fixtures/record_prior_draws.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


RECORDED = json.loads((ROOT / "tests/fixtures/prior_draws.json").read_text())["scenarios"]


@pytest.mark.parametrize("scenario", RECORDED, ids=[s["name"] for s in RECORDED])
def test_a_search_study_draws_what_it_drew_before(scenario: dict[str, Any]) -> None:
    # tests/fixtures/prior_draws.json was recorded with the sampler as it stood before it became public (commit
    # 33ea5f6): the same history replayed gives the same values, sources and suggestion moves, to the last bit
    drawn = _recorder().replay(scenario)
    assert len(drawn) == len(scenario["drawn"])
    for now, then in zip(drawn, scenario["drawn"]):
        assert now == then, f"trial {then['trial']} of {scenario['name']!r}"


def test_the_recorded_histories_cover_every_rule() -> None:
    drawn = [d for s in RECORDED for d in s["drawn"]]
    told = [e for s in RECORDED for e in s["events"] if e["op"] == "tell"]
    assert {d["source_draw"] for d in drawn} == {PRIOR, WIDE, INCUMBENT, ENQUEUED}
    assert {d["suggestion_move"] for d in drawn} == {None, "up", "down", "between"}
    assert {e["user_attrs"].get("outcome") for e in told} >= {"completed", "diverged", "pruned", "failed",
                                                               "interrupted", "over budget", "error", None}
    assert any(e["op"] == "restart" for s in RECORDED for e in s["events"])
    assert any(e["value"] == 0.26 for e in told)  # at the chance floor, without diverging


# ----------------------------------------------------------------------------------------------
# hybridtune's search space


def test_it_samples_hybridtunes_search_space() -> None:
    space = SearchSpace(optimizer="momentum", lr=(1e-5, 10.0), ref_batch_size=128, momentum=(0.5, 0.999),
                        batch_sizes=(32, 64, 128))
    s = hybrid({space.lr_name: ParamPrior(0.05, 0.8, (1e-4, 1.0), scale="log"),
                "momentum": ParamPrior(0.9, 0.5, (0.8, 0.99), scale="log1m")}, seed=1)
    study = study_of(s)
    study.optimize(lambda t: -abs(math.log10(space.suggest(t).lr / 0.05)), n_trials=8)
    assert space.lr_name == "base_lr"
    for t in study.trials:
        assert set(t.params) == set(space.distributions())
        assert all(space.distributions()[n]._contains(space.distributions()[n].to_internal_repr(v))
                   for n, v in t.params.items())
    assert set(sources(study)) <= set(SOURCES)


# ----------------------------------------------------------------------------------------------
# The shares


def _trial(number: int, value: float | None, *, source: str = PRIOR, state: TrialState = TrialState.COMPLETE,
           outcome: str = "completed") -> optuna.trial.FrozenTrial:
    t = optuna.trial.create_trial(state=state, value=value, params={"lr": 0.01},
                                  distributions={"lr": FloatDistribution(1e-6, 10.0, log=True)},
                                  user_attrs={SOURCE_DRAW: source, "outcome": outcome})
    t.number = number
    return t


def test_the_share_rule() -> None:
    assert shares_of([], 1.0) == {PRIOR: 0.9, WIDE: 0.1, INCUMBENT: 0.0}
    assert shares_of([], 0.25)[PRIOR] == pytest.approx(0.6)

    def logit(sh: dict[str, float]) -> float:
        return math.log(sh[PRIOR] / (1 - sh[PRIOR]))

    start = logit(shares_of([], 1.0))
    one = shares_of([_trial(0, 0.8)], 1.0)
    assert logit(one) == pytest.approx(start - 1 / 30, abs=1e-5)  # the decay: one trial of 30
    assert one[INCUMBENT] == pytest.approx((1 - one[PRIOR]) / 5, abs=1e-5)  # g / (g + 4) of the rest
    diverged = shares_of([_trial(0, 0.1, outcome="diverged")], 1.0)
    assert logit(diverged) == pytest.approx(start - 1 / 30 - 1, abs=1e-5) and diverged[INCUMBENT] == 0
    # out of memory (a batch-size problem) and a killed worker (no outcome) say nothing about the LR: they only
    # count as finished trials; Ctrl-C is no evidence at all
    for outcome in ("failed", None):
        failed = shares_of([_trial(0, None, state=TrialState.FAIL, outcome=outcome)], 1.0)
        assert logit(failed) == pytest.approx(start - 1 / 30, abs=1e-5)
    assert shares_of([_trial(0, None, state=TrialState.FAIL, outcome="interrupted")], 1.0) == shares_of([], 1.0)
    # a prior trial that did worse than the best result before it costs 0.5; a wide one costs nothing more
    beaten = shares_of([_trial(0, 0.8, source=WIDE), _trial(1, 0.5)], 1.0)
    lucky = shares_of([_trial(0, 0.5, source=WIDE), _trial(1, 0.8)], 1.0)
    assert logit(beaten) == pytest.approx(logit(lucky) - 0.5, abs=1e-5)
    assert shares_of([_trial(0, 0.8), _trial(1, 0.5, source=WIDE)], 1.0) == lucky
    for sh in (one, diverged, beaten):
        assert sum(sh.values()) == pytest.approx(1)
    # minimizing: the lower value is the better one
    assert shares_of([_trial(0, 0.5, source=WIDE), _trial(1, 0.8)], 1.0, maximize=False) == beaten


def test_range_test_suggestions_count_as_the_priors_trials() -> None:
    t = _trial(0, 0.1, source=ENQUEUED, outcome="diverged")
    t.user_attrs["source"] = "range test suggestion"
    assert shares_of([t], 1.0) == shares_of([_trial(0, 0.1, outcome="diverged")], 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_shares_move_away_from_a_prior_whose_trials_diverge(seed: int) -> None:
    # the learner diverges above lr 0.03; the prior sits 10x above that, at 0.3
    def hot(trial: optuna.Trial) -> float:
        return bowl(trial, diverge_above=0.03)

    s = sampler(centre=0.3, confidence=1.0, seed=seed)
    # after 8 trials the prior has lost far more ground than a prior in the right place (same seed)
    study = study_of(s, hot, n=8)
    assert s.shares(study)[PRIOR] <= 0.3 and s.shares(study)[PRIOR] + 0.2 <= s.shares(study_of(sampler(seed=seed),
                                                                                               n=8))[PRIOR]
    study.optimize(hot, n_trials=12)
    assert s.shares(study)[PRIOR] < 0.1
    assert sources(study)[10:].count(PRIOR) < sources(study)[:10].count(PRIOR)
    assert any(t.user_attrs.get("outcome") == "diverged" for t in study.trials if t.user_attrs[SOURCE_DRAW] == PRIOR)


@pytest.mark.parametrize("seed", range(100, 105))
@pytest.mark.parametrize("factor", [10.0, 0.1])
def test_recovers_when_the_optimum_lies_10x_outside_a_trusted_prior(seed: int, factor: float) -> None:
    # a fully trusted prior (confidence 1) centred 10x below (or above) the optimum: within RECOVERY_TRIALS
    # trials (30, as the module docstring states) the best LR is within a factor of 2 of the optimum
    s = sampler(centre=LR_OPT / factor, confidence=1.0, seed=seed)
    study = study_of(s, n=RECOVERY_TRIALS)
    assert abs(math.log10(study.best_params["lr"] / LR_OPT)) <= math.log10(2)
    assert sources(study)[-10:].count(PRIOR) < 5


def test_a_good_prior_is_found_at_once() -> None:
    for seed in range(5):
        study = study_of(sampler(confidence=1.0, seed=seed), n=8)
        assert abs(math.log10(study.best_params["lr"] / LR_OPT)) <= math.log10(2)


# ----------------------------------------------------------------------------------------------
# The stored record


def test_wide_bounds_are_widened_to_cover_the_prior() -> None:
    assert widened(3.0, 0.5, (1e-4, 1.0), "log") == pytest.approx((1e-4, 30.0))  # one width is a decade
    # 1 - m within half a decade of 0.1
    assert widened(0.9, 1.0, (0.95, 0.99), "log1m") == pytest.approx((1 - 10 ** -0.5, 0.99))
    assert widened(0.1, 1.0, (1e-5, 10.0), "log") == (1e-5, 10.0)


def test_a_stored_record_builds_the_sampler_with_the_studys_rules() -> None:
    record = {"params": {"lr": {"centre": 0.1, "confidence": 0.5, "bounds": [1e-4, 1.0], "scale": "log"}},
              "suggestions": {"lr": [0.1]}}
    s = sampler_from_record(record, seed=3)
    assert s.priors == {"lr": ParamPrior(0.1, 0.5, widened(0.1, 0.5, (1e-4, 1.0), "log"), scale="log")}
    diverged = optuna.trial.create_trial(value=0.1, user_attrs={"outcome": "diverged"})
    assert s.evidence.is_failure(diverged) and not PriorSampler().evidence.is_failure(diverged)
    killed = optuna.trial.create_trial(state=TrialState.FAIL)  # a killed worker: no outcome, no evidence
    assert not s.evidence.is_failure(killed) and PriorSampler().evidence.is_failure(killed)
    with pytest.raises(ht.ConfigError, match="confidence must be in"):
        sampler_from_record({"params": {"lr": {**record["params"]["lr"], "confidence": 0}}}, seed=0)


# ----------------------------------------------------------------------------------------------
# The range test's suggestions follow the evidence too


def test_the_next_suggestion_moves_below_an_lr_that_diverged() -> None:
    s = hybrid({"lr": ParamPrior(0.3, 1.0, (1e-5, 10.0), scale="log")}, seed=0, suggestions={"lr": [0.3, 0.5]})
    study = study_of(s)
    for i in range(2):  # as hybridtune's queue holds them: momentum fixed, the LR left to the sampler
        study.enqueue_trial({"momentum": 0.9}, user_attrs={"source": "range test suggestion", "suggestion": i})
    study.optimize(lambda t: bowl(t, lr_opt=0.01, diverge_above=0.1), n_trials=2)
    first, second = study.trials
    assert first.params["lr"] == pytest.approx(0.3) and first.user_attrs["outcome"] == "diverged"
    # its own value was 0.5; a decade below the LR that diverged instead
    assert second.params["lr"] == pytest.approx(0.03) and "outcome" not in second.user_attrs
    # without that evidence the second suggestion keeps its place
    calm = study_of(hybrid({"lr": ParamPrior(0.3, 1.0, (1e-5, 10.0), scale="log")}, seed=0,
                           suggestions={"lr": [0.3, 0.5]}))
    for i in range(2):
        calm.enqueue_trial({"momentum": 0.9}, user_attrs={"source": "range test suggestion", "suggestion": i})
    calm.optimize(bowl, n_trials=2)
    assert [t.params["lr"] for t in calm.trials] == [pytest.approx(0.3), pytest.approx(0.5)]


def _opened_by_suggestions(rise_at: Any, **bowl_kw: Any) -> optuna.Study:
    """Two range-test suggestions (0.3, then its own 0.5) on a bowl whose runs record a loss rise ``rise_at(lr)``."""
    s = hybrid({"lr": ParamPrior(0.3, 1.0, (1e-5, 10.0), scale="log")}, seed=0, suggestions={"lr": [0.3, 0.5]})
    study = study_of(s)
    for i in range(2):
        study.enqueue_trial({"momentum": 0.9}, user_attrs={"source": "range test suggestion", "suggestion": i})

    def objective(trial: optuna.Trial) -> float:
        value = bowl(trial, **bowl_kw)
        trial.set_user_attr("loss_rise", rise_at(trial.params["lr"]))
        return value

    study.optimize(objective, n_trials=2)
    return study


def test_the_next_suggestion_moves_a_decade_up_after_a_clean_trial() -> None:
    # the first trained cleanly (its loss kept falling at its peak): the range test may have read low
    first, second = _opened_by_suggestions(lambda lr: 0.05).trials
    assert second.params["lr"] == pytest.approx(3.0) and second.user_attrs["suggestion_move"] == "up"
    assert "suggestion_move" not in first.user_attrs
    # a suggestion moved up and failing there is no evidence against the prior; one that stayed is
    up = _trial(0, 0.1, source=ENQUEUED, outcome="diverged")
    up.user_attrs.update({"source": "range test suggestion", "suggestion_move": "up"})
    assert shares_of([up], 1.0) == shares_of([_trial(0, 0.1, source=WIDE, outcome="diverged")], 1.0)
    assert shares_of([up], 1.0)[PRIOR] > shares_of([_trial(0, 0.1, outcome="diverged")], 1.0)[PRIOR]


def test_the_next_suggestion_moves_a_decade_down_after_a_warm_trial() -> None:
    # the first trained, but its loss climbed back at its peak: near where training breaks
    first, second = _opened_by_suggestions(lambda lr: 0.3).trials
    assert first.value > 0.1 and "outcome" not in first.user_attrs  # it did not diverge
    assert second.params["lr"] == pytest.approx(0.03) and second.user_attrs["suggestion_move"] == "down"
    # at the threshold itself the run still counts as clean
    from hybridtune.study._prior_sampler import WARM_RISE

    assert _opened_by_suggestions(lambda lr: WARM_RISE).trials[1].params["lr"] == pytest.approx(3.0)


def _run(number: int, lr: float, *, value: float = 0.9, rise: float | None = 0.05,
         outcome: str = "completed") -> optuna.trial.FrozenTrial:
    attrs: dict[str, Any] = {"outcome": outcome}
    if rise is not None:
        attrs["loss_rise"] = rise
    t = optuna.trial.create_trial(state=TrialState.COMPLETE, value=value, params={"lr": lr},
                                  distributions={"lr": FloatDistribution(1e-6, 10.0, log=True)}, user_attrs=attrs)
    t.number = number
    return t


def test_stepped_suggestion_follows_the_evidence() -> None:
    # no evidence, or none on this parameter: the suggestion keeps its place
    assert stepped_suggestion(0.5, [], "lr") == (0.5, None)
    assert stepped_suggestion(0.5, [_run(0, 0.3)], "momentum") == (0.5, None)
    # a run that stored no loss rise (a narrow study's, an old one) is no evidence either way
    assert stepped_suggestion(0.5, [_run(0, 0.3, rise=None)], "lr") == (0.5, None)
    # clean: at least a decade above the highest clean run
    assert stepped_suggestion(0.5, [_run(0, 0.3), _run(1, 0.1)], "lr") == (pytest.approx(3.0), "up")
    assert stepped_suggestion(5.0, [_run(0, 0.3)], "lr") == (5.0, None)  # already above
    # too hot: diverged, collapsed to the chance floor, or warm; at most a decade below the lowest
    assert stepped_suggestion(0.5, [_run(0, 0.3, value=0.1, outcome="diverged", rise=None)], "lr") == \
        (pytest.approx(0.03), "down")
    assert stepped_suggestion(0.5, [_run(0, 0.3, value=0.11)], "lr", floor=0.12) == (pytest.approx(0.03), "down")
    assert stepped_suggestion(0.5, [_run(0, 0.3, rise=0.4), _run(1, 1.0, rise=0.9)], "lr") == \
        (pytest.approx(0.03), "down")
    assert stepped_suggestion(0.01, [_run(0, 0.3, rise=0.4)], "lr") == (0.01, None)  # already below
    # a clean run below a hot one: their geometric middle
    assert stepped_suggestion(0.5, [_run(0, 0.3), _run(1, 3.0, value=0.1, outcome="diverged")], "lr") == \
        (pytest.approx(math.sqrt(0.9)), "between")
    # a clean run above the lowest hot one does not make a bracket: down from the hot one
    assert stepped_suggestion(0.5, [_run(0, 1.0), _run(1, 0.3, rise=0.5)], "lr") == (pytest.approx(0.03), "down")


# ----------------------------------------------------------------------------------------------
# In a study: --space prior end to end


@pytest.mark.slow  # three studies, ~7 s
def test_a_prior_guided_study_resumes_with_the_same_sequence(tiny_task: ht.Task, tmp_path: Path) -> None:
    # the pruner scheme: a resumed ladder given more trials re-plans its rungs (tests/study/test_ladder.py)
    kw = dict(epochs=2, probe_batch_size=32, probe_momenta=(0.95, 0.9), batch_size_floor=16, baselines=(),
              space="prior", test=False, dashboard=False, artefacts=False, fidelity="pruner")

    def params(url: str) -> list[dict[str, Any]]:
        study = optuna.load_study(study_name="p", storage=url)
        return [dict(t.params, source=t.user_attrs.get(SOURCE_DRAW)) for t in study.get_trials()]

    one = f"sqlite:///{tmp_path / 'one.db'}"
    r = ht.run_study(tiny_task, ht.StudyConfig(name="p", trials=6, **kw), storage=one)
    assert r.prior_sampler["params"]["base_lr"]["confidence"] == pytest.approx(r.priors.lr_confidence)
    assert r.space["source"] == "prior-guided" and r.space["lr"][0] < r.priors.lr_max < r.space["lr"][1]
    two = f"sqlite:///{tmp_path / 'two.db'}"
    ht.run_study(tiny_task, ht.StudyConfig(name="p", trials=3, **kw), storage=two)
    ht.run_study(tiny_task, ht.StudyConfig(name="p", trials=6, **kw), storage=two)  # resumed: three more
    assert params(one) == params(two)
    assert all(p["source"] in (ENQUEUED, *SOURCES) for p in params(one))
    # every finished trial stored how far its loss climbed at its peak LR: the suggestions' evidence
    finished = [t for t in optuna.load_study(study_name="p", storage=one).get_trials()
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert finished and all(0 <= t.user_attrs["loss_rise"] < 10 for t in finished)
    second = [t for t in finished if t.user_attrs.get("suggestion") == 1]
    first = [t for t in finished if t.user_attrs.get("suggestion") == 0]
    if first and second:  # the second followed the first's evidence, a decade either way
        ratio = second[0].params["base_lr"] / first[0].params["base_lr"]
        assert second[0].user_attrs.get("suggestion_move") in ("up", "down")
        assert ratio == pytest.approx(10.0 if second[0].user_attrs["suggestion_move"] == "up" else 0.1, rel=1e-6) \
            or second[0].params["base_lr"] in (r.space["lr"][0], r.space["lr"][1])
    # the space is part of what a resumed study must keep
    with pytest.raises(ht.ConfigError, match="space"):
        ht.run_study(tiny_task, ht.StudyConfig(name="p", trials=6, **{**kw, "space": "narrow"}), storage=two)


def test_space_choices_are_checked() -> None:
    with pytest.raises(ht.ConfigError, match=r"sampler must be random with space='prior' .* but got sampler='tpe'"):
        ht.StudyConfig(space="prior", sampler="tpe")
    with pytest.raises(ht.ConfigError, match=r"space must be one of narrow, prior, but got 'wide'"):
        ht.StudyConfig(space="wide")
    for bad in (0, 1.5, -0.2, float("nan")):
        with pytest.raises(ht.ConfigError, match=r"prior_confidence must be in \(0, 1\]"):
            ht.StudyConfig(space="prior", prior_confidence=bad)


def test_a_suggestion_that_collapsed_to_chance_counts_as_too_hot(tiny_task: ht.Task, tmp_path: Path) -> None:
    # a band 30x too hot: the first suggestion ends at chance with a finite loss (it does not diverge)
    kw = dict(trials=2, epochs=2, probe_batch_size=32, probe_momenta=(0.95, 0.9), batch_size_floor=16,
              baselines=(), space="prior", test=False, dashboard=False, artefacts=False, lr_range=(300, 3000))
    r = ht.run_study(tiny_task, ht.StudyConfig(name="hot", **kw), storage=f"sqlite:///{tmp_path / 'h.db'}")
    first, second = optuna.load_study(study_name="hot", storage=f"sqlite:///{tmp_path / 'h.db'}").get_trials()
    from hybridtune.task import chance_floor

    floor = chance_floor(4, len(tiny_task.data.val))
    assert first.value <= floor  # found nothing, whether it diverged or collapsed
    # the second suggestion moved a decade below the first, instead of going higher (its own place)
    assert second.params["base_lr"] == pytest.approx(first.params["base_lr"] / 10)
    assert second.user_attrs["suggestion_move"] == "down"
    assert r.search.n_trials == 2
    # the report's LR figure says so when a reader hovers over the trial
    from hybridtune.report import lr_trials_figure

    texts = [x for tr in lr_trials_figure(r, [first, second]).data if tr.text is not None for x in tr.text]
    assert any(x.startswith(f"trial {second.number} ") and "moved down on the evidence" in x for x in texts)
