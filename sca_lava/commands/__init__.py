"""CLI subcommands: one module per command, each with ``register(subparsers)``
that adds its parser and sets ``func(args) -> int``."""
