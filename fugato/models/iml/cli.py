"""`fugato iml toy`: the paper's Fig. 1 (a learned base against N(0, I) on 2-D toy data)."""

from __future__ import annotations

import argparse

from fugato.cli_common import COUNT, say


def cmd_toy(args: argparse.Namespace) -> None:
    """`fugato iml toy`: fit and score the three models of Fig. 1 (`write_toy`), print each
    panel's held-out log-likelihoods (nats per point) and mode shares, and write
    OUT/fig1_toy.png and OUT/toy.json."""
    import json
    from pathlib import Path

    from fugato.models.iml.toy import write_toy

    png, js = write_toy(Path(args.out), seed=args.seed, gan_steps=args.gan_steps)
    results = json.loads(js.read_text())
    for key in ("a", "b", "c"):
        r = results[key]
        say(args, f"({key}) {r['name']}: held-out log-likelihood {r['test_loglik']:.3f} nats "
                  f"per point (codes under the base {r['code_loglik']:.3f}); samples on the "
                  f"modes {r['modes'][0]:.2f} / {r['modes'][1]:.2f}, off {r['off_mode']:.2f}")
    say(args, f"wrote {png} and {js}")


def register(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `fugato iml toy`."""
    iml = verbs.add_parser("iml", help="IML tools: the paper's 2-D toy figure")
    iml_verbs = iml.add_subparsers(dest="iml_verb", required=True, parser_class=type(common))
    toy = iml_verbs.add_parser("toy", parents=[common],
                               help="Fig. 1: an affine map of N(0, I), of a learned GMM, and "
                                    "a GAN, on a 2-D mixture of two Gaussians (seconds)")
    toy.add_argument("--out", required=True, help="output folder: fig1_toy.png, toy.json")
    toy.add_argument("--seed", type=int, default=0)
    toy.add_argument("--gan-steps", type=COUNT, default=600, help="GAN updates of panel (c)")
    toy.set_defaults(func=cmd_toy)
