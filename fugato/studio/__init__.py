"""fugato studio: a local web app to move AR-VAE attribute sliders on a whole tune and hear it,
draw FusionGAN fusions, IML sequences, dances for songs and separated stems.

    fugato studio                      # the shipped models, at http://127.0.0.1:8765
    fugato studio runs/my-arvae --port 9000 --open

`create_app` (`fugato.studio.app`) builds the FastAPI app; `serve` runs it with uvicorn. The
page and its assets are in `static/` inside the package: nothing is fetched from the internet.
"""

from __future__ import annotations

from fugato.studio.server import LOCAL_HOSTS, serve

__all__ = ["LOCAL_HOSTS", "serve"]
