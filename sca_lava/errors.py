"""One exception type for every problem a user can fix (bad file, bad shape,
bad profile, impossible target). The CLI prints its message as one line and
exits with code 2; anything else is a bug and keeps its traceback."""


class ScaLavaError(Exception):
    """A user-facing error whose message is a complete, one-line explanation."""
