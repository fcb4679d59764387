"""The shared data folder (`$FUGATO_DATA`, else `../shared/data` beside the checkout) for the
tests that read it. A new user has none: such a test skips, saying what is missing. Where
`$FUGATO_DATA` is set (CI sets it), nothing skips: a folder missing from it fails its tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fugato.paths import data_dir

DATA = data_dir(required=False) or Path("/nonexistent")


def missing(name: str) -> bool:
    """True where `name` (a folder or file under the shared data) is absent and may be: no
    `$FUGATO_DATA` was set."""
    return not (DATA / name).exists() and not os.environ.get("FUGATO_DATA")


def reason(name: str) -> str:
    return f"shared data {name} not found (set FUGATO_DATA to the shared data folder)"


def needs(name: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, as `pytestmark`) that reads `DATA / name`."""
    return pytest.mark.skipif(missing(name), reason=reason(name))


def require(name: str) -> Path:
    """`DATA / name`, or skip the calling test where it is absent."""
    __tracebackhide__ = True  # the skip is reported at the test's line, not this one
    if missing(name):
        pytest.skip(reason(name))
    return DATA / name
