from __future__ import annotations

import math

import optuna
import pytest

import hybridtune as ht


@pytest.fixture(scope="module")
def priors() -> ht.Priors:
    task = ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")
    return ht.find_priors(task, batch_size=32, momenta=(0.95, 0.9))


def test_scale_lr_rule() -> None:
    # square-root scaling from the probes' batch size, every optimizer family alike
    assert ht.scale_lr(0.1, 512, 128, "momentum") == pytest.approx(0.2)
    assert ht.scale_lr(0.1, 32, 128, "nesterov") == pytest.approx(0.05)
    assert ht.scale_lr(1e-3, 256, 128, "adam") == pytest.approx(1e-3 * math.sqrt(2))
    assert ht.scale_lr(0.1, 128, 128, "sgd") == pytest.approx(0.1)
    # the factor is clipped to [1/4, 4]
    assert ht.scale_lr(0.1, 128 * 64, 128, "momentum") == pytest.approx(0.4)
    assert ht.scale_lr(0.1, 1, 128, "momentum") == pytest.approx(0.025)


def test_batch_sizes_are_powers_of_two_within_the_dataset(tiny_task: ht.Task) -> None:
    n_train = len(tiny_task.data.train)
    sizes = ht.batch_sizes(tiny_task, ref_batch_size=32)
    assert sizes == tuple(sorted(sizes))
    assert all(b & (b - 1) == 0 for b in sizes)
    assert max(sizes) * 8 <= n_train  # at least 8 steps per epoch: never above the dataset
    assert min(sizes) >= 16
    big = ht.Task(model="mlp", data="synthetic:n=20000", device="cpu")
    assert ht.batch_sizes(big, ref_batch_size=128) == (32, 64, 128, 256, 512)
    assert ht.batch_sizes(big, ref_batch_size=128, floor=64, ceiling=128) == (64, 128)


def test_batch_sizes_bad_bounds(tiny_task: ht.Task) -> None:
    with pytest.raises(ht.ConfigError, match=r"^batch-size floor must be <= ceiling, but got floor=64, ceiling=32\.$"):
        ht.batch_sizes(tiny_task, floor=64, ceiling=32)
    with pytest.raises(ht.ConfigError, match="ceiling must be a positive integer, but got ceiling=0"):
        ht.batch_sizes(tiny_task, ceiling=0)


def test_batch_sizes_leave_each_trial_enough_steps() -> None:
    task = ht.Task(model="mlp", data="synthetic:n=4000", device="cpu")  # 2800 training examples
    assert ht.batch_sizes(task, ref_batch_size=64) == (32, 64, 128, 256)
    assert ht.batch_sizes(task, ref_batch_size=64, epochs=4) == (32, 64)  # 4 * 2800 / 64 >= 100 steps
    assert ht.batch_sizes(task, ref_batch_size=64, epochs=1) == (32,)  # never below the floor


def test_search_space_from_priors(priors: ht.Priors) -> None:
    assert ht.search_space(priors, (16, 32), lr_range=(0.1, 1)).lr == (pytest.approx(priors.lr_min), priors.lr_max)
    space = ht.search_space(priors, (16, 32, 64))
    # by default the 1cycle peak is searched in the decade above lr_max, up to about the range test's minimum
    assert space.lr == (priors.lr_max, pytest.approx(priors.lr_max * 10))
    assert space.ref_batch_size == priors.batch_size == 32
    assert space.momentum == priors.momentum_band
    assert space.lr_name == "base_lr"
    assert set(space.distributions()) == {"base_lr", "momentum", "use_weight_decay", "weight_decay", "batch_size"}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        hp = space.suggest(trial)
        p = trial.params
        assert space.lr[0] <= p["base_lr"] <= space.lr[1]
        assert hp.lr == pytest.approx(ht.scale_lr(p["base_lr"], hp.batch_size, 32, "momentum"))
        assert space.momentum[0] <= hp.momentum <= space.momentum[1]
        assert hp.weight_decay == (p["weight_decay"] if p["use_weight_decay"] else 0.0)
        assert hp.batch_size in (16, 32, 64)
        study.tell(trial, 0.5)
    assert {t.params["use_weight_decay"] for t in study.trials} == {True, False}
    assert ht.SearchSpace.from_dict(space.to_dict()) == space


def test_params_for_enqueues_the_range_test_point(priors: ht.Priors) -> None:
    space = ht.search_space(priors, (16, 32))
    params = space.params_for(lr=priors.lr_max, momentum=priors.momentum, weight_decay=0.0,
                              batch_size=priors.batch_size)
    assert params == {"base_lr": priors.lr_max, "momentum": priors.momentum, "use_weight_decay": False,
                      "weight_decay": 1e-6, "batch_size": 32}
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(params)
    trial = study.ask()
    hp = space.suggest(trial)
    assert hp == ht.Hyperparams(lr=priors.lr_max, momentum=priors.momentum, weight_decay=0.0, batch_size=32)
    # out-of-space values are clipped into it
    clipped = space.params_for(lr=1e-9, momentum=0.5, weight_decay=1.0, batch_size=1024)
    assert clipped["base_lr"] == priors.lr_max and clipped["batch_size"] == 32
    assert clipped["momentum"] == space.momentum[0] and clipped["weight_decay"] == 1e-2


def test_train_config_is_1cycle_with_cycled_momentum() -> None:
    hp = ht.Hyperparams(lr=0.1, momentum=0.95, weight_decay=5e-4, batch_size=64)
    tc = hp.train_config(optimizer="momentum", epochs=3, seed=2)
    assert (tc.schedule, tc.lr, tc.momentum, tc.cycle_momentum) == ("onecycle", 0.1, 0.95, (0.95, pytest.approx(0.85)))
    assert (tc.weight_decay, tc.batch_size, tc.epochs, tc.seed) == (5e-4, 64, 3, 2)
    tc = ht.Hyperparams(lr=0.1, momentum=None, weight_decay=0.0, batch_size=64).train_config(optimizer="sgd", epochs=1)
    assert tc.cycle_momentum is None


def test_wide_space_has_no_priors() -> None:
    space = ht.wide_space("adam", (32, 64))
    assert space.lr_name == "lr" and space.ref_batch_size is None and space.source == "wide defaults"
    assert space.lr == (1e-5, 0.1)
    assert ht.wide_space("sgd", (32,)).momentum is None


def test_grid_space_standard_quick_and_overrides() -> None:
    task = ht.Task(model="mlp", data="synthetic:n=3000", device="cpu")
    g = ht.grid_space(task)
    assert g.lr == (0.01, 0.03, 0.1, 0.3) and g.momentum == (0.9, 0.95)
    assert g.weight_decay == (0.0, 5e-4) and g.batch_size == (32, 128)
    assert g.cells == 4 * 2 * 2 * 2
    assert ht.grid_space(task, quick=True).cells == 4
    g = ht.grid_space(task, overrides={"lr": [0.1], "batch_size": [32]})
    assert g.lr == (0.1,) and g.batch_size == (32,) and g.cells == 4
    # a dataset too small for batch 256 gets smaller batches, never above it
    small = ht.Task(model="mlp", data="synthetic:n=400", device="cpu")
    assert all(b * 8 <= len(small.data.train) for b in ht.grid_space(small).batch_size)
    # optimizers without momentum have no momentum axis
    adagrad = ht.Task(model="mlp", data="synthetic:n=3000", optimizer="adagrad", device="cpu")
    assert "momentum" not in ht.grid_space(adagrad).search_space()
    assert ht.GridSpace.from_dict(g.to_dict()) == g


def test_grid_space_bad_values() -> None:
    task = ht.Task(model="mlp", data="synthetic:n=3000", device="cpu")
    with pytest.raises(ht.ConfigError, match=r"^grid keys must be among \['batch_size', 'lr', 'momentum', "
                                             r"'weight_decay'\], but got 'lrs'\.$"):
        ht.grid_space(task, overrides={"lrs": [0.1]})
    with pytest.raises(ht.ConfigError, match=r"^grid lr must be a non-empty list of distinct positive numbers, "
                                             r"but got lr=\[0\.1, -1\.0\]\.$"):
        ht.grid_space(task, overrides={"lr": [0.1, -1.0]})
    with pytest.raises(ht.ConfigError, match="grid momentum must be a non-empty list of distinct numbers in"):
        ht.grid_space(task, overrides={"momentum": [1.5]})


def test_search_space_bad_bounds() -> None:
    with pytest.raises(ht.ConfigError, match=r"^lr must be \(low, high\) with 0 < low <= high, but got "
                                             r"lr=\(0\.1, 0\.01\)\.$"):
        ht.SearchSpace(optimizer="momentum", lr=(0.1, 0.01), ref_batch_size=128, momentum=None, batch_sizes=(32,))
    with pytest.raises(ht.ConfigError, match=r"^lr_range must be \(low, high\) multiples of lr_max with 0 < low <= "
                                             r"high, but got lr_range=\(2\.0, 1\.0\)\.$"):
        ht.search_space(None, (32,), lr_range=(2, 1))
    with pytest.raises(ht.ConfigError, match="momentum must be"):
        ht.SearchSpace(optimizer="momentum", lr=(0.01, 0.1), ref_batch_size=128, momentum=(0.9, 1.2),
                       batch_sizes=(32,))
    assert math.isclose(ht.SearchSpace(optimizer="adam", lr=(1e-4, 1e-3), ref_batch_size=None, momentum=(0.9, 0.9),
                                       batch_sizes=(32,)).momentum[0], 0.9)
