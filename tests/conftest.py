import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # toy_task, ddp_worker

# Set before torch is imported. One thread: `make test` runs the suite in parallel processes
# (pytest-xdist), and OpenMP threads spin while another process holds their core (8x slower on
# 2 cores); a fixed count also keeps fugato's adaptive thread count (`fugato.threads`) from
# changing numbers that tests compare bit for bit.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


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
