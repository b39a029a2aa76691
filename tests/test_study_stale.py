"""Studies through the build's worker pool and their last good pages: a study rendered in
workers is the bytes one rendered here; a study whose files fail tonight after a good read keeps
its page, under the stale banner with tonight's reason, and counts as a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import BuildOptions, build
from reportgen.build.study_jobs import StudyJob, lost_study
from reportgen.cli import main
from reportgen.demo.studies import INFLUENCE_DIR
from reportgen.demo.tree import generate_sample_tree
from reportgen.kinds.claims import Claim

SUMMARY = f"{INFLUENCE_DIR}/summary.json"
STUDY_ID = f"influence:{INFLUENCE_DIR}"


def _study(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text())
    (row,) = [s for s in manifest["studies"] if s["id"] == STUDY_ID]
    return dict(row)


def _site_files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".reportgen" not in p.parts
    }


@pytest.mark.slow
def test_studies_rendered_in_workers_are_the_bytes_rendered_here(
    studies_tree: Path, tmp_path: Path, always_pooled: None
) -> None:
    here, pooled = tmp_path / "here", tmp_path / "pooled"
    build(BuildOptions(results=studies_tree, out=here, jobs=1, bootstrap=0))
    result = build(BuildOptions(results=studies_tree, out=pooled, jobs=2, bootstrap=0))
    manifest = json.loads((pooled / "manifest.json").read_text())
    assert len(manifest["studies"]) > 2  # more studies than workers: the pool renders them
    assert all(s["status"] == "ok" for s in manifest["studies"]), manifest["studies"]
    assert not result.failed_runs
    here_files, pooled_files = _site_files(here), _site_files(pooled)
    study_pages = [p for p in here_files if p.startswith("studies/")]
    assert study_pages
    assert {p: pooled_files.get(p) for p in study_pages} == {p: here_files[p] for p in study_pages}


@pytest.mark.slow
def test_a_study_failing_tonight_keeps_its_last_good_page_marked_stale(
    tmp_path: Path,
) -> None:
    tree = generate_sample_tree(tmp_path / "results", studies=True)
    out = tmp_path / "site"
    argv = [str(tree), "-o", str(out), "-q", "-j", "1", "--bootstrap", "0"]
    assert main(["build", *argv]) == 0
    good = _study(out)
    page = out / good["page"]
    good_html = page.read_text()
    assert "stale-banner" not in good_html
    verdict = good_html.split('class="verdict', 1)[1].split("</p>", 1)[0]

    summary = tree / SUMMARY
    intact = summary.read_bytes()
    summary.write_bytes(intact[: len(intact) // 2])  # truncated: still claimed, no longer read
    assert main(["build", *argv]) == 1  # documented: a study that could not be read
    stale = _study(out)
    html = page.read_text()
    assert stale["stale"] is True and stale["status"] == "error"
    assert stale["page"] == good["page"] and stale["inputs"] == good["inputs"]
    assert stale["findings"] >= 1
    assert "stale-banner" in html and "this study&#39;s files" not in html
    assert "this study's files could not be read" in html
    assert verdict in html  # the last good content, shown again
    assert (out / good["summary"]).is_file()
    index = (out / "index.html").read_text()
    assert "stale: last good page" in index

    result = build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    assert not result.up_to_date  # a study that failed is read again, whatever its hash
    assert STUDY_ID in result.failed_runs  # still failing, still stale
    lines = [line.strip() for line in result.report_lines()]
    assert f"could not read: {STUDY_ID} (kept its last good page)" in lines
    assert "stale-banner" in page.read_text()

    summary.write_bytes(intact)
    result = build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    assert STUDY_ID not in result.failed_runs
    assert "stale" not in _study(out)
    assert page.read_text() == good_html


@pytest.mark.slow
def test_a_study_failing_with_no_good_page_before_has_no_page(tmp_path: Path) -> None:
    tree = generate_sample_tree(tmp_path / "results", studies=True)
    summary = tree / SUMMARY
    summary.write_bytes(summary.read_bytes()[:100])
    out = tmp_path / "site"
    result = build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    row = _study(out)
    assert row["status"] == "error" and row["page"] is None and "stale" not in row
    assert STUDY_ID in result.failed_runs


def test_a_study_lost_twice_gets_an_error_row_saying_why(tmp_path: Path) -> None:
    from reportgen.build import site_context

    claim = Claim("influence", INFLUENCE_DIR, (SUMMARY,))
    site = site_context(BuildOptions(results=tmp_path, out=tmp_path / "site"))
    job = StudyJob("influence", "built-in", claim, tmp_path, site, 1 << 20, False)
    result = lost_study(job, "the worker process was killed by SIGKILL (out of memory?), twice")
    assert result.output is None and not result.ok
    assert result.row["status"] == "error" and result.row["page"] is None
    assert result.row["inputs"] == [SUMMARY]
    assert "killed by SIGKILL" in result.row["error"]
    assert [f["id"] for f in result.row["findings"]] == ["kind-failed"]
