"""MeasureVAE: a VAE over one 4/4 bar of 24 `MeasureEncoding` tokens (Pati & Lerch 2020).

Encoder: Embedding(V, 10) -> 2-layer bidirectional GRU(128) -> final states -> Linear(enc_out)
-> SELU -> mu, logvar (B, z). `encoder_readout` picks the final states: "top" (the last layer's
forward and backward states, (B, 2H)) or "all" (every layer's, (B, layers * 2H), as the
reference code reads them).
Decoder: hierarchical. A beat GRU runs 4 steps, its state seeded from z, one output per beat;
its input at every beat is z (`beat_input` "z") or one learned constant ("constant", the
reference's). A tick GRU runs 6 ticks inside each beat, seeded from that beat's output, with
the beat output and the previous token as input. Teacher forcing: every previous token is
known, so the tick GRU runs once over all (B * 4) beats in parallel. In training a batch is
teacher forced with probability `teacher_forcing` (1: always), else decoded free-running
like evaluation and sampling, feeding back the argmax (or a sampled) token: 24 batched steps.
`dropout` acts between stacked GRU layers (encoder, beat and tick GRUs), in training only.
"""

from __future__ import annotations

import torch
from torch import nn

BEATS = 4
TICKS = 6
ENCODER_READOUTS = ("top", "all")
"""`encoder_readout` values: the top layer's final states, or every layer's."""
BEAT_INPUTS = ("z", "constant")
"""`beat_input` values: z at every beat, or one learned constant (the reference's)."""


class MeasureVAE(nn.Module):
    """`forward(bars) -> (logits (B, 24, V), mu (B, z), logvar (B, z), z (B, z))`.

    `vocab`: V token ids (the decoder adds one start id, V, for the first tick).
    `encoder_readout`, `beat_input`, `teacher_forcing`, `dropout`: the module docstring. The
    defaults are fugato's choices; the reference code's are "all" (with `enc_out` 256),
    "constant", 0.5 and 0.5.
    """

    def __init__(self, vocab: int, embed: int = 10, enc_hidden: int = 128, enc_layers: int = 2,
                 enc_out: int = 512, z_dim: int = 32, dec_hidden: int = 128,
                 dec_layers: int = 2, dropout: float = 0.0, *, encoder_readout: str = "top",
                 beat_input: str = "z", teacher_forcing: float = 1.0) -> None:
        super().__init__()
        check_options(encoder_readout, beat_input, teacher_forcing, dropout)
        self.vocab, self.z_dim = vocab, z_dim
        self.dec_hidden, self.dec_layers = dec_hidden, dec_layers
        self.encoder_readout, self.beat_input = encoder_readout, beat_input
        self.teacher_forcing = teacher_forcing
        self.enc_embed = nn.Embedding(vocab, embed)
        self.enc_rnn = nn.GRU(embed, enc_hidden, enc_layers, batch_first=True,
                              bidirectional=True, dropout=dropout if enc_layers > 1 else 0.0)
        states = enc_layers if encoder_readout == "all" else 1
        self.enc_mlp = nn.Sequential(nn.Linear(states * 2 * enc_hidden, enc_out), nn.SELU())
        self.to_mu = nn.Linear(enc_out, z_dim)
        self.to_logvar = nn.Linear(enc_out, z_dim)

        self.beat_init = nn.Linear(z_dim, dec_layers * dec_hidden)
        if beat_input == "constant":  # one learned input, zero at first (no random draw)
            self.beat_constant = nn.Parameter(torch.zeros(1))
        self.beat_rnn = nn.GRU(1 if beat_input == "constant" else z_dim, dec_hidden, dec_layers,
                               batch_first=True, dropout=dropout if dec_layers > 1 else 0.0)
        self.dec_embed = nn.Embedding(vocab + 1, embed)  # + the start id
        self.tick_init = nn.Linear(dec_hidden, dec_layers * dec_hidden)
        self.tick_rnn = nn.GRU(dec_hidden + embed, dec_hidden, dec_layers, batch_first=True,
                               dropout=dropout if dec_layers > 1 else 0.0)
        self.out = nn.Linear(dec_hidden, vocab)

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, bars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 24) token ids -> (mu (B, z), logvar (B, z))."""
        _, h = self.enc_rnn(self.enc_embed(bars))  # h: (layers * 2, B, H)
        if self.encoder_readout == "all":
            # layer 0 forward, layer 0 backward, layer 1 forward, ...: (B, layers * 2H)
            last = h.transpose(0, 1).reshape(len(bars), -1)
        else:
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
        """(B, z) -> beat GRU outputs (B, 4, H). Its inputs: z at every beat (B, 4, z), or the
        learned constant (B, 4, 1) with `beat_input` "constant"."""
        if self.beat_input == "constant":
            inputs = self.beat_constant.view(1, 1, 1).expand(len(z), BEATS, 1)
        else:
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

    def _run_free(self, z: torch.Tensor, temperature: float = 0.0,
                  generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Free-running decoding, 24 batched steps (each token depends on the previous one):
        (B, z) -> (logits (B, 24, V), tokens (B, 24) int64). Token t is fed back as the input
        of tick t + 1: the argmax with `temperature` 0, else a draw from
        softmax(logits / temperature) (no gradient flows through the choice)."""
        b = len(z)
        beat_out = self.beats(z)  # (B, 4, H)
        token = torch.full((b,), self.vocab, dtype=torch.long, device=z.device)
        tokens, all_logits = [], []
        for beat in range(BEATS):
            h = self._init_state(self.tick_init, beat_out[:, beat])
            for _ in range(TICKS):
                x = torch.cat([beat_out[:, beat], self.dec_embed(token)], dim=-1).unsqueeze(1)
                out, h = self.tick_rnn(x, h)
                logits = self.out(out[:, 0])
                if temperature > 0:
                    probs = torch.softmax(logits.detach() / temperature, dim=-1)
                    token = torch.multinomial(probs, 1, generator=generator)[:, 0]
                else:
                    token = logits.detach().argmax(dim=-1)
                tokens.append(token)
                all_logits.append(logits)
        return torch.stack(all_logits, dim=1), torch.stack(tokens, dim=1)

    @torch.no_grad()
    def decode_free(self, z: torch.Tensor, temperature: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decoding: (B, z) -> tokens (B, 24) int64.

        `temperature` 0 takes the argmax; > 0 samples from softmax(logits / temperature).
        """
        return self._run_free(z, temperature, generator)[1]

    def decode_free_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Free-running logits (B, 24, V), with gradient: tick t sees the argmax of tick t - 1
        (the reference's training without teacher forcing)."""
        return self._run_free(z)[0]

    def teacher_forced(self) -> bool:
        """Whether this forward pass decodes teacher forced: always in eval mode; in training
        with probability `teacher_forcing`, one draw per batch from torch's global CPU stream
        (seeded by the trainer and kept in its checkpoints, so a resumed run draws the same);
        no draw at all when `teacher_forcing` is 1 (or 0)."""
        if not self.training or self.teacher_forcing >= 1.0:
            return True
        if self.teacher_forcing <= 0.0:
            return False
        return bool(torch.rand(()).item() < self.teacher_forcing)

    def forward(self, bars: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 24) -> (logits (B, 24, V), mu, logvar, sampled z: each (B, z)); the logits are
        teacher forced, or free-running on a training batch whose coin (`teacher_forced`)
        says so."""
        mu, logvar = self.encode(bars)
        z = self.reparameterize(mu, logvar) if self.training else mu
        if self.teacher_forced():
            return self.decode_teacher(z, bars), mu, logvar, z
        return self.decode_free_logits(z), mu, logvar, z


def check_options(encoder_readout: str, beat_input: str, teacher_forcing: float,
                  dropout: float) -> None:
    """Raise ValueError naming the first option out of its range (its message starts with the
    option's name)."""
    if encoder_readout not in ENCODER_READOUTS:
        raise ValueError(f"encoder_readout must be 'top' or 'all', not {encoder_readout!r}")
    if beat_input not in BEAT_INPUTS:
        raise ValueError(f"beat_input must be 'z' or 'constant', not {beat_input!r}")
    if not 0.0 <= teacher_forcing <= 1.0:
        raise ValueError(f"teacher_forcing must be a probability in [0, 1], not {teacher_forcing}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout}")
