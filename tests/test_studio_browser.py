"""fugato studio in a real browser: Debian's Chromium driven by Playwright (no `playwright
install`: it downloads browsers). Skipped with a reason only where no Chromium is found, never
in CI (`.ci/run` installs it; `browser.py`). Screenshots go to `runs/test-screenshots/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import launched, needs_chromium, screenshot
from studio_server import running_studio
from tiny_dance import TANG, needs_tang, train_tiny

from fugato.music.melody import TPQ, Melody, TimeSignature

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    names = []
    if (TANG / "DANCE_C_4.mp3").is_file():
        names = ["arvae-folk", "fusion-jazz-folk", "iml-melody", "factorgan-separation",
                 str(train_tiny(tmp_path_factory.mktemp("dance") / "run"))]
    with running_studio(names, tmp_path_factory.mktemp("studio")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as browser:
        yield browser


@pytest.fixture()
def page(browser: Any, studio: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)  # anything it blocked
    page.goto(studio)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    screenshot(page, request.node.name)
    context.close()
    assert not errors, errors


def hook(name: str) -> str:
    return f"[data-testid={name}]"


def test_the_page_loads_with_every_view(page: Any) -> None:
    assert page.title() == "fugato studio"
    assert page.text_content(hook("status")) == ""  # no error while starting
    for view in ("Attributes", "Fusion", "Sequences", "Dance", "Separate"):
        assert page.get_by_role("button", name=view).count() == 1
    sliders = page.locator("[data-testid^=slider-]")
    assert sliders.count() == 6  # four attributes and two free dimensions


def test_upload_slide_play_and_download(page: Any, tmp_path: Path) -> None:
    from fugato.music.io import read_file, write_midi

    pitches = [67, 69, 71, 72, 74, 72, 71, 69] * 4
    melody = Melody(pitches=pitches, onsets=[i * TPQ // 2 for i in range(32)],
                    durations=[TPQ // 2] * 32, title="upload",
                    time_signatures=[TimeSignature(0, 4, 4)])
    write_midi(melody, tmp_path / "tune.mid")
    page.set_input_files(hook("upload"), str(tmp_path / "tune.mid"))
    page.wait_for_selector(hook("bar-3"))
    assert page.locator(hook("bar-4")).count() == 0
    roll = page.locator(f"{hook('tune-pianoroll')} rect.note")
    assert roll.count() == 32
    page.click(hook("bar-1"))
    value = hook("attr-value-note_density")
    before, notes_before = page.text_content(value), roll.count()
    page.fill(hook("slider-note_density"), "-3")
    page.wait_for_function(f"() => document.querySelector('{value}').textContent !== '{before}'")
    assert float(page.text_content(value)) < float(before)  # fewer notes in bar 2
    page.wait_for_function(f"() => document.querySelectorAll('rect.note').length "
                           f"!== {notes_before}")
    page.click(hook("play"))
    page.wait_for_function(f"() => document.querySelector('{hook('audio')}')"
                           ".readyState === 4")
    assert page.evaluate(f"document.querySelector('{hook('audio')}').duration") > 0
    with page.expect_download() as download:
        page.click(hook("download-midi"))
    download.value.save_as(tmp_path / "back.mid")
    back = read_file(tmp_path / "back.mid")[0]
    shown = page.eval_on_selector_all(
        "rect.note", "rs => rs.map(r => [Number(r.dataset.pitch), Number(r.dataset.onset)])")
    assert [[p, o / TPQ] for p, o in zip(back.pitches.tolist(), back.onsets.tolist(),
                                         strict=True)] == shown


def test_a_fusion_sample_plays(page: Any) -> None:
    page.get_by_role("button", name="Fusion").click()
    page.click(hook("fusion-sample"))
    page.wait_for_selector(hook("fusion-melody"))
    assert page.locator(hook("fusion-melody")).count() == 4
    probability = page.text_content(hook("p-genre-a"))
    assert probability.startswith("P(wjazzd) = ")
    audio = page.locator(f"{hook('fusion-melody')} audio").first
    audio.evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('[data-testid=fusion-melody] audio')"
                           ".readyState === 4")
    assert audio.evaluate("a => a.duration") > 0


@needs_tang
def test_the_dance_canvas_animates_with_the_song(page: Any) -> None:
    page.get_by_role("button", name="Dance").click()
    page.fill("#dance-seconds", "6")
    page.set_input_files(hook("dance-upload"), str(TANG / "DANCE_C_4.mp3"))
    page.wait_for_function("() => document.querySelector('[data-testid=download-bvh]')"
                           ".classList.contains('disabled') === false", timeout=120_000)
    canvas = page.locator(hook("dance-canvas"))
    page.evaluate("document.querySelector('[data-testid=dance-audio]').play()")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=dance-canvas]')"
                           ".dataset.frame) > 5")
    first = canvas.evaluate("c => [c.dataset.frame, c.toDataURL()]")
    page.wait_for_timeout(600)
    second = canvas.evaluate("c => [c.dataset.frame, c.toDataURL()]")
    assert int(second[0]) > int(first[0]) and second[1] != first[1]
    page.evaluate("document.querySelector('[data-testid=dance-audio]').pause()")


@needs_tang
def test_dance_api_choreographs_a_song_and_composes_for_its_bvh(studio: str,
                                                               tmp_path: Path) -> None:
    import httpx

    from fugato.motion.bvh import read_bvh

    with httpx.Client(base_url=studio, timeout=120) as client:
        sid = client.post("/api/sessions").json()["session"]
        song = (TANG / "DANCE_C_4.mp3").read_bytes()
        dance = client.post(f"/api/sessions/{sid}/dance/choreograph?filename=song.mp3&seconds=4",
                            content=song).json()
        positions = dance["positions"]
        assert len(positions) == 4 * dance["fps"] + 1 and len(positions[0]) == 24
        assert len(dance["parents"]) == 24 and dance["seconds"] == 4.0
        bvh = client.get(f"/api/files/{dance['bvh']}?download=1")
        (tmp_path / "dance.bvh").write_bytes(bvh.content)
        assert read_bvh(tmp_path / "dance.bvh").fps == dance["fps"]
        for name, body in (("dance.bvh", bvh.content),
                           ("DANCE_C_4.npz", (TANG / "DANCE_C_4.npz").read_bytes())):
            melody = client.post(f"/api/sessions/{sid}/dance/compose?filename={name}",
                                 content=body)
            assert melody.status_code == 200, melody.text
            assert melody.json()["notes"] and melody.json()["seconds"] > 0
        bad = client.post(f"/api/sessions/{sid}/dance/compose?filename=bad.bvh",
                          content=b"HIERARCHY\nROOT x {")
        assert bad.status_code == 400 and "bad.bvh" in bad.json()["error"]


def test_a_name_a_user_chose_shows_as_text(page: Any) -> None:
    title = 'music for <img src=x id=pwned onerror="document.title = 1">'
    shown = page.evaluate("""(title) => {
        const card = melodyCard({ title, notes: [], wav: "0".repeat(32), midi: "0".repeat(32) });
        document.body.appendChild(card);
        return [card.querySelector("h4").textContent, card.querySelectorAll("img").length];
    }""", title)
    assert shown == [title, 0] and page.title() == "fugato studio"
