"""The input contract: what a network was trained on and how its inputs are
made (time steps, encoding, data set and split, input shape, event binning).

It travels with the network so that no command re-supplies it from its own
defaults: in a netx file as attributes of the group ``sca_lava_contract``
(netx reads only ``layer``, so lava-dl still loads the file) and in every
checkpoint under the key ``"contract"``. Commands read it and let a command
line flag that contradicts it win only when the flag was given explicitly
(with a warning). A leaf module (imports only ``errors``), so the training
side can build it without importing the reader.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from sca_lava.errors import ScaLavaError

#: HDF5 group of a netx file that holds the contract as attributes
GROUP = "sca_lava_contract"
#: format version of the attributes (bump on incompatible changes)
VERSION = 1
#: ``encoding`` of data that already are spikes (N-MNIST events, binned)
EVENTS = "events"
ENCODINGS = ("rate-regular", "rate-poisson", EVENTS)
#: the split seed used when none is given (kept apart from the training seed)
DEFAULT_SPLIT_SEED = 0
SEED_MAX = 2**32 - 1
MAX_STEPS = 100_000
MAX_SAMPLES = 10**9
MAX_DIM = 1 << 20


@dataclass(frozen=True)
class InputContract:
    """Fields left None are unknown (e.g. a file exported from Python without
    a data set); ``split_seed`` None means the data set's own fixed split;
    ``validation_size`` N: the last N training samples were held out and
    evaluated on instead of the test split (``test_size`` then counts them)."""

    num_steps: int
    encoding: str
    input_shape: tuple[int, ...]
    dataset: str | None = None
    split_seed: int | None = None
    train_size: int | None = None
    test_size: int | None = None
    bin_width_us: float | None = None  # event data: the time bin (None: unknown, e.g. spikes a user binned)
    encoding_seed: int | None = None
    validation_size: int | None = None  # training samples held out as the evaluation split (DataSplit.hold_out)

    def __post_init__(self):
        self.validate("input contract")

    # --- validation ---------------------------------------------------------
    def validate(self, where: str) -> None:
        def bad(name, why):
            raise ScaLavaError(f"{where}: contract field {name!r} {why}")

        _int(self.num_steps, "num_steps", 1, MAX_STEPS, bad)
        if not isinstance(self.encoding, str) or self.encoding not in ENCODINGS:
            bad("encoding", f"must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")
        shape = self.input_shape
        if not isinstance(shape, tuple) or not 1 <= len(shape) <= 3:
            bad("input_shape", f"must be (C, H, W) or (F,), got {shape!r}")
        for s in shape:
            _int(s, "input_shape", 1, MAX_DIM, bad)
        if self.dataset is not None and (not isinstance(self.dataset, str) or not self.dataset.isprintable()
                                         or not 0 < len(self.dataset) <= 64):
            bad("dataset", f"must be a short printable name, got {ascii(self.dataset)[:80]}")
        for name, hi in (("split_seed", SEED_MAX), ("encoding_seed", SEED_MAX), ("train_size", MAX_SAMPLES),
                         ("test_size", MAX_SAMPLES), ("validation_size", MAX_SAMPLES)):
            value = getattr(self, name)
            if value is not None:
                _int(value, name, 0, hi, bad)
        width = self.bin_width_us
        if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float))
                                  or not math.isfinite(width) or not 0 < width <= 1e9):
            bad("bin_width_us", f"must be a positive number of microseconds, got {width!r}"[:120])
        if self.encoding != EVENTS and self.bin_width_us is not None:
            bad("bin_width_us", "is the time bin of event data; the encoding is not 'events'")

    # --- dict (checkpoints, JSON) -------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d, where: str = "input contract") -> InputContract:
        if not isinstance(d, dict):
            raise ScaLavaError(f"{where}: the input contract must be a mapping, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in set(d) - names)
        if unknown:
            raise ScaLavaError(f"{where}: unknown input contract fields {unknown[:5]}")
        missing = [n for n in ("num_steps", "encoding", "input_shape") if n not in d]
        if missing:
            raise ScaLavaError(f"{where}: the input contract lacks {', '.join(missing)}")
        shape = d["input_shape"]
        if not isinstance(shape, (list, tuple)) or len(shape) > 3:
            raise ScaLavaError(f"{where}: contract field 'input_shape' must be a list of up to 3 sizes, got {shape!r}")
        try:
            return cls(**{**d, "input_shape": tuple(shape)})
        except ScaLavaError as exc:
            raise ScaLavaError(str(exc).replace("input contract", where, 1)) from None

    # --- HDF5 (netx files) --------------------------------------------------
    def write_hdf5(self, h5file) -> None:
        """Store as attributes of ``h5file[GROUP]`` (None fields are left out)."""
        import numpy as np

        group = h5file.require_group(GROUP)
        group.attrs["version"] = VERSION
        for name, value in self.to_dict().items():
            if value is None:
                continue
            group.attrs[name] = np.asarray(value, dtype=np.int64) if name == "input_shape" else value

    @classmethod
    def read_hdf5(cls, h5file, where: str) -> InputContract | None:
        """The contract of an open netx file, None when it carries none."""
        if GROUP not in h5file:
            return None
        import h5py
        import numpy as np

        group = h5file.get(GROUP, getlink=False)
        if not isinstance(group, h5py.Group):
            raise ScaLavaError(f"{where}: {GROUP!r} must be a group")
        attrs = group.attrs
        if len(attrs) > 32:
            raise ScaLavaError(f"{where}: the input contract has too many attributes ({len(attrs)})")
        d = {}
        try:
            version = _plain(attrs["version"]) if "version" in attrs else None
            for key in attrs:
                if key == "version":
                    continue
                value = attrs[key]
                if key == "input_shape":
                    arr = np.asarray(value)
                    if arr.ndim != 1 or arr.size > 3 or arr.dtype.kind not in "iu":
                        raise ScaLavaError(f"{where}: contract field 'input_shape' must be up to 3 integers")
                    d[key] = [int(v) for v in arr]
                else:
                    d[key] = _plain(value)
        except (OSError, TypeError, ValueError) as exc:
            raise ScaLavaError(f"{where}: unreadable input contract ({type(exc).__name__})") from None
        if version != VERSION:
            raise ScaLavaError(f"{where}: input contract version {version!r} is not supported (expected {VERSION})")
        return cls.from_dict(d, where)

    # --- what a command does with it ----------------------------------------
    @property
    def events(self) -> bool:
        return self.encoding == EVENTS


def read_contract(h5file) -> InputContract | None:
    """The contract of an open netx file (what ``read_netx`` calls)."""
    return InputContract.read_hdf5(h5file, str(h5file.filename))


def _plain(value):
    """An HDF5 attribute as a Python scalar (bytes -> str); arrays are refused."""
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8", errors="strict")
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise ValueError("array where a scalar belongs")
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="strict")
    return value


def _int(value, name, lo, hi, bad) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            bad(name, f"must be an integer, got the float {value!r}")
        bad(name, f"must be an integer, got {type(value).__name__} {value!r}"[:120])
    if not lo <= value <= hi:
        bad(name, f"must be in {lo}..{hi}, got {value}")


def from_data(data, num_steps: int, encoding: str, encoding_seed: int | None = None) -> InputContract:
    """The contract of a network trained on ``data`` (a ``DataSplit``)."""
    events = bool(getattr(data, "events", False))
    return InputContract(
        num_steps=int(num_steps),
        encoding=EVENTS if events else encoding,
        input_shape=tuple(int(s) for s in data.input_shape),
        dataset=data.name,
        split_seed=getattr(data, "split_seed", None),
        train_size=len(data.train_x),
        test_size=len(data.test_x),
        bin_width_us=getattr(data, "bin_width_us", None) if events else None,
        encoding_seed=encoding_seed if encoding == "rate-poisson" and not events else None,
        validation_size=getattr(data, "validation_size", None),
    )
