from __future__ import annotations

import math

import pytest
import torch

import hybridtune as ht


def test_same_seed_same_losses(tiny_task: ht.Task) -> None:
    cfg = ht.TrainConfig(optimizer="momentum", lr=0.05, epochs=2, batch_size=32, schedule="onecycle",
                         record_steps=True, seed=3)
    a, b = ht.train(tiny_task, cfg), ht.train(tiny_task, cfg)
    assert a.trace.losses == b.trace.losses
    assert a.val_acc == b.val_acc
    c = ht.train(tiny_task, cfg.replace(seed=4))
    assert c.trace.losses != a.trace.losses


def test_train_leaves_global_rng_alone(tiny_task: ht.Task) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ht.train(tiny_task, ht.TrainConfig(epochs=1, batch_size=64))
    assert torch.equal(torch.rand(3), expected)


def test_cost_counters_are_exact(tiny_task: ht.Task) -> None:
    n_train, n_val = len(tiny_task.data.train), len(tiny_task.data.val)
    bs = 32
    spe = n_train // bs  # the last partial batch is dropped
    r = ht.train(tiny_task, ht.TrainConfig(epochs=3, batch_size=bs))
    assert r.cost.steps == 3 * spe
    assert r.cost.examples == 3 * spe * bs
    assert r.cost.eval_examples == 3 * n_val
    assert r.cost.epochs == pytest.approx(3.0)
    assert r.cost.seconds > 0
    assert sum(e.examples for e in r.epochs) == r.cost.examples
    # a step budget that cycles through the data
    r2 = ht.train(tiny_task, ht.TrainConfig(steps=spe + 3, epochs=None, batch_size=bs, eval_every=0))
    assert r2.cost.steps == spe + 3 and r2.cost.examples == (spe + 3) * bs and r2.cost.eval_examples == 0
    assert len(r2.epochs) == 2


def _anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


def test_onecycle_moves_lr_and_momentum_as_pytorch_documents(tiny_task: ht.Task) -> None:
    cfg = ht.TrainConfig(optimizer="momentum", lr=0.1, epochs=5, batch_size=32, schedule="onecycle",
                         pct_start=0.3, div_factor=10, final_div_factor=100, cycle_momentum=(0.95, 0.85),
                         record_steps=True, eval_every=0)
    r = ht.train(tiny_task, cfg)
    lrs, moms = r.trace.lrs, r.trace.momenta
    n = len(lrs)
    assert n == 40
    # the two-phase cosine schedule of torch.optim.lr_scheduler.OneCycleLR's documentation
    end1 = 0.3 * n - 1
    for i in range(n):
        if i <= end1:
            lr, m = _anneal(0.01, 0.1, i / end1), _anneal(0.95, 0.85, i / end1)
        else:
            pct = (i - end1) / (n - 1 - end1)
            lr, m = _anneal(0.1, 0.01 / 100, pct), _anneal(0.85, 0.95, pct)
        assert lrs[i] == pytest.approx(lr, rel=1e-6), i
        assert moms[i] == pytest.approx(m, rel=1e-6), i
    assert lrs[0] == pytest.approx(0.01) and max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 11
    assert moms[11] == pytest.approx(0.85) and moms[0] == pytest.approx(0.95)


def test_adam_cycles_beta1(tiny_task: ht.Task) -> None:
    r = ht.train(tiny_task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=2, batch_size=32,
                                           schedule="onecycle", record_steps=True, eval_every=0))
    assert min(r.trace.momenta) == pytest.approx(0.85, abs=2e-3)


def test_plain_sgd_is_not_given_momentum_by_onecycle(tiny_task: ht.Task) -> None:
    r = ht.train(tiny_task, ht.TrainConfig(optimizer="sgd", lr=0.05, epochs=1, batch_size=32,
                                           schedule="onecycle", record_steps=True, eval_every=0))
    assert set(r.trace.momenta) == {0.0}


@pytest.mark.parametrize("schedule", ["range_exp", "range_linear"])
def test_range_schedules_hit_their_endpoints(tiny_task: ht.Task, schedule: str) -> None:
    r = ht.train(tiny_task, ht.TrainConfig(lr=1e-5, lr_end=1.0, steps=30, epochs=None, batch_size=32,
                                           schedule=schedule, record_steps=True, eval_every=0,
                                           diverge_factor=None))
    assert r.trace.lrs[0] == pytest.approx(1e-5) and r.trace.lrs[-1] == pytest.approx(1.0)
    if schedule == "range_exp":
        assert r.trace.lrs[15] == pytest.approx(1e-5 * (1e5) ** (15 / 29), rel=1e-6)
    else:
        assert r.trace.lrs[15] == pytest.approx(1e-5 + (1 - 1e-5) * 15 / 29, rel=1e-6)


def test_power_cyclic_cosine(tiny_task: ht.Task) -> None:
    base = ht.TrainConfig(lr=0.1, epochs=3, batch_size=32, record_steps=True, eval_every=0)
    spe = len(tiny_task.data.train) // 32
    p = ht.train(tiny_task, base.replace(schedule="power", power_alpha=0.5)).trace.lrs
    assert p[0] == pytest.approx(0.1) and p[spe] == pytest.approx(0.05) and p[2 * spe] == pytest.approx(0.025)
    c = ht.train(tiny_task, base.replace(schedule="cyclic", cyclic_bounds=(0.5, 2.0))).trace.lrs
    assert min(c) == pytest.approx(0.05) and max(c) == pytest.approx(0.2, rel=0.05)
    cos = ht.train(tiny_task, base.replace(schedule="cosine")).trace.lrs
    assert cos[0] == pytest.approx(0.1) and cos[-1] < 0.001


@pytest.mark.parametrize("optimizer", ht.OPTIMIZERS)
def test_every_optimizer_trains(tiny_task: ht.Task, optimizer: str) -> None:
    lr = {"adam": 3e-3, "adamw": 3e-3, "rmsprop": 1e-3, "adadelta": 1.0}.get(optimizer, 0.05)
    r = ht.train(tiny_task, ht.TrainConfig(optimizer=optimizer, lr=lr, epochs=3, batch_size=32))
    assert r.status == "completed"
    assert r.epochs[-1].train_loss < r.epochs[0].train_loss


def test_diverging_lr_returns_diverged_not_an_exception(tiny_task: ht.Task) -> None:
    r = ht.train(tiny_task, ht.TrainConfig(optimizer="sgd", lr=1e4, epochs=3, batch_size=32))
    assert r.status == "diverged"
    assert "loss" in r.stop_reason
    assert r.cost.steps < 3 * (len(tiny_task.data.train) // 32)


def test_nan_loss_is_diverged(tiny_task: ht.Task) -> None:
    def nan_after_5(logits, y, _n=[0]):
        _n[0] += 1
        loss = torch.nn.functional.cross_entropy(logits, y)
        return loss * float("nan") if _n[0] > 5 else loss

    r = ht.train(tiny_task.replace(loss=nan_after_5), ht.TrainConfig(epochs=2, batch_size=32))
    assert r.status == "diverged" and "non-finite loss" in r.stop_reason and r.cost.steps == 5


def test_target_records_cost_to_reach_it(tiny_task: ht.Task) -> None:
    r = ht.train(tiny_task, ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=30, batch_size=32, target=0.8))
    assert r.status == "target_reached"
    hit = r.target
    assert hit.value >= 0.8 and hit.epoch == len(r.epochs)
    assert hit.examples == r.cost.examples and hit.steps == r.cost.steps
    assert r.epochs[-1].train_acc >= 0.8 > max(e.train_acc for e in r.epochs[:-1])


def test_epoch_callback_can_stop(tiny_task: ht.Task) -> None:
    seen = []
    r = ht.train(tiny_task, ht.TrainConfig(epochs=5, batch_size=32),
                 on_epoch=lambda e: seen.append(e.val_acc) or e.epoch == 2)
    assert r.status == "stopped" and len(r.epochs) == 2 and len(seen) == 2 and None not in seen


def test_weight_decay_only_on_matrices() -> None:
    model = ht.create_model("resnet", (1, 8, 8), 3)
    groups = ht.param_groups(model, 1e-4)
    assert all(p.dim() >= 2 for p in groups[0]["params"]) and groups[0]["weight_decay"] == 1e-4
    assert all(p.dim() < 2 for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0
    assert len(ht.param_groups(model, 1e-4, decay_all=True)) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1}, "lr must be a positive finite number, but got lr=-1."),
    ({"epochs": 0}, "epochs must be a positive integer, but got epochs=0."),
    ({"batch_size": 0}, "batch_size must be a positive integer, but got batch_size=0."),
    ({"optimizer": "adamm"}, "optimizer must be one of"),
    ({"schedule": "onecycel"}, "Did you mean 'onecycle'"),
    ({"momentum": 1.2}, "momentum must be in [0, 1), but got momentum=1.2."),
    ({"schedule": "range_exp", "lr": 1.0, "lr_end": 0.1}, "lr_end must be greater than lr"),
])
def test_config_errors_name_rule_and_value(kwargs, message) -> None:
    with pytest.raises(ht.ConfigError) as err:
        ht.TrainConfig(**kwargs)
    assert message in str(err.value)


def test_batch_larger_than_dataset(tiny_task: ht.Task) -> None:
    with pytest.raises(ht.ConfigError, match=r"batch_size must be <= the training set size \(280\)"):
        ht.train(tiny_task, ht.TrainConfig(batch_size=4096))


def test_result_to_dict_is_strict_json(tiny_task: ht.Task) -> None:
    import json

    r = ht.train(tiny_task, ht.TrainConfig(optimizer="sgd", lr=1e4, epochs=1, batch_size=32))
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert json.loads(text)["status"] == "diverged"
    assert len(ht.train(tiny_task, ht.TrainConfig(epochs=2, batch_size=32)).to_frame()) == 2


def test_custom_metric_replaces_accuracy(tiny_task: ht.Task) -> None:
    def top2(logits, y):
        return (logits.topk(2, dim=1).indices == y[:, None]).any(dim=1).float()

    cfg = ht.TrainConfig(epochs=2, batch_size=32)
    acc = ht.train(tiny_task, cfg)
    t2 = ht.train(tiny_task.replace(metric=top2), cfg)
    assert t2.epochs[-1].train_loss == acc.epochs[-1].train_loss  # same training, another score
    assert t2.val_acc >= acc.val_acc
    model = tiny_task.build_model()
    _, top2_val, n = tiny_task.replace(metric=top2).evaluate(model)
    _, mean_val, _ = tiny_task.replace(metric=lambda o, y: top2(o, y).mean()).evaluate(model)
    assert n == len(tiny_task.data.val) and top2_val == pytest.approx(mean_val)


LAZY = ("import torch\n"
        "def build(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.ReLU(), torch.nn.Flatten(),\n"
        "                               torch.nn.LazyLinear(16), torch.nn.ReLU(), torch.nn.LazyLinear(num_classes))\n"
        "def frozen(input_shape, num_classes):\n"
        "    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))\n"
        "    m.requires_grad_(False)\n"
        "    return m\n"
        "def no_weights(input_shape, num_classes):\n"
        "    return torch.nn.Flatten()\n")


def test_a_lazy_model_trains_and_every_parameter_gets_a_gradient(tmp_path) -> None:
    (tmp_path / "lazy.py").write_text(LAZY)
    task = ht.Task(model=f"{tmp_path}/lazy.py:build", data="synthetic:n=400,classes=4", device="cpu")
    cfg = ht.TrainConfig(optimizer="adam", lr=3e-3, epochs=3, batch_size=32)
    model = task.build_model(seed=cfg.seed)
    start = [p.detach().clone() for p in model.parameters()]
    r = ht.train(task, cfg, model=model)
    assert r.status == "completed" and r.epochs[-1].train_loss < r.epochs[0].train_loss
    for (name, p), p0 in zip(model.named_parameters(), start):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
        assert not torch.equal(p, p0), name
    # the trainer's own model is built the same way: the same run from the seed
    assert ht.train(task, cfg).epochs[-1].train_loss == pytest.approx(r.epochs[-1].train_loss)


def test_a_lazy_model_given_to_the_trainer_is_materialised_there(tmp_path) -> None:
    import importlib.util

    (tmp_path / "lazy.py").write_text(LAZY)
    spec = importlib.util.spec_from_file_location("lazy_for_trainer", tmp_path / "lazy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    task = ht.Task(model="cnn", data="synthetic:n=200", device="cpu")
    model = mod.build(task.data.input_shape, task.data.num_classes)
    r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=1, batch_size=32), model=model)
    assert r.status == "completed" and not any(torch.nn.parameter.is_lazy(p) for p in model.parameters())


@pytest.mark.parametrize("factory, detail", [
    ("frozen", "all 260 of its weights have requires_grad=False"),
    ("no_weights", "it has no parameters"),
])
def test_a_model_without_trainable_parameters_is_one_model_error(tmp_path, factory: str, detail: str) -> None:
    (tmp_path / "lazy.py").write_text(LAZY)
    spec = f"{tmp_path}/lazy.py:{factory}"
    task = ht.Task(model=spec, data="synthetic:n=200", device="cpu")
    with pytest.raises(ht.ModelError) as err:
        ht.train(task, ht.TrainConfig(lr=0.05, epochs=1, batch_size=32))
    assert str(err.value) == f"model {spec!r} must have trainable parameters, but {detail}."


def test_the_trained_model_is_kept_only_when_asked(tiny_task: ht.Task) -> None:
    import dataclasses

    cfg = ht.TrainConfig(lr=0.05, epochs=1, batch_size=32, seed=1)
    plain = ht.train(tiny_task, cfg)
    assert plain.model is None
    kept = ht.train(tiny_task, cfg, keep_model=True)
    assert isinstance(kept.model, torch.nn.Module)
    # the model it hands back is the trained one: it scores what the run's last evaluation said
    assert tiny_task.evaluate(kept.model)[1] == pytest.approx(kept.val_acc)
    assert "model" not in kept.to_dict() and "model=" not in repr(kept)
    assert dataclasses.replace(plain, model=kept.model) == plain  # equality ignores the model
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept.model = None  # type: ignore[misc]
    given = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    assert ht.train(tiny_task, cfg, model=given, keep_model=True).model is given


def test_loss_rise_reads_a_climb_at_the_peak_lr_not_a_fall_or_one_bad_batch() -> None:
    import numpy as np

    from hybridtune.train._results import RISE_MIN_STEPS, StepTrace

    lrs = tuple(np.r_[np.linspace(0.1, 1, 60), np.linspace(1, 0.01, 140)])
    falling = np.linspace(2.0, 0.2, 200)
    assert StepTrace(lrs, (), tuple(falling)).loss_rise() == 0.0
    spike = falling.copy()
    spike[70] = 50.0  # one bad batch, and a NaN, at the peak
    spike[71] = math.nan
    assert StepTrace(lrs, (), tuple(spike)).loss_rise() == 0.0
    # down to 1.0 in the warm-up, back up to 1.5 while the LR is high: a quarter of the starting 2.0
    climb = np.r_[np.linspace(2.0, 1.0, 50), np.full(50, 1.5), np.linspace(1.5, 0.5, 100)]
    assert StepTrace(lrs, (), tuple(climb)).loss_rise() == pytest.approx(0.25, abs=0.02)
    # the same climb after the LR has annealed below half its peak is not read
    late = np.r_[np.linspace(2.0, 1.0, 150), np.full(50, 1.5)]
    assert StepTrace(lrs, (), tuple(late)).loss_rise() == 0.0
    assert StepTrace(lrs[:RISE_MIN_STEPS - 1], (), tuple(falling[:RISE_MIN_STEPS - 1])).loss_rise() is None
    assert StepTrace(lrs, (), tuple(-falling)).loss_rise() is None  # a loss that is not positive


def test_a_too_hot_onecycle_run_climbs_more_than_a_moderate_one(tiny_task: ht.Task) -> None:
    cfg = ht.TrainConfig(optimizer="momentum", lr=0.05, epochs=3, batch_size=16, schedule="onecycle",
                         record_steps=True, seed=0, eval_every=0)
    calm, hot = ht.train(tiny_task, cfg).trace.loss_rise(), ht.train(tiny_task, cfg.replace(lr=20.0)).trace.loss_rise()
    assert calm is not None and calm < 0.15
    assert hot is None or hot > 0.15  # None: so hot its loss went non-finite


def test_a_step_trace_read_every_16_steps_is_the_trace_read_every_step(tiny_task: ht.Task, monkeypatch) -> None:
    # on CUDA the loss is read (a sync) every 16 steps; the trace must not need a sync of its own per step
    from hybridtune.train import _loop

    cfg = ht.TrainConfig(optimizer="momentum", lr=0.05, epochs=2, batch_size=16, schedule="onecycle",
                         record_steps=True, seed=1, eval_every=0)
    every_step = ht.train(tiny_task, cfg).trace
    prepare = _loop._prepare

    def every_16(*args, **kw):  # type: ignore[no-untyped-def]
        import dataclasses

        return dataclasses.replace(prepare(*args, **kw), sync_every=16)

    monkeypatch.setattr(_loop, "_prepare", every_16)
    batched = ht.train(tiny_task, cfg).trace
    assert len(batched.losses) == len(batched.lrs) == len(every_step.lrs) > 16
    assert batched.losses == pytest.approx(every_step.losses) and batched.lrs == every_step.lrs
