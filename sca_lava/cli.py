"""``sca-lava`` command line. User errors (:class:`ScaLavaError`) print one
line to stderr and exit with code 2; nothing else is caught."""

from __future__ import annotations

import argparse
import importlib
import sys

from sca_lava.errors import ScaLavaError

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        print(f"sca-lava {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
