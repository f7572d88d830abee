"""Every LR schedule of the registry gets the same test (timm: every model gets a forward and backward pass): it
builds, a short run steps through it, and the LR stays finite and positive."""

from __future__ import annotations

import math

import pytest
import torch

import hybridtune as ht
from hybridtune.train import SCHEDULE_REGISTRY, ScheduleInfo, schedule_info, steps_per_epoch

LR, LR_END = 0.01, 0.1


@pytest.mark.parametrize("name", ht.SCHEDULES)
def test_every_schedule_steps_through_a_short_run_with_a_finite_positive_lr(tiny_task: ht.Task, name: str) -> None:
    info = schedule_info(name)
    assert isinstance(info, ScheduleInfo) and info.name == name
    assert info.description.strip() and "\n" not in info.description
    cfg = ht.TrainConfig(optimizer="momentum", lr=LR, lr_end=LR_END, epochs=3, batch_size=32, schedule=name,
                         eval_every=0, diverge_factor=None, record_steps=True)
    spe = steps_per_epoch(len(tiny_task.data.train), cfg.batch_size)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=0.9)
    scheduler = info.create(opt, cfg, total_steps=3 * spe, steps_per_epoch=spe)
    assert scheduler is None or isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)

    r = ht.train(tiny_task, cfg)
    lrs = r.trace.lrs
    assert r.status == "completed" and r.cost.steps == len(lrs) == 3 * spe
    assert all(math.isfinite(lr) and lr > 0 for lr in lrs)
    # a schedule without a scheduler holds the LR; every other one moves it
    assert (len(set(lrs)) == 1) == (scheduler is None)
    if info.range_sweep:  # from lr to lr_end, both ends hit
        assert (lrs[0], lrs[-1]) == (pytest.approx(LR), pytest.approx(LR_END))


def test_a_range_sweep_needs_lr_end_above_lr() -> None:
    for info in SCHEDULE_REGISTRY.values():
        if info.range_sweep:
            with pytest.raises(ht.ConfigError, match=r"^lr_end must be greater than lr for a range sweep"):
                ht.TrainConfig(lr=1.0, lr_end=0.5, schedule=info.name)
        else:
            ht.TrainConfig(lr=1.0, lr_end=0.5, schedule=info.name)
