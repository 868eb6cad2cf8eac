"""One exception type for every problem a user can fix (bad file, bad shape,
bad profile, impossible target). The CLI prints its message as one line and
exits with code 2; anything else is a bug and keeps its traceback. Warnings
that must not pass unseen go to stderr as one line too (:func:`warn`)."""

import sys


class ScaLavaError(Exception):
    """A user-facing error whose message is a complete, one-line explanation."""


class Interrupted(BaseException):
    """A termination signal (SIGTERM, SIGHUP, SIGINT) during a Lava run, after
    the runtime was stopped; the CLI exits with 128 + ``signum``. A
    BaseException so that no ``except Exception`` in Lava swallows it."""

    def __init__(self, signum: int):
        import signal

        super().__init__(signum)
        self.signum = int(signum)
        try:
            self.name = signal.Signals(signum).name
        except ValueError:
            self.name = f"signal {signum}"


class Stalled(Interrupted):
    """The Lava runtime made no progress for :attr:`seconds` (no step done,
    every one of its processes idle: a deadlock); the guard stopped it. The
    CLI prints it as a one-line error (exit 2): it is the input or the file,
    not the user, that stopped the run."""

    def __init__(self, signum: int, seconds: float):
        super().__init__(signum)
        self.seconds = float(seconds)

    def __str__(self) -> str:
        return (f"the Lava run made no progress for {self.seconds:.0f} s (every Lava process idle: a deadlock); "
                "runtime stopped (SCA_LAVA_STALL_SECONDS sets the limit)")


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def warn_silent(spikes: list[tuple[str, float]], samples: int, steps: int, depth: int) -> bool:
    """Say loudly (stderr) which layers emitted no spike at all: everything
    after them is silent and the accuracy is chance (an input layer whose
    threshold a binary input never reached gave 9 % and exit 0 without a
    word). ``spikes``: (layer label, spikes or events) per neuron layer;
    ``depth``: neuron layers, to tell a T too short for the input to arrive."""
    silent = [label for label, n in spikes if not n]
    if not silent:
        return False
    why = ("every synapse delays by one step, so the input reaches neuron layer k at step k: "
           f"T={steps} is shorter than the {depth} layers (repeat the input over more steps)" if steps < depth else
           "check the input (its values, --steps, the encoding) against the first silent layer's threshold")
    warn(f"SILENT LAYER: {'layers' if len(silent) > 1 else 'layer'} {', '.join(silent)} emitted no spike in "
         f"{samples} samples x {steps} steps, so no input reaches the output and any accuracy is chance; {why}")
    return True
