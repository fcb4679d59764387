"""The shipped models: each loads with no data and an empty cache, samples, and recomputes
its card's headline numbers on its shipped held-out set within the card's tolerance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fugato.cli import main
from fugato.errors import FugatoError
from fugato.pretrained import ROOT, SHIPPED, card, folder, resolve_run
from fugato.pretrained.checks import CHECKS
from fugato.train import load_run

NAMES = [model.name for model in SHIPPED]


def _no_data_env(tmp_path: Path) -> dict[str, str]:
    """No data folder (an empty one, so that none is found beside the checkout) and an empty
    cache."""
    (tmp_path / "no-data").mkdir(exist_ok=True)
    return {**os.environ, "FUGATO_DATA": str(tmp_path / "no-data"),
            "FUGATO_CACHE": str(tmp_path / "empty-cache")}


def _try_it(name: str, tmp_path: Path) -> tuple[list[str], str, int]:
    """The command a user tries first with shipped model `name`, and the files (glob, count)
    it must write under `tmp_path / "out"`."""
    out = str(tmp_path / "out")
    if name == "factorgan-separation":
        from fugato.audio.synth import write_wav
        from fugato.music.melody import Melody

        melody = Melody(np.array([60, 64, 67, 72]), np.array([0, 480, 960, 1440]),
                        np.array([480, 480, 480, 480]))
        write_wav(melody, tmp_path / "mix.wav")
        return ["separate", name, "--input", str(tmp_path / "mix.wav"), "--out", out], "*.wav", 2
    return ["sample", name, "-n", "4", "--out", out], "*.mid", 4


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_runs_with_no_data_and_an_empty_cache(name: str, tmp_path: Path) -> None:
    command, pattern, count = _try_it(name, tmp_path)
    done = subprocess.run([sys.executable, "-m", "fugato.cli", *command, "--quiet"],
                          cwd=tmp_path, env=_no_data_env(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "out").glob(pattern))) == count
    assert not any((tmp_path / "empty-cache").rglob("*.npz"))  # no corpus was built


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_reproduces_its_card_on_the_check_set(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _no_data_env(tmp_path)
    for key in ("FUGATO_DATA", "FUGATO_CACHE"):
        monkeypatch.setenv(key, env[key])
    shipped = card(name)
    assert shipped["name"] == name and shipped["eval"]
    run = load_run(name, device="cpu")
    check = CHECKS[run.config.model]
    with np.load(folder(name) / "check.npz") as held:
        numbers = check.measure(run, dict(held))
    for key, expected in shipped["check"]["numbers"].items():
        assert abs(numbers[key] - expected) <= check.tolerance[key], (key, numbers[key])
    size = sum(p.stat().st_size for p in folder(name).rglob("*") if p.is_file())
    assert size <= 4 * 2**20
    assert not any((tmp_path / "empty-cache").rglob("*.npz"))  # no corpus was needed


def test_all_shipped_models_fit_the_size_limit() -> None:
    assert sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file()) <= 25 * 2**20


def test_a_local_folder_wins_over_a_shipped_name_and_neither_names_both_places(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_run(NAMES[0]) == folder(NAMES[0])
    (tmp_path / NAMES[0]).mkdir()
    assert resolve_run(NAMES[0]) == Path(NAMES[0])
    with pytest.raises(FugatoError) as error:
        resolve_run("no-such-model")
    assert "run folder not found" in str(error.value) and str(ROOT) in str(error.value)


def test_models_lists_them_prints_a_card_and_eval_refuses_to_write_into_the_package(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in NAMES)
    assert main(["models", NAMES[0]]) == 0
    assert capsys.readouterr().out.startswith(f"# {NAMES[0]}")
    assert main(["eval", NAMES[0], "--quiet"]) == 2
    assert "shipped model" in capsys.readouterr().err
    assert not (folder(NAMES[0]) / "eval.json").exists()
    assert json.loads((folder(NAMES[0]) / "card.json").read_text())["steps"] > 0


def test_a_checkpoint_saved_twice_has_the_same_bytes(tmp_path: Path) -> None:
    """`make pretrained` must rebuild the shipped files bit for bit: torch.save names its
    zip folder after the file it writes, which for an atomic write is a random temporary."""
    import torch

    from fugato.train.checkpoint import load_checkpoint, save_checkpoint

    payload = {"config": {"model": "x"}, "step": 3, "nets": {"g": {"w": torch.arange(5.0)}}}
    save_checkpoint(tmp_path / "a" / "last.pt", payload)
    save_checkpoint(tmp_path / "b" / "last.pt", payload)
    assert (tmp_path / "a" / "last.pt").read_bytes() == (tmp_path / "b" / "last.pt").read_bytes()
    assert torch.equal(load_checkpoint(tmp_path / "a" / "last.pt")["nets"]["g"]["w"],
                       torch.arange(5.0))
