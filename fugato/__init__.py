"""fugato: deep generative models of music on one shared core.

    >>> import fugato
    >>> corpus = fugato.load_corpus("essen:germany")
    >>> run = fugato.load_run("runs/demo")
    >>> melodies = run.sample(8)

Attributes are imported on first use, so `import fugato` stays light (no torch, no music21).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Melody": "fugato.music.melody",
    "Note": "fugato.music.melody",
    "TimeSignature": "fugato.music.melody",
    "load_corpus": "fugato.music.corpora",
    "read_file": "fugato.music.io",
    "write_midi": "fugato.music.io",
    "write_musicxml": "fugato.music.io",
    "write_wav": "fugato.audio.synth",
    "load_config": "fugato.config",
    "load_run": "fugato.train.run",
    "Trainer": "fugato.train.trainer",
    "FugatoError": "fugato.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'fugato' has no attribute {name!r}")
