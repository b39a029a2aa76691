"""``build`` and ``check`` count the same findings (runs', incomplete runs', groups', studies')
under the same names, and gate ``--strict`` / ``--fail-on`` on them; so does ``--single-file``
for the page it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reportgen import cli
from reportgen.demo.cv_batch import CV_BATCH_BASE, write_cv_batch
from reportgen.demo.fisher import write_fisher_run

FAST = ("--bootstrap", "0", "--jobs", "1")
FISHER_DIR = "fisher_kernel/outliers"
STUDY = f"fisher:{FISHER_DIR}"
RUN = f"{CV_BATCH_BASE}/run_01"  # two info findings, nothing worse
# "6 runs, 2 groups, 0 studies" then "0 errors, 1 warning, 12 infos", as both commands print them
COUNTS = re.compile(
    r"(\d+ runs?, \d+ groups?, \d+ stud(?:y|ies))\W+(?:findings: )?"
    r"(\d+ errors?, \d+ warnings?, \d+ infos?)"
)


def batch_tree(root: Path, aggregate_broken: bool = False) -> Path:
    """The demo's CV batch: six runs with info findings only, and their group's aggregate files
    (``aggregate_broken``: unreadable, the group's one warning)."""
    write_cv_batch(root, seed=0)
    if aggregate_broken:
        (root / CV_BATCH_BASE / "cv_runs_aggregate.json").write_bytes(b'{"rows": [')
        (root / CV_BATCH_BASE / "cv_runs_aggregate.csv").write_bytes(b"\x00\xff not a table")
    return root


def counts_of(line: str) -> tuple[str, str]:
    found = COUNTS.search(line)
    assert found is not None, line
    return found.group(1), found.group(2)


def _summary(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_a_groups_warning_fails_build_strict_as_it_fails_check_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = batch_tree(tmp_path / "results", aggregate_broken=True)
    assert cli.main(["check", str(tree), "--bootstrap", "0", "--strict"]) == 1
    checked = counts_of(_summary(capsys))
    assert checked[1] == "0 errors, 1 warning, 12 infos"
    build = ["build", str(tree), "-o", str(tmp_path / "site"), *FAST]
    assert cli.main([*build, "--strict"]) == 1
    summary = _summary(capsys)
    assert counts_of(summary) == checked and summary.endswith("exit 1")
    # the up-to-date build gates on the group findings kept in the status file
    assert cli.main([*build, "--fail-on", "warning"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Site is up to date") and counts_of(out.splitlines()[-1]) == checked
    assert cli.main([*build, "--fail-on", "error"]) == 0


def test_build_and_check_count_runs_groups_and_studies_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = batch_tree(tmp_path / "results")
    write_fisher_run(tree / FISHER_DIR, seed=0, dominated=True)
    (tree / "pending" / "run_01").mkdir(parents=True)
    (tree / "pending" / "run_01" / "plan.json").write_text("{}")  # an incomplete run: a warning
    assert cli.main(["check", str(tree), "--bootstrap", "0", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    totals = report["format"], report["totals"]
    assert totals[0] == 2
    assert [s["source"] for s in report["studies"]] == [STUDY]
    assert STUDY not in [r["source"] for r in report["runs"]]
    assert (totals[1]["runs"], totals[1]["studies"]) == (7, 1)  # six runs and the incomplete one
    assert totals[1]["groups"] == len(report["groups"])
    assert cli.main(["check", str(tree), "--bootstrap", "0"]) == 0
    checked = counts_of(_summary(capsys))
    groups = totals[1]["groups"]
    assert checked[0] == f"7 runs, {groups} group{'' if groups == 1 else 's'}, 1 study"
    warnings = totals[1]["warning"]
    assert warnings >= 2  # the incomplete run's and the study's
    assert cli.main(["build", str(tree), "-o", str(tmp_path / "site"), *FAST]) == 0
    assert counts_of(_summary(capsys)) == checked
    assert cli.main(["build", str(tree), "-o", str(tmp_path / "site"), *FAST, "--strict"]) == 1
    assert counts_of(_summary(capsys)) == checked


# --- --single-file -----------------------------------------------------------------------------


def test_single_file_counts_and_gates_on_the_findings_of_its_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = batch_tree(tmp_path / "results", aggregate_broken=True)
    page = tmp_path / "run01.html"
    single = ["build", str(tree), "-o", str(page), *FAST, "--single-file"]
    assert cli.main([*single, RUN]) == 0
    assert counts_of(_summary(capsys)) == (
        "1 run, 0 groups, 0 studies",
        "0 errors, 0 warnings, 2 infos",
    )
    assert cli.main([*single, RUN, "--fail-on", "info"]) == 1
    assert _summary(capsys).endswith("exit 1")
    # a group's page: its runs' findings and its own (the aggregate's warning)
    assert cli.main([*single, CV_BATCH_BASE, "--strict"]) == 1
    assert counts_of(_summary(capsys)) == (
        "6 runs, 1 group, 0 studies",
        "0 errors, 1 warning, 12 infos",
    )


def test_single_file_of_a_study_counts_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "results"
    write_fisher_run(tree / FISHER_DIR, seed=0, dominated=True)
    page = tmp_path / "study.html"
    argv = ["build", str(tree), "-o", str(page), *FAST, "--single-file", STUDY, "--strict"]
    assert cli.main(argv) == 1
    subjects, findings = counts_of(_summary(capsys))
    assert subjects == "0 runs, 0 groups, 1 study" and " 0 warnings" not in findings
