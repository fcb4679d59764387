"""Our torch Gaussian HMM against hmmlearn's GaussianHMM, in the same process.

    python benchmarks/hmm.py            # the issue's size: 300 states x 80 dims x 50 x 400 frames
    python benchmarks/hmm.py --quick    # a smoke run at small sizes

Times one Baum-Welch EM iteration (ours: float64 and float32; hmmlearn: its fastest setting,
`implementation='scaling'`) on the same data from the same parameters, checks that the
log-likelihoods agree, and times drawing `--draw` frames (one sequence) against
`GaussianHMM.sample`. Prints the speed-ups (targets: EM >= 10x, sampling >= 100x).
hmmlearn is a dev extra: `pip install -e .[dev]`.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import torch
from timing import best_of

from fugato.distributions.hmm import GaussianHMM


def parse_args() -> argparse.Namespace:
    """The sizes and repeats; `--quick` shrinks them to a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--states", type=int, default=300)
    parser.add_argument("--dim", type=int, default=80)
    parser.add_argument("--sequences", type=int, default=50)
    parser.add_argument("--length", type=int, default=400)
    parser.add_argument("--draw", type=int, default=4000)
    parser.add_argument("--ref-draw", type=int, default=200,
                        help="frames hmmlearn draws (its sample() rebuilds the full (S, D, D) "
                             "covariance array for every frame, ~55 ms a frame at 300 x 80; its "
                             "cost per frame is constant, so the ratio is per frame)")
    parser.add_argument("--repeats", type=int, default=2)
    # One thread by default: on a 2-core machine shared with other work, torch's second
    # OpenMP thread spin-waits for a busy core and one EM iteration took 19 s instead of 1 s.
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (0: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="40 states x 8 dims x 10 x 100")
    args = parser.parse_args()
    if args.quick:
        args.states, args.dim, args.sequences, args.length, args.draw = 40, 8, 10, 100, 1000
        args.ref_draw = min(args.ref_draw, args.draw)
    return args


def data_and_start(args: argparse.Namespace) -> tuple[torch.Tensor, GaussianHMM]:
    """(sequences, length, dim) data drawn from a random sticky HMM (so the posteriors are not
    degenerate), and the parameters every EM iteration starts from: the truth, perturbed."""
    torch.manual_seed(0)
    s, d = args.states, args.dim
    truth = GaussianHMM(s, d)
    truth.startprob.copy_(torch.softmax(torch.randn(s, dtype=torch.float64), 0))
    truth.transmat.copy_(torch.softmax(torch.randn(s, s, dtype=torch.float64)
                                       + 4 * torch.eye(s, dtype=torch.float64), 1))
    truth.means.copy_(torch.randn(s, d, dtype=torch.float64) * 2)
    truth.variances.copy_(torch.rand(s, d, dtype=torch.float64) + 0.5)
    x, _ = truth.sample(args.sequences, args.length, torch.Generator().manual_seed(0))
    start = GaussianHMM(s, d)
    start.load_state_dict(truth.state_dict())
    start.means.add_(0.3 * torch.randn(s, d, dtype=torch.float64))
    return x, start


def reference_model(start: GaussianHMM) -> Any:
    """hmmlearn's diagonal GaussianHMM (its fastest, "scaling" implementation) with the
    parameters of `start`, for one EM iteration."""
    from hmmlearn.hmm import GaussianHMM as Reference

    ref = Reference(start.n_states, "diag", n_iter=1, init_params="", params="stmc",
                    implementation="scaling")
    # copies: hmmlearn's fit must not write into `start`'s buffers
    ref.startprob_ = start.startprob.numpy().copy()
    ref.transmat_ = start.transmat.numpy().copy()
    ref.means_, ref.covars_ = start.means.numpy().copy(), start.variances.numpy().copy()
    return ref


def time_em(args: argparse.Namespace, x: torch.Tensor, start: GaussianHMM, ref: Any) -> None:
    """Print both log-likelihoods and the time of one EM iteration, ours and hmmlearn's."""
    d = args.dim
    lengths = torch.full((args.sequences,), args.length)

    def ours(dtype: torch.dtype) -> float:
        model = GaussianHMM(args.states, d, dtype=dtype)
        model.load_state_dict({k: v.to(dtype) for k, v in start.state_dict().items()})
        return model.em_step(x.to(dtype), lengths)

    flat, ref_lengths = x.reshape(-1, d).numpy(), [args.length] * args.sequences

    def reference() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference_model(start).fit(flat, ref_lengths)

    ll64 = ours(torch.float64)
    ll_ref = ref.score(flat, ref_lengths)
    print(f"log-likelihood ours {ll64:.6f}, hmmlearn {ll_ref:.6f}, "
          f"relative difference {abs(ll64 - ll_ref) / abs(ll_ref):.2e}")
    t64 = best_of(lambda: ours(torch.float64), args.repeats)
    t32 = best_of(lambda: ours(torch.float32), args.repeats)
    t_ref = best_of(reference, 1)
    print(f"EM iteration: ours float64 {t64:.3f} s, float32 {t32:.3f} s; "
          f"hmmlearn scaling {t_ref:.3f} s")
    print(f"  ratio float64 {t_ref / t64:.1f}x, float32 {t_ref / t32:.1f}x (target >= 10x)")


def time_sampling(args: argparse.Namespace, start: GaussianHMM, ref: Any) -> None:
    """Print the time of drawing `args.draw` frames, ours against hmmlearn's per frame."""
    g = torch.Generator().manual_seed(1)
    t_draw = best_of(lambda: start.sample(1, args.draw, g), 5)
    t_ref_draw = best_of(lambda: ref.sample(args.ref_draw, random_state=0), 1)
    ours_per, ref_per = t_draw / args.draw, t_ref_draw / args.ref_draw
    print(f"drawing {args.draw} frames: ours {t_draw * 1e3:.2f} ms ({ours_per * 1e6:.2f} us a "
          f"frame); hmmlearn {t_ref_draw * 1e3:.1f} ms for {args.ref_draw} frames "
          f"({ref_per * 1e3:.2f} ms a frame); ratio per frame {ref_per / ours_per:.0f}x "
          "(target >= 100x)")
    t_batch = best_of(lambda: start.sample(args.draw // 400 or 1, 400, g), 5)
    print(f"  as {args.draw // 400} sequences of 400: ours {t_batch * 1e3:.2f} ms")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, start = data_and_start(args)
    frames = args.sequences * args.length
    print(f"{args.states} states x {args.dim} dims, {args.sequences} sequences x {args.length} "
          f"= {frames} frames; torch threads {torch.get_num_threads()}")
    ref = reference_model(start)
    time_em(args, x, start, ref)
    time_sampling(args, start, ref)


if __name__ == "__main__":
    main()
