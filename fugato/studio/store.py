"""The studio's memory: sessions (one per browser tab) and the files they made, by opaque id.

Every file the studio writes lives in its own folder under one random 32-hex-digit id; the
page and scripts reach a file only through that id (`FileStore.path`), so no name a client
sends ever becomes a path. Both stores are bounded: the oldest session, and a session's
oldest files, are evicted (and deleted) past their limits, so a long-running studio keeps a
fixed amount of memory and disk.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fugato.atomic import atomic_path

ID = re.compile(r"[0-9a-f]{32}")
"""What an opaque id looks like; anything else is not looked up."""

MAX_SESSIONS = 32
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
    ...); `lock` serialises the requests of one session."""

    id: str
    views: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sessions:
    """At most `limit` sessions, least recently used evicted first (with their files)."""

    def __init__(self, files: FileStore, limit: int = MAX_SESSIONS) -> None:
        self.files = files
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> Session:
        session = Session(new_id())
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.limit:
                old, _ = self._sessions.popitem(last=False)
                self.files.forget_session(old)
        return session

    def get(self, session_id: str) -> Session | None:
        if not ID.fullmatch(session_id):
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._sessions.move_to_end(session_id)
        return session

    def __len__(self) -> int:
        return len(self._sessions)
