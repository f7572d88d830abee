from __future__ import annotations

import copy
import json
import math

import pytest
import torch

import hybridtune as ht


@pytest.fixture(scope="module")
def bn_task() -> ht.Task:
    """A small ResNet (BatchNorm buffers) on the tiny synthetic data."""
    return ht.Task(model="resnet", model_kwargs={"width": 0.5}, data="synthetic:n=400,classes=4,noise=1.5",
                   device="cpu")


def _caller_steps(task: ht.Task, model: torch.nn.Module, opt: torch.optim.Optimizer, n: int, seed: int) -> list[float]:
    """The caller's own training loop: a few SGD steps on fixed batches."""
    g = torch.Generator().manual_seed(seed)
    x, y = task.data.train.x, task.data.train.y
    losses = []
    model.train()
    for _ in range(n):
        idx = torch.randint(0, len(y), (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# a clean sweep, one that blows the weights up, and a default one too weak to stand (re-run 4x longer)
@pytest.mark.parametrize("end_lr, steps", [(1.0, 20), (1e4, 20), (1e-3, None)])
def test_model_optimizer_buffers_and_rng_are_restored_exactly(bn_task: ht.Task, end_lr: float,
                                                              steps: int | None) -> None:
    model = bn_task.build_model(seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    _caller_steps(bn_task, model, opt, 3, seed=0)  # momentum buffers, BN statistics, gradients all non-trivial
    model.eval()  # a mode the range test must give back
    control_model = copy.deepcopy(model)
    control_opt = torch.optim.SGD(control_model.parameters(), lr=0.05, momentum=0.9)
    control_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    params = list(model.parameters())
    storages = [p.data_ptr() for p in params]
    bn_buffer = next(b for n, b in model.named_buffers() if n.endswith("running_mean"))
    state = copy.deepcopy(model.state_dict())
    grads = [p.grad.clone() for p in params]
    opt_state = copy.deepcopy(opt.state_dict())
    torch.manual_seed(123)
    rng = torch.get_rng_state()

    r = ht.lr_range_test(bn_task, model=model, steps=steps, batch_size=32, start_lr=1e-3 if steps else 1e-7,
                         end_lr=end_lr, optimizer="momentum")
    assert len(r.lrs) >= 5
    assert (r.extended is None) == (steps is not None) and r.steps == (steps or 400)

    assert torch.equal(torch.get_rng_state(), rng)
    assert list(model.parameters()) == params and all(a is b for a, b in zip(model.parameters(), params))
    assert [p.data_ptr() for p in params] == storages
    assert next(b for n, b in model.named_buffers() if n.endswith("running_mean")) is bn_buffer
    after = model.state_dict()
    assert after.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(after[key], value), key
    assert any("running_mean" in k for k in state) and any("num_batches_tracked" in k for k in state)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, grads))
    assert not model.training and not any(m.training for m in model.modules())
    new_opt_state = opt.state_dict()
    for k, v in opt_state["state"].items():
        assert torch.equal(new_opt_state["state"][k]["momentum_buffer"], v["momentum_buffer"])
    # a training run after the test equals one without it: the caller's loop, then the one trainer
    assert _caller_steps(bn_task, model, opt, 3, seed=5) == _caller_steps(bn_task, control_model, control_opt, 3, seed=5)
    cfg = ht.TrainConfig(optimizer="momentum", lr=0.02, steps=5, epochs=None, batch_size=32, record_steps=True,
                         eval_every=0)
    assert ht.train(bn_task, cfg, model=model).trace.losses == ht.train(bn_task, cfg, model=control_model).trace.losses


def test_global_rng_untouched_without_a_model(tiny_task: ht.Task) -> None:
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    ht.lr_range_test(tiny_task, steps=10, batch_size=32)
    assert torch.equal(torch.rand(4), expected)


def test_same_seed_same_curve(tiny_task: ht.Task) -> None:
    a = ht.lr_range_test(tiny_task, steps=30, batch_size=32, seed=2)
    b = ht.lr_range_test(tiny_task, steps=30, batch_size=32, seed=2)
    assert a.losses == b.losses and a.smoothed == b.smoothed


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_sweeps_hit_their_endpoints(tiny_task: ht.Task, mode: str) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="sgd", start_lr=1e-5, end_lr=1e-2, steps=31, batch_size=32,
                         mode=mode)
    assert r.stopped == "reached end_lr 0.01 after 31 steps" and not r.diverged
    assert len(r.lrs) == 31
    assert r.lrs[0] == pytest.approx(1e-5, rel=1e-9) and r.lrs[-1] == pytest.approx(1e-2, rel=1e-9)
    mid = 1e-5 * 1000 ** 0.5 if mode == "exp" else (1e-5 + 1e-2) / 2
    assert r.lrs[15] == pytest.approx(mid, rel=1e-6)
    assert all(b > a for a, b in zip(r.lrs, r.lrs[1:]))


def test_default_steps_are_an_epoch_and_at_least_100(tiny_task: ht.Task) -> None:
    # Adam's loss falls far within one epoch, so the default sweep stands as it is
    r = ht.lr_range_test(tiny_task, optimizer="adam", batch_size=32)
    assert r.steps == 100 and r.extended is None  # 8 steps per epoch, so the floor of 100
    assert r.cost.steps == len(r.lrs) <= 100
    r = ht.lr_range_test(tiny_task, optimizer="adam", batch_size=2, seed=1)
    assert r.steps == 140 and len(r.lrs) == 140 and r.extended is None  # one epoch of 280 examples
    assert r.cost.steps == 140 and r.cost.examples == 280


def test_a_weak_default_sweep_is_rerun_four_times_longer(tiny_task: ht.Task) -> None:
    seen: list[tuple[str, int, int]] = []
    r = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, progress=lambda *a: seen.append(a))
    short = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, steps=100)  # what the default ran first
    assert short.extended is None and short.steps == len(short.lrs) == 100  # an explicit length is never extended
    fall = 1 - min(short.smoothed) / short.smoothed[0]
    assert fall < 0.15  # plain SGD barely moves the loss in 100 steps
    assert r.steps == 400
    assert r.extended.startswith("the 100-step default sweep was too short: its smoothed loss fell ")
    assert r.extended.endswith("% below its start, under 15%, so it was re-run with 400 steps")
    assert r.stopped.endswith(f" ({r.extended})")
    # the re-run is a clean 400-step sweep (fresh model, same seed); the cost counts both sweeps
    long = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, steps=400)
    assert r.losses == long.losses and r.lrs == long.lrs and r.band == long.band and r.band is not None
    assert r.cost.steps == 100 + len(r.lrs) and r.cost.examples == 32 * (100 + len(r.lrs))
    assert seen[99] == ("range test", 100, 100) and seen[100] == ("range test", 101, 500)
    assert seen[-1] == ("range test", 500, 500)
    assert [d for _, d, _ in seen[:-1]] == list(range(1, 101 + len(r.lrs)))
    assert ht.RangeTestResult.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False))) == r


def test_extend_modes_no_band_and_never(tiny_task: ht.Task) -> None:
    """The study's probes re-run only a sweep that gives no band (``no_band``); ``never`` never re-runs."""
    weak = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, steps=100)
    assert weak.band is not None  # weak (it fell < 15%) but readable
    for mode in ("no_band", "never"):
        r = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, extend=mode)
        assert r.extended is None and r.steps == 100 and r.band == weak.band
        assert r.cost.examples == weak.cost.examples and r.cost.steps == weak.cost.steps
    # a sweep that stops before it gives a band (it blows up within a few steps) is re-run under no_band
    r = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, start_lr=1.0, end_lr=1e6, extend="no_band")
    short = ht.lr_range_test(tiny_task, optimizer="sgd", batch_size=32, start_lr=1.0, end_lr=1e6, steps=100)
    assert short.band is None and r.extended is not None and "gave no band" in r.extended and r.steps == 400
    with pytest.raises(ht.ConfigError, match="extend must be one of weak, no_band, never, but got 'always'"):
        ht.lr_range_test(tiny_task, extend="always")
    with pytest.raises(ht.ConfigError, match="probe_range_extend must be one of"):
        ht.StudyConfig(probe_range_extend="sometimes")


def test_smoothing_is_a_bias_corrected_moving_average(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, steps=20, batch_size=32, smooth=0.9, end_lr=1e-2)
    avg = 0.0
    for i, loss in enumerate(r.losses):
        avg = 0.9 * avg + 0.1 * loss
        assert r.smoothed[i] == pytest.approx(avg / (1 - 0.9 ** (i + 1)), rel=1e-12)
    assert r.smoothed[0] == pytest.approx(r.losses[0])


def test_divergence_stops_the_sweep_with_a_reason(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="sgd", start_lr=1e-2, end_lr=1e5, steps=100, batch_size=32)
    assert r.diverged and len(r.lrs) < 100
    assert r.stopped.startswith("diverged: smoothed loss ") and " > 4 x best " in r.stopped
    best = min(r.smoothed[:-1])
    assert r.smoothed[-1] > 4 * best
    assert f"at lr {r.lrs[-1]:.3g} (step {len(r.lrs) - 1})" in r.stopped


def test_nan_mid_sweep_stops_cleanly(tiny_task: ht.Task) -> None:
    calls = [0]

    def nan_after_40(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        loss = torch.nn.functional.cross_entropy(logits, y)
        return loss * float("nan") if calls[0] > 40 else loss

    r = ht.lr_range_test(tiny_task.replace(loss=nan_after_40), optimizer="adam", start_lr=1e-5,
                         end_lr=1.0, steps=100, batch_size=32)
    expected_lr = 1e-5 * (1e5) ** (40 / 99)
    assert r.stopped == f"non-finite loss at lr {expected_lr:.3g} (step 40)"
    assert r.diverged and len(r.lrs) == len(r.losses) == len(r.smoothed) == 40
    assert all(math.isfinite(v) for v in r.losses)
    json.dumps(r.to_dict(), allow_nan=False)


def test_every_optimizer_sweeps(tiny_task: ht.Task) -> None:
    for name in ht.OPTIMIZERS:
        r = ht.lr_range_test(tiny_task, optimizer=name, steps=12, batch_size=32, end_lr=1e-2)
        assert r.optimizer == name and len(r.lrs) == 12 and all(math.isfinite(v) for v in r.losses), name


def test_suggestions_and_band_for_a_real_sweep(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="adam", batch_size=32, seed=0)
    assert set(r.suggestions) == {"steepest", "valley", "min_div10", "hybridtune"}
    assert r.band is not None and r.suggestion_error is None
    assert r.suggestions["hybridtune"] == r.band.lr_max == r.lr_max
    assert r.band.lr_min == pytest.approx(r.band.lr_max / 10)
    assert all(r.lrs[0] <= v <= r.lrs[-1] for v in r.suggestions.values())
    assert 1e-4 < r.band.lr_max < 0.1  # Adam on a small CNN
    assert r.cost.examples == len(r.lrs) * 32 and r.cost.seconds > 0
    assert len(r.to_frame()) == len(r.lrs)


def test_no_suggestion_is_reported_not_raised(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="sgd", start_lr=1e-7, end_lr=1e-5, steps=30, batch_size=32)
    assert r.band is None and r.suggestions == {}
    assert r.suggestion_error.startswith("suggest_band needs a loss that falls during the sweep")


def test_validation_mode(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="adam", steps=30, batch_size=32, val_every=10, val_subset=50,
                         end_lr=1e-2)
    assert r.val_steps == (9, 19, 29)
    assert r.val_lrs == (r.lrs[9], r.lrs[19], r.lrs[29])
    assert len(r.val_losses) == len(r.val_accs) == 3 and all(0 <= a <= 1 for a in r.val_accs)
    assert r.cost.eval_examples == 150


def test_progress_is_reported(tiny_task: ht.Task) -> None:
    seen: list[tuple[str, int, int]] = []
    ht.lr_range_test(tiny_task, steps=15, batch_size=32, end_lr=1e-2, progress=lambda *a: seen.append(a))
    assert seen[0] == ("range test", 1, 15) and seen[-1] == ("range test", 15, 15)
    assert [d for _, d, _ in seen[:15]] == list(range(1, 16))


def test_result_json_round_trip(tiny_task: ht.Task) -> None:
    r = ht.lr_range_test(tiny_task, optimizer="adam", batch_size=32, val_every=50, val_subset=40)
    text = json.dumps(r.to_dict(), allow_nan=False)
    back = ht.RangeTestResult.from_dict(json.loads(text))
    assert back == r
    d = json.loads(text)
    assert {"lr_min", "lr_max", "suggestions", "stopped", "cost"} <= set(d)


@pytest.mark.parametrize("kwargs, message", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "end_lr must be greater than start_lr, but got start_lr=1.0, end_lr=0.1."),
    ({"start_lr": 0}, "start_lr must be a positive finite number, but got start_lr=0."),
    ({"mode": "log"}, "mode must be one of"),
    ({"steps": 1}, "steps must be an integer >= 2, but got steps=1."),
    ({"smooth": 1.0}, "smooth must be in [0, 1), but got smooth=1.0."),
    ({"diverge_k": 1}, "diverge_k must be a number > 1, but got diverge_k=1."),
    ({"val_every": 0}, "val_every must be a positive integer or None, but got val_every=0."),
    ({"batch_size": 1000}, "batch_size must be <= the training set size (280), but got batch_size=1000."),
    ({"optimizer": "adamm"}, "Did you mean 'adam'"),
])
def test_bad_input_names_rule_and_value(tiny_task: ht.Task, kwargs: dict, message: str) -> None:
    with pytest.raises(ht.ConfigError) as err:
        ht.lr_range_test(tiny_task, **kwargs)
    assert message in str(err.value)
