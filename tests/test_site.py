"""End-to-end: the sample tree (and ../shared when present) built and checked file by file."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import BuildOptions, BuildResult, build
from reportgen.cli import main
from reportgen.discover import discover
from tests.formats import assert_valid, assert_valid_csv
from tests.sitecheck import assert_run_numbers, broken_links, outline, remote_assets


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


SITE_PAGES = {  # page: (<title>, <h1>, the sections it must have, in order)
    "index.html": ("Entropy experiments", "Entropy experiments", ["search", "groups", "runs"]),
    "diagnostics.html": ("Diagnostics", "Diagnostics", ["passed"]),
    "guide.html": (
        "Guide",
        "Guide: what the numbers mean",
        ["files", "fields", "arithmetic", "pitfalls", "cross-run", "checks"],
    ),
    "changes.html": ("Changes", "Changes since the last build", []),
}


def test_sample_builds_cleanly(sample_site: tuple[Path, BuildResult]) -> None:
    site, result = sample_site
    assert result.failed_runs == []
    assert result.runs == 9
    for name, (title, h1, sections) in SITE_PAGES.items():
        page = outline(site / name)
        assert page.problems == [], (name, page.problems)
        assert page.title == f"{title} · Entropy experiments", name
        assert page.h1 == h1, name
        assert [s for s in page.sections if s in sections] == sections, (name, page.sections)
    for path in site.rglob("*.html"):  # every page, not only these four, is well-formed
        assert outline(path).problems == [], path
    assert_valid("manifest", read_json(site / "manifest.json"))
    changes = read_json(site / "changes.json")
    assert_valid("changes", changes)
    assert changes["first_build"] is True and changes["changed"] == []
    assert broken_links(site) == []


def test_outline_reports_malformed_html(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><html><title>T</title><body><div><p>x</div></body>")
    found = outline(page)
    assert found.title == "T" and found.problems == ["</div> closes <p>", "<html> never closed"]
    page.write_text("<html><body><h1>A <b>b</b></h1><h1>C</h1></body></html>")
    found = outline(page)
    assert found.h1 == "A b" and found.problems == ["no <!doctype html>"]


def test_manifest_lists_every_run_and_group(
    sample_site: tuple[Path, BuildResult], sample_tree: Path
) -> None:
    site, _ = sample_site
    manifest = read_json(site / "manifest.json")
    assert_valid("manifest", manifest)
    tree, _ = discover(sample_tree)
    assert [r["id"] for r in manifest["runs"]] == [r.id for r in tree.runs]
    for run in manifest["runs"]:
        assert run["status"] == "ok"
        assert (sample_tree / run["source"]).is_file()
        summary = read_json(site / run["summary"])
        assert_valid("run-summary", summary, run["summary"])
        assert (summary["id"], summary["page"], summary["schema"]) == (
            run["id"],
            run["page"],
            run["schema"],
        )
        assert outline(site / run["page"]).title == f"Run {run['id']} · Entropy experiments"
    assert {g["id"] for g in manifest["groups"]} == {g.id for g in tree.groups}
    for group in manifest["groups"]:
        summary = read_json(site / group["summary"])
        assert_valid("group-summary", summary, group["summary"])
        assert summary["group"] == group["id"]
        assert outline(site / group["page"]).title == f"Group {group['id']} · Entropy experiments"


def test_run_summaries_and_csvs_agree_with_the_guide(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    manifest = read_json(site / "manifest.json")
    assert assert_run_numbers(site, manifest) >= 4 * 5
    csvs = 0
    for run in manifest["runs"]:
        summary = read_json(site / run["summary"])
        assert_valid("run-summary", summary, run["summary"])
        if summary.get("contributions"):
            csv_path = site / summary["contributions"]
            assert csv_path.parent == (site / run["summary"]).parent
            assert_valid_csv(csv_path.read_text(), summary["contributions"])
            csvs += 1
    assert csvs == 5  # the five SNIS runs of the sample


def test_summary_uses_null_for_missing_values(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    no_records = read_json(site / "runs/diagnostics_run/full_data/E_512/run_02/summary.json")
    assert all(row["sum_linear"] is None for row in no_records["etas"])
    assert all(row["sum_true_contrib"] is not None for row in no_records["etas"])
    no_quadratic = read_json(site / "runs/diagnostics_run/full_data/E_256/run_03/summary.json")
    assert all(row["delta_h_linquad"] is None for row in no_quadratic["etas"])
    sweep = read_json(site / "runs/comparison_across_learning_rates/run_01/summary.json")
    assert all(
        row["sum_true_contrib"] is None and row["delta_h_true"] is not None for row in sweep["etas"]
    )


def test_run_pages_state_formula_and_normalisation(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    own = (site / "runs/diagnostics_run/full_data/E_256/run_01/index.html").read_text()
    assert "config.yaml of this run" in own
    assert "true_contrib_i = w_i·h_new_i / Σ_j w_j·T_j" in own
    borrowed = (site / "runs/diagnostics_run/full_data/E_256/run_02/index.html").read_text()
    assert "config.yaml of sibling run" in borrowed
    assert 'id="findings"' in borrowed and "missing-config" in borrowed


def test_run_page_sections_by_schema(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    snis = (site / "runs/diagnostics_run/full_data/E_256/run_01/index.html").read_text()
    for section in (
        'id="eta-table"',
        'id="per-sequence"',
        'id="eta-select"',
        'id="snis"',
        'id="curvature"',
        'id="outliers"',
        'id="tails"',
        'id="config"',
    ):
        assert section in snis, section
    no_records = (site / "runs/diagnostics_run/full_data/E_512/run_02/index.html").read_text()
    assert "Per-sequence comparisons are unavailable" in no_records
    notes = (site / "runs/diagnostics_run/full_data/E_512/run_01/index.html").read_text()
    assert 'id="notes"' in notes and "<table>" in notes
    cv = (site / "runs/CVs_and_gdotv/run1/run_01/index.html").read_text()
    assert 'id="cv"' in cv and '<img src="files/' in cv
    assert list((site / "runs/CVs_and_gdotv/run1/run_01/files").rglob("*.png"))


def test_group_pages_and_summaries(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    summary = read_json(site / "groups/diagnostics_run/full_data/E_256/summary.json")
    assert summary["group"] == "diagnostics_run/full_data/E_256"
    assert_valid("group-summary", summary)
    assert [r["id"] for r in summary["runs"]] == [
        f"diagnostics_run/full_data/E_256/run_0{i}" for i in (1, 2, 3)
    ]
    assert {r["batch_size"] for r in summary["runs"]} == {256}
    # capture on and off are two populations: never pooled at the top level, each run once
    assert summary["pooled_across_populations"] is True and summary["per_eta"] is None
    assert summary["populations_kept_apart"] is True  # what the misnamed flag above means
    assert summary["relative_errors"] is None and summary["tails"] is None  # per population
    assert all(p["relative_errors"]["per_eta"] for p in summary["populations"])
    per_eta: dict[float, int] = {}
    for pop in summary["populations"]:
        for row in pop["per_eta"]:
            per_eta[row["eta"]] = per_eta.get(row["eta"], 0) + row["n_runs"]
    assert per_eta and set(per_eta.values()) == {3}
    parent = read_json(site / "groups/diagnostics_run/full_data/summary.json")
    assert parent["batch_comparison"], "E_256 vs E_512 should be compared on the parent"
    assert {b["small_size"] for b in parent["batch_comparison"]} == {256}
    assert 'id="batch"' in (site / "groups/diagnostics_run/full_data/index.html").read_text()


def test_no_remote_assets_and_every_link_resolves(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    assert remote_assets(site) == []
    assert broken_links(site) == []
    assert len(list((site / "assets").glob("vega-bundle.*.js"))) == 1


def test_pages_embed_safe_json_and_csp(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert 'http-equiv="Content-Security-Policy"' in text
        assert "script-src 'self'" in text
        assert "<script>" not in text  # only external scripts and JSON data blocks


def test_diagnostics_and_guide_pages_list_every_check(
    sample_site: tuple[Path, BuildResult],
) -> None:
    from reportgen.analysis.diagnostics import CHECKS

    site, _ = sample_site
    guide = (site / "guide.html").read_text()
    matrix = (site / "diagnostics.html").read_text()
    for check in CHECKS:
        assert f'id="check-{check.id}"' in guide
        assert f'data-check="{check.id}"' in matrix or f"guide.html#check-{check.id}" in matrix
    index = (site / "index.html").read_text()
    assert 'href="diagnostics.html"' in index and 'href="guide.html"' in index


def test_cli_build_exit_codes(
    sample_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert main(["build", str(sample_tree), "-o", str(out), "-j", "1"]) == 0
    assert f"{(out / 'index.html').resolve().as_uri()}" in capsys.readouterr().out
    assert main(["build", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert main(["build", str(sample_tree), "-o", str(sample_tree / "inside")]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["build", "--jobs", "0"])
    assert usage.value.code == 2


def test_cli_check_json_and_fail_on(sample_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(sample_tree), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sources = [r["source"] for r in report["runs"]]
    assert "diagnostics_run/full_data/E_256/run_01/results.json" in sources
    for run in report["runs"]:
        # fields only added: the uncertainty block, a finding's list of η
        assert set(run) - {"uncertainty"} == {"source", "status", "findings"}
        for finding in run["findings"]:
            assert set(finding) == {"id", "severity", "message", "eta", "etas"}
    assert main(["check", str(sample_tree), "--fail-on", "info"]) == 1
    text = capsys.readouterr().out
    assert "diagnostics_run/full_data/E_256/run_02/results.json [ok]" in text


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = capsys.readouterr().out
    assert "exit codes" in text and "example" in text and "RESULTS_DIR" in text


@pytest.mark.shared
def test_shared_tree_builds_with_exit_zero(shared_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build(BuildOptions(results=shared_results, out=out, jobs=2))
    assert result.failed_runs == []
    manifest = read_json(out / "manifest.json")
    assert len(manifest["runs"]) == 11
    assert assert_run_numbers(out, manifest) == 6 * 5
    assert remote_assets(out) == [] and broken_links(out) == []
    parent = read_json(out / "groups/diagnostics_run/full_data/summary.json")
    assert {(b["small_size"], b["large_size"]) for b in parent["batch_comparison"]} == {(256, 512)}


@pytest.mark.shared
def test_shared_tree_has_no_error_findings(
    shared_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(shared_results), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not [f for r in report["runs"] for f in r["findings"] if f["severity"] == "error"]


def test_wheel_ships_the_templates(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("reportgen-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "reportgen/templates/run.html",
        "reportgen/templates/static/reportgen.js",
        "reportgen/templates/static/site.css",
        "reportgen/cli.py",
    ):
        assert required in names


def test_a_failing_group_analysis_becomes_an_error_page(
    sample_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reportgen.analysis import group as group_analysis
    from reportgen.analysis.group_stats import per_eta_stats as real

    def explode_for_sweeps(runs):  # type: ignore[no-untyped-def]
        if any(r.run_id.startswith("comparison_across_learning_rates") for r in runs):
            raise ValueError("boom")
        return real(runs)

    monkeypatch.setattr(group_analysis, "per_eta_stats", explode_for_sweeps)
    out = tmp_path / "site"
    result = build(BuildOptions(results=sample_tree, out=out, jobs=1))
    assert result.failed_runs == []
    page = (out / "groups/comparison_across_learning_rates/index.html").read_text()
    assert "cross-run analysis of this group failed" in page and "boom" in page
    assert read_json(out / "groups/comparison_across_learning_rates/summary.json")["error"]
    assert "batch" in (out / "groups/diagnostics_run/full_data/index.html").read_text()


@pytest.mark.slow
def test_large_groups_are_summarised_and_keep_every_run_in_their_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group of more runs than PER_RUN_LIMIT with subgroups shows group statistics only (its
    page would otherwise grow with the whole tree); its summary.json is unchanged."""
    from reportgen.demo import scale_tree
    from reportgen.pages import group as group_page
    from tests.sitecheck import broken_links

    tree = scale_tree(tmp_path / "results", runs=40)  # scale/block_00/sweep_00..03/E_16|E_32
    full, summarised = tmp_path / "full", tmp_path / "summarised"
    build(BuildOptions(results=tree, out=full, bootstrap=0))
    monkeypatch.setattr(group_page, "PER_RUN_LIMIT", 15)  # in this process: no workers
    build(BuildOptions(results=tree, out=summarised, bootstrap=0, jobs=1))

    for group in ("scale", "scale/block_00"):  # 40 runs each
        page = (summarised / "groups" / group / "index.html").read_text()
        before = (full / "groups" / group / "index.html").read_text()
        assert 'id="summarised"' in page and 'id="summarised"' not in before
        for per_run in ('id="verdict-rows"', 'id="group-rows"', 'id="group-finding-rows"'):
            assert per_run in before and per_run not in page
        assert 'id="verdict-counts"' in page and 'id="group-check-counts"' in page
        assert len(page) < len(before) / 3
        summary = f"groups/{group}/summary.json"
        assert (summarised / summary).read_bytes() == (full / summary).read_bytes()
    sweep = (summarised / "groups/scale/block_00/sweep_00/index.html").read_text()
    assert 'id="summarised"' not in sweep and 'id="verdict-rows"' in sweep  # 10 runs
    assert broken_links(summarised) == []


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_guide_conventions_table_names_fields_the_twins_carry(
    sample_site: tuple[Path, BuildResult],
) -> None:
    """Every rel_err_*, ratio_* and notebook_* field the guide's conventions table names is a
    field of some summary.json of the sample site."""
    import json
    import re

    site, _ = sample_site
    guide = (site / "guide.html").read_text()
    table = guide[guide.index('id="conventions"') : guide.index('id="verdicts"')]
    named = set(re.findall(r"(?:\.|<code>)((?:rel_err|se_rel_err|ratio|notebook)_\w+)", table))
    assert {"rel_err_linear", "notebook_z", "notebook_one_minus_ratio"} <= named
    keys: set[str] = set()
    for path in site.rglob("summary.json"):
        keys |= _keys(json.loads(path.read_text()))
    assert named - keys == set()


def test_verdict_rows_show_no_notebook_value(sample_site: tuple[Path, BuildResult]) -> None:
    """A verdict never shares a row with the notebook's too-small SEs and z."""
    site, _ = sample_site
    tables = 0
    for page in site.glob("groups/**/index.html"):
        html = page.read_text()
        if 'id="verdict-rows"' not in html:
            continue
        start = html.index('id="verdict-rows"')
        table = html[start : html.index("</table>", start)]
        assert "notebook" not in table and "verdict-" in table
        tables += 1
    assert tables > 0


def _subtitle(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    start = html.index('<p class="subtitle">')
    return html[start : html.index("</p>", start)]


def test_a_group_without_true_states_no_normalisation_of_it(
    sample_site: tuple[Path, BuildResult],
) -> None:
    """Control-variate runs carry a normalisation setting but no ΔH_true it applies to."""
    site, _ = sample_site
    for group in ("CVs_and_gdotv", "CVs_and_gdotv/run1"):
        subtitle = _subtitle(site / "groups" / group / "index.html")
        assert "No run of this group reports ΔH_true." in subtitle
        assert "per-token" not in subtitle and "All runs" not in subtitle
    measured = _subtitle(site / "groups/diagnostics_run/full_data/E_256/index.html")
    assert "All runs report ΔH_true per-token." in measured


# |z| within 1 or 2 SEs is not agreement: that takes the equivalence test of the verdicts
Z_BANDS_AS_AGREEMENT = (
    "agrees with ΔH_true within",
    "agree within 1 and 2",
    "Agreement as in post_correction",
    "agreement within error bars",
    "1 is agreement",
    "perfect agreement",
)


def test_group_pages_never_call_a_z_band_agreement(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    captions = 0
    for page in site.glob("groups/**/index.html"):
        html = page.read_text(encoding="utf-8")
        assert [p for p in Z_BANDS_AS_AGREEMENT if p in html] == [], page
        for table in ("verdict-counts", "verdict-runs"):
            if f'id="{table}"' in html:
                start = html.index(f'id="{table}"')
                caption = " ".join(html[start : html.index("</caption>", start)].split())
                assert "|linear − true| within 1 and 2 paired standard errors" in caption
                assert "(not a test of agreement: see the verdicts)" in caption
                captions += 1
    assert captions > 0
