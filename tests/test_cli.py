"""The command line as CI and newcomers use it: exit codes, summaries, report formats, logging,
completion, and the default output directory."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reportgen import cli
from reportgen.build.output_guard import tracked_by_git
from reportgen.check_report import CheckedRun, CheckReport, junit_report, markdown_report
from reportgen.discover import Skipped
from reportgen.findings import Finding

ROOT = Path(__file__).resolve().parents[1]
JUNIT_XSD = ROOT / "tests" / "schemas" / "junit-10.xsd"
RUNS = (
    "comparison_across_learning_rates/run_01",
    "diagnostics_run/full_data/E_256/run_01",
    "diagnostics_run/full_data/E_256/run_02",  # an η beyond the curvature bound: a warning
)
FAST = ("--bootstrap", "0", "--jobs", "1")


@pytest.fixture(scope="module")
def small_tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "results"
    for run in RUNS:
        shutil.copytree(sample_tree / run, root / run)
    return root


def _check_json(tree: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    cli.main(["check", str(tree), "--format", "json", "--bootstrap", "0", *extra])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# --- build: exit code and summary ------------------------------------------------------------


def test_build_gates_on_findings_with_one_summary_line(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    totals = _check_json(small_tree, capsys)["totals"]
    assert totals["warning"] >= 1 and totals["error"] == 0  # what the gate below relies on
    counts = f"{totals['error']} errors, {totals['warning']} warning"
    out = tmp_path / "site"
    build = ["build", str(small_tree), "--output", str(out), *FAST]
    assert cli.main(build) == 0  # findings alone never change the exit code
    summary = _last_line(capsys.readouterr().out)
    subjects = f"3 runs, {totals['groups']} groups, 0 studies"  # named as check names them
    assert summary.startswith(f"reportgen: {subjects}; findings: {counts}") and "exit 0" in summary
    # the up-to-date build gates on the counts kept in the status file, no record read
    assert cli.main([*build, "--strict"]) == 1
    summary = _last_line(capsys.readouterr().out)
    assert "failing on warning and worse — exit 1" in summary and counts in summary
    assert cli.main([*build, "--fail-on", "error"]) == 0
    assert cli.main([*build, "--fail-on", "info", "--strict"]) == (1 if totals["info"] else 0)
    capsys.readouterr()
    assert cli.main([*build, "--strict", "--quiet"]) == 1
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1 and "exit 1" in printed.err


def test_open_opens_the_built_site(
    small_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *args, **kwargs: opened.append(url))
    out = tmp_path / "site"
    assert cli.main(["build", str(small_tree), "-o", str(out), *FAST, "-q", "--open"]) == 0
    assert opened == [(out / "index.html").resolve().as_uri()]
    report = tmp_path / "run.html"
    run = "--single-file=" + RUNS[0]
    assert cli.main(["build", str(small_tree), "-o", str(report), *FAST, "-q", run, "--open"]) == 0
    assert opened[-1] == report.resolve().as_uri() and report.is_file()


def test_single_file_of_a_group_prints_the_file_it_wrote(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "group.html"
    group = "diagnostics_run/full_data/E_256"
    argv = ["build", str(small_tree), "-o", str(report), *FAST, "--single-file", group]
    assert cli.main(argv) == 0
    html = report.read_text()
    assert f"Group {group}" in html and "run_02" in html  # its runs' rows
    assert report.resolve().as_uri() in capsys.readouterr().out  # the file, not a directory
    assert cli.main([*argv[:-1], "no/such/group"]) == 2
    assert "no run, group or study with id 'no/such/group'" in capsys.readouterr().err


def test_without_outward_links_keeps_fragments_and_data() -> None:
    from reportgen.build.single_file import without_outward_links

    html = b'<a class="x" href="../guide.html#a">g</a><a href="#top">t</a><a href="data:,1">d</a>'
    assert without_outward_links(html) == (
        b'<a class="x">g</a><a href="#top">t</a><a href="data:,1">d</a>'
    )


# --- check: quiet, JSON, Markdown, JUnit -----------------------------------------------------


def test_check_quiet_prints_only_what_fails(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check = ["check", str(small_tree), "--bootstrap", "0"]
    assert cli.main([*check, "--strict", "--quiet"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{RUNS[2]}/results.json [ok]"
    assert [line.split()[0] for line in lines[1:-1]] == ["WARNING"] * (len(lines) - 2)
    assert lines[-1].endswith("fails at --fail-on warning (exit 1)")


def test_check_quiet_with_nothing_failing_prints_the_summary_alone(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check", str(small_tree), "--bootstrap", "0", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "3 runs, 4 groups, 0 studies: 0 errors, 1 warning"
    )


def test_check_json_is_versioned_with_totals_and_skipped_paths(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = shutil.copytree(small_tree, tmp_path / "results", symlinks=True)
    os.symlink(tmp_path, tree / "outside")  # a link leaving the tree: skipped, not unreadable
    report = _check_json(tree, capsys, "--fail-on", "warning")
    assert report["format"] == 2 and report["fail_on"] == "warning" and report["exit_code"] == 1
    findings = [f for run in report["runs"] for f in run["findings"]]
    totals = report["totals"]
    for severity in ("error", "warning", "info"):
        assert totals[severity] == sum(1 for f in findings if f["severity"] == severity)
    assert totals["runs"] == len(report["runs"]) == 3
    assert totals["failing_runs"] == 1 and totals["unreadable"] == 0
    [skipped] = report["skipped"]
    assert skipped["path"] == "outside" and skipped["unreadable"] is False
    assert totals["skipped"] == len(report["skipped"]) == 1


def _crafted_report() -> CheckReport:
    hostile = Finding(
        "bad-check", "error", "a | b <script>alert(1)</script> [x](http://e) *y*\n\x00\x1b end"
    )
    runs = (
        CheckedRun("a/run_01/results.json", "ok", (hostile, Finding("note", "info", "fine"))),
        CheckedRun("b/\udcfc_results.json", "ok", ()),
    )
    skipped = (Skipped("c/locked", "unreadable directory (Permission denied)", True),)
    return CheckReport(runs, skipped, "error")


def test_markdown_report_shows_tree_text_literally() -> None:
    text = markdown_report(_crafted_report())
    assert text.startswith("## reportgen check fails (--fail-on error)\n")
    # runs, groups, studies, errors, warnings, infos, failing, unreadable
    assert "| 2 | 0 | 0 | 1 | 0 | 1 | 1 | 1 |" in text
    row = next(line for line in text.splitlines() if "bad\\-check" in line or "bad-check" in line)
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert "\\[x\\]" in row and "a \\| b" in row and "\\*y\\*" in row and "\n" not in row
    assert "- c/locked: unreadable directory (Permission denied)" in text
    assert "fine" not in text  # below --fail-on: counted, not listed


def _validate_junit(xml: str) -> Any:
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(xml.encode("utf-8"))
    return schema


def test_junit_report_validates_against_the_jenkins_schema() -> None:
    xml = junit_report(_crafted_report())
    _validate_junit(xml)  # control characters and undecodable names included
    from xml.etree import ElementTree as ET

    root = ET.fromstring(xml.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [len(case.findall("failure")) for case in cases] == [1, 0, 0]
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("type") == "bad-check"
    assert cases[2].get("name") == "c/locked" and cases[2].find("error") is not None


def test_check_junit_on_a_tree(small_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = ["check", str(small_tree), "--format", "junit", "--bootstrap", "0", "--strict"]
    assert cli.main(strict) == 1
    xml = capsys.readouterr().out
    _validate_junit(xml)
    assert 'tests="3" failures="1" errors="0"' in xml
    assert cli.main(["check", str(small_tree), "--format", "markdown", "--bootstrap", "0"]) == 0
    assert "## reportgen check passes (--fail-on error)" in capsys.readouterr().out


# --- check: unreadable directories -----------------------------------------------------------


@contextmanager
def _unreadable(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> Iterator[None]:
    """chmod 000; root lists such directories anyway, so discovery is refused them as a user is."""
    for path in paths:
        path.chmod(0)
    original = os.scandir
    blocked = {str(p) for p in paths}

    def scandir(path: Any) -> Any:
        if isinstance(path, (str, os.PathLike)) and str(path) in blocked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return original(path)

    if os.geteuid() == 0:
        monkeypatch.setattr("reportgen.discover.os.scandir", scandir)
    try:
        yield
    finally:
        for path in paths:
            path.chmod(0o755)


def test_check_names_unreadable_run_and_group_directories_and_fails(
    small_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = shutil.copytree(small_tree, tmp_path / "results")
    run, group = tree / RUNS[2], tree / "comparison_across_learning_rates"
    with _unreadable(monkeypatch, run, group):
        assert cli.main(["check", str(tree), "--bootstrap", "0"]) == 1
        out = capsys.readouterr().out
        for path in (RUNS[2], "comparison_across_learning_rates"):
            assert f"could not read: {path} (unreadable directory (Permission denied))" in out
        assert _last_line(out).startswith("1 run, 3 groups, 0 studies: ")
        assert "2 directories could not be read" in _last_line(out)
        report = _check_json(tree, capsys)
        assert report["exit_code"] == 1 and report["totals"]["unreadable"] == 2
        assert {s["path"] for s in report["skipped"] if s["unreadable"]} == {
            RUNS[2],
            "comparison_across_learning_rates",
        }
        assert cli.main(["build", str(tree), "-o", str(tmp_path / "site"), *FAST, "-q"]) == 1


# --- logging, completion, progress -----------------------------------------------------------


def test_verbose_logging_is_reportgens_own(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root_handlers = list(logging.getLogger().handlers)
    assert cli.main(["check", str(small_tree), "--bootstrap", "0", "--verbose", "-v"]) == 0
    logging.getLogger("MARKDOWN").debug("a debug line of another library")
    logging.getLogger("reportgen.x").debug("a debug line of reportgen")
    err = capsys.readouterr().err
    assert "setting bootstrap = 0 (command line)" in err and "discovered 3 runs" in err
    assert "a debug line of reportgen" in err and "another library" not in err
    assert logging.getLogger().handlers == root_handlers  # the root logger is left alone
    cli.main(["check", str(small_tree), "--bootstrap", "0", "-q"])
    logging.getLogger("reportgen").debug("hidden")
    assert "hidden" not in capsys.readouterr().err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for word in ("build", "check", "demo", "--equivalence-margin", "--fail-on", "junit"):
        assert word.lstrip("-") in script
    if shell == "bash" and shutil.which("bash"):
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_a_build_does_not_load_the_completion_library() -> None:
    probe = "import sys; from reportgen.cli import build_parser; build_parser(); "
    probe += "print('shtab' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False"


def test_progress_shows_counts_rate_and_eta() -> None:
    ticks = iter([10.0, 12.0, 14.0])
    progress = cli.Progress(False, clock=lambda: next(ticks))
    assert progress.line(2, 12, "runs").endswith(" 2/12")  # carried-over runs: no rate yet
    assert progress.line(6, 12, "runs").endswith(" 6/12  2.0/s  ETA 0:03")
    assert progress.line(12, 12, "runs").endswith(" 12/12  2.5/s  ETA 0:00")
    assert progress.enabled is False  # not a TTY: silent


# --- the default output directory ------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_the_checkout_tracks_nothing_in_the_default_output_directory() -> None:
    listed = subprocess.run(["git", "ls-files", "site"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    assert listed.stdout == ""
    assert "/site/" in (ROOT / ".gitignore").read_text().splitlines()


@needs_git
@pytest.mark.slow
def test_a_first_build_with_no_options_from_a_clone_root_works(
    small_tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    _git(clone, "init", "-q")
    shutil.copy(ROOT / ".gitignore", clone / ".gitignore")
    _git(clone, "add", ".gitignore")
    monkeypatch.chdir(clone)
    assert cli.main(["build", str(small_tree)]) in (0, 1)
    link = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("file:"))
    assert link == (clone / "site" / "index.html").as_uri()
    assert (clone / "site" / "index.html").is_file()


@needs_git
def test_force_never_replaces_a_directory_holding_tracked_files(
    small_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "paper.tex").write_text("\\section{Results}")
    _git(repo, "init", "-q")
    _git(repo, "add", "docs/paper.tex")
    build = ["build", str(small_tree), "--output", str(repo / "docs"), *FAST]
    assert cli.main([*build, "--force"]) == 2
    err = capsys.readouterr().err
    assert "holds 1 file(s) tracked by git (paper.tex)" in err and "--force" in err
    assert (repo / "docs" / "paper.tex").read_text() == "\\section{Results}"
    # untracked files in a work tree: --force replaces them as anywhere else
    (repo / "scratch").mkdir()
    (repo / "scratch" / "old.txt").write_text("x")
    assert cli.main([*build[:2], "--output", str(repo / "scratch"), *FAST, "--force"]) == 0
    assert (repo / "scratch" / "index.html").is_file()


def test_tracked_files_without_git_are_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()  # looks like a work tree, but git cannot be run
    (tmp_path / "out").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert tracked_by_git(tmp_path / "out") == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from reportgen import __version__

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"reportgen {__version__}\n"
