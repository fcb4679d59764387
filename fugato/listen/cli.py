"""`fugato listen create` and `fugato listen results`: blind listening tests."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from fugato.cli_common import COUNT, say
from fugato.errors import FugatoError


def cmd_create(args: argparse.Namespace) -> None:
    from fugato.listen.build import create_genre, parse_sources

    if not 0 <= args.min_played <= 1:
        raise FugatoError(f"--min-played {args.min_played:g}: a share of the clip, from 0 to 1")
    sources = parse_sources(args.source)
    root = Path(args.root)
    if args.kind == "genre":
        qualify = parse_sources(args.qualify, "--qualify") if args.qualify else None
        test = create_genre(root, args.name, sources, args.clips, args.seed, args.genres,
                            qualify, args.qualification, args.min_accuracy, args.overwrite,
                            progress=not args.quiet, min_played=args.min_played)
    else:
        from fugato.listen.ranking import create_ranking

        if not args.music:
            raise FugatoError("a ranking test needs --music SONG ... (the songs danced to)")
        test = create_ranking(root, args.name, sources, args.music, args.seconds, args.seed,
                              args.overwrite, progress=not args.quiet,
                              min_played=args.min_played)
    say(args, f"{root / args.name}: {len(test.items)} items; listeners open "
              f"http://HOST:PORT/listen/{args.name} of `fugato studio` (progress at "
              f"/listen/{args.name}/progress)")


def _cell(value: float | None, interval: list[float] | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    shown = f"{value:.3f}"
    return shown + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def print_genre(result: dict[str, Any]) -> None:
    a, b = result["genres"]
    accuracy = result["accuracy"]["mean"]
    print(f"{result['test']}: {result['listeners']} listeners ({result['excluded']} excluded "
          f"below qualification accuracy {result['min_accuracy']:g}), {result['answers']} "
          f"answers; mean genre-identification accuracy {_cell(accuracy)}")
    print(f"{'source':<12s} {a:>6s} {b:>6s} {'mixture':>8s} {'neither':>8s}  FL [95%]"
          f"{'':>14s} expert newbie robot   automatic P({a}) balance")
    for label, r in result["sources"].items():
        f, m = r["fusion"], r["musicality_shares"]
        auto = r.get("automatic") or {}
        print(f"{label:<12s} {f[a]:>6d} {f[b]:>6d} {f['mixture']:>8d} {f['neither']:>8d}  "
              f"{_cell(r['fl'], r['fl_95']):<24s} {_cell(m['expert']):>6s} "
              f"{_cell(m['newbie']):>6s} {_cell(m['robot']):>5s}   "
              f"{_cell(auto.get('p_genre_a')):>12s} {_cell(auto.get('balance')):>7s}")


def print_ranking(result: dict[str, Any]) -> None:
    print(f"{result['test']}: {result['listeners']} listeners, {result['answers']} answers "
          "(mean rank, 1 = best, [95%])")
    for label, r in result["sources"].items():
        cells = "  ".join(f"{q} {_cell(v['mean_rank'], v['mean_rank_95'])}" for q, v in r.items())
        print(f"{label:<16s} {cells}")


def cmd_results(args: argparse.Namespace) -> None:
    from fugato.listen.design import folder
    from fugato.listen.results import results, strict_json, write_chart, write_csv

    result = results(Path(args.root), args.name, args.min_accuracy)
    png = folder(Path(args.root), args.name) / "results.png"
    write_chart(result, png)
    if args.csv:
        write_csv(result, Path(args.csv))
    if args.json:
        print(strict_json(result))
        return
    (print_genre if result["kind"] == "genre" else print_ranking)(result)
    say(args, f"chart: {png}")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato listen {create,results}`."""
    listen = verbs.add_parser("listen", help="blind listening tests (served by fugato studio)")
    listen_verbs = listen.add_subparsers(dest="listen_verb", required=True,
                                         parser_class=type(common))
    create = listen_verbs.add_parser("create", parents=[common], help="render a test's clips")
    create.add_argument("name", help="the test's name (a folder under --root)")
    create.add_argument("--source", action="append", default=[], metavar="LABEL=SPEC",
                        help="MODEL_OR_RUN[:GENERATOR] or real:CORPUS, e.g. "
                             "F=fusion-jazz-folk:F (repeat)")
    create.add_argument("--kind", choices=("genre", "ranking"), default="genre")
    create.add_argument("--clips", type=COUNT, default=10, help="clips of every source (genre)")
    create.add_argument("--genres", nargs=2, default=("jazz", "folk"), metavar=("A", "B"))
    create.add_argument("--qualify", action="append", default=[], metavar="GENRE=CORPUS",
                        help="real clips of a genre for the qualification stage (default: "
                             "the FusionGAN source's two corpora)")
    create.add_argument("--qualification", type=int, default=2,
                        help="qualification clips per genre (0: no qualification stage)")
    create.add_argument("--min-accuracy", type=float, default=0.0,
                        help="exclude listeners below this qualification accuracy")
    create.add_argument("--min-played", type=float, default=1.0, metavar="SHARE",
                        help="the share of each clip (of the song, in a ranking) a listener "
                             "plays before answering (default 1: to its end)")
    create.add_argument("--music", nargs="*", default=[], help="songs to dance to (ranking)")
    create.add_argument("--seconds", type=float, default=12.0, help="seconds of each song")
    create.add_argument("--seed", type=int, default=0)
    create.add_argument("--overwrite", action="store_true",
                        help="replace a test of the same name, answers included")
    results = listen_verbs.add_parser("results", parents=[common],
                                      help="the papers' tables from the answers")
    results.add_argument("name")
    results.add_argument("--json", action="store_true")
    results.add_argument("--csv", help="also write the table as CSV here")
    results.add_argument("--min-accuracy", type=float, default=None,
                         help="override the test's exclusion threshold")
    for p in (create, results):
        p.add_argument("--root", default="listening", help="the folder of the tests")
    create.set_defaults(func=cmd_create)
    results.set_defaults(func=cmd_results)
