"""What the command line cannot count on: closed or full standard streams, an OUT that is a
symbolic link, names at the file system's length limit. None costs a traceback or the site."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reportgen import cli
from reportgen.write import NAME_MAX, sibling_name

ROOT = Path(__file__).resolve().parents[1]
RUN = "comparison_across_learning_rates/run_01"
FULL = Path("/dev/full")


@pytest.fixture(scope="module")
def small_tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "results"
    shutil.copytree(sample_tree / RUN, root / RUN)
    return root


def _shell(command: str, redirect: str) -> subprocess.CompletedProcess[str]:
    """``reportgen COMMAND`` with the shell's redirections (``2>&-``, ``>/dev/full``)."""
    program = f"{shlex.quote(sys.executable)} -m reportgen {command} {redirect}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["/bin/sh", "-c", program], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_a_closed_stderr_still_builds_the_site(small_tree: Path, tmp_path: Path) -> None:
    done = _shell(f"build {small_tree} -o {tmp_path / 'site'}", "2>&-")
    assert done.returncode == cli.EXIT_OK
    assert (tmp_path / "site/index.html").is_file()
    assert "site/index.html" in done.stdout


@pytest.mark.slow
def test_check_with_stdout_closed_keeps_its_exit_code(sample_tree: Path) -> None:
    """A closed stdout discards the findings, as ``>/dev/null`` would; the verdict stands."""
    closed = _shell(f"check {sample_tree} --fail-on warning --bootstrap 0", ">&-")
    open_ = _shell(f"check {sample_tree} --fail-on warning --bootstrap 0", "")
    assert closed.returncode == open_.returncode == cli.EXIT_RUNS_FAILED  # a warning fired
    assert closed.stderr == ""


@pytest.mark.slow
@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["check", "build"])
def test_output_to_a_full_device_is_one_line_and_exit_74(
    small_tree: Path, tmp_path: Path, command: str
) -> None:
    args = f"check {small_tree}" if command == "check" else f"build {small_tree} -o {tmp_path}/s"
    done = _shell(args, ">/dev/full")
    assert done.returncode == cli.EXIT_OUTPUT_FAILED == 74
    assert done.stderr.splitlines()[-1] == (
        "reportgen: could not write to standard output: No space left on device"
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    if command == "build":
        assert (tmp_path / "s/index.html").is_file()  # the site itself was written


def test_an_output_that_is_a_link_to_a_directory_is_built_through(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "www" / "entropy"
    target.mkdir(parents=True)
    link = tmp_path / "site"
    link.symlink_to(target)
    for _ in range(2):  # the second build carries the first one's pages over, through the link
        assert cli.main(["build", str(small_tree), "-o", str(link), "-q"]) == cli.EXIT_OK
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "www"]  # nothing left over
    assert sorted(p.name for p in target.parent.iterdir()) == ["entropy"]
    capsys.readouterr()


def test_an_output_link_to_nothing_is_refused_in_one_line(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "site"
    link.symlink_to(tmp_path / "missing")
    assert cli.main(["build", str(small_tree), "-o", str(link)]) == cli.EXIT_USAGE
    # the reportgen logger does not propagate to the root logger caplog listens on
    (message,) = capsys.readouterr().err.splitlines()
    missing = tmp_path / "missing"
    assert message == f"reportgen: output {link} is a symbolic link to {missing}, which is missing"


def test_sibling_names_fit_the_name_limit() -> None:
    for name in ("site", "é" * 120, "x" * 255, "x" * 240 + ".html"):
        for kind in ("staging", "old", "tmp"):
            made = sibling_name(name, kind, 4_194_304)
            assert len(os.fsencode(made)) <= NAME_MAX
            assert made.endswith(f".{kind}-4194304")
    assert sibling_name("site", "staging", 7) == ".site.staging-7"  # short names as before
    assert sibling_name("x" * 250, "old", 7) != sibling_name("x" * 249 + "y", "old", 7)


@pytest.mark.parametrize("length", [200, NAME_MAX])
def test_outputs_named_at_the_length_limit_are_written(
    small_tree: Path, tmp_path: Path, length: int, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("s" * length)
    assert cli.main(["build", str(small_tree), "-o", str(out), "-q"]) == cli.EXIT_OK
    assert (out / "index.html").is_file()
    single = tmp_path / ("r" * (length - 5) + ".html")
    args = ["build", str(small_tree), "--single-file", RUN, "-o", str(single), "-q"]
    assert cli.main(args) == cli.EXIT_OK
    assert single.read_bytes().startswith(b"<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, single.name])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["id"] for r in manifest["runs"]] == [RUN]
    capsys.readouterr()
