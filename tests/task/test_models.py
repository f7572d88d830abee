from __future__ import annotations

import pytest
import torch

import hybridtune as ht

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8)]


@pytest.mark.parametrize("name", ht.list_models())
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_every_model_forward_backward(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = ht.create_model(name, shape, 7)
    x = torch.randn(4, *shape)
    out = model(x)
    assert out.shape == (4, 7)
    assert torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.arange(4) % 7).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname


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
