"""A small transformer sequence-to-sequence net: full-attention encoder, causal decoder.

`Seq2Seq` maps input frames x (B, S, in_dim) to output frames y (B, T, out_dim):

- Encoder: a linear embedding of the standardised input frames plus positions, then
  `torch.nn.TransformerEncoder` (batch_first, pre-norm, full attention: every input frame sees
  every other). Its output is the memory (B, S, d_model), computed once per sequence.
- Decoder: `torch.nn.TransformerDecoder` with a causal mask over its inputs
  `[start token, y_0, ..., y_{T-2}]` and cross-attention to the whole memory; output t is the
  prediction of y_t. The start token is a vector of `start_dim` (a dance's initial pose, a
  chord one-hot, ...), embedded by its own linear layer at decoder position 0; later positions
  embed the previous output frame (standardised with the output statistics).
- Seed: a noise vector of `seed_dim` (N(0, I) when none is given) is embedded by a linear
  layer and ADDED to every decoder input token (all positions, the start token included), so
  that different seeds give different continuations of the same memory and start token. The
  memory itself is left seed-free (`encode` is deterministic: a model may use it as an
  embedding of the input). `seed_dim = 0` turns the seed off.
- Standardisation: three pairs of buffers (`set_statistics`) standardise the encoder inputs,
  the start token and the output frames (the net predicts standardised outputs, which `forward`
  and `generate` return de-standardised, after the optional `output_activation`, "sigmoid"
  for outputs in [0, 1]). The buffers travel in the state dict, so a loaded net needs nothing
  else. Defaults: zero shift, unit scale.

Training uses teacher forcing (`forward(x, start, target)`: one parallel pass, output t
depends on target frames < t only). `generate` runs the decoder autoregressively, one frame
per step for all sequences of the batch at once, re-running the decoder over the frames made so
far (no key/value cache: at 75 frames the quadratic cost is small next to the Python loop).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) sine/cosine position codes of Vaswani et al. (2017)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(length, length) float mask: 0 on and below the diagonal, -inf above (position t may
    attend to positions <= t)."""
    return torch.triu(torch.full((length, length), float("-inf"), device=device), diagonal=1)


class Positions(nn.Module):
    """Adds position codes to (B, L, d) tokens: learned (an embedding table) or sinusoidal."""

    def __init__(self, max_len: int, dim: int, kind: str = "sinusoidal") -> None:
        super().__init__()
        if kind not in ("learned", "sinusoidal"):
            raise ValueError(f"positions {kind!r}: choose 'learned' or 'sinusoidal'")
        self.max_len = max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_positions(max_len, dim), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence of {length} frames exceeds max_len {self.max_len}")
        return tokens + self.table[:length]


class Seq2Seq(nn.Module):
    """Transformer encoder over input frames + autoregressive transformer decoder (module
    docstring). Shapes: x (B, S, in_dim), start (B, start_dim), target (B, T, out_dim),
    seed (B, seed_dim)."""

    # Normalisation buffers (registered in __init__).
    input_shift: torch.Tensor
    input_scale: torch.Tensor
    start_shift: torch.Tensor
    start_scale: torch.Tensor
    output_shift: torch.Tensor
    output_scale: torch.Tensor

    def __init__(self, in_dim: int, out_dim: int, start_dim: int, d_model: int = 64,
                 heads: int = 4, enc_layers: int = 2, dec_layers: int = 2, ff: int = 256,
                 dropout: float = 0.1, max_len: int = 128, positions: str = "sinusoidal",
                 seed_dim: int = 16, output_activation: str = "none") -> None:
        super().__init__()
        if output_activation not in ("none", "sigmoid"):
            raise ValueError(f"output_activation {output_activation!r}: 'none' or 'sigmoid'")
        self.in_dim, self.out_dim, self.start_dim = in_dim, out_dim, start_dim
        self.d_model, self.seed_dim = d_model, seed_dim
        self.output_activation = output_activation
        for name, dim in (("input", in_dim), ("start", start_dim), ("output", out_dim)):
            self.register_buffer(f"{name}_shift", torch.zeros(dim))
            self.register_buffer(f"{name}_scale", torch.ones(dim))
        self.embed_in = nn.Linear(in_dim, d_model)
        self.embed_start = nn.Linear(start_dim, d_model)
        self.embed_prev = nn.Linear(out_dim, d_model)
        self.embed_seed = nn.Linear(seed_dim, d_model) if seed_dim > 0 else None
        self.enc_positions = Positions(max_len, d_model, positions)
        self.dec_positions = Positions(max_len, d_model, positions)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True,
                                       norm_first=True),
            enc_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(d_model, heads, ff, dropout, batch_first=True,
                                       norm_first=True),
            dec_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, out_dim)

    # -- statistics ------------------------------------------------------------------------------
    @torch.no_grad()
    def set_statistics(self, name: str, shift: torch.Tensor, scale: torch.Tensor) -> None:
        """Set the standardisation of "input", "start" or "output" frames: (v - shift) / scale
        (a scale below 1e-6 is taken as 1: a constant column is only shifted)."""
        scale = torch.as_tensor(scale, dtype=torch.float32)
        getattr(self, f"{name}_shift").copy_(torch.as_tensor(shift, dtype=torch.float32))
        getattr(self, f"{name}_scale").copy_(torch.where(scale > 1e-6, scale, 1.0))

    def _standard(self, name: str, v: torch.Tensor) -> torch.Tensor:
        return (v - getattr(self, f"{name}_shift")) / getattr(self, f"{name}_scale")

    def _output(self, h: torch.Tensor) -> torch.Tensor:
        """Decoder states -> de-standardised output frames."""
        y = self.head(h) * self.output_scale + self.output_shift
        return torch.sigmoid(y) if self.output_activation == "sigmoid" else y

    # -- the two halves --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input frames (B, S, in_dim) -> memory (B, S, d_model); no noise involved."""
        return self.encoder(self.enc_positions(self.embed_in(self._standard("input", x))))

    def _seed(self, batch: int, seed: torch.Tensor | None, like: torch.Tensor
              ) -> torch.Tensor | None:
        if self.embed_seed is None:
            return None
        if seed is None:
            seed = torch.randn(batch, self.seed_dim, device=like.device, dtype=like.dtype)
        return self.embed_seed(seed).unsqueeze(1)  # (B, 1, d_model): added at every position

    def _decoder_inputs(self, start: torch.Tensor, previous: torch.Tensor | None,
                        seed_token: torch.Tensor | None) -> torch.Tensor:
        tokens = self.embed_start(self._standard("start", start)).unsqueeze(1)
        if previous is not None and previous.shape[1] > 0:
            prev = self.embed_prev(self._standard("output", previous))
            tokens = torch.cat([tokens, prev], dim=1)
        if seed_token is not None:
            tokens = tokens + seed_token
        return self.dec_positions(tokens)

    def decode(self, memory: torch.Tensor, start: torch.Tensor, previous: torch.Tensor | None,
               seed_token: torch.Tensor | None) -> torch.Tensor:
        """Decoder over `[start, previous...]` (causal) -> output frames (B, 1 + P, out_dim)."""
        tokens = self._decoder_inputs(start, previous, seed_token)
        mask = causal_mask(tokens.shape[1], tokens.device)
        return self._output(self.decoder(tokens, memory, tgt_mask=mask, tgt_is_causal=True))

    # -- training and generation -----------------------------------------------------------------
    def forward(self, x: torch.Tensor, start: torch.Tensor, target: torch.Tensor,
                seed: torch.Tensor | None = None, feedback: float = 0.0, passes: int = 1
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: (outputs (B, T, out_dim) with T = target's length, memory
        (B, S, d_model)). Output t sees the start token and target frames 0..t-1 only.

        `feedback` > 0 is parallel scheduled sampling (Duckworth et al. 2019): `passes`
        decoder passes without gradient each replace every previous frame, with probability
        `feedback` per frame, by the net's own prediction of it (from the previous pass's mixed
        inputs), and the graded pass decodes from that mix. A net trained on true previous
        frames alone has never seen its own errors, and free-running generation compounds them
        (exposure bias); this shows it its errors at the cost of `passes` forward passes."""
        memory = self.encode(x)
        seed_token = self._seed(len(x), seed, memory)
        previous = target[:, :-1]
        if feedback > 0 and previous.shape[1] > 0:
            true_previous = previous
            with torch.no_grad():
                for _ in range(passes):
                    guess = self.decode(memory, start, previous, seed_token)[:, :-1]
                    own = torch.rand(*guess.shape[:2], 1, device=guess.device) < feedback
                    previous = torch.where(own, guess, true_previous)
        return self.decode(memory, start, previous, seed_token), memory

    @torch.no_grad()
    def generate(self, x: torch.Tensor, start: torch.Tensor, length: int | None = None,
                 seed: torch.Tensor | None = None) -> torch.Tensor:
        """Autoregressive outputs (B, length, out_dim) (default length: the input's), each
        frame fed back as the next decoder input; one pass of the encoder."""
        length = x.shape[1] if length is None else length
        memory = self.encode(x)
        seed_token = self._seed(len(x), seed, memory)
        frames = torch.zeros(len(x), 0, self.out_dim, device=x.device, dtype=memory.dtype)
        for _ in range(length):
            out = self.decode(memory, start, frames, seed_token)
            frames = torch.cat([frames, out[:, -1:]], dim=1)
        return frames
