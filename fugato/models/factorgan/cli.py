"""`fugato separate`: split a WAV into vocals and accompaniment with a factorgan-separation run."""

from __future__ import annotations

import argparse

from fugato.cli_common import add_run_options, load_run_of, say


def cmd_separate(args: argparse.Namespace) -> None:
    from fugato.models.factorgan.tools import separate_file

    run = load_run_of(args, "factorgan-separation")
    paths = separate_file(run, args.input, args.out, args.separator, args.seed)
    say(args, f"wrote {', '.join(str(p) for p in paths)}")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato separate`."""
    separate = verbs.add_parser("separate", parents=[common],
                                help="split a WAV into vocals and accompaniment (a "
                                     "factorgan-separation run)")
    separate.add_argument("run", help="a factorgan-separation run folder")
    separate.add_argument("--input", required=True, help="the mixture: a WAV (any rate, "
                          "any channels)")
    separate.add_argument("--out", required=True, help="output folder")
    separate.add_argument("--separator", default=None, help="which trained setting, e.g. "
                          "factorgan/5 or gan/25 (default: FactorGAN with the most pairs)")
    separate.add_argument("--seed", type=int, default=0, help="the generator's noise")
    add_run_options(separate)
    separate.set_defaults(func=cmd_separate)
