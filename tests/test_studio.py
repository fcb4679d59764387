"""fugato studio through real HTTP (httpx against a uvicorn server on the loopback): the views
on the shipped models, and the reliability and security items of the studio issue."""

from __future__ import annotations

import io
import os
import re
import signal
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from studio_server import free_port, running_studio, start_studio

from fugato.music.melody import TPQ, Melody, TimeSignature
from fugato.studio.store import FileStore, Sessions

STATIC = Path(__file__).parents[1] / "fugato" / "studio" / "static"
FOLK = "tests/fixtures/tunes/folk"
"""The one folder the test studio is started with (`fugato studio --corpus FOLDER`)."""


@pytest.fixture(scope="module")
def studio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studio")


@pytest.fixture(scope="module")
def studio(studio_root: Path) -> Iterator[str]:
    with running_studio([], studio_root, corpora=[FOLK]) as url:
        yield url


@pytest.fixture()
def client(studio: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio, timeout=60) as c:
        yield c


def asgi_client(app: Any, host: str = "127.0.0.1", address: str = "testclient") -> Any:
    """A client calling `app` in this process, as if from `address` to `host`."""
    with warnings.catch_warnings():  # it would have httpx2, which fugato does not install
        warnings.simplefilter("ignore", DeprecationWarning)
        from starlette.testclient import TestClient

    return TestClient(app, base_url=f"http://{host}", client=(address, 5000))


def new_session(client: httpx.Client) -> str:
    response = client.post("/api/sessions")
    assert response.status_code == 200
    return str(response.json()["session"])


def folk_melody(bars: int = 4) -> Melody:
    """A 4/4 tune of eighth notes in the folk models' range."""
    pitches = [67, 69, 71, 72, 74, 72, 71, 69] * bars
    return Melody(pitches=pitches, onsets=[i * TPQ // 2 for i in range(len(pitches))],
                  durations=[TPQ // 2] * len(pitches), title="test tune",
                  time_signatures=[TimeSignature(0, 4, 4)])


def midi_bytes(melody: Melody, tmp_path: Path) -> bytes:
    from fugato.music.io import write_midi

    path = tmp_path / "tune.mid"
    write_midi(melody, path)
    return path.read_bytes()


# -- the page -----------------------------------------------------------------------------------
def test_page_and_assets_are_served_and_fetch_nothing_from_outside(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "fugato studio" in page.text
    for asset in ("studio.js", "studio.css"):
        assert client.get(f"/static/{asset}").status_code == 200
    for file in STATIC.iterdir():
        text = file.read_text()
        # the only URL in the assets is the SVG namespace, which is a name, not a fetch
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, (file.name, urls)
    assert client.get("/docs").status_code == 404  # FastAPI's docs page fetches a CDN
    assert "/api/sessions/{session_id}/tune/edit" in client.get("/openapi.json").json()["paths"]
    models = client.get("/api/models").json()["models"]
    assert {m["view"] for m in models} >= {"attributes", "fusion", "sequences", "separate"}


# -- attributes -----------------------------------------------------------------------------------
def test_a_slider_moves_the_selected_bars_to_what_the_model_decodes(client: httpx.Client) -> None:
    from fugato.train.run import load_run

    sid = new_session(client)
    tune = client.post(f"/api/sessions/{sid}/tune/load",
                       json={"source": "prior", "bars": 4, "seed": 3}).json()
    assert len(tune["bars"]) == 4 and tune["notes"] and tune["seconds"] > 0
    edited = client.post(f"/api/sessions/{sid}/tune/edit",
                         json={"bars": [1], "offsets": {"note_density": 3.0}}).json()
    # the same change computed directly: the bar's code with dimension 2 moved by 3
    import torch

    task = load_run("arvae-folk", device="cpu").task

    z = torch.randn(4, task.config.net.z_dim, generator=torch.Generator().manual_seed(3)).numpy()
    z[1, 2] += 3.0
    expected = task.attributes(task.decode(z[1:2], 0.0))[0]
    got = edited["bars"][1]["attributes"]
    assert got["note_density"] == pytest.approx(expected[2], abs=1e-4)
    assert got["note_density"] > tune["bars"][1]["attributes"]["note_density"]
    assert edited["bars"][0] == tune["bars"][0] and edited["bars"][2] == tune["bars"][2]
    assert edited["bars"][1]["offsets"]["note_density"] == 3.0
    assert edited["notes"] != tune["notes"] and edited["wav"] != tune["wav"]
    wav = client.get(f"/api/files/{edited['wav']}")
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    # back to zero: the bar as drawn, token for token
    back = client.post(f"/api/sessions/{sid}/tune/edit",
                       json={"bars": [1], "offsets": {"note_density": 0.0}}).json()
    assert back["notes"] == tune["notes"]


def test_one_drag_is_one_undo_step_and_redo_returns(client: httpx.Client) -> None:
    sid = new_session(client)
    loaded = client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 2}).json()
    assert not loaded["undo"]
    for value in (0.5, 1.0, 1.5, 2.0):  # one drag of one slider
        moved = client.post(f"/api/sessions/{sid}/tune/edit",
                            json={"bars": [0], "offsets": {"contour": value}}).json()
    undone = client.post(f"/api/sessions/{sid}/tune/undo", json={}).json()
    assert undone["notes"] == loaded["notes"] and undone["redo"] and not undone["undo"]
    redone = client.post(f"/api/sessions/{sid}/tune/redo", json={}).json()
    assert redone["notes"] == moved["notes"]
    assert redone["bars"][0]["offsets"]["contour"] == 2.0


def test_interpolation_between_bars_and_between_tunes(client: httpx.Client) -> None:
    sid = new_session(client)
    a = client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 4, "seed": 1}).json()
    path = client.post(f"/api/sessions/{sid}/tune/interpolate",
                       json={"between": "bars", "bars": [0, 3], "steps": 6}).json()
    assert len(path["bars"]) == 6  # bars 0..3 replaced by the 6-step path
    assert path["bars"][0]["attributes"] == a["bars"][0]["attributes"]
    assert path["bars"][-1]["attributes"] == a["bars"][3]["attributes"]
    client.post(f"/api/sessions/{sid}/tune/keep", json={})
    client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 3, "seed": 2})
    tunes = client.post(f"/api/sessions/{sid}/tune/interpolate",
                        json={"between": "tunes", "steps": 3}).json()
    assert len(tunes["bars"]) == 9  # 3 versions of min(6, 3) bars
    bad = client.post(f"/api/sessions/{sid}/tune/interpolate", json={"bars": [1], "steps": 4})
    assert bad.status_code == 400 and "two bars" in bad.json()["error"]


def test_an_uploaded_midi_shows_its_bars_and_downloads_back(client: httpx.Client,
                                                              tmp_path: Path) -> None:
    from fugato.music.io import read_file

    sid = new_session(client)
    tune = client.post(f"/api/sessions/{sid}/tune/upload?filename=my%20tune.mid",
                       content=midi_bytes(folk_melody(4), tmp_path)).json()
    assert len(tune["bars"]) == 4 and tune["title"] == "my tune"
    assert [n[0] for n in tune["notes"]] == folk_melody(4).pitches.tolist()
    midi = client.get(f"/api/files/{tune['midi']}?download=1")
    assert "attachment" in midi.headers["content-disposition"]
    (tmp_path / "back.mid").write_bytes(midi.content)
    back = read_file(tmp_path / "back.mid")[0]
    assert back.pitches.tolist() == [n[0] for n in tune["notes"]]
    assert (back.onsets / TPQ).tolist() == [n[1] for n in tune["notes"]]
    xml = client.post(f"/api/sessions/{sid}/tune/export", json={}).json()
    (tmp_path / "back.musicxml").write_bytes(client.get(f"/api/files/{xml['file']}").content)
    assert read_file(tmp_path / "back.musicxml")[0].pitches.tolist() == back.pitches.tolist()
    slow = client.post(f"/api/sessions/{sid}/tune/tempo", json={"tempo": 60}).json()
    assert slow["seconds"] == pytest.approx(tune["seconds"] * tune["tempo"] / 60)


def test_a_key_keeps_every_note_in_its_scale(client: httpx.Client) -> None:
    from fugato.music.keys import scale_pitch_classes, snap_to_key

    pitches = np.arange(40, 90)
    snapped = snap_to_key(pitches, "D minor", 55, 84)
    scale = scale_pitch_classes("D minor")
    inside = (snapped >= 55) & (snapped <= 84)
    assert np.isin(snapped[inside] % 12, scale).all() and np.abs(snapped - pitches).max() <= 1
    assert (snap_to_key(np.array([55, 84]), "F# major", 55, 84) == [56, 83]).all()  # in range
    sid = new_session(client)
    plain = client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 8, "seed": 5}).json()
    keyed = client.post(f"/api/sessions/{sid}/tune/key", json={"key": "Eb major"}).json()
    assert keyed["key"] == "Eb major"
    assert np.isin([n[0] % 12 for n in keyed["notes"]], scale_pitch_classes("Eb major")).all()
    assert [n[1:] for n in keyed["notes"]] == [n[1:] for n in plain["notes"]]  # rhythm kept
    off = client.post(f"/api/sessions/{sid}/tune/key", json={"key": ""}).json()
    assert off["notes"] == plain["notes"]
    bad = client.post(f"/api/sessions/{sid}/tune/key", json={"key": "H dorian"})
    assert bad.status_code == 400 and "key" in bad.json()["error"]


# -- the other views ------------------------------------------------------------------------------
def test_fusion_melodies_carry_the_classifiers_genre_probability(client: httpx.Client) -> None:
    sid = new_session(client)
    result = client.post(f"/api/sessions/{sid}/fusion",
                         json={"generator": "A", "n": 6, "seed": 1}).json()
    assert result["generator"] == "A" and len(result["melodies"]) == 6
    p = np.array([m["p_genre_a"] for m in result["melodies"]])
    assert ((p >= 0) & (p <= 1)).all() and len(set(p.tolist())) > 1
    folk = client.post(f"/api/sessions/{sid}/fusion",
                       json={"generator": "B", "n": 6, "seed": 1}).json()
    # the jazz generator writes more jazz, as the classifier hears it
    assert p.mean() > np.mean([m["p_genre_a"] for m in folk["melodies"]])
    bad = client.post(f"/api/sessions/{sid}/fusion", json={"generator": "Z"})
    assert bad.status_code == 400


def test_sequences_draw_hmm_and_gmm_tunes(client: httpx.Client) -> None:
    sid = new_session(client)
    result = client.post(f"/api/sessions/{sid}/sequences", json={"n": 2, "seed": 4}).json()
    assert len(result["hmm"]) == len(result["gmm"]) == 2
    for tune in result["hmm"] + result["gmm"]:
        assert max(n[1] + n[2] for n in tune["notes"]) <= 4 * result["bars"]
        assert client.get(f"/api/files/{tune['wav']}").status_code == 200


def test_separation_stems_add_up_to_the_upload(client: httpx.Client, tmp_path: Path) -> None:
    import soundfile

    from fugato.audio.synth import render

    organ, clarinet = render(folk_melody(1), program="organ"), render(
        folk_melody(1).transpose(7), program="clarinet")
    n = min(len(organ), len(clarinet))
    mixture = organ[:n] + clarinet[:n]
    buffer = io.BytesIO()
    soundfile.write(buffer, mixture, 22050, format="WAV", subtype="FLOAT")
    sid = new_session(client)
    result = client.post(f"/api/sessions/{sid}/separate?filename=mix.wav",
                         content=buffer.getvalue()).json()
    stems = [soundfile.read(io.BytesIO(client.get(f"/api/files/{result[k]}").content))[0]
             for k in ("vocals", "accompaniment")]
    np.testing.assert_allclose(stems[0] + stems[1], mixture, atol=1e-5)
    assert np.abs(stems[0]).max() > 0.01 and np.abs(stems[1]).max() > 0.01


def test_a_view_without_a_model_says_how_to_get_one(client: httpx.Client) -> None:
    sid = new_session(client)
    response = client.post(f"/api/sessions/{sid}/dance/choreograph?filename=a.wav",
                           content=b"RIFF")
    assert response.status_code == 400 and "fugato studio" in response.json()["error"]


# -- reliability and security ---------------------------------------------------------------------
def test_it_binds_the_loopback_unless_told_and_warns_then(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from fugato.cli import build_parser, main
    from fugato.studio.server import host_warning

    assert build_parser().parse_args(["studio"]).host == "127.0.0.1"
    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None
    assert "warning" in (host_warning("0.0.0.0") or "")
    assert main(["studio", "no-such-model"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "no-such-model" in error and "shipped" in error


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd", "/api/files/..%2f..%2fetc%2fpasswd",
    "/api/files/%2fetc%2fpasswd", "/api/files//etc/passwd", "/api/files/../../etc/passwd",
    "/static//etc/passwd", "/api/files/00000000000000000000000000000000",
])
def test_traversal_and_unknown_ids_are_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_uploads_are_capped_and_hostile_files_get_a_one_line_400(
        client: httpx.Client, tmp_path: Path, studio_root: Path) -> None:
    sid = new_session(client)
    big = client.post(f"/api/sessions/{sid}/tune/upload?filename=big.mid",
                      content=b"\0" * (50 * 2**20))
    assert big.status_code == 413 and "10 MB" in big.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while streaming
        for _ in range(12):
            yield b"\0" * 2**20

    streamed = client.post(f"/api/sessions/{sid}/tune/upload?filename=big.mid", content=chunks())
    assert streamed.status_code == 413
    for name, body in [("binary.mid", bytes(range(256)) * 64), ("empty.mid", b""),
                       ("zip.mxl", b"PK\3\4" + b"\0" * 100), ("tune.abc", b"X:1\nK:C\n"),
                       ("noise.wav", b"RIFF" + b"\xff" * 100), ("tune.exe", b"MZ")]:
        view = "separate" if name.endswith(".wav") else "tune/upload"
        response = client.post(f"/api/sessions/{sid}/{view}?filename={name}", content=body)
        assert response.status_code == 400, (name, response.text)
        error = response.json()["error"]
        assert "\n" not in error and name in error, error
    assert not list((studio_root / "uploads").iterdir())  # every upload deleted after use
    ok = client.post(f"/api/sessions/{sid}/tune/upload?filename=ok.mid",
                     content=midi_bytes(folk_melody(2), tmp_path))
    assert ok.status_code == 200  # still up, and the session still works


def test_sessions_are_separate_and_bounded(client: httpx.Client, tmp_path: Path) -> None:
    a, b = new_session(client), new_session(client)
    ta = client.post(f"/api/sessions/{a}/tune/load", json={"bars": 2, "seed": 1}).json()
    client.post(f"/api/sessions/{b}/tune/load", json={"bars": 5, "seed": 2})
    assert client.get(f"/api/sessions/{a}/tune").json()["notes"] == ta["notes"]
    assert client.get("/api/sessions/ffffffffffffffffffffffffffffffff/tune").status_code == 404
    # the stores alone: the oldest session and its files go past the limits
    files = FileStore(tmp_path / "files", per_session=3)
    sessions = Sessions(files, limit=2, idle=0)
    first = sessions.create()
    ids = [files.add(first.id, f"{i}.txt", "text/plain", lambda p: p.write_text("x"))
           for i in range(5)]
    assert [files.get(i) is not None for i in ids] == [False, False, True, True, True]
    sessions.create()
    sessions.create()
    assert len(sessions) == 2 and sessions.get(first.id) is None
    assert len(files) == 0 and not list((tmp_path / "files").iterdir())


def test_fifty_concurrent_slider_moves_all_return_their_own_result(studio: str) -> None:
    sessions, moves = 10, 5
    with httpx.Client(base_url=studio, timeout=120) as client:
        ids = [new_session(client) for _ in range(sessions)]
        for sid in ids:
            client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 4, "seed": 7})
        solo = {}
        for value in np.linspace(-3, 3, moves):  # one at a time: what each move must give
            solo[round(float(value), 3)] = client.post(
                f"/api/sessions/{ids[0]}/tune/edit",
                json={"bars": [2], "offsets": {"pitch_range": round(float(value), 3)}}
            ).json()["bars"][2]["attributes"]

    def move(job: tuple[str, float]) -> tuple[float, dict[str, float]]:
        sid, value = job
        with httpx.Client(base_url=studio, timeout=120) as c:
            response = c.post(f"/api/sessions/{sid}/tune/edit",
                              json={"bars": [2], "offsets": {"pitch_range": value}})
            assert response.status_code == 200
            return value, response.json()["bars"][2]["attributes"]

    jobs = [(sid, value) for sid in ids for value in solo]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(move, jobs))
    assert len(results) == 50
    for value, attributes in results:
        assert attributes == solo[value]


# -- what the studio reads (issue 29, section 2) ------------------------------------------------
def test_only_named_corpora_and_the_folders_it_was_started_with_load(
        client: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FUGATO_CACHE", str(cache))
    private = tmp_path / "private"
    private.mkdir()
    (private / "tune.mid").write_bytes(midi_bytes(folk_melody(4), tmp_path))
    sid = new_session(client)
    errors = set()
    for folder in (private, tmp_path / "no-such-folder", Path("tests/fixtures/tunes/jazz")):
        response = client.post(f"/api/sessions/{sid}/tune/load", json={
            "source": "corpus", "corpus": f"folder:{folder}", "index": 0})
        assert response.status_code == 400, response.text
        errors.add(response.json()["error"].replace(str(folder), "PATH"))
    assert len(errors) == 1 and "\n" not in errors.pop()  # nothing tells which folders exist
    assert not list(cache.glob("corpora/*"))  # and a refusal leaves no cache entry
    unknown = client.post(f"/api/sessions/{sid}/tune/load",
                          json={"source": "corpus", "corpus": "no-such-corpus"})
    assert unknown.status_code == 400 and "\n" not in unknown.json()["error"]
    for name in (f"folder:{FOLK}", f"folder:{Path(FOLK).resolve()}"):  # as given, or absolute
        tune = client.post(f"/api/sessions/{sid}/tune/load",
                           json={"source": "corpus", "corpus": name, "index": 0})
        assert tune.status_code == 200, tune.text
    assert f"folder:{FOLK}" in client.get("/api/models").json()["corpora"]


def test_corpus_folders_are_named_on_the_command_line(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    from fugato.cli import build_parser, main

    args = build_parser().parse_args(["studio", "--corpus", FOLK, "--corpus", "essen"])
    assert args.corpus == [FOLK, "essen"]
    assert main(["studio", "--corpus", "/no/such/folder"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "/no/such/folder" in error


# -- who may drive the studio (section 3) ---------------------------------------------------------
def test_requests_naming_another_host_are_refused(studio: str) -> None:
    port = studio.rsplit(":", 1)[1]
    with httpx.Client(base_url=studio, timeout=60) as client:
        for host in ("evil.example", f"evil.example:{port}", "localhost.evil.example",
                     f"127.0.0.1.nip.io:{port}", ""):
            response = client.get("/api/models", headers={"Host": host})
            assert response.status_code == 400, host
            assert "\n" not in response.json()["error"]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert client.get("/api/models", headers={"Host": host}).status_code == 200, host


def test_a_studio_on_every_address_answers_to_addresses_not_other_names(tmp_path: Path) -> None:
    from fugato.studio.app import create_app
    from fugato.studio.server import open_models

    app = create_app(open_models(["iml-melody"]), tmp_path, host="0.0.0.0")
    for host, status in (("192.168.1.20:8765", 200), ("[fe80::1]:8765", 200),
                         ("localhost", 200), ("rebound.example:8765", 400)):
        with asgi_client(app, host) as client:
            assert client.get("/api/models").status_code == status, host


def test_writes_from_another_origin_are_refused(studio: str) -> None:
    port = studio.rsplit(":", 1)[1]
    with httpx.Client(base_url=studio, timeout=60) as client:
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Origin": f"http://localhost:{port}"}, {"Origin": f"https://127.0.0.1:{port}"},
                        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                        {"Sec-Fetch-Site": "cross-site", "Origin": studio}):
            response = client.post("/api/sessions", headers=headers)
            assert response.status_code == 403, headers
            assert "\n" not in response.json()["error"]
        sid = new_session(client)
        upload = client.post(f"/api/sessions/{sid}/tune/upload?filename=a.mid", content=b"MThd",
                             headers={"Origin": "http://evil.example"})
        assert upload.status_code == 403
        # the page's own requests, and scripts (no browser sends a write without either header)
        for headers in ({"Origin": studio}, {"Origin": studio, "Sec-Fetch-Site": "same-origin"},
                        {"Sec-Fetch-Site": "none"}, {}):
            assert client.post("/api/sessions", headers=headers).status_code == 200, headers


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    sid = new_session(client)
    for response in (client.get("/"), client.get("/static/studio.js"), client.get("/api/models"),
                     client.get("/api/files/" + "0" * 32), client.get("/no-such-page"),
                     client.get("/listen/no-such-test"),
                     client.post(f"/api/sessions/{sid}/tune/edit", json={}),
                     client.post("/api/sessions", headers={"Origin": "http://evil.example"}),
                     client.get("/", headers={"Host": "evil.example"})):
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_pages_hold_no_inline_script_and_scripts_write_names_as_text() -> None:
    for page in ("index.html", "listen.html"):
        html = (STATIC / page).read_text()
        tags = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        assert tags and all('src="/static/' in attrs and not body.strip() for attrs, body in tags)
        assert not re.search(r"\son[a-z]+\s*=|style=|javascript:", html)
    for script in ("common.js", "studio.js", "listen.js"):
        js = (STATIC / script).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in js, (script, sink)


def test_a_clients_new_sessions_never_push_out_another_clients_open_tab(tmp_path: Path) -> None:
    from fugato.studio.app import create_app
    from fugato.studio.server import open_models

    app = create_app(open_models(["arvae-folk"]), tmp_path)
    with asgi_client(app, address="10.0.0.1") as composer, \
            asgi_client(app, address="10.0.0.2") as other:
        mine = composer.post("/api/sessions").json()["session"]
        tune = composer.post(f"/api/sessions/{mine}/tune/load", json={"bars": 2}).json()
        made = [other.post("/api/sessions") for _ in range(100)]
        assert {r.status_code for r in made} <= {200, 503}
        again = composer.get(f"/api/sessions/{mine}/tune")
        assert again.status_code == 200 and again.json()["notes"] == tune["notes"]
        newest = made[-1].json()["session"]  # the other client keeps its newest sessions
        assert other.get(f"/api/sessions/{newest}").status_code == 200


def test_sessions_go_by_idle_time_with_a_cap_per_client(tmp_path: Path) -> None:
    now = [0.0]
    files = FileStore(tmp_path / "files")
    sessions = Sessions(files, limit=4, per_client=2, idle=600, clock=lambda: now[0])
    a1, a2 = sessions.create("a"), sessions.create("a")
    assert a1 is not None and a2 is not None
    now[0] += 1
    assert sessions.get(a1.id) is a1  # a1 used after a2 was made
    a3 = sessions.create("a")  # past a's cap: its least recently used goes, not its first
    assert a3 is not None and sessions.get(a2.id) is None and sessions.get(a1.id) is a1
    b1, b2 = sessions.create("b"), sessions.create("b")
    assert sessions.create("c") is None  # full and every session in use: refused
    assert all(sessions.get(s.id) is s for s in (a3, b1, b2, a1))
    now[0] += 601
    assert sessions.get(a1.id) is a1  # an open tab touches its session every minute
    assert sessions.create("c") is not None and sessions.get(a3.id) is None  # the idlest went
    assert sessions.create("b") is not None and sessions.get(b1.id) is None  # b's own idlest


@pytest.mark.parametrize("tail, body", [
    ("tune/load", {"bars": 4, "seed": 2**64}),
    ("tune/load", {"source": "corpus", "corpus": "oneills", "index": 1e23}),
    ("tune/edit", {"bars": [1e23], "offsets": {"contour": 1.0}}),
    ("tune/interpolate", {"bars": [0, 1e23], "steps": 4}),
    ("tune/tempo", {"tempo": 1e308}), ("fusion", {"seed": 2**64}), ("fusion", {"n": 1e23}),
    ("sequences", {"seed": 2**64}), ("sequences", {"seed": -1}),
    ("separate?filename=a.wav&seed=18446744073709551616", b"RIFF"),
    ("dance/choreograph?filename=a.wav&seconds=1e308", b"RIFF"),
])
def test_numbers_out_of_range_are_a_one_line_400(client: httpx.Client, tail: str,
                                                 body: dict[str, object] | bytes) -> None:
    sid = new_session(client)
    client.post(f"/api/sessions/{sid}/tune/load", json={"bars": 4})
    if isinstance(body, bytes):
        response = client.post(f"/api/sessions/{sid}/{tail}", content=body)
    else:
        response = client.post(f"/api/sessions/{sid}/{tail}", json=body)
    assert response.status_code == 400, response.text
    assert "\n" not in response.json()["error"]


# -- what a stopped studio leaves (section 5) -----------------------------------------------------
def test_sigterm_and_the_next_start_after_a_kill_9_leave_no_studio_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    folders = lambda: sorted(tmp.glob("fugato-studio-*"))  # noqa: E731
    port, listening = free_port(), tmp_path / "listening"
    process = start_studio(port, listening, env)
    try:
        assert len(folders()) == 1
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        assert folders() == []
        process = start_studio(port, listening, env)
        (killed,) = folders()
        process.kill()
        process.wait()
        assert killed.is_dir()  # nothing can clean up after kill -9 ...
        running = tmp / f"fugato-studio-{os.getpid()}-alive"  # a studio still running
        unknown = tmp / "fugato-studio-x1y2z3"  # an older fugato's: whose, nobody can tell
        running.mkdir()
        unknown.mkdir()
        process = start_studio(port, listening, env)
        left = folders()  # ... so the next start does, and leaves running studios' alone
        assert killed not in left and running in left and unknown in left and len(left) == 3
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert folders() == [running, unknown]
