"""Checked access to one group of a netx HDF5 file: every dataset a
consumer reads goes through here, typed, finite, integral where netx needs
integers, sized before it is read, links refused (the file checks of the
reader, kept apart from the parsing)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from sca_lava.errors import ScaLavaError
from sca_lava.netx.contract import MAX_DIM

MAX_ELEMENTS = 1 << 27  # one weight/bias/delay dataset (1 GiB as int64)

#: fields netx passes to Lava as stored (no cast): they must be stored as integers
#: (a float ``shape`` makes Lava's runtime wait for ever; Intel's files store them as int64)
NETX_INTEGER_FIELDS = ("shape", "stride", "padding", "dilation", "groups", "iDecay", "vDecay", "vThMant")


@contextmanager
def open_checked(path: str, malformed: str):
    """The root :class:`Fields` of an HDF5 file opened read-only; an unreadable
    file, and any error of h5py or numpy while the body parses it, is a
    one-line error (``malformed``: what the file failed to be)."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError:
        raise ScaLavaError(f"{path}: not a readable HDF5 file (corrupt or wrong format)") from None
    with fh:
        try:
            yield Fields(fh, path)
        except ScaLavaError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, OSError, RuntimeError, AssertionError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ScaLavaError(f"{path}: {malformed} ({msg})") from None


class Fields:
    """Checked access to one group's datasets (``where`` names it in errors)."""

    def __init__(self, group, where: str):
        import h5py

        self.g, self.where, self.h5py = group, where, h5py
        for key in group.keys():
            link = group.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise ScaLavaError(f"{where}: '{key}' is a {type(link).__name__}; netx files hold no links")

    def has(self, key: str) -> bool:
        return key in self.g

    def group(self, key: str, where: str | None = None) -> Fields:
        obj = self.g[key]
        if not isinstance(obj, self.h5py.Group):
            raise ScaLavaError(f"{self.where}: '{key}' must be a group")
        return Fields(obj, where or f"{self.where} {key}")

    def dataset(self, key: str):
        obj = self.g[key]
        if not isinstance(obj, self.h5py.Dataset):
            what = "a group (complex weights are not supported)" if key == "weight" else "a group"
            raise ScaLavaError(f"{self.where}: '{key}' is {what}, expected a dataset")
        if obj.size > MAX_ELEMENTS:
            raise ScaLavaError(f"{self.where}: '{key}' is too large ({obj.size} elements, limit {MAX_ELEMENTS})")
        return obj

    def text(self, key: str) -> str:
        ds = self.dataset(key)
        if ds.size != 1:
            raise ScaLavaError(f"{self.where}: '{key}' must be one string, got {ds.size} values")
        raw = np.asarray(ds[()]).ravel()[0]
        if isinstance(raw, bytes):
            try:
                return raw.decode("ascii")
            except UnicodeDecodeError:
                raise ScaLavaError(f"{self.where}: '{key}' is not ASCII text") from None
        if isinstance(raw, str):
            return raw
        raise ScaLavaError(f"{self.where}: '{key}' must be a string, got {type(raw).__name__}")

    def array(self, key: str, integer: bool = True) -> np.ndarray:
        """A finite real (integer-valued) array; bool counts as integer."""
        ds = self.dataset(key)
        kind = ds.dtype.kind
        if kind not in "biuf":
            raise ScaLavaError(f"{self.where}: '{key}' must be numeric, got dtype {ds.dtype}")
        if key in NETX_INTEGER_FIELDS and kind not in "iu":
            raise ScaLavaError(f"{self.where}: '{key}' is stored as {ds.dtype}; netx hands it to Lava uncast, "
                               "which needs an integer dataset")
        arr = np.asarray(ds[()])
        if kind == "f":
            if not np.all(np.isfinite(arr)):
                raise ScaLavaError(f"{self.where}: '{key}' contains NaN or infinity")
            if integer and np.any(arr != np.round(arr)):
                raise ScaLavaError(f"{self.where}: '{key}' must hold integers (a quantised netx export)")
            if np.any(np.abs(arr) > 2**53):
                raise ScaLavaError(f"{self.where}: '{key}' holds values beyond 2**53")
            if integer:
                arr = arr.astype(np.int64)
        elif kind == "u" and arr.size and int(arr.max()) > 2**62:
            raise ScaLavaError(f"{self.where}: '{key}' holds values beyond 2**62")
        elif kind in "biu":
            arr = arr.astype(np.int64)
        return arr

    def uniform(self, key: str, lo: int, hi: int, what: str) -> int:
        """One integer (a scalar, or a vector of equal values) in lo..hi."""
        arr = self.array(key).ravel()
        if arr.size == 0:
            raise ScaLavaError(f"{self.where}: '{key}' is empty")
        if np.unique(arr).size > 1:
            raise ScaLavaError(f"{self.where}: per-neuron '{key}' values are not supported "
                               f"(netx passes one {what} per layer)")
        value = int(arr[0])
        if not lo <= value <= hi:
            raise ScaLavaError(f"{self.where}: '{key}' = {value} is outside {lo}..{hi} ({what})")
        return value

    def pair(self, key: str, lo: int, hi: int) -> tuple[int, int]:
        arr = self.array(key).ravel()
        if arr.size not in (1, 2):
            raise ScaLavaError(f"{self.where}: '{key}' must be one or two integers, got {arr.size}")
        vals = (int(arr[0]), int(arr[-1]))
        if not all(lo <= v <= hi for v in vals):
            raise ScaLavaError(f"{self.where}: '{key}' = {list(vals)} is outside {lo}..{hi}")
        return vals

    def shape(self, key: str = "shape") -> tuple[int, ...]:
        arr = self.array(key).ravel()
        if arr.size == 0 or arr.size > 3:
            raise ScaLavaError(f"{self.where}: '{key}' must have 1 to 3 entries, got {arr.size}")
        if np.any(arr < 1) or np.any(arr > MAX_DIM):
            raise ScaLavaError(f"{self.where}: '{key}' = {arr.tolist()} must lie in 1..{MAX_DIM}")
        return tuple(int(s) for s in arr)

    def require(self, *keys: str, why: str = "netx requires it") -> None:
        for key in keys:
            if key not in self.g:
                raise ScaLavaError(f"{self.where}: missing '{key}' ({why})")
