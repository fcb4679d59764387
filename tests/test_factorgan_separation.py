"""FactorGAN source separation: the mask property (estimates add up to the mixture), the STFT
round trip, BSS Eval SDR on cases with known values, deterministic chorale stems, and a tiny run
end to end (train GAN and FactorGAN, evaluate, `fugato separate` a WAV)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fugato.audio.stft import BINS, apply_mask, istft, stft
from fugato.audio.wav import read_wav, write_audio
from fugato.config import build_config
from fugato.metrics.separation import bss_eval_sources
from fugato.models.factorgan.core import FactorDiscriminators
from fugato.models.factorgan.separation import FRAMES, SOURCE_PARTS, separate_magnitudes
from fugato.nn.spectrogram_discriminator import SpectrogramDiscriminator
from fugato.nn.unet import UNet


def test_stft_inverts_exactly() -> None:
    x = np.random.default_rng(0).standard_normal((2, 5000))
    spec = stft(x)
    assert spec.shape[-2] == BINS + 1
    np.testing.assert_allclose(istft(spec, length=5000), x, atol=1e-10)


def test_masked_estimates_add_up_to_the_mixture() -> None:
    rng = np.random.default_rng(1)
    mixture = rng.standard_normal(9000)
    spec = stft(mixture)
    mask = rng.random((BINS, spec.shape[-1]))
    vocals, accompaniment = apply_mask(spec, mask, len(mixture))
    np.testing.assert_allclose(vocals + accompaniment, mixture, atol=1e-10)
    assert np.abs(vocals - mixture / 2).max() > 0.1  # a real split, not two halves
    # the same on magnitudes inside the generator: m |X| + (1 - m) |X| = |X|
    net = UNet(1, 1, channels=2, depth=4, convs=1, noise=3, height=BINS, width=FRAMES)
    mix = torch.rand(2, 1, BINS, FRAMES) * 3
    mask_t, sources = separate_magnitudes(net, mix, torch.rand(2, 3))
    assert mask_t.shape == (2, 1, BINS, FRAMES) and sources.shape == (2, 2 * BINS * FRAMES)
    linear = torch.expm1(sources[:, SOURCE_PARTS[0]]) + torch.expm1(sources[:, SOURCE_PARTS[1]])
    torch.testing.assert_close(linear, torch.expm1(mix).flatten(1), rtol=1e-5, atol=1e-5)


def test_sdr_of_true_silent_and_interfered_estimates() -> None:
    sources = np.random.default_rng(2).standard_normal((2, 20000))
    perfect = bss_eval_sources(sources, sources)["sdr"]
    assert (perfect > 100).all()
    # a tenth of the other source as interference: SDR = 20 log10(10) = 20 dB
    mixed = bss_eval_sources(sources, sources + 0.1 * sources[::-1])
    np.testing.assert_allclose(mixed["sdr"], 20.0, atol=0.3)
    np.testing.assert_allclose(mixed["sir"], 20.0, atol=0.3)
    silent = bss_eval_sources(sources, np.stack([sources[0], np.zeros(20000)]))["sdr"]
    assert silent[1] == -np.inf and silent[0] > 100
    half = bss_eval_sources(sources, np.stack([sources.sum(0) / 2] * 2))["sdr"]
    assert (np.abs(half) < 1).all()  # equal-power sources: about 0 dB


def test_sdr_equals_mir_eval_and_scores_silent_estimates_alone() -> None:
    mir_eval = pytest.importorskip("mir_eval")
    rng = np.random.default_rng(5)
    refs = rng.standard_normal((2, 3000))
    ests = refs + 0.2 * refs[::-1] + 0.3 * rng.standard_normal((2, 3000))
    ours = bss_eval_sources(refs, ests)
    with warnings.catch_warnings():  # mir_eval 0.8 deprecates its separation module
        warnings.simplefilter("ignore", FutureWarning)
        theirs = mir_eval.separation.bss_eval_sources(refs, ests, compute_permutation=False)
    for i, key in enumerate(("sdr", "sir", "sar")):
        np.testing.assert_allclose(ours[key], theirs[i], rtol=0, atol=1e-6)
    # mir_eval refuses a silent estimate; we give it -inf and score the other one as if alone
    silent = bss_eval_sources(refs, np.stack([ests[0], np.zeros(3000)]))
    for i, key in enumerate(("sdr", "sir", "sar")):
        assert silent[key][1] == -np.inf
        np.testing.assert_allclose(silent[key][0], theirs[i][0], rtol=0, atol=1e-6)
    assert (bss_eval_sources(refs, np.zeros((2, 3000)))["sdr"] == -np.inf).all()
    with pytest.raises(ValueError, match="silent"):
        bss_eval_sources(np.stack([refs[0], np.zeros(3000)]), ests)


def test_discriminators_and_unet_shapes() -> None:
    make = lambda d: SpectrogramDiscriminator(d, BINS, FRAMES, filters=2)  # noqa: E731
    x = torch.rand(3, 2 * BINS * FRAMES)
    for variant in ("gan", "factorgan", "no-cp"):
        assert FactorDiscriminators.build(SOURCE_PARTS, variant, make).combined(x).shape == (3,)
    with pytest.raises(ValueError):
        UNet(height=100, width=128)


def test_fakes_are_made_once_per_batch_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every discriminator round of a training step gets the same batch object: its mixtures
    are separated once. Another batch, even at the same step number (validation passes 0),
    is separated anew."""
    from fugato.models.factorgan.separation import FactorGANSeparation

    task = FactorGANSeparation(build_config(tiny()))
    rng = np.random.default_rng(4)
    chorales = [(name, 0.1 * rng.standard_normal((2, 3 * FRAMES * 256)).astype(np.float32))
                for name in ("a", "b")]
    monkeypatch.setattr(task, "chorales", lambda split: chorales)
    train, _ = task.build_data()
    nets = task.build_nets()
    calls: list[str] = []
    for name, net in nets.items():
        if name.startswith("G:"):
            net.register_forward_hook(lambda *_, name=name: calls.append(name))
    cpu = torch.device("cpu")
    first = train.batch(torch.tensor([0, 1]), cpu)
    for _ in range(2):  # two discriminator rounds of one step
        task._discriminator_loss(nets, first, 0)
    assert sorted(calls) == ["G:factorgan/1", "G:gan/1"]
    fakes = dict(task._fakes)
    task._discriminator_loss(nets, train.batch(torch.tensor([2, 3]), cpu), 0)
    assert sorted(calls) == ["G:factorgan/1"] * 2 + ["G:gan/1"] * 2
    assert not torch.equal(fakes["factorgan/1"], task._fakes["factorgan/1"])


def test_chorale_stems_are_deterministic() -> None:
    from fugato.audio.chorales import chorale_files, chorale_stems, chorale_voices, render_stems

    (name, stems), = chorale_stems(1, seed=0, workers=1)
    again = chorale_stems(1, seed=0, workers=1)[0]  # now from the cache
    assert again[0] == name and np.array_equal(again[1], stems)
    path = next(p for p in chorale_files() if p.name == name)
    fresh = render_stems(chorale_voices(path))
    np.testing.assert_array_equal(fresh, render_stems(chorale_voices(path)))
    np.testing.assert_allclose(stems, fresh, atol=1e-3)  # cached as float16
    assert stems.shape[0] == 2 and stems.shape[1] > 22050 * 5
    assert np.abs(stems[0]).max() > 0.05 and np.abs(stems.sum(0)).max() < 1.0


def tiny() -> dict:
    return {
        "model": "factorgan-separation",
        "data": {"n_test": 1, "n_train": 2, "paired": [1], "workers": 1},
        "net": {"channels": 2, "depth": 4, "convs": 1, "max_channels": 4, "noise": 4,
                "disc_filters": 2},
        "train": {"max_steps": 3, "batch_size": 2, "grad_clip": 0.0, "log_every": 1,
                  "checkpoint_every": 3, "device": "cpu"},
        "sample": {"batch": 8, "plot_seconds": 1.0, "eval_seconds": 5.0},
    }


def test_tiny_run_trains_evaluates_and_separates(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    from fugato.cli import main
    from fugato.models.factorgan.separation import FactorGANSeparation
    from fugato.train import Trainer

    run = tmp_path / "run"
    Trainer(FactorGANSeparation(build_config(tiny())), run, quiet=True).fit()
    assert main(["eval", str(run), "--quiet"]) == 0
    results = json.loads((run / "eval.json").read_text())
    rows = results["separation"]
    assert {(r["model"], r["paired"]) for r in rows} == {("gan", 1), ("factorgan", 1)}
    assert all(np.isfinite(r["sdr_vocals"]) and np.isfinite(r["sdr_accompaniment"])
               for r in rows)
    ideal = results["references"]["ideal_ratio_mask"]
    assert ideal["sdr_vocals"] > 5 > results["references"]["half_mask"]["sdr_vocals"]
    # the reference's v4 (median over windows) under the plain names, fugato's v3 beside it
    assert all(set(r) >= {f"sdr_{kind}{stem}" for kind in ("", "v4_mean_", "v3_mean_",
                                                           "v3_median_")
                          for stem in ("vocals", "accompaniment")} for r in rows)
    assert ideal["sdr_v3_mean_vocals"] > 5 > results["references"]["half_mask"][
        "sdr_v3_mean_vocals"]
    # 5 s of one chorale, shorter than a 15-s window: one window, all of it
    assert results["sizes"]["sdr_windows"] == results["sizes"]["sdr_windows_scored"] == 1
    assert [len(x) for x in results["per_window"]["ideal"]] == [1]
    assert "BSS Eval v3" in (run / "report.md").read_text()
    assert (run / "plots" / "spectrograms-n1.png").stat().st_size > 0
    table = FactorGANSeparation.seeds_report(
        "chorales", {"table/factorgan/5/sdr_vocals": [3.0, 0.5],
                     "table/factorgan/5/sdr_accompaniment": [8.0, 0.25],
                     "table/factorgan/5/sdr_v3_mean_vocals": [1.5, 0.5],
                     "table/gan/25/sdr_vocals": [3.14159, 0.1234]}, 3)
    assert "| FactorGAN | 5 | 3 ± 0.5 | 8 ± 0.25 | 1.5 ± 0.5 |" in table
    assert "| GAN | 25 | 3.14 ± 0.12 |  |" in table  # 3 significant digits

    # any WAV: mono at 22.05 kHz, and stereo at another rate
    rng = np.random.default_rng(3)
    for name, rate, audio in (("mono", 22050, 0.3 * rng.standard_normal(30000)),
                              ("stereo", 16000, 0.3 * rng.standard_normal((2, 20000)))):
        wav = tmp_path / f"{name}.wav"
        write_audio(audio, wav, rate, float32=True)
        out = tmp_path / f"out-{name}"
        assert main(["separate", str(run), "--input", str(wav), "--out", str(out),
                     "--separator", "gan/1", "--quiet"]) == 0
        (vocals, r1), (accompaniment, r2) = (read_wav(out / f"{name}-{s}.wav")
                                             for s in ("vocals", "accompaniment"))
        mixture, _ = read_wav(wav)
        assert r1 == r2 == rate and vocals.shape == mixture.shape
        assert np.abs(vocals + accompaniment - mixture).max() < 1e-4
        assert np.abs(vocals).max() > 1e-3 and np.abs(accompaniment).max() > 1e-3

    capsys.readouterr()
    assert main(["separate", str(run), "--input", str(tmp_path / "missing.wav"), "--out",
                 str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.wav" in err and "Traceback" not in err
