"""The 7-step procedure (steps 2 to 6) and its red flags.

2. The LR raised every epoch (the trainer's ``power`` schedule with ``alpha > 1``): pick the LR.
3. The momentum raised every epoch (:func:`momentum_ramp`): pick the momentum.
4-6. Three checks against the chosen constant setting, each with a verdict and its numbers: power LR
   decay (``alpha = (2/3)**(1/M)``), a cyclical LR (bounds 0.5x and 2x the chosen LR), and Adam (at its
   own range-test LR; momentum SGD instead when the task already uses Adam).

Red flags point at bugs rather than at bad hyper-parameters: an initial loss far from ln(classes), a
loss that falls at no LR, accuracy stuck at chance, a model that cannot overfit a tiny batch, and
gradients that vanish or explode.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .._core import ConfigError, Progress, check_positive_int, finite_json
from ..probes import lr_range_test, momentum_ramp
from ..task import DEFAULT_MOMENTUM, DataSplits, Task, TensorSplit, checked_splits, optimizer_info
from ..train import Cost, TrainConfig, TrainResult, train

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LRRamp:
    """Step 2: one run whose LR is raised every epoch; ``chosen_lr`` and why.

    Example:
        >>> import hybridtune as ht
        >>> from hybridtune.diagnostics._procedure import lr_ramp
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> lr_ramp(task, lr_start=1e-3, lr_factor=10, epochs=3, batch_size=32).lrs
        (0.001, 0.01, 0.1)
    """

    lrs: tuple[float, ...]
    train_losses: tuple[float, ...]
    val_losses: tuple[float, ...]
    val_accs: tuple[float, ...]
    chosen_lr: float
    reasoning: str
    status: str
    cost: Cost


@dataclass(frozen=True)
class Check:
    """One of steps 4-6: a variation trained like the baseline, and whether it helps.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.procedure(task, epochs=2, batch_size=32, ramp_epochs=3, momentum_epochs=2)
        >>> r.checks[0].name, isinstance(r.checks[0].helps, bool)
        ('power decay', True)
    """

    name: str
    setting: dict[str, Any]
    baseline_val_acc: float | None
    val_acc: float | None
    baseline_val_loss: float | None
    val_loss: float | None
    helps: bool
    verdict: str
    curve: tuple[float | None, ...]


@dataclass(frozen=True)
class RedFlag:
    """A symptom that points at a bug; ``triggered`` says whether it fired, ``value`` what was measured.

    Example:
        >>> import hybridtune as ht
        >>> from hybridtune.diagnostics._procedure import check_initial_loss
        >>> flag, _ = check_initial_loss(ht.Task(model="mlp", data="synthetic:n=200", device="cpu"))
        >>> flag.name, flag.triggered
        ('initial loss far from ln(classes)', False)
    """

    name: str
    triggered: bool
    value: float | None
    rule: str
    message: str


@dataclass(frozen=True)
class ProcedureResult:
    """Everything the 7-step procedure found, with the chosen setting and the red flags.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.procedure(task, epochs=2, batch_size=32, ramp_epochs=3, momentum_epochs=2)
        >>> len(r.red_flags), r.flagged
        (5, [])
    """

    lr_ramp: LRRamp
    momentum_ramp: Any  # MomentumRamp | None
    lr: float
    momentum: float
    baseline: TrainResult
    checks: tuple[Check, ...]
    red_flags: tuple[RedFlag, ...]
    cost: Cost

    @property
    def flagged(self) -> list[RedFlag]:
        return [f for f in self.red_flags if f.triggered]

    def to_dict(self) -> dict[str, Any]:
        return finite_json({
            "lr": self.lr, "momentum": self.momentum, "lr_ramp": asdict(self.lr_ramp),
            "momentum_ramp": self.momentum_ramp.to_dict() if self.momentum_ramp is not None else None,
            "baseline": self.baseline.to_dict(), "checks": [asdict(c) for c in self.checks],
            "red_flags": [asdict(f) for f in self.red_flags], "cost": self.cost.to_dict()})


# ----------------------------------------------------------------------------------------------
# Step 2: the LR raised every epoch


def lr_ramp(task: Task, *, lr_start: float | None = None, lr_factor: float = math.sqrt(10), epochs: int = 8,
            batch_size: int = 128, momentum: float = 0.9, seed: int = 0) -> LRRamp:
    """Train once with the LR multiplied by ``lr_factor`` every epoch; choose the LR.

    The chosen LR is the one of the epoch with the lowest validation loss, one step back (divided by
    ``lr_factor``): the epoch that did best already profited from the LR before it, and a constant run
    must survive the whole budget at that LR.
    """
    if not lr_factor > 1:
        raise ConfigError(f"lr_factor must be > 1, but got lr_factor={lr_factor}.")
    if epochs < 2:
        raise ConfigError(f"epochs must be >= 2 for a ramp, but got epochs={epochs}.")
    start = lr_start if lr_start is not None else optimizer_info(task.optimizer).ramp_lr
    cfg = TrainConfig(optimizer=task.optimizer, lr=start, momentum=momentum, batch_size=batch_size,
                      epochs=epochs, schedule="power", power_alpha=lr_factor, seed=seed)
    r = train(task, cfg)
    lrs = tuple(start * lr_factor ** (e.epoch - 1) for e in r.epochs)
    vl = [e.val_loss if e.val_loss is not None else math.inf for e in r.epochs]
    if not r.epochs or all(not math.isfinite(v) for v in vl):
        chosen, why = start, f"the first epoch already failed ({r.stop_reason}); keeping the start LR {start:g}"
    else:
        best = min(range(len(vl)), key=lambda i: vl[i])
        if best == len(vl) - 1 and r.status == "completed":
            chosen = lrs[best]
            why = (f"validation loss still fell in the last epoch, at LR {chosen:.3g}: the ramp never reached "
                   f"the top, so its last LR is kept (raise ramp_epochs or lr_start to look higher)")
        else:
            chosen = lrs[best] / lr_factor if best > 0 else lrs[0]
            why = (f"validation loss was lowest ({vl[best]:.4g}) in epoch {best + 1} at LR {lrs[best]:.3g}; "
                   f"one step back: {chosen:.3g}" + (f" (the ramp ended: {r.stop_reason})"
                                                     if r.status != "completed" else ""))
    return LRRamp(lrs=lrs, train_losses=tuple(e.train_loss for e in r.epochs),
                  val_losses=tuple(math.nan if v == math.inf else v for v in vl),
                  val_accs=tuple(e.val_acc if e.val_acc is not None else math.nan for e in r.epochs),
                  chosen_lr=float(chosen), reasoning=why, status=r.status, cost=r.cost)


# ----------------------------------------------------------------------------------------------
# Red flags


def _tiny_task(task: Task, n: int) -> Task:
    t = task.data.train
    if not isinstance(t, TensorSplit):
        x, y = zip(*(t[i] for i in range(min(n, len(t)))))  # type: ignore[arg-type]
        tiny = TensorSplit(torch.stack([torch.as_tensor(v) for v in x]), torch.as_tensor(y))
    else:
        tiny = TensorSplit(t.x[:n], t.y[:n])
    tiny = tiny.to(task.torch_device)
    data = DataSplits(name=f"{task.data.name}[:{n}]", train=tiny, val=tiny, test=tiny,
                      input_shape=task.data.input_shape, num_classes=task.data.num_classes)
    # a few examples of checked data, which may hold one class: not refused as a user's data would be
    return task.replace(data=checked_splits(data))


def check_initial_loss(task: Task, *, seed: int = 0) -> tuple[RedFlag, Cost]:
    """The loss of a fresh model should be about ln(classes): the logits start near uniform."""
    model = task.build_model(seed=seed)
    loss, _, n = task.evaluate(model, limit=512)
    expected = math.log(task.data.num_classes)
    ratio = loss / expected
    bad = not math.isfinite(loss) or ratio > 2.0 or ratio < 0.5
    msg = (f"initial loss {loss:.4g} vs ln({task.data.num_classes}) = {expected:.4g} (x{ratio:.2f})"
           + (": the output layer starts far from uniform (scaled logits, a softmax applied twice, "
              "a wrong loss or label encoding?)" if bad else ""))
    return RedFlag("initial loss far from ln(classes)", bad, loss, "initial loss within 0.5x-2x ln(classes)",
                   msg), Cost(eval_examples=n)


def check_loss_falls(task: Task, *, batch_size: int = 128, seed: int = 0) -> tuple[RedFlag, Cost]:
    """A range test from 1e-7 to 10: if the smoothed loss never falls 10% below its start, nothing learns."""
    rt = lr_range_test(task, batch_size=min(batch_size, len(task.data.train)), seed=seed)  # type: ignore[arg-type]
    finite = [v for v in rt.smoothed if math.isfinite(v)]
    head = [v for v in rt.losses[:10] if math.isfinite(v)]
    if not finite or not head:
        return RedFlag("loss falls at no LR", True, None, "smoothed loss falls >= 10% below its start",
                       f"the range test produced no finite loss ({rt.stopped})"), rt.cost
    start = sum(head) / len(head)
    drop = 1 - min(finite) / start
    bad = drop < 0.10
    msg = (f"over LRs {rt.lrs[0]:.1g}..{rt.lrs[-1]:.3g} the smoothed loss fell at most {drop:.1%} below its start "
           f"{start:.4g}" + (": no LR makes it learn (detached outputs, frozen parameters, labels unrelated "
                             "to inputs?)" if bad else ""))
    return RedFlag("loss falls at no LR", bad, drop, "smoothed loss falls >= 10% below its start", msg), rt.cost


def check_chance(task: Task, result: TrainResult) -> RedFlag:
    """After training, validation accuracy stuck at chance (1/classes, or the majority class's rate of unbalanced
    labels) means the model learnt nothing that transfers."""
    chance = task.chance
    acc = result.best_val_acc
    margin = max(0.05, 0.5 * chance)
    if task.kind == "classification":
        margin = min(margin, 0.5 * (1 - chance))  # a majority rate of 0.8 leaves 0.2 to rise: half of it
    bad = acc is None or acc < chance + margin
    msg = (f"best validation accuracy {acc if acc is None else f'{acc:.4f}'} vs chance {chance:.4f}"
           + (": stuck at chance (shuffled labels, inputs and labels misaligned, a dead network?)" if bad else ""))
    return RedFlag("accuracy stuck at chance", bad, acc, f"best val accuracy >= chance + {margin:.3g}", msg)


def check_overfit_tiny(task: Task, *, n: int = 32, steps: int = 200, seed: int = 0) -> tuple[RedFlag, Cost]:
    """Any model worth training can memorise ``n`` examples: Adam at 3e-3, full batch, ``steps`` steps."""
    tiny = _tiny_task(task, n)
    size = len(tiny.data.train)  # type: ignore[arg-type]
    r = train(tiny, TrainConfig(optimizer="adam", lr=3e-3, batch_size=size, steps=steps, epochs=None,
                                eval_every=0, seed=seed, diverge_factor=None))
    last = r.epochs[-3:] if r.epochs else ()
    acc = min(e.train_acc for e in last) if last else 0.0
    bad = r.status == "diverged" or acc < 1.0
    msg = (f"after {r.cost.steps} full-batch Adam steps on {size} examples, train accuracy {acc:.3f}"
           + (": the model cannot even memorise a tiny batch (inputs not reaching the output, a too-small "
              "head, broken data?)" if bad else ""))
    return RedFlag("cannot overfit a tiny batch", bad, acc, "100% train accuracy on a tiny batch", msg), r.cost


def check_gradients(task: Task, *, batch_size: int = 128, seed: int = 0) -> tuple[RedFlag, Cost]:
    """At initialisation, each weight's gradient norm relative to its own norm, on one batch.

    Vanishing: the smallest ratio is below 1e-5 of the largest (or every ratio below 1e-7).
    Exploding: a non-finite gradient or a ratio above 100.
    """
    model = task.build_model(seed=seed)
    tiny = _tiny_task(task, min(batch_size, len(task.data.train)))  # type: ignore[arg-type]
    x, y = tiny.data.train.x, tiny.data.train.y  # type: ignore[union-attr]
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        loss = task.loss(model(x).float(), y)
        loss.backward()
    ratios = {}
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            g = 0.0 if p.grad is None else float(p.grad.norm())
            ratios[name] = g / (float(p.detach().norm()) + 1e-12)
    model.zero_grad(set_to_none=True)
    cost = Cost(examples=len(y))
    if not ratios:
        return RedFlag("gradients vanish or explode", False, None, "", "no weight matrices to check"), cost
    lo_name, lo = min(ratios.items(), key=lambda kv: kv[1])
    hi_name, hi = max(ratios.items(), key=lambda kv: kv[1])
    if not all(math.isfinite(v) for v in ratios.values()):
        bad, what = True, "non-finite gradients: they explode"
    elif hi > 100:
        bad, what = True, f"|grad|/|w| reaches {hi:.3g} at {hi_name}: gradients explode"
    elif hi < 1e-7 or lo < 1e-5 * hi:
        bad, what = True, (f"|grad|/|w| is {lo:.3g} at {lo_name} against {hi:.3g} at {hi_name}: "
                           f"gradients vanish before they reach the early layers")
    else:
        bad, what = False, f"|grad|/|w| from {lo:.3g} ({lo_name}) to {hi:.3g} ({hi_name})"
    return RedFlag("gradients vanish or explode", bad, hi if math.isfinite(hi) else None,
                   "finite, |grad|/|w| <= 100 and >= 1e-5 x the largest", what), cost


def red_flags(task: Task, *, result: TrainResult | None = None, batch_size: int = 128, seed: int = 0,
              progress: Progress | None = None) -> tuple[tuple[RedFlag, ...], Cost]:
    """Run every red-flag check; ``result`` is a finished training run (one is made when omitted).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> flags, cost = ht.red_flags(task, batch_size=32)
        >>> [f.name for f in flags if f.triggered]
        []
    """
    checks: list[Callable[[], tuple[RedFlag, Cost]]] = [
        lambda: check_initial_loss(task, seed=seed),
        lambda: check_loss_falls(task, batch_size=batch_size, seed=seed),
        lambda: check_overfit_tiny(task, seed=seed),
        lambda: check_gradients(task, batch_size=batch_size, seed=seed),
    ]
    flags: list[RedFlag] = []
    cost = Cost()
    total = len(checks) + 1
    for i, check in enumerate(checks):
        if progress:
            progress("red flags", i, total)
        flag, c = check()
        flags.append(flag)
        cost = cost + c
    if result is None:
        lr = optimizer_info(task.optimizer).peak_lr
        result = train(task, TrainConfig(optimizer=task.optimizer, lr=lr, epochs=2, schedule="onecycle",
                                         batch_size=min(batch_size, len(task.data.train)), seed=seed))  # type: ignore[arg-type]
        cost = cost + result.cost
    flags.insert(2, check_chance(task, result))
    if progress:
        progress("red flags", total, total)
    return tuple(flags), cost


# ----------------------------------------------------------------------------------------------
# The procedure


def _verdict(name: str, setting: dict[str, Any], base: TrainResult, other: TrainResult, margin: float) -> Check:
    b, o = base.best_val_acc, other.best_val_acc
    if other.status == "diverged" or o is None:
        helps, verdict = False, f"{name}: does not help: the run diverged ({other.stop_reason})"
    elif b is None:
        helps, verdict = True, f"{name}: helps: {o:.2%} where the baseline diverged"
    else:
        delta = o - b
        helps = delta >= margin
        word = "helps" if helps else ("hurts" if delta <= -margin else "does not help (no clear difference)")
        verdict = f"{name}: {word}: best val accuracy {o:.2%} vs {b:.2%} ({delta * 100:+.2f} points)"
    return Check(name=name, setting=setting, baseline_val_acc=b, val_acc=o, baseline_val_loss=base.val_loss,
                 val_loss=other.val_loss, helps=helps, verdict=verdict,
                 curve=tuple(e.val_acc for e in other.epochs))


def procedure(task: Task, *, epochs: int = 5, batch_size: int = 128, lr_start: float | None = None,
              lr_factor: float = math.sqrt(10), ramp_epochs: int = 8, momentum_epochs: int = 5,
              margin: float = 0.005, seed: int = 0, progress: Progress | None = None) -> ProcedureResult:
    """The 7-step procedure's steps 2-6 and the red flags, on one task.

    Args:
        task: the model, data and optimizer family.
        epochs: M, the budget of the baseline and of each check (power decay uses ``(2/3)**(1/M)``).
        batch_size: for every run.
        lr_start / lr_factor / ramp_epochs: the LR ramp of step 2.
        momentum_epochs: the momentum ramp of step 3 (skipped for families without a momentum).
        margin: the accuracy gain (0.005 = half a point) a check needs to count as helping.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.procedure(task, epochs=2, batch_size=32, ramp_epochs=3, momentum_epochs=2)
        >>> [c.name for c in r.checks]
        ['power decay', 'cyclical LR', 'adam']
    """
    check_positive_int("epochs", epochs)
    if not 0 <= margin < 1:
        raise ConfigError(f"margin must be in [0, 1), but got margin={margin}.")
    step = lambda name, i: progress and progress(name, i, 6)  # noqa: E731
    step("procedure", 0)
    ramp = lr_ramp(task, lr_start=lr_start, lr_factor=lr_factor, epochs=ramp_epochs, batch_size=batch_size,
                   seed=seed)
    cost = ramp.cost
    lr = ramp.chosen_lr
    step("procedure", 1)
    mramp = None
    info = optimizer_info(task.optimizer)
    momentum = DEFAULT_MOMENTUM  # the momentum ramp replaces it; a family without a momentum ignores it
    if info.cycled is not None and momentum_epochs >= 2:
        mramp = momentum_ramp(task, lr=lr, epochs=momentum_epochs, batch_size=batch_size, seed=seed)
        momentum = mramp.suggested
        cost = cost + mramp.cost
    step("procedure", 2)
    base_cfg = TrainConfig(optimizer=task.optimizer, lr=lr, momentum=momentum, batch_size=batch_size,
                           epochs=epochs, schedule="constant", seed=seed)
    baseline = train(task, base_cfg)
    cost = cost + baseline.cost
    step("procedure", 3)
    alpha = (2 / 3) ** (1 / epochs)
    variants: list[tuple[str, dict[str, Any], Task, TrainConfig]] = [
        ("power decay", {"schedule": "power", "alpha": alpha}, task,
         base_cfg.replace(schedule="power", power_alpha=alpha)),
        ("cyclical LR", {"schedule": "cyclic", "bounds": [0.5 * lr, 2 * lr]}, task,
         base_cfg.replace(schedule="cyclic", cyclic_bounds=(0.5, 2.0))),
    ]
    # the other side of the Adam / SGD divide, at its own range-test LR
    other = optimizer_info("momentum" if info.has_betas else "adam")
    rt = lr_range_test(task, optimizer=other.name, batch_size=batch_size, seed=seed)
    cost = cost + rt.cost
    other_lr = rt.lr_max or other.default_lr
    variants.append((other.name, {"optimizer": other.name, "lr": other_lr, "from": "its own range test"},
                     task.replace(optimizer=other.name),
                     base_cfg.replace(optimizer=other.name, lr=other_lr, momentum=DEFAULT_MOMENTUM)))
    checks = []
    for i, (name, setting, t, cfg) in enumerate(variants):
        r = train(t, cfg)
        cost = cost + r.cost
        checks.append(_verdict(name, setting, baseline, r, margin))
    step("procedure", 5)
    flags, flag_cost = red_flags(task, result=baseline, batch_size=batch_size, seed=seed)
    step("procedure", 6)
    return ProcedureResult(lr_ramp=ramp, momentum_ramp=mramp, lr=lr, momentum=momentum, baseline=baseline,
                           checks=tuple(checks), red_flags=flags, cost=cost + flag_cost)
