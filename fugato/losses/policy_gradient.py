"""Policy-gradient training of token generators (SeqGAN, Yu et al. 2017), as FusionGAN uses it.

A critic only scores whole sequences, so the reward of token t is estimated by Monte-Carlo:
complete the prefix y_1..y_t `n_rollouts` times with the generator itself, score the
completions, average. `rollout_rewards` does this for every prefix of every sequence in one
batched pass: all (prefix, rollout, sequence) completions advance together, one LSTM step per
position, and since completions of longer prefixes need fewer steps, the batch is sorted so
that the rows still running are always a leading slice (exactly T(T-1)/2 * n * B token steps).

Sampling uses the inverse CDF of given uniform noise, so the same noise gives the same
completions here and in the per-sequence reference loop of `benchmarks/rollouts.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fugato.nn.lstm import LSTMGenerator

Scorer = Callable[[torch.Tensor], torch.Tensor]
"""Whole sequences (N, T) int64 -> scores (N,) float (higher = more real), or (N, C) for C
critics whose standardised scores are summed (see `rollout_rewards`)."""


def sample_from(logits: torch.Tensor, uniform: torch.Tensor,
                banned: list[int] | None = None) -> torch.Tensor:
    """Inverse-CDF sampling: logits (N, V), uniform noise (N,) in [0, 1) -> tokens (N,)."""
    if banned:
        logits = logits.index_fill(1, torch.tensor(banned, device=logits.device), -torch.inf)
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    token = torch.searchsorted(cdf, uniform.unsqueeze(-1) * cdf[:, -1:], right=True).squeeze(-1)
    return token.clamp_(max=logits.shape[-1] - 1)


def prefix_states(gen: LSTMGenerator, sequences: torch.Tensor, bos: int
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run `gen` over [bos, y_1 .. y_{T-1}]: (h, c) after each prefix, each (T, layers, B, H),
    and the next-token logits after each prefix (T, B, V); index t = prefix y_1..y_t."""
    b, t_len = sequences.shape
    token = torch.full((b, 1), bos, dtype=torch.long, device=sequences.device)
    logits, state = gen(token, return_state=True)  # prefix of length 0
    hs, cs, outs = [], [], []
    for t in range(t_len):
        hs.append(state[0])
        cs.append(state[1])
        outs.append(logits[:, -1])
        if t < t_len - 1:
            logits, state = gen(sequences[:, t : t + 1], state, return_state=True)
    return torch.stack(hs), torch.stack(cs), torch.stack(outs)


@torch.no_grad()
def rollout_rewards(gen: LSTMGenerator, score: Scorer, sequences: torch.Tensor, bos: int,
                    n_rollouts: int = 16, noise: torch.Tensor | None = None,
                    banned: list[int] | None = None, score_batch: int = 8192) -> torch.Tensor:
    """Monte-Carlo rewards (B, T) of generated `sequences` (B, T): column t - 1 is the mean
    score of `n_rollouts` completions of the prefix y_1..y_t; the last column scores the
    sequences themselves.

    `noise`: uniform (T - 1, n_rollouts, B, T) driving the sampling (default: torch.rand), entry
    [t - 1, r, b, j] samples position j of rollout r of prefix length t of sequence b.

    A scorer of C > 1 columns (several critics) gives the sum of the columns after each is
    standardised over every window scored here: Wasserstein critics have arbitrary scales, and
    without this the widest critic alone would steer the generator.
    """
    b, t_len = sequences.shape
    device = sequences.device
    rewards = torch.empty(b, t_len, device=device)
    final = score(sequences)
    if t_len == 1:
        rewards[:, -1] = _combined(final)
        return rewards
    if noise is None:
        noise = torch.rand(t_len - 1, n_rollouts, b, t_len, device=device)
    was_training = gen.training
    gen.eval()  # no dropout while rolling out
    h, c, logits = prefix_states(gen, sequences, bos)
    # rows ordered by prefix length t = 1 .. T-1 (longest completion first), then rollout, then b
    prefix_len = torch.arange(1, t_len, device=device).repeat_interleave(n_rollouts * b)
    rows = len(prefix_len)
    h_rows = h[1:].repeat_interleave(n_rollouts, dim=0)  # (T-1)*n, layers, B, H
    c_rows = c[1:].repeat_interleave(n_rollouts, dim=0)
    h_rows = h_rows.permute(1, 0, 2, 3).reshape(h.shape[1], rows, h.shape[-1]).contiguous()
    c_rows = c_rows.permute(1, 0, 2, 3).reshape(c.shape[1], rows, c.shape[-1]).contiguous()
    last = logits[1:].repeat_interleave(n_rollouts, dim=0).reshape(rows, -1)
    # completions start as copies of the sequences; positions >= t are overwritten
    completions = sequences.repeat((t_len - 1) * n_rollouts, 1)
    flat_noise = noise.reshape(rows, t_len)
    row_prefix = prefix_len
    for k in range(t_len - 1):  # k-th generated token after the prefix
        active = int((row_prefix < t_len - k).sum())  # a leading slice: prefixes sorted up
        pos = row_prefix[:active] + k
        u = flat_noise[:active].gather(1, pos.unsqueeze(1)).squeeze(1)
        token = sample_from(last[:active], u, banned)
        completions[torch.arange(active, device=device), pos] = token
        more = int((row_prefix[:active] < t_len - k - 1).sum())
        if more == 0:
            break
        step_logits, (h_new, c_new) = gen(token[:more].unsqueeze(1),
                                          (h_rows[:, :more].contiguous(),
                                           c_rows[:, :more].contiguous()), return_state=True)
        h_rows, c_rows, last = h_new, c_new, step_logits[:, -1]
        row_prefix = row_prefix[:more]
    gen.train(was_training)
    scores = torch.cat([score(completions[i : i + score_batch])
                        for i in range(0, len(completions), score_batch)])
    combined = _combined(torch.cat([final, scores]))
    rewards[:, -1] = combined[:b]
    rewards[:, :-1] = combined[b:].view(t_len - 1, n_rollouts, b).mean(dim=1).t()
    return rewards


def _combined(scores: torch.Tensor) -> torch.Tensor:
    """(N,) scores as they are; (N, C) scores: each column standardised over N, then summed."""
    if scores.dim() == 1:
        return scores
    spread = scores.std(dim=0, keepdim=True).clamp_min(1e-8) if len(scores) > 1 else 1.0
    return ((scores - scores.mean(dim=0, keepdim=True)) / spread).sum(dim=1)


def reinforce_loss(gen: torch.nn.Module, sequences: torch.Tensor, rewards: torch.Tensor,
                   bos: int) -> torch.Tensor:
    """REINFORCE with a per-position baseline: -mean((r - mean_b r) / std(r) * log G(y_t|y_<t)).

    Rewards are centred per position over the batch (the baseline) and scaled by their overall
    standard deviation, so critics of any scale give steps of one size."""
    start = torch.full_like(sequences[:, :1], bos)
    logits = gen(torch.cat([start, sequences[:, :-1]], dim=1))
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, sequences.unsqueeze(-1)).squeeze(-1)
    advantage = rewards - rewards.mean(dim=0, keepdim=True)
    advantage = advantage / advantage.std().clamp_min(1e-8)
    return -(advantage.detach() * log_p).mean()
