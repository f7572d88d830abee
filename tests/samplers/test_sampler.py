"""PriorSampler as a plain Optuna sampler: its priors on every kind of distribution, its sources and shares, its
hooks, multi-objective studies, constraints, base samplers, reseeding, and the two private Optuna hooks it needs.
Nothing here touches the rest of hybridtune (tests/study/test_prior_sampler.py has a search study's rules)."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hybridtune.samplers import (ENQUEUED, INCUMBENT, PRIOR, SOURCE_ATTR, SOURCES, WIDE, Evidence, Held, ParamPrior,
                                 PriorSampler, default_is_failure, shares_of)

optuna.logging.set_verbosity(optuna.logging.WARNING)

PRIORS = {"lr": ParamPrior(1e-2, 1.0), "momentum": ParamPrior(0.9, 1.0, scale="log1m")}


def loss(trial: optuna.Trial) -> float:
    """A plain objective, minimized: best at lr 0.01 and momentum 0.9."""
    lr = trial.suggest_float("lr", 1e-6, 10.0, log=True)
    m = trial.suggest_float("momentum", 0.5, 0.999)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    trial.suggest_categorical("batch_size", (32, 64, 128))
    return math.log10(lr / 1e-2) ** 2 + 0.1 * math.log10((1 - m) / 0.1) ** 2


def study_of(s: optuna.samplers.BaseSampler, n: int = 0, objective: Any = loss, **kw: Any) -> optuna.Study:
    study = optuna.create_study(sampler=s, **kw)
    if n:
        study.optimize(objective, n_trials=n)
    return study


def sources(study: optuna.Study) -> list[str]:
    return [t.user_attrs[SOURCE_ATTR] for t in study.trials]


def new_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    study.ask()
    return study.trials[-1]


class Spy(PriorSampler):
    """Records which parameters each path sampled."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.relative: list[tuple[int, str]] = []
        self.independent: list[tuple[int, str]] = []

    def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
        out = super().sample_relative(study, trial, search_space)
        self.relative += [(trial.number, n) for n in out]
        return out

    def sample_independent(self, study, trial, param_name, param_distribution):  # type: ignore[no-untyped-def]
        self.independent.append((trial.number, param_name))
        return super().sample_independent(study, trial, param_name, param_distribution)


# ----------------------------------------------------------------------------------------------
# A plain Optuna sampler


def test_the_base_sampler_contract() -> None:
    spy = Spy(PRIORS, seed=0)
    study = study_of(spy, 6)
    # the first trial has no history: every parameter is sampled independently, the prior ones by the prior
    assert {n for i, n in spy.independent if i == 0} == {"lr", "momentum", "weight_decay", "batch_size"}
    # from then on the prior parameters are sampled relatively, the others independently, by the base sampler
    for i in range(1, 6):
        assert {n for j, n in spy.relative if j == i} == {"lr", "momentum"}
        assert {n for j, n in spy.independent if j == i} == {"weight_decay", "batch_size"}
    assert spy.infer_relative_search_space(study, study.trials[-1]) == {
        "lr": FloatDistribution(1e-6, 10.0, log=True), "momentum": FloatDistribution(0.5, 0.999)}
    for t in study.trials:
        assert t.state == TrialState.COMPLETE and t.user_attrs == {SOURCE_ATTR: t.user_attrs[SOURCE_ATTR]}
        assert t.user_attrs[SOURCE_ATTR] in SOURCES  # the only attribute it writes: no hybridtune names
    assert spy._plans == {}  # after_trial forgets each trial's plan


def test_relative_and_independent_sampling_draw_the_same_values() -> None:
    s = PriorSampler(PRIORS, seed=3)
    study = study_of(s, 4)
    trial = study.ask()
    frozen = study.trials[-1]
    dists = {"lr": FloatDistribution(1e-6, 10.0, log=True), "momentum": FloatDistribution(0.5, 0.999)}
    relative = s.sample_relative(study, frozen, dists)
    assert relative == {n: s.sample_independent(study, frozen, n, d) for n, d in dists.items()}
    assert trial.suggest_float("lr", 1e-6, 10.0, log=True) == relative["lr"]
    # a parameter without a prior: the keyed random base, seeded by (seed, trial, name)
    bs = CategoricalDistribution((32, 64))
    assert s.sample_independent(study, frozen, "batch_size", bs) == s.sample_independent(study, frozen,
                                                                                         "batch_size", bs)


def test_sample_relative_takes_what_it_can_and_hands_the_rest_on() -> None:
    s = PriorSampler({"lr": ParamPrior(1e-2, 1.0), "act": ParamPrior("gelu", 1.0)}, seed=0)
    study = study_of(s, 2)
    frozen = new_trial(study)
    space = {"lr": FloatDistribution(1e-5, 1.0, log=True), "units": IntDistribution(1, 9, step=2),
             "act": CategoricalDistribution(("relu", "tanh")),  # the prior's choice is not offered
             "p": FloatDistribution(0.0, 0.5, step=0.1)}
    out = s.sample_relative(study, frozen, space)
    assert set(out) == set(space)
    for name, dist in space.items():
        assert dist._contains(dist.to_internal_repr(out[name]))
    assert type(out["lr"]) is float and type(out["units"]) is int and type(out["p"]) is float


# ----------------------------------------------------------------------------------------------
# Reproducible, resumable, queue-friendly


def test_reproducible_from_one_seed() -> None:
    a, b, c = (study_of(PriorSampler(PRIORS, seed=seed), 12) for seed in (7, 7, 8))
    assert [t.params for t in a.trials] == [t.params for t in b.trials] and sources(a) == sources(b)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_a_resumed_study_draws_the_same_sequence(tmp_path: Path) -> None:
    straight = study_of(PriorSampler(PRIORS, seed=5), 10)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study_of(PriorSampler(PRIORS, seed=5), 5, storage=url, study_name="resumed")
    again = optuna.load_study(study_name="resumed", storage=url, sampler=PriorSampler(PRIORS, seed=5))
    again.optimize(loss, n_trials=5)
    assert [t.params for t in again.trials] == [t.params for t in straight.trials]
    assert sources(again) == sources(straight)


def test_enqueued_values_pass_through() -> None:
    study = study_of(PriorSampler(PRIORS, seed=2))
    study.enqueue_trial({"lr": 0.5, "momentum": 0.7, "weight_decay": 1e-3, "batch_size": 64})
    study.enqueue_trial({"lr": 0.2})  # partly fixed: the momentum comes from the prior
    study.enqueue_trial({"batch_size": 32})  # no prior parameter fixed: a trial like any other
    study.optimize(loss, n_trials=3)
    first, partly, other = study.trials
    assert first.params == {"lr": 0.5, "momentum": 0.7, "weight_decay": 1e-3, "batch_size": 64}
    assert partly.params["lr"] == 0.2 and partly.params["momentum"] != 0.7
    assert sources(study)[:2] == [ENQUEUED, ENQUEUED] and sources(study)[2] in SOURCES


def test_reseed_rng_keeps_a_seeded_sampler_and_moves_an_unseeded_one() -> None:
    dist = FloatDistribution(0.0, 1.0)
    for seeded, base in ((True, None), (False, None), (False, optuna.samplers.RandomSampler(seed=1))):
        s = PriorSampler({"x": ParamPrior(0.5, 0.3)}, base_sampler=base, seed=0 if seeded else None)
        study = study_of(s)
        frozen = new_trial(study)
        before = [s.sample_independent(study, frozen, n, dist) for n in ("x", "y")]
        s._plans.clear()
        s.reseed_rng()
        after = [s.sample_independent(study, frozen, n, dist) for n in ("x", "y")]
        assert (before == after) == seeded, (seeded, base)


def test_threads_sharing_a_seeded_sampler_never_draw_alike() -> None:
    # each trial sees whatever has finished when it starts (so the sequence depends on timing), but every draw
    # is keyed on the trial's number: no two trials repeat each other
    study = study_of(PriorSampler(PRIORS, seed=4))
    study.optimize(loss, n_trials=12, n_jobs=3)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for name in ("lr", "momentum", "weight_decay"):
        assert len({t.params[name] for t in study.trials}) == 12


# ----------------------------------------------------------------------------------------------
# The priors, on every kind of distribution


def test_a_numeric_prior_draws_on_every_numeric_distribution() -> None:
    rng = np.random.default_rng(0)
    for prior, dist, centre in [
        (ParamPrior(8, 1.0), IntDistribution(1, 64, log=True), 8),
        (ParamPrior(8, 1.0), IntDistribution(0, 64, step=4), 8),
        (ParamPrior(0.3, 1.0), FloatDistribution(0.0, 1.0, step=0.1), 0.3),
        (ParamPrior(-2.0, 1.0), FloatDistribution(-5.0, 5.0), -2.0),
        (ParamPrior(0.99, 1.0, scale="log1m"), FloatDistribution(0.5, 0.9999), 0.99),
    ]:
        assert prior.fits(dist)
        draws = [prior.draw(rng, dist) for _ in range(300)]
        assert all(dist._contains(dist.to_internal_repr(v)) for v in draws)
        assert all(type(v) is (int if isinstance(dist, IntDistribution) else float) for v in draws)
        if dist.step is not None:
            assert np.allclose(np.round((np.array(draws) - dist.low) / dist.step), (np.array(draws) - dist.low)
                               / dist.step)
        assert np.median(draws) == pytest.approx(centre, rel=0.15, abs=0.05)  # centred where it says


def test_a_categorical_prior_is_a_preferred_choice_or_a_weight_per_choice() -> None:
    rng = np.random.default_rng(1)
    dist = CategoricalDistribution(("adam", "sgd", "rmsprop", "adagrad"))
    draws = [ParamPrior("sgd", 0.6).draw(rng, dist) for _ in range(4000)]
    assert draws.count("sgd") / 4000 == pytest.approx(0.6 + 0.4 / 4, abs=0.03)
    weighted = [ParamPrior({"adam": 3, "sgd": 1}, 1.0).draw(rng, dist) for _ in range(4000)]
    assert weighted.count("adam") / 4000 == pytest.approx(0.75, abs=0.03) and "rmsprop" not in weighted
    # a number is a choice too; True and 1 are not the same choice
    assert ParamPrior(64, 1.0).draw(rng, CategoricalDistribution((32, 64))) == 64
    assert not ParamPrior(1, 1.0).fits(CategoricalDistribution((True, False)))
    # around the incumbent: its choice is kept three times in four (plus its uniform share)
    kept = [ParamPrior("sgd", 1.0).draw(rng, dist, around="adam") for _ in range(4000)]
    assert kept.count("adam") / 4000 == pytest.approx(0.75 + 0.25 / 4, abs=0.03)


def test_the_widths() -> None:
    assert ParamPrior(1e-3, 1.0).width(1e-5, 1.0, "log") == 0.5  # decades
    assert ParamPrior(1e-3, 0.1).width(1e-5, 1.0, "log") == 2.0  # at most
    assert ParamPrior(5.0, 0.5).width(0.0, 10.0) == pytest.approx(2.0)  # linear: a fifth of the range
    assert ParamPrior(5.0, 0.1).width(0.0, 10.0) == pytest.approx(5.0)  # at most half
    # no scale given: the distribution's own
    assert ParamPrior(1e-3, 1.0).scale_for(FloatDistribution(1e-5, 1.0, log=True)) == "log"
    assert ParamPrior(1e-3, 1.0).scale_for(IntDistribution(0, 10)) == "linear"


def test_a_prior_that_does_not_fit_leaves_the_parameter_to_the_base_sampler(caplog: pytest.LogCaptureFixture) -> None:
    s = PriorSampler({"x": ParamPrior(0.5, 1.0, scale="log"), "c": ParamPrior("gelu", 1.0)}, seed=0)
    study = study_of(s)
    with caplog.at_level(logging.WARNING, logger="hybridtune.samplers._sampler"):
        study.optimize(lambda t: t.suggest_float("x", -5.0, -1.0) + len(t.suggest_categorical("c", ("a", "bb"))),
                       n_trials=4)
    assert all(-5 <= t.params["x"] <= -1 for t in study.trials)
    assert sum("does not fit" in r.message for r in caplog.records) == 2  # once per parameter


def test_bad_priors_are_refused() -> None:
    cases = [
        (lambda: ParamPrior(0.1, 0.0), "confidence must be in (0, 1], but got confidence=0.0."),
        (lambda: ParamPrior(0.1, 1.5), "confidence must be in (0, 1], but got confidence=1.5."),
        (lambda: ParamPrior(0.1, float("nan")), "confidence must be in (0, 1], but got confidence=nan."),
        (lambda: ParamPrior(1.0, 0.5, scale="log1m"),
         "the centre must be a number below 1 on the log1m scale, but got 1.0."),
        (lambda: ParamPrior(-1.0, 0.5, scale="log"), "the centre must be a positive number on the log scale, "
                                                     "but got -1.0."),
        (lambda: ParamPrior(0.1, 0.5, (1.0, 1e-4)),
         "bounds must be (low, high) with low <= high, but got bounds=(1.0, 0.0001)."),
        (lambda: ParamPrior("adam", 0.5, (0, 1)), "bounds apply to a numeric prior, but got bounds=(0, 1) with "
                                                  "centre='adam'."),
        (lambda: ParamPrior({"a": -1, "b": 2}, 0.5), "a categorical prior's weights must be non-negative numbers, "
                                                     "not all zero, but got {'a': -1, 'b': 2}."),
        (lambda: PriorSampler({"lr": 0.1}), "priors must map a parameter name to a ParamPrior, but got lr=float."),
        (lambda: PriorSampler(base_sampler="tpe"), "base_sampler must be an Optuna sampler, but got str."),
        (lambda: PriorSampler(is_failure=True), "is_failure must be a function, but got bool."),
    ]
    for make, message in cases:
        with pytest.raises(ValueError) as e:
            make()
        assert str(e.value) == message
    with pytest.raises(ValueError, match=r"scale must be one of log, log1m, linear, but got 'lin'"):
        ParamPrior(0.1, 0.5, scale="lin")


# ----------------------------------------------------------------------------------------------
# The shares and the evidence hooks


def _trial(number: int, value: float | None, *, source: str = PRIOR, state: TrialState = TrialState.COMPLETE,
           **attrs: Any) -> optuna.trial.FrozenTrial:
    t = optuna.trial.create_trial(state=state, value=value, params={"x": 0.5},
                                  distributions={"x": FloatDistribution(0, 1)},
                                  user_attrs={SOURCE_ATTR: source, **attrs})
    t.number = number
    return t


def logit(sh: dict[str, float]) -> float:
    return math.log(sh[PRIOR] / (1 - sh[PRIOR]))


def test_the_share_rule() -> None:
    assert shares_of([], 1.0) == {PRIOR: 0.9, WIDE: 0.1, INCUMBENT: 0.0}
    assert shares_of([], 0.25)[PRIOR] == pytest.approx(0.6)
    start = logit(shares_of([], 1.0))
    one = shares_of([_trial(0, 0.8)], 1.0)
    assert logit(one) == pytest.approx(start - 1 / 30, abs=1e-5)  # the decay: one trial of 30
    assert one[INCUMBENT] == pytest.approx((1 - one[PRIOR]) / 5, abs=1e-5)  # g / (g + 4) of the rest
    # a failure of the prior's costs 1: failed, a value that is not finite, a broken constraint
    for bad in (_trial(0, None, state=TrialState.FAIL), _trial(0, math.inf)):
        assert logit(shares_of([bad], 1.0)) == pytest.approx(start - 1 / 30 - 1, abs=1e-5)
    infeasible = _trial(0, 0.1)
    infeasible.set_constraint("memory", 2.0)
    assert default_is_failure(infeasible) and shares_of([infeasible], 1.0)[INCUMBENT] == 0
    # a wide trial's failure is no evidence against the prior
    assert logit(shares_of([_trial(0, None, state=TrialState.FAIL, source=WIDE)], 1.0)) == pytest.approx(
        start - 1 / 30, abs=1e-5)
    # a prior trial that did no better than one before it costs 0.5 (minimizing by default)
    beaten = shares_of([_trial(0, 0.5, source=WIDE), _trial(1, 0.8)], 1.0)
    lucky = shares_of([_trial(0, 0.8, source=WIDE), _trial(1, 0.5)], 1.0)
    assert logit(beaten) == pytest.approx(logit(lucky) - 0.5, abs=1e-5)
    assert shares_of([_trial(0, 0.5, source=WIDE), _trial(1, 0.5)], 1.0) == beaten  # a tie counts against it
    assert shares_of([_trial(0, 0.8, source=WIDE), _trial(1, 0.5)], 1.0, directions=["maximize"]) == beaten
    for sh in (one, beaten, lucky):
        assert sum(sh.values()) == pytest.approx(1)
    # running and waiting trials are no evidence
    assert shares_of([_trial(0, None, state=TrialState.RUNNING)], 1.0) == shares_of([], 1.0)


def test_what_counts_as_a_failure_is_the_callers() -> None:
    diverged = _trial(0, 0.1, outcome="diverged")
    assert not default_is_failure(diverged)  # hybridtune's attribute names mean nothing by default
    rules = Evidence(is_failure=lambda t: t.user_attrs.get("outcome") == "diverged",
                     is_evidence=lambda t: t.user_attrs.get("outcome") != "interrupted",
                     counts_for_prior=lambda t: t.user_attrs.get("queued") is True)
    assert logit(shares_of([diverged], 1.0, evidence=rules)) == pytest.approx(
        logit(shares_of([diverged], 1.0)) - 1, abs=1e-5)
    assert shares_of([_trial(0, None, state=TrialState.FAIL, outcome="interrupted")], 1.0, evidence=rules) == \
        shares_of([], 1.0)
    queued = _trial(0, 0.1, source=ENQUEUED, outcome="diverged", queued=True)
    assert shares_of([queued], 1.0, evidence=rules) == shares_of([diverged], 1.0, evidence=rules)
    # the sampler passes its hooks through
    s = PriorSampler(PRIORS, is_failure=rules.is_failure, is_evidence=rules.is_evidence,
                     counts_for_prior=rules.counts_for_prior)
    assert s.evidence == rules


@pytest.mark.parametrize("seed", range(3))
def test_a_prior_whose_trials_fail_loses_its_share(seed: int) -> None:
    def hot(trial: optuna.Trial) -> float:
        if trial.suggest_float("lr", 1e-6, 10.0, log=True) > 0.03:
            raise ValueError("diverged")
        return -trial.params["lr"]

    s = PriorSampler({"lr": ParamPrior(0.3, 1.0)}, seed=seed)  # 10x above where it fails
    study = study_of(s)
    study.optimize(hot, n_trials=10, catch=(ValueError,))
    assert s.shares(study)[PRIOR] < 0.2 <= shares_of([], 1.0)[PRIOR] - 0.7


def test_good_and_misplaced_priors() -> None:
    for seed in range(3):
        good = study_of(PriorSampler(PRIORS, seed=seed), 8)
        assert abs(math.log10(good.best_params["lr"] / 1e-2)) <= math.log10(2)
        off = study_of(PriorSampler({**PRIORS, "lr": ParamPrior(1e-1, 1.0)}, seed=seed), 30)
        assert abs(math.log10(off.best_params["lr"] / 1e-2)) <= math.log10(2)


# ----------------------------------------------------------------------------------------------
# Multi-objective studies, constraints, base samplers, held values


def test_multi_objective_studies() -> None:
    def two(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, (1 - x) ** 2 + trial.suggest_int("n", 0, 4)

    s = PriorSampler({"x": ParamPrior(0.5, 0.8), "n": ParamPrior(0, 0.8)}, seed=0)
    study = study_of(s, 20, two, directions=["minimize", "minimize"])
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert set(sources(study)) == {PRIOR, WIDE, INCUMBENT}
    # the incumbent source perturbs a trial of the Pareto front
    front = {t.number for t in study.best_trials}
    plan = s._plan(study, new_trial(study))
    assert any(plan.incumbent == study.trials[n].params for n in front)
    # a prior trial at least as good as an earlier one in one objective only is not beaten
    a, b = (optuna.trial.create_trial(values=v, user_attrs={SOURCE_ATTR: PRIOR}) for v in ((1.0, 2.0), (2.0, 1.0)))
    a.number, b.number = 0, 1
    dirs = ["minimize", "minimize"]
    assert logit(shares_of([a, b], 1.0, directions=dirs)) - logit(shares_of([a], 1.0, directions=dirs)) == \
        pytest.approx(-1 / 30, abs=1e-5)
    c = optuna.trial.create_trial(values=(1.0, 3.0), user_attrs={SOURCE_ATTR: PRIOR})
    c.number = 1
    assert logit(shares_of([a, c], 1.0, directions=dirs)) - logit(shares_of([a], 1.0, directions=dirs)) == \
        pytest.approx(-1 / 30 - 0.5, abs=1e-5)


def test_constraints() -> None:
    def constrained(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("x below 0.3", x - 0.3)  # the prior sits on the infeasible side
        return -x

    s = PriorSampler({"x": ParamPrior(0.9, 1.0)}, seed=0)
    study = study_of(s, 25, constrained)
    feasible = [t for t in study.trials if t.params["x"] <= 0.3]
    assert feasible and s._plan(study, new_trial(study)).incumbent["x"] <= 0.3  # never an infeasible one
    assert s.shares(study)[PRIOR] < 0.1
    # a base sampler's own constraints_func (deprecated in Optuna 5) still reaches the storage: after_trial is
    # passed through
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        tpe = optuna.samplers.TPESampler(constraints_func=lambda t: (t.params["x"] - 0.3,), seed=0)
    study = study_of(PriorSampler({"x": ParamPrior(0.9, 1.0)}, base_sampler=tpe, seed=0), 5,
                     lambda t: -t.suggest_float("x", 0.0, 1.0))
    assert all(t.constraints for t in study.trials)


class Recording(optuna.samplers.RandomSampler):
    """A base sampler that records what it was asked to draw and which hooks it saw."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.drew: list[tuple[int, str]] = []
        self.hooks: list[str] = []

    def sample_independent(self, study, trial, param_name, param_distribution):  # type: ignore[no-untyped-def]
        self.drew.append((trial.number, param_name))
        return super().sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):  # type: ignore[no-untyped-def]
        self.hooks.append("before")

    def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
        self.hooks.append("after")

    def reseed_rng(self) -> None:
        self.hooks.append("reseed")


def test_a_base_sampler_draws_the_wide_source_and_the_parameters_without_a_prior() -> None:
    base = Recording()
    study = study_of(PriorSampler(PRIORS, base_sampler=base, seed=0), 30)
    for t in study.trials:
        drew = {n for i, n in base.drew if i == t.number}
        assert {"weight_decay", "batch_size"} <= drew
        assert ({"lr", "momentum"} <= drew) == (t.user_attrs[SOURCE_ATTR] == WIDE)
    assert base.hooks == ["before", "after"] * 30
    tpe = PriorSampler(PRIORS, base_sampler=optuna.samplers.TPESampler(multivariate=True, seed=0), seed=0)
    study = study_of(tpe, 12)
    assert set(tpe.infer_relative_search_space(study, new_trial(study))) == {"lr", "momentum", "weight_decay",
                                                                             "batch_size"}


def test_a_held_value_is_the_callers() -> None:
    def held(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> Held | None:
        if trial.user_attrs.get("mine") is None:
            return None
        return Held({"lr": 0.5 * len(study.trials)}, {"lr": {"why": "mine"}})

    s = PriorSampler(PRIORS, seed=0, held=held)
    study = study_of(s, 2)
    study.enqueue_trial({}, user_attrs={"mine": True})
    study.optimize(loss, n_trials=2)
    queued = study.trials[2]
    assert queued.params["lr"] == 1.5 and queued.user_attrs[SOURCE_ATTR] == ENQUEUED
    assert queued.user_attrs["why"] == "mine" and "why" not in study.trials[3].user_attrs


def test_the_private_optuna_hooks_still_hold(tmp_path: Path) -> None:
    # the sampler's only two uses of Optuna internals (hybridtune/samplers/_optuna.py): if an Optuna release
    # changes either, this fails, by name
    from hybridtune.samplers._optuna import enqueued_params, set_user_attr

    for storage in (None, f"sqlite:///{tmp_path / 'h.db'}"):
        study = optuna.create_study(storage=storage)
        study.enqueue_trial({"x": 0.25})
        trial = study.ask()
        frozen = study.trials[-1]
        assert enqueued_params(frozen) == {"x": 0.25}, "Optuna no longer keeps enqueue_trial's values in " \
                                                       "the system attribute 'fixed_params'"
        set_user_attr(study, frozen, "k", "v")
        assert study.trials[-1].user_attrs == {"k": "v"}, "Study._storage.set_trial_user_attr(trial._trial_id) " \
                                                         "no longer writes a user attribute"
        assert trial.suggest_float("x", 0, 1) == 0.25
