"""Data loaders and the input encoding."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

from sca_lava.data import encode, load_dataset, load_nmnist, read_nmnist_bin, write_nmnist_bin
from sca_lava.data.datasets import bin_events, stratified_split
from sca_lava.errors import ScaLavaError


def test_mnist5k_split_is_stratified_disjoint_and_deterministic(mnist5k):
    from sca_lava.data import load_mnist5k

    assert mnist5k.train_x.shape == (4000, 1, 28, 28)
    assert mnist5k.test_x.shape == (1000, 1, 28, 28)
    assert np.bincount(mnist5k.train_y).tolist() == [400] * 10
    assert np.bincount(mnist5k.test_y).tolist() == [100] * 10
    assert 0.0 <= mnist5k.train_x.min() and mnist5k.train_x.max() <= 1.0
    again = load_mnist5k(seed=0)
    np.testing.assert_array_equal(again.test_x, mnist5k.test_x)
    # no test digit is also a training digit
    train_keys = {x.tobytes() for x in mnist5k.train_x}
    assert not any(x.tobytes() in train_keys for x in mnist5k.test_x)


def test_stratified_split_other_seed_differs():
    labels = np.repeat(np.arange(3), 10)
    a = stratified_split(labels, 0.2, 0)
    b = stratified_split(labels, 0.2, 1)
    assert sorted(np.bincount(labels[a[1]]).tolist()) == [2, 2, 2]
    assert not np.array_equal(a[1], b[1])


def test_regular_rate_code_counts_and_determinism(rng):
    images = rng.random((5, 1, 6, 7)).astype(np.float32)
    spikes = encode(images, 16)
    assert spikes.shape == (5, 1, 6, 7, 16) and spikes.dtype == np.uint8
    q = np.round(images * 1024).astype(np.int64)
    np.testing.assert_array_equal(spikes.sum(-1), (q * 16) // 1024)
    np.testing.assert_array_equal(encode(images, 16), spikes)
    assert encode(np.ones((1, 1, 2, 2)), 8).sum() == 32
    assert encode(np.zeros((1, 1, 2, 2)), 8).sum() == 0


def test_poisson_code_is_seeded_per_sample(rng):
    images = rng.random((4, 1, 5, 5)).astype(np.float32)
    a = encode(images, 20, "rate-poisson", seed=3)
    np.testing.assert_array_equal(a, encode(images, 20, "rate-poisson", seed=3))
    assert not np.array_equal(a, encode(images, 20, "rate-poisson", seed=4))
    # a sample's spikes do not depend on the batch it is in
    np.testing.assert_array_equal(a[2:], encode(images[2:], 20, "rate-poisson", seed=3, first_index=2))


def test_encoding_rejects_bad_input():
    with pytest.raises(ScaLavaError, match=r"\(N, C, H, W\)"):
        encode(np.zeros((3, 28, 28)), 4)
    with pytest.raises(ScaLavaError, match="unknown encoding"):
        encode(np.zeros((1, 1, 2, 2)), 4, "latency")


def _write_idx(path, array: np.ndarray) -> None:
    codes = {np.uint8: 0x08}
    header = struct.pack(">HBB", 0, codes[np.uint8], array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_disk_in_torchvisions_layout(tmp_path, rng):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train_x = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    test_x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", np.arange(12) % 10)
    _write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(5))
    data = load_dataset("mnist", tmp_path)
    assert data.train_x.shape == (12, 1, 28, 28) and data.test_x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(data.test_x[:, 0] * 255, test_x)
    assert data.test_y.tolist() == [0, 1, 2, 3, 4]


def test_mnist_missing_names_expected_folder(tmp_path):
    with pytest.raises(ScaLavaError, match=r"MNIST/raw"):
        load_dataset("mnist", tmp_path)


def test_cifar10_from_disk(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "labels": [1, 2, 3]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (15, 3, 32, 32) and data.test_x.shape == (3, 3, 32, 32)
    assert data.input_shape == (3, 32, 32)


def test_cifar10_missing_batch_is_named(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(ScaLavaError, match="data_batch_1"):
        load_dataset("cifar10", tmp_path)


def test_nmnist_bin_roundtrip_and_binning(tmp_path):
    x, y, p, t = [0, 33, 5, 5], [1, 2, 33, 33], [0, 1, 1, 1], [0, 8_388_000, 150_000, 299_999]
    path = tmp_path / "a.bin"
    write_nmnist_bin(path, x, y, p, t)
    assert path.stat().st_size == 20  # 40 bits per event
    ev = read_nmnist_bin(path)
    assert ev["x"].tolist() == x and ev["y"].tolist() == y and ev["p"].tolist() == p and ev["t"].tolist() == t
    spikes = bin_events(ev, 10)
    assert spikes.shape == (2, 34, 34, 10)
    assert spikes[0, 1, 0, 0] == 1 and spikes[1, 33, 5, 5] == 1 and spikes[1, 33, 5, 9] == 1
    assert spikes.sum() == 3  # the event at 8.388 s lies outside the 300 ms window


def test_nmnist_folder_loader(tmp_path):
    for part, n in (("Train", 3), ("Test", 2)):
        for digit in range(n):
            folder = tmp_path / part / str(digit)
            folder.mkdir(parents=True)
            write_nmnist_bin(folder / "00001.bin", [digit], [digit], [1], [1000])
    data = load_nmnist(tmp_path, num_steps=5)
    assert data.events and data.train_x.shape == (3, 2, 34, 34, 5)
    assert data.train_y.tolist() == [0, 1, 2] and data.input_shape == (2, 34, 34)


def test_corrupt_nmnist_and_empty_folder(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"123")
    with pytest.raises(ScaLavaError, match="multiple of 5"):
        read_nmnist_bin(bad)
    with pytest.raises(ScaLavaError, match="no N-MNIST"):
        load_nmnist(tmp_path)


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(ScaLavaError, match="unknown data set"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(ScaLavaError, match="--data-root"):
        load_dataset("mnist")
    with pytest.raises(ScaLavaError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nope")


@pytest.mark.parametrize("damage, message", [
    (lambda raw: os.urandom(100), "not an MNIST IDX file"),
    (lambda raw: raw[:30], "the header says"),
    (lambda raw: raw[:4], "not an MNIST IDX file"),
    (lambda raw: b"", "not an MNIST IDX file"),
    (lambda raw: raw + b"\x00", "the header says"),
    (lambda raw: raw[:3] + b"\x02" + raw[4:], "not an MNIST IDX file"),
    (lambda raw: raw[:2] + b"\x0d" + raw[3:], "not an MNIST IDX file"),  # float32 data: torchvision's KeyError
])
def test_garbage_mnist_files_are_one_line_errors(tmp_path, rng, damage, message):
    """Issue 32: garbage under an MNIST --data-root raised torchvision's bare AssertionError."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, arr in (("train-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28))),
                      ("train-labels-idx1-ubyte", np.arange(4)), ("t10k-images-idx3-ubyte", np.zeros((2, 28, 28))),
                      ("t10k-labels-idx1-ubyte", np.arange(2))):
        _write_idx(raw / name, arr)
    target = raw / "train-images-idx3-ubyte"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(ScaLavaError, match=message):
        load_dataset("mnist", tmp_path)


def test_mnist_labels_and_counts_are_checked(tmp_path, rng):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28)))
    _write_idx(raw / "train-labels-idx1-ubyte", np.array([0, 1, 2, 12]))
    _write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(3))
    with pytest.raises(ScaLavaError, match="label 12 is not a digit"):
        load_dataset("mnist", tmp_path)
    _write_idx(raw / "train-labels-idx1-ubyte", np.arange(4))
    with pytest.raises(ScaLavaError, match="2 images but 3 labels"):
        load_dataset("mnist", tmp_path)
    os.mkfifo(raw / "fifo")
    (raw / "t10k-images-idx3-ubyte").unlink()
    os.symlink(raw / "fifo", raw / "t10k-images-idx3-ubyte")
    with pytest.raises(ScaLavaError, match="not a regular file"):
        load_dataset("mnist", tmp_path)
