"""``hybridtune train`` and ``hybridtune list``: one training run with its test score, and the registries."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import (BaseCommand, add_output_options, add_task_options, choices_help, console, fmt,
                      library_default, make_task, nonneg_float, num, positive_float, positive_int, write_json)

#: Where ``train`` departs from :class:`hybridtune.TrainConfig`'s bare defaults: a short 1cycle run with
#: weight decay on the weights, the way the probes and the study train. Every other flag is TrainConfig's.
TRAIN_PRESET: dict[str, Any] = {"epochs": 2, "schedule": "onecycle", "weight_decay": 5e-4}


class TrainCommand(BaseCommand):
    help = "train once with the one trainer and print a table"
    description = ("Train a model once (the same trainer every phase uses) and print per-epoch loss and "
                   "accuracy, the final test accuracy and the cost.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from ..train import TrainConfig

        def default(name: str) -> Any:
            return TRAIN_PRESET.get(name, library_default(TrainConfig, name))

        add_task_options(p)
        g = p.add_argument_group("training")
        g.add_argument("--epochs", type=positive_int, default=default("epochs"),
                       help=f"epochs to train (default: {default('epochs')})")
        g.add_argument("--steps", type=positive_int, help="a step budget instead of epochs")
        g.add_argument("--lr", type=positive_float, default=default("lr"),
                       help=f"learning rate; the peak for onecycle (default: {num(default('lr'))})")
        g.add_argument("--momentum", type=float, default=default("momentum"),
                       help=f"momentum, or Adam's beta1 (default: {num(default('momentum'))})")
        g.add_argument("--weight-decay", type=nonneg_float, default=default("weight_decay"),
                       help=f"on >=2-D weights only (default: {num(default('weight_decay'))})")
        g.add_argument("--decay-all", action="store_true", help="apply weight decay to every parameter")
        g.add_argument("--batch-size", type=positive_int, default=default("batch_size"),
                       help=f"(default: {default('batch_size')})")
        schedules = [(s, "") for s in ("constant", "onecycle", "cyclic", "power", "cosine")]
        g.add_argument("--schedule", default=default("schedule"),
                       help=", ".join(choices_help(schedules, default("schedule"))))
        g.add_argument("--target", type=float, help="stop at this accuracy, e.g. 0.97 (seed 000)")
        metrics = choices_help([("train_acc", ""), ("val_acc", "")], default("target_metric"))
        g.add_argument("--target-metric", default=default("target_metric"), help=" or ".join(metrics))
        g.add_argument("--max-seconds", type=positive_float, help="wall-clock budget")
        g.add_argument("--compile", action="store_true", help="torch.compile the model")
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from rich.table import Table

        from ..train import TrainConfig, train_and_test

        con = console(args)
        config = TrainConfig(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                             weight_decay=args.weight_decay, decay_all=args.decay_all, batch_size=args.batch_size,
                             epochs=args.epochs, steps=args.steps, schedule=args.schedule, target=args.target,
                             target_metric=args.target_metric, max_seconds=args.max_seconds, seed=args.seed,
                             compile=args.compile)
        task = make_task(args)
        con.print(f"[bold]train[/] {task.model_name} on {task.data.name} "
                  f"({len(task.data.train)} train / {len(task.data.val)} val / {len(task.data.test)} test) "
                  f"with {config.optimizer}, lr {config.lr:g}, {config.schedule}, device {task.device}")

        def on_epoch(e: Any) -> None:
            if not args.quiet:
                con.print(f"  epoch {e.epoch}: train loss {e.train_loss:.4f} acc {e.train_acc:.4f} | "
                          f"val loss {fmt(e.val_loss)} acc {fmt(e.val_acc)} | {e.seconds:.1f}s")

        tested = train_and_test(task, config, on_epoch=on_epoch)
        result = tested.result
        table = Table(title="epochs")
        for col in ("epoch", "train loss", "train acc", "val loss", "val acc", "lr", "seconds"):
            table.add_column(col, justify="right")
        for e in result.epochs:
            table.add_row(str(e.epoch), fmt(e.train_loss), fmt(e.train_acc), fmt(e.val_loss), fmt(e.val_acc),
                          fmt(e.lr, ".3g"), fmt(e.seconds, ".2f"))
        con.print(table)
        c = result.cost
        con.print(f"status [bold]{result.status}[/] ({result.stop_reason}); test acc {fmt(tested.test_accuracy)}; "
                  f"cost {c.examples} examples, {c.steps} steps, {c.seconds:.1f}s, {c.eval_examples} eval examples")
        if args.json:
            write_json(args.json, {"command": "train", "task": task.describe(), **result.to_dict(),
                                   "test_loss": tested.test_loss, "test_accuracy": tested.test_accuracy})
            con.print(f"wrote {args.json}")
        return 0


class ListCommand(BaseCommand):
    help = "list the registered models, datasets, optimizers and schedules"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..task import OPTIMIZERS, list_datasets, list_models
        from ..train import SCHEDULES

        payload = {"models": list_models(), "datasets": list_datasets(), "optimizers": list(OPTIMIZERS),
                   "schedules": [s for s in SCHEDULES if not s.startswith("range_")]}
        con = console(args)
        for key, values in payload.items():
            con.print(f"[bold]{key}[/]: {', '.join(values)}")
        if args.json:
            write_json(args.json, payload)
        return 0
