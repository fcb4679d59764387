"""What a listening test is: its stages, questions and items, kept in two files.

`test.json` is what listeners may see: the questions and, per item, opaque clip ids. The
answers key, `manifest.json` (which source made each clip, the true genre of each
qualification clip, the automatic numbers of the same clips), is read only by `results` and
never served. Clips are `clips/<id>.wav` (+ `.mid` for melodies, `.json` for dances).

Kinds, after the papers' protocols:
- `genre` (FusionGAN, section IV-B): a qualification stage of real clips of each genre ("choose
  one genre below that most matches the music": jazz / folk / neither), then every clip with
  two questions: fusion recognition (pure jazz / pure folk / mixture / neither) and musicality
  ("who do you think its composer": expert / newbie / robot).
- `ranking` (dual music-dance, section 4.3): per song, one dance of every source, ranked by the
  realism of the dance poses and by consistency with the dance genre.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fugato.atomic import atomic_path
from fugato.errors import FugatoError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A test name: it is a folder name and part of a URL."""
DEFAULT_ROOT = Path("listening")


@dataclass(frozen=True)
class Question:
    name: str
    prompt: str
    choices: tuple[str, ...] = ()
    """Choice ids; empty for a ranking question (the answer orders the item's clips)."""

    @property
    def is_ranking(self) -> bool:
        return not self.choices


def genre_questions(a: str, b: str) -> dict[str, list[Question]]:
    """The FusionGAN protocol's questions per stage, for genres named `a` and `b`."""
    return {
        "qualify": [Question("genre", "Listen to the music, and choose one genre below that "
                             "most matches the music.", (a, b, "neither"))],
        "test": [Question("recognition", "Listen to the music, and then choose the choice that "
                          "most matches the music.", (a, b, "mixture", "neither")),
                 Question("musicality", "Who do you think its composer is?",
                          ("expert", "newbie", "robot"))]}


RANKING_QUESTIONS = {"test": [
    Question("realism", "Rank the dances by the naturalness or realism of the dance poses, "
             "best first."),
    Question("genre", "Rank the dances by their consistency with the dance genre, best first.")]}


@dataclass
class Item:
    """One page of the test: a stage, its clips (one for `genre`, one per source for
    `ranking`) and, for a ranking, the song they dance to."""

    id: str
    stage: str
    clips: list[str]
    song: str | None = None


@dataclass
class ListeningTest:
    name: str
    kind: str
    questions: dict[str, list[Question]]
    items: list[Item]
    genres: list[str] = field(default_factory=list)
    min_accuracy: float = 0.0
    """Listeners below this qualification accuracy are excluded from the results."""
    min_played: float = 1.0
    """The share of a clip (of the song, in a ranking) a listener plays before the answers
    open: 1.0 to its end. Without it a listener could answer a clip unheard."""

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["questions"] = {stage: [asdict(q) for q in qs] for stage, qs in
                             self.questions.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListeningTest:
        questions = {stage: [Question(q["name"], q["prompt"], tuple(q["choices"])) for q in qs]
                     for stage, qs in data["questions"].items()}
        return cls(data["name"], data["kind"], questions, [Item(**i) for i in data["items"]],
                   list(data.get("genres", [])), float(data.get("min_accuracy", 0.0)),
                   float(data.get("min_played", 1.0)))


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise FugatoError(f"{name!r}: a test name is letters, digits, '-' and '_' (at most 64)")
    return name


def folder(root: Path, name: str) -> Path:
    return root / check_name(name)


def load_test(root: Path, name: str) -> ListeningTest:
    path = folder(root, name) / "test.json"
    if not path.is_file():
        raise FugatoError(f"{path}: no such listening test (`fugato listen create {name} ...`)")
    return ListeningTest.from_json(json.loads(path.read_text()))


def load_manifest(root: Path, name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder(root, name) / "manifest.json").read_text())
    return manifest


def write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))
