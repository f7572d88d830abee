"""One Optuna study: its config, the storage schema, the trial objective, the queue, the worker, specs."""

from __future__ import annotations

from ._spec import StudySpec, load_spec
from ._study import StudyConfig, WorkerResult, run_worker

__all__ = ["StudyConfig", "StudySpec", "WorkerResult", "load_spec", "run_worker"]
