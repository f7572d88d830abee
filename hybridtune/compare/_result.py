"""Everything a study produced, rebuilt from storage: :class:`StudyResult` and :func:`load_result`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core._errors import ConfigError
from .._core._json import finite_json
from .._core._registry import did_you_mean
from .._core._storage import open_storage, redact
from ..study import _schema as schema
from ._comparison import Comparison, compare
from ._outcome import StudyOutcome, outcome_from_trials

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes._priors import Priors

#: "Still improving clearly": the best trial's validation accuracy rose over its last epoch by more than this
#: many standard errors of the difference of two accuracies on the validation split (binomial, taken as
#: independent). 1cycle's annealing lifts the last epoch anyway: of the 29 ResNet-8 runs of 4 epochs on mnist5k
#: that reached 95.5% (benchmarks/results/first_trials.json), 24 rose by 0.4-2.9 such errors, so the bar sits
#: above that; the CNN on digits at 2 epochs rose by 9.6 (55% -> 89%; 96% at the budget rule's 11 epochs).
IMPROVING_Z = 3.0


@dataclass(frozen=True)
class StudyResult:
    """Everything a study produced, rebuilt from storage: the priors, each study's outcome, the comparison.

    ``to_dict()`` is the ``--json`` payload: ``priors``; ``search``, ``grid`` (and ``random``), each with
    ``best_value``, ``best_params``, ``n_trials`` and ``cost``; ``comparison`` with
    ``cost_to_match_grid``, ``cost_ratio_to_match_grid`` and ``test_accuracy`` per study; ``artefacts``
    (where the search's ``best.json`` and ``best.pt`` were written, or ``null``) and ``warnings``.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.tune(task, trials=2, epochs=1, probe_batch_size=32, baseline="grid",
        ...             grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})
        >>> sorted(r.result.outcomes), "comparison" in r.result.to_dict()
        (['grid', 'search'], True)
    """

    name: str
    storage: str
    task: dict[str, Any]
    config: dict[str, Any]
    priors: Priors | None
    space: dict[str, Any] | None
    grid_space: dict[str, Any] | None
    search: StudyOutcome
    grid: StudyOutcome | None
    random: StudyOutcome | None
    comparison: Comparison
    #: the HTML report's path, where one was written (:func:`hybridtune.run_study` with ``report=``)
    report: str | None = None
    #: where the search's chosen recipe and weights are: ``{"trial", "recipe", "checkpoint"}`` (paths of
    #: ``best.json`` and ``best.pt``), or ``None`` when none were written for its current best trial
    artefacts: dict[str, Any] | None = None
    #: what the user should know, one sentence each (e.g. "the budget may be too short: ...")
    warnings: tuple[str, ...] = ()

    @property
    def outcomes(self) -> dict[str, StudyOutcome]:
        """The studies that exist, by role (``search``, ``grid``, ``random``)."""
        return {o.role: o for o in (self.search, self.grid, self.random) if o is not None}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "storage": self.storage, "task": self.task,
                             "config": self.config, "priors": self.priors.to_dict() if self.priors else None,
                             "space": self.space, "grid_space": self.grid_space}
        for role, o in self.outcomes.items():
            d[role] = o.to_dict()
        d["comparison"] = self.comparison.to_dict()
        d["artefacts"] = dict(self.artefacts) if self.artefacts else None
        d["warnings"] = list(self.warnings)
        if self.report is not None:
            d["report"] = self.report
        return finite_json(d)

    def to_frame(self) -> Any:
        """The comparison table, one row per study (pandas)."""
        return self.comparison.to_frame()


def load_result(name: str, *, storage: Any = None, tolerance: float | None = None) -> StudyResult:
    """Rebuild a study's result from storage alone: the priors, each study's outcome from its stored
    trials, the comparison. No training happens here.

    Args:
        name: the search study's name (the baselines are found as ``<name>-grid`` / ``<name>-random``).
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``).
        tolerance: accuracy points (default: the one the study was run with).

    Raises:
        ConfigError: no study of that name (the message lists the names there are).
        StorageError: the storage cannot be opened.

    Example:
        >>> import hybridtune as ht
        >>> ht.load_result("resnet-mnist5k")  # doctest: +SKIP
    """
    import optuna

    from .._core._storage import study_names
    from ..probes._priors import Priors

    store = open_storage(storage, must_exist=True)
    names = study_names(store)
    if name not in names:
        hint = did_you_mean(name, names)
        listed = ", ".join(schema.search_names(names)) or "none"
        raise ConfigError(f"name must be a study in the storage ({listed}), but got {name!r}.{hint}")
    study = optuna.load_study(study_name=name, storage=store)
    attrs = study.user_attrs
    config = dict(attrs.get(schema.CONFIG, {}))
    tol = float(config.get("tolerance", 0.5)) if tolerance is None else float(tolerance)
    priors = Priors.from_dict(attrs[schema.PRIORS]) if attrs.get(schema.PRIORS) else None
    trials = study.get_trials(deepcopy=False)
    outcomes: dict[str, StudyOutcome] = {
        schema.SEARCH: outcome_from_trials(schema.SEARCH, name, trials, probe_cost=priors.cost if priors else None,
                                           test=attrs.get(schema.TEST))}
    grid_space_d = None
    for role in schema.BASELINE_ROLES:
        sname = schema.study_name(name, role)
        if sname not in names:
            continue
        s = optuna.load_study(study_name=sname, storage=store)
        outcomes[role] = outcome_from_trials(role, sname, s.get_trials(deepcopy=False),
                                             test=s.user_attrs.get(schema.TEST))
        if role == schema.GRID:
            grid_space_d = s.user_attrs.get(schema.GRID_SPACE)
    comparison = compare(outcomes, tolerance=tol)
    storage_url = redact(storage) if isinstance(storage, str) else redact(getattr(store, "url", "") or "")
    return StudyResult(name=name, storage=storage_url, task=dict(attrs.get(schema.TASK, {})), config=config,
                       priors=priors, space=attrs.get(schema.SPACE), grid_space=grid_space_d,
                       search=outcomes[schema.SEARCH], grid=outcomes.get(schema.GRID),
                       random=outcomes.get(schema.RANDOM), comparison=comparison,
                       artefacts=_artefacts(attrs, outcomes[schema.SEARCH]),
                       warnings=tuple(study_warnings(trials, attrs)))


def _artefacts(attrs: Mapping[str, Any], search: StudyOutcome) -> dict[str, Any] | None:
    """The stored :data:`~hybridtune.study._schema.ARTEFACTS`, unless they belong to an earlier best trial."""
    stored = attrs.get(schema.ARTEFACTS)
    if not stored or search.best_trial is None or stored.get("trial") != search.best_trial:
        return None
    return dict(stored)


def study_warnings(trials: Sequence[optuna.trial.FrozenTrial], attrs: Mapping[str, Any]) -> list[str]:
    """What a search's result should say beside its numbers: no completed trial (so nothing to save), or a
    best trial still improving clearly at its last epoch (see :data:`IMPROVING_Z`)."""
    best = schema.best_trial(trials)
    if best is None:
        return ["the search has no completed trial, so there is no configuration to save: no best.json or "
                "best.pt was written."]
    n_val = (attrs.get(schema.TASK) or {}).get("data", {}).get("val")
    rise = last_epoch_rise(best.user_attrs.get(schema.CURVE) or [], n_val)
    if rise is None:
        return []
    before, after, z = rise
    epochs = len(best.user_attrs.get(schema.CURVE) or [])
    return [f"the budget may be too short: the best trial (#{best.number}) was still improving at its last epoch, "
            f"validation {100 * before:.1f}% -> {100 * after:.1f}% ({z:.1f} standard errors of the {n_val} "
            f"validation examples); more epochs (e.g. {2 * epochs} instead of {epochs}) may reach higher."]


def last_epoch_rise(curve: Sequence[Mapping[str, Any]], n_val: int | None) -> tuple[float, float, float] | None:
    """``(before, after, z)`` when the curve's validation accuracy rose over its last epoch by more than
    :data:`IMPROVING_Z` standard errors of the difference (binomial on ``n_val`` examples); else ``None``.
    Only for a metric in [0, 1].

    Example:
        >>> last_epoch_rise([{"val_acc": 0.60}, {"val_acc": 0.72}, {"val_acc": 0.81}], 600)[2] > 3
        True
        >>> last_epoch_rise([{"val_acc": 0.93}, {"val_acc": 0.945}, {"val_acc": 0.96}], 749) is None
        True
    """
    accs = [e.get("val_acc") for e in curve]
    if len(accs) < 2 or not n_val or any(a is None or not 0 <= a <= 1 for a in accs[-2:]):
        return None
    before, after = float(accs[-2]), float(accs[-1])
    se = math.sqrt((before * (1 - before) + after * (1 - after)) / n_val)
    if se <= 0 or after - before <= IMPROVING_Z * se:
        return None
    return before, after, (after - before) / se
