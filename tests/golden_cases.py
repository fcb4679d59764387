"""The nine model kinds at tiny sizes, for the golden tests (`tests/test_golden.py`).

Each case is a quick config plus overrides: a few training steps on small data that ships in
`tests/fixtures/tunes/` (melody models) or in the shared data folder (MNIST, the Tang dances,
music21's Bach chorales). `tests/fixtures/make_golden.py` trained every case once on the code
before the redesign and kept its checkpoint (`tests/fixtures/runs/<kind>/`), its training log
and its `eval.json` (`tests/golden/<kind>.json`); the tests train and evaluate again and must
find the same numbers.

Paths are relative to the repository root: the tests and the maker run there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).parents[1]
FOLK = "folder:tests/fixtures/tunes/folk"
JAZZ = "folder:tests/fixtures/tunes/jazz"
GOLDEN = ROOT / "tests" / "golden"
FIXTURES = ROOT / "tests" / "fixtures" / "runs"
NEVER = "train.max_minutes=100000.0"  # no time budget: a run must not depend on the clock
TRAINING_KEYS = ("steps_done", "steps_planned", "stopped_early")
"""eval.json keys added after the numbers were recorded (how far training went): the golden
tests check them apart."""

MACHINES = GOLDEN / "machines.json"
"""The machines (`machine()`) on which the record is known to reproduce bit for bit."""
ACROSS_MACHINES = 5e-3
"""Relative tolerance, on other machines, on what a user sees: the training log, `eval.json`
and samples (values within it of the sample's largest). float32 kernels are chosen by CPU (MKL
takes other paths on AMD than on Intel, ATen and oneDNN by instruction set), so sums round
otherwise in their last bits. What a user sees moves little: on an AMD EPYC with ATen, MKL and
oneDNN forced to each instruction set (default/SSE4.2, AVX2, AVX-512) the largest gap was 7e-4
(a FusionGAN reward of 0.094 after its adversarial steps), 4e-5 everywhere else. Weights and
optimizer states are compared only where the machine is exact: adversarial training carries a
last-bit difference to 0.2% of a weight and 30% of a near-zero Adam moment in a few steps."""
TIMING_KEYS = {"elapsed_s", "stage2_seconds", "hmm_seconds", "gmm_seconds"}
"""Numbers that measure the clock, not the model (left out of every comparison)."""


@dataclass(frozen=True)
class Case:
    kind: str
    config: str
    overrides: tuple[str, ...]
    sample: dict[str, Any] | None
    """Keyword arguments of `Run.sample` for the sampled digest (besides n and seed); None for
    a model that does not sample (the separator)."""
    needs: str | None = None
    """A shared data folder the case reads (skipped without it)."""

    def config_path(self) -> Path:
        return ROOT / "configs" / self.config


CASES = [
    Case("melody-lm", "melody-lm-quick.toml", (
        f"data.corpus='{FOLK}'", "data.workers=1", "net.hidden=32", "net.embed=16",
        "net.layers=1", "train.batch_size=16", "train.eval_batches=2", "sample.eval_samples=20",
        "train.max_steps=30", "train.log_every=10", "train.eval_every=15",
        "train.checkpoint_every=30", NEVER), {}),
    Case("arvae", "arvae-folk-quick.toml", (
        f"data.corpora=['{FOLK}']", "data.workers=1", "net.embed=4", "net.enc_hidden=16",
        "net.enc_layers=1", "net.enc_out=32", "net.z_dim=8", "net.dec_hidden=24",
        "net.dec_layers=1", "train.batch_size=64", "train.lr=0.003", "train.log_every=10",
        "train.eval_batches=2", "sample.eval_bars=200", "sample.traversal_bars=10",
        "net.gamma_warmup_steps=20", "train.max_steps=40", "train.eval_every=20",
        "train.checkpoint_every=40", NEVER), {}),
    Case("fusiongan", "fusion-quick.toml", (
        f"data.genre_a='{JAZZ}'", f"data.genre_b='{FOLK}'", "net.mle_weight=0.5",
        "net.hidden=16", "net.embed=8", "net.critic_embed=16", "net.critic_filters=16",
        "net.rollouts=2", "net.pretrain_steps=8", "net.genre_steps=4", "train.max_steps=16",
        "train.batch_size=8", "train.eval_batches=2", "train.log_every=4",
        "train.eval_every=8", "train.checkpoint_every=16", "sample.eval_windows=40", NEVER),
        {"generator": "F"}),
    Case("iml", "iml-mnist-quick.toml", (
        "data.limit=400", "data.n_valid=100", "data.n_test=200", "net.latent=3",
        "net.hidden=32", "net.components=3", "net.base_iter=10", "net.critic_rounds=2",
        "net.sweep_methods=[]", "net.sweep_latents=[]", "net.exact_loglik=false",
        "train.max_steps=30", "train.batch_size=50", "train.log_every=10",
        "train.eval_every=30", "train.eval_batches=1", "train.checkpoint_every=30",
        "sample.eval_samples=50", NEVER), {}, needs="mnist"),
    Case("iml-melody", "iml-melody-quick.toml", (
        f"data.corpora=['{FOLK}']", "net.embed=4", "net.enc_hidden=16", "net.enc_layers=1",
        "net.enc_out=32", "net.z_dim=4", "net.dec_hidden=24", "net.dec_layers=1",
        "net.states=4", "net.components=4", "net.hmm_iter=10", "net.gmm_iter=10",
        "data.transpose=false", "train.max_steps=30", "train.batch_size=64", "train.lr=0.003",
        "train.log_every=10", "train.eval_every=30", "train.eval_batches=1",
        "train.checkpoint_every=30", "sample.eval_samples=8", "sample.temperature=1.0", NEVER),
        {"generator": "hmm"}),
    Case("iml-audio", "iml-audio-quick.toml", (
        f"data.corpus='{FOLK}'", "data.train_seconds=6.0", "data.valid_seconds=1.0",
        "data.test_seconds=2.0", "data.max_tune_seconds=2.0", "net.latent=8",
        "net.channels=[4, 8, 8]", "net.states=3", "net.components=2", "net.hmm_iter=5",
        "net.gmm_iter=5", "train.max_steps=20", "train.batch_size=16", "train.log_every=10",
        "train.eval_every=20", "train.eval_batches=1", "train.checkpoint_every=20",
        "sample.seconds=1.0", "sample.eval_samples=1", NEVER), {}),
    Case("factorgan", "factorgan-digits-quick.toml", (
        # recorded with the reference code's pairing (the default before data.pairing)
        "data.limit=300", "data.lambdas=[0.5]", "data.paired=[10]", "data.pairing='reference'",
        "net.hidden=16", "net.disc_hidden=16", "net.noise=8", "train.max_steps=12",
        "train.batch_size=16",
        "train.log_every=4", "train.checkpoint_every=12", "train.device='cpu'",
        "sample.eval_samples=200", "sample.classifier_steps=12", "sample.grid=4", NEVER),
        {"generator": "factorgan/0.5/10"}, needs="mnist"),
    Case("factorgan-separation", "factorgan-separation-quick.toml", (
        "data.n_test=1", "data.n_train=2", "data.paired=[1]", "data.workers=1",
        "net.channels=2", "net.depth=4", "net.convs=1", "net.max_channels=4", "net.noise=4",
        "net.disc_filters=2", "train.max_steps=3", "train.batch_size=2", "train.log_every=1",
        "train.checkpoint_every=3", "train.device='cpu'", "sample.batch=8",
        "sample.plot_seconds=1.0", "sample.eval_seconds=5.0", NEVER), None),
    Case("dualdance", "dualdance-quick.toml", (
        # recorded with the cycles and means of before net.cycle_* and net.loss_reduction
        "net.cycle_feedback=false", "net.cycle_routing='both'", "net.loss_reduction='mean'",
        "data.names=['DANCE_C_1', 'DANCE_C_2', 'DANCE_C_3', 'DANCE_C_4', 'DANCE_C_6']",
        "data.max_seconds=6.0", "data.workers=1", "data.train_stride=25", "net.d_model=16",
        "net.heads=2", "net.ff=32", "net.enc_layers=1", "net.dec_layers=1", "net.seed_dim=4",
        "train.max_steps=10", "train.batch_size=4", "train.log_every=5", "train.eval_every=5",
        "train.checkpoint_every=10", "train.warmup_steps=0", "train.device='cpu'",
        "sample.diversity_starts=3", "sample.gif_seconds=2.0", NEVER), {},
        needs="dance_tang2018"),
]
BY_KIND = {case.kind: case for case in CASES}


def machine() -> str:
    """What decides float32 results on a CPU: its vendor, the instruction set ATen uses, torch."""
    import platform

    import torch

    vendor = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        vendor = next((line.split(":", 1)[1].strip() for line in
                       cpuinfo.read_text().splitlines() if line.startswith("vendor_id")),
                      vendor)
    return (f"{platform.machine()} {vendor} {torch.backends.cpu.get_cpu_capability()} "
            f"torch {torch.__version__}")


def exact() -> bool:
    """True on a machine the record is known to reproduce on bit for bit."""
    machines = json.loads(MACHINES.read_text())["exact_on"] if MACHINES.is_file() else []
    return machine() in machines


def tolerance() -> float:
    """0 (bit for bit) on an exact machine, else ACROSS_MACHINES."""
    return 0.0 if exact() else ACROSS_MACHINES


# -- what is compared ----------------------------------------------------------------------------
def training_log(run: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without its clock readings."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def optimizer_digest(optimizers: dict[str, Any]) -> dict[str, Any]:
    """Sum and sum of squares (float64) of every tensor of every optimizer's state: the
    fixture keeps weights only (small files), the golden file these two numbers each."""
    import torch

    out: dict[str, Any] = {}
    for name, state in optimizers.items():
        for index, slots in state["state"].items():
            for slot, value in slots.items():
                t = torch.as_tensor(value, dtype=torch.float64)
                out[f"{name}/{index}/{slot}"] = [float(t.sum()), float((t**2).sum())]
    return out


def sample_digest(samples: Any) -> dict[str, Any]:
    """Every number of a few samples, whatever their type: melodies (pitches, onsets and
    durations of each), or an array or tensor (its values, at most 4,096 of them evenly
    spaced, plus the sum and the sum of squares of all)."""
    if isinstance(samples, list) and samples and hasattr(samples[0], "pitches"):
        return {"melodies": [{"pitches": m.pitches.tolist(), "onsets": m.onsets.tolist(),
                              "durations": m.durations.tolist()} for m in samples]}
    from fugato.samples import Audio, Dances, Images

    # today's typed samples hold the arrays that models returned before the redesign
    if isinstance(samples, Images):
        samples = samples.pixels
    elif isinstance(samples, Dances):
        samples = samples.frames
    elif isinstance(samples, Audio):
        samples = samples.clips
    values = np.asarray(samples.detach().cpu() if hasattr(samples, "detach") else samples,
                        dtype=np.float64)
    flat = values.ravel()
    keep = np.unique(np.linspace(0, len(flat) - 1, min(len(flat), 4096)).astype(int))
    return {"shape": list(values.shape), "sum": float(flat.sum()),
            "sum_sq": float((flat**2).sum()), "values": flat[keep].tolist() if len(flat) else []}


def portable(tree: Any) -> Any:
    """`tree` with the repository's path written as `$ROOT` in every string (corpus names hold
    resolved folders; a clone elsewhere must compare equal)."""
    if isinstance(tree, dict):
        return {k: portable(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [portable(v) for v in tree]
    return tree.replace(str(ROOT), "$ROOT") if isinstance(tree, str) else tree


def sample_differences(expected: Any, actual: Any, rel: float = 0.0) -> list[str]:
    """`differences` of two sample digests; across machines (`rel` > 0) an array's values
    within `rel` of its largest value (a value near zero has no relative digits to keep)."""
    if not rel or "values" not in expected:
        return differences(expected, actual, "/sample", rel)
    scale = max((abs(v) for v in expected["values"]), default=0.0)
    out = differences({k: v for k, v in expected.items() if k != "values"},
                      {k: v for k, v in actual.items() if k != "values"}, "/sample", rel)
    if len(expected["values"]) != len(actual.get("values", [])):
        return [*out, "/sample/values: lengths differ"]
    return out + [f"/sample/values[{i}]: {a!r}, expected {e!r}"
                  for i, (e, a) in enumerate(zip(expected["values"], actual["values"],
                                                 strict=True))
                  if not math.isclose(e, a, rel_tol=0.0, abs_tol=rel * scale)]


def optimizer_differences(expected: dict[str, Any], actual: dict[str, Any],
                          rel: float = 0.0) -> list[str]:
    """`differences` of two optimizer digests; across machines (`rel` > 0) of the sums of
    squares only, since a state's plain sum (momenta of either sign) cancels to near zero and
    keeps no digit of its own."""
    if not rel:
        return differences(expected, actual)
    return differences({k: v[1] for k, v in expected.items()},
                       {k: v[1] for k, v in actual.items()}, rel=rel)


def differences(expected: Any, actual: Any, path: str = "", rel: float = 0.0) -> list[str]:
    """Where two JSON-like trees differ: numbers exactly (or within `rel` relative), NaN equal
    to NaN, strings, keys and lengths exactly."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}/{k}: missing" for k in expected if k not in actual]
        out += [f"{path}/{k}: unexpected" for k in actual if k not in expected]
        for k in expected:
            if k in actual and k not in TIMING_KEYS:
                out += differences(expected[k], actual[k], f"{path}/{k}", rel)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)}, expected {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{path}[{i}]", rel)]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) \
            and not isinstance(expected, bool) and not isinstance(actual, bool):
        if math.isnan(expected) and math.isnan(actual):
            return []
        # across machines, probabilities far below float32's resolution (1e-58) carry no digit
        if expected == actual or (rel and math.isclose(expected, actual, rel_tol=rel,
                                                       abs_tol=1e-12)):
            return []
        return [f"{path}: {actual!r}, expected {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r}, expected {expected!r}"]
