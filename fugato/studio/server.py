"""Run the studio: models opened, a private folder for its files, uvicorn on a local port.

The folder (`fugato-studio-<pid>-*` in the system's temporary directory) goes when the studio
stops, on Ctrl+C and SIGTERM alike; one left by a studio killed outright (kill -9) goes when
the next studio starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from fugato.errors import FugatoError
from fugato.paths import remove_dead_folders

if TYPE_CHECKING:
    from fugato.studio.models import Models

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
FOLDER_PREFIX = "fugato-studio-"


def open_models(names: Sequence[str]) -> Models:
    """`Models` of the named runs or shipped models (none: every shipped model a view plays)."""
    from fugato.studio.models import Models, default_slots, open_slot

    return Models([open_slot(name) for name in names] if names else default_slots())


def host_warning(host: str) -> str | None:
    """The warning for serving beyond this machine (None for a loopback host)."""
    if host in LOCAL_HOSTS:
        return None
    return (f"fugato studio: warning: serving on {host}, not only this machine: anyone who "
            "reaches it can use the studio and upload files")


def studio_folder() -> Path:
    """A new private folder named after this process, once the folders of studios no longer
    running are removed."""
    parent = Path(tempfile.gettempdir())
    remove_dead_folders(parent, FOLDER_PREFIX)
    return Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent))


def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM as Ctrl+C: uvicorn stops gracefully on it, then raises it again, and Python's
    default for SIGTERM would end the process before any `finally` removed the folder."""
    raise KeyboardInterrupt


def serve(names: Sequence[str] = (), host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = False, quiet: bool = False, listening: Path | None = None,
          corpora: Sequence[str] = ()) -> None:
    """Serve the studio until interrupted (Ctrl+C or SIGTERM); its files live in a temporary
    folder removed at exit. A host other than the loopback is served with a warning: anyone
    who reaches it can use the studio. `corpora`: the folders (or named corpora) it loads
    besides the named ones."""
    import uvicorn

    from fugato.studio.app import create_app

    models = open_models(names)
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main_thread else None
    root = studio_folder()
    try:
        app = create_app(models, root, listening, host=host, corpora=corpora)
        models.preload()
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        if not quiet:
            views = sorted({slot.view for slot in models.slots.values()})
            print(f"fugato studio at {url} ({len(models.slots)} models: {', '.join(views)}); "
                  "Ctrl+C stops it", flush=True)
        if open_browser:
            webbrowser.open(url)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                access_log=False)
        server = uvicorn.Server(config)
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise FugatoError(f"could not serve on {host}:{port} (in use? try --port)"
                              ) from None
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
