"""Dual music-dance (Wu, Liu, Lu, Cheng, ACM MM 2021): music -> dance and dance -> music.

Two `fugato.nn.transformer.Seq2Seq` nets on 75-frame windows (3 s at 25 fps) of the Tang 2018
ballroom set (`fugato.motion.dataset`), trained jointly:

- `g_md` (G_M->D): music features (T, 53) -> dance frames (T, 147) = 24 joints x 6D rotation +
  root translation. Start token: the window's initial pose (its first dance frame), which the
  net learns to reproduce as output 0 and to continue from.
- `g_dm` (G_D->M): dance frames (T, 147) -> (T, 13) = 12 chroma + 1 beat, both in [0, 1]
  (sigmoid outputs). The MFCCs and their deltas (40 of the 53 columns) describe timbre, which
  no melody carries, and are not reconstructed. Start token: a chord root and quality, a
  24-way one-hot (12 roots x {major, minor}: the best Krumhansl-Kessler key template,
  `fugato.music.keys.histogram_key_correlations`, of the chroma summed over the window's first
  `net.chord_frames` frames, 1 s).
- `g_md` writes the root's floor-plane translation as per-frame steps (`net.root`,
  `root_velocity`), summed into positions before every loss, so that feeding back its own
  frames does not feed back where the dancer stands; the paper's losses see positions.
- Both direct reconstruction passes use parallel scheduled sampling (`net.feedback`,
  `Seq2Seq.forward`): teacher forcing alone left free-running dances 0.7 m off by frame 10
  (1 m by frame 25) while teacher-forced ones were 2-3 cm off (400 steps, quick config).
- Both decoders add a random seed vector (N(0, I), `net.seed_dim`) to their inputs, so that
  the same music with the same start pose can give different dances (`Seq2Seq` docstring).

Losses (`loss_reduction`): by default ("sum") the paper's per-window sums, eq. 7 over the frames,
translation coordinates and joints, eq. 9 over the frames, chroma bins and beat, averaged over
the batch's windows (eq. 6 and 10 sum over them: a constant factor); "mean" (runs saved before
the option) takes each term's mean over all its elements, which weighs a frame's translation
8x a joint's rotation (3 coordinates against 24 joints) and the beat 12x a chroma bin:

- dance reconstruction: `trans_weight` * L1 of the root translation + `rot_weight` * the
  squared geodesic angle between predicted and true joint rotations (predicted 6D -> rotation
  matrix by Gram-Schmidt, `rotation_6d_to_matrix_torch`);
- music reconstruction: `chroma_weight` * L1 of the chroma + `beat_weight` * the beat term:
  the paper's L1 (`beat_loss = "l1"`) or, by default, binary cross-entropy with the positive
  frames weighted by the training set's ratio of non-beat to beat frames (`"bce"`). Beats fall
  on ~1 frame in 12, and the L1 minimiser of a 0/1 target that is 1 less than half the time is
  0: under L1 the composed beat column collapses to zero (measured: no composed beat at all);
- cycles (`cycle_weight`, 0 = off), eq. 10: music -> dance -> music compares the chroma and
  beat that `g_dm` writes from `g_md`'s dance with the true ones; dance -> music -> dance feeds
  `g_md` the true music features with their chroma and beat columns replaced by `g_dm`'s
  composition (the MFCC columns, which `g_dm` does not write, stay the true ones) and compares
  the dance it writes with the true dance. The inner net's output is that of its direct pass
  (one parallel pass with scheduled sampling; free-running generation inside a training step
  would cost 75 decoder passes). The outer pass uses the direct passes' scheduled sampling
  (`cycle_feedback`; off, as in runs saved before the option, it was teacher-forced, so that
  with cycle_weight 1 each net got a second loss of equal weight without it). Which net a
  cycle trains (`cycle_routing`): the paper (Sec. 3.4, the update rule after eq. 10,
  "L^GW + L^reconstruction_dance + L^cycle_dance -> G_M->D, L^reconstruction_music +
  L^cycle_music -> G_D->M") sends the dance cycle's gradient to G_M->D only and the music
  cycle's to G_D->M only: each cycle trains its outer net, the inner net's output detached
  ("paper", default); "both" lets it flow through both nets (runs saved before the option;
  with it the composed beat count fell from 7.4 to 3.9 when the cycles were turned on (issue
  31), consistent with g_dm learning to compose what g_md reads best);
- Gromov-Wasserstein (`gw_weight`, 0 = off): entropic GW (`gw_epsilon`; 20 outer and 30
  Sinkhorn iterations) between the batch's music embeddings (`g_md`'s encoder memory,
  mean-pooled over time) and dance embeddings (`g_dm`'s encoder memory, mean-pooled), through
  their L1 intra-space distances (eq. 5) normalised into [0, 1] (`gw_normalise`). The dance
  embeddings are computed without gradient (detached), so the term updates the music encoder
  only, aligning the music space to the dance space as the paper does ("updates the music
  encoder network parameters Enc_M->D", after Algorithm 1). With the paper's epsilon 0.2 on
  max-normalised distances (the dataclass defaults, runs saved before `gw_normalise` and
  `gw_solver`) the plan stays at the independent coupling: on an exact isometry of 32 x 64
  embeddings it puts 0.032 of its mass on the true pairs (1/32 = independence) and is blind to
  which window matches which. configs/dualdance-paper.toml uses range-normalised distances,
  log-domain Sinkhorn and epsilon 0.005, which find that match (>= 0.98 of the mass at 32 x 64
  and 64 x 256; tests/test_gromov_wasserstein_match.py).

Training runs two `Step`s on every batch with the one optimizer "main", each using each net
once with gradient (DDP-safe): "music->dance->music" (dance reconstruction + GW, which train
g_md, + music cycle, which trains g_dm under the paper's routing; the detached dance embedding
runs the unwrapped dance encoder under no_grad) and "dance->music->dance" (music reconstruction,
training g_dm, + dance cycle, training g_md). Inputs are standardised inside the
nets with training-set statistics (buffers, saved in the checkpoint).

Data are split by dance (`DanceDataset.split`): no test window's dance or music was seen in
training. `evaluate` (`fugato.models.dualdance.evaluate`) measures on the test dances'
windows; `choreograph` and `compose` (`fugato.models.dualdance.tools`) chain windows for whole
songs and motions (the commands `fugato dance choreograph` / `compose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from fugato.audio.features import BEAT, CHROMA, N_FEATURES
from fugato.config import ExperimentConfig
from fugato.errors import FugatoError
from fugato.losses.gromov_wasserstein import gromov_wasserstein_loss
from fugato.motion.dataset import WINDOW
from fugato.motion.representation import DANCE_DIM, DANCE_ROT6D, DANCE_TRANS
from fugato.motion.rotations import geodesic_distance_torch, rotation_6d_to_matrix_torch
from fugato.motion.skeleton import N_JOINTS
from fugato.nn.batched import batched
from fugato.nn.transformer import Seq2Seq
from fugato.report import Evaluation
from fugato.samples import Dances
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, Sampler, Step, Task, TensorData
from fugato.train.trainer import unwrap

MUSIC_OUT = slice(CHROMA.start, BEAT.stop)
"""The columns of the music features that `g_dm` writes: chroma (12) and beat (1)."""
N_MUSIC_OUT = MUSIC_OUT.stop - MUSIC_OUT.start  # 13
FLOOR_PLANE = [DANCE_TRANS.start, DANCE_TRANS.start + 2]
"""The dance frame columns of the root's x and z (floor plane), reset to 0 at a window start."""
N_CHORDS = 24
"""Start tokens of `g_dm`: major C..B (0..11), then minor C..B (12..23)."""
CYCLE_ROUTINGS = ("paper", "both")
GW_NORMALISE = ("max", "range", "none")
GW_SOLVERS = ("scaled", "log")
LOSS_REDUCTIONS = ("sum", "mean")


@dataclass
class DataConfig:
    folder: str | None = None
    """The Tang 2018 folder (default: `dance_tang2018/` in the shared data folder)."""
    names: list[str] | None = None
    """Only these dances (e.g. ["DANCE_C_1", ...]); None: all. The split is by dance."""
    max_seconds: float | None = None
    """Only the first seconds of every dance and its music (quick runs, tests); None: all."""
    split_seed: int = 0
    workers: int = 2
    """Processes that compute music features for dances not yet in the cache."""
    max_skipped: float = 0.5
    """The largest fraction of the dances that may fail to load before training refuses."""
    window: int = WINDOW
    train_stride: int = WINDOW
    """Frames between training windows (smaller than `window`: overlapping windows)."""
    eval_stride: int = WINDOW
    """Frames between validation and test windows."""
    max_train_windows: int | None = None
    """At most this many training windows (a seeded subset); None: all."""


@dataclass
class NetConfig:
    """Both nets' sizes and the loss weights (they define the model being trained)."""

    d_model: int = 64
    heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    ff: int = 256
    dropout: float = 0.1
    positions: str = "sinusoidal"
    """"sinusoidal" or "learned"."""
    seed_dim: int = 16
    """Size of the random seed vector added to the decoder inputs (0: none)."""
    chord_frames: int = 25
    """Frames at a window's start whose summed chroma gives g_dm's start chord (1 s)."""
    trans_weight: float = 1.0
    rot_weight: float = 1.0
    chroma_weight: float = 1.0
    beat_weight: float = 1.0
    beat_loss: str = "bce"
    """"bce" (weighted binary cross-entropy, module docstring) or "l1" (the paper's)."""
    root: str = "velocity"
    """How `g_md` writes the root's floor-plane (x, z) translation: "velocity" (per-frame
    steps, integrated into positions before every loss and output) or "position"."""
    feedback: float = 0.5
    """Scheduled sampling (`Seq2Seq.forward`): the share of previous frames that the direct
    reconstruction passes of both nets take from their own prediction, reached linearly at
    `feedback_ramp` of training; 0: pure teacher forcing."""
    feedback_ramp: float = 0.5
    feedback_passes: int = 1
    cycle_weight: float = 1.0
    """Weight of both cycle losses; 0 turns them off (ablation)."""
    cycle_feedback: bool = True
    """The cycles' outer passes (g_dm composing from g_md's dance, g_md choreographing from
    g_dm's composition) use the direct passes' scheduled sampling (`feedback`) too; False:
    teacher forcing (runs saved before this option)."""
    cycle_routing: str = "paper"
    """Which net a cycle loss trains (`CYCLE_ROUTINGS`). "paper": the outer net only, the inner
    net's output a constant (detached): the dance cycle D -> g_dm -> M' -> g_md -> D'' trains
    g_md, the music cycle M -> g_md -> D' -> g_dm -> M'' trains g_dm, as the update rule after
    eq. 10 of the paper prescribes. "both": through both nets (runs saved before this option)."""
    loss_reduction: str = "sum"
    """"sum": every reconstruction and cycle term is the paper's per-window sum (eq. 7: over the
    frames, the 3 translation coordinates and the 24 joints; eq. 9: over the frames, the 12
    chroma bins and the beat), averaged over the batch's windows (eq. 6 and 10 sum over them: a
    constant factor). "mean": each term a mean over all its elements, which weighs a frame's
    translation 8x a joint's rotation and the beat 12x a chroma bin next to the paper (runs
    saved before this option)."""
    gw_weight: float = 1.0
    """Weight of the Gromov-Wasserstein term; 0 turns it off (ablation)."""
    gw_epsilon: float = 0.2
    """Entropic regularisation of the GW plan, in units of the normalised distances (which
    lie in [0, 1]). 0.2, the paper's, leaves the plan blind to which window matches which
    (0.032 of its mass on the true pairs of an exact isometry of 32 x 64 embeddings, the
    independent coupling's 1/32); 0.005 with `gw_normalise = "range"` and `gw_solver = "log"`
    finds the match (>= 0.98, tests/test_gromov_wasserstein_match.py)."""
    gw_outer_iterations: int = 20
    gw_sinkhorn_iterations: int = 30
    gw_normalise: str = "max"
    """How the embeddings' L1 distance matrices (eq. 5) are scaled into [0, 1] (`GW_NORMALISE`,
    `fugato.losses.gromov_wasserstein.distance_matrix`): "max" (divided by the largest; runs
    saved before the option) or "range" (off-diagonal minimum -> 0, maximum -> 1: the
    concentrated distances of d_model-dimensional embeddings spread over [0, 1]) or "none"
    (raw, as the paper's Algorithm 1: epsilon then acts relative to the embeddings' scale,
    which training changes; with `gw_solver = "log"` only)."""
    gw_solver: str = "scaled"
    """The GW plan's Sinkhorn (`GW_SOLVERS`): "scaled" (POT's iterations, gradient through the
    unrolled plan; runs saved before the option) or "log" (log-domain, finite in float32 at any
    epsilon; the gradient holds the plan constant, as POT's `gromov_wasserstein2` does)."""


@dataclass
class SampleConfig:
    eval_windows: int = 400
    """At most this many test windows for `fugato eval` (a seeded subset)."""
    diversity_starts: int = 5
    """Generations per test window for the diversity, each from another window's first pose."""
    beat_threshold: float = 0.5
    """A composed beat activation peak at or above this is a beat."""
    chord: str = "C major"
    """Start chord of the first window `fugato dance compose` writes (later windows: the chord
    of the previous window's last second)."""
    gif_seconds: float = 20.0
    """`fugato dance choreograph` animates at most this many seconds (the BVH holds all)."""


# -- pieces shared by training, evaluation and the commands -------------------------------------
def chord_indices(chroma: np.ndarray, frames: int = 25) -> np.ndarray:
    """(..., T, 12) chroma -> (...) int64 chord index in 0..23 (major C..B, minor C..B): the
    best key template for the chroma summed over the first `frames` frames (0, C major, for a
    silent start)."""
    from fugato.music.keys import histogram_key_correlations

    c = np.asarray(chroma, dtype=np.float64)
    return histogram_key_correlations(c[..., :frames, :].sum(axis=-2)).argmax(axis=-1)


def chord_onehot(index: np.ndarray) -> np.ndarray:
    """(...) chord indices -> (..., 24) float32 one-hot start tokens."""
    return np.eye(N_CHORDS, dtype=np.float32)[np.asarray(index, dtype=np.int64)]


def chord_index(name: str) -> int:
    """"C major", "f# minor", "Bb", "a minor" -> 0..23; raises FugatoError for others."""
    from fugato.music.melody import key_tonic

    parts = name.split()
    tonic = key_tonic(name)
    quality = parts[1].lower() if len(parts) > 1 else "major"
    if tonic is None or quality not in ("major", "minor") or len(parts) > 2:
        raise FugatoError(f"chord {name!r}: expected a root and quality like 'C major' or "
                          "'f# minor'")
    return tonic + (12 if quality == "minor" else 0)


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-element loss values (..., T, k) of windows -> scalar: "mean" over all elements, or
    "sum" over each window's T frames and k components, averaged over the windows."""
    if reduction == "mean":
        return values.mean()
    return values.sum() / max(1, values[..., 0, 0].numel())


def dance_terms(pred: torch.Tensor, true: torch.Tensor, reduction: str = "mean"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dance frames (..., T, 147) -> (L1 of the root translation in metres, squared geodesic
    angle in radians^2 between the joint rotations, predicted 6D by Gram-Schmidt), each a
    mean over all elements (`reduction` "mean") or the paper's eq. 7 terms, sums over a
    window's frames and coordinates / joints averaged over the windows ("sum")."""
    trans = _reduce((pred[..., DANCE_TRANS] - true[..., DANCE_TRANS]).abs(), reduction)
    shape = (*pred.shape[:-1], N_JOINTS, 6)
    rp = rotation_6d_to_matrix_torch(pred[..., DANCE_ROT6D].reshape(shape))
    rt = rotation_6d_to_matrix_torch(true[..., DANCE_ROT6D].reshape(shape))
    return trans, _reduce(geodesic_distance_torch(rp, rt).square(), reduction)


def music_terms(pred: torch.Tensor, music: torch.Tensor, beat_pos_weight: float | None = None,
                reduction: str = "mean") -> tuple[torch.Tensor, torch.Tensor]:
    """Composed (..., T, 13) against music features (..., T, 53) -> (L1 chroma, beat term): L1
    of the beat when `beat_pos_weight` is None, else binary cross-entropy with beat frames
    weighted by `beat_pos_weight`. Each a mean over all elements (`reduction` "mean"; the
    beat term: of weight * BCE over all frames) or the paper's eq. 9 terms, sums over a
    window's frames (and chroma bins) averaged over the windows ("sum")."""
    chroma = _reduce((pred[..., :12] - music[..., CHROMA]).abs(), reduction)
    p, target = pred[..., 12:], music[..., BEAT]
    if beat_pos_weight is None:
        return chroma, _reduce((p - target).abs(), reduction)
    p = p.clamp(1e-6, 1 - 1e-6)  # sigmoid outputs saturate in float32
    weight = 1.0 + (beat_pos_weight - 1.0) * target
    if reduction == "mean":
        return chroma, torch.nn.functional.binary_cross_entropy(p, target, weight=weight)
    bce = torch.nn.functional.binary_cross_entropy(p, target, weight=weight, reduction="none")
    return chroma, _reduce(bce, reduction)


def root_velocity(dance: Any) -> Any:
    """Dance frames (..., T, 147), numpy or torch -> the same with the root's x and z from
    frame 1 on replaced by their per-frame steps (frame 0 keeps its position), the inverse of
    `root_position`. Free-running generation that feeds back positions compounds their errors
    (measured: 0.7 m off by frame 10); steps carry no memory of where the dancer is."""
    out = dance.clone() if isinstance(dance, torch.Tensor) else dance.copy()
    out[..., 1:, FLOOR_PLANE] = dance[..., 1:, FLOOR_PLANE] - dance[..., :-1, FLOOR_PLANE]
    return out


def root_position(frames: Any) -> Any:
    """Inverse of `root_velocity`: x and z steps summed into positions (differentiable)."""
    out = frames.clone() if isinstance(frames, torch.Tensor) else frames.copy()
    out[..., FLOOR_PLANE] = frames[..., FLOOR_PLANE].cumsum(-2)
    return out


def gw_term(music_memory: torch.Tensor, dance_memory: torch.Tensor, net: NetConfig
            ) -> torch.Tensor:
    """Entropic GW between mean-pooled music memories (B, S, d) and dance memories (B, S, d);
    the dance side is detached, so only the music encoder gets a gradient."""
    return gromov_wasserstein_loss(music_memory.mean(dim=1), dance_memory.detach().mean(dim=1),
                                   net.gw_epsilon, net.gw_outer_iterations,
                                   net.gw_sinkhorn_iterations, net.gw_normalise, net.gw_solver)


class DualDance(Sampler, Evaluator, Task):
    name = "dualdance"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig
    SAVED_DEFAULTS = {"net": {"cycle_feedback": False, "cycle_routing": "both",
                              "loss_reduction": "mean"}}
    """Runs saved before these options were trained with fugato's former choices, whatever the
    defaults are (`Task.SAVED_DEFAULTS`)."""

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        net: NetConfig = config.net
        if net.positions not in ("sinusoidal", "learned"):
            raise FugatoError(f"net.positions {net.positions!r}: 'sinusoidal' or 'learned'")
        if net.d_model % net.heads:
            raise FugatoError(f"net.d_model {net.d_model} is not a multiple of net.heads "
                              f"{net.heads}")
        if data.window < 2 or data.train_stride < 1 or data.eval_stride < 1:
            raise FugatoError("data.window must be >= 2 and the strides >= 1")
        if not net.gw_epsilon > 0:
            raise FugatoError("net.gw_epsilon must be positive")
        if net.root not in ("velocity", "position"):
            raise FugatoError(f"net.root {net.root!r}: 'velocity' or 'position'")
        if not 0 <= net.feedback <= 1:
            raise FugatoError(f"net.feedback {net.feedback} is not in [0, 1]")
        if net.beat_loss not in ("bce", "l1"):
            raise FugatoError(f"net.beat_loss {net.beat_loss!r}: 'bce' or 'l1'")
        if net.cycle_routing not in CYCLE_ROUTINGS:
            raise FugatoError(f"net.cycle_routing {net.cycle_routing!r}: 'paper' or 'both'")
        if net.loss_reduction not in LOSS_REDUCTIONS:
            raise FugatoError(f"net.loss_reduction {net.loss_reduction!r}: 'sum' or 'mean'")
        if (net.gw_normalise not in GW_NORMALISE or net.gw_solver not in GW_SOLVERS
                or (net.gw_normalise, net.gw_solver) == ("none", "scaled")):
            raise FugatoError(f"net.gw_normalise {net.gw_normalise!r} / net.gw_solver "
                              f"{net.gw_solver!r}: one of {GW_NORMALISE} / {GW_SOLVERS}, "
                              "raw distances ('none') with 'log' only")
        chord_index(config.sample.chord)
        self.statistics: dict[str, np.ndarray] | None = None
        self.start_pose: np.ndarray | None = (
            np.asarray(saved["start_pose"], dtype=np.float32)
            if saved and "start_pose" in saved else None)
        self._dataset: Any = None

    # -- data ------------------------------------------------------------------------------------
    def dataset(self) -> Any:
        """The `DanceDataset` of `data` (built once; music features from the cache)."""
        if self._dataset is None:
            from fugato.motion.dataset import DanceDataset

            data: DataConfig = self.config.data
            self._dataset = DanceDataset.load(data.folder, names=data.names,
                                              max_seconds=data.max_seconds,
                                              workers=data.workers, seed=data.split_seed,
                                              progress=False, max_skipped=data.max_skipped)
        return self._dataset

    def windows(self, split: str) -> Any:
        """`DanceWindows` of a split at the configured window length and stride."""
        data: DataConfig = self.config.data
        stride = data.train_stride if split == "train" else data.eval_stride
        return self.dataset().windows(split, length=data.window, stride=stride)

    def _tensors(self, music: np.ndarray, dance: np.ndarray) -> TensorData:
        chords = chord_onehot(chord_indices(music[..., CHROMA], self.config.net.chord_frames))
        return TensorData((torch.as_tensor(music), torch.as_tensor(dance),
                           torch.as_tensor(chords)))

    def build_data(self) -> tuple[TensorData, TensorData]:
        data: DataConfig = self.config.data
        train, valid = self.windows("train"), self.windows("valid")
        if len(train) == 0:
            raise FugatoError(f"no training window of {data.window} frames (dances: "
                              f"{self.dataset().split['train']})")
        music, dance = train.music, train.dance
        if data.max_train_windows is not None and len(music) > data.max_train_windows:
            rng = np.random.default_rng(data.split_seed)
            keep = np.sort(rng.choice(len(music), data.max_train_windows, replace=False))
            music, dance = music[keep], dance[keep]
        frames_m, frames_d = music.reshape(-1, N_FEATURES), dance.reshape(-1, DANCE_DIM)
        frames_v = self._net_dance(dance).reshape(-1, DANCE_DIM)
        self.statistics = {"music_mean": frames_m.mean(0), "music_std": frames_m.std(0),
                           "dance_mean": frames_d.mean(0), "dance_std": frames_d.std(0),
                           "net_dance_mean": frames_v.mean(0), "net_dance_std": frames_v.std(0)}
        # the default first pose of `choreograph`: the training window start nearest the mean
        firsts = dance[:, 0]
        centre = firsts.mean(axis=0)
        self.start_pose = firsts[np.abs(firsts - centre).sum(axis=1).argmin()].copy()
        return self._tensors(music, dance), self._tensors(valid.music, valid.dance)

    # -- nets ------------------------------------------------------------------------------------
    def build_nets(self) -> Nets:
        n: NetConfig = self.config.net
        sizes = dict(d_model=n.d_model, heads=n.heads, enc_layers=n.enc_layers,
                     dec_layers=n.dec_layers, ff=n.ff, dropout=n.dropout,
                     max_len=self.config.data.window, positions=n.positions,
                     seed_dim=n.seed_dim)
        g_md = Seq2Seq(N_FEATURES, DANCE_DIM, DANCE_DIM, **sizes)
        g_dm = Seq2Seq(DANCE_DIM, N_MUSIC_OUT, N_CHORDS, output_activation="sigmoid", **sizes)
        if self.statistics is not None:
            s = {k: torch.as_tensor(v) for k, v in self.statistics.items()}
            g_md.set_statistics("input", s["music_mean"], s["music_std"])
            for part in ("start", "output"):
                g_md.set_statistics(part, s["net_dance_mean"], s["net_dance_std"])
            g_dm.set_statistics("input", s["dance_mean"], s["dance_std"])
        return {"g_md": g_md, "g_dm": g_dm}

    # -- the root's representation and scheduled sampling ---------------------------------------
    def _net_dance(self, dance: Any) -> Any:
        """Dance frames (..., T, 147) as `g_md` reads and writes them (numpy or torch)."""
        return root_velocity(dance) if self.config.net.root == "velocity" else dance

    def _world_dance(self, frames: Any) -> Any:
        """`g_md`'s frames (..., T, 147) -> dance frames (root positions)."""
        return root_position(frames) if self.config.net.root == "velocity" else frames

    def _feedback(self, step: int | None) -> float:
        """Scheduled-sampling probability at training `step` (0 in validation)."""
        n: NetConfig = self.config.net
        if step is None or n.feedback == 0:
            return 0.0
        ramp = n.feedback_ramp * self.config.train.max_steps
        return n.feedback * min(1.0, step / ramp) if ramp > 0 else n.feedback

    def _music_to_dance(self, nets: Nets, music: torch.Tensor, dance: torch.Tensor,
                        seed: torch.Tensor | None, step: int | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """`g_md` teacher-forced on `dance` (B, T, 147): (dance frames, music memory)."""
        target = self._net_dance(dance)
        out, memory = nets["g_md"](music, target[:, 0], target, seed, self._feedback(step),
                                   self.config.net.feedback_passes)
        return self._world_dance(out), memory

    # -- losses ----------------------------------------------------------------------------------
    def _seed(self, batch: torch.Tensor, fixed: bool) -> torch.Tensor | None:
        """Zero seeds for validation (deterministic), None (fresh noise) for training."""
        n = self.config.net.seed_dim
        return batch.new_zeros(len(batch), n) if fixed and n > 0 else None

    def _dance_loss(self, pred: torch.Tensor, true: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n: NetConfig = self.config.net
        trans, rot = dance_terms(pred, true, n.loss_reduction)
        return n.trans_weight * trans + n.rot_weight * rot, trans, rot

    def _beat_pos_weight(self, nets: Nets) -> float | None:
        """Non-beat / beat frame ratio of the training music (from `g_md`'s input statistics,
        so a loaded run has it too) for the "bce" beat loss; None for "l1"."""
        if self.config.net.beat_loss == "l1":
            return None
        share = float(cast(Seq2Seq, unwrap(nets["g_md"])).input_shift[BEAT.start])
        return (1.0 - share) / share if 0 < share < 1 else 1.0

    def _music_loss(self, pred: torch.Tensor, music: torch.Tensor, pos_weight: float | None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n: NetConfig = self.config.net
        chroma, beat = music_terms(pred, music, pos_weight, n.loss_reduction)
        return n.chroma_weight * chroma + n.beat_weight * beat, chroma, beat

    def _cycle_input(self, inner_output: torch.Tensor) -> torch.Tensor:
        """The inner net's output as the cycle's outer net reads it: detached under the paper's
        routing (`NetConfig.cycle_routing`), so that the cycle loss trains the outer net only."""
        return inner_output.detach() if self.config.net.cycle_routing == "paper" else inner_output

    def _cycle_step(self, step: int | None) -> int | None:
        """The training step whose scheduled sampling the cycles' outer passes use: `step`
        with `cycle_feedback`, else None (teacher forcing)."""
        return step if self.config.net.cycle_feedback else None

    def loss_music_to_dance(self, nets: Nets, batch: Batch, step: int | None = None,
                            fixed_seed: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
        """Dance reconstruction + music -> dance -> music cycle + GW (music encoder only).
        The cycle composes with g_dm from g_md's dance (B, T, 147) and compares its chroma and
        beat with the true ones; under the paper's routing it trains g_dm only."""
        music, dance, chord = batch
        n: NetConfig = self.config.net
        dance_hat, music_memory = self._music_to_dance(nets, music, dance,
                                                       self._seed(music, fixed_seed), step)
        loss, trans, rot = self._dance_loss(dance_hat, dance)
        logs = {"dance_trans": trans.item(), "dance_rot": rot.item(), "dance_recon": loss.item()}
        if n.gw_weight > 0:
            with torch.no_grad():
                dance_memory = cast(Seq2Seq, unwrap(nets["g_dm"])).encode(dance)
            gw = gw_term(music_memory, dance_memory, n)
            loss = loss + n.gw_weight * gw
            logs["gw"] = gw.item()
        if n.cycle_weight > 0:
            music_cycle, _ = nets["g_dm"](self._cycle_input(dance_hat), chord,
                                          music[..., MUSIC_OUT], self._seed(music, fixed_seed),
                                          self._feedback(self._cycle_step(step)),
                                          n.feedback_passes)
            cycle, chroma, beat = self._music_loss(music_cycle, music,
                                                   self._beat_pos_weight(nets))
            loss = loss + n.cycle_weight * cycle
            logs.update(cycle_music=cycle.item(), cycle_chroma=chroma.item())
        logs["loss_md"] = loss.item()
        return loss, logs

    def loss_dance_to_music(self, nets: Nets, batch: Batch, step: int | None = None,
                            fixed_seed: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
        """Music reconstruction + dance -> music -> dance cycle. The cycle feeds g_md the true
        music features (B, T, 53) with their chroma and beat columns replaced by g_dm's
        composition and compares its dance with the true one; under the paper's routing it
        trains g_md only."""
        music, dance, chord = batch
        n: NetConfig = self.config.net
        music_hat, _ = nets["g_dm"](dance, chord, music[..., MUSIC_OUT],
                                    self._seed(music, fixed_seed), self._feedback(step),
                                    n.feedback_passes)
        loss, chroma, beat = self._music_loss(music_hat, music, self._beat_pos_weight(nets))
        logs = {"music_chroma": chroma.item(), "music_beat": beat.item(),
                "music_recon": loss.item()}
        if n.cycle_weight > 0:
            composed = torch.cat([music[..., : MUSIC_OUT.start], self._cycle_input(music_hat)],
                                 dim=-1)
            dance_cycle, _ = self._music_to_dance(nets, composed, dance,
                                                  self._seed(music, fixed_seed),
                                                  self._cycle_step(step))
            cycle, _, rot = self._dance_loss(dance_cycle, dance)
            loss = loss + n.cycle_weight * cycle
            logs.update(cycle_dance=cycle.item(), cycle_rot=rot.item())
        logs["loss_dm"] = loss.item()
        return loss, logs

    def steps(self) -> list[Step]:
        return [Step("main", self.loss_music_to_dance), Step("main", self.loss_dance_to_music)]

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        a, logs = self.loss_music_to_dance(nets, batch, fixed_seed=True)
        b, more = self.loss_dance_to_music(nets, batch, fixed_seed=True)
        return {"loss": float(a + b), **logs, **more}

    def saved_state(self) -> dict[str, Any]:
        return {} if self.start_pose is None else {"start_pose": self.start_pose.tolist()}

    # -- generation ------------------------------------------------------------------------------
    def _batched(self, net: str, x: np.ndarray, start: np.ndarray, seed: int) -> np.ndarray:
        """`generate` of net `net` over windows (N, T, in) with start tokens (N, start_dim):
        (N, T, out) float32; seed vectors drawn from `seed`."""
        model = cast(Seq2Seq, unwrap(self.nets[net]))
        model.eval()
        g = torch.Generator().manual_seed(seed)
        seeds = torch.randn(len(x), max(model.seed_dim, 1), generator=g)[:, : model.seed_dim]

        def generate(xi: torch.Tensor, si: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
            return model.generate(xi, si, seed=zi if model.seed_dim else None)

        # 256 windows a chunk, not INFERENCE_BATCH: `generate` re-decodes the whole prefix at
        # each of the 75 steps (no cache), and the recorded outputs were computed in chunks of
        # 256 (other chunk sizes change the matrix shapes, so BLAS may sum in other orders)
        out = batched(generate, torch.as_tensor(x, dtype=torch.float32),
                      torch.as_tensor(start, dtype=torch.float32), seeds, device=self.device,
                      batch_size=256, empty=torch.zeros(0, x.shape[1], model.out_dim))
        return out.numpy()

    def generate_dance(self, music: np.ndarray, start_pose: np.ndarray, seed: int = 0
                       ) -> np.ndarray:
        """Music windows (N, T, 53) and first poses (N, 147) -> dances (N, T, 147)."""
        return self._world_dance(self._batched("g_md", music, start_pose, seed))

    def generate_music(self, dance: np.ndarray, chords: np.ndarray, seed: int = 0) -> np.ndarray:
        """Dance windows (N, T, 147) and chord indices (N,) -> (N, T, 13) chroma + beat."""
        return self._batched("g_dm", dance, chord_onehot(chords), seed)

    def sample(self, n: int, seed: int | None = None, generator: str | None = None) -> Dances:
        """`n` dances (`generate_samples`) as `Dances`."""
        self.pick_generator(generator)
        return Dances(self.generate_samples(n, seed))

    def generate_samples(self, n: int, seed: int | None = None) -> np.ndarray:
        """Dances (n, T, 147) for the music of `n` validation windows (a seeded choice; with
        replacement when there are fewer), each from its window's true first pose. Turn them
        into joints with `fugato.motion.representation.dance_positions`."""
        windows = self.windows("valid")
        if len(windows) == 0:
            windows = self.windows("train")
        if len(windows) == 0:
            raise FugatoError("no window to take music from")
        rng = np.random.default_rng(0 if seed is None else seed)
        pick = rng.choice(len(windows), n, replace=n > len(windows))
        return self.generate_dance(windows.music[pick], windows.dance[pick, 0], seed or 0)

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Metrics on the test dances' windows (`fugato.models.dualdance.evaluate`)."""
        from fugato.models.dualdance.evaluate import evaluate

        return evaluate(self, run, seed)
