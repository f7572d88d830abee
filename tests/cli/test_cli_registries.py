"""The CLI's choices and help texts are read from the registries, never typed a second time (in-process through
``main(argv)``, pytest's ``capsys`` reading the output)."""

from __future__ import annotations

import logging
import re

import pytest

import hybridtune as ht
from hybridtune.cli import main
from hybridtune.study import PRUNER_REGISTRY, SAMPLER_REGISTRY
from hybridtune.train import SCHEDULE_REGISTRY


@pytest.fixture(autouse=True)
def _loggers_restored():
    # main() quiets Optuna's and SQLAlchemy's loggers for the process; in-process, the next test gets them back
    loggers = [logging.getLogger(name) for name in ("optuna", "sqlalchemy.pool")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def _help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare with one space


def _choices(text: str, flag: str) -> list[str]:
    return re.search(rf"{flag} \{{([^}}]*)\}}", text).group(1).split(",")


def test_study_help_lists_exactly_the_registries_samplers_and_pruners(capsys, monkeypatch) -> None:
    text = _help(capsys, monkeypatch, "study")
    assert _choices(text, "--sampler") == list(SAMPLER_REGISTRY)
    assert _choices(text, "--pruner") == list(PRUNER_REGISTRY)
    default = ht.StudyConfig()
    for registry, chosen in ((SAMPLER_REGISTRY, default.sampler), (PRUNER_REGISTRY, default.pruner)):
        for info in registry.values():
            note = f"{info.description}, default" if info.name == chosen else info.description
            assert f"{info.name} ({note})" in text


def test_train_help_and_list_name_the_registries_schedules_and_optimizers(capsys, monkeypatch) -> None:
    text = _help(capsys, monkeypatch, "train")
    listed = re.search(r"--schedule SCHEDULE (.*?) --target ", text).group(1)
    offered = []
    for info in SCHEDULE_REGISTRY.values():
        # the range test's sweeps are not offered for training
        assert (f"{info.name} ({info.description}" in listed) == (not info.range_sweep)
        offered += [] if info.range_sweep else [info.name]
    assert f"--optimizer OPTIMIZER {', '.join(ht.OPTIMIZERS)} (default: " in text
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"schedules: {', '.join(offered)}" in out
    assert f"optimizers: {', '.join(ht.OPTIMIZERS)}" in out


@pytest.mark.parametrize(("flag", "bad"), [("--sampler", "tpee"), ("--pruner", "hyperbnd")])
def test_an_unknown_sampler_or_pruner_is_a_usage_error(capsys, flag: str, bad: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["study", flag, bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert f"argument {flag}: invalid choice: '{bad}'" in err and err.count("\n") == 0
