"""What every command of `fugato` shares: the one-line parser, chatter, loading a run.

The systems' own verbs (`fugato.registry.COMMANDS`) build on these, as the core verbs in
`fugato.cli` do.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from fugato.errors import FugatoError

if TYPE_CHECKING:  # torch loads only when a command needs it
    from fugato.train.run import Run

EXIT_BAD_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's usage block."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type for a count or an index: a whole number of at least `minimum`, so that
    `-n -1` is a one-line usage error (exit 2) instead of a traceback deep in the model."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


COUNT = at_least(1)
"""-n, --steps, --jobs, --threads, --workers."""
INDEX = at_least(0)
"""--bar and the like."""


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{value:g} seconds: expected a positive length")
    return value


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
    run.task.progress = not args.quiet
    return run
