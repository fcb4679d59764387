"""SeqGAN Monte-Carlo rollout rewards: our batched pass against a per-sequence loop.

    python benchmarks/rollouts.py [--batch 32] [--length 32] [--rollouts 16] [--threads 1]

Both sides complete every prefix of every generated sequence `--rollouts` times with the same
LSTM generator (FusionGAN's size: embedding 32, hidden 32) driven by the same uniform noise, and
score the completions with the same TextCNN critic; the script checks that the rewards agree
and prints the speed-up (target >= 10x). The loop is the plain way to write it: for each
sequence, prefix and rollout, run the generator token by token on a batch of one.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_of

from fugato.losses.policy_gradient import prefix_states, rollout_rewards, sample_from
from fugato.nn.lstm import LSTMGenerator
from fugato.nn.textcnn import TextCNN


@torch.no_grad()
def rollout_rewards_loop(gen: LSTMGenerator, score, sequences: torch.Tensor, bos: int,
                         n_rollouts: int, noise: torch.Tensor) -> torch.Tensor:
    """The same rewards as `rollout_rewards`, one sequence, prefix and rollout at a time."""
    b, t_len = sequences.shape
    rewards = torch.empty(b, t_len)
    rewards[:, -1] = score(sequences)
    gen.eval()
    for i in range(b):
        h, c, logits = prefix_states(gen, sequences[i : i + 1], bos)
        for t in range(1, t_len):
            completions = []
            for r in range(n_rollouts):
                seq = sequences[i].clone()
                state, last = (h[t], c[t]), logits[t]
                for pos in range(t, t_len):
                    token = sample_from(last, noise[t - 1, r, i, pos].view(1))
                    seq[pos] = token[0]
                    if pos < t_len - 1:
                        step, state = gen(token.view(1, 1), state, return_state=True)
                        last = step[:, -1]
                completions.append(seq)
            rewards[i, t - 1] = score(torch.stack(completions)).mean()
    return rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = LSTMGenerator(args.vocab, embed=32, hidden=32, layers=1, dropout=0.0)
    critic = TextCNN(args.vocab, spectral_norm=True).eval()

    def score(x: torch.Tensor) -> torch.Tensor:
        return critic(x)[:, 0]

    bos = 1
    sequences = gen.sample(torch.full((args.batch, 1), bos), args.length)
    noise = torch.rand(args.length - 1, args.rollouts, args.batch, args.length)

    fast = rollout_rewards(gen, score, sequences, bos, args.rollouts, noise)
    slow = rollout_rewards_loop(gen, score, sequences, bos, args.rollouts, noise)
    # batched and one-row LSTM steps round differently in the last bits; where that moves a
    # cumulative probability across its noise value, one token (and a reward, a little) differs
    torch.testing.assert_close(fast, slow, rtol=1e-3, atol=1e-3)
    t_fast = best_of(lambda: rollout_rewards(gen, score, sequences, bos, args.rollouts, noise), 3)
    t_slow = best_of(lambda: rollout_rewards_loop(gen, score, sequences, bos, args.rollouts,
                                                  noise), 1)
    tokens = args.batch * args.rollouts * args.length * (args.length - 1) // 2
    print(f"rollout rewards: {args.batch} sequences x {args.length} tokens x {args.rollouts} "
          f"rollouts ({tokens:,} sampled tokens), {args.threads} torch thread(s); rewards agree")
    print(f"batched pass        {t_fast * 1e3:9.1f} ms")
    print(f"per-sequence loop   {t_slow * 1e3:9.1f} ms")
    print(f"speed-up            {t_slow / t_fast:9.1f}x   (target >= 10x)")


if __name__ == "__main__":
    main()
