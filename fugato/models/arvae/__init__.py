"""AR-VAE (Pati & Lerch 2020): a MeasureVAE whose regularised latent dimensions order bars by their
attributes.

    >>> from fugato.models.arvae import input_bar, interpolate, traverse

`ARVAE` (the task, `task.py`) and the tools (`tools.py`) are imported on first use, so the
command line can register `fugato arvae ...` (`cli.py`) without loading torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fugato.models.arvae.task import ARVAE
    from fugato.models.arvae.tools import input_bar, interpolate, traverse

_API = {
    "ARVAE": "fugato.models.arvae.task",
    "input_bar": "fugato.models.arvae.tools",
    "interpolate": "fugato.models.arvae.tools",
    "traverse": "fugato.models.arvae.tools",
}

__all__ = ["ARVAE", "input_bar", "interpolate", "traverse"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'fugato.models.arvae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
