"""The `fugato` command. Thin: it parses arguments and calls the Python API.

Bad input (a missing file, an unknown corpus, a malformed --set) prints one line and exits 2.
The core verbs are built here; each system adds its own (`fugato.registry.COMMANDS`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fugato import threads
from fugato.cli_common import COUNT, EXIT_BAD_INPUT, Parser, add_run_options, load_run_of, say
from fugato.errors import FugatoError


# -- data ------------------------------------------------------------------------------------
def cmd_data_list(args: argparse.Namespace) -> None:
    from fugato.music.corpora import list_corpora

    for name, description in list_corpora():
        print(f"{name:16s} {description}")


def cmd_data_build(args: argparse.Namespace) -> None:
    from fugato.music.corpora import load_corpus

    corpus = load_corpus(args.name, workers=args.workers, progress=not args.quiet)
    print(f"{corpus.name}: {corpus.seen} tunes seen, {len(corpus.melodies)} loaded, "
          f"{len(corpus.skipped)} skipped")
    shown = corpus.skipped if args.show_skipped else corpus.skipped[:5]
    for source, reason in shown:
        print(f"  skipped {source}: {reason}")
    if len(corpus.skipped) > len(shown):
        print(f"  ... and {len(corpus.skipped) - len(shown)} more (--show-skipped lists all)")


def cmd_data_stats(args: argparse.Namespace) -> None:
    from fugato.music.corpora import corpus_stats, load_corpus, plot_corpus_stats

    corpus = load_corpus(args.name, workers=args.workers, progress=not args.quiet)
    stats = corpus_stats(corpus)
    png = Path(args.plot or f"{corpus.name.replace(':', '_').replace('/', '_')}-stats.png")
    plot_corpus_stats(stats, png)
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        for key, value in stats.items():
            if not isinstance(value, dict | list):
                print(f"{key:>22s}: {value}")
        print(f"{'time signatures':>22s}: {stats.get('time_signatures')}")
        print(f"{'plot':>22s}: {png}")


# -- train / sample / eval ---------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> None:
    from fugato.config import load_config
    from fugato.registry import get_model
    from fugato.train import Trainer

    overrides = list(args.set)
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.device:
        overrides.append(f"train.device='{args.device}'")
    if args.threads:
        overrides.append(f"train.threads={args.threads}")
    if args.resume:
        if not args.run_dir:
            raise FugatoError("--resume needs --run-dir (the run to continue)")
        config_path = Path(args.run_dir) / "config.toml"
        if not config_path.is_file():
            raise FugatoError(f"{args.run_dir}: not a run folder (no config.toml)")
    else:
        if not args.config:
            raise FugatoError("give a config file, e.g. configs/melody-lm-quick.toml")
        config_path = Path(args.config)
    config = load_config(config_path, overrides, saved=args.resume)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    task = get_model(config.model)(config)
    logs = Trainer(task, run_dir, quiet=args.quiet).fit(resume=args.resume)
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}
    say(args, f"run: {run_dir}  {shown}")
    done, planned = logs.get("step", 0), config.train.max_steps
    if logs and done < planned:  # said even with --quiet: not the model the config asks for
        print(f"stopped early: trained {done:,} of {planned:,} steps (train.max_minutes = "
              f"{config.train.max_minutes} or a stop); continue with fugato train --resume "
              f"--run-dir {run_dir}")


def cmd_sample(args: argparse.Namespace) -> None:
    from fugato.samples import write_samples

    run = load_run_of(args)
    samples = run.sample(args.n, seed=args.seed, generator=args.generator)
    paths = write_samples(samples, Path(args.out), args.format)
    say(args, f"wrote {len(paths)} files to {args.out}")


def cmd_eval(args: argparse.Namespace) -> None:
    from fugato.pretrained import is_shipped
    from fugato.report import write_eval

    run = load_run_of(args)
    if is_shipped(run.path):
        raise FugatoError(f"{args.run}: a shipped model (nothing is written into the package); "
                          f"its numbers are in {run.path / 'card.md'}")
    results, report = run.evaluate(seed=args.seed or 0)
    eval_path, report_path = write_eval(run.path, results, report)
    shown = {k: v for k, v in results.items() if isinstance(v, int | float | str)}
    say(args, json.dumps(shown, indent=2))
    say(args, f"wrote {eval_path} and {report_path}")


def cmd_compare(args: argparse.Namespace) -> None:
    from fugato.registry import seeds_tables
    from fugato.report import compare_runs

    runs = [Path(r) for r in args.runs]
    for run in runs:
        if not (run / "eval.json").is_file():
            raise FugatoError(f"{run}: no eval.json (run `fugato eval {run}` first)")
    _print_medians(args, compare_runs(runs, Path(args.out), args.metrics or None,
                                      tables=seeds_tables, trade_off=args.trade_off,
                                      pairs=args.pairs))


def _print_medians(args: argparse.Namespace, result: dict[str, Any]) -> None:
    for group, medians in result["medians"].items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
        say(args, f"{group}: {shown}")
    plot = "comparison.png and " if result["metrics"] else ""
    say(args, f"wrote {plot}{Path(args.out) / 'comparison.md'}")


def cmd_seeds(args: argparse.Namespace) -> None:
    from fugato.train.seeds import run_seeds

    result = run_seeds(args.configs, args.seeds, args.out, args.jobs, args.set,
                       args.metrics or None, say=lambda text: say(args, text),
                       variants=args.variant, threads=args.threads, trade_off=args.trade_off,
                       pairs=args.pairs)
    _print_medians(args, result)


def cmd_models(args: argparse.Namespace) -> None:
    from fugato.pretrained import BY_NAME, available, folder, size

    if args.name:
        if args.name not in BY_NAME:
            raise FugatoError(f"{args.name}: no shipped model of that name (known: "
                              f"{', '.join(BY_NAME)})")
        card = folder(args.name) / "card.md"
        if not card.is_file():
            raise FugatoError(f"{args.name}: not built in this install (`make pretrained`)")
        print(card.read_text(), end="")
        return
    models = available()
    if not models:
        print("no shipped models in this install (`make pretrained` builds them)")
    for model in models:
        print(f"{model.name:<22s} {size(model.name) / 2**20:4.1f} MB  {model.description}")


# -- parser ----------------------------------------------------------------------------------
def _add_data(verbs: argparse._SubParsersAction, common: Parser) -> None:
    data = verbs.add_parser("data", help="list, build and describe corpora")
    data_verbs = data.add_subparsers(dest="data_verb", required=True, parser_class=Parser)
    data_verbs.add_parser("list", help="named corpora").set_defaults(func=cmd_data_list)
    for name, func, text in (("build", cmd_data_build, "parse a corpus into the cache"),
                             ("stats", cmd_data_stats, "tunes, notes, metres, ranges + PNG")):
        p = data_verbs.add_parser(name, parents=[common], help=text)
        p.add_argument("name", help="corpus name, e.g. essen, essen:china, wjazzd, folder:PATH")
        p.add_argument("--workers", type=COUNT, default=None, help="parsing processes")
        if name == "build":
            p.add_argument("--show-skipped", action="store_true",
                           help="list every skipped tune with its reason (default: five)")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="print the stats as JSON")
            p.add_argument("--plot", help="where to write the PNG")
        p.set_defaults(func=func)


def _add_train(verbs: argparse._SubParsersAction, common: Parser) -> None:
    train = verbs.add_parser("train", parents=[common], help="train a model from a TOML config")
    train.add_argument("config", nargs="?", help="configs/*.toml (not needed with --resume)")
    train.add_argument("--run-dir", help="run folder (default runs/<config name>)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. train.max_steps=200")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 ...")
    train.set_defaults(func=cmd_train)


def _add_sample_and_eval(verbs: argparse._SubParsersAction, common: Parser) -> None:
    from fugato.samples import MELODY_FORMATS

    sample = verbs.add_parser("sample", parents=[common], help="write samples of a run")
    sample.add_argument("run", help="run folder")
    sample.add_argument("-n", type=COUNT, default=8, help="how many")
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--format", choices=MELODY_FORMATS, default="mid",
                        help="file type of melodies (images, dances and audio have one)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--generator", help="which generator writes (fusiongan: A, B, F, MLE, "
                        "MLE-1:1, GAN, RL-A, RL-B; default F)")
    add_run_options(sample)
    sample.set_defaults(func=cmd_sample)

    evaluate = verbs.add_parser("eval", parents=[common], help="eval.json + report.md of a run")
    evaluate.add_argument("run", help="run folder")
    evaluate.add_argument("--seed", type=int, default=0)
    add_run_options(evaluate)
    evaluate.set_defaults(func=cmd_eval)


TRADE_OFF_HELP = ("two eval.json numbers: trade-off.png plots each group's mean of Y against "
                  "X (e.g. accuracy interpretability over --variant groups)")


PAIRS_HELP = ("two or more eval.json numbers: pairs.png plots every run's against each other, "
              "coloured by group (AR-VAE's Fig. 4: interpretability modularity mig sap scc)")


def _add_compare_and_seeds(verbs: argparse._SubParsersAction, common: Parser) -> None:
    compare = verbs.add_parser("compare", parents=[common],
                               help="box plots of eval.json metrics over runs (e.g. seeds)")
    compare.add_argument("runs", nargs="+", help="run folders; NAME-seedN folders group by NAME")
    compare.add_argument("--out", required=True, help="output folder")
    compare.add_argument("--metrics", nargs="*", help="which metrics (default: all shared)")
    compare.add_argument("--trade-off", nargs=2, metavar=("X", "Y"), help=TRADE_OFF_HELP)
    compare.add_argument("--pairs", nargs="+", metavar="NUMBER", help=PAIRS_HELP)
    compare.set_defaults(func=cmd_compare)

    seeds = verbs.add_parser("seeds", parents=[common],
                             help="train + eval configs over seeds, then compare (box plots)")
    seeds.add_argument("configs", nargs="+", help="configs/*.toml (distinct file names)")
    seeds.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    seeds.add_argument("--out", required=True,
                       help="folder of the runs (CONFIG-seedN), logs/ and comparison.*")
    seeds.add_argument("--jobs", type=COUNT, default=1,
                       help="runs at a time (each follows the cores the others leave free)")
    seeds.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value in every run")
    seeds.add_argument("--metrics", nargs="*", help="which metrics to compare (default: all)")
    seeds.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                       help="an ablation: every config runs once per variant with its overrides "
                            "(NAME: alone = the config as it is); a group each")
    seeds.add_argument("--trade-off", nargs=2, metavar=("X", "Y"), help=TRADE_OFF_HELP)
    seeds.add_argument("--pairs", nargs="+", metavar="NUMBER", help=PAIRS_HELP)
    seeds.set_defaults(func=cmd_seeds)


def build_parser() -> argparse.ArgumentParser:
    from fugato.registry import COMMANDS

    parser = Parser(prog="fugato", description="Deep generative models of music.")
    parser.add_argument("--version", action="version", version=_version())
    parser.set_defaults(threads=None)  # verbs without the common options (data list)
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    common = Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    common.add_argument("--threads", type=COUNT, default=None,
                        help="CPU threads (default: the cores other processes leave free)")
    for add in (_add_data, _add_train, _add_sample_and_eval, _add_compare_and_seeds):
        add(verbs, common)
    models = verbs.add_parser("models", help="the trained models shipped with fugato")
    models.add_argument("name", nargs="?", help="print this model's card")
    models.set_defaults(func=cmd_models)
    for module in COMMANDS:
        importlib.import_module(module).register(verbs, common)
    return parser


def _version() -> str:
    from fugato import __version__

    return f"fugato {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        threads.configure(args.threads)
        args.func(args)
    except FugatoError as e:
        print(f"fugato: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("fugato: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
