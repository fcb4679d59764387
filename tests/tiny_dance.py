"""A tiny dual music-dance run on 5 real dances x 6 s (10 steps): for the tests that need a
trained dualdance checkpoint (the command-line tools, the studio's Dance view)."""

from __future__ import annotations

from pathlib import Path

from shared_data import DATA, needs

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "configs" / "dualdance-quick.toml"
TANG = DATA / "dance_tang2018"
NAMES = ["DANCE_C_1", "DANCE_C_2", "DANCE_C_3", "DANCE_C_4", "DANCE_C_6"]  # 3 / 1 / 1 by dance
needs_tang = needs("dance_tang2018/DANCE_C_6.mp3")
TINY = [f"data.names={NAMES}", "data.max_seconds=6.0", "data.workers=1", "data.train_stride=25",
        "net.d_model=16", "net.heads=2", "net.ff=32", "net.enc_layers=1", "net.dec_layers=1",
        "net.seed_dim=4", "train.max_steps=10", "train.batch_size=4", "train.log_every=5",
        "train.eval_every=5", "train.checkpoint_every=5", "train.warmup_steps=0",
        "train.max_minutes=2.0", "sample.diversity_starts=3", "sample.gif_seconds=2.0"]


def train_tiny(run: Path) -> Path:
    """Train the tiny run into `run` through the command line; returns `run`."""
    from fugato.cli import main

    args = ["train", str(CONFIG), "--run-dir", str(run), "--quiet", "--device", "cpu"]
    for pair in TINY:
        args += ["--set", pair]
    assert main(args) == 0
    return run
