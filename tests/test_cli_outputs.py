"""Where the command line writes and what it says when it cannot: ``--single-file`` over its own
earlier output, ``demo --tree``, and error messages that name what the user gave."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reportgen import cli
from reportgen.demo.cv_batch import CV_BATCH_BASE
from tests.test_cli_findings import FAST, RUN, batch_tree

OTHER_RUN = f"{CV_BATCH_BASE}/run_02"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's CV batch (read-only: copy it to change it)."""
    return batch_tree(tmp_path_factory.mktemp("batch") / "results")


def _single(tree: Path, out: Path, run: str, *extra: str) -> list[str]:
    return ["build", str(tree), "-o", str(out), *FAST, "-q", "--single-file", run, *extra]


# --- --single-file over an existing file -------------------------------------------------------


def test_single_file_replaces_its_own_earlier_page(tree: Path, tmp_path: Path) -> None:
    page = tmp_path / "run01b.html"
    assert cli.main(_single(tree, page, RUN)) == 0
    assert cli.main(_single(tree, page, OTHER_RUN)) == 0  # a page of ours: replaced, no --force
    assert (
        "run_02" in page.read_text() and "Run next_runner/cv_batch/run_01" not in page.read_text()
    )
    assert cli.main(_single(tree, page, RUN, "--force")) == 0
    assert "Run next_runner/cv_batch/run_01" in page.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run01b.html"]  # no temporary left


def test_single_file_replaces_another_file_only_with_force(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<!DOCTYPE html><html><p>my notes</p></html>")
    assert cli.main(_single(tree, notes, RUN)) == 2
    err = capsys.readouterr().err
    assert str(notes) in err and "--force" in err and "exists" not in err.split("--force")[1]
    assert notes.read_text().endswith("my notes</p></html>")
    assert cli.main(_single(tree, notes, RUN, "--force")) == 0
    assert "Run next_runner/cv_batch/run_01" in notes.read_text()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_single_file_never_replaces_a_file_git_tracks(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "paper.html").write_text("<p>draft</p>")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "paper.html"], cwd=repo, check=True)
    assert cli.main(_single(tree, repo / "paper.html", RUN, "--force")) == 2
    assert "tracked by git" in capsys.readouterr().err
    assert (repo / "paper.html").read_text() == "<p>draft</p>"


# --- demo --tree -------------------------------------------------------------------------------


def test_demo_help_says_how_to_keep_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--tree DIR" in text and "kept" in text and "temporary directory" in text


def test_demo_tree_keeps_the_generated_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[Path, int]] = []

    def small_sample(root: Path, *, seed: int = 0, **kinds: object) -> Path:
        asked.append((root, seed))  # the real tree takes a minute to build: a small one stands in
        return batch_tree(root)

    monkeypatch.setattr("reportgen.demo.generate_sample_tree", small_sample)
    kept, out = tmp_path / "demo-results", tmp_path / "demo-site"
    demo = ["demo", "--tree", str(kept), "-o", str(out), *FAST, "-q", "--sample-seed", "3"]
    assert cli.main(demo) == 0
    assert asked == [(kept, 3)]
    assert (kept / RUN / "results.json").is_file() and (out / "index.html").is_file()
    assert cli.main(demo) == 2  # DIR holds a tree now: never written over
    err = capsys.readouterr().err
    assert f"--tree {kept}" in err and "not empty" in err
    assert len(asked) == 1


# --- error messages ----------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_that_cannot_be_made_is_named_as_given(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["build", str(tree), "-o", "/proc/nope-site", *FAST]) == 2
    err = capsys.readouterr().err
    assert "/proc/nope-site" in err and "staging" not in err and ".nope-site" not in err


def test_an_output_below_a_file_says_so(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "h2t.py").write_text("print()\n")
    for out in (tmp_path / "h2t.py" / "site", tmp_path / "h2t.py" / "deeper" / "site"):
        assert cli.main(["build", str(tree), "-o", str(out), *FAST]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'h2t.py'} is a file, not a directory" in err and "Errno" not in err
    single = tmp_path / "h2t.py" / "run.html"
    assert cli.main(_single(tree, single, RUN)) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_an_unknown_option_points_at_the_commands_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("build", "check", "demo"):
        with pytest.raises(SystemExit) as stop:
            cli.main([command, "--bogus"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert f"(see reportgen {command} --help)" in err and "--bogus" in err


def test_verbose_names_why_each_run_could_not_be_read(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = shutil.copytree(tree, tmp_path / "results")
    results = broken / OTHER_RUN / "results.json"
    results.write_bytes(results.read_bytes()[:200])
    build = ["build", str(broken), "-o", str(tmp_path / "site"), *FAST]
    assert cli.main(build) == 1
    quiet = capsys.readouterr().out
    assert f"could not read: {OTHER_RUN}" in quiet and "line 1" not in quiet
    assert cli.main([*build, "-v"]) == 1  # the failed run is read again: its reason is new
    lines = capsys.readouterr().out.splitlines()
    at = lines.index(f"  could not read: {OTHER_RUN}")
    assert lines[at + 1].startswith(f"    {OTHER_RUN}/results.json, line ")
    assert "column" in lines[at + 1] and lines[at + 2].startswith("    hint: ")
