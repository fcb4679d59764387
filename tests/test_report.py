"""Comparisons over runs: grouping by name, medians, box plots, the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fugato.errors import FugatoError
from fugato.report import compare_runs, flatten_numbers, run_group
from fugato.train.seeds import parse_variant, run_folder


def test_run_group_strips_only_a_numeric_seed_suffix() -> None:
    assert run_group(Path("runs/arvae-folk-quick-seed12")) == "arvae-folk-quick"
    assert run_group(Path("runs/arvae-seedless")) == "arvae-seedless"
    assert run_group(Path("runs/demo")) == "demo"


def test_variants_name_their_overrides_and_run_folders() -> None:
    assert parse_variant("neither:net.gw_weight=0,net.cycle_weight=0") == (
        "neither", ["net.gw_weight=0", "net.cycle_weight=0"])
    assert parse_variant("both:") == ("both", [])
    assert parse_variant("g0.1-d10:net.gamma=0.1") == ("g0.1-d10", ["net.gamma=0.1"])
    folder = run_folder(Path("out"), Path("configs/dd-quick.toml"), 2, "gw_only")
    assert folder == Path("out/dd-quick-gw_only-seed2") and run_group(folder) == "dd-quick-gw_only"
    for bad in ("noname", ":x=1", "a b:x=1", "a/b:x=1", "a:x"):
        with pytest.raises(FugatoError, match="variant"):
            parse_variant(bad)


def _fake_run(root: Path, name: str, **metrics: float) -> Path:
    run = root / name
    run.mkdir()
    (run / "eval.json").write_text(json.dumps({"model": "x", "step": 10, **metrics,
                                               "per_attribute": {"a": {"mig": 1.0}}}))
    return run


def test_compare_runs_with_only_nested_numbers_writes_tables_without_a_plot(
        tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path, f"sep-seed{s}") for s in (0, 1)]  # only per_attribute/a/mig
    result = compare_runs(runs, tmp_path / "out")
    assert result["metrics"] == [] and result["summary"]["sep"]["per_attribute/a/mig"] == [1, 0]
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert "per_attribute/a/mig" in text and "box plots" not in text
    assert not (tmp_path / "out" / "comparison.png").exists()


def test_compare_groups_seeds_and_takes_medians(tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path, "ar-seed0", mig=0.5, sap=0.1),
            _fake_run(tmp_path, "ar-seed1", mig=0.7, sap=0.3),
            _fake_run(tmp_path, "ar-seed2", mig=0.9, sap=0.2),
            _fake_run(tmp_path, "beta-seed0", mig=0.1, sap=0.0)]
    result = compare_runs(runs, tmp_path / "out")
    assert result["groups"]["ar"]["mig"] == [0.5, 0.7, 0.9]
    assert result["medians"]["ar"] == {"mig": pytest.approx(0.7), "sap": pytest.approx(0.2)}
    assert result["medians"]["beta"]["mig"] == pytest.approx(0.1)
    assert (tmp_path / "out" / "comparison.png").stat().st_size > 1000
    md = (tmp_path / "out" / "comparison.md").read_text()
    assert "| ar | 3 |" in md
    # nested numbers are summarised by path, mean and sd over the group's runs
    assert result["summary"]["ar"]["per_attribute/a/mig"] == [1.0, 0.0]
    assert result["summary"]["ar"]["mig"] == pytest.approx([0.7, 0.1633], abs=1e-4)
    assert "per_attribute/a/mig" in md and "0.7 ± 0.16" in md
    with pytest.raises(FugatoError, match="nope"):
        compare_runs(runs, tmp_path / "out", ["mig", "nope"])


def test_trade_off_plots_each_groups_means_and_names_a_missing_number(tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path, f"g{g}d{d}-seed0", mig=0.2 * g, sap=0.1 * d)
            for g in (1, 2) for d in (1, 3)]
    compare_runs(runs, tmp_path / "out", trade_off=["sap", "mig"])
    assert (tmp_path / "out" / "trade-off.png").stat().st_size > 1000
    assert "![mig against sap](trade-off.png)" in (tmp_path / "out" / "comparison.md").read_text()
    with pytest.raises(FugatoError, match="recon"):
        compare_runs(runs, tmp_path / "again", trade_off=["recon", "mig"])


def test_compare_command_needs_evaluated_runs(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    done = subprocess.run([sys.executable, "-m", "fugato.cli", "compare", str(tmp_path / "bare"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and "no eval.json" in done.stderr
    assert "Traceback" not in done.stderr


def test_flatten_numbers_keeps_numbers_by_path() -> None:
    nested = {"a": 1, "b": {"c": 2.5, "d": {"e": 3}}, "s": "text", "l": [1, 2], "t": True}
    assert flatten_numbers(nested) == {"a": 1.0, "b/c": 2.5, "b/d/e": 3.0}


def test_pairs_plots_every_runs_numbers_against_each_other(tmp_path: Path) -> None:
    """AR-VAE's Fig. 4: a point per run, coloured by group; fewer than two numbers is refused."""
    runs = [_fake_run(tmp_path, f"{name}-seed{s}", mig=m + 0.1 * s, sap=m / 2 + 0.05 * s)
            for name, m in (("ar", 0.6), ("beta", 0.2)) for s in (0, 1, 2)]
    compare_runs(runs, tmp_path / "out", pairs=["mig", "sap"])
    assert (tmp_path / "out" / "pairs.png").stat().st_size > 1000
    assert "(pairs.png)" in (tmp_path / "out" / "comparison.md").read_text()
    with pytest.raises(FugatoError, match="two"):
        compare_runs(runs, tmp_path / "again", pairs=["mig"])
    with pytest.raises(FugatoError, match="recon"):
        compare_runs(runs, tmp_path / "again", pairs=["mig", "recon"])
