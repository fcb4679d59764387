"""Typed experiment configs, read from and written to TOML.

A config file names a model and holds four tables:

    model = "melody-lm"
    [data]   # the model's DataConfig
    [net]    # the model's NetConfig
    [train]  # TrainConfig, shared by every model
    [sample] # the model's SampleConfig

`--set section.key=value` overrides any field; values are parsed as TOML and checked against
the field's type, so a typo fails with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fugato.errors import FugatoError

if typing.TYPE_CHECKING:
    from fugato.music.corpora import Corpus

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class TrainConfig:
    """How the trainer runs; the same for every model."""

    max_steps: int = 1000
    batch_size: int = 64
    """Per process: under torchrun the global batch is batch_size x world size."""
    lr: float = 1e-3
    lr_schedule: str = "constant"
    """"constant", or "cosine": from `lr` down to `lr * min_lr_ratio` at `max_steps`."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to `lr` over these steps (both schedules)."""
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    log_every: int = 50
    eval_every: int = 250
    eval_batches: int = 20
    checkpoint_every: int = 250
    seed: int = 0
    device: str = "auto"
    """"auto" (CUDA when present, else CPU), "cpu", "cuda", "cuda:1", ..."""
    max_minutes: float | None = None
    """Optional wall-clock budget: training stops (and checkpoints) when it is spent."""
    threads: int | None = None
    """CPU threads; None follows the cores other processes leave free (`fugato.threads`)."""


@dataclass
class CorpusConfig:
    """The fields every data config that reads named corpora shares (a model's DataConfig
    derives from it and adds its own)."""

    split_seed: int = 0
    """Seed of the train/valid/test split, which is by tune."""
    workers: int | None = None
    """Processes for a cold corpus build (default: all cores)."""

    def load(self, name: str, progress: bool = False) -> Corpus:
        """Corpus `name` split by `split_seed`, from the cache when it is up to date."""
        from fugato.music.corpora import load_corpus

        return load_corpus(name, workers=self.workers, seed=self.split_seed, progress=progress)


@dataclass
class ExperimentConfig:
    model: str
    data: Any
    net: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model}
        for section in ("data", "net", "train", "sample"):
            value = getattr(self, section)
            if value is not None:
                out[section] = _drop_none(dataclasses.asdict(value))
        return out


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: a None field is left out and takes its default when read back."""
    return {k: (_drop_none(v) if isinstance(v, dict) else v) for k, v in d.items() if v is not None}


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Coerce `value` (from TOML) to `annotation`, or raise a one-line FugatoError."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_type(value, option, where)
            except FugatoError as e:
                errors.append(str(e))
        raise FugatoError(errors[0] if errors else f"{where}: bad value {value!r}")
    if annotation is Any:
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise FugatoError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        inner = args[0] if args else Any
        return origin(_check_type(v, inner, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise FugatoError(f"{where}: expected a table, got {value!r}")
        return value
    if isinstance(annotation, type):
        if isinstance(value, annotation) and not (annotation is int and isinstance(value, bool)):
            return value
        raise FugatoError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type, values: dict[str, Any], section: str) -> Any:
    """Build dataclass `cls` from a dict, rejecting unknown keys and mistyped values."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise FugatoError(
            f"unknown key {section}.{unknown[0]} (known: {', '.join(sorted(names))})"
        )
    checked = {k: _check_type(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    return cls(**checked)


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`["train.lr=3e-4", "data.corpus='essen:china'"]` -> {"train": {"lr": 0.0003}, ...}.

    Values are TOML; a bare word that is not valid TOML is taken as a string.
    """
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot or not section or not name:
            raise FugatoError(f"malformed --set {pair!r}: expected section.key=value")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        out.setdefault(section, {})[name] = value
    return out


def build_config(raw: dict[str, Any], overrides: list[str] | None = None,
                 saved: bool = False) -> ExperimentConfig:
    """Typed config from a TOML dict plus `--set` overrides, using the model's dataclasses.
    `saved`: the config of a saved run, whose missing fields that were added after it take
    the values it was trained with (the model's `SAVED_DEFAULTS`), not today's defaults."""
    from fugato.registry import canonical, get_model

    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    if saved and "model" in raw:
        for section, values in getattr(get_model(raw["model"]), "SAVED_DEFAULTS", {}).items():
            raw[section] = {**values, **raw.get(section, {})}
    for section, values in parse_overrides(overrides or []).items():
        if section == "model":
            raise FugatoError("the model cannot be changed with --set; use another config")
        raw.setdefault(section, {}).update(values)
    if "model" not in raw:
        raise FugatoError("config has no `model = \"...\"` line")
    model_cls: Any = get_model(raw["model"])  # a Task subclass
    known = {"model", "data", "net", "train", "sample"}
    extra = sorted(set(raw) - known)
    if extra:
        raise FugatoError(
            f"unknown config section {extra[0]!r} (known: {', '.join(sorted(known))})"
        )
    return ExperimentConfig(
        model=canonical(raw["model"]),
        data=from_dict(model_cls.DataConfig, raw.get("data", {}), "data"),
        net=from_dict(model_cls.NetConfig, raw.get("net", {}), "net"),
        train=from_dict(TrainConfig, raw.get("train", {}), "train"),
        sample=from_dict(model_cls.SampleConfig, raw.get("sample", {}), "sample"),
    )


def load_config(path: str | Path, overrides: list[str] | None = None,
                saved: bool = False) -> ExperimentConfig:
    """The config of a TOML file (`saved`: a run's config.toml, see `build_config`)."""
    path = Path(path)
    if not path.is_file():
        raise FugatoError(f"{path}: config file not found")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise FugatoError(f"{path}: not a valid TOML file ({e})") from None
    return build_config(raw, overrides, saved)


def dump_config(config: ExperimentConfig) -> str:
    import tomli_w

    return tomli_w.dumps(config.to_dict())
