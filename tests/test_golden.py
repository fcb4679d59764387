"""Golden tests: every model kind trains, samples and evaluates to the numbers recorded before
the redesign (`tests/golden/`, written by `tests/fixtures/make_golden.py`).

Two tests per kind, so that each step is checked once:
- training a tiny run gives the recorded training log; on an exact machine (listed in
  `tests/golden/machines.json`) also the weights of the checkpoint kept in
  `tests/fixtures/runs/<kind>/` and the recorded optimizer states bit for bit, elsewhere the
  trained run's samples and `eval.json` within `ACROSS_MACHINES`;
- that pre-redesign checkpoint loads, samples and evaluates to the recorded samples and
  `eval.json`.
Everything runs on CPU with one thread (BLAS and OpenMP too): other thread counts sum in other
orders. Other CPUs round float32 sums otherwise too (MKL, ATen and oneDNN pick kernels by vendor
and instruction set), and adversarial training carries that last bit into a weight's third
digit, so only what a user sees is compared across machines (`golden_cases.tolerance`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from golden_cases import (
    CASES,
    FIXTURES,
    GOLDEN,
    ROOT,
    TIMING_KEYS,
    TRAINING_KEYS,
    Case,
    differences,
    exact,
    optimizer_differences,
    optimizer_digest,
    portable,
    sample_differences,
    sample_digest,
    tolerance,
    training_log,
)
from shared_data import require


def _skip_without_data(case: Case) -> None:
    if case.needs:
        require(case.needs)


@pytest.fixture(scope="module")
def golden_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of corpora and features of these tests' own, built under one thread as when the
    numbers were recorded: dance features built by other tests with two threads differ in their
    last bits, and so does every number trained on them."""
    return tmp_path_factory.mktemp("golden-cache")


@pytest.fixture()
def one_thread(monkeypatch: pytest.MonkeyPatch, golden_cache: Path) -> Iterator[None]:
    """One CPU thread everywhere, the golden cache, and the repository as working folder (the
    cases' corpora are relative folders)."""
    from threadpoolctl import threadpool_limits

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FUGATO_CACHE", str(golden_cache))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def _golden(case: Case) -> dict[str, Any]:
    """The recorded numbers; an eval.json's model id as it is called now (ids were renamed,
    the old ones are aliases)."""
    from fugato.registry import canonical

    golden = json.loads((GOLDEN / f"{case.kind}.json").read_text())
    if "model" in golden["eval"]:
        golden["eval"]["model"] = canonical(golden["eval"]["model"])
    return golden


def _close(expected: torch.Tensor, actual: torch.Tensor) -> bool:
    """Equal, NaN equal to NaN; floats within `tolerance()` of the largest value."""
    if expected.dtype != actual.dtype:
        return False
    if torch.equal(expected.nan_to_num(), actual.nan_to_num()):
        return True
    rel = tolerance()
    if not rel or not expected.is_floating_point():
        return False
    # weights near zero (a fresh bias) move by the learning rate's scale, not their own
    scale = max(float(expected.abs().max()) if expected.numel() else 0.0, 0.1)
    return torch.allclose(actual.double(), expected.double(), rtol=rel, atol=rel * scale,
                          equal_nan=True)


def _tree_differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two checkpoint trees (dicts, lists, tensors, arrays, numbers) differ, exactly."""
    if isinstance(expected, torch.Tensor | np.ndarray):
        if type(actual) is not type(expected) or tuple(actual.shape) != tuple(expected.shape):
            return [f"{path}: {type(actual).__name__} of shape {tuple(actual.shape)}, expected "
                    f"{type(expected).__name__} of shape {tuple(expected.shape)}"]
        e, a = torch.as_tensor(expected), torch.as_tensor(actual)
        if _close(e, a):
            return []
        gap = float((a.double() - e.double()).abs().max()) if e.numel() else 0.0
        return [f"{path}: tensors differ (by {gap:.3g} at most)"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return [f"{path}: keys {sorted(map(str, actual))}, expected "
                    f"{sorted(map(str, expected))}"]
        return [d for k in expected if k not in TIMING_KEYS
                for d in _tree_differences(expected[k], actual[k], f"{path}/{k}")]
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)}, expected {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in _tree_differences(e, a, f"{path}[{i}]")]
    return differences(portable(expected), portable(actual), path, tolerance())


def _evaluated(run: Path) -> dict[str, Any]:
    """`fugato eval` of a run: its eval.json, less the keys that say how far training went
    (checked here: all of its steps)."""
    from fugato.cli import main

    assert main(["eval", str(run), "--quiet", "--device", "cpu"]) == 0
    results = json.loads((run / "eval.json").read_text())
    training = {key: results.pop(key) for key in TRAINING_KEYS}
    steps = torch.load(run / "checkpoints" / "last.pt", weights_only=False)["step"]
    assert training == {"steps_done": steps, "steps_planned": steps, "stopped_early": False}
    return portable(results)


def _what_a_user_sees(case: Case, run: Path) -> list[str]:
    """Where the samples and `eval.json` of `run` differ from the record (within
    `tolerance()`)."""
    from fugato.train import load_run

    golden = _golden(case)
    problems = []
    if case.sample is not None:
        samples = sample_digest(load_run(run, device="cpu").sample(2, seed=0, **case.sample))
        problems += sample_differences(golden["sample"], portable(samples), tolerance())
    return problems + differences(golden["eval"], _evaluated(run), "/eval", tolerance())


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_training_reproduces_the_golden_run(case: Case, tmp_path: Path, one_thread: None) -> None:
    """The training log as recorded; on an exact machine the weights and optimizer states bit
    for bit, elsewhere the trained run's samples and evaluation within `tolerance()`."""
    from fugato.config import load_config
    from fugato.registry import get_model
    from fugato.train import Trainer
    from fugato.train.checkpoint import load_checkpoint, saved_state

    _skip_without_data(case)
    config = load_config(case.config_path(), list(case.overrides))
    run = tmp_path / "run"
    Trainer(get_model(config.model)(config), run, quiet=True).fit()
    assert differences(_golden(case)["train"], portable(training_log(run)),
                       rel=tolerance()) == []
    fresh = load_checkpoint(run / "checkpoints" / "last.pt")
    kept = load_checkpoint(FIXTURES / case.kind / "checkpoints" / "last.pt")
    assert fresh["step"] == kept["step"]
    # the pre-redesign saved state, loaded into today's task, saves as a fresh run's does
    task = get_model(config.model)(config, saved_state(kept))
    assert _tree_differences(task.saved_state(), saved_state(fresh), "state") == []
    if not exact():
        assert _what_a_user_sees(case, run) == []
        return
    assert _tree_differences(kept["nets"], fresh["nets"], "nets") == []
    assert optimizer_differences(_golden(case)["optimizers"],
                                 optimizer_digest(fresh["optimizers"])) == []


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_pre_redesign_checkpoint_samples_and_evaluates(case: Case, tmp_path: Path,
                                                       one_thread: None) -> None:
    _skip_without_data(case)
    run = tmp_path / case.kind
    shutil.copytree(FIXTURES / case.kind, run)
    assert _what_a_user_sees(case, run) == []
