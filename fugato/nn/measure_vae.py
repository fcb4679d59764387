"""MeasureVAE: a VAE over one 4/4 bar of 24 `MeasureEncoding` tokens (Pati & Lerch 2020).

Encoder: Embedding(V, 10) -> 2-layer bidirectional GRU(128) -> the last layer's final forward
and backward states (B, 256) -> Linear(512) -> SELU -> mu, logvar (B, z).
Decoder: hierarchical. A beat GRU runs 4 steps with z as input (its state seeded from z), one
output per beat; a tick GRU runs 6 ticks inside each beat, seeded from that beat's output, with
the beat output and the previous token as input. Training uses teacher forcing: every previous
token is known, so the tick GRU runs once over all (B * 4) beats in parallel. Evaluation and
sampling decode free-running, feeding back the argmax (or a sampled) token: 24 batched steps.
"""

from __future__ import annotations

import torch
from torch import nn

BEATS = 4
TICKS = 6


class MeasureVAE(nn.Module):
    """`forward(bars) -> (logits (B, 24, V), mu (B, z), logvar (B, z), z (B, z))`.

    `vocab`: V token ids (the decoder adds one start id, V, for the first tick).
    """

    def __init__(self, vocab: int, embed: int = 10, enc_hidden: int = 128, enc_layers: int = 2,
                 enc_out: int = 512, z_dim: int = 32, dec_hidden: int = 128,
                 dec_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab, self.z_dim = vocab, z_dim
        self.dec_hidden, self.dec_layers = dec_hidden, dec_layers
        self.enc_embed = nn.Embedding(vocab, embed)
        self.enc_rnn = nn.GRU(embed, enc_hidden, enc_layers, batch_first=True,
                              bidirectional=True, dropout=dropout if enc_layers > 1 else 0.0)
        self.enc_mlp = nn.Sequential(nn.Linear(2 * enc_hidden, enc_out), nn.SELU())
        self.to_mu = nn.Linear(enc_out, z_dim)
        self.to_logvar = nn.Linear(enc_out, z_dim)

        self.beat_init = nn.Linear(z_dim, dec_layers * dec_hidden)
        self.beat_rnn = nn.GRU(z_dim, dec_hidden, dec_layers, batch_first=True,
                               dropout=dropout if dec_layers > 1 else 0.0)
        self.dec_embed = nn.Embedding(vocab + 1, embed)  # + the start id
        self.tick_init = nn.Linear(dec_hidden, dec_layers * dec_hidden)
        self.tick_rnn = nn.GRU(dec_hidden + embed, dec_hidden, dec_layers, batch_first=True,
                               dropout=dropout if dec_layers > 1 else 0.0)
        self.out = nn.Linear(dec_hidden, vocab)

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, bars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 24) token ids -> (mu (B, z), logvar (B, z))."""
        _, h = self.enc_rnn(self.enc_embed(bars))  # h: (layers * 2, B, H)
        last = torch.cat([h[-2], h[-1]], dim=-1)  # the top layer, both directions: (B, 2H)
        hidden = self.enc_mlp(last)
        return self.to_mu(hidden), self.to_logvar(hidden)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    # -- decoder -------------------------------------------------------------------------------
    def _init_state(self, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> initial GRU state (layers, N, H)."""
        h = torch.tanh(layer(x)).view(len(x), self.dec_layers, self.dec_hidden)
        return h.transpose(0, 1).contiguous()

    def beats(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z) -> beat GRU outputs (B, 4, H)."""
        inputs = z.unsqueeze(1).expand(-1, BEATS, -1)
        out, _ = self.beat_rnn(inputs, self._init_state(self.beat_init, z))
        return out

    def decode_teacher(self, z: torch.Tensor, bars: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, 24, V): tick t sees the true token t - 1 (start id at 0)."""
        b = len(z)
        start = torch.full_like(bars[:, :1], self.vocab)
        previous = torch.cat([start, bars[:, :-1]], dim=1).view(b * BEATS, TICKS)
        beat_out = self.beats(z).reshape(b * BEATS, -1)  # (B * 4, H)
        inputs = torch.cat([beat_out.unsqueeze(1).expand(-1, TICKS, -1),
                            self.dec_embed(previous)], dim=-1)
        out, _ = self.tick_rnn(inputs, self._init_state(self.tick_init, beat_out))
        return self.out(out).view(b, BEATS * TICKS, self.vocab)

    @torch.no_grad()
    def decode_free(self, z: torch.Tensor, temperature: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decoding: (B, z) -> tokens (B, 24) int64.

        `temperature` 0 takes the argmax; > 0 samples from softmax(logits / temperature).
        """
        b = len(z)
        beat_out = self.beats(z)  # (B, 4, H)
        token = torch.full((b,), self.vocab, dtype=torch.long, device=z.device)
        tokens = []
        for beat in range(BEATS):  # 24 batched steps: each token depends on the previous one
            h = self._init_state(self.tick_init, beat_out[:, beat])
            for _ in range(TICKS):
                x = torch.cat([beat_out[:, beat], self.dec_embed(token)], dim=-1).unsqueeze(1)
                out, h = self.tick_rnn(x, h)
                logits = self.out(out[:, 0])
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    token = torch.multinomial(probs, 1, generator=generator)[:, 0]
                else:
                    token = logits.argmax(dim=-1)
                tokens.append(token)
        return torch.stack(tokens, dim=1)

    def forward(self, bars: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 24) -> (teacher-forced logits (B, 24, V), mu, logvar, sampled z: each (B, z))."""
        mu, logvar = self.encode(bars)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode_teacher(z, bars), mu, logvar, z
