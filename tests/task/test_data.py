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
