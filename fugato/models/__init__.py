"""One module per system; the registry maps a config's `model = "..."` to its Task class."""

from __future__ import annotations

import importlib

from fugato.errors import FugatoError

MODELS = {
    "arvae": "fugato.models.arvae:ARVAE",
    "dualdance": "fugato.models.dualdance:DualDance",
    "factorgan": "fugato.models.factorgan:FactorGAN",
    "factorgan-separation": "fugato.models.factorgan_separation:FactorGANSeparation",
    "fusiongan": "fugato.models.fusiongan:FusionGAN",
    "iml": "fugato.models.iml:IML",
    "iml-audio": "fugato.models.iml_sequences:IMLAudio",
    "iml-melody": "fugato.models.iml_sequences:IMLMelody",
    "melody_lm": "fugato.models.melody_lm:MelodyLM",
}


def get_model(name: str) -> type:
    """The Task class registered under `name` (imported on first use)."""
    if name not in MODELS:
        raise FugatoError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})")
    module, _, attr = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
