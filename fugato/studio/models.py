"""The models a studio serves: shipped names or run folders, each loaded on first use.

A `Slot` knows its view from the run's `config.toml` alone (no torch import), so the page and
`/api/models` answer at once; the weights load on the first request that needs them (or in the
background right after start, `preload`), once, under a lock.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fugato.errors import FugatoError

if TYPE_CHECKING:
    from fugato.train.run import Run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VIEWS = {"arvae": "attributes", "fusiongan": "fusion", "iml-melody": "sequences",
         "dualdance": "dance", "factorgan-separation": "separate"}
"""Model id -> the studio view that plays it."""
VIEW_ORDER = ("attributes", "fusion", "sequences", "dance", "separate")


@dataclass
class Slot:
    """One model of the studio: `name` as the user gave it, its run folder, its view."""

    name: str
    path: Path
    model: str
    view: str
    config: dict[str, Any]
    _run: Run | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> Run:
        """The loaded run (loaded on the first call, on the CPU)."""
        with self._lock:
            if self._run is None:
                from fugato.train.run import load_run

                self._run = load_run(self.path, device="cpu")
            return self._run

    def describe(self) -> dict[str, Any]:
        """What the page shows before any weights load."""
        info: dict[str, Any] = {"name": self.name, "view": self.view, "model": self.model,
                                "loaded": self._run is not None}
        data, net = self.config.get("data", {}), self.config.get("net", {})
        if self.view == "attributes":
            from fugato.music.attributes import ATTRIBUTES
            from fugato.studio.tune import FREE_SLIDERS

            attributes = list(data.get("attributes", ATTRIBUTES))
            free = min(FREE_SLIDERS, int(net.get("z_dim", 32)) - len(attributes))
            info.update(attributes=attributes, sliders=attributes + [f"free_{i}"
                                                                     for i in range(free)],
                        corpora=list(data.get("corpora", ["oneills", "ryans"])))
        if self.view == "fusion":
            from fugato.models.fusiongan.task import GENERATORS

            info.update(generators=list(GENERATORS),
                        genres=[data.get("genre_a", "wjazzd"),
                                data.get("genre_b", "essen:europe")])
        return info


def open_slot(name: str) -> Slot:
    """The slot of a run folder or shipped model name; FugatoError when it is neither, or a
    model no view plays."""
    from fugato.pretrained import resolve_run
    from fugato.registry import canonical

    path = resolve_run(name)
    config_file = path / "config.toml"
    try:
        config = tomllib.loads(config_file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FugatoError(f"{config_file}: not a readable run config ({error})") from None
    model = canonical(str(config.get("model", "")))
    if model not in VIEWS:
        raise FugatoError(f"{name}: a {model!r} model; the studio plays "
                          f"{', '.join(sorted(VIEWS))}")
    return Slot(name, path, model, VIEWS[model], config)


def default_slots() -> list[Slot]:
    """Every shipped model that a view plays."""
    from fugato.pretrained import available

    slots = []
    for shipped in available():
        try:
            slots.append(open_slot(shipped.name))
        except FugatoError:
            continue  # a shipped model no view plays (melody-lm-essen)
    return slots


class Models:
    """The studio's slots by name, in view order."""

    def __init__(self, slots: list[Slot]) -> None:
        if not slots:
            raise FugatoError("no model to serve: name a run folder or a shipped model "
                              "(`fugato models` lists them)")
        slots = sorted(slots, key=lambda s: VIEW_ORDER.index(s.view))
        self.slots = {slot.name: slot for slot in slots}

    def get(self, name: str | None, view: str) -> Slot:
        """The slot `name` of `view` (None: the first of that view)."""
        of_view = [s for s in self.slots.values() if s.view == view]
        if not of_view:
            raise FugatoError(f"no {view} model in this studio (start it with one, e.g. "
                              f"`fugato studio {example(view)}`)")
        if name is None:
            return of_view[0]
        for slot in of_view:
            if slot.name == name:
                return slot
        raise FugatoError(f"no {view} model {name!r} here (have "
                          f"{', '.join(s.name for s in of_view)})")

    def describe(self) -> list[dict[str, Any]]:
        return [slot.describe() for slot in self.slots.values()]

    def preload(self) -> threading.Thread:
        """Load every slot in a background thread (the page is served meanwhile)."""
        def load_all() -> None:
            for slot in self.slots.values():
                try:
                    slot.run()
                except Exception:  # the request that needs it reports the error
                    continue

        thread = threading.Thread(target=load_all, name="studio-preload", daemon=True)
        thread.start()
        return thread


def example(view: str) -> str:
    return {"attributes": "arvae-folk", "fusion": "fusion-jazz-folk", "sequences": "iml-melody",
            "dance": "runs/dualdance-quick", "separate": "factorgan-separation"}[view]
