"""``hybridtune doctor``: what a stored study is missing, and the part of it that can be fixed without
training (stuck trials failed and queued again)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._core import open_storage, study_names
from ..compare import best_trial
from ..space import GridSpace
from ..study import config_from_dict, fail_stale, keys, running_trials, search_names


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose_study` found in a stored study.

    ``stuck``: RUNNING trials whose process is gone (no heartbeat for the grace period, or none ever within
    it), as ``"trial N of STUDY (worker W, last heartbeat ...)"``; ``missing_cells``: grid cells with no
    completed trial (``queued`` when a trial of the cell waits or runs); ``incomplete_tests``: studies whose
    best configuration is not retrained on every test seed; ``repaired``: the stuck trials failed and queued
    again by ``repair=True``.

    Example:
        >>> Diagnosis(name="s").healthy
        True
    """

    name: str
    stuck: list[str] = field(default_factory=list)
    missing_cells: list[dict[str, Any]] = field(default_factory=list)
    incomplete_tests: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Nothing stuck (after repair), no missing cell, every test retrain there."""
        return not (set(self.stuck) - set(self.repaired)) and not self.missing_cells and not self.incomplete_tests

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "stuck": list(self.stuck), "missing_cells": list(self.missing_cells),
                "incomplete_tests": list(self.incomplete_tests), "repaired": list(self.repaired),
                "healthy": self.healthy}


def diagnose_study(name: str, *, storage: Any = None, repair: bool = False) -> Diagnosis:
    """List what study ``name`` is missing: stuck trials, missing grid cells, incomplete test retrains; with
    ``repair``, fail its stuck trials and queue them again (as the coordinator would after the grace period;
    at most ``MAX_RETRY`` times per trial). Missing cells and retrains need training: re-running
    ``hybridtune study`` runs them.

    Args:
        name: the search study's name.
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``); it must exist.
        repair: fail and re-queue the stuck trials.

    Raises:
        ConfigError: no search study of that name in the storage.

    Example:
        >>> import hybridtune as ht
        >>> ht.diagnose_study("resnet-mnist5k", storage="sqlite:///runs/hybridtune.db").healthy  # doctest: +SKIP
        True
    """
    import optuna
    from optuna.trial import TrialState

    from .._core import ConfigError, did_you_mean

    store = open_storage(storage, must_exist=True)
    names = set(study_names(store))
    if name not in names:
        searches = search_names(sorted(names))
        raise ConfigError(f"--name must be a study in this storage, but got {name!r}"
                          f"{did_you_mean(name, searches)} (studies: {', '.join(searches) or 'none'}).")
    search = optuna.load_study(study_name=name, storage=store)
    config = config_from_dict(search.user_attrs[keys.CONFIG]) if keys.CONFIG in search.user_attrs else None
    studies = {keys.SEARCH: search}
    for role in keys.BASELINE_ROLES:
        if keys.study_name(name, role) in names:
            studies[role] = optuna.load_study(study_name=keys.study_name(name, role), storage=store)
    stuck, repaired, missing, tests = [], [], [], []
    grace = getattr(store, "grace_period", None)
    for role, study in studies.items():
        mine = [r for r in running_trials(study) if grace is not None and
                ((r.heartbeat_age if r.heartbeat_age is not None else r.running_for) or 0) > grace]
        stuck += [r.describe() for r in mine]
        if repair and mine:
            fail_stale(study)
            failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
            repaired += [r.describe() for r in mine if r.number in failed]
        trials = study.get_trials(deepcopy=False)
        if role == keys.GRID and keys.GRID_SPACE in study.user_attrs:
            grid = GridSpace.from_dict(study.user_attrs[keys.GRID_SPACE])
            state = {}
            for t in trials:
                key = json.dumps(dict(t.system_attrs.get("fixed_params") or t.params), sort_keys=True)
                if t.state == TrialState.COMPLETE:
                    state[key] = "complete"
                elif t.state in (TrialState.WAITING, TrialState.RUNNING):
                    state.setdefault(key, "queued")
            for cell in grid.cell_list(config.seed if config else 0):
                key = json.dumps(cell, sort_keys=True)
                if state.get(key) != "complete":
                    missing.append({**cell, "queued": state.get(key) == "queued"})
        if config is not None and config.test:
            best = best_trial(trials)
            record = study.user_attrs.get(keys.TEST) or {}
            if best is not None and (record.get("trial") != best.number
                                     or len(record.get("runs") or ()) < config.test_seeds):
                have = len(record.get("runs") or ()) if record.get("trial") == best.number else 0
                tests.append(f"{study.study_name}: best trial {best.number} retrained on {have} of "
                             f"{config.test_seeds} test seeds")
    return Diagnosis(name=name, stuck=stuck, missing_cells=missing, incomplete_tests=tests, repaired=repaired)
