"""One Optuna study: its config, what it stores, the trial objective, the queue, the worker, specs.

A thin public face over private modules, each with one job: ``_config`` (:class:`StudyConfig`), :mod:`.keys`
(every key a study stores, the role and study names, the record builders; its docstring describes the storage
layout), ``_identity`` (what a resumed study must keep), ``_open`` (the stage's one storage door),
``_budget`` (a study's budget), ``_ladder`` (the multi-fidelity ladder), ``_objective`` (one trial), ``_samplers`` (the registries of the samplers and
pruners that choose and stop trials), ``_prior_sampler`` (the prior-guided sampler), ``_queue`` (the work queue
every process takes trials from), ``_worker`` (:func:`run_worker`) and ``_spec`` (study files).
"""

from __future__ import annotations

from . import keys
from ._budget import grid_examples, study_budget
from ._config import (BUDGET_EPOCHS, BUDGET_STEPS, FIDELITIES, SPACES, StudyConfig, budget_epochs, config_from_dict,
                      default_name)
from ._identity import identity, probe_identity, task_description
from ._ladder import (IMPROVING_Z, fill_ladder, ladder_epochs, ladder_rows, last_epoch_rise, length_cap, plan_ladder,
                      probe_observations)
from ._objective import train_trial
from ._open import open_study, search_studies, set_metric_name, stored_identity, study_floor
from ._prior_sampler import prior_guided
from ._queue import (Running, await_others, fail_stale, fill_search_queue, open_phases, queue_cells, queue_ladder,
                     queue_search, run_grid, running_trials, work)
from ._samplers import (PRUNER_REGISTRY, PRUNERS, SAMPLER_REGISTRY, SAMPLERS, PrunerInfo, SamplerInfo, pruner_info,
                        sampler_info)
from ._spec import StudySpec, load_spec
from ._worker import WorkerResult, run_worker
from .keys import search_names

__all__ = [
    # what a study is and stores
    "BUDGET_EPOCHS", "BUDGET_STEPS", "FIDELITIES", "SPACES", "StudyConfig", "StudySpec", "budget_epochs", "config_from_dict",
    "default_name", "grid_examples", "keys", "load_spec", "search_names", "study_budget",
    # its samplers and pruners
    "PRUNERS", "PRUNER_REGISTRY", "PrunerInfo", "SAMPLERS", "SAMPLER_REGISTRY", "SamplerInfo", "pruner_info",
    "sampler_info",
    # opening a study
    "identity", "open_study", "probe_identity", "search_studies", "set_metric_name", "stored_identity",
    "study_floor", "task_description",
    # running its trials
    "Running", "WorkerResult", "await_others", "fail_stale", "fill_search_queue", "open_phases", "prior_guided",
    "queue_cells", "queue_search", "run_grid", "run_worker", "running_trials", "train_trial", "work",
    # the multi-fidelity ladder
    "IMPROVING_Z", "fill_ladder", "ladder_epochs", "ladder_rows", "last_epoch_rise", "length_cap", "plan_ladder",
    "probe_observations", "queue_ladder",
]
