"""Trained models shipped inside the package: something to hear a minute after install, with
no data and no training.

Each model is a folder `fugato/pretrained/<name>/` laid out as a run folder, holding only
what loading needs: `config.toml`, `checkpoints/last.pt` (config, saved state and weights;
float16 where its card says so, no optimizer or RNG state), `card.md` (what it was trained on
and that data's licence, the config and step count, its numbers and the command that made
them, the fugato version), `card.json` (the card's numbers, and the headline numbers of a
small held-out set with their tolerance) and `check.npz` (that held-out set). Every command
that takes a run folder takes a model name (`resolve_run`); a local folder of the same name
wins. `python -m fugato.pretrained.build` (`make pretrained`) trains them again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fugato.errors import FugatoError

ROOT = Path(__file__).parent

PUBLIC_DOMAIN = "public domain"
ESSEN = "non-commercial use (the Essen Folksong Collection, via music21's corpus)"


@dataclass(frozen=True)
class Shipped:
    """How a shipped model is made and what it is."""

    name: str
    description: str
    """One line for `fugato models`."""
    config: str
    """The config it is trained from, under the repository's `configs/`."""
    sets: tuple[str, ...]
    """`--set` overrides of that config."""
    data: str
    """What it was trained on."""
    licence: str
    """That data's licence."""


SHIPPED = (
    Shipped("arvae-folk", "AR-VAE on one-bar folk melodies: sliders for rhythmic complexity, "
            "pitch range, note density, contour", "arvae-folk-quick.toml", (),
            "the 4/4 bars of O'Neill's Music of Ireland (1850) and Ryan's Mammoth Collection "
            "(1883), from music21's corpus, transposed to every key in range", PUBLIC_DOMAIN),
    Shipped("arvae-bach", "AR-VAE on one-bar soprano lines of Bach chorales: the same four "
            "sliders", "arvae-bach-quick.toml", (),
            "the 4/4 bars of the soprano lines of the Bach chorales in music21's corpus, "
            "transposed to every key in range", PUBLIC_DOMAIN),
    Shipped("melody-lm-essen", "An LSTM language model of 4-bar European folk melodies: "
            "writes tunes of any length", "melody-lm-quick.toml", (),
            "the European tunes of the Essen Folksong Collection (music21's corpus), each "
            "transposed to C major or C minor, on a sixteenth-note grid", ESSEN),
    Shipped("iml-melody", "IML two-stage on folk melodies: a bar autoencoder and an HMM over "
            "its bar codes (16-bar tunes), beside a GMM drawing bars i.i.d.",
            "iml-melody-quick.toml", (),
            "the 4/4 tunes of O'Neill's Music of Ireland (1850) and Ryan's Mammoth Collection "
            "(1883), from music21's corpus", PUBLIC_DOMAIN),
    Shipped("fusion-jazz-folk", "FusionGAN on 2-bar jazz and folk windows: generators A (jazz), "
            "B (folk), F (fusion) and the baselines MLE, MLE-1:1, GAN, RL-A, RL-B, with its "
            "genre classifier", "fusion-quick.toml", (),
            "jazz: the solos of the Weimar Jazz Database; folk: the European tunes of the "
            "Essen Folksong Collection (music21's corpus)", "jazz: ODbL (the Weimar Jazz "
            "Database of the Jazzomat Research Project, to be attributed); folk: " + ESSEN),
    Shipped("factorgan-separation", "FactorGAN U-Nets that split a mixture into vocals and "
            "accompaniment (`fugato separate`), with the GAN baselines, 5 to 25 paired "
            "examples", "factorgan-separation-quick.toml", (),
            "Bach chorales from music21's corpus, rendered by fugato's synthesizer: soprano "
            "as clarinet (vocals), the other voices as organ (accompaniment)", PUBLIC_DOMAIN),
)
BY_NAME = {model.name: model for model in SHIPPED}


def folder(name: str) -> Path:
    """Where shipped model `name` lives (it may not be built)."""
    return ROOT / name


def size(name: str | None = None) -> int:
    """Bytes of shipped model `name`'s folder; None: of every shipped model's."""
    folders = [folder(name)] if name else [folder(m.name) for m in SHIPPED]
    return sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())


def available() -> list[Shipped]:
    """The shipped models whose weights are in the package."""
    return [m for m in SHIPPED if (folder(m.name) / "checkpoints" / "last.pt").is_file()]


def card(name: str) -> dict[str, Any]:
    """card.json of shipped model `name`."""
    result: dict[str, Any] = json.loads((folder(name) / "card.json").read_text())
    return result


def resolve_run(path_or_name: str | Path) -> Path:
    """The run folder `path_or_name`, else the shipped model of that name; the error for
    neither names both places it looked."""
    path = Path(path_or_name)
    if path.is_dir():
        return path
    name = str(path_or_name)
    if name in BY_NAME and (folder(name) / "checkpoints" / "last.pt").is_file():
        return folder(name)
    shipped = ", ".join(m.name for m in available()) or "none built"
    raise FugatoError(f"{path}: run folder not found, and no shipped model of that name in "
                      f"{ROOT} (shipped: {shipped})")


def is_shipped(path: Path) -> bool:
    """Whether run folder `path` is one of the shipped models (read-only: nothing is written
    into the package)."""
    return path.resolve().parent == ROOT.resolve()
