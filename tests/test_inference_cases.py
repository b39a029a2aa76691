"""The demo's inference cases built end to end: populations split exactly as they must, copies
count once, verdicts and findings see the overshooting batch, nulls stay null, and the tree
file's labels, margin and title reach the pages."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reportgen.analysis.pooling import pool
from reportgen.analysis.populations import populations
from reportgen.analysis.record import RunRecord
from reportgen.build import BuildOptions, build
from reportgen.cli import main
from reportgen.demo import generate_sample_tree
from reportgen.demo.inference import HIDDEN, LARGE, MANY, MANY_KEYS, POST_FIX, PRE_FIX, SWEEP
from reportgen.discover import GroupRef, Tree
from reportgen.findings import Finding
from reportgen.pages import paths
from reportgen.pages.index import GROUP_LIST, RunRow, _group_values, group_rows


@pytest.fixture(scope="module")
def cases_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sample_tree(
        tmp_path_factory.mktemp("cases") / "results", seed=0, inference_cases=True
    )


@pytest.fixture(scope="module")
def cases_site(cases_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cases-site") / "site"
    result = build(BuildOptions(results=cases_tree, out=out, jobs=2, bootstrap=500))
    assert result.failed_runs == []
    return out


def summary(site: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / paths.run_summary(run_id)).read_text())
    return data


def record(site: Path, run_id: str) -> RunRecord:
    return RunRecord.from_bytes((site / paths.run_record(run_id)).read_bytes())


def run_ids(site: Path, prefix: str) -> list[str]:
    manifest = json.loads((site / "manifest.json").read_text())
    return sorted(r["id"] for r in manifest["runs"] if r["id"].startswith(prefix))


@pytest.mark.slow
def test_populations_split_epochs_capture_copies_and_models(cases_site: Path) -> None:
    ids = run_ids(cases_site, "denominator_fix/")
    members = [record(cases_site, r).member for r in ids]
    found = {p.run_ids: p for p in populations(members)}
    expected = {
        (f"{PRE_FIX}/run_01", f"{PRE_FIX}/run_02"),  # pre-fix: no denom_corr_*, no H_base_mean
        (f"{PRE_FIX}/run_03", f"{PRE_FIX}/run_04"),  # the same epoch, capture off
        (f"{POST_FIX}/run_01", f"{POST_FIX}/run_02"),  # post-fix, another η grid only
        (f"{POST_FIX}/run_04",),  # differs only in model.name
        tuple(f"{LARGE}/run_{k:02d}" for k in range(1, 5)),  # B_E = 2048
        (f"{SWEEP}",),  # another schema
    }
    assert set(found) == expected
    pre = found[(f"{PRE_FIX}/run_01", f"{PRE_FIX}/run_02")]
    # the copy is left out of every population and named beside the run it duplicates
    assert pre.copies == ((f"{POST_FIX}/run_03", f"{PRE_FIX}/run_01"),)
    assert pre.key_json()["label.epoch"] == "pre-denominator-fix"
    assert "denom_corr_scaled" in pre.key_json()["fields"]
    model = found[(f"{POST_FIX}/run_04",)]
    assert model.key_json()["config.model.name"] == '"llama-7b"'


@pytest.mark.slow
def test_pooling_the_overshooting_batch_finds_it(cases_site: Path) -> None:
    """Each 2,048-sequence run alone is often inconclusive; the four pooled show linear
    overshooting |ΔH_true| by about 30 % beyond noise, and agreeing with each other."""
    runs = [summary(cases_site, f"{LARGE}/run_{k:02d}") for k in range(1, 5)]
    assert {r["verdict_linear"] for r in runs} >= {"disagrees", "inconclusive"}
    for j in range(2):
        rows = [r["etas"][j] for r in runs]
        diff = pool(
            [e["delta_h_linear"] - e["delta_h_true"] for e in rows],
            [e["se_diff_linear"] for e in rows],
        )
        ratio = pool([e["ratio_linear"] for e in rows], [e["se_ratio_linear"] for e in rows], 1.0)
        assert diff is not None and ratio is not None
        assert diff.fixed.z < -3.0 and not diff.heterogeneous
        assert 1.2 < ratio.fixed.value < 1.4 and ratio.fixed.z > 2.5


def test_check_fails_on_the_overshooting_batch(
    cases_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "results"
    shutil.copytree(cases_tree / LARGE, batch / "E_2048")
    assert main(["check", str(batch), "--fail-on", "warning", "--bootstrap", "0"]) == 1
    out = capsys.readouterr().out
    assert "linear-disagrees" in out and "linear-error-large" not in out
    assert main(["check", str(batch), "--fail-on", "error", "--bootstrap", "0"]) == 0


@pytest.mark.slow
def test_verdicts_reach_the_twins_and_the_page(cases_site: Path) -> None:
    run_id = f"{LARGE}/run_01"
    data = summary(cases_site, run_id)
    assert data["verdict_linear"] == data["uncertainty"]["verdict_linear"]
    manifest = json.loads((cases_site / "manifest.json").read_text())
    (row,) = [r for r in manifest["runs"] if r["id"] == run_id]
    assert row["verdict_linear"] == data["verdict_linear"]
    page = (cases_site / paths.run_page(run_id)).read_text()
    assert f'<p class="verdict-headline">{data["verdict_linear"]}: ' in page
    for e in data["etas"]:
        lo, hi = e["ci95_ratio_linear"]
        assert lo < e["ratio_linear"] < hi and e["se_method"]["se_ratio_linear"] == "delta-method"


@pytest.mark.slow
def test_labels_and_notes_show_on_the_runs_pages(cases_site: Path) -> None:
    page = (cases_site / paths.run_page(f"{PRE_FIX}/run_01")).read_text()
    assert "epoch = pre-denominator-fix" in page
    assert "Written before the SNIS denominator fix" in page
    assert summary(cases_site, f"{PRE_FIX}/run_01")["labels"] == {"epoch": "pre-denominator-fix"}
    assert summary(cases_site, f"{POST_FIX}/run_01")["labels"] == {}


@pytest.mark.slow
def test_an_unrecorded_approximation_is_null_everywhere(cases_site: Path) -> None:
    data = summary(cases_site, SWEEP)
    assert all(e["delta_h_linear"] is None and e["rel_err_linear"] is None for e in data["etas"])
    assert "approx-not-recorded" in {f["id"] for f in data["findings"]}
    assert data["verdict_linear"] is None
    page = (cases_site / paths.run_page(SWEEP)).read_text()
    assert "+100 %" not in page and "−100 %" not in page


@pytest.mark.slow
def test_a_wider_margin_changes_verdicts_reported_first(cases_tree: Path, tmp_path: Path) -> None:
    """--equivalence-margin: a wider margin turns inconclusive into agrees, and changes.json
    lists the verdicts that flipped before any number (none moved)."""
    tree = tmp_path / "results"
    shutil.copytree(cases_tree / LARGE, tree / "E_2048")
    out = tmp_path / "site"
    common = ["build", str(tree), "-o", str(out), "-j", "1", "-q", "--bootstrap", "0"]
    assert main(common) == 0
    before = {r: summary(out, r)["verdict_linear"] for r in run_ids(out, "E_2048/")}
    assert main([*common, "--equivalence-margin", "0.99"]) == 0
    after = {r: summary(out, r)["verdict_linear"] for r in run_ids(out, "E_2048/")}
    assert summary(out, "E_2048/run_01")["uncertainty"]["equivalence_margin"] == 0.99
    flipped = {r for r in before if before[r] != after[r]}
    assert flipped and all(after[r] == "agrees" for r in flipped)
    changes = json.loads((out / "changes.json").read_text())
    assert {v["id"] for v in changes["verdicts"]} == flipped
    for change in changes["changed"]:  # numbers did not move; verdicts did, run-level first
        assert change["moved"] == []
        if change["id"] in flipped:
            assert change["verdict_changes"][0]["eta"] is None
    html = (out / "changes.html").read_text()
    assert html.index("Verdicts that changed") < html.index("Changed runs")


def test_a_pooled_verdict_that_flips_is_reported_first(cases_tree: Path, tmp_path: Path) -> None:
    """The heterogeneous population's random-effects ratio is inconclusive at the default
    margin and agrees within a margin of 0.99: changes.json and changes.html say so first."""
    tree = tmp_path / "results"
    shutil.copytree(cases_tree / HIDDEN, tree / "E_2048")
    out = tmp_path / "site"
    common = ["build", str(tree), "-o", str(out), "-j", "1", "-q", "--bootstrap", "0"]
    assert main(common) == 0
    (pop,) = group_summary(out, "E_2048")["populations"]
    assert pop["verdict_linear"] == "inconclusive"
    assert main([*common, "--equivalence-margin", "0.99"]) == 0
    changes = json.loads((out / "changes.json").read_text())
    assert changes["population_verdicts"] == [
        {"group": "E_2048", "population": pop["label"], "before": "inconclusive", "after": "agrees"}
    ]
    html = (out / "changes.html").read_text()
    assert html.index("Pooled verdicts that changed") < html.index("Changed runs")
    assert main(common) == 0  # back to the default margin: the flip the other way
    back = json.loads((out / "changes.json").read_text())["population_verdicts"]
    assert [(p["before"], p["after"]) for p in back] == [("agrees", "inconclusive")]


@pytest.mark.parametrize("value", ["1.5", "0", "-0.1", "x"])
def test_the_margin_option_is_validated_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    for command in (
        ["build", str(tmp_path), "-o", str(tmp_path / "site")],
        ["check", str(tmp_path)],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, f"--equivalence-margin={value}"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--equivalence-margin" in err and err.count("\n") == 1


def group_summary(site: Path, group_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / paths.group_summary(group_id)).read_text())
    return data


@pytest.mark.slow
def test_the_group_pools_the_overshooting_batch_as_an_independent_loop_does(
    cases_site: Path,
) -> None:
    """The group summary's pooled rows equal inverse-variance pooling of the runs' own
    summary.json numbers, term by term; the group says so in a warning and in words."""
    group = group_summary(cases_site, LARGE)
    (pop,) = group["populations"]
    runs = [summary(cases_site, f"{LARGE}/run_{k:02d}") for k in range(1, 5)]
    for j, row in enumerate(pop["pooled"]):
        w = [1 / r["etas"][j]["se_diff_linear"] ** 2 for r in runs]
        y = [r["etas"][j]["delta_h_linear"] - r["etas"][j]["delta_h_true"] for r in runs]
        fixed = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
        q = sum(wi * (yi - fixed) ** 2 for wi, yi in zip(w, y, strict=True))
        assert row["n_runs"] == 4 and math.isclose(row["diff_linear"], fixed, rel_tol=1e-9)
        assert math.isclose(row["se_diff_linear"], sum(w) ** -0.5, rel_tol=1e-9)
        assert math.isclose(row["q"], q, rel_tol=1e-9) and row["q_df"] == 3
        assert row["random_effects"] is None and row["method"].startswith("fixed effect")
        assert row["verdict_linear"] == "disagrees" and 1.2 < row["ratio_linear"] < 1.45
    assert pop["verdict_linear"] == "disagrees" and pop["breakdown_eta_linear"] == 1.6e-6
    assert [f["id"] for f in group["findings"]] == ["pooled-linear-disagrees"]
    assert group["per_eta"] is not None and group["pooled_across_populations"] is False
    assert group["populations_kept_apart"] is False and group["relative_errors"] is not None
    page = (cases_site / paths.group_page(LARGE)).read_text()
    assert 'id="pooled"' in page and "fixed effect (inverse variance)" in page
    assert "Linear disagrees at every η, from η = 1.6e−6." in page


@pytest.mark.slow
def test_a_hidden_change_makes_one_population_heterogeneous(cases_site: Path) -> None:
    group = group_summary(cases_site, HIDDEN)
    (pop,) = group["populations"]
    assert len(pop["runs"]) == 4
    for row in pop["pooled"]:
        assert row["q_p"] < 0.01 and row["i2"] > 0.5
        assert row["method"] == "random effects (DerSimonian–Laird)"
        assert row["random_effects"]["se_diff_linear"] > row["se_diff_linear"]
        assert row["verdict_linear"] != "disagrees"  # the spread is carried by the wider SE
    (finding,) = group["findings"]
    assert finding["id"] == "population-heterogeneous" and finding["severity"] == "warning"
    assert "may not be the same experiment" in finding["message"]
    page = (cases_site / paths.group_page(HIDDEN)).read_text()
    assert "they may not be the same" in page and "population-heterogeneous" in page


@pytest.mark.slow
def test_several_populations_are_never_pooled_and_copies_count_once(cases_site: Path) -> None:
    parent = group_summary(cases_site, "denominator_fix")
    assert parent["pooled_across_populations"] is True and parent["per_eta"] is None
    assert parent["populations_kept_apart"] is True
    assert parent["relative_errors"] is None and parent["tails"] is None
    assert parent["duplicates"] == [[f"{PRE_FIX}/run_01", f"{POST_FIX}/run_03"]]
    assert "duplicate-run" in [f["id"] for f in parent["findings"]]
    assert f"{POST_FIX}/run_03" not in [r["id"] for r in parent["runs"]]
    for pop in parent["populations"]:
        assert f"{POST_FIX}/run_03" not in pop["runs"]
        assert all(row["n_runs"] <= len(pop["runs"]) for row in pop["pooled"])
    page = (cases_site / paths.group_page("denominator_fix")).read_text()
    assert "byte-identical" in page


def cut(html: str, marker: str, end: str) -> str:
    """``html`` from ``marker`` to the next ``end``."""
    start = html.index(marker)
    return html[start : html.index(end, start)]


def test_a_copy_counts_once_in_the_headings_and_has_no_column_of_its_own(
    cases_tree: Path, tmp_path: Path
) -> None:
    """A byte-identical copy of a run beside it: the pages count the runs as the statistics do,
    the copy named beside them, and "what differs" gives it no column of the run's values."""
    tree, site = tmp_path / "results", tmp_path / "site"
    shutil.copytree(cases_tree / PRE_FIX, tree / "pair/E_256")  # four runs, two populations
    shutil.copytree(tree / "pair/E_256/run_01", tree / "pair/E_256/run_05")
    assert build(BuildOptions(results=tree, out=site, jobs=1, bootstrap=0)).failed_runs == []
    copy = "4 runs (+1 byte-identical copy)"
    for group in ("pair/E_256", "pair"):
        page = (site / paths.group_page(group)).read_text()
        assert cut(page, '<p class="subtitle">', "</p>").startswith(
            f'<p class="subtitle">{copy} · '
        )
    parent = (site / paths.group_page("pair")).read_text()
    assert f'<span class="muted">{copy}</span>' in cut(parent, 'id="subgroups"', "</section>")
    page = (site / paths.group_page("pair/E_256")).read_text()
    head, *rows = cut(page, 'id="differs-rows"', "</table>").split("<tr>")[1:]
    assert head.count("<th") == 2 + 4 and "run_05" not in head  # key, splits, four runs
    assert rows and all(row.count("<td") == 2 + 4 for row in rows)
    assert "run_05 is a copy of run_01" in page
    index = cut((site / "index.html").read_text(), 'class="group-tree"', "</ul>")
    assert index.count(f"{copy}</span>") == 2  # the group and its parent, as their pages count


def test_the_paged_group_list_carries_each_groups_copies() -> None:
    contents = {"g/a": b"x", "g/b": b"x", "g/c": b"y", "g/d": None, "g/e": None}
    rows = {
        r: RunRow(r, "", "", "snis", "ok", False, None, 0, {}, (), "", (), content=c)
        for r, c in contents.items()
    }
    rows["g/b"] = replace(rows["g/b"], findings=(Finding("x", "warning", "only on the copy"),))
    tree = Tree("", (), (GroupRef("g", tuple(rows), ()),), ())
    (group,) = group_rows(tree, rows)
    assert (group.run_count, group.copies) == (4, 1)  # b copies a; unread runs count each
    assert dict(zip(GROUP_LIST.columns, _group_values(group), strict=True))["copies"] == 1
    assert group.counts["warning"] == 0  # the copy's findings are not counted twice either


def test_check_reports_group_findings_with_the_group_id(
    cases_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The four runs of the hidden change are one population whose spread is beyond their
    noise: ``check`` names the group and fails on it, in text and in JSON."""
    batch = tmp_path / "results"
    shutil.copytree(cases_tree / HIDDEN, batch / "E_2048")
    args = ["check", str(batch), "--bootstrap", "0"]
    assert main([*args, "--format", "json", "--fail-on", "error"]) == 0
    report = json.loads(capsys.readouterr().out)
    (group,) = report["groups"]
    assert group["source"] == "E_2048"
    assert [f["id"] for f in group["findings"]] == ["population-heterogeneous"]
    assert report["totals"]["groups"] == 1 and report["totals"]["failing_groups"] == 0
    assert main([*args, "--fail-on", "warning"]) == 1
    out = capsys.readouterr().out
    assert "E_2048 [group]" in out and "WARNING population-heterogeneous" in out


@pytest.mark.slow
def test_the_index_and_diagnostics_count_group_findings(cases_site: Path) -> None:
    index = (cases_site / "index.html").read_text()
    assert "group findings:" in " ".join(index.split())
    diagnostics = (cases_site / "diagnostics.html").read_text()
    assert 'id="group-finding-rows"' in diagnostics
    for group, check in (
        (HIDDEN, "population-heterogeneous"),
        (LARGE, "pooled-linear-disagrees"),
        ("denominator_fix", "duplicate-run"),
    ):
        assert f'>{group}</a></td>\n      <td><a href="guide.html#check-{check}">' in diagnostics
    passed = diagnostics.split('id="passed"')[-1]
    assert "population-heterogeneous" not in passed  # fired on a group: not a quiet check


@pytest.mark.slow
def test_what_differs_counts_the_keys_it_leaves_out_and_lists_every_one_in_csv(
    cases_site: Path,
) -> None:
    group = group_summary(cases_site, MANY)
    shown = [d["key"] for d in group["what_differs"]]
    assert len(shown) == 50 and group["what_differs_more"] == MANY_KEYS - 50
    page = (cases_site / paths.group_page(MANY)).read_text()
    assert f"and {MANY_KEYS - 50} more keys not listed here" in page
    assert '<a href="what_differs.csv">' in page
    rows = list(csv.reader(io.StringIO((cases_site / paths.group_differs(MANY)).read_text())))
    runs = [f"{MANY}/run_01", f"{MANY}/run_02"]
    assert rows[0] == ["key", "splits", *runs]
    table = {row[0]: row[1:] for row in rows[1:]}
    assert len(table) == MANY_KEYS and shown == list(table)[:50]
    assert table["config.extra.k59"] == ["1", "59", "159"]
    # a group that lists every key has no CSV twin
    assert not (cases_site / paths.group_differs(LARGE)).exists()


@pytest.mark.slow
def test_a_fit_window_of_the_tree_file_fits_that_group_only(cases_site: Path) -> None:
    windowed = group_summary(cases_site, PRE_FIX)
    assert windowed["fit_window"] == {
        "pattern": PRE_FIX, "eta_min": 1e-6, "eta_max": 7e-6,
    }  # fmt: skip
    parent = group_summary(cases_site, "denominator_fix/old")
    assert parent["fit_window"] is None
    fits = {r["id"]: r["fit"] for r in windowed["runs"]}
    whole = {r["id"]: r["fit"] for r in parent["runs"]}
    assert set(fits) == set(whole) and fits
    for run_id, fit in fits.items():
        assert fit["n_linear"] == 3 and whole[run_id]["n_linear"] == 5
        assert fit["loglog_slope_ci95"] is None
        assert fit["linear_slope"] != whole[run_id]["linear_slope"]
    page = (cases_site / paths.group_page(PRE_FIX)).read_text()
    assert 'id="fit-window"' in page and "Fitted over η from 1e−6 to 7e−6" in " ".join(page.split())
    assert (
        'id="fit-window"' not in (cases_site / paths.group_page("denominator_fix/old")).read_text()
    )
