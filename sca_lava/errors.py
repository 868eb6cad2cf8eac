"""One exception type for every problem a user can fix (bad file, bad shape,
bad profile, impossible target). The CLI prints its message as one line and
exits with code 2; anything else is a bug and keeps its traceback."""


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
