"""PriorSampler on a plain Optuna objective, in a SQLite study that processes share, 20 trials each: run it once
(that creates the database), then `python examples/prior_sampler.py & python examples/prior_sampler.py; wait`."""
import math

import optuna
from hybridtune.samplers import ParamPrior, PriorSampler


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
    return math.log10(lr / 3e-3) ** 2 + (layers - 4) ** 2 / 10 + (act != "gelu")


priors = {"lr": ParamPrior(1e-3, 0.8), "layers": ParamPrior(3, 0.5), "act": ParamPrior("gelu", 0.7)}
study = optuna.create_study(study_name="prior-example", storage="sqlite:///prior_example.db", load_if_exists=True,
                            sampler=PriorSampler(priors, seed=0))  # one seed: draws keyed on (seed, trial number)
study.optimize(objective, n_trials=20)
print(f"best {study.best_value:.3f} at {study.best_params} after {len(study.trials)} trials")
