"""The studio's HTTP layer: the page, its assets, and a JSON API for the page and scripts alike.

Every view request names its session (`POST /api/sessions` makes one; a browser tab keeps its
own) and answers JSON; files (WAV, MIDI, MusicXML, BVH) are fetched by opaque id from
`/api/files/{id}`. Uploads are the raw file as the request body with its name in `?filename=`
(`curl --data-binary @tune.mid`), at most `MAX_UPLOAD` bytes (413 past it). Bad input answers
400 with fugato's one-line reason, numbers out of range included; the server stays up whatever
a file holds. `fugato.studio.security` decides which hosts and pages may ask at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fugato.errors import FugatoError
from fugato.paths import safe_stem
from fugato.studio import views
from fugato.studio.models import VIEW_ORDER, Models
from fugato.studio.security import Guard
from fugato.studio.store import FileStore, Session, Sessions
from fugato.studio.tune import MAX_BARS, TuneEditor

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 10 * 2**20
MUSIC_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc", ".krn")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")
MOTION_SUFFIXES = (".npz", ".bvh")
MAX_SEED = 2**32 - 1
T = TypeVar("T")
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
"""A seed numpy and torch both take (2**64 was a 500)."""
SeedQuery = Annotated[int, Query(ge=0, le=MAX_SEED)]
BarIndex = Annotated[int, Field(ge=0, lt=MAX_BARS)]


class BadRequest(Exception):
    """A request the studio refuses, with its HTTP status and one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- request bodies ------------------------------------------------------------------------------
class Load(BaseModel):
    model: str | None = None
    source: str = "prior"
    """"prior" (draw `bars` bars) or "corpus" (tune `index` of `corpus`)."""
    bars: int = Field(4, ge=1, le=64)
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    seed: Seed = 0
    corpus: str = "oneills"
    index: int = Field(0, ge=0, le=2**31)


class Edit(BaseModel):
    model: str | None = None
    bars: list[BarIndex] | None = None
    """Selected bar indices (None or empty: the whole tune)."""
    offsets: dict[str, float]
    """Slider name -> latent offset."""


class Interpolate(BaseModel):
    model: str | None = None
    between: str = "bars"
    """"bars" (`bars` = [first, last] of the tune) or "tunes" (the kept tune B and this one)."""
    bars: list[BarIndex] = Field(default_factory=list)
    steps: int = Field(8, ge=2, le=64)


class TuneRequest(BaseModel):
    model: str | None = None
    tempo: float | None = Field(None, ge=20.0, le=400.0)
    key: str | None = None
    """A key like "D minor" to keep every note in ("" or None: none)."""
    format: str = "musicxml"


class Draw(BaseModel):
    model: str | None = None
    generator: str | None = None
    n: int = Field(4, ge=1, le=views.MAX_DRAWS)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    seed: Seed = 0


# -- the app -------------------------------------------------------------------------------------
class Studio:
    """The models, sessions and files behind one app."""

    def __init__(self, models: Models, root: Path, corpora: views.Corpora) -> None:
        self.models = models
        self.corpora = corpora
        self.files = FileStore(root / "files")
        self.sessions = Sessions(self.files)
        self.uploads = root / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)

    def session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise BadRequest(404, "unknown or expired session: reload the page")
        return session

    def editor(self, session: Session, model: str | None) -> TuneEditor:
        slot = self.models.get(model, "attributes")
        key = f"attributes:{slot.name}"
        if key not in session.views:
            from fugato.models.arvae.task import ARVAE

            task = slot.run().task
            assert isinstance(task, ARVAE)
            session.views[key] = TuneEditor(task)
        editor: TuneEditor = session.views[key]
        return editor

    def with_editor(self, session_id: str, model: str | None,
                    change: Callable[[TuneEditor], Any]) -> dict[str, Any]:
        """`change(editor)` of a session's tune under its lock; the tune's state after it."""
        session = self.session(session_id)
        with session.lock:
            editor = self.editor(session, model)
            change(editor)
            return views.tune_state(editor, self.files, session.id)

    async def upload(self, request: Request, allowed: tuple[str, ...]) -> tuple[Path, str]:
        """The request body saved under an opaque name (with the upload's suffix), and the
        name the user gave it; 413 past `MAX_UPLOAD`, 400 for a suffix not in `allowed`."""
        name = Path(request.query_params.get("filename", "upload")).name or "upload"
        suffix = Path(name).suffix.lower()
        if suffix not in allowed:
            raise BadRequest(400, f"{name}: not a file type this view reads "
                                  f"({', '.join(allowed)})")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD:
            raise BadRequest(413, f"{name}: larger than the {MAX_UPLOAD // 2**20} MB upload limit")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_UPLOAD:
                raise BadRequest(413, f"{name}: larger than the {MAX_UPLOAD // 2**20} MB "
                                      "upload limit")
        if not body:
            raise BadRequest(400, f"{name}: empty upload")
        path = self.uploads / f"{secrets.token_hex(16)}{suffix}"
        path.write_bytes(bytes(body))
        return path, name


async def in_thread(fn: Callable[[], T], upload: tuple[Path, str] | None = None) -> T:
    """`fn()` in the thread pool; errors about an uploaded file name it as the user did, and
    a library's own error on a hostile file is a 400 too (the upload is deleted after)."""
    try:
        return await run_in_threadpool(fn)
    except FugatoError as error:
        message = str(error)
        if upload is not None:
            message = message.replace(str(upload[0]), upload[1])
        raise BadRequest(400, message) from None
    except (ValueError, OSError, RuntimeError, KeyError, IndexError, EOFError) as error:
        if upload is None:
            raise
        first = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise BadRequest(400, f"{upload[1]}: not readable ({first})") from None
    finally:
        if upload is not None:
            upload[0].unlink(missing_ok=True)


def create_app(models: Models, root: Path, listening: Path | None = None, *,
               host: str = "127.0.0.1", corpora: Sequence[str] = ()) -> FastAPI:
    """The studio app over `models`, keeping its files under `root`, serving the listening
    tests under `listening` (default `listening/`) at `/listen/NAME`, answering to the names
    of `host` (`fugato.studio.security`), loading named corpora and the folders `corpora`."""
    from fugato.listen.design import DEFAULT_ROOT
    from fugato.listen.routes import Refused, Tests, add_listen_routes

    studio = Studio(models, root, views.Corpora(corpora))
    # no /docs page: FastAPI's loads its scripts from a CDN; /openapi.json is plain JSON
    app = FastAPI(title="fugato studio", docs_url=None, redoc_url=None)
    app.state.studio = studio
    app.add_middleware(Guard, host=host)

    @app.exception_handler(BadRequest)
    async def refused(request: Request, error: BadRequest) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(FugatoError)
    async def bad_input(request: Request, error: FugatoError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def out_of_range(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_reason(error)}, status_code=400)

    @app.exception_handler(Refused)
    async def refused_listening(request: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/models")
    def list_models() -> dict[str, Any]:
        return {"models": models.describe(), "views": list(VIEW_ORDER),
                "corpora": studio.corpora.shown}

    @app.get("/api/files/{file_id}")
    def get_file(file_id: str, download: bool = False) -> FileResponse:
        stored = studio.files.get(file_id)
        if stored is None:
            raise HTTPException(404, "no such file")
        return FileResponse(stored.path, media_type=stored.media_type,
                            filename=stored.download_name if download else None)

    add_session_routes(app, studio)
    add_attribute_routes(app, studio)
    add_edit_routes(app, studio)
    add_view_routes(app, studio)
    add_listen_routes(app, Tests(listening or DEFAULT_ROOT))
    return app


def validation_reason(error: RequestValidationError) -> str:
    """FastAPI's list of what a request got wrong, as one line ("seed: Input should be ...")."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
                     for e in error.errors())


def add_session_routes(app: FastAPI, studio: Studio) -> None:
    """A new session per tab (`Sessions` decides which goes when the studio is full), and the
    minute's touch by which an open tab keeps its session in use."""

    @app.post("/api/sessions")
    def new_session(request: Request) -> dict[str, str]:
        session = studio.sessions.create(request.client.host if request.client else "")
        if session is None:
            raise BadRequest(503, f"the studio holds {studio.sessions.limit} sessions, all in "
                                  "use: try again in a few minutes")
        return {"session": session.id}

    @app.get("/api/sessions/{session_id}")
    def touch_session(session_id: str) -> dict[str, str]:
        return {"session": studio.session(session_id).id}


def add_attribute_routes(app: FastAPI, studio: Studio) -> None:
    """The Attributes view's tunes: a prior draw or corpus tune, an upload, the current one."""

    with_editor = studio.with_editor

    def load(editor: TuneEditor, body: Load) -> None:
        if body.source == "prior":
            editor.draw(body.bars, body.temperature, body.seed)
        elif body.source == "corpus":
            corpus = studio.corpora.load_name(body.corpus)
            bars, title = views.corpus_tune(editor.task, corpus, body.index)
            editor.load(bars, title)
        else:
            raise FugatoError(f"source must be 'prior' or 'corpus', not {body.source!r}")

    @app.post("/api/sessions/{session_id}/tune/load")
    async def load_tune(session_id: str, body: Load) -> dict[str, Any]:
        return await in_thread(lambda: with_editor(session_id, body.model,
                                                   lambda e: load(e, body)))

    @app.post("/api/sessions/{session_id}/tune/upload")
    async def upload_tune(session_id: str, request: Request,
                          model: str | None = None) -> dict[str, Any]:
        studio.session(session_id)
        upload = await studio.upload(request, MUSIC_SUFFIXES)

        def read(editor: TuneEditor) -> None:
            editor.load(views.read_tune(editor.task, upload[0], upload[1]),
                        Path(upload[1]).stem)

        return await in_thread(lambda: with_editor(session_id, model, read), upload)

    @app.get("/api/sessions/{session_id}/tune")
    async def get_tune(session_id: str, model: str | None = None) -> dict[str, Any]:
        return await in_thread(lambda: with_editor(session_id, model, lambda e: None))



def add_edit_routes(app: FastAPI, studio: Studio) -> None:
    """The Attributes view's changes: sliders, interpolation, undo/redo/keep, tempo, export."""
    with_editor = studio.with_editor

    @app.post("/api/sessions/{session_id}/tune/edit")
    async def edit(session_id: str, body: Edit) -> dict[str, Any]:
        return await in_thread(lambda: with_editor(
            session_id, body.model, lambda e: e.edit(body.bars, body.offsets)))

    @app.post("/api/sessions/{session_id}/tune/interpolate")
    async def interpolate(session_id: str, body: Interpolate) -> dict[str, Any]:
        def change(editor: TuneEditor) -> None:
            if body.between == "tunes":
                editor.interpolate_tunes(body.steps)
            elif len(body.bars) == 2:
                editor.interpolate_bars(body.bars[0], body.bars[1], body.steps)
            else:
                raise FugatoError("select two bars (or a range) to interpolate between")

        return await in_thread(lambda: with_editor(session_id, body.model, change))

    actions: dict[str, Callable[[TuneEditor], Any]] = {
        "undo": TuneEditor.undo, "redo": TuneEditor.redo, "keep": TuneEditor.keep}

    def route(action: Callable[[TuneEditor], Any]) -> Callable[..., Any]:
        async def act(session_id: str, body: TuneRequest) -> dict[str, Any]:
            return await in_thread(lambda: with_editor(session_id, body.model, action))

        return act

    for name, action in actions.items():
        app.post(f"/api/sessions/{{session_id}}/tune/{name}")(route(action))

    @app.post("/api/sessions/{session_id}/tune/tempo")
    async def tempo(session_id: str, body: TuneRequest) -> dict[str, Any]:
        def change(editor: TuneEditor) -> None:
            editor.tempo = body.tempo or editor.tempo

        return await in_thread(lambda: with_editor(session_id, body.model, change))

    @app.post("/api/sessions/{session_id}/tune/key")
    async def key(session_id: str, body: TuneRequest) -> dict[str, Any]:
        def change(editor: TuneEditor) -> None:
            editor.set_key(body.key)

        return await in_thread(lambda: with_editor(session_id, body.model, change))

    @app.post("/api/sessions/{session_id}/tune/export")
    async def export(session_id: str, body: TuneRequest) -> dict[str, str]:
        def write() -> dict[str, str]:
            from fugato.studio import render

            session = studio.session(session_id)
            with session.lock:
                editor = studio.editor(session, body.model)
                melody = editor.melody()
            if body.format != "musicxml":
                raise FugatoError(f"format must be 'musicxml', not {body.format!r}")
            return {"file": render.write_musicxml(studio.files, session.id, melody,
                                                  safe_stem(melody.title))}

        return await in_thread(write)


def add_view_routes(app: FastAPI, studio: Studio) -> None:
    """Fusion, Sequences, Dance and Separate."""

    @app.post("/api/sessions/{session_id}/fusion")
    async def fusion(session_id: str, body: Draw) -> dict[str, Any]:
        session = studio.session(session_id)
        slot = studio.models.get(body.model, "fusion")
        return await in_thread(lambda: views.fusion_samples(
            slot.run(), studio.files, session.id, body.generator, body.n, body.temperature,
            body.seed))

    @app.post("/api/sessions/{session_id}/sequences")
    async def sequences(session_id: str, body: Draw) -> dict[str, Any]:
        session = studio.session(session_id)
        slot = studio.models.get(body.model, "sequences")
        return await in_thread(lambda: views.sequence_samples(
            slot.run(), studio.files, session.id, body.n, body.seed))

    @app.post("/api/sessions/{session_id}/dance/choreograph")
    async def choreograph(session_id: str, request: Request, model: str | None = None,
                          seconds: float = 20.0, seed: SeedQuery = 0) -> dict[str, Any]:
        session = studio.session(session_id)
        slot = studio.models.get(model, "dance")
        upload = await studio.upload(request, AUDIO_SUFFIXES)
        return await in_thread(lambda: views.choreograph(
            slot.run(), studio.files, session.id, upload[0], upload[1], seconds, seed), upload)

    @app.post("/api/sessions/{session_id}/dance/compose")
    async def compose(session_id: str, request: Request, model: str | None = None,
                      seed: SeedQuery = 0) -> dict[str, Any]:
        session = studio.session(session_id)
        slot = studio.models.get(model, "dance")
        upload = await studio.upload(request, MOTION_SUFFIXES)
        return await in_thread(lambda: views.compose(
            slot.run(), studio.files, session.id, upload[0], upload[1], seed), upload)

    @app.post("/api/sessions/{session_id}/separate")
    async def separate(session_id: str, request: Request, model: str | None = None,
                       seed: SeedQuery = 0) -> dict[str, Any]:
        session = studio.session(session_id)
        slot = studio.models.get(model, "separate")
        upload = await studio.upload(request, (".wav", ".flac", ".ogg"))
        return await in_thread(lambda: views.separate(
            slot.run(), studio.files, session.id, upload[0], upload[1], seed), upload)
