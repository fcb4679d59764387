"""An LSTM token generator: the melody language model, and FusionGAN's generators."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LSTMGenerator(nn.Module):
    """Embedding -> LSTM -> logits over the vocabulary.

    forward(tokens (B, T) int64) -> logits (B, T, vocab) for the next token at every position.
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 256, layers: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_state: bool = False):
        out, state = self.lstm(self.embed(tokens), state)
        logits = self.head(self.drop(out))
        return (logits, state) if return_state else logits

    def log_likelihood(self, inputs: torch.Tensor, targets: torch.Tensor,
                       ignore_index: int = -100) -> torch.Tensor:
        """Mean negative log-likelihood per target token (nats): scalar."""
        logits = self(inputs)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1),
                               ignore_index=ignore_index)

    @torch.no_grad()
    def sample(self, prefix: torch.Tensor, length: int, temperature: float = 1.0,
               generator: torch.Generator | None = None,
               banned: list[int] | None = None) -> torch.Tensor:
        """Continue `prefix` (B, P) by `length` tokens, all B sequences at once: (B, length).

        One batched LSTM step per generated position; `banned` tokens (e.g. padding) get zero
        probability.
        """
        logits, state = self(prefix, return_state=True)
        last = logits[:, -1]
        out = torch.empty(prefix.shape[0], length, dtype=torch.long, device=prefix.device)
        for t in range(length):
            if banned:
                last = last.index_fill(1, torch.tensor(banned, device=last.device), -torch.inf)
            probs = torch.softmax(last / max(temperature, 1e-6), dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
            out[:, t] = token[:, 0]
            step_logits, state = self(token, state, return_state=True)
            last = step_logits[:, -1]
        return out
