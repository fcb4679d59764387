"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """An exception as one short line: 'TypeName: first line of the message'."""
    text = str(error).strip().splitlines()
    message = text[0][:200] if text else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class FugatoError(Exception):
    """A problem with the user's input (file, corpus name, option), not a bug in fugato."""


class BadInputError(FugatoError):
    """A file that cannot be read as music; the message names the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
