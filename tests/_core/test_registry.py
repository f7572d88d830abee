"""One registry type for every pluggable family: each rejects an unknown name with one line that lists the valid
names and suggests the closest (timm's ``create_model``), at the registry and where a config takes the name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import hybridtune as ht
from hybridtune._core import Registry
from hybridtune.study import PRUNER_REGISTRY, PRUNERS, SAMPLER_REGISTRY, SAMPLERS, pruner_info, sampler_info
from hybridtune.task import OPTIMIZER_REGISTRY, optimizer_info
from hybridtune.train import SCHEDULE_REGISTRY, schedule_info

USER_CODE = " (or module:function / file.py:function)"


def _models() -> str:
    return ", ".join(ht.list_models())


def _datasets() -> str:
    return ", ".join(ht.list_datasets())


# (what is looked up, the bad name, its message); the valid names are read from the registry, in its order
MISSES = [
    ("model", lambda: ht.create_model("resnett", (1, 8, 8), 4),
     lambda: f"model must be one of {_models()}{USER_CODE}, but got 'resnett'. Did you mean 'resnet'?"),
    ("model-registry", lambda: ht.MODELS.get("resnett"),
     lambda: f"model must be one of {_models()}{USER_CODE}, but got 'resnett'. Did you mean 'resnet'?"),
    ("dataset", lambda: ht.load_dataset("mnist5"),
     lambda: f"dataset must be one of {_datasets()}{USER_CODE}, but got 'mnist5'. Did you mean 'mnist5k'?"),
    ("optimizer", lambda: optimizer_info("adamm"),
     lambda: f"optimizer must be one of {', '.join(ht.OPTIMIZERS)}, but got 'adamm'. Did you mean 'adam'?"),
    ("optimizer-registry", lambda: OPTIMIZER_REGISTRY["adamm"],
     lambda: f"optimizer must be one of {', '.join(ht.OPTIMIZERS)}, but got 'adamm'. Did you mean 'adam'?"),
    ("optimizer-config", lambda: ht.TrainConfig(optimizer="adamm"),
     lambda: f"optimizer must be one of {', '.join(ht.OPTIMIZERS)}, but got 'adamm'. Did you mean 'adam'?"),
    ("schedule", lambda: schedule_info("onecycel"),
     lambda: f"schedule must be one of {', '.join(ht.SCHEDULES)}, but got 'onecycel'. Did you mean 'onecycle'?"),
    ("schedule-config", lambda: ht.TrainConfig(schedule="onecycel"),
     lambda: f"schedule must be one of {', '.join(ht.SCHEDULES)}, but got 'onecycel'. Did you mean 'onecycle'?"),
    ("sampler", lambda: sampler_info("tpee"),
     lambda: f"sampler must be one of {', '.join(SAMPLERS)}, but got 'tpee'. Did you mean 'tpe'?"),
    ("sampler-config", lambda: ht.StudyConfig(sampler="tpee"),
     lambda: f"sampler must be one of {', '.join(SAMPLERS)}, but got 'tpee'. Did you mean 'tpe'?"),
    ("pruner", lambda: pruner_info("hyperbnd"),
     lambda: f"pruner must be one of {', '.join(PRUNERS)}, but got 'hyperbnd'. Did you mean 'hyperband'?"),
    ("pruner-config", lambda: ht.StudyConfig(pruner="meidan"),
     lambda: f"pruner must be one of {', '.join(PRUNERS)}, but got 'meidan'. Did you mean 'median'?"),
]


@pytest.mark.parametrize(("lookup", "message"), [m[1:] for m in MISSES], ids=[m[0] for m in MISSES])
def test_every_registry_rejects_an_unknown_name_with_a_suggestion(lookup, message) -> None:
    with pytest.raises(ht.UnknownNameError) as info:
        lookup()
    assert str(info.value) == message()
    assert isinstance(info.value, ht.ConfigError) and "\n" not in str(info.value)


def test_a_name_far_from_every_entry_gets_no_suggestion() -> None:
    with pytest.raises(ht.UnknownNameError, match=r"^pruner must be one of .*, but got 'zzz'\.$"):
        pruner_info("zzz")


@pytest.mark.parametrize("registry", [ht.MODELS, OPTIMIZER_REGISTRY, SCHEDULE_REGISTRY, SAMPLER_REGISTRY,
                                      PRUNER_REGISTRY], ids=lambda r: r.kind)
def test_every_registry_is_the_one_type_and_its_views_agree(registry) -> None:
    assert isinstance(registry, Registry) and len(registry) == len(registry.names()) > 0
    assert list(registry) == registry.names() == registry.keys() == [name for name, _ in registry.items()]
    assert registry.values() == [registry.get(name) for name in registry]
    for name in registry:
        assert name in registry and registry.check(name) == name
        # a record carries its own name (a model factory is registered under one)
        assert getattr(registry[name], "name", name) == name


def test_the_tuples_are_views_of_their_registries_in_registration_order() -> None:
    assert ht.OPTIMIZERS == tuple(OPTIMIZER_REGISTRY) and ht.OPTIMIZERS[:2] == ("sgd", "momentum")
    assert ht.SCHEDULES == tuple(SCHEDULE_REGISTRY) and ht.SCHEDULES[:2] == ("constant", "onecycle")
    assert SAMPLERS == tuple(SAMPLER_REGISTRY) and SAMPLERS[0] == ht.StudyConfig().sampler
    assert PRUNERS == tuple(PRUNER_REGISTRY) and PRUNERS[0] == ht.StudyConfig().pruner
    # models and datasets are listed alphabetically
    assert ht.list_models() == sorted(ht.list_models())


@dataclass(frozen=True)
class _Info:
    name: str


def test_a_registry_of_records_keeps_their_order_and_refuses_a_second_entry_of_a_name() -> None:
    reg = Registry("widget", records=[_Info("b"), _Info("a")], ordered=True)
    assert reg.names() == ["b", "a"] and reg.get("a") == _Info("a")
    with pytest.raises(ht.ConfigError, match=r"^widget names must be unique, but 'a' is already registered\.$"):
        reg.add(_Info("a"))
    assert Registry("widget", records=[_Info("b"), _Info("a")]).names() == ["a", "b"]


def test_user_code_works_only_where_the_family_takes_it(tmp_path) -> None:
    path = tmp_path / "nets.py"
    path.write_text("def tiny(input_shape, num_classes):\n    return 'built'\n")
    models: Registry = Registry("model", user_code=True)
    assert models.resolve(f"{path}:tiny")((1, 8, 8), 4) == "built"
    with pytest.raises(ht.UnknownNameError, match=r"^schedule must be one of constant, but got '.*nets\.py:tiny'\.$"):
        Registry("schedule", records=[_Info("constant")], ordered=True).resolve(f"{path}:tiny")
