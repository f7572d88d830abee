"""Signals at every phase (issue 23, part 4): Ctrl-C or SIGTERM (the CLI raises both as ``KeyboardInterrupt``)
in the probes, the queueing, a search trial, a grid trial, a test retrain or the report stops the study, and
running it again does not repeat finished work: the probes do not run again once their priors are stored, a
finished trial is not run again, a finished test-retrain seed is not retrained.

Each case runs a tiny study in-process with the interrupt raised from the phase's own function, runs it again,
and counts what ran in both runs together: exactly one study's worth of work, plus the one step that the
interrupt cut short.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import hybridtune as ht
from hybridtune.study import keys

pytestmark = pytest.mark.slow  # two tiny studies per case, several seconds each

GRID = {"lr": [0.1, 0.3], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}
CONFIG = dict(name="sig", trials=2, epochs=1, probe_batch_size=32, probe_momenta=(0.9,), grid=GRID,
              baselines=("grid",), test_seeds=2, dashboard=False)
SEARCH, CELLS, SEEDS = 2, 2, 2

#: (where the interrupt lands: the module attribute the phase calls, and on which call of it).
PHASES = {
    "probes": ("hybridtune.pipeline._priors.find_priors", 1),
    "queueing": ("hybridtune.pipeline._run.queue_cells", 1),
    "search trial": ("hybridtune.study._objective.train", 2),  # the search runs first, then the grid
    "grid trial": ("hybridtune.study._objective.train", 4),
    "search test retrain": ("hybridtune.pipeline._run.train_and_test", 2),  # the search's seeds, then the grid's
    "grid test retrain": ("hybridtune.pipeline._run.train_and_test", 4),
    "report": ("hybridtune.pipeline._run.write_report", 1),
}
#: The phases whose function does the work itself: the call that was cut short runs again.
_WORK = {"hybridtune.pipeline._priors.find_priors": "probes", "hybridtune.study._objective.train": "trials",
         "hybridtune.pipeline._run.train_and_test": "retrains", "hybridtune.pipeline._run.write_report": "reports"}


@pytest.fixture(scope="module")
def task() -> ht.Task:
    """An mlp on a seeded 4-class task: one epoch learns it, in well under a second."""
    return ht.Task(model="mlp", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")


@pytest.mark.parametrize("phase", list(PHASES))
def test_an_interrupt_in_each_phase_stops_and_resuming_repeats_no_finished_work(task: ht.Task, tmp_path: Path,
                                                                                monkeypatch, phase: str) -> None:
    import importlib

    where, nth = PHASES[phase]
    counts: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    armed = [True]

    def counted(target: str) -> None:
        module_name, _, attr = target.rpartition(".")
        module = importlib.import_module(module_name)
        real = getattr(module, attr)

        def wrapper(*args, **kwargs):
            calls[target] += 1
            if armed[0] and target == where and calls[target] == nth:
                armed[0] = False
                raise KeyboardInterrupt  # the CLI's SIGTERM handler raises a subclass of it
            if target in _WORK:
                counts[_WORK[target]] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attr, wrapper)

    for target in {*_WORK, where}:
        counted(target)
    url = f"sqlite:///{tmp_path / 's.db'}"
    config = ht.StudyConfig(**CONFIG)
    report = tmp_path / "report.html"
    with pytest.raises(KeyboardInterrupt):
        ht.run_study(task, config, storage=url, report=report, out=tmp_path / "out")
    assert not armed[0], f"the interrupt never landed in {phase}"
    result = ht.run_study(task, config, storage=url, report=report, out=tmp_path / "out")
    # every piece of work ran once over both runs (the call the interrupt cut short had not started its work)
    assert dict(counts) == {"probes": 1, "trials": SEARCH + CELLS, "retrains": 2 * SEEDS, "reports": 1}, phase
    search = optuna.load_study(study_name="sig", storage=url).get_trials(deepcopy=False)
    grid = optuna.load_study(study_name="sig-grid", storage=url).get_trials(deepcopy=False)
    # (the probes' momentum run on the ladder's one rung is an observation stored once, not a trial that ran)
    probes = [t for t in search if t.user_attrs.get("source") == "momentum probe"]
    assert len(probes) == 1
    done = [t for t in search + grid if t.state == TrialState.COMPLETE and t not in probes]
    assert len(done) == SEARCH + CELLS and len({(t.number, tuple(sorted(t.params.items()))) for t in done}) == len(done)
    assert sorted(t.params["lr"] for t in grid if t.state == TrialState.COMPLETE) == GRID["lr"]
    assert not [t for t in search + grid if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for name in ("sig", "sig-grid"):  # every test seed of each study's best recorded
        runs = optuna.load_study(study_name=name, storage=url).user_attrs[keys.TEST]["runs"]
        assert sorted(r["seed"] for r in runs) == list(config.test_seed_list)
    assert result.search.n_trials == SEARCH and report.is_file() and (tmp_path / "out" / "best.pt").is_file()
