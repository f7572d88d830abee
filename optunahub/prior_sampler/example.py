import math

import optuna
import optunahub


module = optunahub.load_module(package="samplers/prior_sampler")
ParamPrior, PriorSampler = module.ParamPrior, module.PriorSampler


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    momentum = trial.suggest_float("momentum", 0.5, 0.999)
    layers = trial.suggest_int("layers", 1, 8)
    act = trial.suggest_categorical("act", ["relu", "tanh", "gelu"])
    return (math.log10(lr / 3e-3) ** 2 + math.log10((1 - momentum) / 0.1) ** 2 + (layers - 4) ** 2 / 10
            + (act != "gelu"))


priors = {
    "lr": ParamPrior(1e-3, confidence=0.8),  # log-normal around 1e-3 (a log distribution: a log scale)
    "momentum": ParamPrior(0.9, confidence=0.5, scale="log1m"),  # 0.9 and 0.99 a decade apart
    "layers": ParamPrior(3, confidence=0.5),  # linear, rounded onto the ints
    "act": ParamPrior("gelu", confidence=0.7),  # a preferred choice
}
sampler = PriorSampler(priors, base_sampler=optuna.samplers.TPESampler(seed=0), seed=0)
study = optuna.create_study(sampler=sampler)
study.optimize(objective, n_trials=30)
print(study.best_value, study.best_params)
