"""The studio's memory: sessions (one per browser tab) and the files they made, by opaque id.

Every file the studio writes lives in its own folder under one random 32-hex-digit id; the
page and scripts reach a file only through that id (`FileStore.path`), so no name a client
sends ever becomes a path. Both stores are bounded: sessions by `Sessions`' rules, a session's
oldest files (and the oldest of all past `MAX_BYTES`) are evicted and deleted, so a
long-running studio keeps a fixed amount of memory and disk.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fugato.atomic import atomic_path

ID = re.compile(r"[0-9a-f]{32}")
"""What an opaque id looks like; anything else is not looked up."""

MAX_SESSIONS = 64
SESSIONS_PER_CLIENT = 16
"""One remote address's share of `MAX_SESSIONS`: tabs, scripts, a whole browser."""
IDLE_SECONDS = 600.0
"""A session untouched this long may go to make room for another client's (an open page
touches its session every minute, `studio.js`)."""
FILES_PER_SESSION = 64
MAX_BYTES = 512 * 2**20
"""All files together; the oldest go first past it."""


def new_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class StoredFile:
    path: Path
    media_type: str
    download_name: str
    size: int
    session: str


class FileStore:
    """Files by opaque id under `root`; each session keeps its newest `per_session`, and all
    together at most `max_bytes` (the oldest evicted first)."""

    def __init__(self, root: Path, per_session: int = FILES_PER_SESSION,
                 max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.per_session = per_session
        self.max_bytes = max_bytes
        self.bytes = 0
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._by_session: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, session: str, download_name: str, media_type: str,
            write: Callable[[Path], None]) -> str:
        """A new file: `write(path)` fills it (atomically); returns its id."""
        file_id = new_id()
        path = self.root / f"{file_id}{Path(download_name).suffix}"  # writers go by suffix
        with atomic_path(path) as tmp:
            write(tmp)
        stored = StoredFile(path, media_type, download_name, path.stat().st_size, session)
        with self._lock:
            self._files[file_id] = stored
            self.bytes += stored.size
            ids = self._by_session.setdefault(session, [])
            ids.append(file_id)
            for old in ids[: -self.per_session]:
                self._drop(old)
            while self.bytes > self.max_bytes and len(self._files) > 1:
                self._drop(next(iter(self._files)))
        return file_id

    def get(self, file_id: str) -> StoredFile | None:
        """The file of `file_id`, or None for an unknown or malformed id."""
        if not ID.fullmatch(file_id):
            return None
        with self._lock:
            stored = self._files.get(file_id)
        return stored if stored is not None and stored.path.is_file() else None

    def forget_session(self, session: str) -> None:
        with self._lock:
            for file_id in list(self._by_session.pop(session, [])):
                self._drop(file_id)

    def __len__(self) -> int:
        return len(self._files)

    def _drop(self, file_id: str) -> None:
        stored = self._files.pop(file_id, None)
        if stored is not None:
            self.bytes -= stored.size
            stored.path.unlink(missing_ok=True)
            session_ids = self._by_session.get(stored.session)
            if session_ids is not None and file_id in session_ids:
                session_ids.remove(file_id)


@dataclass
class Session:
    """One browser tab's state: `views` holds each view's own (the Attributes tune editor,
    ...); `lock` serialises the requests of one session; `client` is the remote address that
    made it and `used` when it was last asked for (`Sessions.clock`)."""

    id: str
    client: str = ""
    used: float = 0.0
    views: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sessions:
    """At most `limit` sessions, `per_client` of them per client, by idle time.

    A client past its cap loses its own least recently used session. A full studio makes room
    with the least recently used session of all only when it has been idle `idle` seconds,
    else with the new session's client's own, else refuses: so one client's new sessions never
    push out another's open tab, and no creation order decides (issue 29: forty sessions posted
    by a page elsewhere evicted a composer's).
    """

    def __init__(self, files: FileStore, limit: int = MAX_SESSIONS,
                 per_client: int = SESSIONS_PER_CLIENT, idle: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.files = files
        self.limit = limit
        self.per_client = per_client
        self.idle = idle
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def create(self, client: str = "") -> Session | None:
        """A new session of `client`; None when the studio is full of sessions in use."""
        session = Session(new_id(), client, self.clock())
        with self._lock:
            own = [s for s in self._sessions.values() if s.client == client]
            victim = own[0] if len(own) >= self.per_client else None
            if victim is None and len(self._sessions) >= self.limit:
                idlest = next(iter(self._sessions.values()))
                if session.used - idlest.used >= self.idle:
                    victim = idlest
                elif own:
                    victim = own[0]
                else:
                    return None
            if victim is not None:
                del self._sessions[victim.id]
                self.files.forget_session(victim.id)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        """The session of `session_id`, now its most recently used; None when unknown."""
        if not ID.fullmatch(session_id):
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.used = self.clock()
                self._sessions.move_to_end(session_id)
        return session

    def __len__(self) -> int:
        return len(self._sessions)
