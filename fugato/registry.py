"""Model ids and the systems' command-line verbs, imported on first use.

A config's `model = "..."` names a Task class here. Ids are hyphenated; an id a release used
before stays as an alias, so old run folders and configs still load. A system with verbs of
its own (`fugato arvae traverse`, `fugato dance ...`, `fugato separate`) lists the module
whose `register(verbs, common)` adds them to the parser.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from fugato.errors import FugatoError

if TYPE_CHECKING:
    from fugato.train.task import Task

MODELS = {
    "arvae": "fugato.models.arvae.task:ARVAE",
    "dualdance": "fugato.models.dualdance.task:DualDance",
    "factorgan": "fugato.models.factorgan.digits:FactorGAN",
    "factorgan-separation": "fugato.models.factorgan.separation:FactorGANSeparation",
    "fusiongan": "fugato.models.fusiongan.task:FusionGAN",
    "iml": "fugato.models.iml.task:IML",
    "iml-audio": "fugato.models.iml.audio:IMLAudio",
    "iml-melody": "fugato.models.iml.melody:IMLMelody",
    "melody-lm": "fugato.models.melody_lm.task:MelodyLM",
}
ALIASES = {"melody_lm": "melody-lm"}
"""Old ids -> their current ones."""

COMMANDS = ("fugato.models.arvae.cli", "fugato.models.factorgan.cli",
            "fugato.models.dualdance.cli", "fugato.studio.cli", "fugato.listen.cli")
"""Modules whose `register(verbs, common)` adds a system's own verbs to `fugato`."""


def canonical(name: str) -> str:
    """The current id of model `name` (an alias is followed); raises FugatoError if unknown."""
    name = ALIASES.get(name, name)
    if name not in MODELS:
        raise FugatoError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})")
    return name


def get_model(name: str) -> type[Task]:
    """The Task class registered under `name` or its alias (imported on first use)."""
    module, _, attr = MODELS[canonical(name)].partition(":")
    cls: type[Task] = getattr(importlib.import_module(module), attr)
    return cls


def seeds_tables(model: str, group: str, summary: Mapping[str, Sequence[float]],
                 runs: int) -> str:
    """A system's own tables over seeds (`SeedsReport.seeds_report`) for `compare_runs`; ""
    for an unknown model or one without such tables."""
    from fugato.train.task import SeedsReport

    if ALIASES.get(model, model) not in MODELS:
        return ""
    cls = get_model(model)
    return cls.seeds_report(group, summary, runs) if issubclass(cls, SeedsReport) else ""
