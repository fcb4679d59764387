"""Model ids and the systems' command-line verbs, imported on first use.

A config's `model = "..."` names a Task class here. Ids are hyphenated; an id a release used
before stays as an alias, so old run folders and configs still load. A system with verbs of
its own (`fugato arvae traverse`, `fugato dance ...`, `fugato separate`) lists the module
whose `register(verbs, common)` adds them to the parser.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fugato.errors import FugatoError

if TYPE_CHECKING:
    from fugato.train.task import Task

MODELS = {
    "arvae": "fugato.models.arvae.task:ARVAE",
    "arvae-images": "fugato.models.arvae.images:ImageARVAE",
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

COMMANDS = ("fugato.models.arvae.cli", "fugato.models.factorgan.cli", "fugato.models.iml.cli",
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
    cls: type[Task] = load_object(MODELS[canonical(name)], "model")
    return cls


def load_object(spec: str, what: str) -> Any:
    """The object `spec` = "package.module:name" names (a user's own attribute, a model);
    a one-line FugatoError naming `what` when it cannot be imported or is missing."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise FugatoError(f"{what}: {spec!r} is not of the form module:name")
    try:
        found = importlib.import_module(module)
    except Exception as error:  # a user's module may fail in any way; report it in one line
        raise FugatoError(f"{what}: cannot import {module!r} ({type(error).__name__}: "
                          f"{error})") from None
    for part in attr.split("."):
        if not hasattr(found, part):
            raise FugatoError(f"{what}: {module!r} has no {attr!r}")
        found = getattr(found, part)
    return found


def seeds_tables(model: str, group: str, summary: Mapping[str, Sequence[float]],
                 runs: int) -> str:
    """A system's own tables over seeds (`SeedsReport.seeds_report`) for `compare_runs`; ""
    for an unknown model or one without such tables."""
    from fugato.train.task import SeedsReport

    if ALIASES.get(model, model) not in MODELS:
        return ""
    cls = get_model(model)
    return cls.seeds_report(group, summary, runs) if issubclass(cls, SeedsReport) else ""


def load_function(spec: str, what: str) -> Callable[..., Any]:
    """`load_object`, and a one-line FugatoError naming `what` unless it is callable."""
    found = load_object(spec, what)
    if not callable(found):
        raise FugatoError(f"{what}: {spec!r} is not a function")
    return cast(Callable[..., Any], found)


def one_value_each(name: str, values: Any, items: int, unit: str) -> np.ndarray:
    """What a user's attribute `name` returned for `items` bars or images (`unit`), as (items,)
    float64; a one-line FugatoError naming it unless it is one value per item."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (items,):
        raise FugatoError(f"data.attributes: {name} gave shape {array.shape} for {items} "
                          f"{unit}s; it must return one value per {unit}")
    return array
