"""The demo's inference cases built end to end: populations split exactly as they must, copies
count once, verdicts and findings see the overshooting batch, nulls stay null, and the tree
file's labels, margin and title reach the pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reportgen.analysis.pooling import pool
from reportgen.analysis.populations import populations
from reportgen.analysis.record import RunRecord
from reportgen.build import BuildOptions, build
from reportgen.cli import main
from reportgen.demo import generate_sample_tree
from reportgen.demo.inference import LARGE, POST_FIX, PRE_FIX, SWEEP
from reportgen.pages import paths


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
