"""Device selection: ``"auto"`` means CUDA, then MPS, then CPU."""

from __future__ import annotations

import torch

from .._core import ConfigError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a usable ``torch.device``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, but got {device!r}.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} needs CUDA, but no CUDA device is available.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device index must be < {torch.cuda.device_count()}, but got {device!r}.")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {device!r} needs MPS, but MPS is not available.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, but got {device!r}.")
    return dev
