"""Where fugato finds shared data and keeps its cache."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from fugato.errors import FugatoError


def safe_stem(title: str, fallback: str = "fugato") -> str:
    """A portable file or folder name stem from any text: letters, digits, '-' and '_' only
    ("MLE 1:1" -> "MLE-1-1"), at most 60 characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-")[:60] or fallback


def data_dir(required: bool = True) -> Path | None:
    """The folder of data no package ships: `$FUGATO_DATA`, else `../shared/data` beside the
    checkout (walking up from the working directory and from this package)."""
    env = os.environ.get("FUGATO_DATA")
    if env:
        return Path(env)
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for parent in [start, *start.parents]:
            candidate = parent / "shared" / "data"
            if candidate.is_dir():
                return candidate
            candidate = parent.parent / "shared" / "data"
            if (parent / ".git").exists() and candidate.is_dir():
                return candidate
    if required:
        raise FugatoError("shared data folder not found: set FUGATO_DATA to the folder "
                          "holding wjazzd/, mnist/, ...")
    return None


def cache_dir() -> Path:
    """`$FUGATO_CACHE`, else `~/.cache/fugato`; created on demand."""
    root = Path(os.environ.get("FUGATO_CACHE") or Path.home() / ".cache" / "fugato")
    root.mkdir(parents=True, exist_ok=True)
    return root


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_folders(parent: Path, prefix: str) -> None:
    """Remove the `<prefix><pid>-*` folders under `parent` whose process is gone: a killed
    process leaves its own behind. Those of running processes, and other names, stay."""
    for folder in parent.glob(f"{prefix}*"):
        match = re.match(rf"{re.escape(prefix)}(\d+)-", folder.name)
        if match and not pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
