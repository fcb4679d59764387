"""`fugato studio`: the local web app."""

from __future__ import annotations

import argparse
from pathlib import Path

from fugato.cli_common import COUNT


def cmd_studio(args: argparse.Namespace) -> None:
    from fugato.studio import serve

    serve(args.models, host=args.host, port=args.port, open_browser=args.open, quiet=args.quiet,
          listening=Path(args.listen), corpora=args.corpus)


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato studio`."""
    studio = verbs.add_parser("studio", parents=[common],
                              help="a local web app: attribute sliders, fusion, sequences, "
                                   "dance, separation; hear everything at once")
    studio.add_argument("models", nargs="*", metavar="MODEL_OR_RUN",
                        help="shipped model names or run folders (default: every shipped "
                             "model a view plays)")
    studio.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only)")
    studio.add_argument("--port", type=COUNT, default=8765)
    studio.add_argument("--open", action="store_true", help="open it in the web browser")
    studio.add_argument("--listen", default="listening", metavar="DIR",
                        help="the folder of the listening tests served at /listen/NAME "
                             "(`fugato listen create`; default listening/)")
    studio.add_argument("--corpus", action="append", default=[], metavar="NAME_OR_FOLDER",
                        help="a folder of music the Attributes view may load tunes from "
                             "(repeat; named corpora are always there, no other folder is)")
    studio.set_defaults(func=cmd_studio)
