"""A CV batch's aggregate on its group: discovered beside the runs, read without following a
link, hashed into the group's key, corrected in the group stage, published in the group's
summary.json and page with the ``cv-se-is-mean-se`` finding; a bad aggregate costs a finding."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.diagnostics.checks_supplement import group_cv_batch
from reportgen.build import BuildOptions, BuildResult, build
from reportgen.build.plan import read_group_inputs
from reportgen.check import check_tree
from reportgen.demo.cv_batch import (
    CV_BATCH_BASE,
    CV_BATCH_RUNS,
    CV_BATCH_SEQUENCES,
    PLANTED_CHI2,
    PLANTED_SUM,
    write_cv_batch,
)
from reportgen.discover import discover
from reportgen.load.cv_aggregate import AGGREGATE_CSV, AGGREGATE_JSON, AggregateFiles
from reportgen.load.models import InputFile
from reportgen.settings import ReadOptions
from tests.formats import assert_valid
from tests.test_imports import _build_in_subprocess, _heavy

GROUP = CV_BATCH_BASE
RUN_IDS = [f"{GROUP}/run_{k + 1:02d}" for k in range(CV_BATCH_RUNS)]


def _summary(site: Path, group: str = GROUP) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / "groups" / group / "summary.json").read_text())
    return data


def _page(site: Path, group: str = GROUP) -> str:
    return (site / "groups" / group / "index.html").read_text()


def _file_rows(tree: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data: dict[str, Any] = json.loads((tree / GROUP / AGGREGATE_JSON).read_text())
    return data["rows"], data


def _build(tree: Path, out: Path) -> BuildResult:
    return build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))


@pytest.fixture
def batch_tree(tmp_path: Path) -> Path:
    """Only the demo's CV batch (six runs and their aggregate files)."""
    root = tmp_path / "results"
    write_cv_batch(root, seed=0)
    return root


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_gives_the_aggregate_to_the_group_of_its_directory(batch_tree: Path) -> None:
    tree, _ = discover(batch_tree)
    groups = {g.id: g for g in tree.groups}
    assert groups[GROUP].aggregates == (f"{GROUP}/{AGGREGATE_CSV}", f"{GROUP}/{AGGREGATE_JSON}")
    assert groups["next_runner"].aggregates == ()


def test_a_linked_aggregate_is_not_followed(batch_tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    json_path = batch_tree / GROUP / AGGREGATE_JSON
    outside.write_bytes(json_path.read_bytes())
    json_path.unlink()
    json_path.symlink_to(outside)
    tree, skipped = discover(batch_tree)
    group = next(g for g in tree.groups if g.id == GROUP)
    assert group.aggregates == (f"{GROUP}/{AGGREGATE_CSV}",)
    assert any(s.path == f"{GROUP}/{AGGREGATE_JSON}" and "link" in s.reason for s in skipped)


def test_the_files_are_read_within_the_size_limit(batch_tree: Path) -> None:
    tree, _ = discover(batch_tree)
    whole = read_group_inputs(tree, batch_tree, 1 << 20)[GROUP]
    for read in whole:
        assert read.content == (batch_tree / read.path).read_bytes() and read.problem is None
    size = len(whole[1].content or b"")
    limited = read_group_inputs(tree, batch_tree, size - 1)[GROUP]
    assert limited[1].content is None
    assert limited[1].problem == f"file is {size:,} bytes, above the limit of {size - 1:,} bytes"


def test_a_file_swapped_for_a_link_after_discovery_is_not_read(
    batch_tree: Path, tmp_path: Path
) -> None:
    tree, _ = discover(batch_tree)
    outside = tmp_path / "outside.json"
    outside.write_text('{"rows": []}')
    json_path = batch_tree / GROUP / AGGREGATE_JSON
    json_path.unlink()
    json_path.symlink_to(outside)
    read = read_group_inputs(tree, batch_tree, 1 << 20)[GROUP][1]
    assert read.content is None and read.problem is not None
    assert read.problem.startswith("not read:") and "link" in read.problem


@pytest.mark.slow
def test_an_up_to_date_build_with_an_aggregate_imports_nothing_heavy(
    batch_tree: Path, tmp_path: Path
) -> None:
    args = (str(batch_tree), "-o", str(tmp_path / "site"), "-j", "1")
    _build_in_subprocess(*args)
    code, modules, stdout = _build_in_subprocess(*args)
    assert "up to date" in stdout and code == 0
    assert _heavy(modules) == [] and "reportgen.load.models" not in modules


# --- the group stage ---------------------------------------------------------------------------


def _files(tree: Path, **replaced: bytes) -> AggregateFiles:
    names = (AGGREGATE_CSV, AGGREGATE_JSON)
    contents = {
        n: replaced.get(n.replace(".", "_"), (tree / GROUP / n).read_bytes()) for n in names
    }
    return AggregateFiles(tuple(InputFile(f"{GROUP}/{n}", c) for n, c in contents.items()))


def test_a_truncated_json_falls_back_to_the_csv_with_a_finding(batch_tree: Path) -> None:
    whole = (batch_tree / GROUP / AGGREGATE_JSON).read_bytes()
    report, findings = group_cv_batch(
        _files(batch_tree, cv_runs_aggregate_json=whole[: len(whole) // 2]), RUN_IDS
    )
    assert report is not None and report.analysis.source == f"{GROUP}/{AGGREGATE_CSV}"
    assert len(report.analysis.runs) == CV_BATCH_RUNS
    assert [f.id for f in findings] == ["cv-aggregate-unreadable", "cv-se-is-mean-se"]
    assert findings[0].severity == "warning" and AGGREGATE_JSON in findings[0].message


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\xff\xfe\x00\x01", b'{"rows": 7}', b"[1, 2]", b"run_dir\n" + b"x" * 200_000],
)
def test_an_aggregate_that_gives_no_rows_is_a_finding_not_a_failure(
    batch_tree: Path, garbage: bytes
) -> None:
    files = _files(batch_tree, cv_runs_aggregate_json=garbage, cv_runs_aggregate_csv=garbage)
    report, findings = group_cv_batch(files, RUN_IDS)
    assert report is None
    assert [f.id for f in findings] == ["cv-aggregate-unreadable"]
    assert "no rows could be read" in findings[0].message


def test_a_file_that_could_not_be_read_is_named_in_the_finding(batch_tree: Path) -> None:
    files = _files(batch_tree)
    unread = AggregateFiles(files.files[:1], (f"{GROUP}/{AGGREGATE_JSON}: cannot read file",))
    report, findings = group_cv_batch(unread, RUN_IDS)
    assert report is not None and report.analysis.source == f"{GROUP}/{AGGREGATE_CSV}"
    assert findings[0].id == "cv-aggregate-unreadable"
    assert findings[0].message.startswith(f"{GROUP}/{AGGREGATE_JSON}: cannot read file")


def test_a_group_without_an_aggregate_has_none() -> None:
    assert group_cv_batch(None, RUN_IDS) == (None, ())


# --- end to end on the demo tree -------------------------------------------------------------


@pytest.mark.slow
def test_the_group_summary_holds_the_aggregate_corrected(
    next_runner_site: tuple[Path, Path],
) -> None:
    tree, site = next_runner_site
    rows, data = _file_rows(tree)
    summary = _summary(site)
    assert_valid("group-summary", summary, f"groups/{GROUP}/summary.json")
    batch = summary["cv_batch"]
    g = np.array([r["gdotv_batch"] for r in rows])
    se_mean = np.array([r["se_batch"] for r in rows])
    b = np.array([r["B_total"] for r in rows], dtype=float)
    assert set(b) == {CV_BATCH_SEQUENCES}
    se_sum = b * se_mean  # the SE of a sum of B terms is B times the SE of their mean
    snr = np.abs(g) / se_sum
    assert [r["run_id"] for r in batch["runs"]] == RUN_IDS
    for run, expected_se, expected_snr in zip(batch["runs"], se_sum, snr, strict=True):
        assert run["se_sum"] == pytest.approx(expected_se, rel=1e-12)
        assert run["snr"] == pytest.approx(expected_snr, rel=1e-12)
    assert batch["mean_snr_file"] == data["mean_SNR"]
    assert batch["mean_snr"] == pytest.approx(float(np.mean(snr)), rel=1e-12)
    # the file's SNR is the corrected one times B_total, row by row, so on average too
    assert batch["mean_snr_file"] == pytest.approx(CV_BATCH_SEQUENCES * batch["mean_snr"], rel=1e-9)
    assert batch["factor"] == pytest.approx(CV_BATCH_SEQUENCES, rel=1e-9)
    assert batch["spread_sd"] == pytest.approx(float(np.std(g, ddof=1)), rel=1e-12)
    # Cochran's χ² written out, with each set of SEs, against the published statistics
    for key, ses in (("spread", se_sum), ("spread_file", se_mean)):
        weights = ses**-2.0
        mean = float(np.sum(weights * g) / np.sum(weights))
        chi2 = sum((x - mean) ** 2 / s**2 for x, s in zip(g, ses, strict=True))
        assert batch[key]["chi2"] == pytest.approx(chi2, rel=1e-9)
        assert batch[key]["df"] == CV_BATCH_RUNS - 1
        if key == "spread":
            assert batch["weighted_sum"] == pytest.approx(mean, rel=1e-12)
            assert batch["se_weighted_sum"] == pytest.approx(np.sum(weights) ** -0.5, rel=1e-12)
    # and the planted answers (demo/cv_batch.py); float32 columns move each sum by ~1e-6
    assert batch["weighted_sum"] == pytest.approx(PLANTED_SUM, rel=1e-6)
    assert batch["spread"]["chi2"] == pytest.approx(PLANTED_CHI2, rel=1e-5)
    assert batch["spread_file"]["chi2"] > 100 * CV_BATCH_RUNS  # the file's SEs: far too small
    # one batch: its side-by-side block holds the same numbers, each mean with its SE
    (part,) = batch["sets"]
    assert batch["mixed"] is False and part["b_total"] == CV_BATCH_SEQUENCES
    assert part["rows"] == list(range(CV_BATCH_RUNS)) and part["n_used"] == CV_BATCH_RUNS
    assert part["mean_snr"] == batch["mean_snr"] and part["factor_exact"] is True
    assert part["se_mean_snr"] == pytest.approx(float(np.std(snr, ddof=1)) / CV_BATCH_RUNS**0.5)
    assert part["weighting"] == "inverse-variance, fixed effect" and part["tau2"] == 0.0
    assert batch["spread"]["reading"] == "not shown to differ" and batch["spread"]["little_power"]
    assert batch["spread_file"]["reading"] == "larger" and batch["stated_mismatches"] == []
    ids = [f["id"] for f in summary["findings"]]
    assert ids.count("cv-se-is-mean-se") == 1 and "cv-aggregate-unreadable" not in ids
    assert _summary(site, "next_runner")["cv_batch"] is None
    assert "cv_runs_aggregate" not in (site / "unclaimed.html").read_text()  # read: claimed


@pytest.mark.slow
def test_the_group_page_shows_the_notebooks_number_labelled_beside_the_corrected_one(
    next_runner_site: tuple[Path, Path],
) -> None:
    tree, site = next_runner_site
    _, data = _file_rows(tree)
    page = _page(site)
    section = page[page.index('<section id="cv-batch"') :]
    section = section[: section.index("</section>")]
    assert '<a href="#cv-batch">' in page
    labelled = re.search(
        r"mean SNR, as the file states it \(<code>mean_SNR</code>\)</dt><dd>([^<]+)</dd>", section
    )
    assert labelled is not None and float(labelled.group(1)) == pytest.approx(
        data["mean_SNR"], rel=1e-3
    )
    assert f"exactly {CV_BATCH_SEQUENCES}× (B_total)" in section
    assert 'data-check="cv-se-is-mean-se"' in section
    runs_table = section[section.index('id="cv-batch-runs"') :]
    assert runs_table.count("<tr>") == CV_BATCH_RUNS + 1
    assert "consistent" not in section
    assert '<a href="../../../runs/next_runner/cv_batch/run_01/index.html">run_01</a>' in section
    assert "cv-se-is-mean-se" in (site / "diagnostics.html").read_text()


@pytest.mark.slow
def test_reportgen_check_reports_the_finding_on_the_group(batch_tree: Path) -> None:
    _, checked = check_tree(batch_tree, ReadOptions(bootstrap=0))
    groups = {c.source: c for c in checked if c.status == "group"}
    assert [f.id for f in groups[GROUP].findings] == ["cv-se-is-mean-se"]
    assert groups["next_runner"].findings == ()


@pytest.mark.slow
def test_a_malformed_aggregate_costs_a_finding_and_the_build_goes_on(
    batch_tree: Path, tmp_path: Path
) -> None:
    (batch_tree / GROUP / AGGREGATE_JSON).write_bytes(b'{"rows": [')
    (batch_tree / GROUP / AGGREGATE_CSV).write_bytes(b"\x00\xff not a table")
    out = tmp_path / "site"
    result = _build(batch_tree, out)
    assert result.failed_runs == []
    summary = _summary(out)
    assert "error" not in summary and summary["cv_batch"] is None
    assert [f["id"] for f in summary["findings"]] == ["cv-aggregate-unreadable"]
    page = _page(out)
    assert 'id="cv-batch"' not in page and "cv-aggregate-unreadable" in page


@pytest.mark.slow
def test_a_changed_aggregate_rebuilds_its_group_and_nothing_else(
    batch_tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _build(batch_tree, out)
    assert _build(batch_tree, out).up_to_date
    json_path = batch_tree / GROUP / AGGREGATE_JSON
    data = json.loads(json_path.read_text())
    data["mean_SNR"] = 1234.5
    json_path.write_text(json.dumps(data))
    result = _build(batch_tree, out)
    assert not result.up_to_date and result.rebuilt == 0 and result.groups_rendered == 1
    assert _summary(out)["cv_batch"]["mean_snr_file"] == 1234.5
    assert _build(batch_tree, out).up_to_date


@pytest.mark.slow
def test_a_target_summand_in_the_group_cv_table_is_marked_not_valid(
    batch_tree: Path, tmp_path: Path
) -> None:
    """The runs' joint regressions never hold one; a run whose does (by editing its summary)
    has the feature marked on its group's table, from its own feature ranking."""
    results = batch_tree / GROUP / "run_01" / "results.json"
    data = json.loads(results.read_text())
    data["summary"]["corr"]["wjlogp_sum"] = 0.999
    data["summary"]["var_after_cv"]["wjlogp_sum"] = 0.002
    results.write_text(json.dumps(data))
    out = tmp_path / "site"
    _build(batch_tree, out)
    page = _page(out)
    table = page[page.index('id="cv-summary"') :]
    table = table[: table.index("</table>")]
    rows = {row.split("</td>", 1)[0]: row for row in table.split("<tr><td>")[1:]}
    marked = [name for name, row in rows.items() if "not a valid control variate" in row]
    assert [name.split(" ", 1)[0] for name in marked] == ["wjlogp_sum"]
    assert 'title="target-summand"' in rows[marked[0]]
    assert "A feature marked not valid is a summand of the" in " ".join(table.split())
