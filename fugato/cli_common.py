"""What every command of `fugato` shares: the one-line parser, chatter, loading a run.

The systems' own verbs (`fugato.registry.COMMANDS`) build on these, as the core verbs in
`fugato.cli` do.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NoReturn

from fugato.errors import FugatoError

if TYPE_CHECKING:  # torch loads only when a command needs it
    from fugato.train.run import Run

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's usage block."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def say(args: argparse.Namespace, text: str) -> None:
    """Print `text` unless the command was given --quiet."""
    if not args.quiet:
        print(text)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--checkpoint and --device of a command that loads a run."""
    parser.add_argument("--checkpoint", default="last", choices=("last", "best"))
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 ...")


def load_run_of(args: argparse.Namespace, model: str | None = None) -> Run:
    """The run of `args.run` (`--checkpoint`, `--device`); with `model`, refuse any other."""
    from fugato.registry import canonical
    from fugato.train.run import load_run

    run = load_run(args.run, checkpoint=args.checkpoint, device=args.device or "auto")
    if model is not None and run.config.model != canonical(model):
        raise FugatoError(f"{args.run}: a {run.config.model!r} run, not a {model!r} run")
    return run
