"""Budgets in training examples: what the grid costs before it runs, and how many trials a budget still
affords (:func:`affordable`), from a study's stored trials alone, so that every process agrees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core import MAX_RETRY, ConfigError
from . import keys

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..space import GridSpace
    from ._config import StudyConfig


def grid_examples(grid: GridSpace, *, n_train: int, epochs: int) -> int:
    """The grid's cost in training examples, known before it runs: each cell trains ``epochs`` epochs of
    whole batches (the trainer drops the last partial one), i.e. about cells x epochs x training examples.

    Example:
        >>> from hybridtune.space._space import GridSpace
        >>> g = GridSpace(optimizer="momentum", lr=(0.01, 0.1), momentum=(0.9,), weight_decay=(0.0,),
        ...               batch_size=(32, 64))
        >>> grid_examples(g, n_train=1000, epochs=4)  # 2 x 4 x 992 + 2 x 4 x 960
        15616
    """
    from ..train import steps_per_epoch

    per_size = grid.cells // len(grid.batch_size)
    return sum(per_size * epochs * steps_per_epoch(n_train, b) * b for b in grid.batch_size)


def study_budget(config: StudyConfig, *, n_train: int, grid: GridSpace) -> dict[str, Any] | None:
    """The budget record (:func:`~hybridtune.study.keys.record_budget`) of ``config`` (``None`` without
    one); ``start`` is 0 here (the search adds its probes' cost once they ran). A full trial is reserved at
    ``epochs x n_train`` examples, the most any batch size can take.

    Raises:
        ConfigError: a budget that cannot pay for one full trial (epochs x training examples).
    """
    if not config.budgeted:
        return None
    epochs = int(config.epochs)  # type: ignore[arg-type]
    per_trial = epochs * n_train
    full = grid_examples(grid, n_train=n_train, epochs=epochs)
    examples = int(config.budget_examples) if config.budget_examples is not None else \
        int(round(float(config.budget) * full))  # type: ignore[arg-type]
    if examples < per_trial:
        given = f"budget_examples={config.budget_examples}" if config.budget_examples is not None else \
            f"budget={config.budget:g} x the grid's {full:,} examples = {examples:,}"
        raise ConfigError(f"budget must pay for at least one full trial ({epochs} epochs x {n_train:,} training "
                          f"examples = {per_trial:,} examples, the probes not included), but got {given}.")
    return keys.record_budget(examples=examples, per_trial=per_trial, fraction=config.budget,
                              grid_examples=full, epochs=epochs)


def reserved(t: optuna.trial.FrozenTrial, budget: Mapping[str, Any]) -> int:
    """What a queued or running trial holds of the budget until it ends: a full trial (``per_trial``), or its
    share of one for a shorter trial on the ladder (its :data:`~hybridtune.study.keys.FIDELITY` epochs of the
    full trial's)."""
    return reserve_for(t.user_attrs.get(keys.FIDELITY), budget)


def reserve_for(epochs: int | None, budget: Mapping[str, Any]) -> int:
    """What a trial of ``epochs`` epochs reserves of ``budget`` (``None``: a full trial, ``per_trial``).

    Example:
        >>> reserve_for(1, {"per_trial": 4000, "epochs": 4}), reserve_for(None, {"per_trial": 4000, "epochs": 4})
        (1000, 4000)
    """
    full = int(budget["per_trial"])
    of = budget.get("epochs")
    if epochs is None or not of:
        return full
    return -(-full * int(epochs) // int(of))


def affords(study: optuna.Study, budget: Mapping[str, Any] | None, epochs: int) -> bool:
    """Whether what is left of ``study``'s ``budget`` (:func:`left_over`) still pays for a trial of ``epochs``
    epochs (always, without a budget)."""
    return budget is None or left_over(study.get_trials(deepcopy=False), budget) >= reserve_for(epochs, budget)


def spent(trials: Sequence[optuna.trial.FrozenTrial], budget: Mapping[str, Any]) -> int:
    """Training examples a study has used: its ``start`` (the probes) and every trial that recorded a cost; a
    trial that ran out of memory records none and is charged a full trial (so a study whose every batch size
    runs out of memory still ends). Interrupted or killed trials' partial work is not counted."""
    total = int(budget.get("start", 0))
    for t in trials:
        if not t.state.is_finished():
            continue
        cost = t.user_attrs.get(keys.COST)
        if cost is not None:
            total += int(cost.get("examples", 0))
        elif t.user_attrs.get(keys.OUTCOME) == keys.OUTCOME_FAILED:
            total += int(budget["per_trial"])
    return total


def over_budget(trials: Sequence[optuna.trial.FrozenTrial], budget: Mapping[str, Any], number: int) -> bool:
    """Whether trial ``number``, about to start, could overrun: what was spent, a full trial for every other
    running one and a full trial for itself exceed the budget (a resumed study may hold more queued tickets
    than a smaller budget pays for); a shorter trial on the ladder reserves its share (:func:`reserved`)."""
    others = sum(reserved(t, budget) for t in trials if t.state.name == "RUNNING" and t.number != number)
    mine = next((reserved(t, budget) for t in trials if t.number == number), int(budget["per_trial"]))
    return spent(trials, budget) + others + mine > int(budget["examples"])


def affordable(trials: Sequence[optuna.trial.FrozenTrial], budget: Mapping[str, Any]) -> int:
    """How many more full trials the budget pays for: what is left after what was spent and a full trial's
    cost reserved for each queued or running one (a pruned trial hands back what it did not use).

    Example:
        >>> affordable([], {"examples": 10_000, "per_trial": 3_000, "start": 2_500})
        2
    """
    return max(0, left_over(trials, budget) // int(budget["per_trial"]))


def left_over(trials: Sequence[optuna.trial.FrozenTrial], budget: Mapping[str, Any]) -> int:
    """Examples the budget still pays for: what was not spent nor reserved by a queued or running trial
    (:func:`reserved`)."""
    live = sum(reserved(t, budget) for t in trials if t.state.name in ("WAITING", "RUNNING"))
    return int(budget["examples"]) - spent(trials, budget) - live


def failed_on_its_own(t: optuna.trial.FrozenTrial) -> bool:
    """A trial that failed for a reason of its own (out of memory), or whose process died on it
    :data:`~hybridtune._core.MAX_RETRY` times over (the stale-trial retries are spent): running it again in
    this run would fail again."""
    if t.state.name != "FAIL":
        return False
    return t.user_attrs.get(keys.OUTCOME) == keys.OUTCOME_FAILED or \
        len(t.system_attrs.get("retry_history") or ()) >= MAX_RETRY
