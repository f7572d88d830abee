"""How to run a study: :class:`StudyConfig`, its choices and presets, and the default study name."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, check_choice, check_positive_int, finite_json
from ..probes import EXTEND_MODES
from ..space import LR_RANGE, WEIGHT_DECAY_BOUNDS
from ._samplers import PRUNER_REGISTRY, SAMPLER_REGISTRY
from .keys import BASELINE_ROLES, GRID

if TYPE_CHECKING:  # pragma: no cover
    from ..task import Task

#: The default budget: each trial takes at least this many optimizer steps at the smallest searched batch size
#: (:func:`budget_epochs`).
BUDGET_STEPS = 400
#: ... in whole epochs, within these bounds.
BUDGET_EPOCHS = (2, 30)

BASELINES = BASELINE_ROLES
PRESETS = ("default", "quick")
#: ``narrow``: the search draws the 1cycle peak from the hard band ``lr_range x lr_max`` (the range test as a
#: wall); ``prior``: from wide bounds, guided by the priors as evidence (:mod:`hybridtune.study._prior_sampler`).
SPACES = ("narrow", "prior")
#: ``ladder``: the search runs successive halving over complete 1cycle schedules of E/4, E/2 and E epochs
#: (:mod:`hybridtune.study._ladder`); ``pruner``: every search trial is a full E-epoch 1cycle that the pruner may
#: stop early (the scheme of studies made before the ladder, which resume with it).
FIDELITIES = ("ladder", "pruner")
#: The test retrains' seeds start here, offset by the study's seed (:attr:`StudyConfig.test_seed_list`): never a
#: seed a trial ran with, so the test score carries none of the luck the selection saw on the study's seed.
TEST_SEED_OFFSET = 1000


@dataclass(frozen=True)
class StudyConfig:
    """How to run a study. The defaults fit the default ``resnet`` on ``mnist5k`` study in about 15
    minutes on two CPU cores, grid included; :meth:`quick` is the 3-minute smoke-size preset.

    Args:
        name: the search study's name (default ``<model>-<dataset>``, ``-quick`` appended for the quick
            preset); the baselines are ``<name>-grid`` and ``<name>-random``.
        trials: trials of the search (completed and pruned ones count; a resumed study runs the rest).
        epochs: ``E``, each trial's 1cycle length; the grid trains every cell for all ``E``. ``None``
            (default): chosen from the task (:meth:`for_task`, :func:`budget_epochs`): enough whole epochs for
            :data:`BUDGET_STEPS` (400) optimizer steps at the smallest searched batch size, clamped to
            :data:`BUDGET_EPOCHS` (2 to 30). That is 4 epochs for ``mnist5k`` (3,500 training examples, batch
            32: 109 steps an epoch), 11 for ``digits`` (1,257), 2 from about 6,400 examples up and 30 below about
            450 (at batch 32). 400 steps is what 1cycle needed on mnist5k to reach the grid's best (warm-up and
            annealing both get enough steps); a smaller dataset gets more epochs, not fewer steps. A resumed
            study keeps the epochs it was created with.
        sampler: ``random`` (default) or ``tpe``.
        space: ``narrow`` (default): the search draws the 1cycle peak LR from the hard band ``lr_range x
            lr_max`` and the momentum from the priors' band; ``prior``: from wide bounds, each trial's values
            from the prior (a log-normal around the priors, as wide as their measured confidence is low), the
            wide space or around the best so far, with shares that move away from the prior as its trials do
            worse or diverge (:class:`hybridtune.samplers.PriorSampler`; it is its own sampler,
            so ``sampler`` must stay ``random``). Its second suggestion moves a decade from the first, down
            after a run that was too hot, up after one that trained cleanly
            (:func:`~hybridtune.study._prior_sampler.stepped_suggestion`).
        prior_confidence: with ``space="prior"``, the confidence in (0, 1] of the LR and momentum priors,
            instead of the one the probes measured (``Priors.lr_confidence``, ``momentum_confidence``).
        pruner: ``asha`` (``SuccessiveHalvingPruner``, default), ``median``, ``hyperband`` or ``none``: the
            ``random`` baseline's, and the search's with ``fidelity="pruner"``.
        fidelity: how the search spends less on the configurations that will not win. ``ladder`` (the default
            for a new study): successive halving over *complete* 1cycle schedules of about E/4, E/2 and E
            epochs; each rung's best are trained again from scratch at the next length, and the study's choice
            is the best full-length trial (:mod:`hybridtune.study._ladder`). The probes' momentum runs (complete
            short 1cycle runs at ``lr_max``) join the first rung when they have its length. ``pruner``: every
            trial is a full E-epoch 1cycle that ``pruner`` may stop after an epoch, where the LR is still high
            and validation accuracy says more about the LR than about the run. ``None``: ``ladder``, or what a
            stored study of that name was made with (a study stored before the ladder resumes with ``pruner``).
        length_cap: on the ladder, the most epochs the length ladder may train the best configuration for when
            it was still improving clearly at ``epochs`` (2E, 4E, ... while the budget pays; see
            :mod:`hybridtune.study._ladder`). ``None``: 4 x ``epochs`` for a study with a budget (the length
            ladder spends what the rungs left of it), none for one sized by ``trials`` (``trials`` trials
            are what it runs); ``epochs``: never longer.
        baselines: any of ``grid`` (default) and ``random``; ``()`` for none.
        budget: the search's budget as a fraction of the grid's cost in training examples (cells x epochs x
            training examples, known before the grid runs), the probes included; e.g. ``0.1``. The search stops
            when its next trial could overrun (a pruned trial's unused examples stay in the budget), and the
            ``random`` baseline gets the same budget. With a budget, ``trials`` is not used. ``None``
            (default): ``trials`` sizes the search.
        budget_examples: the same budget in training examples (instead of ``budget``).
        test_seeds: after the studies, each study's chosen configuration is retrained on this many seeds
            (the same seeds for every study: a paired comparison, see :attr:`test_seed_list`) and scored on
            the test split.
        match_z: a study "matches" the grid once its best validation accuracy is within this many standard
            errors of the grid's best (binomial, on the validation split's size, at the grid's best).
        tolerance: accuracy points instead: a study "matches" once within this many points of the grid's
            best (``None``, the default: the standard-error rule of ``match_z``).
        seed: model initialisation and data order of every probe and trial (common random numbers: the
            configurations differ, the seed does not), and the samplers' seed.
        probe_batch_size: the probes' batch size ``B0`` (the LR rule's reference); capped so an epoch keeps
            8 steps.
        probe_range_steps / probe_momentum_epochs / probe_momenta: the probes' length.
            ``probe_range_extend``: when the default-length range test is re-run four times longer:
            ``no_band`` (default: only when it gives no band at all), ``weak`` (also when its loss fell
            less than 15%: the library's default for ``lr-find``) or ``never``. The study's probes re-run
            only when they must: the search covers a decade above the priors' ``lr_max`` anyway, so a
            weak but readable sweep is enough for it, and the probes' cost counts against the search
            (a re-run is 4x the sweep: 0.06 of the default grid on the CNN). Two of Smith's four
            momenta by default (0.95 and 0.9): it halves the probes' cost, and the one-epoch runs favour 0.99
            and 0.97 for their fast start, which multi-epoch 1cycle training does not need.
        suggestions: the range test's suggestions, queued as the search's first trials: where their 1cycle
            peak LRs sit in the search band, on its log scale (0 its floor ``lr_range[0] x lr_max``, 1 its
            top; at the probes' batch size, scaled by the batch-size rule), each trained at the space's
            smallest batch size with the priors' momentum and weight decay. Default ``(0.5, 0.75)``: the
            log-middle and the upper quarter, ``10**0.5`` and ``10**0.75 x lr_max`` in the default band. The
            band is a decade wide and where 1cycle peaks inside it depends on the model (on mnist5k the
            CNN's best first trial was at the middle, ResNet-8's in the upper quarter), so one point is a
            coin toss and two cover it. The smallest batch size because cost is counted in examples: for
            the same examples it takes the most steps (batch 32 beat 64 in 9 of 12 such runs, 1 tie;
            see BENCHMARKS.md). They run all ``E`` epochs (never pruned): they are the priors' own answer and
            the bar the pruner holds the sampled trials to.
        lr_range: the search's band for the 1cycle peak, in multiples of the priors' ``lr_max``: default
            ``(1, 10)``, up to about where the range test's loss bottomed out; ``(0.1, 1)`` searches the
            priors' band itself (see :func:`hybridtune.search_space`).
        weight_decay: the search's log-uniform weight-decay bounds (0 is always an option).
        batch_size_floor / batch_size_ceiling: bounds of the searched batch sizes (see
            :func:`hybridtune.batch_sizes`).
        grid: overrides of the grid's axes: ``{"lr": [...], "momentum": [...], "weight_decay": [...],
            "batch_size": [...]}``.
        preset: ``default`` or ``quick`` (names the study and sizes the grid).
        test: retrain each study's best configuration on ``test_seeds`` seeds and score it on the test split.
        dashboard: save a markdown note and plotly figures into the studies for optuna-dashboard.
        artefacts: after the test retrains, write the search's chosen recipe (``best.json``) and the weights of
            its retrain on the first test seed (``best.pt``) into :func:`hybridtune.run_study`'s ``out`` folder.

    Example:
        >>> StudyConfig.quick().epochs, StudyConfig().epochs is None
        (2, True)
    """

    name: str | None = None
    trials: int = 20
    epochs: int | None = None
    sampler: str = "random"
    space: str = "narrow"
    prior_confidence: float | None = None
    pruner: str = "asha"
    fidelity: str | None = None
    length_cap: int | None = None
    baselines: tuple[str, ...] = (GRID,)
    budget: float | None = None
    budget_examples: int | None = None
    test_seeds: int = 3
    match_z: float = 1.0
    tolerance: float | None = None
    seed: int = 0
    probe_batch_size: int = 64
    probe_range_steps: int | None = None
    probe_range_extend: str = "no_band"
    probe_momentum_epochs: int = 1
    probe_momenta: tuple[float, ...] = (0.95, 0.9)
    suggestions: tuple[float, ...] = (0.5, 0.75)
    lr_range: tuple[float, float] = LR_RANGE
    weight_decay: tuple[float, float] = WEIGHT_DECAY_BOUNDS
    batch_size_floor: int | None = None
    batch_size_ceiling: int | None = None
    grid: Mapping[str, tuple[float, ...]] | None = None
    preset: str = "default"
    test: bool = True
    dashboard: bool = True
    artefacts: bool = True

    def __post_init__(self) -> None:
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()
                                      or len(self.name) > 200):
            raise ConfigError(f"name must be a non-empty string of at most 200 characters, but got "
                              f"name={self.name!r}.")
        check_positive_int("trials", self.trials)
        check_positive_int("length_cap", self.length_cap, optional=True)
        check_positive_int("epochs", self.epochs, optional=True)
        check_positive_int("probe_batch_size", self.probe_batch_size)
        check_positive_int("probe_range_steps", self.probe_range_steps, optional=True)
        check_positive_int("probe_momentum_epochs", self.probe_momentum_epochs)
        check_positive_int("batch_size_floor", self.batch_size_floor, optional=True)
        check_positive_int("batch_size_ceiling", self.batch_size_ceiling, optional=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, but got seed={self.seed!r}.")
        SAMPLER_REGISTRY.check(self.sampler)
        PRUNER_REGISTRY.check(self.pruner)
        check_choice("space", self.space, SPACES)
        if self.fidelity is not None:
            check_choice("fidelity", self.fidelity, FIDELITIES)
        if self.space == "prior" and self.sampler != "random":
            raise ConfigError(f"sampler must be random with space='prior' (the prior-guided sampler draws every "
                              f"value itself), but got sampler={self.sampler!r}.")
        if self.prior_confidence is not None and (isinstance(self.prior_confidence, bool)
                                                  or not _finite(self.prior_confidence)
                                                  or not 0 < self.prior_confidence <= 1):
            raise ConfigError(f"prior_confidence must be in (0, 1], but got prior_confidence={self.prior_confidence!r}.")
        check_choice("preset", self.preset, PRESETS)
        check_choice("probe_range_extend", self.probe_range_extend, EXTEND_MODES)
        baselines = (self.baselines,) if isinstance(self.baselines, str) else tuple(self.baselines)
        baselines = tuple(b for b in baselines if b != "none")
        for b in baselines:
            check_choice("baseline", b, BASELINES + ("none",))
        object.__setattr__(self, "baselines", tuple(dict.fromkeys(baselines)))
        if self.tolerance is not None and (isinstance(self.tolerance, bool) or not _finite(self.tolerance)
                                           or not 0 <= self.tolerance < 100):
            raise ConfigError(f"tolerance must be accuracy points in [0, 100), but got tolerance={self.tolerance!r}.")
        if isinstance(self.match_z, bool) or not _finite(self.match_z) or self.match_z < 0:
            raise ConfigError(f"match_z must be a number of standard errors >= 0, but got match_z={self.match_z!r}.")
        check_positive_int("test_seeds", self.test_seeds)
        if self.budget is not None and (isinstance(self.budget, bool) or not _finite(self.budget)
                                        or self.budget <= 0):
            raise ConfigError(f"budget must be a fraction of the grid's cost > 0 (e.g. 0.1), but got "
                              f"budget={self.budget!r}.")
        check_positive_int("budget_examples", self.budget_examples, optional=True)
        if self.budget is not None and GRID not in self.baselines:
            raise ConfigError(f"budget (a fraction of the grid's cost) needs the grid baseline; without it give "
                              f"budget_examples, but got budget={self.budget!r} with baselines="
                              f"{', '.join(self.baselines) or 'none'}.")
        if self.budget is not None and self.budget_examples is not None:
            raise ConfigError(f"budget and budget_examples must not both be given (one budget: a fraction of the "
                              f"grid's cost or a number of examples), but got budget={self.budget!r}, "
                              f"budget_examples={self.budget_examples!r}.")
        lo, hi = self.weight_decay
        if not 0 < lo <= hi:
            raise ConfigError(f"weight_decay must be (low, high) with 0 < low <= high, but got "
                              f"weight_decay={tuple(self.weight_decay)}.")
        object.__setattr__(self, "weight_decay", (float(lo), float(hi)))
        object.__setattr__(self, "probe_momenta", tuple(float(m) for m in self.probe_momenta))
        object.__setattr__(self, "lr_range", tuple(float(v) for v in self.lr_range))
        sug = (self.suggestions,) if isinstance(self.suggestions, (int, float)) else tuple(self.suggestions)
        if not sug or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in sug):
            raise ConfigError(f"suggestions must be one or more positions in the search band, from 0 (its floor) "
                              f"to 1 (its top), but got suggestions={self.suggestions!r}.")
        object.__setattr__(self, "suggestions", tuple(float(v) for v in sug))
        if self.grid is not None:
            object.__setattr__(self, "grid", {k: tuple(v) if isinstance(v, (list, tuple)) else (v,)
                                              for k, v in dict(self.grid).items()})

    @classmethod
    def quick(cls, **changes: Any) -> StudyConfig:
        """The smoke-size preset of ``--quick``: every phase, in about three minutes on two CPU cores.

        Example:
            >>> StudyConfig.quick(trials=4).trials
            4
        """
        kw: dict[str, Any] = {"trials": 6, "epochs": 2, "preset": "quick"}
        kw.update(changes)
        return cls(**kw)

    def for_task(self, task: Task) -> StudyConfig:
        """A copy with what depends on the task filled in: the name (:func:`default_name`) and, when
        ``epochs`` is ``None``, the budget rule's epochs (:func:`budget_epochs`).

        Example:
            >>> import hybridtune as ht
            >>> task = ht.Task(model="resnet", data="mnist5k", device="cpu")
            >>> c = StudyConfig().for_task(task)
            >>> c.name, c.epochs
            ('resnet-mnist5k', 4)
        """
        from ..space import batch_sizes

        epochs = self.epochs
        if epochs is None:
            n_train = len(task.data.train)  # type: ignore[arg-type]
            smallest = min(batch_sizes(task, ref_batch_size=self.probe_batch_size_for(task),
                                       floor=self.batch_size_floor, ceiling=self.batch_size_ceiling,
                                       probe_memory=False))
            epochs = budget_epochs(n_train, smallest)
        return replace(self, name=self.name or default_name(task, self), epochs=epochs,
                       fidelity=self.fidelity or "ladder")

    def probe_batch_size_for(self, task: Task) -> int:
        """The batch size the probes run at on ``task``: :attr:`probe_batch_size`, but never above what the
        training split allows (:func:`~hybridtune.space.dataset_batch_ceiling`). The search's batch sizes and
        its LR scaling are relative to it.

        Example:
            >>> import hybridtune as ht
            >>> [StudyConfig().probe_batch_size_for(ht.Task(model="mlp", data=f"synthetic:n={n}", device="cpu"))
            ...  for n in (200, 4000)]
            [16, 64]
        """
        from ..space import dataset_batch_ceiling

        return min(self.probe_batch_size, dataset_batch_ceiling(len(task.data.train)))  # type: ignore[arg-type]

    @property
    def budgeted(self) -> bool:
        """Whether a budget, not ``trials``, sizes the search and the random baseline."""
        return self.budget is not None or self.budget_examples is not None

    @property
    def test_seed_list(self) -> tuple[int, ...]:
        """The seeds every study's chosen configuration is retrained on: ``seed + 1000``, ``seed + 1001``, ...
        (:data:`TEST_SEED_OFFSET`), the same for every study of a comparison.

        Example:
            >>> StudyConfig(seed=3, test_seeds=3).test_seed_list
            (1003, 1004, 1005)
        """
        return tuple(self.seed + TEST_SEED_OFFSET + i for i in range(self.test_seeds))

    def replace(self, **changes: Any) -> StudyConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"StudyConfig fields must be among its fields, but got {sorted(unknown)}.")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = {k: list(v) for k, v in self.grid.items()} if self.grid else None
        return finite_json(d)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def budget_epochs(n_train: int, batch_size: int, *, steps: int = BUDGET_STEPS) -> int:
    """The default budget: the fewest whole epochs that give ``steps`` optimizer steps at ``batch_size`` on
    ``n_train`` examples, clamped to :data:`BUDGET_EPOCHS`.

    Args:
        n_train: training examples.
        batch_size: the smallest batch size the search tries (the most steps per epoch).
        steps: optimizer steps a trial should take at least (default :data:`BUDGET_STEPS`).

    Example:
        >>> budget_epochs(3500, 32), budget_epochs(1257, 32), budget_epochs(280, 32), budget_epochs(50000, 32)
        (4, 11, 30, 2)
    """
    from ..train import steps_per_epoch

    per_epoch = max(1, steps_per_epoch(n_train, batch_size))
    lo, hi = BUDGET_EPOCHS
    return max(lo, min(hi, math.ceil(steps / per_epoch)))


def default_name(task: Task, config: StudyConfig) -> str:
    """``<model>-<dataset>`` (``-quick`` for the quick preset), made safe for a study name."""
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", task.model_name.rsplit(":", 1)[-1]).strip("_") or "model"
    data = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(task.data.name).split(":", 1)[0]).strip("_") or "data"
    return f"{model}-{data}" + ("-quick" if config.preset == "quick" else "")


def config_from_dict(d: Mapping[str, Any]) -> StudyConfig:
    """A :class:`StudyConfig` from its ``to_dict()`` (as a study stores it)."""
    known = {f.name for f in fields(StudyConfig)}
    kw = {k: v for k, v in d.items() if k in known}
    kw.setdefault("fidelity", "pruner")  # stored before the ladder: every trial ran full length, pruned
    for key in ("baselines", "probe_momenta", "lr_range", "weight_decay"):
        if key in kw and kw[key] is not None:
            kw[key] = tuple(kw[key])
    return StudyConfig(**kw)
