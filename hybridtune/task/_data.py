"""What a dataset is: :class:`DataSplits` of fixed, seeded, stratified train / validation / test splits with
the input shape and class count, :func:`make_splits` for a user's data, and the checks every dataset passes
(finite inputs, at least two classes, labels inside the class count). The loaders by name are in
``_datasets``. Small datasets are kept as tensors (:class:`TensorSplit`) and
batched by index permutation on the training device; a user's torch ``Dataset`` stays a Dataset and
goes through a ``DataLoader``.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset, default_collate

from .._core import ConfigError, DataError, check_choice
from ._metric import KINDS, infer_kind

_log = logging.getLogger(__name__)

#: The fractions of a dataset without its own test set that go to validation and test.
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15
#: Splits are a property of the dataset, not of the training run: one fixed seed.
SPLIT_SEED = 0


@dataclass(frozen=True)
class TensorSplit:
    """One split held as tensors: ``x`` (N, C, H, W) or (N, D) float32 and ``y`` (N,) int64.

    Example:
        >>> import torch
        >>> len(TensorSplit(torch.zeros(5, 3), torch.zeros(5, dtype=torch.long)))
        5"""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise DataError(f"inputs and labels must have the same length, but got "
                            f"{self.x.shape[0]} inputs and {self.y.shape[0]} labels.")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> TensorSplit:
        if self.x.device == torch.device(device):
            return self
        return TensorSplit(self.x.to(device), self.y.to(device))


class LoaderSplit(Dataset):  # type: ignore[type-arg]
    """A user's ``DataLoader`` given as a split: its dataset and its ``collate_fn``. Batches are drawn again
    with each trial's batch size and seed (the batch size is a tuned hyper-parameter), collated the user's
    way; ``len`` is the number of examples, as for every split."""

    def __init__(self, loader: Any) -> None:
        self.dataset = loader.dataset
        self.collate_fn = loader.collate_fn

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i]


class _InputsDataset(Dataset):  # type: ignore[type-arg]
    """``(inputs, targets)`` where the inputs are a tuple or dict of tensors sharing their first axis."""

    def __init__(self, x: Any, y: torch.Tensor) -> None:
        self.x, self.y = x, y
        self.targets = y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> Any:
        if isinstance(self.x, Mapping):
            return {k: v[i] for k, v in self.x.items()}, self.y[i]
        return tuple(v[i] for v in self.x), self.y[i]


def _is_structured(x: Any) -> bool:
    return (isinstance(x, Mapping) and all(isinstance(v, torch.Tensor) for v in x.values())) or (
        isinstance(x, tuple) and len(x) > 0 and all(isinstance(v, torch.Tensor) for v in x))


def _structured_len(x: Any) -> int:
    first = next(iter(x.values())) if isinstance(x, Mapping) else x[0]
    return len(first)


def _index(x: Any, idx: Any) -> Any:
    i = torch.as_tensor(idx)
    if isinstance(x, Mapping):
        return {k: v[i] for k, v in x.items()}
    return tuple(v[i] for v in x)


Split = Union[TensorSplit, Dataset]


@dataclass(frozen=True)
class DataSplits:
    """Train, validation and test splits with what a model factory needs to know.

    Example:
        >>> import hybridtune as ht
        >>> d = ht.load_dataset("synthetic:n=200,classes=4")
        >>> d.input_shape, d.num_classes, len(d.train) + len(d.val) + len(d.test)
        ((1, 8, 8), 4, 200)
    """

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]
    num_classes: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: ``classification`` (class ids; ``num_classes`` logits), ``regression`` or ``multilabel`` (float
    #: targets; ``num_classes`` is then the model's output width, the targets' columns or 1).
    kind: str = "classification"

    @property
    def in_memory(self) -> bool:
        return all(isinstance(s, TensorSplit) for s in (self.train, self.val, self.test))

    def to(self, device: torch.device | str) -> DataSplits:
        """Move tensor splits to ``device`` (Datasets stay where they are and are batched by a DataLoader)."""
        if not self.in_memory:
            return self
        return replace(self, train=self.train.to(device), val=self.val.to(device),  # type: ignore[union-attr]
                       test=self.test.to(device))  # type: ignore[union-attr]

    def subset_train(self, n: int, *, seed: int = SPLIT_SEED) -> DataSplits:
        """A copy whose train split holds ``n`` stratified examples (for probes and tests)."""
        if not isinstance(self.train, TensorSplit):
            raise ConfigError("subset_train needs an in-memory dataset.")
        y = self.train.y.cpu().numpy()
        idx = _stratified_subset(y, n, seed) if self.kind == "classification" else \
            np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
        t = self.train
        i = torch.as_tensor(idx, device=t.x.device)
        return replace(self, train=TensorSplit(t.x[i], t.y[i]))

    def describe(self) -> dict[str, Any]:
        d = {"name": self.name, "input_shape": list(self.input_shape), "num_classes": self.num_classes,
             "train": len(self.train), "val": len(self.val), "test": len(self.test)}  # type: ignore[arg-type]
        if self.kind != "classification":  # a classification task describes itself as before (stored studies)
            d["kind"] = self.kind
        return d


def _stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    if n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def stratified_split(y: np.ndarray, fractions: tuple[float, ...], *, seed: int = SPLIT_SEED) -> list[np.ndarray]:
    """Index arrays for a fixed, seeded, stratified split into parts of the given fractions."""
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(y))
    parts: list[np.ndarray] = []
    remaining = 1.0
    for frac in fractions[:-1]:
        take = frac / remaining
        a, rest = train_test_split(rest, train_size=take, stratify=y[rest], random_state=seed)
        parts.append(np.sort(a))
        remaining -= frac
    parts.append(np.sort(rest))
    return parts


# ----------------------------------------------------------------------------------------------
# User data


def _as_tensor_split(obj: Any, what: str, kind: str) -> Split:
    if isinstance(obj, (TensorSplit, Dataset)):
        return obj
    if isinstance(obj, torch.utils.data.DataLoader):
        return LoaderSplit(obj)
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and _is_structured(obj[0]):
        y = obj[1] if isinstance(obj[1], torch.Tensor) else torch.as_tensor(np.asarray(obj[1]))
        return _InputsDataset(obj[0], as_targets(y, what, kind))
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for v in obj)
        return TensorSplit(as_inputs(x), as_targets(y, what, kind))
    raise DataError(f"{what} must be an (inputs, labels) pair or a torch Dataset, but got {type(obj).__name__}.")


def make_splits(obj: Any, *, name: str = "user", num_classes: int | None = None,
                kind: str | None = None) -> DataSplits:
    """Build :class:`DataSplits` from user data.

    Args:
        obj: one ``(x, y)`` pair of tensors/arrays (split here 70/15/15, stratified), a dict with
            ``train`` / ``val`` / optional ``test`` (each an ``(x, y)`` pair or a torch Dataset), or a
            tuple ``(train, val[, test])`` of those.
        name: a label for reports.
        num_classes: needed only when it cannot be read from the labels (then it is the largest label + 1,
            and class ids that never occur in the training labels are a warning).

    Raises:
        DataError: non-finite inputs, labels that are not class ids in ``0..num_classes-1``, or fewer than
            two classes in the training labels (the message names the split and the count).
        kind: ``classification``, ``regression`` or ``multilabel``; ``None`` reads it from the targets
            (:func:`~hybridtune.task.infer_kind`: integer labels are classes, other float targets regression).

    Example:
        >>> import torch, hybridtune as ht
        >>> x, y = torch.randn(300, 5), torch.arange(300) % 3
        >>> ht.make_splits((x, y)).input_shape
        (5,)
    """
    if kind is not None:
        check_choice("kind", kind, KINDS)
    if isinstance(obj, DataSplits):
        if kind is not None and obj.kind != kind:
            raise DataError(f"kind must match the dataset's targets, but {obj.name!r} is a {obj.kind} dataset and "
                            f"got kind={kind!r}.")
        return obj
    if isinstance(obj, Mapping):
        parts = {k: obj[k] for k in ("train", "val", "test") if k in obj}
        num_classes = int(obj.get("num_classes", num_classes) or 0) or None
    elif isinstance(obj, (tuple, list)) and len(obj) == 2 and _is_structured(obj[0]):
        x = obj[0]
        y = obj[1] if isinstance(obj[1], torch.Tensor) else torch.as_tensor(np.asarray(obj[1]))
        if _structured_len(x) != len(y):
            raise DataError(f"user data inputs and labels must have the same length, but got "
                            f"{_structured_len(x)} and {len(y)}.")
        kind = kind or _kind_of(y)
        y = as_targets(y, "user data labels", kind)
        tr, va, te = _split_pair(y) if kind == "classification" else _random_split(len(y))
        parts = {"train": _InputsDataset(_index(x, tr), y[tr]), "val": _InputsDataset(_index(x, va), y[va]),
                 "test": _InputsDataset(_index(x, te), y[te])}
    elif isinstance(obj, (tuple, list)) and len(obj) in (2, 3) and all(
            isinstance(p, (Dataset, TensorSplit, torch.utils.data.DataLoader))
            or (isinstance(p, (tuple, list)) and len(p) == 2)
            for p in obj) and not isinstance(obj[0], (torch.Tensor, np.ndarray)):
        parts = dict(zip(("train", "val", "test"), obj))
    elif isinstance(obj, (tuple, list)) and len(obj) == 2:
        x = obj[0] if isinstance(obj[0], torch.Tensor) else torch.as_tensor(np.asarray(obj[0]))
        y = obj[1] if isinstance(obj[1], torch.Tensor) else torch.as_tensor(np.asarray(obj[1]))
        if len(x) != len(y):
            raise DataError(f"user data inputs and labels must have the same length, but got {len(x)} and {len(y)}.")
        kind = kind or _kind_of(y)
        y = as_targets(y, "user data labels", kind)
        tr, va, te = _split_pair(y) if kind == "classification" else _random_split(len(y))
        x = as_inputs(x)
        parts = {"train": TensorSplit(x[tr], y[tr]), "val": TensorSplit(x[va], y[va]),
                 "test": TensorSplit(x[te], y[te])}
    else:
        raise DataError(f"user data must be an (x, y) pair, a dict with train/val[/test], or DataSplits, "
                        f"but got {type(obj).__name__}.")
    if "train" not in parts or "val" not in parts:
        raise DataError(f"user data must provide 'train' and 'val' splits, but got {sorted(parts)}.")
    if kind is None:
        first = parts["train"]
        if isinstance(first, torch.utils.data.DataLoader):
            first = LoaderSplit(first)
        y0 = torch.as_tensor(np.asarray(first[1])) if isinstance(first, (tuple, list)) else _tensors_of(first)[1]
        kind = "classification" if y0 is None else _kind_of(y0)
    splits = {k: _as_tensor_split(v, f"user split {k!r}", kind) for k, v in parts.items()}
    splits.setdefault("test", splits["val"])
    x0, _ = _first_example(splits["train"])
    if isinstance(x0, Mapping) or isinstance(x0, (tuple, list)):  # several inputs: the first one's shape
        x0 = torch.as_tensor(next(iter(x0.values())) if isinstance(x0, Mapping) else x0[0])
    num_classes = check_splits(splits, num_classes, name=name, kind=kind)
    return checked_splits(DataSplits(name=name, train=splits["train"], val=splits["val"], test=splits["test"],
                                     input_shape=tuple(int(s) for s in x0.shape), num_classes=int(num_classes),
                                     kind=kind))


def _kind_of(y: Any) -> str:
    return infer_kind(y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y)))


def _random_split(n: int) -> list[np.ndarray]:
    """Seeded train / val / test index arrays for targets that cannot be stratified (regression)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_val, n_test = round(n * VAL_FRACTION), round(n * TEST_FRACTION)
    return [np.sort(order[n_val + n_test:]), np.sort(order[:n_val]), np.sort(order[n_val:n_val + n_test])]


def as_inputs(x: torch.Tensor) -> torch.Tensor:
    """Inputs as a model takes them: floating inputs as float32, integer inputs (token ids for an
    ``nn.Embedding``) left as they are; a cast to float would break the lookup, and scaling ids means nothing.
    Booleans become float32 (0/1 features).

    Example:
        >>> import torch
        >>> as_inputs(torch.tensor([[1, 2]])).dtype, as_inputs(torch.zeros(1, 2, dtype=torch.float64)).dtype
        (torch.int64, torch.float32)
    """
    if x.is_floating_point() or x.dtype == torch.bool:
        return x.float()
    if x.is_complex():
        raise DataError(f"inputs must be real numbers or integer ids, but got dtype {x.dtype}.")
    return x


def _first_example(split: Split) -> tuple[torch.Tensor, Any]:
    if isinstance(split, TensorSplit):
        return split.x[0], split.y[0]
    if isinstance(split, LoaderSplit):  # its items are what its collate_fn makes (inputs, targets) of
        x, y = example_batch(split, 1)
        if isinstance(x, Mapping):
            return {k: v[0] for k, v in x.items()}, y[0]
        return (type(x)(v[0] for v in x) if isinstance(x, (tuple, list)) else x[0]), y[0]
    x, y = split[0]
    return (x if isinstance(x, (Mapping, tuple, list)) else torch.as_tensor(x)), y


def example_inputs(split: Split, n: int = 2) -> Any:
    """The inputs of the first ``n`` examples of ``split`` as one batch, as the trainer would batch them (a
    tensor, or a tuple / dict of tensors for a model of several inputs)."""
    return example_batch(split, n)[0]


def example_batch(split: Split, n: int = 2) -> tuple[Any, torch.Tensor]:
    """The first ``n`` examples of ``split`` as one batch ``(inputs, targets)``, collated as the trainer
    collates them (a user DataLoader's own ``collate_fn``)."""
    if isinstance(split, TensorSplit):
        return split.x[:n], split.y[:n]
    collate = split.collate_fn if isinstance(split, LoaderSplit) else default_collate
    x, y = collate([split[i] for i in range(min(n, len(split)))])  # type: ignore[arg-type]
    return x, torch.as_tensor(y)


# ----------------------------------------------------------------------------------------------
# Checks on data as it is loaded: once per load, each a pass over a tensor at most


def as_targets(y: torch.Tensor, what: str, kind: str = "classification") -> torch.Tensor:
    """Targets as a task of ``kind`` trains on: int64 class ids for classification (see :func:`_as_labels`),
    float32 ``(n,)`` or ``(n, k)`` for regression, float32 0/1 ``(n, k)`` for multi-label."""
    if kind == "classification":
        return _as_labels(y, what)
    if y.dim() not in (1, 2) or (kind == "multilabel" and y.dim() != 2):
        shape = "(n, k) of 0/1 labels" if kind == "multilabel" else "(n,) or (n, k)"
        raise DataError(f"{what} must have shape {shape} for kind={kind!r}, but got shape {tuple(y.shape)}.")
    y = y.float()
    if kind == "multilabel" and not bool(((y == 0) | (y == 1)).all()):
        raise DataError(f"{what} must be 0 or 1 for kind='multilabel', but {int(((y != 0) & (y != 1)).sum())} "
                        f"are not.")
    return y


def _as_labels(y: torch.Tensor, what: str) -> torch.Tensor:
    """Labels as int64 class ids; float labels must be whole numbers (``.long()`` would truncate 2.5 to 2)."""
    if y.dim() != 1:
        raise DataError(f"{what} must be a 1-D tensor of class ids, but got shape {tuple(y.shape)} "
                        f"(one-hot labels? pass labels.argmax(1)).")
    if y.is_floating_point():
        whole = torch.isfinite(y) & (y == y.round())
        if not bool(whole.all()):
            bad = y[~whole]
            raise DataError(f"{what} must be whole-number class ids, but {bad.numel()} are not "
                            f"(the first is {bad[0].item()}); for real-valued targets use kind='regression'.")
    return y.long()


def _split_pair(y: torch.Tensor) -> list[np.ndarray]:
    labels = y.cpu().numpy()
    try:
        return stratified_split(labels, (1 - VAL_FRACTION - TEST_FRACTION, VAL_FRACTION, TEST_FRACTION))
    except ValueError:  # scikit-learn: a class too small to stratify
        ids, counts = np.unique(labels, return_counts=True)
        fewest = ids[counts == counts.min()]
        raise DataError(f"user data must hold a few examples of every class to split it into train, val and "
                        f"test (stratified), but class{'es' if len(fewest) > 1 else ''} "
                        f"{', '.join(map(str, fewest[:5]))} "
                        f"{'has' if len(fewest) == 1 else 'have'} only {counts.min()}.") from None


def _tensors_of(split: Split) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The inputs and labels of a split where they can be read without a pass over a Dataset."""
    if isinstance(split, TensorSplit):
        return split.x, split.y
    if isinstance(split, TensorDataset) and len(split.tensors) == 2:
        return split.tensors[0], split.tensors[1]
    if isinstance(split, LoaderSplit):
        return _tensors_of(split.dataset)
    targets = getattr(split, "targets", None)
    return None, None if targets is None else torch.as_tensor(targets)


#: Set on a DataSplits object once its splits passed :func:`check_splits` (not a field: a copy made with
#: ``dataclasses.replace`` holds other splits and is checked again).
_CHECKED = "_hybridtune_checked"


def check_data(data: DataSplits) -> DataSplits:
    """:func:`check_splits` on a :class:`DataSplits` given as it is (``Task(data=splits)``), once per object:
    ``Task.replace`` hands the same checked object on without another pass over it."""
    if not getattr(data, _CHECKED, False):
        check_splits({"train": data.train, "val": data.val, "test": data.test}, data.num_classes, name=data.name,
                     kind=data.kind)
    return checked_splits(data)


def checked_splits(data: DataSplits) -> DataSplits:
    """Mark ``data`` as checked and return it. For hybridtune's own DataSplits only: those it has just checked,
    and subsets or joins of a checked task's splits (the diagnostics' few-example tasks may hold one class,
    which :func:`check_splits` rightly refuses from a user)."""
    object.__setattr__(data, _CHECKED, True)
    return data


def check_splits(splits: Mapping[str, Split], num_classes: int | None, *, name: str,
                 kind: str = "classification") -> int:
    """Refuse data that cannot train, naming the split and the count; return the class count.

    1. Inputs must be finite (a NaN would otherwise read as "diverged at step 0" at every LR).
    2. Labels must be class ids in ``0..num_classes-1``; without a given ``num_classes`` it is the largest
       label + 1, and class ids missing from the training labels are a warning that names them.
    3. The training labels must hold at least 2 classes (one class trains to "accuracy 1" on nothing).

    A Dataset's inputs are not read (that would be a pass over it); its labels are, from ``.targets``.

    Example:
        >>> import torch
        >>> s = TensorSplit(torch.tensor([[0.0], [float("nan")]]), torch.tensor([0, 1]))
        >>> check_splits({"train": s}, 2, name="demo")
        Traceback (most recent call last):
        ...
        hybridtune._core._errors.DataError: data must be finite, but the train split has 1 non-finite value in x.
    """
    seen: set[int] = set()
    parts: list[tuple[str, torch.Tensor | None, torch.Tensor | None]] = []
    for key, split in splits.items():
        if id(split) not in seen:  # test defaults to val: one check
            seen.add(id(split))
            parts.append((key, *_tensors_of(split)))
    bad = [f"the {key} split has {n} non-finite value{'s' if n != 1 else ''} in x"
           for key, x, _ in parts if x is not None and (n := _count_non_finite(x))]
    if bad:
        raise DataError(f"data must be finite, but {' and '.join(bad)}.")
    labels = [(key, y) for key, _, y in parts if y is not None and y.numel()]
    if kind != "classification":
        bad = [f"the {key} split has {n} non-finite target{'s' if n != 1 else ''}"
               for key, y in labels if (n := _count_non_finite(y))]
        if bad:
            raise DataError(f"targets must be finite, but {' and '.join(bad)}.")
        if num_classes is not None:
            return int(num_classes)
        if not labels:
            raise DataError(f"a {kind} Dataset must expose .targets or the data dict must give 'num_classes' (the "
                            f"model's output width).")
        y = labels[0][1]
        return int(y.shape[1]) if y.dim() == 2 else 1
    given = num_classes is not None
    if not given:
        if not labels:
            raise DataError("user Dataset must expose .targets or the data dict must give 'num_classes'.")
        num_classes = max(int(y.max()) for _, y in labels) + 1
    k = int(num_classes)  # type: ignore[arg-type]
    if given and k < 2:
        raise DataError(f"num_classes must be >= 2, but got num_classes={k}.")
    for key, y in labels:
        out = y[(y < 0) | (y >= k)]
        if out.numel():
            rule = f"class ids in 0..{k - 1} (num_classes={k})" if given else "class ids >= 0"
            lo, hi = int(out.min()), int(out.max())
            values = f"all equal to {lo}" if lo == hi else f"from {lo} to {hi}"
            raise DataError(f"labels must be {rule}, but the {key} split has {out.numel()} label"
                            f"{'s' if out.numel() != 1 else ''} outside that range, {values}.")
    train = next((y for key, y in labels if key == "train"), None)
    if train is not None:
        present = torch.unique(train).tolist()
        if len(present) < 2:
            raise DataError(f"labels must hold at least 2 classes, but the train split of {name!r} has only "
                            f"class {present[0]}.")
        missing = sorted(set(range(k)) - set(present))
        if missing and not given:
            _warn(f"class{'es' if len(missing) > 1 else ''} {_id_ranges(missing)} never "
                  f"occur{'' if len(missing) > 1 else 's'} in the training labels of {name!r}; the task has {k} "
                  f"classes (the largest label + 1).")
    return k


def _count_non_finite(x: torch.Tensor) -> int:
    if not (x.is_floating_point() or x.is_complex()):
        return 0
    finite = torch.isfinite(x)
    return 0 if bool(finite.all()) else int(finite.numel() - finite.sum())


def _id_ranges(ids: list[int], *, most: int = 6) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"`` (at most ``most`` runs, then how many more)."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:most]]
    if len(runs) > most:
        text.append(f"and {sum(b - a + 1 for a, b in runs[most:])} more")
    return ", ".join(text)


def _warn(message: str) -> None:
    """A warning for both audiences: the log, which the CLI shows, and ``warnings``, where an API user looks,
    pointed at the first caller outside hybridtune. Under the CLI the log line is enough (a second copy would
    point at no user code)."""
    _log.warning(message)
    package = Path(__file__).resolve().parents[1]
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is _warn's caller, frame 1 here
    while frame is not None:
        name = frame.f_code.co_filename
        path = Path(name).resolve()
        # generated code (a dataclass's __init__ is "<string>") belongs to whoever called it
        generated = name.startswith("<") and frame.f_back is not None
        if not (generated or path.is_relative_to(package)):
            break
        if path.is_relative_to(package / "cli"):
            return
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(message, UserWarning, stacklevel=level)
