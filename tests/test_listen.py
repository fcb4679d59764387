"""Blind listening tests: the FL formula against the paper's Table II, a genre test built from
the shipped FusionGAN and answered over real HTTP, the SQLite store under a kill -9, and no
source named anywhere a listener can look."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from studio_server import free_port, running_studio, start_studio

from fugato.cli import main
from fugato.listen.results import bootstrap, fusion_level, results

FOLK = "folder:tests/fixtures/tunes/folk"
JAZZ = "folder:tests/fixtures/tunes/jazz"
SOURCES = {"FUSION": "fusion-jazz-folk:F", "BASELINE": "fusion-jazz-folk:MLE",
           "HUMAN": f"real:{JAZZ}"}


def create(root: Path, name: str, clips: int = 2, *options: str) -> None:
    args = ["listen", "create", name, "--root", str(root), "--clips", str(clips), "--quiet",
            "--qualify", f"jazz={JAZZ}", "--qualify", f"folk={FOLK}", *options]
    for label, spec in SOURCES.items():
        args += ["--source", f"{label}={spec}"]
    assert main(args) == 0


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listening")
    create(root, "genre")
    return root


@pytest.fixture(scope="module")
def studio(listening: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_studio(["fusion-jazz-folk"], tmp_path_factory.mktemp("studio"),
                        listening) as url:
        yield url


def answer_all(client: httpx.Client, name: str, pick: dict[str, str]) -> tuple[str, int]:
    """A listener who answers every item with `pick[question]`; (token, items answered)."""
    token = client.post(f"/api/listen/{name}/listeners").json()["token"]
    state = client.get(f"/api/listen/{name}/next", params={"token": token}).json()
    count = 0
    while not state["done"]:
        answers = {q["name"]: pick[q["name"]] for q in state["questions"]}
        state = client.post(f"/api/listen/{name}/answers",
                            json={"token": token, "item": state["item"], "answers": answers}
                            ).json()
        count += 1
    return token, count


def test_fusion_level_is_table_ii_of_the_paper() -> None:
    # Chen et al. 2017, Table II, in percent of answers: (jazz, folk, mixture, neither) -> FL.
    # Two rows disagree with the paper's own formula and are left out: GAN (34 + 17 + 26 + 14
    # = 91%: FL 69% takes the total as 100; its own total gives 65.9%) and MC (1 - (30 + 52)
    # / 100 = 18%, printed as 16%).
    for row, fl in [((35.9, 25.0, 20.0, 19.1), 0.70), ((43.6, 9.1, 30.9, 16.4), 0.491),
                    ((20.1, 28.3, 20.8, 30.8), 0.61), ((25.0, 22.5, 12.5, 40.0), 0.575)]:
        counts = dict(zip(("jazz", "folk", "mixture", "neither"), (round(10 * c) for c in row),
                          strict=True))
        assert fusion_level(counts, "jazz", "folk") == pytest.approx(fl, abs=1e-3)


def test_results_are_the_counts_the_answers_imply(studio: str, listening: Path) -> None:
    with httpx.Client(base_url=studio, timeout=60) as client:
        _, n = answer_all(client, "genre", {"genre": "jazz", "recognition": "mixture",
                                            "musicality": "expert"})
        _, m = answer_all(client, "genre", {"genre": "folk", "recognition": "jazz",
                                            "musicality": "robot"})
    assert n == m == 4 + 3 * 2  # two real clips of each genre, then two clips of 3 sources
    result = results(listening, "genre")
    assert result["listeners"] == 2 and result["excluded"] == 0
    # each listener called every qualification clip one genre: half right
    assert result["accuracy"]["per_listener"] == pytest.approx({k: 0.5 for k in
                                                                result["accuracy"]["per_listener"]})
    for label in SOURCES:
        row = result["sources"][label]
        assert row["fusion"] == {"jazz": 2, "folk": 0, "mixture": 2, "neither": 0}
        assert row["fl"] == pytest.approx(1 - 2 / 4)
        assert row["musicality"] == {"expert": 2, "newbie": 0, "robot": 2}
        low, high = row["fl_95"]
        assert 0 <= low <= row["fl"] <= high <= 1
    assert 0 <= result["sources"]["FUSION"]["automatic"]["p_genre_a"] <= 1
    assert result["sources"]["HUMAN"]["automatic"] is not None
    strict = results(listening, "genre", min_accuracy=0.75)
    assert strict["excluded"] == 2 and strict["sources"]["FUSION"]["fusion"]["mixture"] == 0
    assert main(["listen", "results", "genre", "--root", str(listening), "--csv",
                 str(listening / "genre.csv"), "--quiet"]) == 0
    assert (listening / "genre" / "results.png").stat().st_size > 0
    assert "FUSION" in (listening / "genre.csv").read_text()


@pytest.mark.parametrize("args, words", [
    (["--source", "F"], "LABEL=SPEC"), (["--source", "F=fusion-jazz-folk:F", "--source",
                                          "F=fusion-jazz-folk:B"], "twice"),
    (["--source", "F=fusion-jazz-folk:F", "--qualify", "jazz"], "--qualify"),
    (["--source", "F=no-such-model"], "no-such-model"), ([], "--source"),
    (["--source", "F=fusion-jazz-folk:F", "--kind", "ranking"], "--music"),
    (["--source", "F=fusion-jazz-folk:F", "--min-played", "1.5"], "--min-played")])
def test_bad_create_arguments_are_one_line(args: list[str], words: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["listen", "create", "x", "--root", str(tmp_path), *args]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and words in error


def test_a_repeat_changes_nothing_and_bad_requests_are_4xx(studio: str) -> None:
    with httpx.Client(base_url=studio, timeout=60) as client:
        token = client.post("/api/listen/genre/listeners").json()["token"]
        first = client.get("/api/listen/genre/next", params={"token": token}).json()
        body = {"token": token, "item": first["item"], "answers": {"genre": "jazz"}}
        after = client.post("/api/listen/genre/answers", json=body).json()
        again = client.post("/api/listen/genre/answers",
                            json={**body, "answers": {"genre": "folk"}}).json()
        assert after["progress"] == again["progress"] == {"answered": 1, "total": 10}
        assert client.post("/api/listen/nope/listeners").status_code == 404
        bad = [client.get("/api/listen/genre/next", params={"token": "f" * 32}),
               client.post("/api/listen/genre/answers", json={**body, "token": "0" * 32}),
               client.post("/api/listen/genre/answers",
                           json={**body, "item": again["item"], "answers": {"genre": "rock"}}),
               client.post("/api/listen/genre/answers",
                           json={**body, "item": "0" * 16, "answers": {"genre": "jazz"}}),
               client.post("/api/listen/genre/answers",
                           json={**body, "item": again["item"], "answers": {}}),
               client.get("/api/listen/genre/clips/..%2fmanifest.json"),
               client.get("/api/listen/genre/clips/manifest.json")]
        for response in bad:
            assert 400 <= response.status_code < 500, response.text
            assert "\n" not in response.json().get("error", response.json().get("detail", ""))


def served_texts(client: httpx.Client, name: str) -> list[str]:
    """Everything a listener's browser can fetch: the page, its scripts, every API answer
    and every clip's header."""
    texts = [client.get(f"/listen/{name}").text, client.get("/static/listen.js").text,
             client.get(f"/listen/{name}/progress").text,
             client.get(f"/api/listen/{name}/progress").text]
    token = client.post(f"/api/listen/{name}/listeners").json()["token"]
    state = client.get(f"/api/listen/{name}/next", params={"token": token}).json()
    while not state["done"]:
        texts.append(json.dumps(state))
        for clip in state["clips"]:
            audio = client.get(clip["url"]).content
            # a bare WAV: RIFF, fmt and data chunks only (no INFO chunk that could name it)
            assert audio[:4] == b"RIFF" and audio[8:16] == b"WAVEfmt " and b"LIST" not in audio[:64]
            texts.append(audio[:44].decode("latin-1"))
            midi = client.get(clip["url"].replace(".wav", ".mid"))
            assert midi.status_code == 404  # only the audio is served
        answers = {q["name"]: q["choices"][0] for q in state["questions"]}
        state = client.post(f"/api/listen/{name}/answers",
                            json={"token": token, "item": state["item"], "answers": answers}
                            ).json()
    texts.append(json.dumps(state))
    return texts


def test_nothing_served_names_a_source(studio: str) -> None:
    with httpx.Client(base_url=studio, timeout=60) as client:
        texts = served_texts(client, "genre")
    secrets = set(SOURCES) | set(SOURCES.values()) | {"fusion-jazz-folk", "FusionGAN", "MLE",
                                                      JAZZ, FOLK, "real:"}
    for text in texts:
        for secret in secrets:
            assert secret.lower() not in text.lower(), secret


def test_results_read_while_answers_arrive_see_whole_submissions(listening: Path) -> None:
    from fugato.listen.answers import Answers
    from fugato.listen.design import load_test

    create(listening, "busy", clips=1)
    test = load_test(listening, "busy")
    items = [i.id for i in test.items if i.stage == "test"]
    db = Answers(listening / "busy" / "answers.sqlite")
    tokens = [f"{k:032x}" for k in range(20)]
    for token in tokens:
        db.add_listener(token, items)

    def write() -> None:
        for token in tokens:
            for item in items:
                db.answer(token, item, {"recognition": "mixture", "musicality": "newbie"})

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    while writer.is_alive() or seen == 0:
        snapshot = db.snapshot()
        questions: dict[tuple[str, str], int] = {}
        for token, item, _, _ in snapshot["answers"]:
            questions[(token, item)] = questions.get((token, item), 0) + 1
        assert all(n == 2 for n in questions.values())  # never one question of an item
        seen += 1
    writer.join()
    assert len(db.snapshot()["answers"]) == 2 * len(tokens) * len(items)
    db.close()


def test_every_answer_given_before_a_kill_9_is_there_after(listening: Path) -> None:
    create(listening, "killed", clips=1)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_studio(port, listening)
    given: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            token = client.post("/api/listen/killed/listeners").json()["token"]
            state = client.get("/api/listen/killed/next", params={"token": token}).json()
            for _ in range(5):
                answers = {q["name"]: q["choices"][-1] for q in state["questions"]}
                given.append({"item": state["item"], **answers})
                state = client.post("/api/listen/killed/answers", json={
                    "token": token, "item": state["item"], "answers": answers}).json()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process = start_studio(port, listening)
        with httpx.Client(base_url=url, timeout=60) as client:
            back = client.get("/api/listen/killed/next", params={"token": token}).json()
        assert back["progress"]["answered"] == 5  # the listener continues where they stopped
    finally:
        process.kill()
        process.wait()
    from fugato.listen.answers import Answers

    db = Answers(listening / "killed" / "answers.sqlite")
    stored = db.answered(token)
    db.close()
    for answer in given:
        item = answer.pop("item")
        assert stored[item] == answer


def test_listeners_count_when_they_answer_and_results_json_is_strict(
        studio: str, listening: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create(listening, "quiet", 1, "--min-played", "0.5")
    with httpx.Client(base_url=studio, timeout=60) as client:
        opened = [client.post("/api/listen/quiet/listeners").json()["token"] for _ in range(3)]
        state = client.get("/api/listen/quiet/next", params={"token": opened[0]}).json()
        client.post("/api/listen/quiet/answers", json={
            "token": opened[0], "item": state["item"],
            "answers": {q["name"]: q["choices"][0] for q in state["questions"]}})
        progress = client.get("/api/listen/quiet/progress").json()
    assert progress["listeners"] == 1 and progress["per_listener"] == [1]  # not 3 who looked
    capsys.readouterr()
    assert main(["listen", "results", "quiet", "--root", str(listening), "--json"]) == 0

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    result = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert result["listeners"] == 1
    assert result["sources"]["FUSION"]["fl"] is None  # no answer about it yet: null
    assert state["min_played"] == 0.5  # the page opens the answers at half the clip heard
    assert json.loads((listening / "genre" / "test.json").read_text())["min_played"] == 1.0


def test_listeners_who_never_answer_cannot_fill_the_disk(studio: str, listening: Path) -> None:
    from fugato.listen.routes import UNANSWERED_PER_CLIENT

    def count(where: str) -> int:
        db = sqlite3.connect(listening / "genre" / "answers.sqlite")
        (n,) = db.execute(f"SELECT COUNT(*) FROM listeners WHERE token {where} IN "
                          "(SELECT token FROM answers)").fetchone()
        db.close()
        return int(n)

    with httpx.Client(base_url=studio, timeout=60) as client:
        answer_all(client, "genre", {"genre": "jazz", "recognition": "mixture",
                                     "musicality": "expert"})
        answered = count("")
        for _ in range(3 * UNANSWERED_PER_CLIENT):
            assert client.post("/api/listen/genre/listeners").status_code == 200
    assert count("NOT") <= UNANSWERED_PER_CLIENT and count("") == answered >= 1


def test_clips_carry_no_time_that_tells_their_source(studio: str, listening: Path) -> None:
    test = json.loads((listening / "genre" / "test.json").read_text())
    clips = [clip for item in test["items"] for clip in item["clips"]]

    def headers(shift: float) -> list[tuple[str | None, str | None]]:
        for k, clip in enumerate(clips):  # written one source after another, an hour apart
            os.utime(listening / "genre" / "clips" / f"{clip}.wav", (1e9 + shift + 3600 * k,) * 2)
        with httpx.Client(base_url=studio, timeout=60) as client:
            responses = [client.get(f"/api/listen/genre/clips/{clip}.wav") for clip in clips]
        assert all(r.status_code == 200 for r in responses)
        return [(r.headers.get("last-modified"), r.headers.get("etag")) for r in responses]

    first = headers(0)
    assert len({modified for modified, _ in first}) == 1
    assert headers(86400) == first  # nothing served moves with the files' times


def test_an_interval_over_no_answers_is_unknown_without_a_warning() -> None:
    """A source none of the resampled listeners answered has no interval (null in --json),
    and numpy's "All-NaN slice" warning no longer reaches the terminal."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = bootstrap(["a", "b"], lambda listeners: float("nan"))
        assert low != low and high != high  # NaN: unknown
        assert bootstrap(["a", "b", "c"], lambda listeners: float(len(set(listeners)))) \
            [1] <= 3.0
