"""`fugato arvae traverse` and `fugato arvae interpolate`: AR-VAE's attribute tools."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, cast

from fugato.cli_common import COUNT, INDEX, add_run_options, load_run_of, say

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE


def cmd_traverse(args: argparse.Namespace) -> None:
    from fugato.models.arvae.tools import attribute_dim, input_bar, traverse

    run = load_run_of(args, "arvae")
    task = cast("ARVAE", run.task)  # load_run_of refused any other model
    for attribute in args.attribute:  # every name checked before anything is written
        attribute_dim(task, attribute)
    bars = None if args.random else input_bar(task, args.input, args.bar)
    for attribute in args.attribute:  # one process for all: the model loads once
        paths = traverse(run, attribute, args.out, bars=bars, steps=args.steps,
                         value_range=(args.range[0], args.range[1]), seed=args.seed)
        say(args, f"wrote {len(paths) - 1} MIDI files and {paths[-1]}")


def cmd_interpolate(args: argparse.Namespace) -> None:
    from fugato.models.arvae.tools import input_bar, interpolate

    run = load_run_of(args, "arvae")
    task = cast("ARVAE", run.task)  # load_run_of refused any other model
    paths = interpolate(run, input_bar(task, args.a, args.bar_a),
                        input_bar(task, args.b, args.bar_b), args.out, steps=args.steps)
    say(args, f"wrote {len(paths) - 1} MIDI files and {paths[-1]}")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato arvae {traverse,interpolate}`."""
    arvae = verbs.add_parser("arvae", help="AR-VAE tools: attribute traversals, interpolation")
    arvae_verbs = arvae.add_subparsers(dest="arvae_verb", required=True,
                                       parser_class=type(common))
    traverse = arvae_verbs.add_parser("traverse", parents=[common],
                                      help="sweep one attribute's latent dimension")
    traverse.add_argument("run", help="an arvae run folder")
    source = traverse.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a music file: its first encodable 4/4 bar (see --bar)")
    source.add_argument("--random", action="store_true", help="start from a prior draw")
    traverse.add_argument("--bar", type=INDEX, default=0, help="which encodable bar of --input")
    traverse.add_argument("--attribute", required=True, nargs="+",
                          help="e.g. note_density (several: one traversal each)")
    traverse.add_argument("--steps", type=COUNT, default=9)
    traverse.add_argument("--range", type=float, nargs=2, default=(-4.0, 4.0),
                          metavar=("LOW", "HIGH"), help="latent values swept")
    traverse.add_argument("--out", required=True, help="output folder")
    traverse.add_argument("--seed", type=int, default=0)
    traverse.set_defaults(func=cmd_traverse)
    between = arvae_verbs.add_parser("interpolate", parents=[common],
                                     help="decode the latent line between two bars")
    between.add_argument("run", help="an arvae run folder")
    between.add_argument("a", help="music file A (its first encodable 4/4 bar, see --bar-a)")
    between.add_argument("b", help="music file B")
    between.add_argument("--bar-a", type=INDEX, default=0)
    between.add_argument("--bar-b", type=INDEX, default=0)
    between.add_argument("--steps", type=COUNT, default=9)
    between.add_argument("--out", required=True, help="output folder")
    between.set_defaults(func=cmd_interpolate)
    for p in (traverse, between):
        add_run_options(p)
