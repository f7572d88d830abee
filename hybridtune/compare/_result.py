"""Everything a study produced, rebuilt from storage: :class:`StudyResult` and :func:`load_result`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, did_you_mean, finite_json, open_storage, redact
from ..study import keys, ladder_rows, last_epoch_rise, study_floor
from ..task import VALIDATION_ACCURACY, chance_level
from ._comparison import Comparison, compare
from ._outcome import StudyOutcome, best_trial, direction_sign, outcome_from_trials, outcome_of

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..probes import Priors


@dataclass(frozen=True)
class StudyResult:
    """Everything a study produced, rebuilt from storage: the priors, each study's outcome, the comparison.

    ``to_dict()`` is the ``--json`` payload: ``priors``; ``search``, ``grid`` (and ``random``), each with
    ``best_value``, ``best_params``, ``n_trials``, ``cost`` and ``test_accuracy`` (``mean``, ``se``,
    ``seeds``); ``comparison`` (:class:`Comparison`) with ``cost_to_match_grid``,
    ``cost_ratio_to_match_grid``, ``test_accuracy`` and ``difference_vs_grid`` (``mean``, ``se``) per study
    and the ``normalised_score``; ``budget`` (the search's budget in examples and what each study used, or
    ``null``); ``verdict`` (one sentence, ``null`` for a ``--quick`` smoke run or without a grid);
    ``artefacts`` (where the search's ``best.json`` and ``best.pt`` were written, or ``null``) and
    ``warnings``.

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
    #: the search's budget (:func:`hybridtune.study.keys.record_budget`), or ``None`` when ``trials`` sized it
    budget: dict[str, Any] | None = None
    #: ``--space prior``: the priors as its sampler reads them (centre, confidence, bounds per parameter)
    prior_sampler: dict[str, Any] | None = None
    #: the search's multi-fidelity ladder, one row per rung (``rung``, ``epochs``, ``planned``, ``probes``,
    #: ``finished``, ``best``, ``promoted``: the trials it sent up); ``()`` for a study without one
    ladder: tuple[dict[str, Any], ...] = ()

    @property
    def verdict(self) -> str | None:
        """One sentence: did the search match the grid within noise, at what fraction of its cost, and how do
        their retrained test accuracies compare. ``None`` (see :attr:`no_verdict`) for a ``--quick`` smoke
        run, or without a grid to compare with.

        The search "matched within noise" when its best validation accuracy reached the grid's less the
        matching margin (:class:`Comparison`) and, where both were retrained on the test seeds, its test
        accuracy is not below the grid's beyond noise (the paired difference within
        :data:`~hybridtune.compare._stats.NOISE_Z` standard errors, or above).
        """
        if self.no_verdict is not None:
            return None
        c = self.comparison
        m = c.rows[keys.SEARCH]
        d = m.difference_vs_grid
        acc = self.is_accuracy
        metric, units = ("accuracy", " points") if acc else (self.metric_name, "")
        pm = _pm if acc else _pm_units
        pct = _pct if acc else (lambda v: "-" if v is None else f"{v:.4g}")
        test = "" if d is None else (f"; retrained on {len(d.seeds)} seed{'s' if len(d.seeds) > 1 else ''}, its test "
                                     f"{metric} is {pm(m.test_score)} against the grid's "
                                     f"{pm(c.rows[keys.GRID].test_score)} (difference {pm(d, signed=True)}{units}"
                                     f"{'; one seed has no standard error, so noise is not judged' if d.se is None else ''})")
        spent = "" if m.total_ratio is None else f"; in all it used {m.total_ratio:.2f} of the grid's cost"
        sign = direction_sign(self.direction)  # a minimised metric's better test score is the lower one
        worse = d is not None and sign * d.mean < 0 and d.beyond_noise
        if m.best_value is None:
            return f"the search did not match the grid: it found nothing better than learning nothing{spent}." \
                if not acc else f"the search did not match the grid: it found nothing above chance{spent}."
        if m.matched and not worse:
            better = " and beat it on test beyond noise" if d is not None and sign * d.mean > 0 and d.beyond_noise \
                else ""
            return (f"the search matched the grid within noise at {m.cost_ratio:.2f} of its cost{better}"
                    f"{test}{spent}.")
        if m.matched:
            return (f"the search did not match the grid: it reached the grid's validation {metric} at "
                    f"{m.cost_ratio:.2f} of its cost, but its retrained test {metric} is worse beyond noise"
                    f"{test}{spent}.")
        if not acc:
            return (f"the search did not match the grid within noise: its best validation {metric} "
                    f"{pct(m.best_value)} did not reach {pct(c.target)} (the grid's best {pct(c.grid_best_value)}, "
                    f"{self.direction}d){test}{spent}.")
        return (f"the search did not match the grid within noise: its best validation accuracy "
                f"{_pct(m.best_value)} stayed below {_pct(c.target)} (the grid's best {_pct(c.grid_best_value)} "
                f"less {c.margin}){test}{spent}.")

    @property
    def direction(self) -> str:
        """Which way the study's metric improves, ``"maximize"`` or ``"minimize"`` (as the task described
        itself; a study stored before tasks had a direction maximised)."""
        return str(self.task.get("direction", "maximize"))

    @property
    def metric_name(self) -> str:
        """What the study's values are: ``validation accuracy`` for a classification task scored by accuracy
        (every study stored before tasks had kinds), else the task's metric name (``rmse``...)."""
        return str(self.task.get("metric", VALIDATION_ACCURACY))

    @property
    def is_accuracy(self) -> bool:
        """Whether the values are accuracies (shown as percents, their differences in points), or a metric
        of the task's own (shown as numbers in its units)."""
        return "metric" not in self.task

    @property
    def found_nothing(self) -> bool:
        """Whether the search found nothing: no completed trial above chance (its ``warnings`` say why)."""
        return self.search.best_value is None

    @property
    def no_verdict(self) -> str | None:
        """Why there is no :attr:`verdict` (``None`` when there is one)."""
        if self.config.get("preset") == "quick":
            return (f"no verdict: this is a smoke run (--quick): its small grid and {self.config.get('epochs')}-epoch "
                    f"trials say nothing about the method; run without --quick for a comparison")
        if self.grid is None or self.comparison.grid_best_value is None:
            return "no verdict: there is no grid result to compare with"
        cells = (self.grid_space or {}).get("cells")
        done = self.grid.n_complete + self.grid.n_diverged
        if cells and done < cells:
            return (f"no verdict: the grid ran {done} of its {cells} cells (an interrupted study); run the same "
                    f"command again to finish it")
        return None

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
        d["budget"] = None if self.budget is None else {
            **self.budget, "used": {role: o.cost.examples for role, o in self.outcomes.items()}}
        d["ladder"] = [dict(r) for r in self.ladder]
        d["verdict"] = self.verdict
        d["prior_sampler"] = self.prior_sampler
        d["no_verdict"] = self.no_verdict
        if self.report is not None:
            d["report"] = self.report
        return finite_json(d)

    def to_frame(self) -> Any:
        """The comparison table, one row per study (pandas)."""
        return self.comparison.to_frame()


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _pm_units(x: Any, *, signed: bool = False) -> str:
    """``mean +- se`` in the metric's own units (a metric that is not an accuracy)."""
    if x is None:
        return "-"
    se = "" if x.se is None else f" +- {x.se:.4g}"
    return (f"{x.mean:+.4g}" if signed else f"{x.mean:.4g}") + se


def _pm(x: Any, *, signed: bool = False) -> str:
    """``mean +- se`` in points (percent for a score), e.g. ``97.10 +- 0.08%`` or ``+0.12 +- 0.10``."""
    if x is None:
        return "-"
    mean = f"{100 * x.mean:+.2f}" if signed else f"{100 * x.mean:.2f}"
    se = "" if x.se is None else f" +- {100 * x.se:.2f}"
    return f"{mean}{se}" + ("" if signed else "%")


def load_result(name: str, *, storage: Any = None, tolerance: float | None = None) -> StudyResult:
    """Rebuild a study's result from storage alone: the priors, each study's outcome from its stored
    trials, the comparison. No training happens here.

    Args:
        name: the search study's name (the baselines are found as ``<name>-grid`` / ``<name>-random``).
        storage: a storage URL or an open storage (default ``sqlite:///runs/hybridtune.db``).
        tolerance: accuracy points for matching the grid (default: the study's own rule, the standard-error
            rule of its ``match_z`` unless it was run with a tolerance).

    Raises:
        ConfigError: no study of that name (the message lists the names there are).
        StorageError: the storage cannot be opened.

    Example:
        >>> import hybridtune as ht
        >>> ht.load_result("resnet-mnist5k")  # doctest: +SKIP
    """
    import optuna

    from .._core import study_names
    from ..probes import Priors

    store = open_storage(storage, must_exist=True)
    names = study_names(store)
    if name not in names:
        hint = did_you_mean(name, names)
        listed = ", ".join(keys.search_names(names)) or "none"
        raise ConfigError(f"name must be a study in the storage ({listed}), but got {name!r}.{hint}")
    study = optuna.load_study(study_name=name, storage=store)
    attrs = study.user_attrs
    config = dict(attrs.get(keys.CONFIG, {}))
    tol = config.get("tolerance") if tolerance is None else float(tolerance)
    data = dict((attrs.get(keys.TASK) or {}).get("data") or {})
    # chance is stored only where it is not 1/classes: the majority class's rate of unbalanced labels
    chance = float(data.get("chance") or chance_level(data.get("num_classes")))
    direction = study.direction.name.lower()
    if keys.TEST in attrs and data.get("kind", "classification") != "classification":
        chance = float((attrs.get(keys.TEST) or {}).get("chance", chance))  # the metric of learning nothing
    # the standard-error rule needs an accuracy on a validation split of known size
    n_val = data.get("val") if (study.metric_names or [VALIDATION_ACCURACY])[0] == \
        VALIDATION_ACCURACY else None
    floor = study_floor(study)
    priors = Priors.from_dict(attrs[keys.PRIORS]) if attrs.get(keys.PRIORS) else None
    trials = study.get_trials(deepcopy=False)
    outcomes: dict[str, StudyOutcome] = {
        keys.SEARCH: outcome_from_trials(keys.SEARCH, name, trials, probe_cost=priors.cost if priors else None,
                                         test=attrs.get(keys.TEST), chance=chance, floor=floor,
                                         direction=direction)}
    grid_space_d = None
    for role in keys.BASELINE_ROLES:
        sname = keys.study_name(name, role)
        if sname not in names:
            continue
        s = optuna.load_study(study_name=sname, storage=store)
        outcomes[role] = outcome_from_trials(role, sname, s.get_trials(deepcopy=False),
                                             test=s.user_attrs.get(keys.TEST), chance=chance, floor=floor,
                                             direction=direction)
        if role == keys.GRID:
            grid_space_d = s.user_attrs.get(keys.GRID_SPACE)
    comparison = compare(outcomes, n_val=n_val, match_z=float(config.get("match_z", 1.0)),
                         tolerance=None if tol is None else float(tol), direction=direction)
    storage_url = redact(storage) if isinstance(storage, str) else redact(getattr(store, "url", "") or "")
    return StudyResult(name=name, storage=storage_url, task=dict(attrs.get(keys.TASK, {})), config=config,
                       priors=priors, space=attrs.get(keys.SPACE), grid_space=grid_space_d,
                       search=outcomes[keys.SEARCH], grid=outcomes.get(keys.GRID),
                       random=outcomes.get(keys.RANDOM), comparison=comparison,
                       artefacts=_artefacts(attrs, outcomes[keys.SEARCH]),
                       warnings=tuple(study_warnings(trials, attrs, floor=floor, direction=direction)), budget=attrs.get(keys.BUDGET),
                       prior_sampler=attrs.get(keys.PRIOR_SAMPLER),
                       ladder=tuple(ladder_rows(trials, attrs.get(keys.LADDER), direction=direction)))


def _artefacts(attrs: Mapping[str, Any], search: StudyOutcome) -> dict[str, Any] | None:
    """The stored :data:`~hybridtune.study.keys.ARTEFACTS`, unless they belong to an earlier best trial."""
    stored = attrs.get(keys.ARTEFACTS)
    if not stored or search.best_trial is None or stored.get("trial") != search.best_trial:
        return None
    return dict(stored)


def study_warnings(trials: Sequence[optuna.trial.FrozenTrial], attrs: Mapping[str, Any], *,
                   floor: float | None = None, direction: str = "maximize") -> list[str]:
    """What a search's result should say beside its numbers: that it found nothing (:func:`found_nothing`),
    or a best trial still improving clearly at its last epoch (see :data:`hybridtune.study.IMPROVING_Z`)."""
    best = best_trial(trials, floor=floor, direction=direction)
    if best is None:
        return [found_nothing(trials, floor)]
    data = (attrs.get(keys.TASK) or {}).get("data", {})
    if data.get("kind", "classification") != "classification":
        return []  # the rise rule is binomial: for an accuracy only
    n_val = data.get("val")
    rise = last_epoch_rise(best.user_attrs.get(keys.CURVE) or [], n_val)
    if rise is None:
        return []
    before, after, z = rise
    epochs = len(best.user_attrs.get(keys.CURVE) or [])
    return [f"the budget may be too short: the best trial (#{best.number}) was still improving at its last epoch, "
            f"validation {100 * before:.1f}% -> {100 * after:.1f}% ({z:.1f} standard errors of the {n_val} "
            f"validation examples); more epochs (e.g. {2 * epochs} instead of {epochs}) may reach higher."]


def found_nothing(trials: Sequence[optuna.trial.FrozenTrial], floor: float | None) -> str:
    """Why a search has no best: no trial finished, every trial diverged or failed, or the best is within
    noise of chance (at or below ``floor``). No configuration is then presented as the best.

    Example:
        >>> found_nothing([], None)
        'the search found nothing: no trial finished, so no configuration is presented as its best and no best.json or best.pt was written.'
    """
    from optuna.trial import TrialState

    end = ", so no configuration is presented as its best and no best.json or best.pt was written."
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    if not finished:
        return "the search found nothing: no trial finished" + end
    bad = [t for t in finished if t.state == TrialState.FAIL or outcome_of(t) == keys.OUTCOME_DIVERGED]
    if len(bad) == len(finished):
        return (f"the search found nothing: all {len(finished)} of its trials diverged or failed" + end
                + " Its LR region is too hot: the range test may have read its curve too high (try --space prior, "
                  "or a lower lr_range).")
    values = [t.value for t in finished if t.state == TrialState.COMPLETE and t.value is not None
              and outcome_of(t) != keys.OUTCOME_DIVERGED]
    if not values:
        return f"the search found nothing: none of its {len(finished)} trials completed (the others were pruned)" + end
    return (f"the search found nothing: its best validation accuracy {100 * max(values):.2f}% is within noise of "
            f"chance (at most {100 * (floor or 0):.2f}%)" + end)
