"""IML two-stage on sequences: framing and overlap-add, the bar-to-bar transition features, the
shared stage 2 (whitening + HMM + GMM), and both systems end to end on tiny data (melodies:
train, fit, sample 16-bar MIDI read back by music21; audio: train, fit, write WAV read back by
soundfile)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from fugato.audio.frames import (
    frame_signal,
    n_frames,
    overlap_add,
    periodic_hann,
    window_sum,
)
from fugato.audio.wav import write_audio
from fugato.cli import main
from fugato.distributions.hmm import GaussianHMM
from fugato.metrics.mgeval import BAR_TRANSITION_FEATURES, bar_transition_evaluation
from fugato.metrics.separation import snr_db
from fugato.models.iml.melody import IMLMelody
from fugato.models.iml.sequences import SequenceBases
from fugato.music.encodings.measure import MeasureEncoding
from fugato.music.io import write_midi
from fugato.music.melody import TPQ, Melody, TimeSignature
from fugato.nn.conv_autoencoder import FrameAutoencoder
from fugato.samples import Samples
from fugato.train import load_run

ROOT = Path(__file__).parents[1]


def fugato(*args: str) -> None:
    """The command line, in this process."""
    assert main(list(args)) == 0, args


# -- framing and overlap-add -------------------------------------------------------------------
def test_periodic_hann_known_values_and_constant_overlap_sum() -> None:
    assert np.allclose(periodic_hann(4), [0.0, 0.5, 1.0, 0.5])
    # shifted by half its length the periodic window sums to exactly 1 (COLA)
    total = window_sum(6, 800, 400)
    assert np.allclose(total[400:-400], 1.0, atol=1e-12)
    assert not np.allclose(np.hanning(800)[:400] + np.hanning(800)[400:], 1.0)


def test_framing_then_overlap_add_reconstructs_exactly() -> None:
    x = np.random.default_rng(0).standard_normal(12345)
    frames = frame_signal(x)
    assert frames.shape == (n_frames(len(x)), 800) == (32, 800)
    # every real sample lies in two frames: the window sum is 1 on all of them, so a decoding
    # error is never divided by a window's tail
    total = window_sum(len(frames))[400 : 400 + len(x)]
    assert np.allclose(total, 1.0, atol=1e-12)
    # frame 1 covers samples 0..799 (one hop of padding in front), windowed
    assert np.allclose(frames[1], x[:800] * periodic_hann(800))
    assert np.max(np.abs(overlap_add(frames, length=len(x)) - x)) < 1e-12
    # batched, another frame/hop multiple
    y = np.random.default_rng(1).standard_normal((3, 1001))
    assert np.max(np.abs(overlap_add(frame_signal(y, 12, 4), 4, 1001) - y)) < 1e-12
    with pytest.raises(ValueError):
        frame_signal(x, 800, 300)


def test_overlap_add_normalises_by_the_window_sum() -> None:
    # all-ones frames (not windowed) come back as 1 / window_sum where windows overlap
    ones = np.ones((4, 8))
    out = overlap_add(ones, 4)
    assert np.allclose(out[: 3 * 4], 2.0)  # two unit frames over a window sum of 1


def test_snr_known_answer() -> None:
    x = np.ones(1000)
    assert snr_db(x, x + 0.1) == pytest.approx(20.0)
    assert snr_db(x, x * 0.0) == pytest.approx(0.0)


def test_write_audio_is_read_back(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    write_audio(0.5 * np.sin(2 * np.pi * 440 * t), tmp_path / "a.wav", 8000)
    audio, sr = soundfile.read(tmp_path / "a.wav")
    assert sr == 8000 and len(audio) == 8000
    assert np.max(np.abs(audio - 0.5 * np.sin(2 * np.pi * 440 * t))) < 1e-4


def test_frame_autoencoder_shapes() -> None:
    ae = FrameAutoencoder()
    x = torch.randn(3, 800)
    assert ae.encode(x).shape == (3, 80)
    assert ae(x).shape == (3, 800)
    with pytest.raises(ValueError):
        FrameAutoencoder(frame=810)


# -- bar-to-bar transition features ------------------------------------------------------------
def two_bars(second_pitch: int, second_notes: int = 4) -> Melody:
    step = 4 * TPQ // second_notes
    pitches = [60] * 4 + [second_pitch] * second_notes
    onsets = [i * TPQ for i in range(4)] + [4 * TPQ + i * step for i in range(second_notes)]
    durations = [TPQ] * 4 + [step] * second_notes
    return Melody(np.array(pitches), np.array(onsets), np.array(durations),
                  time_signatures=[TimeSignature(0, 4, 4)])


def test_bar_transition_features_known_answers() -> None:
    m = two_bars(64)  # C C C C | E E E E
    f = {name: fn(m)[0] for name, fn in BAR_TRANSITION_FEATURES.items()}
    assert f["bar_pitch_shift"] == pytest.approx(4.0)
    assert f["bar_pitch_class_change"] == pytest.approx(2.0)  # disjoint pitch classes
    assert f["bar_rhythm_change"] == pytest.approx(0.0)  # same onsets
    assert f["bar_density_change"] == pytest.approx(0.0)
    assert f["bar_line_interval"] == pytest.approx(4.0)
    m = two_bars(60, second_notes=8)  # quarters then eighths, same pitch
    f = {name: fn(m)[0] for name, fn in BAR_TRANSITION_FEATURES.items()}
    assert f["bar_pitch_shift"] == 0.0 and f["bar_pitch_class_change"] == 0.0
    assert f["bar_rhythm_change"] == pytest.approx(0.5)  # 4 shared of 8 onset positions
    assert f["bar_density_change"] == pytest.approx(4.0)


def test_bar_transition_evaluation_prefers_the_matching_set() -> None:
    rng = np.random.default_rng(0)
    smooth = [two_bars(60 + int(rng.integers(-2, 3))) for _ in range(30)]
    jumpy = [two_bars(60 + int(rng.choice([-12, 12])) + int(rng.integers(-2, 3)))
             for _ in range(30)]
    more_smooth = [two_bars(60 + int(rng.integers(-2, 3))) for _ in range(30)]
    near = bar_transition_evaluation(smooth, more_smooth)["bar_pitch_shift"]["overlap"]
    far = bar_transition_evaluation(smooth, jumpy)["bar_pitch_shift"]["overlap"]
    assert near > 0.5 > far


# -- stage 2 -----------------------------------------------------------------------------------
def sticky_sequences(n: int, length: int, seed: int) -> list[np.ndarray]:
    """Sequences from a 3-state chain that stays put 95% of the time, in 4-d."""
    hmm = GaussianHMM(3, 4)
    hmm.means.copy_(torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 1.0]]))
    hmm.variances.fill_(0.3)
    hmm.transmat.copy_(torch.full((3, 3), 0.025) + 0.925 * torch.eye(3))
    x, _ = hmm.sample(n, length, torch.Generator().manual_seed(seed))
    return list(x.numpy() * np.array([1.0, 2.0, 0.5, 1.0]) + np.array([5.0, 0, 0, -1]))


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_sequence_bases_hmm_beats_iid_gmm_on_sticky_sequences(covariance: str) -> None:
    bases = SequenceBases(states=3, components=3, hmm_covariance=covariance)
    bases.fit(sticky_sequences(60, 20, 0), seed=0, hmm_iter=30, gmm_iter=50)
    assert bases.hmm is not None and bases.hmm.covariance_type == covariance
    test = sticky_sequences(30, 20, 1)
    ll = bases.log_likelihood_per_code(test)
    # knowing the previous state narrows the next code: the state's entropy drops from
    # log 3 = 1.10 nats (i.i.d.) to H(0.95, 0.025, 0.025) = 0.23 nats
    assert ll["hmm"] > ll["gmm"] + 0.5
    # the same emissions without the chain lose that too, and are no better than the GMM
    assert ll["hmm"] > ll["hmm_iid"] + 0.5
    assert ll["hmm_iid"] < ll["gmm"] + 0.05
    codes = np.concatenate(test)
    assert np.allclose(bases.unwhiten(bases.whiten(codes)), codes)
    # the fitted parameters (and the covariance kind) survive the checkpoint's JSON round trip
    again = SequenceBases(3, 3, saved=json.loads(json.dumps(bases.saved_state())))
    assert again.hmm_covariance == covariance
    assert again.saved_state() == bases.saved_state()
    assert again.log_likelihood_per_code(test) == pytest.approx(ll)
    draws = bases.sample("hmm", 4, 10, torch.Generator().manual_seed(0))
    assert draws.shape == (4, 10, 4)
    assert bases.sample("gmm", 4, 10, torch.Generator().manual_seed(0)).shape == (4, 10, 4)


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tune_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 4/4 tunes of 18 bars from a few motifs (no music21 corpus build: fast)."""
    folder = tmp_path_factory.mktemp("tunes")
    rng = np.random.default_rng(0)
    enc = MeasureEncoding()
    motifs = []
    for _ in range(6):
        kind = rng.choice(3, size=24, p=[0.5, 0.1, 0.4])  # hold / rest / pitch
        pitch = enc.pitch_token(rng.integers(62, 76, size=24))
        tokens = np.where(kind == 2, pitch, kind)
        tokens[0] = pitch[0]
        motifs.append(tokens)
    for i in range(60):
        order = np.cumsum(rng.integers(0, 2, size=18)) % 6  # motifs in order, some repeated
        melody = enc.decode(np.stack([motifs[j] for j in order])).replace(
            time_signatures=[TimeSignature(0, 4, 4)])
        write_midi(melody, folder / f"tune{i:02d}.mid")
    return folder


MELODY_TINY = ["net.embed=4", "net.enc_hidden=16", "net.enc_layers=1", "net.enc_out=32",
               "net.z_dim=4", "net.dec_hidden=24", "net.dec_layers=1", "net.states=4",
               "net.components=4", "net.hmm_iter=10", "net.gmm_iter=10", "data.transpose=false",
               "train.max_steps=40", "train.batch_size=64", "train.lr=0.003",
               "train.log_every=10", "train.eval_every=40", "train.eval_batches=1",
               "train.checkpoint_every=40", "sample.eval_samples=8",
               "sample.temperature=1.0"]  # a 40-step model argmax-decodes mostly holds


def test_melody_system_trains_fits_samples_and_evaluates(tune_folder: Path,
                                                          tmp_path: Path) -> None:
    import music21

    run = tmp_path / "melody"
    sets = [*MELODY_TINY, f"data.corpora=['folder:{tune_folder}']"]
    fugato("train", str(ROOT / "configs" / "iml-melody-quick.toml"), "--run-dir", str(run),
           "--quiet", *[x for s in sets for x in ("--set", s)])
    loaded = load_run(run)
    assert isinstance(loaded.task, IMLMelody)
    assert loaded.task.bases.hmm is not None and loaded.task.bases.gmm is not None
    assert loaded.task.fit_info["train_codes"] > 100

    for generator in ("hmm", "gmm"):
        out = tmp_path / generator
        fugato("sample", str(run), "-n", "2", "--out", str(out), "--generator", generator,
               "--quiet")
        melody = melodies(loaded.sample(2, seed=0, generator=generator))[0]  # the CLI's
        assert melody.end <= 16 * 4 * TPQ and len(melody) > 0
        score = music21.converter.parse(str(out / "sample-000.mid"))
        assert {p.midi for p in score.flatten().pitches} == set(melody.pitches.tolist())
        assert score.highestTime <= 16 * 4
    # the same seed gives the same melodies
    a, b = melodies(loaded.sample(2, seed=3)), melodies(loaded.sample(2, seed=3))
    assert all(np.array_equal(x.pitches, y.pitches) for x, y in zip(a, b, strict=True))

    fugato("eval", str(run), "--quiet")
    results = json.loads((run / "eval.json").read_text())
    assert results["hmm_covariance"] == "full"  # what configs/iml-melody-quick.toml sets
    assert loaded.task.bases.hmm.covariance_type == "full"
    for key in ("hmm_test_loglik_per_code", "gmm_test_loglik_per_code",
                "hmm_iid_test_loglik_per_code"):
        assert np.isfinite(results[key])
    assert set(results["bar_transitions"]["hmm"]) == set(BAR_TRANSITION_FEATURES)
    check_transition_overlaps(loaded.task, results)
    assert (run / "plots" / "melodies.png").is_file()
    assert "Bar-to-bar transition features" in (run / "report.md").read_text()


def melodies(samples: Samples) -> list[Melody]:
    """What a melody model samples (always a list of `Melody`)."""
    assert isinstance(samples, list)
    return samples


def check_transition_overlaps(task: IMLMelody, results: dict) -> None:
    """eval.json's bar-transition overlaps are those of the 16-bar test excerpts against the
    sets the task draws (recomputed here from its public pieces), and the excerpts overlap
    themselves far more than a clearly different set: the same bars an octave apart, bar by
    bar, in turn."""
    bars, n = task.config.sample.bars, task.config.sample.eval_samples
    long = [r[:bars] for r in task.bar_sequences("test") if len(r) >= bars]
    reference = [task.to_melody(r, "test") for r in long]
    recon = task.decode(task.encode(np.concatenate(long))).reshape(len(long), bars, -1)
    sets = {base: [task.to_melody(b, base) for b in task.sample_bars(n, 0, base)]
            for base in ("hmm", "gmm")}
    sets["autoencoder"] = [task.to_melody(b, "recon") for b in recon]

    def mean_overlap(generated: list[Melody]) -> float:
        found = bar_transition_evaluation(reference, generated)
        return float(np.mean([v["overlap"] for v in found.values()]))

    for name, generated in sets.items():
        assert results["bar_transition_overlap"][name] == mean_overlap(generated), name
    leaping = [m.replace(pitches=m.pitches + 12 * ((m.onsets // (4 * TPQ)) % 2))
               for m in reference]
    assert mean_overlap(reference) > mean_overlap(leaping) + 0.2


def test_audio_system_trains_and_writes_wav_soundfile_reads(tune_folder: Path,
                                                             tmp_path: Path) -> None:
    run = tmp_path / "audio"
    sets = [f"data.corpus='folder:{tune_folder}'", "data.train_seconds=6.0",
            "data.valid_seconds=1.0", "data.test_seconds=2.0", "data.max_tune_seconds=2.0",
            "net.latent=8", "net.channels=[4, 8, 8]", "net.states=3", "net.components=2",
            "net.hmm_iter=5", "net.gmm_iter=5", "train.max_steps=30", "train.batch_size=16",
            "train.log_every=10", "train.eval_every=30", "train.eval_batches=1",
            "train.checkpoint_every=30", "sample.seconds=1.0", "sample.eval_samples=1"]
    fugato("train", str(ROOT / "configs" / "iml-audio-quick.toml"), "--run-dir", str(run),
           "--quiet", *[x for s in sets for x in ("--set", s)])
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    assert any("frame_snr_db" in r for r in records)

    out = tmp_path / "wavs"
    fugato("sample", str(run), "-n", "2", "--out", str(out), "--quiet")
    audio, sr = soundfile.read(out / "sample-001.wav")
    assert sr == 8000 and len(audio) == 8000
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0
    assert (out / "sample-spectrograms.png").is_file()

    fugato("eval", str(run), "--quiet")
    results = json.loads((run / "eval.json").read_text())
    assert np.isfinite(results["test_recon_snr_db"])
    assert np.isfinite(results["hmm_test_loglik_per_code"])
    assert results["train_seconds"] >= 6.0
    for base in ("hmm", "gmm"):
        wav = run / results["wavs"][base][0]["file"]
        assert soundfile.info(str(wav)).samplerate == 8000
    assert (run / "plots" / "spectrograms.png").is_file()
