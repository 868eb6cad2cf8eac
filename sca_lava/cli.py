"""``sca-lava`` command line. User errors (:class:`ScaLavaError`) print one
line to stderr and exit with code 2; nothing else is caught."""

from __future__ import annotations

import argparse
import importlib
import sys

from sca_lava.errors import Interrupted, ScaLavaError

#: subcommand modules under sca_lava.commands, in --help order
COMMANDS = (
    "train",
    "export",
    "simulate",
    "evaluate",
    "prune",
    "demo",
    "budget",
)


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"sca_lava.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScaLavaError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"sca-lava {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Interrupted as exc:  # a signal during a Lava run; the runtime is already stopped
        print(f"sca-lava {args.command}: interrupted by {exc.name}; Lava runtime stopped", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
