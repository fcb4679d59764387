"""The command line: bad input gives one line on stderr and exit code 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def fugato(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fugato.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("args, needle", [
    (("sample", "no/such/run", "--out", "x"), "no/such/run: run folder not found"),
    (("eval", "no/such/run"), "no/such/run: run folder not found"),
    (("data", "build", "nosuchcorpus"), "nosuchcorpus"),
    (("train", "configs/melody-lm-quick.toml", "--set", "train.lr"), "malformed --set"),
    (("train", "configs/melody-lm-quick.toml", "--set", "train.bogus=1"), "unknown key"),
    (("train", "no/such.toml"), "no/such.toml: config file not found"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_code_2(args: tuple[str, ...], needle: str) -> None:
    done = fugato(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    assert "Traceback" not in done.stderr


def test_data_list_names_the_corpora() -> None:
    done = fugato("data", "list")
    assert done.returncode == 0, done.stderr
    for name in ("essen", "oneills", "ryans", "bach-soprano", "wjazzd", "folder:"):
        assert name in done.stdout


@pytest.mark.parametrize("args, needle", [
    (("sample", "run", "-n", "-1", "--out", "x"), "argument -n: -1 is below 1"),
    (("sample", "run", "-n", "many", "--out", "x"), "argument -n: 'many' is not a whole number"),
    (("arvae", "traverse", "run", "--steps", "0"), "argument --steps: 0 is below 1"),
    (("arvae", "traverse", "run", "--bar", "-2"), "argument --bar: -2 is below 0"),
    (("dance", "choreograph", "run", "--seconds", "-3"), "-3 seconds: expected a positive"),
    (("seeds", "a.toml", "--jobs", "0"), "argument --jobs: 0 is below 1"),
])
def test_counts_are_checked_by_the_parser(args: tuple[str, ...], needle: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from fugato.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
