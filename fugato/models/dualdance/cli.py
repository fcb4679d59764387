"""`fugato dance choreograph` and `fugato dance compose`: a dance for a song, music for a dance."""

from __future__ import annotations

import argparse

from fugato.cli_common import add_run_options, load_run_of, say, seconds


def cmd_choreograph(args: argparse.Namespace) -> None:
    from fugato.models.dualdance.tools import choreograph

    paths = choreograph(load_run_of(args, "dualdance"), args.music, args.out,
                        seconds=args.seconds, seed=args.seed)
    say(args, f"wrote {', '.join(str(p) for p in paths)}")


def cmd_compose(args: argparse.Namespace) -> None:
    from fugato.models.dualdance.tools import compose

    paths = compose(load_run_of(args, "dualdance"), args.motion, args.out,
                    seconds=args.seconds, chord=args.chord, seed=args.seed)
    say(args, f"wrote {', '.join(str(p) for p in paths)}")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato dance {choreograph,compose}`."""
    dance = verbs.add_parser("dance", help="dual music-dance tools: dance to a song, music "
                             "for a dance")
    dance_verbs = dance.add_subparsers(dest="dance_verb", required=True,
                                       parser_class=type(common))
    choreo = dance_verbs.add_parser("choreograph", parents=[common],
                                    help="a dance for a song: BVH, frames, GIF and PNG")
    choreo.add_argument("run", help="a dualdance run folder")
    choreo.add_argument("--music", required=True, help="an audio file (mp3, wav, ...)")
    choreo.set_defaults(func=cmd_choreograph)
    comp = dance_verbs.add_parser("compose", parents=[common],
                                  help="music for a dance: a MIDI melody of chroma and beats")
    comp.add_argument("run", help="a dualdance run folder")
    comp.add_argument("--motion", required=True,
                      help="a Tang-style .npz (smpl_poses, smpl_trans, fps) or a BVH of the "
                           "SMPL skeleton (as choreograph writes it)")
    comp.add_argument("--chord", default=None,
                      help="start chord of the first window, e.g. 'C major', 'a minor'")
    comp.set_defaults(func=cmd_compose)
    for p in (choreo, comp):
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--seconds", type=seconds, default=None, help="only the first seconds")
        p.add_argument("--seed", type=int, default=0)
        add_run_options(p)
