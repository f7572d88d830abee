"""The two places where the prior-guided sampler needs more than Optuna's public API, each in one function.

``tests/samplers/test_sampler.py`` (``test_the_private_optuna_hooks_still_hold``) fails loudly if an Optuna
release changes either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

#: The system attribute in which ``Study.enqueue_trial`` stores a queued trial's fixed values.
FIXED_PARAMS = "fixed_params"


def enqueued_params(trial: FrozenTrial) -> dict[str, Any]:
    """The values ``Study.enqueue_trial`` fixed for ``trial`` (empty for a trial that was not queued).

    Optuna keeps them in the system attribute ``fixed_params`` and has no public accessor for them
    (``optuna.trial.Trial`` reads the same attribute)."""
    return dict(trial.system_attrs.get(FIXED_PARAMS) or {})


def set_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Store ``value`` as ``trial``'s user attribute ``key`` from inside a sampler.

    A sampler is handed a ``FrozenTrial``; writing to it goes through the study's storage with the trial's id,
    both private, as Optuna's own samplers write their system attributes (``GridSampler``, ``NSGAIISampler``)."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)
