from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

import hybridtune as ht


def _balance(y: torch.Tensor, k: int) -> np.ndarray:
    return np.bincount(y.numpy(), minlength=k) / len(y)


def test_mnist5k_embedded_splits_are_stratified_and_fixed() -> None:
    d = ht.load_dataset("mnist5k")
    assert d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert (len(d.train), len(d.val), len(d.test)) == (3500, 749, 751)
    for split in (d.train, d.val, d.test):
        assert np.allclose(_balance(split.y, 10), 0.1, atol=0.005)
    # standardised with train statistics
    assert abs(float(d.train.x.mean())) < 1e-3 and abs(float(d.train.x.std()) - 1) < 1e-2
    again = ht.load_dataset("mnist5k")  # second load comes from the cache: the same arrays
    assert torch.equal(d.train.x, again.train.x) and torch.equal(d.test.y, again.test.y)


def test_digits() -> None:
    d = ht.load_dataset("digits")
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.train) + len(d.val) + len(d.test) == 1797
    assert np.allclose(_balance(d.val.y, 10), 0.1, atol=0.02)


def test_synthetic_is_configurable_and_seeded() -> None:
    d = ht.load_dataset("synthetic:n=300,shape=3x4x4,classes=3,seed=5")
    assert d.input_shape == (3, 4, 4) and d.num_classes == 3
    assert len(d.train) + len(d.val) + len(d.test) == 300
    assert torch.equal(d.train.x, ht.load_dataset("synthetic:n=300,shape=3x4x4,classes=3,seed=5").train.x)
    assert not torch.equal(d.train.x, ht.load_dataset("synthetic:n=300,shape=3x4x4,classes=3,seed=6").train.x)
    assert ht.load_dataset("synthetic", n=100, classes=2).num_classes == 2


def test_bad_synthetic_arguments() -> None:
    with pytest.raises(ht.ConfigError, match="synthetic classes must be >= 2, but got classes=1"):
        ht.load_dataset("synthetic:classes=1")
    with pytest.raises(ht.ConfigError, match="key=value pairs, but got 'n'"):
        ht.load_dataset("synthetic:n")


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(ht.UnknownNameError, match="Did you mean 'mnist5k'"):
        ht.load_dataset("mnist5")


def _write_cifar(folder, n_per_batch: int = 40) -> None:
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 255, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": list(np.arange(n_per_batch) % 10)}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)


def test_cifar10_folder(tmp_path) -> None:
    _write_cifar(tmp_path)
    d = ht.load_dataset(f"cifar10:{tmp_path}")
    assert d.input_shape == (3, 32, 32) and d.num_classes == 10
    assert len(d.test) == 40 and len(d.train) + len(d.val) == 200
    assert np.allclose(_balance(d.val.y, 10), 0.1)


def test_cifar10_missing_and_malformed(tmp_path) -> None:
    with pytest.raises(ht.DataError, match=r"lacks data_batch_1, .*test_batch"):
        ht.load_dataset(f"cifar10:{tmp_path}")
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ht.DataError, match="data_batch_3' must be a CIFAR-10 python pickle batch"):
        ht.load_dataset(f"cifar10:{tmp_path}")
    with pytest.raises(ht.DataError, match="folder must exist"):
        ht.load_dataset(f"cifar10:{tmp_path / 'nowhere'}")


def _write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)


@pytest.mark.parametrize("kind", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_folders(tmp_path, kind: str, gz: bool) -> None:
    rng = np.random.default_rng(1)
    _write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 255, (100, 28, 28)), gz)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(100) % 10, gz)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 255, (30, 28, 28)), gz)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(30) % 10, gz)
    d = ht.load_dataset(f"{kind}:{tmp_path}")
    assert d.name == kind and d.input_shape == (1, 28, 28) and len(d.test) == 30
    assert len(d.train) == 85 and len(d.val) == 15


def test_idx_missing_and_corrupt(tmp_path) -> None:
    with pytest.raises(ht.DataError, match="lacks train-images-idx3-ubyte"):
        ht.load_dataset(f"mnist:{tmp_path}")
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")  # header cut short
    with pytest.raises(ht.DataError, match="must be a valid IDX file"):
        ht.load_dataset(f"mnist:{tmp_path}")


def test_user_data_function(tmp_path) -> None:
    f = tmp_path / "mydata.py"
    f.write_text("import torch\n"
                 "def pair():\n"
                 "    g = torch.Generator().manual_seed(0)\n"
                 "    return torch.randn(200, 6, generator=g), torch.arange(200) % 4\n"
                 "def datasets():\n"
                 "    from torch.utils.data import TensorDataset\n"
                 "    x, y = torch.randn(64, 6), torch.arange(64) % 2\n"
                 "    return {'train': TensorDataset(x, y), 'val': TensorDataset(x[:16], y[:16]), 'num_classes': 2}\n")
    d = ht.load_dataset(f"{f}:pair")
    assert d.input_shape == (6,) and d.num_classes == 4 and len(d.train) == 140
    d2 = ht.load_dataset(f"{f}:datasets")
    assert not d2.in_memory and d2.num_classes == 2
    # a torch Dataset trains through a DataLoader with the same trainer
    task = ht.Task(model="mlp", data=d2, device="cpu")
    r = ht.train(task, ht.TrainConfig(epochs=1, batch_size=16))
    assert r.status == "completed" and r.cost.examples == 64 and r.cost.eval_examples == 16


def _pair(n: int = 200, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 6, generator=g), torch.arange(n) % k


def test_non_finite_inputs_are_refused_at_load_naming_split_and_count() -> None:
    x, y = _pair()
    x[0, 1] = float("nan")
    x[1, 2] = float("inf")
    split = ht.TensorSplit(x, y)
    with pytest.raises(ht.DataError, match=r"^data must be finite, but the train split has 2 non-finite values in "
                                           r"x\.$"):
        ht.make_splits({"train": split, "val": ht.TensorSplit(x[2:50], y[2:50])})
    with pytest.raises(ht.DataError, match=r"^data must be finite, but the train split has 2 non-finite values in "
                                           r"x and the val split has 1 non-finite value in x\.$"):
        ht.make_splits({"train": split, "val": ht.TensorSplit(x[1:50], y[1:50])})
    with pytest.raises(ht.DataError, match=r"data must be finite, but the (train|val|test) split has"):
        ht.make_splits((x, y))  # one (x, y) pair, split here
    with pytest.raises(ht.DataError, match="data must be finite"):  # a Task given data as a pair
        ht.Task(model="mlp", data=(x, y), device="cpu")
    from torch.utils.data import TensorDataset
    with pytest.raises(ht.DataError, match="the train split has 2 non-finite values"):
        ht.make_splits({"train": TensorDataset(x, y), "val": TensorDataset(x[2:50], y[2:50])})
    with pytest.raises(ht.ConfigError, match=r"synthetic noise must be a finite number >= 0, but got noise='nan'"):
        ht.load_dataset("synthetic:noise=nan")


def test_non_finite_inputs_in_a_user_data_function_are_refused(tmp_path) -> None:
    f = tmp_path / "nandata.py"
    f.write_text("import torch, hybridtune as ht\n"
                 "def splits():\n"
                 "    d = ht.make_splits((torch.randn(200, 6), torch.arange(200) % 4))\n"
                 "    d.test.x[5, 0] = float('nan')\n"
                 "    return d\n")
    with pytest.raises(ht.DataError, match=r"^data must be finite, but the test split has 1 non-finite value in x\.$"):
        ht.load_dataset(f"{f}:splits")


def test_fewer_than_two_classes_is_refused() -> None:
    x, y = _pair()
    with pytest.raises(ht.DataError, match=r"^labels must hold at least 2 classes, but the train split of 'user' "
                                           r"has only class 0\.$"):
        ht.make_splits((x, torch.zeros_like(y)))
    with pytest.raises(ht.DataError, match="has only class 3"):  # a class count given does not change it
        ht.make_splits((x, torch.full_like(y, 3)), num_classes=4)
    with pytest.raises(ht.DataError, match=r"^num_classes must be >= 2, but got num_classes=1\.$"):
        ht.make_splits((x, y), num_classes=1)


def test_labels_outside_a_given_class_count_are_refused_naming_their_range() -> None:
    x, y = _pair()
    with pytest.raises(ht.DataError, match=r"^labels must be class ids in 0\.\.3 \(num_classes=4\), but the val split "
                                           r"has 50 labels outside that range, from 5 to 8\.$"):
        ht.make_splits({"train": (x[:150], y[:150]), "val": (x[150:], y[150:] + 5), "num_classes": 4})
    with pytest.raises(ht.DataError, match=r"^labels must be class ids in 0\.\.2 \(num_classes=3\), but the train "
                                           r"split has 35 labels outside that range, all equal to 3\.$"):
        ht.make_splits((x, y), num_classes=3)
    with pytest.raises(ht.DataError, match=r"^labels must be class ids >= 0, but the train split has 35 labels "
                                           r"outside that range, all equal to -1\.$"):
        ht.make_splits((x, y - 1))


def test_classes_missing_from_inferred_labels_are_a_warning_that_names_them(caplog) -> None:
    x, y = _pair()
    message = ("classes 0-9 never occur in the training labels of 'user'; the task has 14 classes "
               "(the largest label + 1).")
    with pytest.warns(UserWarning) as seen:
        d = ht.make_splits((x, y + 10))
    assert d.num_classes == 14 and [str(w.message) for w in seen] == [message]
    assert seen[0].filename == __file__  # pointed at the caller, not at hybridtune
    assert message in caplog.text  # and logged, for the CLI
    with pytest.warns(UserWarning, match=r"^classes 1, 3-4 never occur"):
        ht.make_splits((x, torch.tensor([0, 2, 5])[y % 3]))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ht.make_splits((x, y + 10), num_classes=14).num_classes == 14  # a count given: no warning
        assert ht.make_splits((x, y)).num_classes == 4


def test_labels_must_be_whole_class_ids_and_classes_large_enough_to_split() -> None:
    x, y = _pair()
    with pytest.raises(ht.DataError, match=r"must be whole-number class ids, but 200 are not \(the first is 0\.5\)"):
        ht.make_splits((x, y.float() + 0.5))
    assert ht.make_splits((x, y.float())).num_classes == 4
    with pytest.raises(ht.DataError, match=r"must be a 1-D tensor of class ids, but got shape \(200, 4\) "
                                           r"\(one-hot labels\? pass labels.argmax\(1\)\)"):
        ht.make_splits((x, torch.nn.functional.one_hot(y)))
    with pytest.raises(ht.DataError, match=r"to split it into train, val and test \(stratified\), but class 2 has "
                                           r"only 1\.$"):
        ht.make_splits((x[:101], torch.cat([torch.zeros(50), torch.ones(50), torch.tensor([2.0])]).long()))


def test_data_splits_given_to_a_task_get_the_same_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from hybridtune.task import _data

    x, y = _pair()
    good = ht.TensorSplit(x[:100], y[:100])
    nan_x = x[100:].clone()
    nan_x[0, 0] = float("nan")

    def splits(train: ht.TensorSplit, name: str = "mine") -> ht.DataSplits:
        return ht.DataSplits(name=name, train=train, val=good, test=good, input_shape=tuple(x.shape[1:]),
                             num_classes=4)

    with pytest.raises(ht.DataError, match=r"^data must be finite, but the train split has 1 non-finite value in x\.$"):
        ht.Task(model="mlp", data=splits(ht.TensorSplit(nan_x, y[100:])), device="cpu")
    with pytest.raises(ht.DataError, match=r"^labels must hold at least 2 classes, but the train split of 'one' has "
                                           r"only class 2\.$"):
        ht.Task(model="mlp", data=splits(ht.TensorSplit(x[100:], torch.full_like(y[100:], 2)), "one"), device="cpu")
    # checked once: replace() hands the same checked splits on without another pass over them
    calls: list[str] = []
    real = _data.check_splits
    monkeypatch.setattr(_data, "check_splits", lambda *a, **k: calls.append(k["name"]) or real(*a, **k))
    task = ht.Task(model="mlp", data=splits(ht.TensorSplit(x[100:], y[100:])), device="cpu")
    task.replace(optimizer="adam").replace(model_kwargs={"width": 2.0})
    assert calls == ["mine"]


def _mnist1d_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("mnist1d")


def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args, **kwargs):
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_mnist1d_is_generated_offline_deterministically_and_cached(tmp_path, monkeypatch) -> None:
    import random
    import sys

    _block_network(monkeypatch)
    for name in [m for m in sys.modules if m == "mnist1d" or m.startswith("mnist1d.")]:
        monkeypatch.delitem(sys.modules, name)  # the package is imported with the network off too
    monkeypatch.chdir(tmp_path)  # where mnist1d's own get_dataset() would leave its pickle
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path / "cache"))
    d = ht.load_dataset("mnist1d")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"mnist1d-{_mnist1d_version()}.npz"]
    assert not list(tmp_path.glob("*.pkl"))
    assert "mnist1d" in ht.list_datasets()
    assert d.input_shape == (1, 40) and d.num_classes == 10
    assert (len(d.train), len(d.val), len(d.test)) == (3400, 600, 1000)  # the package's 4,000 / 1,000, then 85/15
    assert d.train.x.shape == (3400, 1, 40) and d.test.x.shape == (1000, 1, 40)
    assert sorted(torch.unique(d.test.y).tolist()) == list(range(10))
    # validation is stratified: its class balance is that of the training part it came from
    assert np.allclose(_balance(d.val.y, 10), _balance(d.train.y, 10), atol=1 / 600)
    assert abs(float(d.train.x.mean())) < 1e-3 and abs(float(d.train.x.std()) - 1) < 1e-2
    cached = ht.load_dataset("mnist1d")  # from the cache
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path / "fresh"))
    np.random.seed(7)
    random.seed(7)
    regenerated = ht.load_dataset("mnist1d")  # generated again
    # the generator seeds numpy's and random's global RNGs: the caller's streams are as they were
    assert np.random.randint(1 << 30) == np.random.RandomState(7).randint(1 << 30)
    assert random.random() == random.Random(7).random()
    for other in (cached, regenerated):
        for a, b in zip((d.train, d.val, d.test), (other.train, other.val, other.test)):
            assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_a_broken_mnist1d_cache_is_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path))
    good = ht.load_dataset("mnist1d")
    cache = tmp_path / f"mnist1d-{_mnist1d_version()}.npz"  # keyed by the version: a new one regenerates
    cache.write_bytes(b"not an npz file")
    again = ht.load_dataset("mnist1d")
    assert torch.equal(good.train.x, again.train.x)
    with np.load(cache) as f:  # and written again
        assert f["x"].shape == (4000, 40)
