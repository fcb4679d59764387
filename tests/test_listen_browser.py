"""Listening tests in a real browser (Chromium through Playwright, `browser.py`): a 6-clip genre
test answered by two simulated listeners, one of whom closes the tab halfway and comes back;
and a dance ranking end to end on a tiny dual music-dance run beside the real dance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import launched, needs_chromium, screenshot
from studio_server import running_studio
from tiny_dance import TANG, needs_tang, train_tiny

from fugato.cli import main

pytestmark = needs_chromium
JAZZ = "folder:tests/fixtures/tunes/jazz"
FOLK = "folder:tests/fixtures/tunes/folk"


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("listening")
    assert main(["listen", "create", "six", "--root", str(root), "--quiet", "--clips", "3",
                 "--source", "F=fusion-jazz-folk:F", "--source", "MLE=fusion-jazz-folk:MLE",
                 "--qualification", "1", "--qualify", f"jazz={JAZZ}",
                 "--qualify", f"folk={FOLK}"]) == 0
    return root


@pytest.fixture(scope="module")
def studio(listening: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    names = ["fusion-jazz-folk"]
    if (TANG / "DANCE_C_4.mp3").is_file():
        run = train_tiny(tmp_path_factory.mktemp("dance") / "run")
        names.append(str(run))
        assert main(["listen", "create", "dances", "--root", str(listening), "--quiet",
                     "--kind", "ranking", "--source", f"MODEL={run}", "--source",
                     "REAL=real:tang", "--music", str(TANG / "DANCE_C_4.mp3"),
                     "--seconds", "3"]) == 0
    with running_studio(names, tmp_path_factory.mktemp("studio"), listening) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as browser:
        yield browser


def hook(name: str) -> str:
    return f"[data-testid={name}]"


def hear(audio: Any) -> None:
    """Play a clip (or a ranking's song) through, 16 times as fast, till the answers open."""
    audio.evaluate("a => { a.playbackRate = 16; return a.play(); }")
    audio.page.wait_for_function("() => !document.querySelector('#questions').disabled")


def answer_items(page: Any, picks: dict[str, str], limit: int) -> int:
    """Answer up to `limit` items: `picks` question -> choice; returns how many."""
    done = 0
    while done < limit and not page.locator(hook("listen-done")).is_visible():
        page.wait_for_selector(hook("listen-audio"))
        hear(page.locator(hook("listen-audio")))
        prompt = page.text_content("#progress")
        for choice in picks.values():
            button = page.locator(hook(f"answer-{choice}"))
            if button.count():
                button.click()
        page.click(hook("listen-next"))
        page.wait_for_function(f"() => document.querySelector('#progress').textContent !== "
                               f"{json.dumps(prompt)}")
        done += 1
    return done


def test_two_listeners_and_results_report_what_they_answered(
        browser: Any, studio: str, listening: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = browser.new_context()
    page = first.new_page()
    page.goto(f"{studio}/listen/six")
    assert answer_items(page, {"genre": "jazz"}, 2) == 2  # the qualification clips
    assert answer_items(page, {"r": "mixture", "m": "expert"}, 2) == 2
    page.close()  # the tab closes halfway; the same browser comes back
    page = first.new_page()
    page.goto(f"{studio}/listen/six")
    page.wait_for_selector(hook("listen-audio"))
    assert page.text_content("#progress") == "4 of 8 answered"
    answer_items(page, {"r": "mixture", "m": "expert"}, 10)
    assert page.locator(hook("listen-done")).is_visible()
    screenshot(page, "listen-done")
    second = browser.new_context().new_page()
    second.goto(f"{studio}/listen/six")
    answer_items(second, {"genre": "folk"}, 2)
    screenshot(second, "listen-item")
    answer_items(second, {"r": "neither", "m": "robot"}, 10)
    assert second.locator(hook("listen-done")).is_visible()
    capsys.readouterr()
    assert main(["listen", "results", "six", "--root", str(listening), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["listeners"] == 2 and result["answers"] == 2 * (2 + 6 * 2)
    assert sorted(result["accuracy"]["per_listener"].values()) == [0.5, 0.5]
    for label in ("F", "MLE"):
        row = result["sources"][label]
        assert row["fusion"] == {"jazz": 0, "folk": 0, "mixture": 3, "neither": 3}
        assert row["fl"] == pytest.approx(1 - 3 / 6)
        assert row["musicality"] == {"expert": 3, "newbie": 0, "robot": 3}
    progress = browser.new_page()
    progress.goto(f"{studio}/listen/six/progress")
    assert "2 listeners, 16 answers" in progress.text_content(hook("progress"))


@needs_tang
def test_a_dance_ranking_runs_end_to_end(browser: Any, studio: str, listening: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    page = browser.new_page()
    page.goto(f"{studio}/listen/dances")
    page.wait_for_selector(hook("rank-realism-1"))
    assert page.locator("canvas").count() == 2
    page.wait_for_selector("#clips[data-loaded=true]")
    hear(page.locator(hook("listen-audio")))
    for question in ("realism", "genre"):
        page.select_option(hook(f"rank-{question}-0"), "2")
        page.select_option(hook(f"rank-{question}-1"), "1")
    screenshot(page, "listen-ranking")
    page.click(hook("listen-next"))
    page.wait_for_selector(hook("listen-done"), state="visible")
    capsys.readouterr()
    assert main(["listen", "results", "dances", "--root", str(listening), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ranks = {label: r["realism"]["mean_rank"] for label, r in result["sources"].items()}
    assert sorted(ranks.values()) == [1.0, 2.0] and set(ranks) == {"MODEL", "REAL"}
    assert ranks == {label: r["genre"]["mean_rank"] for label, r in result["sources"].items()}


def test_the_answers_wait_until_the_clip_is_heard(browser: Any, studio: str) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{studio}/listen/six")
    page.wait_for_selector(hook("listen-audio"))
    audio = page.locator(hook("listen-audio"))
    audio.evaluate("a => a.readyState >= 1 || new Promise((ok) => a.onloadedmetadata = ok)")
    assert page.locator(hook("answer-jazz")).is_disabled()
    assert "to its end" in page.text_content(hook("listen-play-first"))
    # skipping to the end is not hearing it
    audio.evaluate("a => { a.currentTime = a.duration - 0.3; return a.play(); }")
    audio.evaluate("a => a.ended || new Promise((ok) => a.onended = ok)")
    assert page.locator(hook("answer-jazz")).is_disabled()
    audio.evaluate("a => { a.currentTime = 0; a.playbackRate = 16; return a.play(); }")
    page.wait_for_function("() => !document.querySelector('#questions').disabled")
    assert audio.evaluate("a => a.played.end(a.played.length - 1) - a.played.start(0)"
                          ) >= audio.evaluate("a => a.duration") - 0.3
    page.click(hook("answer-jazz"))
    assert page.text_content(hook("listen-play-first")) == ""
