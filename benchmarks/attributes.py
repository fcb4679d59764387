"""Vectorised bar attributes (numpy and torch) against plain per-token Python loops, and the
MeasureVAE's training and sampling throughput.

    python benchmarks/attributes.py [--batch 256] [--repeats 200] [--sample 8192]

All sides compute the four AR-VAE attributes of the same random batch of MeasureEncoding bars
in this process; the script checks they agree and prints the speed-ups (target: >= 50x).
Two Python baselines: one function per attribute, each looping over bars and tokens (the
reference code's structure, without its music21 pitch parsing), and a single fused pass that
computes all four attributes per token at once (the fastest plain loop we could write).
Throughput: the paper-size MeasureVAE (weights do not change the cost), one AR-VAE training
step (forward, loss with the attributes computed in the loss, backward, Adam) on batches of
`--batch` random bars, and free-running decoding of `--sample` prior draws (target: >= 2,000
bars/s on 2 CPU cores).
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_of

from fugato.music.attributes import ATTRIBUTES, PITCH_NORM, RHYTHM_WEIGHTS, compute_attributes
from fugato.music.encodings import MeasureEncoding


def _pitches(bar: list[int], encoding: MeasureEncoding) -> list[int]:
    return [token - encoding.first_pitch_token + encoding.low for token in bar
            if encoding.first_pitch_token <= token <= encoding.last_pitch_token]


def loop_rhythmic_complexity(bars, encoding):
    weights = [float(w) for w in RHYTHM_WEIGHTS]
    out = []
    for bar in bars:
        total = 0.0
        for tick, token in enumerate(bar):
            if encoding.first_pitch_token <= token <= encoding.last_pitch_token:
                total += weights[tick]
        out.append(total / sum(weights))
    return out


def loop_pitch_range(bars, encoding):
    out = []
    for bar in bars:
        pitches = _pitches(bar, encoding)
        out.append((max(pitches) - min(pitches)) / PITCH_NORM if pitches else 0.0)
    return out


def loop_note_density(bars, encoding):
    return [len(_pitches(bar, encoding)) / len(bar) for bar in bars]


def loop_contour(bars, encoding):
    out = []
    for bar in bars:
        pitches = _pitches(bar, encoding)
        out.append(sum(b - a for a, b in zip(pitches[:-1], pitches[1:], strict=True)) / PITCH_NORM)
    return out


def per_attribute_loops(bars: list[list[int]], encoding: MeasureEncoding) -> list[list[float]]:
    """One plain function per attribute, as the reference computes them."""
    columns = [f(bars, encoding) for f in (loop_rhythmic_complexity, loop_pitch_range,
                                           loop_note_density, loop_contour)]
    return [list(row) for row in zip(*columns, strict=True)]


def python_attributes(bars: list[list[int]], encoding: MeasureEncoding) -> list[list[float]]:
    """The same four attributes in one fused pass, one bar and one token at a time."""
    weights = [float(w) for w in RHYTHM_WEIGHTS]
    total = sum(weights)
    out = []
    for bar in bars:
        pitches, weighted = [], 0.0
        for tick, token in enumerate(bar):
            if encoding.first_pitch_token <= token <= encoding.last_pitch_token:
                pitches.append(token - encoding.first_pitch_token + encoding.low)
                weighted += weights[tick]
        steps = sum(b - a for a, b in zip(pitches[:-1], pitches[1:], strict=True))
        out.append([
            weighted / total,
            (max(pitches) - min(pitches)) / PITCH_NORM if pitches else 0.0,
            len(pitches) / len(bar),
            steps / PITCH_NORM,
        ])
    return out


def random_bars(n: int, encoding: MeasureEncoding, rng: np.random.Generator) -> np.ndarray:
    """Bars with realistic proportions: mostly holds, some rests, notes in range."""
    kind = rng.choice(3, size=(n, 24), p=[0.65, 0.05, 0.30])
    pitches = rng.integers(encoding.first_pitch_token, encoding.last_pitch_token + 1, (n, 24))
    return np.where(kind == 0, encoding.HOLD, np.where(kind == 1, encoding.REST, pitches))


def throughput(encoding: MeasureEncoding, batch: int, n_sample: int) -> tuple[float, float]:
    """(training bars/s, sampling bars/s) of the paper-size AR-VAE on this machine."""
    import torch
    from torch.nn import functional as F

    from fugato.losses.attribute import attribute_regularization, kl_divergence
    from fugato.nn.measure_vae import MeasureVAE

    torch.manual_seed(0)
    vae = MeasureVAE(encoding.vocab_size)
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-4)
    bars = torch.from_numpy(random_bars(batch, encoding, np.random.default_rng(1)))

    def train_step() -> None:
        logits, mu, logvar, z = vae(bars)
        attrs = compute_attributes(bars, encoding)
        loss = (F.cross_entropy(logits.flatten(0, 1), bars.flatten())
                + 1e-3 * kl_divergence(mu, logvar)
                + attribute_regularization(z[:, :4], attrs, 10.0)[0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    vae.train()
    train_step()  # warm-up
    t_train = best_of(train_step, 5)
    vae.eval()
    z = torch.randn(n_sample, vae.z_dim)
    vae.decode_free(z[:256])
    t_sample = best_of(lambda: vae.decode_free(z), 3)
    return batch / t_train, n_sample / t_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sample", type=int, default=8192, help="prior draws to decode")
    args = parser.parse_args()
    import torch

    encoding = MeasureEncoding()
    bars = random_bars(args.batch, encoding, np.random.default_rng(0))
    bars_list = bars.tolist()
    bars_torch = torch.from_numpy(bars)

    expected = np.array(python_attributes(bars_list, encoding))
    np.testing.assert_allclose(np.array(per_attribute_loops(bars_list, encoding)), expected,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compute_attributes(bars, encoding), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compute_attributes(bars_torch, encoding).double().numpy(), expected,
                               rtol=1e-5, atol=1e-6)

    slow = max(3, args.repeats // 10)
    t_loops = best_of(lambda: per_attribute_loops(bars_list, encoding), slow)
    t_fused = best_of(lambda: python_attributes(bars_list, encoding), slow)
    t_numpy = best_of(lambda: compute_attributes(bars, encoding), args.repeats)
    t_torch = best_of(lambda: compute_attributes(bars_torch, encoding), args.repeats)
    print(f"{args.batch} x 24 bars, attributes {', '.join(ATTRIBUTES)} (best of runs, CPU, "
          f"torch threads {torch.get_num_threads()}); all results agree")
    print(f"{'':26s}{'time':>10s}   {'vs per-attribute loops':>22s}   {'vs fused loop':>13s}")
    for name, t in [("python per-attribute loops", t_loops), ("python fused loop", t_fused),
                    ("numpy vectorised", t_numpy), ("torch vectorised (CPU)", t_torch)]:
        print(f"{name:26s}{t * 1e3:8.3f} ms   {t_loops / t:21.1f}x   {t_fused / t:12.1f}x")

    train_rate, sample_rate = throughput(encoding, args.batch, args.sample)
    print(f"paper-size MeasureVAE: training {train_rate:,.0f} bars/s (batch {args.batch}), "
          f"sampling {sample_rate:,.0f} bars/s (free-running argmax, {args.sample:,} draws; "
          f"target >= 2,000)")


if __name__ == "__main__":
    main()
