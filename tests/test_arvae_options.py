"""AR-VAE: the MeasureVAE options that the reference code (ashispati/ar-vae) sets otherwise than
fugato's defaults (`net.encoder_readout`, `net.beat_input`, `net.teacher_forcing`,
`net.dropout`): each does what it says, the defaults compute what fugato computed before the
options, and a bad value is a one-line error. All on tiny nets: a few seconds in all."""

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from fugato.config import build_config, load_config
from fugato.errors import FugatoError
from fugato.models.arvae import ARVAE
from fugato.nn.measure_vae import BEATS, MeasureVAE

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs" / "arvae-folk-quick.toml"
PAPER = ("arvae-folk-paper", "arvae-bach-paper", "betavae-folk-paper", "betavae-bach-paper")
V, H, Z = 12, 8, 4


def tiny(**options: Any) -> MeasureVAE:
    """A 2-layer MeasureVAE over V tokens, seeded."""
    torch.manual_seed(0)
    return MeasureVAE(V, embed=3, enc_hidden=H, enc_layers=2, enc_out=10, z_dim=Z,
                      dec_hidden=H, dec_layers=2, **options)


def bars(n: int = 6) -> torch.Tensor:
    return torch.randint(0, V, (n, 24), generator=torch.Generator().manual_seed(1))


def captured_input(module: torch.nn.Module, run: Any) -> torch.Tensor:
    """The first positional input `module` gets while `run()` runs."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach()))
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


# -- the defaults: fugato's computation before the options ---------------------------------------
def old_forward(vae: MeasureVAE, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """fugato's MeasureVAE forward before the options, written out from the net's own layers:
    the top layer's two final states, z as the beat GRU's input, teacher forcing."""
    _, h = vae.enc_rnn(vae.enc_embed(x))
    hidden = vae.enc_mlp(torch.cat([h[-2], h[-1]], dim=-1))
    mu, logvar = vae.to_mu(hidden), vae.to_logvar(hidden)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    beat_out, _ = vae.beat_rnn(z.unsqueeze(1).expand(-1, BEATS, -1),
                               vae._init_state(vae.beat_init, z))
    b = len(x)
    previous = torch.cat([torch.full_like(x[:, :1], V), x[:, :-1]], dim=1).view(b * BEATS, -1)
    beat_out = beat_out.reshape(b * BEATS, -1)
    inputs = torch.cat([beat_out.unsqueeze(1).expand(-1, previous.shape[1], -1),
                        vae.dec_embed(previous)], dim=-1)
    out, _ = vae.tick_rnn(inputs, vae._init_state(vae.tick_init, beat_out))
    return vae.out(out).view(b, 24, V), mu, logvar, z


def test_the_defaults_compute_what_fugato_computed_before_the_options() -> None:
    vae, old = tiny(), tiny()
    assert vae.state_dict().keys() == old.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(),
                                                 old.state_dict().values(), strict=True))
    x = bars()
    torch.manual_seed(5)
    new = vae.train()(x)
    after = torch.get_rng_state()
    torch.manual_seed(5)
    expected = old_forward(vae, x)
    # bit for bit, and training draws the reparameterisation noise and nothing else
    assert all(torch.equal(a, b) for a, b in zip(new, expected, strict=True))
    assert torch.equal(torch.get_rng_state(), after)
    logits, mu, _, _ = vae.eval()(x)
    assert torch.equal(logits, vae.decode_teacher(mu, x))


# -- encoder_readout ---------------------------------------------------------------------------
def test_encoder_readout_all_reads_every_layers_final_states() -> None:
    x = bars()
    for readout, changes in (("top", False), ("all", True)):
        vae = tiny(encoder_readout=readout).eval()
        assert vae.enc_mlp[0].in_features == (4 if readout == "all" else 2) * H
        mu = vae.encode(x)[0]

        def nudge_bottom_layer(_: Any, __: Any, output: Any) -> Any:
            out, h = output
            h = h.clone()
            h[:2] += 1.0  # layer 0, both directions: what layer 1 saw stays as it was
            return out, h

        handle = vae.enc_rnn.register_forward_hook(nudge_bottom_layer)
        nudged = vae.encode(x)[0]
        handle.remove()
        assert (not torch.equal(mu, nudged)) == changes, readout


def test_encoder_readout_all_lays_the_states_out_as_the_reference_does() -> None:
    """(layers * 2, B, H) -> (B, layers * 2 * H): layer 0 forward, layer 0 backward, layer 1
    forward, layer 1 backward (the reference's transpose(0, 1).view(B, -1))."""
    vae, x = tiny(encoder_readout="all").eval(), bars()
    _, h = vae.enc_rnn(vae.enc_embed(x))
    read = captured_input(vae.enc_mlp, lambda: vae.encode(x))
    assert torch.equal(read, torch.cat([h[0], h[1], h[2], h[3]], dim=-1).detach())


# -- beat_input --------------------------------------------------------------------------------
def test_beat_input_constant_keeps_z_out_of_the_beat_grus_input() -> None:
    z1, z2 = torch.randn(3, Z), torch.randn(3, Z)
    vae = tiny(beat_input="constant").eval()
    in1 = captured_input(vae.beat_rnn, lambda: vae.beats(z1))
    in2 = captured_input(vae.beat_rnn, lambda: vae.beats(z2))
    assert in1.shape == (3, BEATS, 1) and torch.equal(in1, in2)
    assert not torch.equal(vae.beats(z1), vae.beats(z2))  # z comes in through the state
    # the constant is learned
    logits, *_ = vae.train()(bars())
    F.cross_entropy(logits.flatten(0, 1), bars().flatten()).backward()
    assert vae.beat_constant.grad is not None and vae.beat_constant.grad.abs().item() > 0
    default = tiny().eval()
    assert torch.equal(captured_input(default.beat_rnn, lambda: default.beats(z1)),
                       z1.unsqueeze(1).expand(-1, BEATS, -1))


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_acts_in_training_only() -> None:
    x = bars()
    vae = tiny(dropout=0.5)
    z = torch.randn(len(x), Z)
    vae.train()
    assert not torch.equal(vae.encode(x)[0], vae.encode(x)[0])
    assert not torch.equal(vae.decode_teacher(z, x), vae.decode_teacher(z, x))
    vae.eval()
    assert torch.equal(vae.encode(x)[0], vae.encode(x)[0])
    assert torch.equal(vae.decode_teacher(z, x), vae.decode_teacher(z, x))
    assert tiny(dropout=0.5).enc_rnn.dropout == 0.5 and tiny().enc_rnn.dropout == 0.0


# -- teacher_forcing ---------------------------------------------------------------------------
def test_teacher_forcing_0_trains_on_the_decoders_own_predictions() -> None:
    x = bars()
    vae = tiny(teacher_forcing=0.0).train()
    logits, _, _, z = vae(x)
    assert logits.requires_grad
    with torch.no_grad():
        own = logits.argmax(-1)  # what it fed itself: tick t saw the argmax of tick t - 1
        assert torch.allclose(vae.decode_teacher(z, own), logits, atol=1e-6)
        assert not torch.allclose(vae.decode_teacher(z, x), logits, atol=1e-3)
    vae.eval()  # evaluation (validation) stays teacher forced
    logits, mu, _, _ = vae(x)
    assert torch.equal(logits, vae.decode_teacher(mu, x))


def test_teacher_forcing_draws_one_coin_per_batch_from_the_seeded_stream() -> None:
    vae = tiny(teacher_forcing=0.5).train()
    state = torch.get_rng_state()
    coins = [vae.teacher_forced() for _ in range(40)]
    assert 10 < sum(coins) < 30
    torch.set_rng_state(state)  # a resumed run restores the stream: the same coins
    assert [vae.teacher_forced() for _ in range(40)] == coins
    for always in (tiny().train(), tiny(teacher_forcing=0.5).eval()):
        state = torch.get_rng_state()
        assert all(always.teacher_forced() for _ in range(5))
        assert torch.equal(torch.get_rng_state(), state)  # no draw at all
    never = tiny(teacher_forcing=0.0).train()
    assert not any(never.teacher_forced() for _ in range(5))
    assert torch.equal(torch.get_rng_state(), state)


# -- configs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("override, message", [
    ("net.encoder_readout='middle'", "net.encoder_readout must be 'top' or 'all', not 'middle'"),
    ("net.beat_input='zeros'", "net.beat_input must be 'z' or 'constant', not 'zeros'"),
    ("net.teacher_forcing=1.5", r"net.teacher_forcing must be a probability in \[0, 1\], not 1.5"),
    ("net.teacher_forcing=-0.1", r"net.teacher_forcing must be a probability in \[0, 1\]"),
    ("net.dropout=1.0", r"net.dropout must be in \[0, 1\), not 1.0"),
    ("net.teacher_forcing='often'", "net.teacher_forcing: expected float"),
])
def test_a_bad_option_fails_with_one_clear_line(override: str, message: str) -> None:
    with pytest.raises(FugatoError, match=message) as error:
        ARVAE(load_config(CONFIG, [override]))
    assert "\n" not in str(error.value)


def test_the_options_reach_the_net_and_the_paper_configs_take_the_references() -> None:
    quick = load_config(CONFIG).net
    assert (quick.encoder_readout, quick.beat_input, quick.teacher_forcing, quick.dropout,
            quick.enc_out) == ("top", "z", 1.0, 0.0, 512)
    for name in PAPER:
        n = load_config(ROOT / "configs" / f"{name}.toml").net
        assert (n.encoder_readout, n.beat_input, n.teacher_forcing, n.dropout,
                n.enc_out) == ("all", "constant", 0.5, 0.5, 256), name
    sets = ["net.encoder_readout=all", "net.beat_input=constant", "net.teacher_forcing=0.25",
            "net.dropout=0.5", "net.enc_hidden=8", "net.enc_out=16", "net.dec_hidden=8",
            "net.z_dim=8", "net.embed=3"]
    vae = ARVAE(load_config(CONFIG, sets)).build_nets()["vae"]
    assert isinstance(vae, MeasureVAE)
    assert (vae.encoder_readout, vae.beat_input, vae.teacher_forcing) == ("all", "constant", 0.25)
    assert vae.enc_mlp[0].in_features == 4 * 8 and vae.beat_rnn.input_size == 1
    assert vae.enc_rnn.dropout == vae.tick_rnn.dropout == 0.5


def test_a_saved_config_without_the_options_loads_with_fugatos_choices() -> None:
    raw = {"model": "arvae", "net": {"z_dim": 32}}
    n = build_config(raw, saved=True).net
    assert (n.encoder_readout, n.beat_input, n.teacher_forcing, n.dropout) == ("top", "z", 1.0,
                                                                               0.0)
    raw["net"] = {"encoder_readout": "all", "teacher_forcing": 0.5}
    n = build_config(raw, saved=True).net
    assert (n.encoder_readout, n.beat_input, n.teacher_forcing) == ("all", "z", 0.5)


def test_a_resumed_run_with_the_references_draws_trains_bit_for_bit_as_one_run(
        tmp_path: Path) -> None:
    """teacher_forcing 0.5 and dropout draw every step: from the trainer's seeded stream, which
    its checkpoints keep, so 4 steps + 4 resumed are 8 steps in one go."""
    from fugato.cli import main

    sets = [f"data.corpora=['folder:{ROOT}/tests/fixtures/tunes/folk']", "data.workers=1",
            "net.embed=4", "net.enc_hidden=8", "net.enc_out=8", "net.z_dim=4",
            "net.dec_hidden=8", "train.batch_size=16", "train.lr_schedule='constant'",
            "train.eval_batches=1", "train.eval_every=4", "train.checkpoint_every=4",
            "net.gamma_warmup_steps=0", "train.max_minutes=100000.0",
            "net.encoder_readout=all", "net.beat_input=constant", "net.teacher_forcing=0.5",
            "net.dropout=0.5"]

    def train(run: Path, steps: int, resume: bool = False) -> None:
        given = ["--resume"] if resume else [str(CONFIG)]
        args = [x for s in [*sets, f"train.max_steps={steps}"] for x in ("--set", s)]
        assert main(["train", *given, "--run-dir", str(run), "--quiet", *args]) == 0

    train(tmp_path / "once", 8)
    train(tmp_path / "twice", 4)
    train(tmp_path / "twice", 8, resume=True)
    once, twice = (torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=False)
                   for name in ("once", "twice"))
    assert once["step"] == twice["step"] == 8
    assert "beat_constant" in once["nets"]["vae"]
    assert all(torch.equal(v, twice["nets"]["vae"][k]) for k, v in once["nets"]["vae"].items())
