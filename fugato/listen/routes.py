"""The listening tests inside `fugato studio`: `/listen/NAME` for listeners, `/listen/NAME/progress`
for whoever runs the test, and the JSON API under `/api/listen/NAME/`.

A listener gets a token (the page keeps it, so closing the tab and coming back continues) and
their own shuffled order: qualification items first, then the test items; the clips of a
ranking item are shuffled per listener too. Nothing served names a clip's source: clips are
opaque ids, their MIDI and titles are anonymous, and the answers key is never read here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import threading
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel

from fugato.errors import FugatoError
from fugato.listen.answers import Answers
from fugato.listen.design import ListeningTest, folder, load_test
from fugato.listen.results import per_listener

CLIP = re.compile(r"[0-9a-f]{16}\.(wav|json)")
TOKEN = re.compile(r"[0-9a-f]{32}")
STATIC = Path(__file__).parents[1] / "studio" / "static"
CLIP_TIME = "Thu, 01 Jan 1970 00:00:00 GMT"
"""The one Last-Modified of every clip: the files' own times follow the order they were
written in, source after source, and would group a blind test's clips by source."""
UNANSWERED_PER_CLIENT = 16
"""Listeners one client (remote address) holds in a test before they answer; past it its
oldest is forgotten, so that opening pages (or a script posting) cannot fill the disk."""


class Refused(Exception):
    """A listening request refused: HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Submission(BaseModel):
    token: str
    item: str
    answers: dict[str, Any]


class Tests:
    """The tests under `root`, each opened on first use with its answers database."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[str, tuple[ListeningTest, Answers]] = {}
        self._recent: dict[tuple[str, str], deque[str]] = {}
        """(test, client) -> the client's newest listener tokens."""
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[ListeningTest, Answers]:
        with self._lock:
            if name not in self._open:
                try:
                    test = load_test(self.root, name)
                except FugatoError:
                    raise Refused(404, f"no listening test {name!r} here") from None
                self._open[name] = (test, Answers(folder(self.root, name) / "answers.sqlite"))
            return self._open[name]

    def new_listener(self, name: str, client: str) -> str:
        """A new listener's token, with their own order of the items."""
        test, answers = self.get(name)
        token = secrets.token_hex(16)
        answers.add_listener(token, listener_order(test, token))
        with self._lock:
            recent = self._recent.setdefault((name, client), deque())
            recent.append(token)
            oldest = recent.popleft() if len(recent) > UNANSWERED_PER_CLIENT else None
        if oldest is not None:
            answers.forget_if_unanswered(oldest)
        return token

    def close(self) -> None:
        with self._lock:
            for _, answers in self._open.values():
                answers.close()
            self._open.clear()


def listener_order(test: ListeningTest, token: str) -> list[str]:
    """Qualification items, then test items, each shuffled by a generator seeded by the token."""
    rng = np.random.default_rng(int(hashlib.sha256(token.encode()).hexdigest()[:16], 16))
    order: list[str] = []
    for stage in ("qualify", "test"):
        ids = [i.id for i in test.items if i.stage == stage]
        order += [ids[k] for k in rng.permutation(len(ids))]
    return order


def next_item(name: str, test: ListeningTest, answers: Answers, token: str) -> dict[str, Any]:
    """The listener's next unanswered item (or done), with their progress."""
    order = answers.order(token)
    if order is None:
        raise Refused(403, "unknown listener token: reload the test page")
    answered = answers.answered(token)
    progress = {"answered": sum(i in answered for i in order), "total": len(order)}
    todo = next((i for i in order if i not in answered), None)
    if todo is None:
        return {"done": True, "progress": progress}
    item = test.item(todo)
    assert item is not None
    clips = list(item.clips)
    np.random.default_rng(int(hashlib.sha256((token + item.id).encode()).hexdigest()[:16], 16)
                          ).shuffle(clips)
    base = f"/api/listen/{name}/clips"
    suffix = "wav" if test.kind == "genre" else "json"
    return {"done": False, "progress": progress, "kind": test.kind, "stage": item.stage,
            "min_played": test.min_played,
            "item": item.id, "song": f"{base}/{item.song}.wav" if item.song else None,
            "clips": [{"id": c, "url": f"{base}/{c}.{suffix}"} for c in clips],
            "questions": [{"name": q.name, "prompt": q.prompt, "choices": list(q.choices)}
                          for q in test.questions[item.stage]]}


def checked(test: ListeningTest, answers: Answers, body: Submission) -> dict[str, str]:
    """The submission's answers as stored strings; Refused for anything outside the test."""
    order = answers.order(body.token) if TOKEN.fullmatch(body.token) else None
    if order is None:
        raise Refused(403, "unknown listener token")
    item = test.item(body.item)
    if item is None or body.item not in order:
        raise Refused(400, f"item {body.item!r} is not in this listener's test")
    questions = {q.name: q for q in test.questions[item.stage]}
    if set(body.answers) != set(questions):
        raise Refused(400, f"answer exactly {', '.join(questions)}")
    out = {}
    for name, given in body.answers.items():
        question = questions[name]
        if question.is_ranking:
            if not isinstance(given, list) or sorted(given) != sorted(item.clips):
                raise Refused(400, f"{name}: rank every clip of the item exactly once")
            out[name] = json.dumps(given)
        elif given not in question.choices:
            raise Refused(400, f"{name}: {given!r} is not one of {', '.join(question.choices)}")
        else:
            out[name] = str(given)
    return out


def add_listen_routes(app: FastAPI, tests: Tests) -> None:
    """The listener page, the progress page and the listening API."""

    @app.get("/listen/{name}", include_in_schema=False)
    def page(name: str) -> FileResponse:
        tests.get(name)
        return FileResponse(STATIC / "listen.html", media_type="text/html")

    @app.get("/listen/{name}/progress", include_in_schema=False)
    def progress_page(name: str) -> HTMLResponse:
        state = progress(name)
        rows = "".join(f"<tr><td>{k + 1}</td><td>{n}</td></tr>"
                       for k, n in enumerate(state["per_listener"]))
        return HTMLResponse(
            f"<!doctype html><title>{html.escape(name)}: progress</title>"
            f"<link rel=stylesheet href=/static/studio.css><main><h2>{html.escape(name)}</h2>"
            f"<p data-testid=progress>{state['listeners']} listeners, {state['answers']} "
            f"answers of {state['items']} items each</p><table><tr><th>listener</th>"
            f"<th>items answered</th></tr>{rows}</table></main>")

    @app.get("/api/listen/{name}/progress")
    def progress(name: str) -> dict[str, Any]:
        test, answers = tests.get(name)
        done = [{item for item, _ in given} for given in
                per_listener(answers.snapshot()).values()]  # listeners who answered
        return {"listeners": len(done), "items": len(test.items),
                "answers": sum(len(v) for v in done),
                "per_listener": sorted((len(v) for v in done), reverse=True)}

    @app.post("/api/listen/{name}/listeners")
    def new_listener(name: str, request: Request) -> dict[str, str]:
        return {"token": tests.new_listener(name, request.client.host if request.client
                                            else "")}

    @app.get("/api/listen/{name}/next")
    def get_next(name: str, token: str) -> dict[str, Any]:
        test, answers = tests.get(name)
        return next_item(name, test, answers, token)

    @app.post("/api/listen/{name}/answers")
    def answer(name: str, body: Submission) -> dict[str, Any]:
        test, answers = tests.get(name)
        answers.answer(body.token, body.item, checked(test, answers, body))
        return next_item(name, test, answers, body.token)

    @app.get("/api/listen/{name}/clips/{clip}")
    def clip(name: str, clip: str) -> FileResponse:
        tests.get(name)
        path = folder(tests.root, name) / "clips" / clip
        if not CLIP.fullmatch(clip) or not path.is_file():
            raise Refused(404, "no such clip")
        return FileResponse(path, media_type="audio/wav" if clip.endswith(".wav")
                            else "application/json",
                            headers={"Last-Modified": CLIP_TIME, "ETag": f'"{clip}"'})
