import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # toy_task, ddp_worker

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs the suite in parallel processes (pytest-xdist): one thread each, set
    # before torch is imported, since OpenMP threads spin while another process holds their
    # core (8x slower on 2 cores)
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session builds corpora into its own cache (CI's stays untouched)."""
    cache = tmp_path_factory.mktemp("fugato-cache")
    old = os.environ.get("FUGATO_CACHE")
    os.environ["FUGATO_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("FUGATO_CACHE", None)
    else:
        os.environ["FUGATO_CACHE"] = old
