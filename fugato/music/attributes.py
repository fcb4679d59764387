"""Musical attributes of one-bar melodies in `MeasureEncoding` tokens (AR-VAE, Pati & Lerch 2020).

Every function takes bars of shape (..., 24) (numpy array or torch tensor of valid token ids)
and returns one value per bar, shape (...): float64 for numpy, torch's default float dtype on
the bars' device for torch. numpy and torch share one code path through a tiny namespace of
operations; torch is imported only when a tensor comes in (fugato.music never imports torch at
import time). CPU tensors go through zero-copy numpy views: at these sizes torch's per-operation
overhead costs more than the arithmetic.

Definitions, following the reference code (ashispati/ar-vae, data/dataloaders/bar_dataset.py):
- an *onset* is a pitch token: `rest` and hold `__` are not onsets (the reference zeroes rests
  in both rhythmic complexity and note density);
- rhythmic complexity = sum(w * onset) / sum(w), weights `RHYTHM_WEIGHTS` (metrical weakness:
  syncopated ticks weigh more), in [0, 1];
- pitch range = (max - min MIDI pitch of the bar's onsets) / R;
- note density = onsets / 24, in [0, 1];
- contour = sum of successive pitch differences / R = (last pitch - first pitch) / R, since the
  sum telescopes;
- R = `PITCH_NORM` = 26 semitones, the reference's constant for both pitch range and contour
  (so a [55, 84] bar can reach 29/26; AR-VAE's regulariser uses only the order of attribute
  values, so the scale matters only for plots and comparisons with the reference).
Bars without notes give 0 for every attribute; a single note gives pitch range and contour 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from fugato.music.encodings.measure import STEPS_PER_BAR, MeasureEncoding

ATTRIBUTES = ("rhythmic_complexity", "pitch_range", "note_density", "contour")
RHYTHM_WEIGHTS = np.array([0.20, 1, 2, 0.5, 2, 1,
                           0.67, 1, 2, 0.5, 2, 1,
                           0.25, 1, 2, 0.5, 2, 1,
                           0.67, 1, 2, 0.5, 2, 1])
"""(24,) weight of an onset on each tick of a 4/4 bar (the reference's RHY_COMPLEXITY_COEFFS)."""
PITCH_NORM = 26.0
"""R: semitones that pitch range and contour are divided by (the reference's constant)."""

_TICK = np.arange(STEPS_PER_BAR)
# One matmul with the (24, n) onset matrix gives rhythmic complexity, note density and two bit
# masks of the onset ticks whose highest set bit, read exactly by frexp, locates the last and the
# first onset: contour without a loop or a sort. The forward mask sits 24 bits up, above a bias
# bit added later, so that a bar without notes points both look-ups at tick 0 (contour 0).
# Every mask is an integer below 2**48: exact in float64.
_FEATURES = np.stack([
    RHYTHM_WEIGHTS / RHYTHM_WEIGHTS.sum(),
    np.full(STEPS_PER_BAR, 1.0 / STEPS_PER_BAR),
    2.0 ** (_TICK + STEPS_PER_BAR),  # last onset at tick t: exponent t + 25
    2.0 ** (STEPS_PER_BAR - 1 - _TICK),  # first onset at tick t: exponent 24 - t
])
_MASK_BIAS = np.array([[1.0], [0.0]])
_TORCH_OPS_ON_CPU = False
"""Tests set this to run the torch operations on CPU tensors too."""


@lru_cache(maxsize=16)
def _index_constants(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of tick t of bar j in the flattened (24, n) ticks is t * n + j: the last onset is at
    t = exponent - 25, the first at t = -exponent (24 - exponent, counted from the end)."""
    scale = np.array([[n], [-n]])
    offset = np.arange(n) - np.array([[25 * n], [0]])
    scale.flags.writeable = offset.flags.writeable = False
    return scale, offset


class _NumpyOps:
    """The few operations that differ between numpy and torch."""

    @staticmethod
    def ticks_first(bars: np.ndarray) -> np.ndarray:
        # (n, 24) -> (24, n) uint8: reductions over ticks become fast elementwise passes, and
        # token ids (< 256 for any MeasureEncoding) take a byte each
        return bars.T.astype(np.uint8, order="C")

    @staticmethod
    def features(onset: np.ndarray) -> np.ndarray:
        return _FEATURES @ onset.astype(np.float64)

    @staticmethod
    def exponent(x: np.ndarray) -> np.ndarray:
        return np.frexp(x + _MASK_BIAS)[1]

    @staticmethod
    def flat_index(exponent: np.ndarray, n: int) -> np.ndarray:
        scale, offset = _index_constants(n)
        return exponent * scale + offset

    @staticmethod
    def difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.subtract(a, b, dtype=np.float64)

    @staticmethod
    def tick_max(x: np.ndarray) -> np.ndarray:
        return x.max(axis=0)

    @staticmethod
    def tick_min(x: np.ndarray) -> np.ndarray:
        return x.min(axis=0)

    @staticmethod
    def positive(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)

    @staticmethod
    def finish(rows: Sequence[np.ndarray]) -> np.ndarray:
        out = np.empty((len(rows), len(rows[0])))
        for i, row in enumerate(rows):  # at most four attributes: no loop over bars or tokens
            out[i] = row
        return out.T


class _TorchOps:
    def __init__(self) -> None:
        import torch

        self.torch = torch
        self._constants: dict[Any, tuple[Any, Any]] = {}

    def _on(self, device: Any) -> tuple[Any, Any]:
        if device not in self._constants:
            self._constants[device] = (
                self.torch.as_tensor(_FEATURES, dtype=self.torch.float64, device=device),
                self.torch.as_tensor(_MASK_BIAS, dtype=self.torch.float64, device=device),
            )
        return self._constants[device]

    def ticks_first(self, bars: Any) -> Any:
        return bars.t().to(dtype=self.torch.uint8).contiguous()

    def features(self, onset: Any) -> Any:
        # float64 on every device: TF32 or float32 matmuls would round the bit masks
        return self._on(onset.device)[0] @ onset.to(self.torch.float64)

    def exponent(self, x: Any) -> Any:
        return self.torch.frexp(x + self._on(x.device)[1]).exponent.long()

    def flat_index(self, exponent: Any, n: int) -> Any:
        device = exponent.device
        scale = self.torch.tensor([[n], [-n]], device=device)
        offset = self.torch.arange(n, device=device) - self.torch.tensor([[25 * n], [0]],
                                                                          device=device)
        return exponent * scale + offset

    def difference(self, a: Any, b: Any) -> Any:
        return a.to(self.torch.float64) - b.to(self.torch.float64)

    @staticmethod
    def tick_max(x: Any) -> Any:
        return x.amax(dim=0)

    @staticmethod
    def tick_min(x: Any) -> Any:
        return x.amin(dim=0)

    @staticmethod
    def positive(x: Any) -> Any:
        return x.clamp(min=0.0)

    def finish(self, rows: Sequence[Any]) -> Any:
        return self.torch.stack(list(rows), dim=-1).to(self.torch.get_default_dtype())


_TORCH_OPS: _TorchOps | None = None


def _namespace(bars: Any) -> tuple[Any, Any, bool]:
    """(bars as an array, its operations, whether to hand the result back as a CPU tensor)."""
    global _TORCH_OPS
    if isinstance(bars, np.ndarray):
        return bars, _NumpyOps, False
    if type(bars).__module__.startswith("torch"):
        if bars.device.type == "cpu" and not _TORCH_OPS_ON_CPU:
            return bars.detach().numpy(), _NumpyOps, True
        if _TORCH_OPS is None:
            _TORCH_OPS = _TorchOps()
        return bars, _TORCH_OPS, False
    return np.asarray(bars), _NumpyOps, False


def check_attribute_names(names: Sequence[str]) -> None:
    """A ValueError unless every name is built in (`ATTRIBUTES`) or a user's "module:function"
    that imports (a FugatoError then, naming it)."""
    unknown = sorted(n for n in names if n not in ATTRIBUTES and ":" not in n)
    if unknown:
        raise ValueError(f"unknown attributes {unknown}; known: {', '.join(ATTRIBUTES)}, or "
                         "module:function for one of your own")
    for name in names:
        if ":" in name:
            user_attribute(name)


@lru_cache(maxsize=32)
def user_attribute(name: str) -> Callable[[np.ndarray, MeasureEncoding], np.ndarray]:
    """A user's attribute "package.module:function": `function(bars, encoding)` takes (n, 24)
    int64 tokens and the bars' `MeasureEncoding` and returns (n,) values, vectorised over the
    bars (it runs on every batch the evaluation decodes)."""
    from fugato.registry import load_function

    return load_function(name, "data.attributes")


def _user_attribute_row(name: str, array: Any, encoding: MeasureEncoding | None) -> Any:
    """User attribute `name` of bars `array` (..., 24), numpy or torch: (n,) in their library."""
    tokens = array if isinstance(array, np.ndarray) else array.detach().cpu().numpy()
    flat = tokens.reshape(-1, STEPS_PER_BAR).astype(np.int64)
    from fugato.registry import one_value_each

    values = one_value_each(name, user_attribute(name)(flat, encoding or MeasureEncoding()),
                            len(flat), "bar")
    if isinstance(array, np.ndarray):
        return values
    import torch

    return torch.as_tensor(values, device=array.device)


def compute_attributes(bars: Any, encoding: MeasureEncoding | None = None,
                       names: Sequence[str] = ATTRIBUTES, norm: float = PITCH_NORM) -> Any:
    """Attributes `names` of every bar: (..., 24) tokens -> (..., len(names)), same library.
    A name "module:function" is a user's own (`user_attribute`).

    `norm`: R, the semitones that pitch range and contour are divided by. Token ids must be
    valid for `encoding` (default `MeasureEncoding()`; only its `first_pitch_token` matters,
    since every attribute depends on pitch differences alone).
    """
    check_attribute_names(names)
    array, xp, to_torch = _namespace(bars)
    shape = tuple(array.shape)
    if not shape or shape[-1] != STEPS_PER_BAR:
        raise ValueError(f"bars must have shape (..., {STEPS_PER_BAR}), got {shape}")
    first_pitch = 2 if encoding is None else encoding.first_pitch_token
    ticks = xp.ticks_first(array.reshape(-1, STEPS_PER_BAR))  # (24, n) uint8
    n = ticks.shape[1]
    features = xp.features(ticks >= first_pitch)  # (4, n)
    rows = {"rhythmic_complexity": features[0], "note_density": features[1]}
    if "pitch_range" in names:
        # in uint8, ticks - first_pitch wraps holds and rests round to 254, 255: above any pitch;
        # a bar without notes gives a negative difference, clipped to 0
        span = xp.difference(xp.tick_max(ticks), xp.tick_min(ticks - first_pitch))
        rows["pitch_range"] = xp.positive(span - first_pitch) / norm
    if "contour" in names:
        last, first = ticks.reshape(-1)[xp.flat_index(xp.exponent(features[2:]), n)]
        rows["contour"] = xp.difference(last, first) / norm
    for name in (name for name in names if ":" in name):
        rows[name] = _user_attribute_row(name, array, encoding)
    out = xp.finish([rows[name] for name in names]).reshape(*shape[:-1], len(names))
    if to_torch:
        import torch

        return torch.from_numpy(out).to(device=bars.device, dtype=torch.get_default_dtype())
    return out


def rhythmic_complexity(bars: Any, encoding: MeasureEncoding | None = None) -> Any:
    """sum(w * onset) / sum(w) over the 24 ticks, in [0, 1]: (..., 24) tokens -> (...)."""
    return compute_attributes(bars, encoding, ("rhythmic_complexity",))[..., 0]


def note_density(bars: Any, encoding: MeasureEncoding | None = None) -> Any:
    """Onsets / 24, in [0, 1]: (..., 24) tokens -> (...)."""
    return compute_attributes(bars, encoding, ("note_density",))[..., 0]


def pitch_range(bars: Any, encoding: MeasureEncoding | None = None,
                norm: float = PITCH_NORM) -> Any:
    """(highest - lowest onset pitch) / `norm` semitones: (..., 24) tokens -> (...)."""
    return compute_attributes(bars, encoding, ("pitch_range",), norm)[..., 0]


def contour(bars: Any, encoding: MeasureEncoding | None = None, norm: float = PITCH_NORM) -> Any:
    """Sum of successive onset pitch differences / `norm` = (last - first pitch) / `norm`:
    (..., 24) tokens -> (...)."""
    return compute_attributes(bars, encoding, ("contour",), norm)[..., 0]
