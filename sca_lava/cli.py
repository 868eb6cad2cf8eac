"""``sca-lava`` command line. User errors (:class:`ScaLavaError`) print one
line to stderr and exit with code 2; nothing else is caught (a torchrun
worker prints a bug's traceback and exits 1 through :func:`run`)."""

from __future__ import annotations

import argparse
import importlib
import sys

from sca_lava.errors import Interrupted, ScaLavaError, Stalled

#: subcommand modules under sca_lava.commands, in --help order
COMMANDS = (
    "train",
    "export",
    "import",
    "simulate",
    "evaluate",
    "prune",
    "demo",
    "budget",
)

#: a command whose module has another name ('import' is a Python keyword)
MODULES = {"import": "import_nir"}


class OneLineParser(argparse.ArgumentParser):
    """Option errors as one line (``sca-lava CMD: error: ...``, exit 2), like
    every other user error; ``--help`` still shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sca-lava",
        description="Train spiking CNNs with lava-dl SLAYER, prune them with SCA, "
        "deploy them to Lava and budget them on Loihi-style cores.",
    )
    from sca_lava import __version__

    parser.add_argument("--version", action="version", version=f"sca-lava {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"sca_lava.commands.{MODULES.get(name, name)}").register(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The arguments; an option the command does not know is that command's
    error (``sca-lava COMMAND: error: ...``), not the top-level parser's."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        action.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    try:
        return int(args.func(args) or 0)
    except (ScaLavaError, Stalled) as exc:  # a stalled Lava run is stopped already
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"sca-lava {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Interrupted as exc:  # a signal during a Lava run; the runtime is already stopped
        print(f"sca-lava {args.command}: interrupted by {exc.name}; Lava runtime stopped", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The process entry (``sca-lava``, ``python -m sca_lava``, what torchrun
    starts): exit with :func:`main`'s code. A torchrun worker (WORLD_SIZE > 1)
    flushes its output and leaves with ``os._exit``, skipping interpreter
    teardown: its gloo/NCCL group, DDP's reducer and comm hook are then never
    destroyed while the interpreter finalises (CI saw a worker that never
    exited after its command had returned, in 2 runs; torch's own
    destroy_process_group notes that a dtor running after the interpreter
    waits on Python hooks). Its peers are past their last collective by then."""
    import os

    worker = os.environ.get("WORLD_SIZE", "").strip() not in ("", "1")
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a bug: its traceback, then the same exit as any other
        if not worker:
            raise
        import traceback

        traceback.print_exc()
        code = 1
    if worker:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
