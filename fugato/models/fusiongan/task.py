"""FusionGAN (Chen, Wu, Lu, Lerch, Lu, ICDM 2017): melodies that fuse two genres.

Genre A (jazz solos) and genre B (folk tunes) share one `EventEncoding`, every piece moved to a
common tonic (a written key, else a Krumhansl-Schmuckler estimate: jazz solos carry none), and
are cut into windows; the split is by piece. Three LSTM generators G_A, G_B, G_F and three
TextCNN critics D_A, D_B, D_F train in phases, as in Algorithm 1 of the paper:

1. steps [0, P): maximum likelihood: G_A on A, G_B on B, G_F on A + B in equal shares (the
   mixture the fusion objective aims for; the corpora hold about four folk windows per jazz
   window), and the genre classifier of the evaluation on real windows. At step P, the MLE
   baseline is copied into the GAN baseline's generator.
2. steps [P, Q): per genre, Wasserstein adversarial training: D_A separates A from G_A, D_B
   separates B from G_B. At step Q, G_A and G_B are copied into the RL baseline.
3. steps [Q, end): fusion (`net.objective = "ordered"`). D_F treats A and B as equally real
   and G_F as fake, with the balance term |E D_F(A) - E D_F(B)| (9); D_A keeps separating A
   from G_A and adds the ordering (12) E D_A(A) >= E D_A(G_F) >= E D_A(B) (D_B likewise); G_F
   is rewarded by D_A + D_B + D_F (4); G_A and G_B keep being rewarded by their own critics.

Departures from the paper's equations (1)-(14) and Algorithm 1 (the README measures the two
objectives side by side):

- `net.objective = "ordered"` (the default) drops three of the paper's terms, which `"paper"`
  keeps: D_F counting G_A's and G_B's windows as real (8) with their balance
  |E D_F(G_A) - E D_F(G_B)| (9); D_A scoring B, G_B and G_F down besides G_A (11), D_B
  likewise; G_A rewarded by D_A + D_B - D_F (14, read with the signs of (4)), G_B likewise.
  "ordered" leaves G_A and G_B anchors of their own genres and lets only (12) place G_F.
- Where (8) and (11) weigh four sets against one, each side is their mean: as printed the
  critic's gap is not shift-invariant (a constant c added to D_A raises (11) by 3c), so its
  supremum is infinite for any critic with an output bias.
- (13) as printed, |D_A(A) - D_A(G_F)| + |D_A(G_F) - D_A(B)|, equals D_A(A) - D_A(B) whenever
  (12) holds, so minimising it would undo (11); both objectives enforce (12) itself, as hinge
  penalties that vanish when the order holds (`ordering_penalty`, `net.ordering_weight`).
- Algorithm 1 (lines 22, 26) ascends L + L_bal, which would maximise the imbalance; the
  balance terms are minimised here.
- G_F's reward D_A + D_B + D_F (4) counts each critic standardised (`net.standardise_rewards`):
  Wasserstein critics have arbitrary scales, and the widest would steer alone.
- Every adversarial generator keeps a maximum-likelihood term (`net.mle_weight`; the quick
  config's comment has the measured reason); the phases run fixed step counts (P, Q) instead
  of "until D_A converges"; G_F is pre-trained on A and B in equal shares, not on X_A + X_B
  as pooled, and D_F starts the fusion phase untrained (line 18 first fits it to tell G_F's
  windows from X_A + X_B); 8 rollouts instead of 16 (config); all critics update, then all
  generators, in one step, where Algorithm 1 goes D_F / G_F, then D_A / G_A, then D_B / G_B.
- Critics are kept Lipschitz by spectral normalisation (the paper names no method; not a
  gradient penalty: inputs are discrete tokens).

Token generators get gradients by policy gradient: REINFORCE with Monte-Carlo rollout rewards
(SeqGAN), batched (`fugato.losses.policy_gradient`). With `net.standardise_rewards` each of
G_F's three critics is standardised before the sum: Wasserstein critics have arbitrary scales.

With `net.mle_weight` > 0 every adversarially trained generator also keeps its
maximum-likelihood term on its own data (G_A on A, G_B on B, G_F on A + B in equal shares,
GAN on pooled A + B, the RL generators on their starting genre), a common stabiliser of SeqGAN
training.

Baselines, all in the same encoding: RM and MC samplers (`baselines.random_windows`), MLE (an LSTM
trained by maximum likelihood on the pooled A + B windows, as the corpora come, for the whole
run, from G_F's initial weights), "MLE 1:1" (the same on A + B in equal shares: G_F's twin
without the adversarial phases, to show what they add), GAN (one generator/critic pair on
pooled A + B from step P on, starting from the MLE baseline), RL (after
phase 2, G_A rewarded by D_B and G_B by D_A; its samples are half from each). The evaluation
(Table I, balance, floor, mgeval, Fig. 6) is in `evaluate.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from fugato.config import CorpusConfig, ExperimentConfig
from fugato.errors import FugatoError
from fugato.losses.policy_gradient import reinforce_loss, rollout_rewards
from fugato.losses.wasserstein import balance_penalty, critic_loss, ordering_penalty
from fugato.models.fusiongan.evaluate import CLASSIFIER_CHUNK, evaluate, seeds_report
from fugato.music.encodings import EventEncoding
from fugato.music.keys import with_key
from fugato.music.melody import Melody, TimeSignature
from fugato.nn.batched import batched
from fugato.nn.lstm import LSTMGenerator
from fugato.nn.textcnn import TextCNN
from fugato.report import Evaluation
from fugato.train.run import Run
from fugato.train.task import Batch, Evaluator, Nets, Sampler, SeedsReport, Step, Task, TensorData

GENERATORS = {"A": "gen_a", "B": "gen_b", "F": "gen_f", "MLE": "mle", "MLE-1:1": "mle_even",
              "GAN": "gen_gan",
              "RL-A": "rl_a", "RL-B": "rl_b"}
"""`fugato sample RUN --generator NAME` -> the net that writes the melodies."""
Rewards = tuple[tuple[str, float], ...]
"""The critics whose scores reward a generator, each with its sign."""


@dataclass
class DataConfig(CorpusConfig):
    genre_a: str = "wjazzd"
    """Corpus of genre A (jazz)."""
    genre_b: str = "essen:europe"
    """Corpus of genre B (folk; Essen's Chinese collections are another style)."""
    steps_per_quarter: int = 4
    pitch_range: list[int] = field(default_factory=lambda: [36, 96])
    tonic: int = 0
    """Pitch class every piece is transposed to (0 = C)."""
    window: int = 32
    stride: int = 16


@dataclass
class NetConfig:
    embed: int = 32
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    critic_embed: int = 32
    critic_windows: list[int] = field(default_factory=lambda: [2, 3, 4, 8])
    critic_filters: int = 32
    pretrain_steps: int = 600
    """P: maximum-likelihood steps (phase 1)."""
    genre_steps: int = 100
    """Q - P: per-genre adversarial steps (phase 2); the fusion phase runs to max_steps."""
    critic_repeat: int = 2
    """Critic updates per generator update."""
    rollouts: int = 8
    """Monte-Carlo rollouts per prefix (the paper: 16)."""
    adversarial_lr: float = 1e-3
    critic_lr: float = 1e-3
    balance_weight: float = 1.0
    ordering_weight: float = 1.0
    mle_weight: float = 0.0
    """Weight of each adversarial generator's maximum-likelihood term (0: pure policy gradient)."""
    standardise_rewards: bool = True
    """G_F's reward D_A + D_B + D_F with each critic's scores standardised first (over the
    step's rollouts), so that the three count equally whatever their scales."""
    objective: str = "ordered"
    """The fusion phase's objective: "ordered" (D_A separates A from G_A, D_F real A + B from
    G_F, G_A and G_B rewarded by their own critics) or "paper" (every term of equations (8),
    (9), (11) and (14): D_A also scores B, G_B and G_F down, D_F also counts G_A and G_B as
    real and balances them, G_A is rewarded by D_A + D_B - D_F); both keep (12)'s ordering."""


@dataclass
class SampleConfig:
    temperature: float = 1.0
    tempo: float = 120.0
    eval_windows: int = 1000
    """Windows each system writes for the evaluation (and real windows per floor estimate)."""
    mgeval_windows: int = 200
    """Windows per set in the mgeval-style relative evaluation (its pairwise distances grow
    with the square of this)."""
    midi_per_system: int = 4
    """Windows of every system that the evaluation writes as MIDI files."""


class FusionGAN(Sampler, Evaluator, SeedsReport, Task):
    name = "fusiongan"
    DataConfig = DataConfig
    NetConfig = NetConfig
    SampleConfig = SampleConfig

    def __init__(self, config: ExperimentConfig, saved: dict[str, Any] | None = None) -> None:
        super().__init__(config, saved)
        data: DataConfig = config.data
        self.encoding: EventEncoding = self.restore_encoding(saved, lambda: EventEncoding(
            steps_per_quarter=data.steps_per_quarter, pitch_range=data.pitch_range,
            transpose_to_tonic=data.tonic))
        n: NetConfig = config.net
        if n.pretrain_steps < 1 or n.genre_steps < 1:
            raise FugatoError("net.pretrain_steps and net.genre_steps must be at least 1")
        if n.objective not in ("ordered", "paper"):
            raise FugatoError(f"net.objective must be 'ordered' or 'paper', not {n.objective!r}")

    @property
    def fusion_start(self) -> int:
        """Q: the first step of the fusion phase."""
        return self.config.net.pretrain_steps + self.config.net.genre_steps

    # -- data ----------------------------------------------------------------------------------
    def melodies(self, genre: str, split: str) -> list[Melody]:
        """The melodies of genre "A" or "B" in `split`, each with a key (estimated if needed)."""
        data: DataConfig = self.config.data
        name = data.genre_a if genre == "A" else data.genre_b
        return [with_key(m) for m in data.load(name).split(split)]

    def windows(self, genre: str, split: str) -> np.ndarray:
        """(N, window) int64 token windows of genre "A" or "B" in `split`."""
        data: DataConfig = self.config.data
        windows, _ = self.encoding.encode_corpus(self.melodies(genre, split), data.window,
                                                 data.stride)
        if len(windows) == 0:
            raise FugatoError(f"genre {genre}: no {split} windows of {data.window} steps")
        return windows

    def _pairs(self, split: str, seed: int) -> TensorData:
        """(A window, B window, pooled window) triples: A and B cycle through seeded
        permutations so that every batch holds as many A as B windows; the third is a window
        of the pooled A + B set in its natural proportions (the MLE and GAN baselines' data)."""
        a, b = self.windows("A", split), self.windows("B", split)
        pooled = np.concatenate([a, b])
        rng = np.random.default_rng(seed)
        n = max(len(a), len(b))
        ia, ib = np.resize(rng.permutation(len(a)), n), np.resize(rng.permutation(len(b)), n)
        ip = np.resize(rng.permutation(len(pooled)), n)
        return TensorData((torch.as_tensor(a[ia]), torch.as_tensor(b[ib]),
                           torch.as_tensor(pooled[ip])))

    def build_data(self) -> tuple[TensorData, TensorData]:
        return self._pairs("train", self.config.train.seed), self._pairs("valid", 0)

    # -- nets and optimizers -------------------------------------------------------------------
    def build_nets(self) -> Nets:
        n: NetConfig = self.config.net
        v = self.encoding.vocab_size

        def generator() -> LSTMGenerator:
            return LSTMGenerator(v, n.embed, n.hidden, n.layers, n.dropout)

        def critic(spectral: bool = True) -> TextCNN:
            return TextCNN(v, n.critic_embed, n.critic_windows, n.critic_filters, outputs=1,
                           dropout=0.0 if spectral else 0.25, spectral_norm=spectral)

        nets: Nets = {name: generator() for name in GENERATORS.values()}
        for twin in ("mle", "mle_even"):  # one start for G_F and the MLE baselines
            nets[twin].load_state_dict(nets["gen_f"].state_dict())
        nets.update({name: critic() for name in ("d_a", "d_b", "d_f", "d_gan")})
        nets["classifier"] = critic(spectral=False)
        return nets

    def optimizers(self, nets: Nets) -> dict[str, torch.optim.Optimizer]:
        n: NetConfig = self.config.net

        def params(*names: str) -> list[torch.nn.Parameter]:
            return [p for name in names for p in nets[name].parameters()]

        return {
            "pretrain": torch.optim.Adam(params("gen_a", "gen_b", "gen_f"),
                                         lr=self.config.train.lr),
            "mle": torch.optim.Adam(params("mle", "mle_even"), lr=self.config.train.lr),
            "classifier": torch.optim.Adam(params("classifier"), lr=self.config.train.lr),
            "generators": torch.optim.Adam(params("gen_a", "gen_b", "gen_f", "gen_gan", "rl_a",
                                                  "rl_b"), lr=n.adversarial_lr),
            "critics": torch.optim.Adam(params("d_a", "d_b", "d_f", "d_gan"), lr=n.critic_lr,
                                        betas=(0.5, 0.9)),
        }

    def steps(self) -> list[Step]:
        n: NetConfig = self.config.net
        p = n.pretrain_steps
        return [Step("pretrain", self._pretrain, stop=p), Step("mle", self._mle_baseline),
                Step("classifier", self._classify, stop=p),
                Step("critics", self._critics, start=p, repeat=n.critic_repeat),
                Step("generators", self._generators, start=p)]

    def on_step(self, nets: Nets, step: int) -> None:
        n: NetConfig = self.config.net
        if step == n.pretrain_steps:  # the GAN baseline starts from the MLE baseline
            nets["gen_gan"].load_state_dict(nets["mle"].state_dict())
        if step == self.fusion_start:  # the RL baseline starts from the per-genre generators
            nets["rl_a"].load_state_dict(nets["gen_a"].state_dict())
            nets["rl_b"].load_state_dict(nets["gen_b"].state_dict())

    # -- losses --------------------------------------------------------------------------------
    def _nll(self, gen: torch.nn.Module, windows: torch.Tensor) -> torch.Tensor:
        start = torch.full_like(windows[:, :1], self.encoding.BOS)
        logits = gen(torch.cat([start, windows[:, :-1]], dim=1))
        return F.cross_entropy(logits.flatten(0, 1), windows.flatten())

    def _pretrain(self, nets: Nets, batch: Batch, step: int
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        a, b, pooled = batch
        nll_a, nll_b = self._nll(nets["gen_a"], a), self._nll(nets["gen_b"], b)
        nll_f = self._nll(nets["gen_f"], torch.cat([a, b]))
        loss = nll_a + nll_b + nll_f
        return loss, {"nll_a": nll_a.item(), "nll_b": nll_b.item(), "nll_f": nll_f.item()}

    def _mle_baseline(self, nets: Nets, batch: Batch, step: int
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        a, b, pooled = batch
        nll = self._nll(nets["mle"], pooled)
        nll_even = self._nll(nets["mle_even"], torch.cat([a, b]))
        return nll + nll_even, {"nll_mle": nll.item(), "nll_mle_even": nll_even.item()}

    def _classify(self, nets: Nets, batch: Batch, step: int
                  ) -> tuple[torch.Tensor, dict[str, float]]:
        """The evaluation's genre classifier: P(A = jazz) from a real window."""
        a, b, _ = batch
        logits = nets["classifier"](torch.cat([a, b]))[:, 0]
        labels = torch.cat([torch.ones(len(a)), torch.zeros(len(b))]).to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        accuracy = ((logits > 0).float() == labels).float().mean()
        return loss, {"classifier_loss": loss.item(), "classifier_accuracy": accuracy.item()}

    @torch.no_grad()
    def generate(self, name: str, n: int, generator: torch.Generator | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """(n, window) token windows written by net `name` (a key of `GENERATORS`' values)."""
        start = torch.full((n, 1), self.encoding.BOS, dtype=torch.long, device=self.device)
        gen = cast(LSTMGenerator, self.nets[name])
        was_training = gen.training
        gen.eval()
        out = gen.sample(start, self.config.data.window, temperature, generator=generator,
                         banned=[self.encoding.PAD, self.encoding.BOS])
        gen.train(was_training)
        return out

    def _critics(self, nets: Nets, batch: Batch, step: int
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        """Wasserstein critic losses of the current phase (one forward per critic: DDP-safe)."""
        a, b, pooled = batch
        n: NetConfig = self.config.net
        k = len(a)
        fake_a, fake_b = self.generate("gen_a", k), self.generate("gen_b", k)
        fake_gan = self.generate("gen_gan", k)
        s_gan = nets["d_gan"](torch.cat([pooled, fake_gan]))[:, 0]
        w_gan = critic_loss(s_gan[:k], s_gan[k:])
        logs = {"w_gan": -w_gan.item()}
        if step < self.fusion_start:
            s_a = nets["d_a"](torch.cat([a, fake_a]))[:, 0]
            s_b = nets["d_b"](torch.cat([b, fake_b]))[:, 0]
            w_a, w_b = critic_loss(s_a[:k], s_a[k:]), critic_loss(s_b[:k], s_b[k:])
            logs.update({"w_a": -w_a.item(), "w_b": -w_b.item()})
            return w_a + w_b + w_gan, logs
        w_a, w_b, w_f, balance, order = self._fusion_critics(nets, batch, fake_a, fake_b)
        loss = (w_a + w_b + w_gan + w_f + n.balance_weight * balance
                + n.ordering_weight * order)
        logs.update({"w_a": -w_a.item(), "w_b": -w_b.item(), "w_f": -w_f.item(),
                     "f_balance": balance.item(), "ordering": order.item()})
        return loss, logs

    def _fusion_critics(self, nets: Nets, batch: Batch, fake_a: torch.Tensor,
                        fake_b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The fusion phase's critic terms (w_a, w_b, w_f, balance, ordering), each a loss to
        minimise, under `net.objective`. Where an equation sums several sets on one side, the
        critic scores their mean: a Wasserstein critic's gap is only shift-invariant with as
        much weight on its real side as on its fake side."""
        a, b, _ = batch
        k = len(a)
        fake_f = self.generate("gen_f", k)
        if self.config.net.objective == "paper":  # (8), (9), (11) with (12)
            s_a = nets["d_a"](torch.cat([a, fake_a, fake_f, b, fake_b]))[:, 0].split(k)
            s_b = nets["d_b"](torch.cat([b, fake_b, fake_f, a, fake_a]))[:, 0].split(k)
            s_f = nets["d_f"](torch.cat([a, b, fake_a, fake_b, fake_f]))[:, 0].split(k)
            w_a = critic_loss(s_a[0], torch.cat(s_a[1:]))
            w_b = critic_loss(s_b[0], torch.cat(s_b[1:]))
            w_f = critic_loss(torch.cat(s_f[:4]), s_f[4])
            balance = balance_penalty(s_f[0], s_f[1]) + balance_penalty(s_f[2], s_f[3])
        else:
            # each genre critic sees: its genre, its generator, the fusion, the other genre
            s_a = nets["d_a"](torch.cat([a, fake_a, fake_f, b]))[:, 0].split(k)
            s_b = nets["d_b"](torch.cat([b, fake_b, fake_f, a]))[:, 0].split(k)
            s_f = nets["d_f"](torch.cat([a, b, fake_f]))[:, 0].split(k)
            w_a, w_b = critic_loss(s_a[0], s_a[1]), critic_loss(s_b[0], s_b[1])
            w_f = critic_loss(torch.cat(s_f[:2]), s_f[2])
            balance = balance_penalty(s_f[0], s_f[1])
        order = ordering_penalty(s_a[0], s_a[2], s_a[3]) + ordering_penalty(s_b[0], s_b[2], s_b[3])
        return w_a, w_b, w_f, balance, order

    def _generators(self, nets: Nets, batch: Batch, step: int
                    ) -> tuple[torch.Tensor, dict[str, float]]:
        """REINFORCE for every generator of the current phase with rollout rewards from its
        critics (the signed sum of their scores, `_rewarding`)."""
        a, b, pooled = batch
        rewarded = self._rewarding(batch, step)
        mle_weight = self.config.net.mle_weight
        standardise = self.config.net.standardise_rewards
        loss = torch.zeros((), device=a.device)
        logs = {}
        bos = self.encoding.BOS
        for name in ("d_a", "d_b", "d_f", "d_gan"):  # scoring only: no spectral-norm updates
            self.nets[name].eval()
        for gen_name, (critics, own_data) in rewarded.items():
            sequences = self.generate(gen_name, len(a))

            def score(x: torch.Tensor, critics: Rewards = critics) -> torch.Tensor:
                columns = torch.stack([sign * self.nets[c](x)[:, 0] for c, sign in critics],
                                      dim=1)
                return columns if standardise else columns.sum(dim=1)

            gen = cast(LSTMGenerator, self.nets[gen_name])
            rewards = rollout_rewards(gen, score, sequences, bos, self.config.net.rollouts,
                                      banned=[self.encoding.PAD, bos])
            loss = loss + reinforce_loss(nets[gen_name], sequences, rewards, bos)
            if mle_weight > 0:
                loss = loss + mle_weight * self._nll(nets[gen_name], own_data)
            logs[f"reward_{gen_name}"] = rewards[:, -1].mean().item()
        for name in ("d_a", "d_b", "d_f", "d_gan"):
            self.nets[name].train()
        return loss, logs

    def _rewarding(self, batch: Batch, step: int) -> dict[str, tuple[Rewards, torch.Tensor]]:
        """generator -> (its critics with the sign of each score in its reward, its own data
        for the MLE term), in the current phase and under `net.objective`."""
        a, b, pooled = batch
        rewarded: dict[str, tuple[Rewards, torch.Tensor]] = {
            "gen_a": ((("d_a", 1.0),), a), "gen_b": ((("d_b", 1.0),), b),
            "gen_gan": ((("d_gan", 1.0),), pooled)}
        if step < self.fusion_start:
            return rewarded
        rewarded.update({"gen_f": ((("d_a", 1.0), ("d_b", 1.0), ("d_f", 1.0)), torch.cat([a, b])),
                         "rl_a": ((("d_b", 1.0),), a), "rl_b": ((("d_a", 1.0),), b)})
        if self.config.net.objective == "paper":  # (14): -(-D_A - D_B + D_F), B alike
            rewarded["gen_a"] = ((("d_a", 1.0), ("d_b", 1.0), ("d_f", -1.0)), a)
            rewarded["gen_b"] = ((("d_b", 1.0), ("d_a", 1.0), ("d_f", -1.0)), b)
        return rewarded

    @torch.no_grad()
    def validate(self, nets: Nets, batch: Batch) -> dict[str, float]:
        a, b, pooled = batch
        logs = {"nll_a": self._nll(nets["gen_a"], a).item(),
                "nll_b": self._nll(nets["gen_b"], b).item(),
                "nll_f": self._nll(nets["gen_f"], torch.cat([a, b])).item(),
                "nll_mle": self._nll(nets["mle"], pooled).item(),
                "nll_mle_even": self._nll(nets["mle_even"], torch.cat([a, b])).item()}
        logs["loss"] = logs["nll_a"] + logs["nll_b"] + logs["nll_f"]
        logs["classifier_accuracy"] = self._classify(nets, batch, 0)[1]["classifier_accuracy"]
        # the genre mix that G_F and the MLE baseline write, as the classifier sees it
        # (own random stream: validating leaves the training's draws as they would have been)
        g = torch.Generator(device=a.device).manual_seed(0)
        for name in ("gen_f", "mle", "mle_even"):
            written = self.generate(name, 256, g)
            p_a = torch.sigmoid(nets["classifier"](written)[:, 0])
            logs[f"p_genre_a_{name}"] = p_a.mean().item()
        return logs

    def saved_state(self) -> dict[str, Any]:
        return {"encoding": self.encoding.to_dict()}

    # -- sampling ------------------------------------------------------------------------------
    def to_melody(self, window: np.ndarray, title: str) -> Melody:
        return self.encoding.decode(window).replace(
            title=title, tempo=self.config.sample.tempo, time_signatures=[TimeSignature(0, 4, 4)])

    generators = ("F", *(k for k in GENERATORS if k != "F"))

    def sample_windows(self, n: int, seed: int | None = None, generator: str | None = None,
                       temperature: float | None = None) -> tuple[str, np.ndarray]:
        """(the generator's name, (n, window) token windows it writes); `generator` is a key
        of `GENERATORS` (default F), `temperature` None or 0 the config's."""
        generator = str(self.pick_generator(generator))
        g = torch.Generator(device=self.device).manual_seed(0 if seed is None else seed)
        windows = self.generate(GENERATORS[generator], n, g,
                                temperature or self.config.sample.temperature)
        return generator, windows.cpu().numpy()

    def sample(self, n: int, seed: int | None = None, generator: str | None = None,
               temperature: float | None = None) -> list[Melody]:
        """`n` windows written by generator `generator` (a key of `GENERATORS`; default F)."""
        generator, windows = self.sample_windows(n, seed, generator, temperature)
        return [self.to_melody(w, f"fugato fusiongan {generator} sample {i}")
                for i, w in enumerate(windows)]

    def p_genre_a(self, windows: np.ndarray) -> np.ndarray:
        """P(genre A) of each token window (n, window) by the genre classifier trained on
        real windows (A = jazz = 1): (n,) float32."""
        classifier = self.nets["classifier"].eval()
        return batched(lambda x: torch.sigmoid(classifier(x)[:, 0]),
                       torch.as_tensor(np.asarray(windows), dtype=torch.long),
                       device=self.device, batch_size=CLASSIFIER_CHUNK).numpy()

    # -- evaluation ----------------------------------------------------------------------------
    @staticmethod
    def seeds_report(group: str, summary: Mapping[str, Sequence[float]], runs: int) -> str:
        """Table I and the balance over seeds (`evaluate.seeds_report`)."""
        return seeds_report(group, summary, runs)

    def evaluate(self, run: Run, seed: int = 0) -> Evaluation:
        """Table I, balance, floor, mgeval and Fig. 6 of `run` (`evaluate.evaluate`)."""
        return evaluate(self, run, seed)
