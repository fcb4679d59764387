"""Dual music-dance: the transformer seq2seq, the losses, chroma -> melody, and a tiny run end to
end through the command line (train, eval, choreograph, compose) on 5 real dances x 6 s."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_dance import CONFIG, TANG, TINY, needs_tang, train_tiny

from fugato.config import load_config
from fugato.errors import FugatoError
from fugato.models.dualdance.task import (
    DualDance,
    chord_index,
    chord_indices,
    dance_terms,
    gw_term,
    music_terms,
    root_position,
    root_velocity,
)
from fugato.motion.representation import DANCE_ROT6D, DANCE_TRANS, encode_dance
from fugato.motion.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from fugato.music.chroma import beat_peaks, chroma_to_melody
from fugato.music.melody import TPQ
from fugato.nn.transformer import Seq2Seq
from fugato.samples import Dances


def _random_dance(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random dance frames (*shape, 147): 24 random rotations as 6D + a translation."""
    poses = rng.normal(0, 0.7, (*shape, 24, 3))
    return encode_dance(poses, rng.normal(0, 0.3, (*shape, 3))).astype(np.float32)


def _random_music(rng: np.random.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """Random music features (*shape, 53): MFCC-like normals, chroma in [0, 1], 0/1 beats."""
    music = rng.normal(size=(*shape, 53))
    music[..., 40:52] = rng.uniform(size=(*shape, 12))
    music[..., 52] = rng.uniform(size=shape) < 0.1
    return torch.as_tensor(music.astype(np.float32))


# -- the seq2seq net ------------------------------------------------------------------------------
def test_decoder_is_causal_and_generation_matches_teacher_forcing() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(5, 7, 3, d_model=16, heads=2, enc_layers=1, dec_layers=2, ff=32,
                  dropout=0.0, max_len=20, positions="learned", seed_dim=4).eval()
    x, start = torch.randn(3, 20, 5), torch.randn(3, 3)
    target, seed = torch.randn(3, 20, 7), torch.randn(3, 4)
    out, memory = net(x, start, target, seed)
    assert out.shape == (3, 20, 7) and memory.shape == (3, 20, 16)
    for t in (0, 9, 18):
        changed = target.clone()
        changed[:, t:] += 5.0  # target frames t and later: output t sees frames < t only
        again, _ = net(x, start, changed, seed)
        torch.testing.assert_close(again[:, :t + 1], out[:, :t + 1])
        assert not torch.allclose(again[:, t + 1:], out[:, t + 1:])
    # the encoder has full attention: output 0 depends on the last input frame
    later = x.clone()
    later[:, -1] += 5.0
    assert not torch.allclose(net(later, start, target, seed)[0][:, 0], out[:, 0])
    # free-running generation is teacher forcing on its own outputs; the seed matters
    generated = net.generate(x, start, seed=seed)
    torch.testing.assert_close(net(x, start, generated, seed)[0], generated)
    assert not torch.allclose(net.generate(x, start, seed=seed + 1), generated)
    assert net.generate(x, start, length=4, seed=seed).shape == (3, 4, 7)


def test_scheduled_sampling_feeds_back_own_predictions() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(5, 7, 3, d_model=16, heads=2, enc_layers=1, dec_layers=2, ff=32,
                  dropout=0.0, max_len=12, seed_dim=4).eval()
    x, start = torch.randn(3, 12, 5), torch.randn(3, 3)
    target, seed = torch.randn(3, 12, 7), torch.randn(3, 4)
    forced, _ = net(x, start, target, seed)
    torch.testing.assert_close(net(x, start, target, seed, feedback=0.0)[0], forced)
    # every previous frame its own prediction, passes = length: exactly free-running
    free, _ = net(x, start, target, seed, feedback=1.0, passes=12)
    torch.testing.assert_close(free, net.generate(x, start, seed=seed))
    assert not torch.allclose(free, forced)
    # the graded pass keeps its gradient
    out, _ = net(x, start, target, seed, feedback=0.5)
    out.sum().backward()
    assert all(p.grad is not None for p in net.decoder.parameters())


def test_statistics_standardise_inputs_and_sigmoid_outputs() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(4, 2, 2, d_model=8, heads=2, enc_layers=1, dec_layers=1, ff=16, dropout=0.0,
                  max_len=6, seed_dim=0, output_activation="sigmoid").eval()
    x = torch.randn(2, 6, 4)
    memory = net.encode(x)
    net.set_statistics("input", torch.full((4,), 10.0), torch.full((4,), 3.0))
    torch.testing.assert_close(net.encode(x * 3.0 + 10.0), memory)
    out = net.generate(x, torch.randn(2, 2))
    assert ((out > 0) & (out < 1)).all()
    with pytest.raises(ValueError, match="max_len"):
        net.encode(torch.randn(1, 7, 4))


# -- losses ---------------------------------------------------------------------------------------
def test_dance_loss_zero_for_identical_rotations_positive_otherwise() -> None:
    rng = np.random.default_rng(0)
    dance = torch.as_tensor(_random_dance(rng, (4, 10)))
    trans, rot = dance_terms(dance, dance)
    assert float(trans) == 0.0 and float(rot) < 1e-10
    # a 6D scaled by 2 is the same rotation (Gram-Schmidt); a translation shift is pure L1
    scaled = dance.clone()
    scaled[..., DANCE_ROT6D] *= 2.0
    scaled[..., DANCE_TRANS] += 0.1
    trans, rot = dance_terms(scaled, dance)
    assert float(rot) < 1e-10 and float(trans) == pytest.approx(0.1, abs=1e-6)
    other = torch.as_tensor(_random_dance(rng, (4, 10)))
    trans, rot = dance_terms(other, dance)
    assert float(rot) > 0.1 and float(trans) > 0
    # one joint turned by 0.5 rad in every frame: mean squared angle 0.25 / 24
    mats = axis_angle_to_matrix(rng.normal(0, 0.7, (4, 10, 24, 3)))
    turned = mats.copy()
    turned[..., 3, :, :] = mats[..., 3, :, :] @ axis_angle_to_matrix(np.array([0.0, 0.5, 0.0]))
    still = np.zeros((4, 10, 3))

    def frames(m: np.ndarray) -> torch.Tensor:
        six = matrix_to_rotation_6d(m).reshape(4, 10, 144)
        return torch.as_tensor(np.concatenate([six, still], -1), dtype=torch.float32)

    assert float(dance_terms(frames(turned), frames(mats))[1]) == pytest.approx(0.25 / 24,
                                                                                rel=1e-3)
    # music terms: L1 of chroma and beat columns
    music = torch.zeros(2, 5, 53)
    composed = torch.full((2, 5, 13), 0.5)
    chroma, beat = music_terms(composed, music)
    assert float(chroma) == pytest.approx(0.5) and float(beat) == pytest.approx(0.5)
    # weighted cross-entropy: a beat frame counts pos_weight times
    music[0, 0, 52] = 1.0
    _, beat = music_terms(composed, music, beat_pos_weight=9.0)
    assert float(beat) == pytest.approx(math.log(2) * (9 + 9) / 10)


def test_root_velocity_round_trip() -> None:
    rng = np.random.default_rng(3)
    dance = _random_dance(rng, (2, 6))
    steps = root_velocity(dance)
    np.testing.assert_allclose(steps[:, 1:, 144], np.diff(dance[..., 144], axis=1), atol=1e-6)
    np.testing.assert_array_equal(steps[..., 145], dance[..., 145])  # height stays as it is
    np.testing.assert_array_equal(steps[:, 0], dance[:, 0])
    np.testing.assert_allclose(root_position(steps), dance, atol=1e-6)
    torch.testing.assert_close(root_position(root_velocity(torch.as_tensor(dance))),
                               torch.as_tensor(dance))


def _tiny_task(*overrides: str) -> DualDance:
    return DualDance(load_config(CONFIG, TINY + list(overrides)))


def test_gw_gradient_reaches_the_music_encoder_only() -> None:
    torch.manual_seed(0)
    task = _tiny_task("net.trans_weight=0", "net.rot_weight=0", "net.cycle_weight=0")
    nets = task.build_nets()
    rng = np.random.default_rng(1)
    music = _random_music(rng, (6, 75))
    dance = torch.as_tensor(_random_dance(rng, (6, 75)))
    chords = torch.eye(24)[:6]
    loss, logs = task.loss_music_to_dance(nets, (music, dance, chords))
    assert loss.item() == pytest.approx(logs["gw"]) and logs["gw"] > 0
    loss.backward()
    grads = {name: [p.grad for p in net.parameters()] for name, net in nets.items()}
    assert all(g is None for g in grads["g_dm"])  # the dance encoder: detached
    g_md = nets["g_md"]
    assert isinstance(g_md, Seq2Seq)
    encoder = [p.grad for p in g_md.encoder.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in encoder)
    # the decoder's terms are weighted 0 here: nothing of the GW term reaches it
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in g_md.decoder.parameters())
    # directly: gradient to the music side, none to the dance side
    m = torch.randn(8, 5, 4, requires_grad=True)
    d = torch.randn(8, 5, 4, requires_grad=True)
    gw_term(m, d, task.config.net).backward()
    assert m.grad is not None and m.grad.abs().sum() > 0 and d.grad is None


def test_switches_turn_terms_off_and_both_steps_train_both_nets() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    batch = (_random_music(rng, (4, 75)), torch.as_tensor(_random_dance(rng, (4, 75))),
             torch.eye(24)[:4])
    off = _tiny_task("net.gw_weight=0", "net.cycle_weight=0")
    nets = off.build_nets()
    _, logs = off.loss_music_to_dance(nets, batch)
    assert "gw" not in logs and "cycle_music" not in logs
    assert "cycle_dance" not in off.loss_dance_to_music(nets, batch)[1]
    on = _tiny_task()
    nets = on.build_nets()
    assert {"gw", "cycle_music", "cycle_dance"} <= set(on.validate(nets, batch))


def _gradients(nets: dict[str, torch.nn.Module]) -> dict[str, float]:
    """Per net, the sum of the absolute gradients of its parameters (None counts 0)."""
    return {name: sum(float(p.grad.abs().sum()) for p in net.parameters() if p.grad is not None)
            for name, net in nets.items()}


@pytest.mark.parametrize(("cycle", "direct_off", "outer", "inner"), [
    ("music", ("net.trans_weight=0", "net.rot_weight=0", "net.gw_weight=0"), "g_dm", "g_md"),
    ("dance", ("net.chroma_weight=0", "net.beat_weight=0"), "g_md", "g_dm"),
])
def test_each_cycle_trains_the_net_the_paper_routes_it_to(cycle: str, direct_off: tuple[str, ...],
                                                         outer: str, inner: str) -> None:
    """With the direct terms weighted 0, a cycle's loss alone: under the paper's routing (the
    update rule after eq. 10) the music cycle M -> g_md -> g_dm -> M'' trains g_dm only and the
    dance cycle D -> g_dm -> g_md -> D'' g_md only, the inner net getting exactly 0; "both"
    reaches the inner net too. Fails if the cycle's path to its outer net is cut (the outer
    net gets nothing) or the paper's detach is dropped (the inner net gets something)."""
    rng = np.random.default_rng(4)
    batch = (_random_music(rng, (4, 75)), torch.as_tensor(_random_dance(rng, (4, 75))),
             torch.eye(24)[:4])
    for routing in ("paper", "both"):
        task = _tiny_task(*direct_off, f"net.cycle_routing='{routing}'")
        torch.manual_seed(0)
        nets = task.build_nets()
        loss_fn = task.loss_music_to_dance if cycle == "music" else task.loss_dance_to_music
        loss, logs = loss_fn(nets, batch, step=5)
        assert loss.item() == pytest.approx(logs[f"cycle_{cycle}"]) and loss.item() > 0
        loss.backward()
        grads = _gradients(nets)
        assert grads[outer] > 0, routing
        if routing == "paper":
            assert grads[inner] == 0.0
        else:
            assert grads[inner] > 0


@pytest.mark.parametrize("cycle", ["music", "dance"])
def test_the_cycle_passes_use_scheduled_sampling(cycle: str) -> None:
    """With `cycle_feedback` the cycle's outer pass decodes from a mix of true frames and its
    own predictions (the direct pass's schedule), so at a training step with feedback its
    output differs from the teacher-forced one of the same weights, the direct pass being the
    same (same random stream; no dropout, zero seed vectors). Fails if the cycle pass is
    teacher-forced whatever the option."""
    rng = np.random.default_rng(5)
    batch = (_random_music(rng, (4, 75)), torch.as_tensor(_random_dance(rng, (4, 75))),
             torch.eye(24)[:4])
    torch.manual_seed(0)
    nets = _tiny_task().build_nets()
    direct, key = ("dance_recon", "cycle_music") if cycle == "music" else ("music_recon",
                                                                          "cycle_dance")
    logs = {}
    for feedback in ("true", "false", "false"):
        task = _tiny_task("net.dropout=0", f"net.cycle_feedback={feedback}")
        assert task._feedback(10) == 0.5
        loss_fn = task.loss_music_to_dance if cycle == "music" else task.loss_dance_to_music
        torch.manual_seed(1)
        with torch.no_grad():
            logs.setdefault(feedback, []).append(loss_fn(nets, batch, step=10,
                                                         fixed_seed=True)[1])
    on, off, again = logs["true"][0], logs["false"][0], logs["false"][1]
    assert off == again  # deterministic: a difference below is the feedback's
    assert on[direct] == off[direct]
    assert abs(on[key] - off[key]) > 1e-3 * abs(off[key])


def test_sums_weigh_the_terms_as_eq_7_and_9() -> None:
    """`loss_reduction = "sum"`: every term summed over a window's frames and components
    (eq. 7, 9) and averaged over windows, so a joint's rotation weighs as much as a translation
    coordinate and a chroma bin as much as the beat; "mean" divides each by its own count."""
    rng = np.random.default_rng(6)
    b, t = 3, 10
    dance = torch.as_tensor(_random_dance(rng, (b, t)))
    other = torch.as_tensor(_random_dance(rng, (b, t)))
    for mean, total, count in zip(dance_terms(other, dance), dance_terms(other, dance, "sum"),
                                  (t * 3, t * 24), strict=True):
        assert float(total) == pytest.approx(float(mean) * count, rel=1e-5)
    music = _random_music(rng, (b, t))
    composed = torch.rand(b, t, 13)
    for pos_weight in (None, 9.0):
        for mean, total, count in zip(music_terms(composed, music, pos_weight),
                                      music_terms(composed, music, pos_weight, "sum"),
                                      (t * 12, t), strict=True):
            assert float(total) == pytest.approx(float(mean) * count, rel=1e-5)
    # one window, every frame 0.1 m off in x and one joint 0.5 rad off: eq. 7 gives
    # t * (0.1 + 0.25) whatever the other joints, the mean 0.1 / 3 + 0.25 / 24
    mats = axis_angle_to_matrix(rng.normal(0, 0.7, (1, t, 24, 3)))
    turned = mats.copy()
    turned[..., 3, :, :] = mats[..., 3, :, :] @ axis_angle_to_matrix(np.array([0.5, 0.0, 0.0]))
    trans = np.zeros((1, t, 3))

    def frames(m: np.ndarray, shift: float) -> torch.Tensor:
        six = matrix_to_rotation_6d(m).reshape(1, t, 144)
        return torch.as_tensor(np.concatenate([six, trans + [shift, 0, 0]], -1),
                               dtype=torch.float32)

    a, b_ = frames(turned, 0.1), frames(mats, 0.0)
    assert float(sum(dance_terms(a, b_, "sum"))) == pytest.approx(t * 0.35, rel=1e-3)
    assert float(sum(dance_terms(a, b_))) == pytest.approx(0.1 / 3 + 0.25 / 24, rel=1e-3)


def test_runs_saved_before_the_cycle_options_load_with_the_old_method() -> None:
    """A saved config without the new keys (the golden fixture's) gets the former behaviour
    (`DualDance.SAVED_DEFAULTS`); a new config the paper's."""
    from fugato.config import build_config

    fixture = Path(__file__).parent / "fixtures" / "runs" / "dualdance" / "config.toml"
    import tomllib

    raw = tomllib.loads(fixture.read_text())
    assert "cycle_routing" not in raw["net"]
    old = build_config(raw, saved=True).net
    assert (old.cycle_feedback, old.cycle_routing, old.loss_reduction) == (False, "both", "mean")
    new = build_config(raw).net
    assert (new.cycle_feedback, new.cycle_routing, new.loss_reduction) == (True, "paper", "sum")
    for bad in ("net.cycle_routing='g_md'", "net.loss_reduction='median'"):
        with pytest.raises(FugatoError, match=bad.split("=")[0].split(".")[1]):
            _tiny_task(bad)


# -- chords and chroma -> melody ------------------------------------------------------------------
def test_chords_from_chroma_and_names() -> None:
    chroma = np.zeros((2, 30, 12))
    chroma[0, :, [0, 4, 7]] = 1.0  # C major triad
    chroma[1, :, [9, 0, 4]] = 1.0  # A minor triad
    assert chord_indices(chroma).tolist() == [0, 21]
    assert chord_index("C major") == 0 and chord_index("a minor") == 21
    assert chord_index("F#") == 6
    with pytest.raises(FugatoError, match="chord"):
        chord_index("H dorian")


def test_chroma_to_melody_one_note_per_beat_in_octaves_four_and_five() -> None:
    t = 100
    chroma = np.zeros((t, 12))
    chroma[:50, 0] = 1.0   # C, then G, then B
    chroma[50:75, 7] = 1.0
    chroma[75:, 11] = 1.0
    activation = np.zeros(t)
    beats = np.arange(0, t, 25)  # 60 BPM at 25 fps
    activation[beats] = 0.9
    activation[beats[1:] - 1] = 0.4  # below the threshold
    np.testing.assert_array_equal(beat_peaks(activation, 0.5), beats)
    melody = chroma_to_melody(chroma, beat_peaks(activation, 0.5))
    assert melody.tempo == pytest.approx(60.0)
    assert melody.pitches.tolist() == [72, 72, 67, 71]  # C5 from the middle, then nearest
    assert melody.onsets.tolist() == [0, TPQ, 2 * TPQ, 3 * TPQ]
    assert melody.durations.tolist() == [TPQ] * 4
    assert ((melody.pitches >= 60) & (melody.pitches < 84)).all()
    # without beats: one note per change of the strongest pitch class, at 120 BPM
    plain = chroma_to_melody(chroma, None)
    assert plain.pitches.tolist() == [72, 67, 71]
    assert plain.onsets.tolist() == [0, 4 * TPQ, 6 * TPQ]
    # a flicker shorter than min_frames joins the note before it
    flicker = chroma.copy()
    flicker[20:22] = 0.0
    flicker[20:22, 5] = 1.0
    assert chroma_to_melody(flicker, None).pitches.tolist() == [72, 67, 71]
    assert len(chroma_to_melody(np.zeros((0, 12)))) == 0


# -- a tiny run end to end ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("dualdance") / "run")


@needs_tang
def test_tiny_run_trains_evaluates_and_samples(tiny_run: Path) -> None:
    from fugato.cli import main
    from fugato.train import load_run

    records = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 10 and any(r["split"] == "valid" for r in records)
    assert all(math.isfinite(r["loss_md"]) for r in records if r["split"] == "train")
    assert main(["eval", str(tiny_run), "--quiet", "--device", "cpu"]) == 0
    results = json.loads((tiny_run / "eval.json").read_text())
    for key in ("frechet", "diversity", "beat_alignment", "beat_align_score", "notes_accuracy",
                "ground_truth_beat_alignment"):
        assert isinstance(results[key], float) and math.isfinite(results[key]), key
    assert 0 <= results["beat_alignment"] <= 1 and 0 <= results["notes_accuracy"] <= 1
    # a constant chroma names the tonic: better than 1 in 12, short of every frame
    assert 1 / 12 < results["notes_accuracy_constant"] < 1
    assert results["generated_nan"] == 0
    assert results["bone_length_error"] < 1e-6  # positions are FK of rotations
    assert results["test_dances"] == ["DANCE_C_4"]
    for png in ("training.png", "dance-generated.png", "dance-real.png"):
        assert (tiny_run / "plots" / png).stat().st_size > 0
    assert "| frechet |" in (tiny_run / "report.md").read_text()
    run = load_run(tiny_run, device="cpu")
    dances = run.sample(3, seed=1)
    assert isinstance(dances, Dances) and len(dances) == 3
    assert dances.frames.shape == (3, 75, 147) and np.isfinite(dances.frames).all()
    again = run.sample(3, seed=1)
    assert isinstance(again, Dances)
    np.testing.assert_array_equal(again.frames, dances.frames)
    out = tiny_run / "samples"
    assert main(["sample", str(tiny_run), "-n", "2", "--out", str(out), "--quiet",
                 "--device", "cpu"]) == 0
    from fugato.motion.bvh import read_bvh

    assert len(read_bvh(out / "sample-001.bvh").motion) == 75
    assert (out / "sample-001.png").stat().st_size > 0


@needs_tang
def test_choreograph_writes_a_bvh_and_compose_a_midi(tiny_run: Path, tmp_path: Path) -> None:
    import music21

    from fugato.cli import main
    from fugato.motion.bvh import read_bvh
    from fugato.motion.representation import dance_positions
    from fugato.motion.skeleton import bone_lengths, rest_positions

    out = tmp_path / "out"
    assert main(["dance", "choreograph", str(tiny_run), "--music", str(TANG / "DANCE_C_4.mp3"),
                 "--seconds", "4", "--out", str(out), "--quiet"]) == 0
    bvh = read_bvh(out / "DANCE_C_4.bvh")
    frames = np.load(out / "DANCE_C_4-dance.npy")
    assert len(bvh.motion) == len(frames) and 95 <= len(frames) <= 102  # 4 s at 25 fps
    assert np.isfinite(frames).all()
    lengths = bone_lengths(dance_positions(frames))
    np.testing.assert_allclose(lengths, np.broadcast_to(bone_lengths(rest_positions()),
                                                        lengths.shape), atol=1e-6)
    assert (out / "DANCE_C_4.gif").stat().st_size > 0 and (out / "DANCE_C_4.png").is_file()

    assert main(["dance", "compose", str(tiny_run), "--motion", str(TANG / "DANCE_C_4.npz"),
                 "--seconds", "4", "--chord", "a minor", "--out", str(out), "--quiet"]) == 0
    composed = np.load(out / "DANCE_C_4-music.npy")
    assert composed.shape == (100, 13) and ((composed >= 0) & (composed <= 1)).all()
    score = music21.converter.parse(str(out / "DANCE_C_4.mid"))
    notes = list(score.flatten().notes)
    assert notes and all(isinstance(n, music21.note.Note) and 60 <= n.pitch.midi < 84
                         for n in notes)

    # bad input: one line, exit code 2
    assert main(["dance", "compose", str(tiny_run), "--motion", str(tmp_path / "no.npz"),
                 "--out", str(out), "--quiet"]) == 2
    assert main(["dance", "compose", str(tiny_run), "--motion", str(TANG / "DANCE_C_4.npz"),
                 "--chord", "H dorian", "--out", str(out), "--quiet"]) == 2


def test_music_features_and_dances_share_one_frame_rate() -> None:
    """The nets pair music frame k with dance frame k: both must be 25 fps, and the metrics'
    frame-based defaults assume the same rate."""
    from fugato.audio import features
    from fugato.metrics import dance
    from fugato.motion import representation

    assert features.FPS == representation.FPS == dance.FPS == 25
    assert features.HOP * features.FPS == features.SAMPLE_RATE
