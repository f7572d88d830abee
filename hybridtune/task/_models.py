"""Models by name (timm-style registry): CIFAR ResNet, the optimizer x LR sweep's small CNN, a 1-D CNN, an MLP.

Every factory takes ``(input_shape, num_classes, **kwargs)`` and returns an ``nn.Module`` mapping a
batch of inputs to class logits. A user's ``module:function`` / ``file.py:function`` works wherever a
registry name does and receives the same arguments.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .._core import ConfigError, ModelError, Registry
from ._batches import call_model

ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry("model", user_code=True)

RESNET_DEPTHS = (8, 14, 20, 32, 56)


def list_models() -> list[str]:
    """Registry names of the models.

    Example:
        >>> {"resnet", "cnn", "mlp"} <= set(list_models())
        True
    """
    return MODELS.names()


def resolve_model(spec: str | ModelFactory) -> tuple[str, ModelFactory]:
    """Return ``(name, factory)`` for a registry name, a user reference or a callable."""
    if callable(spec):
        return getattr(spec, "__name__", type(spec).__name__), spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"model must be a registry name or a callable, but got {spec!r}.")
    return spec, MODELS.resolve(spec)


def create_model(spec: str | ModelFactory, input_shape: Sequence[int], num_classes: int,
                 **kwargs: Any) -> nn.Module:
    """Build a model for inputs of ``input_shape`` (without the batch axis) and ``num_classes`` classes.

    Args:
        spec: a registry name (see :func:`list_models`), ``module:function``, ``file.py:function``
            or a factory callable.
        input_shape: e.g. ``(1, 28, 28)``.
        num_classes: the number of output logits.
        kwargs: model options, e.g. ``depth=20, width=2.0`` for ``resnet``.

    Example:
        >>> import hybridtune as ht
        >>> m = ht.create_model("cnn", (1, 28, 28), 10)
        >>> sum(p.numel() for p in m.parameters())
        3424
    """
    name, factory = resolve_model(spec)
    shape = tuple(int(s) for s in input_shape)
    try:
        if kwargs and not _accepts_kwargs(factory, kwargs):
            raise ConfigError(f"model {name!r} options must be among its parameters, but got "
                              f"{sorted(kwargs)}.")
        model = factory(shape, int(num_classes), **kwargs)
    except ConfigError:
        raise
    except Exception as exc:
        raise ModelError(f"model {name!r} must build for input {shape} and {num_classes} classes, "
                         f"but its factory raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"model factory {name!r} must return a torch.nn.Module, but returned "
                         f"{type(model).__name__}.")
    return model


def has_lazy_parameters(model: nn.Module) -> bool:
    """True while a lazy module (``nn.LazyLinear``, ``nn.LazyConv2d``...) still waits for its first batch."""
    return any(nn.parameter.is_lazy(t) for t in (*model.parameters(), *model.buffers()))


def materialize(model: nn.Module, inputs: Any, *, name: str) -> nn.Module:
    """Give lazy modules their shapes and initial weights with one forward pass on ``inputs``, a real batch.

    The pass runs without gradients and in eval mode (a batch-norm layer's running statistics are not moved);
    every module's train/eval mode is restored afterwards. A model without lazy modules is returned untouched.
    """
    if not has_lazy_parameters(model):
        return model
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            call_model(model, inputs)
    except Exception as exc:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ModelError(f"model {name!r} must run on a batch of the data to create its lazy layers, but its "
                         f"forward pass on inputs of shape {shape} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        for m, training in modes:
            m.training = training
    return model


def check_trainable(model: nn.Module, *, name: str) -> None:
    """Refuse a model that an optimizer could not change: one without parameters, or with all of them frozen."""
    params = list(model.parameters())
    if any(p.requires_grad for p in params):
        return
    detail = ("it has no parameters" if not params else
              f"all {sum(p.numel() for p in params)} of its weights have requires_grad=False")
    raise ModelError(f"model {name!r} must have trainable parameters, but {detail}.")


def _accepts_kwargs(fn: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(k in params for k in kwargs)


def _check_width(width: float) -> float:
    width = float(width)
    if not width > 0:
        raise ConfigError(f"model width must be > 0, but got width={width}.")
    return width


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _check_image_input(name: str, input_shape: Sequence[int]) -> None:
    """Refuse inputs other than images, naming the models that take them instead."""
    shape = tuple(input_shape)
    if len(shape) == 3:
        return
    hint = "for 1-D signals use cnn1d or mlp" if len(shape) == 2 else "for other inputs use mlp"
    raise ConfigError(f"model {name!r} must get image inputs (channels, height, width), but got input shape "
                      f"{shape}; {hint}.")


# ----------------------------------------------------------------------------------------------
# ResNet (He et al. 2016, the CIFAR variant: 3 stages of n basic blocks, depth = 6n + 2)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # projection shortcut (option B of the paper) where the shape changes
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR-style ResNet: a 3x3 stem, three stages (16, 32, 64 channels x width), global pooling.

    Global average pooling makes it independent of image size; the stem takes any channel count.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, depth: int = 8, width: float = 1.0, *,
                 name: str = "resnet") -> None:
        super().__init__()
        _check_image_input(name, input_shape)
        if depth not in RESNET_DEPTHS:
            raise ConfigError(f"resnet depth must be one of {', '.join(map(str, RESNET_DEPTHS))}, "
                              f"but got depth={depth}.")
        width = _check_width(width)
        n = (depth - 2) // 6
        chans = [_scaled(c, width) for c in (16, 32, 64)]
        self.stem = nn.Sequential(nn.Conv2d(input_shape[0], chans[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(chans[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = chans[0]
        for stage, cout in enumerate(chans):
            for i in range(n):
                layers.append(BasicBlock(cin, cout, 2 if (stage > 0 and i == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@MODELS.register("resnet")
def resnet(input_shape: Sequence[int], num_classes: int, depth: int = 8, width: float = 1.0) -> nn.Module:
    """CIFAR ResNet; ``depth`` in 8/14/20/32/56 (default 8, sized for CPU budgets), ``width`` multiplier."""
    return CifarResNet(input_shape, num_classes, depth=int(depth), width=width)


def _fixed_depth(depth: int) -> ModelFactory:
    def factory(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
        return CifarResNet(input_shape, num_classes, depth=depth, width=width, name=f"resnet{depth}")

    factory.__name__ = f"resnet{depth}"
    factory.__doc__ = f"CIFAR ResNet-{depth} with a width multiplier."
    return factory


for _d in RESNET_DEPTHS:
    MODELS.register(f"resnet{_d}")(_fixed_depth(_d))


# ----------------------------------------------------------------------------------------------
# The optimizer x LR sweep's small CNN: two conv and two dense layers, about 3,400 weights at width 1


class SmallCNN(nn.Module):
    """conv(4) -> pool -> conv(8) -> pool -> dense(18) -> dense(classes), all scaled by ``width``.

    The width factor scales the conv filters and the first dense layer, as in the sweep's size plot, so the weight
    count grows almost linearly. An adaptive pool to 4x4 makes it independent of the image size.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        _check_image_input("cnn", input_shape)
        width = _check_width(width)
        c1, c2, h = _scaled(4, width), _scaled(8, width), _scaled(18, width)
        self.conv1 = nn.Conv2d(input_shape[0], c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
        self.fc1 = nn.Linear(c2 * 16, h)
        self.fc2 = nn.Linear(h, num_classes)
        self._pool_first = min(input_shape[1:]) >= 16  # tiny images (8x8 digits) skip the first pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        if self._pool_first:
            x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.adaptive_max_pool2d(x, 4)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


@MODELS.register("cnn")
def cnn(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
    """The optimizer x LR sweep's small CNN (about 3,400 weights on MNIST at width 1)."""
    return SmallCNN(input_shape, num_classes, width=width)


# ----------------------------------------------------------------------------------------------
# A small 1-D CNN for signals such as MNIST-1D


class Conv1dNet(nn.Module):
    """Three blocks of Conv1d(kernel 5) -> BatchNorm -> ReLU, with max pooling after the first two, then global
    average pooling and a linear head; 16, 32 and 64 channels x ``width``.

    Global pooling makes it independent of the signal's length and position (MNIST-1D's digits are shifted);
    a signal shorter than 4 points skips the pooling it cannot take.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        shape = tuple(input_shape)
        if len(shape) != 2:
            hint = "for images use cnn or resnet" if len(shape) == 3 else "for other inputs use mlp"
            raise ConfigError(f"model 'cnn1d' must get 1-D signals (channels, length), but got input shape "
                              f"{shape}; {hint}.")
        width = _check_width(width)
        layers: list[nn.Module] = []
        cin, length = int(shape[0]), int(shape[1])
        for i, c in enumerate(_scaled(c, width) for c in (16, 32, 64)):
            # no conv bias: the batch norm's shift does its job
            layers += [nn.Conv1d(cin, c, 5, padding=2, bias=False), nn.BatchNorm1d(c), nn.ReLU(inplace=True)]
            if i < 2 and length >= 4:
                layers.append(nn.MaxPool1d(2))
                length //= 2
            cin = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=2))


@MODELS.register("cnn1d")
def cnn1d(input_shape: Sequence[int], num_classes: int, width: float = 1.0) -> nn.Module:
    """A small 1-D CNN for signals of shape (channels, length), e.g. MNIST-1D (about 13,500 weights at width 1)."""
    return Conv1dNet(input_shape, num_classes, width=width)


# ----------------------------------------------------------------------------------------------
# MLP


@MODELS.register("mlp")
def mlp(input_shape: Sequence[int], num_classes: int, hidden: int = 256, layers: int = 2,
        width: float = 1.0) -> nn.Module:
    """Flatten -> ``layers`` x (Linear(hidden x width) -> ReLU) -> Linear(classes)."""
    width = _check_width(width)
    if int(layers) < 0:
        raise ConfigError(f"mlp layers must be >= 0, but got layers={layers}.")
    h = _scaled(int(hidden), width)
    d = math.prod(int(s) for s in input_shape)
    mods: list[nn.Module] = [nn.Flatten()]
    for _ in range(int(layers)):
        mods += [nn.Linear(d, h), nn.ReLU(inplace=True)]
        d = h
    mods.append(nn.Linear(d, num_classes))
    return nn.Sequential(*mods)


# ----------------------------------------------------------------------------------------------
# Token sequences


class SeqCNN(nn.Module):
    """Token ids (B, L) -> embedding -> two 1-D convolutions (kernel 3) -> max over positions -> Linear."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, vocab: int = 512, dim: int = 32,
                 width: float = 1.0) -> None:
        super().__init__()
        if len(tuple(input_shape)) != 1:
            raise ConfigError(f"model 'seqcnn' must get token sequences (length,), but got input shape "
                              f"{tuple(input_shape)}; for images use cnn, for 1-D signals cnn1d.")
        h = _scaled(64, _check_width(width))
        self.vocab = int(vocab)
        self.embed = nn.Embedding(self.vocab, int(dim))
        self.features = nn.Sequential(nn.Conv1d(int(dim), h, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv1d(h, h, 3, padding=1), nn.ReLU(inplace=True))
        self.head = nn.Linear(h, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(self.embed(x.long()).transpose(1, 2))
        return self.head(z.amax(dim=2))


@MODELS.register("seqcnn")
def seqcnn(input_shape: Sequence[int], num_classes: int, vocab: int = 512, dim: int = 32,
           width: float = 1.0) -> nn.Module:
    """A small sequence model for token ids of shape (length,): an embedding (``vocab`` ids of ``dim``), two
    1-D convolutions and a max over positions, so it reads local token order (e.g. the ``tokens`` dataset)."""
    return SeqCNN(input_shape, num_classes, vocab=int(vocab), dim=int(dim), width=width)


def is_conv_net(model: nn.Module) -> bool:
    """True when the model has a 2-D convolution (then channels_last helps on CUDA)."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())
