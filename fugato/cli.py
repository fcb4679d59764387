"""The `fugato` command. Thin: it parses arguments and calls the Python API.

Bad input (a missing file, an unknown corpus, a malformed --set) prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from fugato.errors import FugatoError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's usage block."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


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
    for source, reason in corpus.skipped[:5]:
        print(f"  skipped {source}: {reason}")
    if len(corpus.skipped) > 5:
        print(f"  ... and {len(corpus.skipped) - 5} more")


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
    from fugato.models import get_model
    from fugato.train import Trainer

    overrides = list(args.set)
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.device:
        overrides.append(f"train.device='{args.device}'")
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
    config = load_config(config_path, overrides)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    task = get_model(config.model)(config)
    logs = Trainer(task, run_dir, quiet=args.quiet).fit(resume=args.resume)
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}
    _say(args, f"run: {run_dir}  {shown}")


def cmd_sample(args: argparse.Namespace) -> None:
    run = _load_run(args)
    options = {"generator": args.generator} if args.generator else {}
    samples = run.sample(args.n, seed=args.seed, **options)
    if hasattr(run.task, "write_samples"):  # a model with its own file format (dances: BVH)
        paths = run.task.write_samples(samples, Path(args.out))
        _say(args, f"wrote {len(paths)} files to {args.out}")
        return
    if hasattr(samples, "numpy"):  # an image model: (N, H, W) in [0, 1]
        import numpy

        from fugato.atomic import atomic_path
        from fugato.report import plot_image_grid

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        images = samples.numpy()
        with atomic_path(out / "samples.npy") as tmp, open(tmp, "wb") as f:
            numpy.save(f, images)
        plot_image_grid(images, out / "samples.png")
        _say(args, f"wrote {len(images)} images to {out / 'samples.npy'} and samples.png")
        return
    paths = write_melodies(samples, Path(args.out), args.format)
    _say(args, f"wrote {len(paths)} {args.format} files to {args.out}")


def write_melodies(melodies: Sequence[Any], out: Path, fmt: str) -> list[Path]:
    """One file per melody: `sample-000.mid`, ... in `out`."""
    from fugato.audio.synth import write_wav
    from fugato.music.io import write_midi, write_musicxml

    writers: dict[str, Callable[[Any, Path], None]] = {
        "mid": write_midi, "musicxml": write_musicxml, "wav": write_wav}
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, melody in enumerate(melodies):
        path = out / f"sample-{i:03d}.{fmt}"
        writers[fmt](melody, path)
        paths.append(path)
    return paths


def cmd_eval(args: argparse.Namespace) -> None:
    from fugato.report import write_eval

    run = _load_run(args)
    evaluate = getattr(run.task, "evaluate", None)
    if evaluate is None:
        raise FugatoError(f"model {run.config.model!r} has no evaluation")
    results, report = evaluate(run, seed=args.seed or 0)
    eval_path, report_path = write_eval(run.path, results, report)
    shown = {k: v for k, v in results.items() if isinstance(v, int | float | str)}
    _say(args, json.dumps(shown, indent=2))
    _say(args, f"wrote {eval_path} and {report_path}")


def cmd_compare(args: argparse.Namespace) -> None:
    from fugato.report import compare_runs

    runs = [Path(r) for r in args.runs]
    for run in runs:
        if not (run / "eval.json").is_file():
            raise FugatoError(f"{run}: no eval.json (run `fugato eval {run}` first)")
    _print_medians(args, compare_runs(runs, Path(args.out), args.metrics or None))


def _print_medians(args: argparse.Namespace, result: dict[str, Any]) -> None:
    for group, medians in result["medians"].items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
        _say(args, f"{group}: {shown}")
    plot = "comparison.png and " if result["metrics"] else ""
    _say(args, f"wrote {plot}{Path(args.out) / 'comparison.md'}")


def cmd_seeds(args: argparse.Namespace) -> None:
    from fugato.train.seeds import run_seeds

    result = run_seeds(args.configs, args.seeds, args.out, args.jobs, args.set,
                       args.metrics or None, say=lambda text: _say(args, text),
                       variants=args.variant, threads=args.threads)
    _print_medians(args, result)


def cmd_arvae_traverse(args: argparse.Namespace) -> None:
    from fugato.models.arvae import input_bar, traverse

    run = _load_run(args, "arvae")
    bars = None if args.random else input_bar(run.task, args.input, args.bar)
    paths = traverse(run, args.attribute, args.out, bars=bars, steps=args.steps,
                     value_range=(args.range[0], args.range[1]), seed=args.seed)
    _say(args, f"wrote {len(paths) - 1} MIDI files and {paths[-1]}")


def cmd_arvae_interpolate(args: argparse.Namespace) -> None:
    from fugato.models.arvae import input_bar, interpolate

    run = _load_run(args, "arvae")
    paths = interpolate(run, input_bar(run.task, args.a, args.bar_a),
                        input_bar(run.task, args.b, args.bar_b), args.out, steps=args.steps)
    _say(args, f"wrote {len(paths) - 1} MIDI files and {paths[-1]}")


def cmd_separate(args: argparse.Namespace) -> None:
    from fugato.models.factorgan_separation import separate_file

    run = _load_run(args, "factorgan-separation")
    paths = separate_file(run, args.input, args.out, args.separator, args.seed)
    _say(args, f"wrote {', '.join(str(p) for p in paths)}")


def _load_run(args: argparse.Namespace, model: str | None = None) -> Any:
    """The run of `args.run` (`--checkpoint`, `--device`); with `model`, refuse any other."""
    from fugato.train import load_run

    run = load_run(args.run, checkpoint=args.checkpoint, device=args.device or "auto")
    if model is not None and run.config.model != model:
        raise FugatoError(f"{args.run}: a {run.config.model!r} run, not a {model!r} run")
    return run


def cmd_dance_choreograph(args: argparse.Namespace) -> None:
    from fugato.models.dualdance import choreograph

    paths = choreograph(_load_run(args), args.music, args.out, seconds=args.seconds,
                        seed=args.seed)
    _say(args, f"wrote {', '.join(str(p) for p in paths)}")


def cmd_dance_compose(args: argparse.Namespace) -> None:
    from fugato.models.dualdance import compose

    paths = compose(_load_run(args), args.motion, args.out, seconds=args.seconds,
                    chord=args.chord, seed=args.seed)
    _say(args, f"wrote {', '.join(str(p) for p in paths)}")


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fugato", description="Deep generative models of music.")
    parser.add_argument("--version", action="version", version=_version())
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars or chatter")

    data = verbs.add_parser("data", help="list, build and describe corpora")
    data_verbs = data.add_subparsers(dest="data_verb", required=True, parser_class=_Parser)
    data_verbs.add_parser("list", help="named corpora").set_defaults(func=cmd_data_list)
    for name, func, text in (("build", cmd_data_build, "parse a corpus into the cache"),
                             ("stats", cmd_data_stats, "tunes, notes, metres, ranges + PNG")):
        p = data_verbs.add_parser(name, parents=[common], help=text)
        p.add_argument("name", help="corpus name, e.g. essen, essen:china, wjazzd, folder:PATH")
        p.add_argument("--workers", type=int, default=None, help="parsing processes")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="print the stats as JSON")
            p.add_argument("--plot", help="where to write the PNG")
        p.set_defaults(func=func)

    train = verbs.add_parser("train", parents=[common], help="train a model from a TOML config")
    train.add_argument("config", nargs="?", help="configs/*.toml (not needed with --resume)")
    train.add_argument("--run-dir", help="run folder (default runs/<config name>)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. train.max_steps=200")
    train.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 ...")
    train.set_defaults(func=cmd_train)

    sample = verbs.add_parser("sample", parents=[common], help="write samples of a run")
    sample.add_argument("run", help="run folder")
    sample.add_argument("-n", type=int, default=8, help="how many")
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--format", choices=("mid", "musicxml", "wav"), default="mid")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--generator", help="which generator writes (fusiongan: A, B, F, MLE, "
                        "MLE-1:1, GAN, RL-A, RL-B; default F)")
    sample.add_argument("--checkpoint", default="last", choices=("last", "best"))
    sample.add_argument("--device", default=None)
    sample.set_defaults(func=cmd_sample)

    evaluate = verbs.add_parser("eval", parents=[common], help="eval.json + report.md of a run")
    evaluate.add_argument("run", help="run folder")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--checkpoint", default="last", choices=("last", "best"))
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(func=cmd_eval)

    compare = verbs.add_parser("compare", parents=[common],
                               help="box plots of eval.json metrics over runs (e.g. seeds)")
    compare.add_argument("runs", nargs="+", help="run folders; NAME-seedN folders group by NAME")
    compare.add_argument("--out", required=True, help="output folder")
    compare.add_argument("--metrics", nargs="*", help="which metrics (default: all shared)")
    compare.set_defaults(func=cmd_compare)

    seeds = verbs.add_parser("seeds", parents=[common],
                             help="train + eval configs over seeds, then compare (box plots)")
    seeds.add_argument("configs", nargs="+", help="configs/*.toml (distinct file names)")
    seeds.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    seeds.add_argument("--out", required=True,
                       help="folder of the runs (CONFIG-seedN), logs/ and comparison.*")
    seeds.add_argument("--jobs", type=int, default=1,
                       help="runs at a time (CPU threads are shared between them)")
    seeds.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value in every run")
    seeds.add_argument("--metrics", nargs="*", help="which metrics to compare (default: all)")
    seeds.add_argument("--threads", type=int, default=None,
                       help="CPU threads per run (default: the cores shared between the jobs)")
    seeds.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                       help="an ablation: every config runs once per variant with its overrides "
                            "(NAME: alone = the config as it is); a group each")
    seeds.set_defaults(func=cmd_seeds)

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
    separate.add_argument("--checkpoint", default="last", choices=("last", "best"))
    separate.add_argument("--device", default=None)
    separate.set_defaults(func=cmd_separate)

    arvae = verbs.add_parser("arvae", help="AR-VAE tools: attribute traversals, interpolation")
    arvae_verbs = arvae.add_subparsers(dest="arvae_verb", required=True, parser_class=_Parser)
    traverse = arvae_verbs.add_parser("traverse", parents=[common],
                                      help="sweep one attribute's latent dimension")
    traverse.add_argument("run", help="an arvae run folder")
    source = traverse.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a music file: its first encodable 4/4 bar (see --bar)")
    source.add_argument("--random", action="store_true", help="start from a prior draw")
    traverse.add_argument("--bar", type=int, default=0, help="which encodable bar of --input")
    traverse.add_argument("--attribute", required=True, help="e.g. note_density")
    traverse.add_argument("--steps", type=int, default=9)
    traverse.add_argument("--range", type=float, nargs=2, default=(-4.0, 4.0),
                          metavar=("LOW", "HIGH"), help="latent values swept")
    traverse.add_argument("--out", required=True, help="output folder")
    traverse.add_argument("--seed", type=int, default=0)
    traverse.set_defaults(func=cmd_arvae_traverse)
    between = arvae_verbs.add_parser("interpolate", parents=[common],
                                     help="decode the latent line between two bars")
    between.add_argument("run", help="an arvae run folder")
    between.add_argument("a", help="music file A (its first encodable 4/4 bar, see --bar-a)")
    between.add_argument("b", help="music file B")
    between.add_argument("--bar-a", type=int, default=0)
    between.add_argument("--bar-b", type=int, default=0)
    between.add_argument("--steps", type=int, default=9)
    between.add_argument("--out", required=True, help="output folder")
    between.set_defaults(func=cmd_arvae_interpolate)
    for p in (traverse, between):
        p.add_argument("--checkpoint", default="last", choices=("last", "best"))
        p.add_argument("--device", default=None)

    dance = verbs.add_parser("dance", help="dual music-dance tools: dance to a song, music "
                             "for a dance")
    dance_verbs = dance.add_subparsers(dest="dance_verb", required=True, parser_class=_Parser)
    choreo = dance_verbs.add_parser("choreograph", parents=[common],
                                    help="a dance for a song: BVH, frames, GIF and PNG")
    choreo.add_argument("run", help="a dualdance run folder")
    choreo.add_argument("--music", required=True, help="an audio file (mp3, wav, ...)")
    choreo.set_defaults(func=cmd_dance_choreograph)
    comp = dance_verbs.add_parser("compose", parents=[common],
                                  help="music for a dance: a MIDI melody of chroma and beats")
    comp.add_argument("run", help="a dualdance run folder")
    comp.add_argument("--motion", required=True,
                      help="a Tang-style .npz (smpl_poses, smpl_trans, fps)")
    comp.add_argument("--chord", default=None,
                      help="start chord of the first window, e.g. 'C major', 'a minor'")
    comp.set_defaults(func=cmd_dance_compose)
    for p in (choreo, comp):
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--seconds", type=float, default=None, help="only the first seconds")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--checkpoint", default="last", choices=("last", "best"))
        p.add_argument("--device", default=None)
    return parser


def _version() -> str:
    from fugato import __version__

    return f"fugato {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
