"""A study's identity: what a stored study was created with (the task, the epochs, the seed, the probes' and
the spaces' settings), so that a resumed study never mixes setups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, finite_json
from .keys import FORMAT_VERSION

if TYPE_CHECKING:  # pragma: no cover
    from ..task import Task
    from ._config import StudyConfig


def identity(task: Task, config: StudyConfig, role: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a study of ``role`` must keep when it is resumed: the task, the epochs and the seed (and
    ``extra``: the probes' settings for the search, the grid or the wide space for a baseline)."""
    d = task.data
    ident = {"format": FORMAT_VERSION, "role": role, "model": task.model_name,
             "model_kwargs": dict(task.model_kwargs), "data": d.name,
             "splits": [len(d.train), len(d.val), len(d.test)],  # type: ignore[arg-type]
             "optimizer": task.optimizer, "epochs": config.epochs, "seed": config.seed}
    if extra:
        ident.update(extra)
    return finite_json(ident)


def probe_identity(config: StudyConfig, probe_bs: int) -> dict[str, Any]:
    """The probes' part of the search study's identity (their result is cached as
    :data:`~hybridtune.study.keys.PRIORS`)."""
    ident = {"probe_batch_size": probe_bs, "probe_range_steps": config.probe_range_steps,
             "probe_range_extend": config.probe_range_extend,
             "probe_momentum_epochs": config.probe_momentum_epochs, "probe_momenta": list(config.probe_momenta)}
    if config.space != "narrow":  # (only then: a study stored before spaces had a choice resumes as it was)
        ident.update(space=config.space, prior_confidence=config.prior_confidence)
    if config.fidelity not in (None, "pruner"):  # (likewise: a study stored before the ladder resumes)
        ident.update(fidelity=config.fidelity)
    return ident


def task_description(task: Task) -> dict[str, Any]:
    """The :data:`TASK` attribute: the task's description without the device (workers use their own)."""
    d = task.describe()
    d.pop("device", None)
    return finite_json(d)


def check_identity(name: str, stored: Mapping[str, Any], ident: Mapping[str, Any]) -> None:
    """Refuse to resume study ``name``, created with identity ``stored``, with another setup ``ident``."""
    for key in sorted(set(stored) | set(ident)):
        if stored.get(key) != ident.get(key):
            raise ConfigError(f"a resumed study must keep its setup: {name!r} was created with {key}="
                              f"{stored.get(key)!r}, but got {key}={ident.get(key)!r}; use another name "
                              f"for a new study.")
