"""FusionGAN's sampling baselines RM and MC (Chen et al. 2017, Table I), in the `EventEncoding`
the generators write: notes whose pitches and durations are drawn independently of each other
and of the notes before them."""

from __future__ import annotations

import numpy as np

from fugato.music.encodings import EventEncoding


def random_windows(reference: np.ndarray, n: int, encoding: EventEncoding,
                   rng: np.random.Generator, uniform: bool) -> np.ndarray:
    """The RM (`uniform`) and MC baselines: (n, T) windows of notes whose pitches and durations
    (in grid steps) are drawn independently, uniformly from the values seen in `reference`
    windows (RM) or with their frequencies there (MC)."""
    t_len = reference.shape[1]
    is_note = reference >= encoding.first_pitch_token
    pitches = reference[is_note]
    # a note lasts until the next event (note_on or note_off) or the window's end
    events = np.argwhere((reference >= encoding.first_pitch_token)
                         | (reference == encoding.NOTE_OFF))
    rows, cols = events[:, 0], events[:, 1]
    following = np.append(cols[1:], t_len)
    following[np.append(rows[1:] != rows[:-1], True)] = t_len
    lengths = (following - cols)[reference[rows, cols] >= encoding.first_pitch_token]
    if uniform:
        pitch_pool, length_pool = np.unique(pitches), np.unique(lengths)
    else:
        pitch_pool, length_pool = pitches, lengths
    # enough notes to fill every window even if every note lasts one step
    drawn_len = rng.choice(length_pool, size=(n, t_len))
    drawn_pitch = rng.choice(pitch_pool, size=(n, t_len))
    onsets = np.cumsum(drawn_len, axis=1) - drawn_len  # (n, t_len) start step of each note
    out = np.full((n, t_len), encoding.HOLD, dtype=np.int64)
    inside = onsets < t_len
    r, k = np.nonzero(inside)
    out[r, onsets[r, k]] = drawn_pitch[r, k]
    return out
