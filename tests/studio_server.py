"""A real studio server in a thread of the test process, on a free loopback port; and
`fugato studio` as a process of its own, for what only a process shows (signals, kill -9)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import uvicorn

from fugato.studio.app import create_app
from fugato.studio.server import open_models


@contextlib.contextmanager
def running_studio(names: Sequence[str], root: Path, listening: Path | None = None,
                   corpora: Sequence[str] = ()) -> Iterator[str]:
    """Serve the studio of `names` (none: the shipped models) with the listening tests under
    `listening` and the corpus folders `corpora`; yields its base URL."""
    app = create_app(open_models(names), root, listening, corpora=corpora)
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_studio(port: int, listening: Path, env: dict[str, str] | None = None
                 ) -> subprocess.Popen[bytes]:
    """`fugato studio fusion-jazz-folk` in a process of its own, once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "fugato.cli", "studio",
                                "fusion-jazz-folk", "--port", str(port), "--listen",
                                str(listening), "--quiet"], env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "studio did not start"
        time.sleep(0.05)
