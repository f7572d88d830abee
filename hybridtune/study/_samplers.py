"""The samplers that choose a search's trials and the pruners that stop them: one frozen record each, and the
registries of them. Each record's factory builds Optuna's own sampler or pruner."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core import Registry

if TYPE_CHECKING:  # pragma: no cover
    import optuna


@dataclass(frozen=True)
class SamplerInfo:
    """What one search sampler is.

    Args:
        name: the sampler's name, as :class:`~hybridtune.StudyConfig` takes it.
        description: one line for help texts.
        build: ``seed`` -> the Optuna sampler (:func:`make_sampler` moves the study's seed on with its size and
            the worker's salt first).

    Example:
        >>> from hybridtune.study import sampler_info
        >>> type(sampler_info("tpe").create(seed=0)).__name__
        'TPESampler'
    """

    name: str
    description: str
    build: Callable[[int], optuna.samplers.BaseSampler]

    def create(self, *, seed: int) -> optuna.samplers.BaseSampler:
        """The Optuna sampler, seeded with ``seed``."""
        return self.build(seed)


@dataclass(frozen=True)
class PrunerInfo:
    """What one search pruner is.

    Args:
        name: the pruner's name, as :class:`~hybridtune.StudyConfig` takes it.
        description: one line for help texts.
        build: ``epochs`` (each trial's length) -> the Optuna pruner.
        prunes: whether a trial asks it after every epoch (``False``: every trial runs to the end).

    Example:
        >>> from hybridtune.study import pruner_info
        >>> type(pruner_info("asha").create(epochs=6)).__name__
        'SuccessiveHalvingPruner'
    """

    name: str
    description: str
    build: Callable[[int], optuna.pruners.BasePruner]
    prunes: bool = True

    def create(self, *, epochs: int) -> optuna.pruners.BasePruner:
        """The Optuna pruner for trials of ``epochs`` epochs."""
        return self.build(epochs)


def _random(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _first_rung(epochs: int) -> int:
    # The first rung sits a third of the way in: in 1cycle's warm-up (the first 30% of the steps) the
    # validation accuracy mostly says how high the LR is, not how good the run will be.
    return max(1, math.ceil(epochs / 3))


def _asha(epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    # rungs at first, 3*first, ... epochs: a third of the trials go on at each rung
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=_first_rung(epochs), reduction_factor=3)


def _median(epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=_first_rung(epochs) - 1)


def _hyperband(epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=_first_rung(epochs), max_resource=epochs, reduction_factor=3)


def _nop(epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.NopPruner()


#: The search's samplers by name, the default first.
SAMPLER_REGISTRY: Registry[SamplerInfo] = Registry("sampler", ordered=True, records=(
    SamplerInfo("random", "RandomSampler: independent draws from the space", _random),
    SamplerInfo("tpe", "TPESampler: a tree-structured Parzen estimator fitted to the trials so far", _tpe),
))
#: The search's pruners by name, the default first.
PRUNER_REGISTRY: Registry[PrunerInfo] = Registry("pruner", ordered=True, records=(
    PrunerInfo("asha", "SuccessiveHalvingPruner: a third of the trials go on at each rung", _asha),
    PrunerInfo("median", "MedianPruner: stops a trial below the median of the earlier ones", _median),
    PrunerInfo("hyperband", "HyperbandPruner: successive halving over several brackets", _hyperband),
    PrunerInfo("none", "every trial runs to the end", _nop, prunes=False),
))
SAMPLERS = tuple(SAMPLER_REGISTRY)
PRUNERS = tuple(PRUNER_REGISTRY)


def sampler_info(name: str) -> SamplerInfo:
    """The record of a search sampler; an unknown name raises an error that lists the valid ones.

    Example:
        >>> sampler_info("random").description
        'RandomSampler: independent draws from the space'
    """
    return SAMPLER_REGISTRY.get(name)


def pruner_info(name: str) -> PrunerInfo:
    """The record of a search pruner; an unknown name raises an error that lists the valid ones.

    Example:
        >>> pruner_info("none").prunes
        False
    """
    return PRUNER_REGISTRY.get(name)


def make_sampler(kind: str, seed: int, n_existing: int, salt: int = 0) -> optuna.samplers.BaseSampler:
    """The search's sampler ``kind``, seeded from ``seed``, the trials there were and ``salt``."""
    import numpy as np

    # A resumed study must not replay the first run's draws: the seed moves on with the trial count;
    # each worker adds its own salt, so that two workers never draw the same values.
    s = int(np.random.SeedSequence([seed, n_existing] + ([salt] if salt else [])).generate_state(1)[0])
    return sampler_info(kind).create(seed=s)


def make_pruner(kind: str, epochs: int) -> optuna.pruners.BasePruner:
    """The search's pruner ``kind`` for ``epochs``-epoch trials."""
    return pruner_info(kind).create(epochs=epochs)
