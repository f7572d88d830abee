"""``hybridtune train`` and ``hybridtune list``: one training run with its test score (:func:`fit`), and the
registries."""

from __future__ import annotations

import argparse
from typing import Any

from .._core import ConfigError, redact
from ._common import (BaseCommand, ProgressBars, add_output_options, add_task_options, check_file_path, choices_help,
                      console, fmt, library_default, nonneg_float, num, parse_model_args, positive_float, positive_int,
                      write_json)

#: Flags that are single trainer settings: what the user sets replaces that one value of the library's
#: defaults, the config or the recipe (a flag left unset falls through to them).
_SETTINGS = ("epochs", "steps", "momentum", "weight_decay", "batch_size", "schedule", "target", "target_metric",
             "max_seconds", "seed")
#: Task flags; with a recipe, each one the user sets replaces the recipe's.
_TASK_FLAGS = ("model", "dataset", "optimizer")


class TrainCommand(BaseCommand):
    help = "train once with the one trainer and print a table"
    description = ("Train a model once (the same trainer every phase uses) and print per-epoch loss and "
                   "accuracy, the final test accuracy and the cost. Without --lr the LR comes from the probe "
                   "(cached per task), or from --recipe / --from-study.")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from ..pipeline import FIT_DEFAULTS, TRAIN_ON, fit
        from ..train import SCHEDULE_REGISTRY, TrainConfig

        def default(name: str) -> Any:
            return FIT_DEFAULTS.get(name, library_default(TrainConfig, name))

        add_task_options(p)
        g = p.add_argument_group("recipe (trainer settings from a study or a file; flags replace single values)")
        src = g.add_mutually_exclusive_group()
        src.add_argument("--recipe", metavar="PATH", help="a best.json written by a study, export or --save")
        src.add_argument("--from-study", metavar="NAME", help="the recipe a study chose, read from its storage")
        g.add_argument("--storage", metavar="URL", help="the study's storage (with --from-study)")
        g = p.add_argument_group("training")
        g.add_argument("--epochs", type=positive_int, help=f"epochs to train (default: {default('epochs')})")
        g.add_argument("--steps", type=positive_int, help="a step budget instead of epochs")
        g.add_argument("--lr", type=positive_float,
                       help="learning rate, the peak for onecycle (default: the probe's, cached per task, or the "
                            "recipe's)")
        g.add_argument("--momentum", type=float,
                       help=f"momentum, or Adam's beta1 (default: the probe's, else {num(default('momentum'))})")
        g.add_argument("--weight-decay", type=nonneg_float,
                       help=f"on >=2-D weights only (default: {num(default('weight_decay'))})")
        g.add_argument("--decay-all", action="store_true", help="apply weight decay to every parameter")
        g.add_argument("--batch-size", type=positive_int, help=f"(default: {default('batch_size')})")
        # the range test's sweeps are the probes' own, not offered for training
        schedules = [(s.name, s.description) for s in SCHEDULE_REGISTRY.values() if not s.range_sweep]
        g.add_argument("--schedule", help=", ".join(choices_help(schedules, default("schedule"))))
        g.add_argument("--target", type=float, help="stop at this accuracy, e.g. 0.97")
        metrics = choices_help([("train_acc", ""), ("val_acc", "")], default("target_metric"))
        g.add_argument("--target-metric", help=" or ".join(metrics))
        g.add_argument("--max-seconds", type=positive_float, help="wall-clock budget")
        g.add_argument("--compile", action="store_true", help="torch.compile the model")
        g.add_argument("--train-on", choices=TRAIN_ON, default=library_default(fit, "train_on"),
                       help="train+val trains the final model on both splits (no validation metrics then; "
                            "default: %(default)s)")
        g.add_argument("--save", metavar="PATH", help="write a checkpoint (weights, recipe, metrics) to PATH")
        add_output_options(p)
        # unset task flags and the seed fall through to the recipe's, else to the library's defaults (the help
        # texts above show the latter)
        p.set_defaults(**{k: None for k in (*_TASK_FLAGS, "seed")})

    def take_action(self, args: argparse.Namespace) -> int:
        from rich.table import Table

        from ..pipeline import fit

        con = console(args)
        check_file_path("--json", args.json)
        recipe = _recipe(args)
        task = _task(args, recipe)
        changes = {k: getattr(args, k) for k in _SETTINGS if getattr(args, k) is not None}
        changes.update({k: True for k in ("decay_all", "compile") if getattr(args, k)})
        where = f"recipe {args.recipe}" if args.recipe else f"study {args.from_study}" if args.from_study else ""
        con.print(f"[bold]train[/] {task.model_name} on {task.data.name} "
                  f"({len(task.data.train)} train / {len(task.data.val)} val / {len(task.data.test)} test) "
                  f"with {task.optimizer}, device {task.device}" + (f", settings from {where}" if where else ""))

        def on_epoch(e: Any) -> None:
            if not args.quiet:
                con.print(f"  epoch {e.epoch}: train loss {e.train_loss:.4f} acc {e.train_acc:.4f} | "
                          f"val loss {fmt(e.val_loss)} acc {fmt(e.val_acc)} | {e.seconds:.1f}s")

        with ProgressBars(con) as bars:
            r = fit(task, recipe=recipe, lr=args.lr, train_on=args.train_on, save=args.save, on_epoch=on_epoch,
                    progress=bars, **changes)
        result, cfg = r.result, r.config
        table = Table(title="epochs")
        for col in ("epoch", "train loss", "train acc", "val loss", "val acc", "lr", "seconds"):
            table.add_column(col, justify="right")
        for e in result.epochs:
            table.add_row(str(e.epoch), fmt(e.train_loss), fmt(e.train_acc), fmt(e.val_loss), fmt(e.val_acc),
                          fmt(e.lr, ".3g"), fmt(e.seconds, ".2f"))
        con.print(table)
        if r.priors is not None:
            pc = r.priors.cost
            con.print("probe: cached, no cost now (it cost " if r.cached else "probe: cost ", end="")
            con.print(f"{pc.examples} examples, {pc.steps} steps, {pc.seconds:.1f}s" + (")" if r.cached else ""))
        con.print(f"lr: {r.reason}", soft_wrap=True)
        con.print(f"settings: {cfg.optimizer}, lr {cfg.lr:g}, momentum {cfg.momentum:g}, batch {cfg.batch_size}, "
                  f"weight decay {cfg.weight_decay:g}, {cfg.schedule}, "
                  + (f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs} epochs")
                  + f", seed {cfg.seed}, trained on {r.train_on}")
        c, t = result.cost, r.total_cost
        val = "n/a (trained on train+val)" if r.train_on == "train+val" else fmt(r.val_accuracy)
        con.print(f"status [bold]{result.status}[/] ({result.stop_reason}); val acc {val}; "
                  f"test acc {fmt(r.test_accuracy)}; cost {c.examples} examples, {c.steps} steps, {c.seconds:.1f}s, "
                  f"{c.eval_examples} eval examples" + (f"; with the probe {t.examples} examples, {t.seconds:.1f}s"
                                                       if r.probe_cost.examples else ""))
        if r.checkpoint:
            con.print(f"checkpoint: {r.checkpoint} (load with hybridtune.load_checkpoint)")
        if args.json:
            write_json(args.json, {"command": "train", "task": task.describe(), **r.to_dict()})
            con.print(f"wrote {args.json}")
        return 0


def _recipe(args: argparse.Namespace) -> Any:
    """The recipe of --recipe (a file) or --from-study (a study's storage), or ``None``."""
    from ..train import read_recipe

    if args.storage and not args.from_study:
        raise ConfigError(f"--storage must come with --from-study, but got --storage {redact(args.storage)!r} alone.")
    if args.recipe:
        return read_recipe(args.recipe)
    if args.from_study:
        from ..pipeline import study_recipe

        return study_recipe(args.from_study, storage=args.storage)
    return None


def _task(args: argparse.Namespace, recipe: Any) -> Any:
    """The task of the flags, or the recipe's with the task flags the user set replacing its names
    (:meth:`Recipe.build_task`); a flag left unset falls through to the recipe's, else the library's."""
    from ..task import Task

    given = {"model": args.model, "data": args.dataset, "optimizer": args.optimizer, "device": args.device,
             "model_kwargs": parse_model_args(args.model_arg) if args.model_arg else None, "kind": args.kind,
             "direction": args.direction}
    if recipe is not None:
        return recipe.build_task(**given)
    return Task(**{k: v for k, v in given.items() if v is not None})


class ListCommand(BaseCommand):
    help = "list the registered models, datasets, optimizers and schedules"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_output_options(p)

    def take_action(self, args: argparse.Namespace) -> int:
        from ..task import OPTIMIZERS, list_datasets, list_models
        from ..train import SCHEDULE_REGISTRY

        payload = {"models": list_models(), "datasets": list_datasets(), "optimizers": list(OPTIMIZERS),
                   "schedules": [s.name for s in SCHEDULE_REGISTRY.values() if not s.range_sweep]}
        con = console(args)
        for key, values in payload.items():
            con.print(f"[bold]{key}[/]: {', '.join(values)}")
        if args.json:
            write_json(args.json, payload)
        return 0
