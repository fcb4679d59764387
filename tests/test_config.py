from pathlib import Path

import pytest

from fugato.config import build_config, dump_config, load_config, parse_overrides
from fugato.errors import FugatoError

ROOT = Path(__file__).parents[1]


def test_every_shipped_config_loads_and_round_trips_through_toml(tmp_path: Path) -> None:
    configs = sorted((ROOT / "configs").glob("*.toml"))
    assert configs
    for path in configs:
        config = load_config(path)
        again = tmp_path / path.name
        again.write_text(dump_config(config))
        assert load_config(again) == config


def test_overrides_are_typed() -> None:
    config = load_config(ROOT / "configs" / "melody-lm-quick.toml",
                         ["train.lr=0.01", "train.max_steps=7", "data.corpus=essen:china",
                          "train.max_minutes=2"])
    assert config.train.lr == 0.01 and config.train.max_steps == 7
    assert config.data.corpus == "essen:china"
    assert config.train.max_minutes == 2.0


@pytest.mark.parametrize("override, message", [
    ("train.lr", "malformed --set"),
    ("lr=3", "malformed --set"),
    ("train.nope=3", "unknown key train.nope"),
    ("train.max_steps='many'", "train.max_steps: expected int"),
    ("model.x=1", "model cannot be changed"),
])
def test_bad_overrides_fail_with_one_clear_line(override: str, message: str) -> None:
    with pytest.raises(FugatoError, match=message):
        load_config(ROOT / "configs" / "melody-lm-quick.toml", [override])


def test_unknown_model_and_section() -> None:
    with pytest.raises(FugatoError, match="unknown model"):
        build_config({"model": "nope"})
    with pytest.raises(FugatoError, match="unknown config section"):
        build_config({"model": "melody-lm", "trian": {}})


def test_parse_overrides_takes_bare_words_as_strings() -> None:
    assert parse_overrides(["data.corpus=folder:/x/y"]) == {"data": {"corpus": "folder:/x/y"}}
