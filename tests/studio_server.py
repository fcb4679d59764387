"""A real studio server in a thread of the test process, on a free loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from fugato.studio.app import create_app
from fugato.studio.server import open_models


@contextlib.contextmanager
def running_studio(names: Sequence[str], root: Path, listening: Path | None = None
                   ) -> Iterator[str]:
    """Serve the studio of `names` (none: the shipped models) with the listening tests under
    `listening`; yields its base URL."""
    app = create_app(open_models(names), root, listening)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the studio did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
