"""Every sampler and pruner of the registries gets the same test: its record builds Optuna's own object of the
expected class, with the arguments the search has always used, and a study runs with it."""

from __future__ import annotations

import optuna
import pytest

import hybridtune as ht
from hybridtune.study import (PRUNER_REGISTRY, PRUNERS, SAMPLER_REGISTRY, SAMPLERS, PrunerInfo, SamplerInfo,
                              pruner_info, sampler_info)

SAMPLER_CLASSES = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}
PRUNER_CLASSES = {"asha": optuna.pruners.SuccessiveHalvingPruner, "median": optuna.pruners.MedianPruner,
                  "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}


def _study(sampler: optuna.samplers.BaseSampler, pruner: optuna.pruners.BasePruner) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 1e-3, 1.0, log=True)
        for epoch in (1, 2, 3):
            trial.report(x * epoch / 3, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    study.optimize(objective, n_trials=4)
    return study


def test_the_registries_cover_the_expected_classes() -> None:
    # a new entry needs its expected class here
    assert set(SAMPLERS) == set(SAMPLER_CLASSES) and set(PRUNERS) == set(PRUNER_CLASSES)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_builds_its_optuna_sampler(name: str) -> None:
    info = sampler_info(name)
    assert isinstance(info, SamplerInfo) and info.name == name and SAMPLER_REGISTRY[name] is info
    assert info.description.strip() and "\n" not in info.description
    assert ht.StudyConfig(sampler=name).sampler == name
    sampler = info.create(seed=7)
    assert type(sampler) is SAMPLER_CLASSES[name]
    # seeded: the same seed draws the same values
    draws = [[t.params["x"] for t in _study(info.create(seed=7), optuna.pruners.NopPruner()).trials]
             for _ in range(2)]
    assert draws[0] == draws[1] and len(draws[0]) == 4


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_builds_its_optuna_pruner(name: str) -> None:
    info = pruner_info(name)
    assert isinstance(info, PrunerInfo) and info.name == name and PRUNER_REGISTRY[name] is info
    assert info.description.strip() and "\n" not in info.description
    assert ht.StudyConfig(pruner=name).pruner == name
    pruner = info.create(epochs=9)
    assert type(pruner) is PRUNER_CLASSES[name]
    assert info.prunes == (type(pruner) is not optuna.pruners.NopPruner)
    study = _study(optuna.samplers.RandomSampler(seed=0), pruner)
    assert len(study.trials) == 4 and all(t.state.is_finished() for t in study.trials)


@pytest.mark.parametrize(("epochs", "first"), [(1, 1), (2, 1), (4, 2), (9, 3), (30, 10)])
def test_the_pruners_first_rung_sits_a_third_of_the_way_in(epochs: int, first: int) -> None:
    # Optuna keeps a pruner's arguments in private attributes: this fails loudly if it renames them
    asha = pruner_info("asha").create(epochs=epochs)
    assert (asha._min_resource, asha._reduction_factor) == (first, 3)
    median = pruner_info("median").create(epochs=epochs)
    assert (median._n_startup_trials, median._n_warmup_steps) == (3, first - 1)
    hyperband = pruner_info("hyperband").create(epochs=epochs)
    assert (hyperband._min_resource, hyperband._max_resource, hyperband._reduction_factor) == (first, epochs, 3)
