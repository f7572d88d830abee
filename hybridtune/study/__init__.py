"""One Optuna study: its config, the storage schema, the trial objective, the queue, the worker, specs.

A thin public face over private modules, each with one job: ``_config`` (:class:`StudyConfig`), ``_schema``
(every key a study stores, the role and study names; its docstring describes the storage layout),
``_objective`` (one trial, the samplers and pruners), ``_queue`` (the work queue every process takes trials
from), ``_worker`` (:func:`run_worker`) and ``_spec`` (study files).
"""

from __future__ import annotations

from ._config import StudyConfig, default_name
from ._schema import search_names
from ._spec import StudySpec, load_spec
from ._worker import WorkerResult, run_worker

__all__ = ["StudyConfig", "StudySpec", "WorkerResult", "default_name", "load_spec", "run_worker", "search_names"]
