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
