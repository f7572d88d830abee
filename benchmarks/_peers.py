"""The peers of issue 20, part 5: what a user would run instead of hybridtune, at the same budget in training
examples (the search's budget includes its probes; the peers get the same number of examples and run no
probes), with hybridtune's own trainer and the study's epochs E.

- ``tpe_hyperband``: plain Optuna, ``TPESampler(seed=S)`` with ``HyperbandPruner(min_resource=1,
  max_resource=E)``, on the textbook wide space (the study's ``random`` baseline's space); every trial is a
  1cycle run of E epochs that reports its validation accuracy after each epoch and is pruned as Optuna says.
- ``priorband``: NePS's PriorBand (``neural-pipeline-search``) over the same space with the epochs as its
  fidelity (1..E), the textbook defaults as its prior (:func:`textbook_prior`). An evaluation at fidelity e is
  a *complete* e-epoch 1cycle run. NePS lives in its own virtual environment, so it runs in a subprocess
  (``benchmarks/_neps_runner.py``) that writes its history as JSON.

Both stop starting evaluations once the next full-length one could overrun the budget (spent + E x n_train >
budget, the reservation hybridtune's own budget makes), so neither ever spends more than the budget. Each
returns a :class:`PeerResult`; :func:`retrain` scores its choice on the study's test seeds exactly as the study
retrains its own choices (``train_and_test`` at E epochs, one record per seed, a diverged retrain at chance).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: the NePS virtual environment (issue 20: never inside the library's own venv)
NEPS_PYTHON = os.environ.get("HT_NEPS_PYTHON", "/work/neps-venv/bin/python")
NEPS_RUNNER = Path(__file__).resolve().with_name("_neps_runner.py")
METHODS = ("tpe_hyperband", "priorband")
#: what the TPE study stores on each trial (its own storage keys: these studies are the benchmark's, not
#: hybridtune's, so hybridtune's schema does not describe them)
ATTR_HP, ATTR_EXAMPLES, ATTR_OUTCOME, ATTR_EPOCHS_RUN = "hyperparams", "examples", "outcome", "epochs_run"


@dataclass(frozen=True)
class PeerResult:
    """One peer's run: its chosen configuration (a :class:`hybridtune.Hyperparams` as a dict), the validation
    accuracy and length (epochs) it was chosen at, what it cost in training examples, how many evaluations it
    made, and every evaluation (``history``: hyperparams, schedule epochs, epochs run, val_acc, examples,
    outcome)."""

    method: str
    chosen: dict[str, Any] | None
    chosen_val: float | None
    chosen_epochs: int | None
    examples: int
    budget_examples: int
    n_evaluations: int
    history: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def textbook_prior(optimizer: str, batch_sizes: tuple[int, ...]) -> dict[str, Any]:
    """PriorBand's prior: the textbook defaults a user would start from, not anything the probes found.

    Momentum SGD (and Nesterov): peak LR 0.1, momentum 0.9, weight decay 5e-4, batch 128 (He et al. 2016's
    ResNet recipe, the default of most CIFAR/ImageNet training scripts). Adam-like families: LR 1e-3 and
    beta1 0.9 (Kingma & Ba 2015's and PyTorch's defaults), no weight decay (PyTorch's default; the prior on
    the decay's value, used only when it is switched on, is the grid's 5e-4), batch 128. Other families: their
    ``OptimizerInfo.default_lr``, no momentum. The batch size is the space's size closest to 128 in log2."""
    from hybridtune.task import optimizer_info

    info = optimizer_info(optimizer)
    if info.has_momentum:
        prior = {"lr": 0.1, "momentum": 0.9, "use_weight_decay": True, "weight_decay": 5e-4}
    elif info.has_betas:
        prior = {"lr": 1e-3, "momentum": 0.9, "use_weight_decay": False, "weight_decay": 5e-4}
    else:
        prior = {"lr": info.default_lr, "momentum": None, "use_weight_decay": False, "weight_decay": 5e-4}
    prior["batch_size"] = min(batch_sizes, key=lambda b: (abs(math.log2(b) - 7), -b))
    return prior


def choose(history: list[dict[str, Any]], epochs: int) -> tuple[dict[str, Any] | None, float | None, int | None]:
    """The chosen configuration: the best validation accuracy among the evaluations that trained the full
    E epochs (``epochs_run == epochs``); when none did, the best among those that ran longest. Diverged runs
    never count. Returns ``(hyperparams, val_acc, epochs_run)``, all ``None`` when nothing trained."""
    ok = [h for h in history if h["outcome"] != "diverged" and h["val_acc"] is not None
          and math.isfinite(h["val_acc"])]
    if not ok:
        return None, None, None
    longest = max(h["epochs_run"] for h in ok)
    length = epochs if longest >= epochs else longest
    best = max((h for h in ok if h["epochs_run"] == length), key=lambda h: h["val_acc"])  # earliest on a tie
    return best["hyperparams"], float(best["val_acc"]), int(best["epochs_run"])


# ----------------------------------------------------------------------------------------------
# TPE + Hyperband (plain Optuna, in this process)


def run_tpe_hyperband(task: Any, space: Any, *, epochs: int, seed: int, budget_examples: int, storage: Any,
                      name: str) -> PeerResult:
    """Plain Optuna TPE + Hyperband on ``space`` (a :class:`hybridtune.SearchSpace`) within ``budget_examples``.

    The study lives in ``storage`` under ``name``: an interrupted run resumes, its finished trials counted
    (a trial left running by a killed process is not, and is neither charged nor chosen).
    """
    import optuna

    import hybridtune as ht

    n_train = len(task.data.train)
    per_trial = epochs * n_train  # the most a full trial can take, at any batch size
    chance = float(task.chance)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs))

    def objective(trial: optuna.Trial) -> float:
        hp = space.suggest(trial)
        pruned: list[int] = []

        def on_epoch(e: Any) -> bool | None:
            if e.val_acc is None:
                return None
            trial.report(float(e.val_acc), e.epoch)
            # the last epoch is the trial's result: pruning it saves nothing
            if e.epoch < epochs and trial.should_prune():
                pruned.append(e.epoch)
                return True
            return None

        r = ht.train(task, hp.train_config(optimizer=task.optimizer, epochs=epochs, seed=seed), on_epoch=on_epoch)
        trial.set_user_attr(ATTR_HP, hp.to_dict())
        trial.set_user_attr(ATTR_EXAMPLES, int(r.cost.examples))
        trial.set_user_attr(ATTR_EPOCHS_RUN, len(r.epochs))
        if pruned:
            trial.set_user_attr(ATTR_OUTCOME, "pruned")
            raise optuna.TrialPruned(f"pruned after epoch {pruned[0]}")
        if r.diverged or r.val_acc is None or not math.isfinite(r.val_acc):
            trial.set_user_attr(ATTR_OUTCOME, "diverged")
            return chance
        trial.set_user_attr(ATTR_OUTCOME, "completed")
        return float(r.val_acc)

    while _spent(study) + per_trial <= budget_examples:
        study.optimize(objective, n_trials=1)
    history = _tpe_history(study)
    chosen, val, length = choose(history, epochs)
    return PeerResult(method="tpe_hyperband", chosen=chosen, chosen_val=val, chosen_epochs=length,
                      examples=_spent(study), budget_examples=budget_examples, n_evaluations=len(history),
                      history=history)


def _spent(study: Any) -> int:
    return sum(int(t.user_attrs.get(ATTR_EXAMPLES, 0)) for t in study.get_trials(deepcopy=False)
               if t.state.is_finished())


def _tpe_history(study: Any) -> list[dict[str, Any]]:
    out = []
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished() or ATTR_EXAMPLES not in t.user_attrs:
            continue
        curve = t.intermediate_values
        last = curve[max(curve)] if curve else None
        out.append({"number": t.number, "hyperparams": t.user_attrs[ATTR_HP], "schedule_epochs": None,
                    "epochs_run": int(t.user_attrs[ATTR_EPOCHS_RUN]), "val_acc": last,
                    "examples": int(t.user_attrs[ATTR_EXAMPLES]), "outcome": t.user_attrs[ATTR_OUTCOME]})
    return out


# ----------------------------------------------------------------------------------------------
# PriorBand (NePS, in its own venv)


def run_priorband(task_kwargs: dict[str, Any], space: Any, *, epochs: int, seed: int, budget_examples: int,
                  root: Path, python: str = NEPS_PYTHON, timeout: float | None = None) -> PeerResult:
    """NePS PriorBand in a subprocess (``python benchmarks/_neps_runner.py ARGS.json``), its optimizer state
    under ``root`` (a rerun resumes there). ``task_kwargs`` rebuild the :class:`hybridtune.Task` there.

    A NePS that is not installed, or fails, gives a result with no choice and the reason in ``note``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    args = {"task": task_kwargs, "space": space.to_dict(), "epochs": epochs, "seed": seed,
            "budget_examples": budget_examples, "prior": textbook_prior(space.optimizer, space.batch_sizes),
            "root": str(root / "neps"), "out": str(root / "result.json")}
    (root / "args.json").write_text(json.dumps(args, indent=2))
    if not Path(python).exists():
        return _failed(budget_examples, f"no NePS Python at {python} (set HT_NEPS_PYTHON)")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}  # the runner imports hybridtune from this repository
    proc = subprocess.run([python, str(NEPS_RUNNER), str(root / "args.json")], env=env, capture_output=True,
                          text=True, timeout=timeout)
    (root / "runner.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return _failed(budget_examples, f"the NePS runner exited {proc.returncode}: {tail[0]}")
    d = json.loads((root / "result.json").read_text())
    history = d["history"]
    chosen, val, length = choose(history, epochs)
    return PeerResult(method="priorband", chosen=chosen, chosen_val=val, chosen_epochs=length,
                      examples=sum(h["examples"] for h in history), budget_examples=budget_examples,
                      n_evaluations=len(history), history=history, note=d.get("note"))


def _failed(budget_examples: int, note: str) -> PeerResult:
    print(f"priorband: {note}", file=sys.stderr, flush=True)
    return PeerResult(method="priorband", chosen=None, chosen_val=None, chosen_epochs=None, examples=0,
                      budget_examples=budget_examples, n_evaluations=0, note=note)


# ----------------------------------------------------------------------------------------------
# The test retrains


def retrain(task: Any, hyperparams: dict[str, Any] | None, *, epochs: int, seeds: tuple[int, ...]) -> \
        dict[str, Any] | None:
    """Retrain a chosen configuration on each test seed and score it on the test split, as the study's own
    test retrains do (``train_and_test`` of ``Hyperparams.train_config`` at ``epochs``; a diverged retrain
    counts at chance): ``{"mean", "se", "accuracies"/per seed, "runs"}``, ``None`` without a choice."""
    import hybridtune as ht
    from hybridtune.compare import score_of_record
    from hybridtune.study import keys
    from hybridtune.train import train_and_test

    if hyperparams is None:
        return None
    hp = ht.Hyperparams(**hyperparams)
    runs = []
    for s in seeds:
        tested = train_and_test(task, hp.train_config(optimizer=task.optimizer, epochs=epochs, seed=s))
        r = tested.result
        runs.append({"seed": s, "test_accuracy": tested.test_accuracy, "test_loss": tested.test_loss,
                     "val_accuracy": r.val_acc, "status": r.status, "cost": r.cost.to_dict()})
    record = keys.record_test(-1, runs, chance=float(task.chance))
    score = score_of_record(record, chance=float(task.chance))
    return {**score.to_dict(), "runs": record["runs"]}
