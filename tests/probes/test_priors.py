from __future__ import annotations

import dataclasses
import json
import math

import pytest

import hybridtune as ht


@pytest.fixture(scope="module")
def adam_priors(tiny_task: ht.Task) -> ht.Priors:
    return ht.find_priors(tiny_task.replace(optimizer="adam"), batch_size=32, range_steps=100,
                          momenta=(0.99, 0.95, 0.9))


def test_priors_for_a_momentum_optimizer(adam_priors: ht.Priors) -> None:
    p = adam_priors
    assert p.optimizer == "adam" and p.batch_size == 32 and p.weight_decay == 0.0
    assert p.lr_min == pytest.approx(p.lr_max / 10) and p.lr_max == p.range_test.band.lr_max
    assert [r.momentum for r in p.momentum_runs] == [0.99, 0.95, 0.9]
    ok = [r for r in p.momentum_runs if r.val_loss is not None]
    assert p.momentum == min(ok, key=lambda r: r.val_loss).momentum
    low, high = p.momentum_band
    assert low <= p.momentum <= high and low < high
    total = p.range_test.cost
    for r in p.momentum_runs:
        total = total + r.cost
    assert p.cost == total
    assert p.cost.examples == p.range_test.cost.examples + sum(r.cost.examples for r in p.momentum_runs)
    assert p.reasoning.startswith("LR: the smoothed loss fell") and "; momentum: momentum " in p.reasoning


def test_momentum_runs_cycle_from_the_tried_value(adam_priors: ht.Priors) -> None:
    for r in adam_priors.momentum_runs:
        # 1cycle: beta1 starts and ends at the tried value and dips 0.1 below it while the LR peaks
        # (8 steps: the nearest step to the LR peak is within 0.01 of the lowest momentum)
        assert r.momentum_range == pytest.approx((r.momentum - 0.1, r.momentum), abs=1e-2)
        assert r.momentum_range[1] == r.momentum
        assert len(r.step_losses) == 8 and len(r.train_losses) == len(r.val_losses) == 1
        assert r.status == "completed"
    # every run starts from the same weights and data order: the first step's loss is the same
    assert len({r.step_losses[0] for r in adam_priors.momentum_runs}) == 1


def test_priors_json_round_trip(adam_priors: ht.Priors) -> None:
    text = adam_priors.to_json()
    json.loads(text)  # strict JSON: to_json uses allow_nan=False
    assert ht.Priors.from_json(text) == adam_priors
    assert ht.Priors.from_dict(json.loads(json.dumps(adam_priors.to_dict()))) == adam_priors
    d = adam_priors.to_dict()
    assert {"optimizer", "lr_min", "lr_max", "momentum", "momentum_band", "batch_size", "weight_decay",
            "range_test", "momentum_runs", "cost", "reasoning"} <= set(d)


def test_diverged_run_round_trips_and_is_never_chosen(tiny_task: ht.Task, adam_priors: ht.Priors) -> None:
    task = tiny_task.replace(optimizer="momentum")
    blown = ht.momentum_runs(task, lr=1e4, momenta=(0.9,), batch_size=32)
    assert blown[0].status == "diverged" and blown[0].val_loss is None and blown[0].val_acc is None
    p = dataclasses.replace(adam_priors, momentum_runs=adam_priors.momentum_runs + blown)
    assert ht.Priors.from_json(p.to_json()) == p


def test_priors_for_an_optimizer_without_momentum(tiny_task: ht.Task) -> None:
    p = ht.find_priors(tiny_task.replace(optimizer="sgd"), batch_size=32, range_steps=100)
    assert p.momentum is None and p.momentum_band is None and p.momentum_runs == ()
    assert p.cost == p.range_test.cost
    assert "momentum: none, sgd has no momentum" in p.reasoning
    assert ht.Priors.from_json(p.to_json()) == p


def test_progress_phases(tiny_task: ht.Task) -> None:
    seen: list[tuple[str, int, int]] = []
    ht.find_priors(tiny_task.replace(optimizer="adam"), batch_size=32, momenta=(0.95, 0.9),
                   progress=lambda *a: seen.append(a))
    phases = [s[0] for s in seen]
    assert phases.index("momentum runs") > phases.index("range test")
    assert ("range test", 100, 100) in seen and seen[-1] == ("momentum runs", 2, 2)


def test_find_priors_refuses_a_curve_without_a_band(tiny_task: ht.Task) -> None:
    with pytest.raises(ht.ProbeError, match=r"the range test must give an LR band, but it gave none: "
                                             r"suggest_band needs a loss that falls"):
        ht.find_priors(tiny_task, batch_size=32, range_steps=20, end_lr=1e-5)


def test_momentum_runs_hold_momentum_with_a_constant_schedule(tiny_task: ht.Task) -> None:
    runs = ht.momentum_runs(tiny_task.replace(optimizer="momentum"), lr=0.05, momenta=(0.97,),
                            batch_size=32, epochs=2, schedule="constant")
    assert runs[0].momentum_range == (0.97, 0.97) and len(runs[0].val_losses) == 2


def test_momentum_ramp(tiny_task: ht.Task) -> None:
    task = tiny_task.replace(optimizer="momentum")
    ramp = ht.momentum_ramp(task, lr=0.05, start=0.8, end=0.99, epochs=4, batch_size=32)
    assert ramp.momenta[0] == pytest.approx(0.8) and ramp.momenta[-1] == pytest.approx(0.99)
    # evenly spaced in log(1 - momentum)
    gaps = [math.log(1 - a) - math.log(1 - b) for a, b in zip(ramp.momenta, ramp.momenta[1:])]
    assert gaps == pytest.approx([gaps[0]] * 3)
    assert len(ramp.val_losses) == 4 and ramp.suggested in ramp.momenta
    k = ramp.momenta.index(ramp.suggested)
    assert all(b < a for a, b in zip(ramp.val_losses[:k], ramp.val_losses[1:k + 1]))
    assert k == 3 or ramp.val_losses[k + 1] >= ramp.val_losses[k]
    assert ramp.cost.examples == 4 * 8 * 32
    assert ht.MomentumRamp.from_dict(json.loads(json.dumps(ramp.to_dict()))) == ramp


@pytest.mark.parametrize("call, message", [
    (lambda t: ht.momentum_runs(t, lr=0.1), "optimizer must have a momentum (momentum, nesterov, adam, adamw) "
                                            "for momentum runs, but got optimizer='sgd'."),
    (lambda t: ht.momentum_runs(t, lr=-1.0, optimizer="adam"), "lr must be a positive finite number, but got lr=-1.0."),
    (lambda t: ht.momentum_runs(t, lr=0.1, momenta=(0.9, 1.0), optimizer="adam"),
     "momenta must be a non-empty sequence of values in [0, 1), but got momenta=(0.9, 1.0)."),
    (lambda t: ht.find_priors(t, momentum_epochs=0), "momentum_epochs must be a positive integer, but got "
                                                     "momentum_epochs=0."),
    (lambda t: ht.momentum_ramp(t, lr=0.1, start=0.99, end=0.9, optimizer="momentum"),
     "momentum must rise within [0, 1): 0 <= start < end < 1, but got start=0.99, end=0.9."),
])
def test_bad_input_names_rule_and_value(tiny_task: ht.Task, call, message: str) -> None:
    with pytest.raises(ht.ConfigError) as err:
        call(tiny_task.replace(optimizer="sgd"))
    assert str(err.value) == message


def test_figures(adam_priors: ht.Priors) -> None:
    fig = ht.range_test_figure(adam_priors.range_test)
    assert fig.layout.xaxis.type == "log"
    names = [t.name for t in fig.data]
    assert names[:2] == ["loss (raw)", "loss (moving average, beta 0.98)"]
    assert any(n.startswith("hybridtune lr_max: ") for n in names)
    assert {"steepest", "valley", "min_div10"} <= {n.split(":")[0] for n in names}
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(band) == 1 and band[0].x0 == adam_priors.lr_min and band[0].x1 == adam_priors.lr_max
    mfig = ht.momentum_runs_figure(adam_priors.momentum_runs)
    assert len(mfig.data) == 2 * len(adam_priors.momentum_runs)
    assert sum("(best)" in t.name for t in mfig.data) == 2
