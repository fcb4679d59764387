"""Train the shipped models again from their configs and rewrite their folders and cards.

    FUGATO_DATA=../shared/data python -m fugato.pretrained.build [NAME ...] [--jobs 2]

(`make pretrained` runs it for all.) Each model trains and evaluates in its own processes
with one CPU thread (a fixed count: the same machine gives the same weights bit for bit),
into `runs/pretrained/<name>/` (kept, so that a second call only repacks). Its weights are then
packed for the package: no optimizer or RNG state, float16 unless that moves a headline
number of the held-out check set beyond the number's tolerance (`checks.CHECKS`). Rebuild
rarely: every rebuild adds the models' size to the repository's history.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fugato import __version__
from fugato.atomic import write_text
from fugato.errors import FugatoError
from fugato.pretrained import BY_NAME, SHIPPED, Shipped, folder, size
from fugato.pretrained.checks import CHECKS, Check, HeldOut
from fugato.train.checkpoint import load_checkpoint, save_checkpoint, saved_state
from fugato.train.run import Run
from fugato.train.seeds import train_and_eval

CONFIGS = Path(__file__).parents[2] / "configs"
MAX_MB, TOTAL_MB = 4.0, 25.0
"""Size limits of one model folder and of all of them."""


def train(model: Shipped, work: Path) -> Path:
    """The training run of `model` under `work` (trained and evaluated unless it is there)."""
    run = work / model.name
    # no time budget: a config's `max_minutes` would stop it early on a busy machine
    problem = train_and_eval(CONFIGS / model.config, 0, run, work / f"{model.name}.log",
                             [*model.sets, "train.max_minutes=inf"], threads=1)
    if problem:
        raise FugatoError(f"{model.name}: {problem}")
    return run


def pack(model: Shipped, run_dir: Path) -> dict[str, Any]:
    """Write the package folder of `model` from its training run; its card.json dict."""
    trained = Run.load(run_dir, device="cpu")
    check = CHECKS[trained.config.model]
    held = check.held_out(trained)
    full = check.measure(trained, held)
    out = folder(model.name)
    shutil.rmtree(out, ignore_errors=True)
    (out / "checkpoints").mkdir(parents=True)
    shutil.copy(run_dir / "config.toml", out / "config.toml")
    save_npz: Any = np.savez_compressed  # numpy's stub types the keyword arrays as options
    save_npz(out / "check.npz", **held)
    half = True
    _write_weights(run_dir, out, half)
    shipped = check.measure(Run.load(out, device="cpu"), held)
    if not _within(shipped, full, check):
        half = False
        _write_weights(run_dir, out, half)
        shipped = check.measure(Run.load(out, device="cpu"), held)
    card = _card(model, trained, run_dir, check, held, shipped, full, half)
    write_text(out / "card.json", json.dumps(card, indent=1) + "\n")
    write_text(out / "card.md", card_markdown(card))
    return card


def _write_weights(run_dir: Path, out: Path, half: bool) -> None:
    """Config, step, saved state and weights (float16 with `half`) of the run's last
    checkpoint into `out`."""
    payload = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    nets = {name: {k: v.half() if half and v.is_floating_point() else v
                   for k, v in state.items()} for name, state in payload["nets"].items()}
    save_checkpoint(out / "checkpoints" / "last.pt",
                    {"config": payload["config"], "step": payload["step"], "nets": nets,
                     "saved_state": saved_state(payload)})


def _within(numbers: dict[str, float], reference: dict[str, float], check: Check) -> bool:
    return all(abs(numbers[k] - reference[k]) <= check.tolerance[k] for k in check.tolerance)


def _card(model: Shipped, trained: Run, run_dir: Path, check: Check, held: HeldOut,
          shipped: dict[str, float], full: dict[str, float], half: bool) -> dict[str, Any]:
    results = json.loads((run_dir / "eval.json").read_text())
    command = " ".join(["fugato train", f"configs/{model.config}",
                        *[f"--set {s}" for s in [*model.sets, "train.max_minutes=inf"]],
                        "--threads 1"])
    return {
        "name": model.name, "model": trained.config.model, "description": model.description,
        "data": model.data, "licence": model.licence, "config": f"configs/{model.config}",
        "sets": list(model.sets), "steps": trained.step, "float16": half,
        "fugato_version": __version__, "command": f"{command}; fugato eval RUN",
        "eval": {key: _lookup(results, key) for key in check.card_keys},
        "check": {"items": {k: len(v) for k, v in held.items()}, "numbers": shipped,
                  "float32_numbers": full, "tolerance": check.tolerance},
    }


def _lookup(tree: dict[str, Any], key: str) -> Any:
    """tree["a"]["b"] for key "a/b"."""
    for part in key.split("/"):
        tree = tree[part]
    return tree


def _items(items: dict[str, int]) -> str:
    if not items:
        return "the model's own draws (seed 0)"
    return ", ".join(f"{n:,} held-out {k}" for k, n in items.items()) + " in `check.npz`"


def card_markdown(card: dict[str, Any]) -> str:
    """card.md from card.json."""
    def value(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    rows = "\n".join(f"| {k} | {value(v)} |" for k, v in card["eval"].items())
    checked = "\n".join(f"| {k} | {value(v)} | {value(card['check']['float32_numbers'][k])} | "
                        f"{value(card['check']['tolerance'][k])} |"
                        for k, v in card["check"]["numbers"].items())
    return f"""# {card['name']}

{card['description']}.

- **Model**: `{card['model']}`, trained from `{card['config']}`{' with ' + ', '.join(
        f'`{s}`' for s in card['sets']) if card['sets'] else ''} for {card['steps']:,} steps,
  one CPU thread, seed 0; weights in {'float16' if card['float16'] else 'float32'}.
- **Data**: {card['data']}.
- **Licence of the data**: {card['licence']}.
- **Made by**: `{card['command']}` (fugato {card['fugato_version']}); `make pretrained`
  rebuilds it.

## Evaluation of the training run (`fugato eval`, full held-out set)

| number | value |
| --- | --- |
{rows}

## Check set: {_items(card['check']['items'])}

The tests recompute these from the shipped weights and need them within the tolerance.

| number | shipped weights | float32 weights | tolerance |
| --- | --- | --- | --- |
{checked}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"default: all ({', '.join(BY_NAME)})")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at a time")
    parser.add_argument("--work", default="runs/pretrained", help="folder of the training runs")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BY_NAME]
    if unknown:
        print(f"unknown shipped models {unknown} (known: {list(BY_NAME)})", file=sys.stderr)
        return 2
    models = [BY_NAME[n] for n in args.names] if args.names else list(SHIPPED)
    torch.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(lambda m: train(m, Path(args.work)), models))
    for model, run in zip(models, runs, strict=True):
        card = pack(model, run)
        megabytes = size(model.name) / 2**20
        print(f"{model.name}: {megabytes:.1f} MB, check {card['check']['numbers']}")
        if megabytes > MAX_MB:
            raise FugatoError(f"{model.name}: {megabytes:.1f} MB, over {MAX_MB} MB")
    total = size() / 2**20
    if total > TOTAL_MB:
        raise FugatoError(f"shipped models: {total:.1f} MB together, over {TOTAL_MB} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
