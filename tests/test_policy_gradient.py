"""SeqGAN pieces: batched rollout rewards (against the per-sequence loop of the benchmark),
REINFORCE, and the TextCNN critic."""

import sys
from pathlib import Path

import torch

from fugato.losses.policy_gradient import reinforce_loss, rollout_rewards, sample_from
from fugato.nn.lstm import LSTMGenerator
from fugato.nn.textcnn import TextCNN

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from rollouts import rollout_rewards_loop  # noqa: E402

BOS = 1


def test_batched_rollouts_equal_the_per_sequence_loop() -> None:
    torch.manual_seed(0)
    gen = LSTMGenerator(12, embed=8, hidden=16, layers=2, dropout=0.2)
    critic = TextCNN(12, embed=8, windows=(2, 3, 9), filters=4).eval()

    def score(x: torch.Tensor) -> torch.Tensor:
        return critic(x)[:, 0]

    sequences = gen.sample(torch.full((3, 1), BOS), 7)
    noise = torch.rand(6, 4, 3, 7)
    fast = rollout_rewards(gen, score, sequences, BOS, 4, noise)
    assert gen.training  # the caller's mode is restored (rollouts run without dropout)
    slow = rollout_rewards_loop(gen, score, sequences, BOS, 4, noise)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_rollouts_keep_prefixes_and_average_completions() -> None:
    torch.manual_seed(0)
    gen = LSTMGenerator(8, embed=4, hidden=8, layers=1, dropout=0.0)
    with torch.no_grad():  # a generator that always writes token 5
        gen.head.weight.zero_()
        gen.head.bias.fill_(-50.0)
        gen.head.bias[5] = 50.0
    sequences = torch.tensor([[2, 3, 2, 3, 2, 3], [5, 2, 2, 2, 2, 2]])
    seen = []

    def share_of_fives(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.clone())
        return (x == 5).float().mean(dim=1)

    rewards = rollout_rewards(gen, share_of_fives, sequences, BOS, n_rollouts=3)
    t = torch.arange(1, 7, dtype=torch.float32)
    # prefix y_1..y_t kept, the rest completed with 5s
    expected0 = (6 - t) / 6
    expected0[-1] = 0.0
    torch.testing.assert_close(rewards[0], expected0)
    expected1 = (1 + 6 - t) / 6
    expected1[-1] = 1 / 6
    torch.testing.assert_close(rewards[1], expected1)
    completions = torch.cat(seen[1:])
    assert len(completions) == 5 * 3 * 2


def test_sampling_follows_the_inverse_cdf_and_skips_banned_tokens() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]])).repeat(5, 1)
    u = torch.tensor([0.0, 0.09, 0.11, 0.29, 0.31])
    assert sample_from(logits, u).tolist() == [0, 0, 1, 1, 2]
    assert sample_from(logits, u, banned=[0]).tolist()[0] == 1


def test_reinforce_raises_the_probability_of_rewarded_tokens() -> None:
    torch.manual_seed(0)
    gen = LSTMGenerator(6, embed=4, hidden=8, layers=1, dropout=0.0)
    optimizer = torch.optim.Adam(gen.parameters(), lr=0.05)

    def p_first_is_4() -> float:
        with torch.no_grad():
            return torch.softmax(gen(torch.full((1, 1), BOS))[0, -1], -1)[4].item()

    before = p_first_is_4()
    for _ in range(40):
        sequences = gen.sample(torch.full((64, 1), BOS), 3)
        rewards = (sequences[:, :1] == 4).float().expand(-1, 3)
        optimizer.zero_grad()
        reinforce_loss(gen, sequences, rewards, BOS).backward()
        optimizer.step()
    assert p_first_is_4() > max(0.8, 2 * before)


def test_textcnn_takes_ids_or_distributions_and_short_sequences() -> None:
    torch.manual_seed(0)
    net = TextCNN(10, embed=6, windows=(2, 5), filters=3, outputs=2, spectral_norm=True).eval()
    ids = torch.randint(0, 10, (4, 7))
    one_hot = torch.nn.functional.one_hot(ids, 10).float()
    torch.testing.assert_close(net(ids), net(one_hot))
    assert net(ids).shape == (4, 2)
    assert net(ids[:, :3]).shape == (4, 2)  # narrower than a window: that window gives zeros
    # a gradient reaches distribution inputs (what a gradient penalty or relaxation needs)
    soft = one_hot.clone().requires_grad_()
    net(soft).sum().backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0


def test_several_critics_count_equally_after_standardisation() -> None:
    torch.manual_seed(0)
    gen = LSTMGenerator(12, embed=8, hidden=16, layers=1, dropout=0.0)
    sequences = gen.sample(torch.full((16, 1), BOS), 6)
    noise = torch.rand(5, 3, 16, 6)

    def critics(x: torch.Tensor, scale: float) -> torch.Tensor:
        """Two critics: one on the last token, one on the first, the first `scale` wide."""
        return torch.stack([scale * (x[:, -1] % 3).float(), (x[:, 0] % 2).float()], dim=1)

    even = rollout_rewards(gen, lambda x: critics(x, 1.0), sequences, BOS, 3, noise)
    wide = rollout_rewards(gen, lambda x: critics(x, 1000.0), sequences, BOS, 3, noise)
    torch.testing.assert_close(even, wide)  # a critic's scale no longer matters
    raw = rollout_rewards(gen, lambda x: critics(x, 1000.0).sum(dim=1), sequences, BOS, 3, noise)
    assert not torch.allclose(raw / raw.std(), even / even.std(), atol=0.1)
    # one-token sequences: the reward is the sum of the two standardised columns
    short = sequences[:, :1]
    scores = critics(short, 1000.0)
    expected = ((scores - scores.mean(0)) / scores.std(0)).sum(1)
    torch.testing.assert_close(rollout_rewards(gen, lambda x: critics(x, 1000.0), short, BOS,
                                               3)[:, 0], expected)
