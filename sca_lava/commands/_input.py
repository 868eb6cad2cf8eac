"""User input for ``evaluate``, ``simulate`` and ``budget``: ``--input FILE.npy``
(spikes, or an input layer's bias), ``--labels``, ``--input-shape``,
``--steps``, ``--layout``, read once here for all three commands.

Why a layout option: Intel's arrays (lava-dl's test ground truth) are in
Lava's axis order (x, y, f[, t]) = (W, H, C[, T]) and usually hold one sample
without a batch axis (PilotNet's ``image.npy`` is (200, 66, 3)), while
SLAYER's are (N, C, H, W, T). Both are accepted; the layout defaults to
whichever matches the network's input shape when only one does.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np

from sca_lava.errors import ScaLavaError, warn_silent  # noqa: F401 (the commands import it from here)

LAYOUTS = ("slayer", "lava")
MAX_INPUT_BYTES = 4 << 30  # an .npy input larger than this is refused before reading it
#: bytes per input element while a data set is encoded (the int64 accumulator of rate-regular,
#: its comparison and the uint8 spikes), and per neuron, sample and step in an evaluator batch
#: (float synapse input and output, int64 current, voltage and drive, the spikes kept)
ENCODE_BYTES, BATCH_BYTES, LAVA_BYTES = 10, 48, 12


def add_input_args(p: argparse.ArgumentParser) -> None:
    """The shared input options (``--steps`` too: it sets T for encoded data sets
    and for a bias-driven input)."""
    from sca_lava.commands._common import add_steps_arg

    p.add_argument("--input", default=None, metavar="FILE.npy",
                   help="input from a file instead of a data set: spikes (N, C, H, W, T) / (N, F, T), or, "
                   "for a network whose input layer has a neuron, its bias per sample (N, C, H, W) / (C, H, W); "
                   "Lava's axis order (W, H, C[, T]) is accepted too (see --layout)")
    p.add_argument("--labels", default=None, metavar="FILE.npy",
                   help="class labels (N,) for --input; accuracy is reported only when given")
    p.add_argument("--input-shape", default=None, metavar="C,H,W", type=parse_shape,
                   help="network input shape, for files whose input layer has no shape")
    add_steps_arg(p)
    p.add_argument("--layout", default=None, choices=LAYOUTS,
                   help="axis order of --input: slayer (N, C, H, W[, T]) or lava (W, H, C[, T]) "
                   "(default: whichever matches the network's input shape)")


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be C,H,W or F (positive integers), got {text!r}") from None
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"must be C,H,W or F (positive integers), got {text!r}")
    return shape


def load_npy(path: str, what: str) -> np.ndarray:
    """A plain .npy array (no pickles), refusing FIFOs, devices and huge files first."""
    from sca_lava.atomic import check_input_file

    check_input_file(path, what, MAX_INPUT_BYTES)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ScaLavaError(f"{path}: cannot read {what} as a .npy array ({str(exc).splitlines()[0]})") from None
    if not isinstance(arr, np.ndarray):
        raise ScaLavaError(f"{path}: {what} must be one .npy array, not an archive")
    if arr.dtype.kind not in "biuf":
        raise ScaLavaError(f"{path}: {what} must be numeric, got dtype {arr.dtype}")
    return arr


@dataclass
class UserInput:
    """A drive for the network (SLAYER layout) plus optional labels."""

    spikes: np.ndarray | None
    bias: np.ndarray | None
    steps: int
    labels: np.ndarray | None
    layout: str
    description: str
    settings: dict = field(default_factory=dict)  # data set options, when the input came from one

    @property
    def samples(self) -> int:
        return int((self.spikes if self.spikes is not None else self.bias).shape[0])

    def head(self, n: int | None) -> UserInput:
        """Only the first ``n`` samples."""
        if n is None:
            return self
        cut = slice(0, n)
        return UserInput(None if self.spikes is None else self.spikes[cut],
                         None if self.bias is None else self.bias[cut], self.steps,
                         None if self.labels is None else self.labels[cut], self.layout, self.description,
                         self.settings)


def _candidates(arr: np.ndarray, spec, bias_ok: bool, layout: str | None = None):
    """Every reading of ``arr``: (layout, kind, array in SLAYER layout with the
    network's full input shape)."""
    full = tuple(spec.input_shape)
    shapes = [full]
    if spec.flat_input and len(full) > 1:
        shapes.append((int(np.prod(full)),))  # a flat network input may come flat
    found = {}
    for s in shapes:
        k, sh = len(s), arr.shape
        readings = []
        if arr.ndim == k + 2 and sh[1:-1] == s:
            readings.append(("slayer", "spikes", arr))
        if arr.ndim == k + 1 and sh[:-1] == s:
            readings.append(("slayer", "spikes", arr[None]))
        if bias_ok and arr.ndim == k + 1 and sh[1:] == s:
            readings.append(("slayer", "bias", arr))
        if bias_ok and sh == s:
            readings.append(("slayer", "bias", arr[None]))
        if k > 1:  # Lava: (*L, T), (N, *L, T); bias (*L), (N, *L)
            lava, perm = s[::-1], tuple(range(k - 1, -1, -1))
            if arr.ndim == k + 1 and sh[:-1] == lava:
                readings.append(("lava", "spikes", arr.transpose(*perm, k)[None]))
            if arr.ndim == k + 2 and sh[1:-1] == lava:
                readings.append(("lava", "spikes", arr.transpose(0, *(p + 1 for p in perm), k + 1)))
            if bias_ok and sh == lava:
                readings.append(("lava", "bias", arr.transpose(*perm)[None]))
            if bias_ok and arr.ndim == k + 1 and sh[1:] == lava:
                readings.append(("lava", "bias", arr.transpose(0, *(p + 1 for p in perm))))
        for tag, kind, a in readings:
            if k == 1:
                tag = layout or tag  # one axis reads the same in both orders
            n = a.shape[0]
            a = a.reshape(n, *full, a.shape[-1]) if kind == "spikes" else a.reshape(n, *full)
            found.setdefault((tag, kind, a.shape), (tag, kind, a))
    return list(found.values())


def read_user_input(args, spec, default_steps: int = 16) -> UserInput | None:
    """The drive given by ``--input`` (None without it), checked against ``spec``."""
    if args.input is None:
        if args.labels is not None:
            raise ScaLavaError("--labels needs --input")
        return None
    arr = load_npy(args.input, "the input")
    first = spec.neuron_layers[0]
    bias_ok = first.kind == "input" and first.neuron.model == "lif"
    # static images are encoded as the input contract says (no input neuron to take them as a bias)
    images_ok = not bias_ok and spec.contract is not None and not spec.contract.events
    cands = _candidates(arr, spec, bias_ok or images_ok, args.layout)
    if args.layout:
        cands = [c for c in cands if c[0] == args.layout]
    expected = _expected(spec, bias_ok, images_ok)
    if not cands:
        order = f" in {args.layout} layout" if args.layout else ""
        raise ScaLavaError(f"{args.input}: shape {arr.shape}{order} does not fit the network input; expected {expected}")
    if len({c[0] for c in cands}) > 1:
        raise ScaLavaError(f"{args.input}: shape {arr.shape} reads both in SLAYER and in Lava layout; pass --layout")
    if len(cands) > 1:
        wanted = "bias" if args.steps is not None and bias_ok else "spikes"
        cands = [c for c in cands if c[1] == wanted] or cands[:1]
    layout, kind, a = cands[0]
    labels = None
    if args.labels is not None:
        labels = load_npy(args.labels, "the labels").ravel()
        if labels.size != a.shape[0]:
            raise ScaLavaError(f"{args.labels}: {labels.size} labels for {a.shape[0]} samples")
        if np.any(labels != np.round(labels)) or (labels.size and labels.min() < 0):
            raise ScaLavaError(f"{args.labels}: labels must be non-negative integers")
        labels = labels.astype(np.int64)
    if kind == "spikes":
        if args.steps is not None and args.steps != a.shape[-1]:
            raise ScaLavaError(f"--steps {args.steps} contradicts the {a.shape[-1]} time steps of {args.input}")
        return UserInput(a, None, int(a.shape[-1]), labels, layout,
                         f"{args.input} ({layout} layout, {a.shape[0]} samples x {a.shape[-1]} steps)")
    steps = args.steps or default_steps
    if images_ok:
        from sca_lava.data import encode

        c = spec.contract
        spikes = encode(a.astype(np.float32), steps, c.encoding, seed=c.encoding_seed or 0)
        return UserInput(spikes, None, steps, labels, layout,
                         f"{args.input} ({a.shape[0]} images, {layout} layout, encoded {c.encoding} over T={steps} "
                         "as the file's input contract says)")
    return UserInput(None, a, steps, labels, layout,
                     f"{args.input} (input-layer bias, {layout} layout, {a.shape[0]} samples, T={steps})")


def available_memory() -> int:
    """Bytes this process may still allocate: the kernel's MemAvailable, or
    less where a cgroup (a container) limits the memory."""
    import os

    avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    try:
        with open("/proc/meminfo") as fh:
            avail = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(int(avail), 0)


def check_fits(spec, samples: int, steps: int, batch: int = 128, lava_samples: int = 0) -> None:
    """Refuse, in one line and before anything is allocated, a run of
    ``samples`` x ``steps`` whose arrays cannot fit in memory (the kernel's OOM
    killer would end it without a word): the encoded input, one evaluator
    batch of every layer, and ``lava_samples`` streamed through Lava."""
    inputs = int(np.prod(spec.input_shape)) * steps
    neurons = sum(int(np.prod(ly.in_shape)) + ly.num_neurons for ly in spec.neuron_layers)
    need = samples * inputs * ENCODE_BYTES + min(batch, samples) * steps * neurons * BATCH_BYTES
    need += lava_samples * steps * (int(np.prod(spec.input_shape)) + spec.neuron_layers[-1].num_neurons) * LAVA_BYTES
    have = available_memory()
    if need > have:
        raise ScaLavaError(f"{samples} samples x {steps} steps need about {_gib(need)} of memory, "
                           f"{_gib(have)} is available: use fewer --steps or --samples")


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


def _expected(spec, bias_ok: bool, images_ok: bool = False) -> str:
    s = tuple(spec.input_shape)
    fmt = ", ".join(map(str, s))
    lava = ", ".join(map(str, s[::-1]))
    text = f"spikes (N, {fmt}, T) or, in Lava order, ({lava}, T)"
    if bias_ok:
        text += f"; or an input-layer bias (N, {fmt}) / ({lava})"
    elif images_ok:
        text += f"; or images (N, {fmt}), encoded as the file's input contract says"
    else:
        text += (f"; images (N, {fmt}) only for a file whose input contract says how to encode them "
                 "(sca_lava's exports carry one)")
    return text


def drive_for(args, path: str, split: str = "test", samples: int | None = None, spec=None, *,
              batch: int = 128, lava_samples: int | None = 0):
    """(spec, UserInput) of a command: the netx file read once (with
    ``--input-shape``), then ``--input`` or the data set its input contract
    names (:func:`sca_lava.commands._common.load_inputs`), cut to ``samples``;
    a run too large for memory (:func:`check_fits`, ``lava_samples`` None:
    every sample goes through Lava) is refused before its spikes are made."""
    from sca_lava.commands._common import DEFAULTS, load_inputs

    spec = spec if spec is not None else read_spec(args, path)
    note = dropped_note(spec)
    if note:
        print(note)

    def check(n: int, steps: int) -> None:
        check_fits(spec, n, steps, batch, n if lava_samples is None else min(n, lava_samples))

    steps_default = spec.contract.num_steps if spec.contract is not None else DEFAULTS["steps"]
    user = read_user_input(args, spec, default_steps=steps_default)
    if user is not None:
        user = user.head(samples)
        check(user.samples, user.steps)
        return spec, user
    spikes, y, s = load_inputs(args, spec, split, samples, check=check)
    shape = tuple(spec.input_shape)
    if tuple(spikes.shape[1:-1]) != shape and spec.flat_input and \
            int(np.prod(spikes.shape[1:-1])) == int(np.prod(shape)):
        spikes = spikes.reshape(spikes.shape[0], *shape, spikes.shape[-1])  # a flat network input (C order)
    settings = {"data": s.data, "split": split, "encoding": s.encoding, "split_seed": s.split_seed}
    return spec, UserInput(spikes, None, int(spikes.shape[-1]), y, "slayer",
                           f"{len(y)} {s.data} {split} samples", settings)


def read_spec(args, path: str):
    """The netx file, read once, with ``--input-shape`` when given."""
    from sca_lava.netx import read_netx

    return read_netx(path, input_shape=getattr(args, "input_shape", None))


def dropped_note(spec) -> str | None:
    """One line about trailing layers netx cannot build (None when there are none)."""
    if not spec.dropped:
        return None
    names = ", ".join(f"{i} ({k})" for i, k in spec.dropped)
    return (f"note: layer(s) {names} cannot run in netx/Lava; running layers 0..{spec.num_layers - 1} "
            f"(netx.hdf5.Network(num_layers={spec.num_layers}))")
