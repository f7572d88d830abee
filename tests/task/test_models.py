from __future__ import annotations

import pytest
import torch

import hybridtune as ht

IMAGE_SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8)]
SIGNAL_SHAPES = [(1, 40), (3, 17), (2, 3)]
TOKEN_SHAPES = [(16,), (5,)]
#: The registry's models for 1-D signals (channels, length), for token ids (length,) and those that take any
#: input; every other registry model, and any model added later, is tested on images.
SIGNAL_MODELS = {"cnn1d"}
TOKEN_MODELS = {"seqcnn"}
ANY_INPUT_MODELS = {"mlp"}


def _shapes_for(name: str) -> list[tuple[int, ...]]:
    if name in SIGNAL_MODELS:
        return SIGNAL_SHAPES
    if name in TOKEN_MODELS:
        return TOKEN_SHAPES
    return IMAGE_SHAPES + SIGNAL_SHAPES + TOKEN_SHAPES if name in ANY_INPUT_MODELS else IMAGE_SHAPES


def _cases(fits: bool) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, shape) for name in ht.list_models() for shape in IMAGE_SHAPES + SIGNAL_SHAPES + TOKEN_SHAPES
            if (shape in _shapes_for(name)) == fits]


def _ids(cases: list[tuple[str, tuple[int, ...]]]) -> list[str]:
    return [f"{name}-{'x'.join(map(str, shape))}" for name, shape in cases]


def test_the_shared_model_test_covers_both_kinds_of_input() -> None:
    assert SIGNAL_MODELS | TOKEN_MODELS | ANY_INPUT_MODELS <= set(ht.list_models())
    assert ("seqcnn", (16,)) in _cases(True) and ("seqcnn", (1, 40)) in _cases(False)
    assert ("cnn1d", (1, 40)) in _cases(True) and ("mlp", (1, 40)) in _cases(True)


@pytest.mark.parametrize(("name", "shape"), _cases(True), ids=_ids(_cases(True)))
def test_every_model_forward_backward(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = ht.create_model(name, shape, 7)
    # token models get integer ids (an nn.Embedding cannot take floats); every other model real inputs
    x = torch.randint(0, 20, (4, *shape)) if name in TOKEN_MODELS else torch.randn(4, *shape)
    out = model(x)
    assert out.shape == (4, 7)
    assert torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.arange(4) % 7).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize(("name", "shape"), _cases(False), ids=_ids(_cases(False)))
def test_every_model_refuses_inputs_of_the_other_kind_with_a_config_error(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ht.ConfigError, match=rf"^model {name!r} must get "):
        ht.create_model(name, shape, 7)


@pytest.mark.parametrize("name", ["resnet", "resnet20", "cnn"])
def test_image_models_given_1d_signals_name_the_models_for_them(name: str) -> None:
    with pytest.raises(ht.ConfigError) as err:
        ht.create_model(name, (1, 40), 10)
    assert str(err.value) == (f"model {name!r} must get image inputs (channels, height, width), but got input "
                              f"shape (1, 40); for 1-D signals use cnn1d or mlp.")


def test_cnn1d_given_images_names_the_models_for_them() -> None:
    with pytest.raises(ht.ConfigError) as err:
        ht.create_model("cnn1d", (1, 28, 28), 10)
    assert str(err.value) == ("model 'cnn1d' must get 1-D signals (channels, length), but got input shape "
                              "(1, 28, 28); for images use cnn or resnet.")


def test_resnet_on_mnist1d_is_refused_when_the_task_is_made() -> None:
    # before any command prints or stores anything (the registry model is built once on the meta device)
    with pytest.raises(ht.ConfigError, match=r"^model 'resnet' must get image inputs .* use cnn1d or mlp\.$"):
        ht.Task(model="resnet", data="mnist1d", device="cpu")
    with pytest.raises(ht.ConfigError, match=r"^resnet depth must be one of 8, 14, 20, 32, 56, but got depth=7\.$"):
        ht.Task(model="resnet", data="digits", model_kwargs={"depth": 7}, device="cpu")


def test_cnn1d_weights_and_width() -> None:
    n1 = sum(p.numel() for p in ht.create_model("cnn1d", (1, 40), 10).parameters())
    n2 = sum(p.numel() for p in ht.create_model("cnn1d", (1, 40), 10, width=2).parameters())
    assert n1 == 13754
    assert 3 * n1 < n2 < 4 * n1  # conv-to-conv weights grow quadratically, the first conv and BN linearly
    with pytest.raises(ht.ConfigError, match=r"^model width must be > 0, but got width=0\.0\.$"):
        ht.create_model("cnn1d", (1, 40), 10, width=0)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_cnn1d_learns_mnist1d_in_one_epoch(optimizer: str) -> None:
    task = ht.Task(model="cnn1d", data="mnist1d", optimizer=optimizer, device="cpu")
    lr = 0.1 if optimizer == "momentum" else 3e-3
    r = ht.train(task, ht.TrainConfig(optimizer=optimizer, lr=lr, epochs=1, batch_size=32, seed=0))
    assert r.status == "completed" and r.cost.examples == 3392  # 106 full batches of 32 from 3,400
    assert r.val_acc > 0.5  # chance is 0.1


def test_cnn_has_about_3400_weights_and_width_scales() -> None:
    n1 = sum(p.numel() for p in ht.create_model("cnn", (1, 28, 28), 10).parameters())
    n4 = sum(p.numel() for p in ht.create_model("cnn", (1, 28, 28), 10, width=4).parameters())
    assert n1 == 3424
    assert 8 * n1 < n4 < 20 * n1  # conv2 x fc1 grow quadratically, the rest linearly


@pytest.mark.parametrize("depth", [8, 14, 20, 32, 56])
def test_resnet_depths_have_6n_plus_2_layers(depth: int) -> None:
    model = ht.create_model("resnet", (3, 32, 32), 10, depth=depth)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == depth  # 3x3 convs plus the classifier


def test_resnet_width_multiplier() -> None:
    m = ht.create_model("resnet20", (3, 32, 32), 10, width=2)
    assert m.head.in_features == 128


def test_unknown_model_lists_names_and_suggests() -> None:
    with pytest.raises(ht.UnknownNameError) as err:
        ht.create_model("resnt", (1, 28, 28), 10)
    msg = str(err.value)
    assert "did you mean 'resnet'" in msg.lower()
    assert "cnn" in msg and "mlp" in msg


def test_bad_model_option_is_a_config_error() -> None:
    with pytest.raises(ht.ConfigError, match="depth must be one of 8, 14, 20, 32, 56, but got depth=9"):
        ht.create_model("resnet", (1, 28, 28), 10, depth=9)
    with pytest.raises(ht.ConfigError, match="options must be among its parameters"):
        ht.create_model("cnn", (1, 28, 28), 10, depth=9)


def test_user_model_from_file(tmp_path) -> None:
    f = tmp_path / "nets.py"
    f.write_text("import torch\n"
                 "def tiny(input_shape, num_classes):\n"
                 "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))\n"
                 "def broken(input_shape, num_classes):\n"
                 "    raise RuntimeError('boom')\n")
    m = ht.create_model(f"{f}:tiny", (1, 8, 8), 3)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ht.ModelError, match="factory raised RuntimeError: boom"):
        ht.create_model(f"{f}:broken", (1, 8, 8), 3)
    with pytest.raises(ht.ConfigError, match="has no function 'nope'"):
        ht.create_model(f"{f}:nope", (1, 8, 8), 3)


def _sibling_folder(folder, module: str = "layers") -> None:
    (folder / f"{module}.py").write_text(
        "import math, torch\n"
        "class Block(torch.nn.Module):\n"
        "    def __init__(self, shape, k):\n"
        "        super().__init__()\n"
        "        self.f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(math.prod(shape), k))\n"
        "    def forward(self, x):\n"
        "        return self.f(x)\n")
    (folder / "net.py").write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        f"from {module} import Block\n"
        "@dataclass\n"
        "class Options:\n"
        "    width: int = 1\n"
        "def build(input_shape, num_classes):\n"
        "    return Block(input_shape, num_classes)\n"
        "def build_inside(input_shape, num_classes):\n"
        f"    from {module} import Block as B  # imported when called, after the file was\n"
        "    return B(input_shape, num_classes)\n")


def test_user_model_file_imports_a_module_beside_it(tmp_path, monkeypatch) -> None:
    import sys

    _sibling_folder(tmp_path, "layers_for_test_models")
    monkeypatch.setattr(sys, "path", list(sys.path))  # whatever happens, the suite's path comes back
    monkeypatch.delitem(sys.modules, "layers_for_test_models", raising=False)
    before = list(sys.path)
    m = ht.create_model(f"{tmp_path}/net.py:build", (1, 8, 8), 3)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    assert sys.path == before  # the folder was on sys.path while the file ran, and only then
    # a second reference to the same file reuses the module (one class identity), and a function that
    # imports a sibling when it is called (not yet imported: dropped here) finds it too
    del sys.modules["layers_for_test_models"]
    again = ht.create_model(f"{tmp_path}/net.py:build_inside", (1, 8, 8), 3)
    assert type(again).__name__ == "Block" and sys.path == before
    net = ht.create_model(f"{tmp_path}/net.py:build", (1, 8, 8), 3)
    assert type(net) is type(m)


def test_user_module_reference_finds_the_working_directory(tmp_path, monkeypatch) -> None:
    import os
    import sys

    (tmp_path / "cwd_models_for_test.py").write_text(
        "import torch\n"
        "def build(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))\n")
    monkeypatch.chdir(tmp_path)
    # as under the installed `hybridtune` script, which does not put the working directory on sys.path
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", os.getcwd())])
    monkeypatch.delitem(sys.modules, "cwd_models_for_test", raising=False)
    before = list(sys.path)
    assert ht.create_model("cwd_models_for_test:build", (1, 8, 8), 3)(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    assert sys.path == before


LAZY = ("import torch\n"
        "def build(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.LazyConv2d(4, 3), torch.nn.LazyBatchNorm2d(), torch.nn.ReLU(),\n"
        "                               torch.nn.Flatten(), torch.nn.LazyLinear(num_classes))\n")


def test_task_materialises_lazy_modules_with_a_real_batch(tmp_path) -> None:
    (tmp_path / "lazy.py").write_text(LAZY)
    task = ht.Task(model=f"{tmp_path}/lazy.py:build", data="synthetic:n=200", device="cpu")
    model = task.build_model(seed=1)
    assert not any(torch.nn.parameter.is_lazy(p) for p in model.parameters())
    assert model[4].weight.shape == (4, 4 * 6 * 6)
    assert model.training  # left in train mode, its batch-norm statistics untouched by the pass
    assert torch.equal(model[1].running_mean, torch.zeros(4))
    # the seed decides the lazy layers' weights too
    assert torch.equal(model[4].weight, task.build_model(seed=1)[4].weight)
    assert not torch.equal(model[4].weight, task.build_model(seed=2)[4].weight)


def test_a_lazy_model_that_cannot_run_on_the_data_is_one_model_error(tmp_path) -> None:
    (tmp_path / "lazy.py").write_text(LAZY)
    with pytest.raises(ht.ModelError, match=r"must run on a batch of the data to create its lazy layers, but its "
                                            r"forward pass on inputs of shape \(2, 6\) raised"):
        ht.Task(model=f"{tmp_path}/lazy.py:build", data=(torch.randn(100, 6), torch.arange(100) % 2),
                device="cpu").build_model()
