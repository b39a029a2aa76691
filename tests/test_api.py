"""The notebook API gives the numbers of the site's twins, exactly: the demo tree is built with
the command line and every value the API returns is compared with the file the site wrote."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import altair as alt
import pytest

import reportgen
from reportgen import cli
from reportgen.analysis.pooling import RunEta, cov_diff_true, judge_pooled, pool_by_eta
from reportgen.api import Group, Tree
from reportgen.api_tables import flat
from reportgen.build import BuildOptions, build
from reportgen.discover import RunRef

E_2048 = "denominator_fix/run_with_denom_fix/E_2048"
MIXED = "denominator_fix"  # a group of several populations
TREE_TITLE = "Entropy experiments (sample)"  # set by the demo tree's reportgen.toml


@pytest.fixture(scope="module")
def tree(demo_tree: Path) -> Tree:
    return reportgen.open(demo_tree)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _run_summary(site: Path, run_id: str) -> Any:
    return _json(site / "runs" / run_id / "summary.json")


def _same(api_value: Any, published: Any) -> bool:
    """Exactly equal; a missing value is NaN or None in a DataFrame and null in JSON."""
    if published is None:
        return api_value is None or (isinstance(api_value, float) and math.isnan(api_value))
    return bool(api_value == published)


# --- the same numbers as the twins -----------------------------------------------------------


@pytest.mark.slow
def test_every_run_summary_is_the_sites(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    manifest = _json(site / "manifest.json")
    assert [r.id for r in tree.runs] == [r["id"] for r in manifest["runs"]]
    for run in tree.runs:
        published = _run_summary(site, run.id)
        assert json.loads(json.dumps(run.summary())) == published, run.id


@pytest.mark.slow
def test_eta_table_has_every_published_eta_value(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    table = tree.etas()
    checked = 0
    for run in tree.runs:
        published = _run_summary(site, run.id)
        rows = table[table["run"] == run.id].to_dict("records")
        assert len(rows) == len(published["etas"]), run.id
        for row, eta in zip(rows, published["etas"], strict=True):
            for key, value in eta.items():
                if key.startswith("ci95_"):
                    low, high = value if value is not None else (None, None)
                    assert _same(row[f"{key}_lo"], low) and _same(row[f"{key}_hi"], high)
                else:
                    assert _same(row[key], value), (run.id, key)
                checked += 1
            assert _same(row["run_verdict_linear"], published["verdict_linear"])
    assert checked > 1000


@pytest.mark.slow
def test_differences_carry_their_paired_se(tree: Tree) -> None:
    table = tree.etas()
    with_se = table[table["se_diff_linear"].notna()]
    assert len(with_se) > 20
    difference = with_se["delta_h_linear"] - with_se["delta_h_true"]
    assert (with_se["diff_linear"] == difference).all()
    assert (with_se["z_linear"] == with_se["diff_linear"] / with_se["se_diff_linear"]).all()
    # a difference is never given without its SE
    assert table.loc[table["se_diff_linear"].isna(), "diff_linear"].isna().all()


@pytest.mark.slow
def test_population_of_each_row_is_its_groups(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    table = tree.etas()
    for (run_id, group_id), rows in table.groupby(["run", "group"]):
        summary = _json(site / "groups" / str(group_id) / "summary.json")
        label = next(p["label"] for p in summary["populations"] if run_id in p["runs"])
        assert set(rows["population"]) == {label}
    labels = set(table[table["group"] == f"{MIXED}/old/E_256"]["population"])
    assert len(labels) == 2  # pre-fix runs with and without per-sequence capture: not mixed


@pytest.mark.slow
def test_findings_are_the_published_ones(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    table = tree.findings()
    for run in tree.runs:
        rows = table[table["run"] == run.id].drop(columns="run").to_dict("records")
        published = _run_summary(site, run.id)["findings"]
        assert len(rows) == len(published), run.id
        for row, finding in zip(rows, published, strict=True):
            assert set(row) == set(finding)
            assert all(_same(row[key], value) for key, value in finding.items()), finding
    assert {"warning", "info"} <= set(table["severity"])


@pytest.mark.slow
def test_contributions_are_the_csv(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    run = tree.run(f"{E_2048}/run_01")
    with (site / "runs" / run.id / "contributions.csv").open(encoding="utf-8") as handle:
        published = list(csv.DictReader(handle))
    table = run.contributions()
    assert list(table.columns) == list(published[0]) and len(table) == len(published) > 100
    for row, cells in zip(table.to_dict("records"), published, strict=True):
        for key, cell in cells.items():
            assert _same(row[key], float(cell) if cell else None), key
    eta = float(published[-1]["eta"])
    one = run.contributions(eta=eta)
    assert len(one) == sum(float(c["eta"]) == eta for c in published)
    assert (one["eta"] == eta).all()


def _pooled_from_twins(site: Path, run_ids: list[str], margin: float) -> list[dict[str, Any]]:
    """pool_by_eta over the runs' published summary.json rows (an independent path), judged."""
    runs = []
    for run_id in run_ids:
        published: dict[str, list[RunEta]] = {"linear": [], "linquad": []}
        for eta in _run_summary(site, run_id)["etas"]:
            for approx, rows in published.items():
                value, true = eta[f"delta_h_{approx}"], eta["delta_h_true"]
                if value is None or true is None:
                    continue
                se_diff = eta[f"se_diff_{approx}"]
                rows.append(
                    RunEta(run_id, eta["eta"], value - true, se_diff,
                           eta[f"ratio_{approx}"], eta[f"se_ratio_{approx}"], true, eta["se_true"],
                           cov_diff_true(eta[f"se_{approx}"], eta["se_true"], se_diff))
                )  # fmt: skip
        runs.append(published)
    return [row.to_json() for row in judge_pooled(pool_by_eta(runs), margin)]


def _check_pooled(site: Path, group: Group) -> int:
    """The API's pooled table against pooling of the twins, per population of the group's
    summary.json (and against the group's own pooled rows where the site publishes them)."""
    group_summary = _json(site / "groups" / group.id / "summary.json")
    pooled, margin = group.pooled(), group._tree.options.equivalence_margin
    labels = [p["label"] for p in group_summary["populations"]]
    assert len(pooled) == 0 or set(pooled["population"]) <= set(labels)
    compared = 0
    for population in group_summary["populations"]:
        expected = _pooled_from_twins(site, population["runs"], margin)
        rows: list[dict[str, Any]] = []
        if len(pooled):
            rows = pooled[pooled["population"] == population["label"]].to_dict("records")
        assert len(rows) == len(expected), population["label"]
        for row, want in zip(rows, expected, strict=True):
            assert row["runs"] == population["runs"]
            for key, value in flat(want).items():
                assert _same(row[key], value), (population["label"], key)
                compared += 1
        if population.get("pooled") is not None:  # the group pages publish it from #23 on
            assert population["pooled"] == expected
    return compared


@pytest.mark.slow
@pytest.mark.parametrize("group_id", [E_2048, MIXED])
def test_pooled_is_pooling_of_the_published_rows(
    demo_site: tuple[Path, Path], tree: Tree, group_id: str
) -> None:
    assert _check_pooled(demo_site[1], tree.group(group_id)) > 20


@pytest.mark.slow
def test_the_overshooting_batch_pools_to_a_significant_difference(tree: Tree) -> None:
    pooled = tree.group(E_2048).pooled()
    assert len(set(pooled["population"])) == 1 and (pooled["n_runs"] == 4).all()
    assert (pooled["z_linear"] < -1.96).all()
    assert (pooled["ratio_linear"] > 1).all()


@pytest.mark.slow
def test_verdicts_match_the_manifest(demo_site: tuple[Path, Path], tree: Tree) -> None:
    _, site = demo_site
    verdicts = {r["id"]: r["verdict_linear"] for r in _json(site / "manifest.json")["runs"]}
    assert {run.id: run.record.verdict_linear for run in tree.runs} == verdicts


@pytest.mark.slow
def test_charts_are_the_pages(demo_site: tuple[Path, Path], tree: Tree) -> None:
    """The chart a notebook shows is the page's spec with its data (the η menu unbound)."""
    _, site = demo_site
    run = tree.run(f"{E_2048}/run_01")
    page = (site / "runs" / run.id / "index.html").read_text(encoding="utf-8")
    data = json.loads(_script(page, 'id="page-data"'))["datasets"]
    assert "eta-curve" in run.chart_names()
    for name in run.chart_names():
        chart = run.chart(name)
        assert isinstance(chart, alt.TopLevelMixin)
        spec = chart.to_dict()
        datasets = spec.pop("datasets")
        drawn = json.loads(_script(page, f'class="chart-spec" data-chart="{name}"'))
        for param in drawn.get("params", []):
            param.pop("bind", None)
        assert spec == drawn, name
        assert all(datasets[key] == data[key] for key in datasets)
    with pytest.raises(KeyError, match="no chart"):
        run.chart("no-such-chart")


@pytest.mark.slow
@pytest.mark.parametrize(
    "group_id", ["denominator_fix/run_with_denom_fix", MIXED, "CVs_and_gdotv/run1"]
)
def test_group_charts_and_findings_are_the_pages(
    demo_site: tuple[Path, Path], tree: Tree, group_id: str
) -> None:
    """A group's charts (its batch-size comparison drawn from the runs' sequences too) are
    its page's specs with their data, and its findings those of its ``summary.json``."""
    _, site = demo_site
    group = tree.group(group_id)
    page = (site / "groups" / group_id / "index.html").read_text(encoding="utf-8")
    data = json.loads(_script(page, 'id="page-data"'))["datasets"]
    drawn_names = re.findall(r'class="chart-spec" data-chart="([^"]+)"', page)
    assert sorted(group.chart_names()) == sorted(drawn_names) and drawn_names
    for name in group.chart_names():
        spec = group.chart(name).to_dict()
        datasets = spec.pop("datasets")
        assert spec == json.loads(_script(page, f'class="chart-spec" data-chart="{name}"')), name
        assert all(datasets[key] == data[key] for key in datasets)
    published = _json(site / "groups" / group_id / "summary.json")["findings"]
    findings = group.findings()
    assert list(findings["id"]) == [f["id"] for f in published]
    assert list(findings["message"]) == [f["message"] for f in published]
    assert (findings["group"] == group_id).all()
    with pytest.raises(KeyError, match="no chart of group"):
        group.chart("no-such-chart")


def test_a_group_has_batch_comparison_charts(tree: Tree) -> None:
    names = tree.group("denominator_fix/run_with_denom_fix").chart_names()
    assert {"batch-comparison-b0", "batch-comparison-b1"} <= set(names)


def _script(page: str, attributes: str) -> str:
    pattern = rf'<script type="application/json" {re.escape(attributes)}>(.*?)</script>'
    found = re.search(pattern, page, re.S)
    assert found is not None, attributes
    return found.group(1)


# --- settings, errors, laziness --------------------------------------------------------------


def test_settings_come_from_keywords_then_the_tree_file(tmp_path: Path) -> None:
    root = tmp_path / "results"
    root.mkdir()
    (root / "reportgen.toml").write_text("equivalence_margin = 0.3\nseed = 7\n", encoding="utf-8")
    opened = reportgen.open(root)
    assert (opened.options.equivalence_margin, opened.options.seed) == (0.3, 7)
    given = reportgen.open(root, equivalence_margin=0.1, max_file_size=2, follow_symlinks=True)
    assert (given.options.equivalence_margin, given.options.seed) == (0.1, 7)
    assert given.options.max_bytes == 2 * 1024 * 1024 and given.options.follow_symlinks


def test_draws_give_the_batch_comparison_of_a_build_with_them(
    demo_tree: Path, tmp_path: Path
) -> None:
    group_id = "denominator_fix/run_with_denom_fix"
    out = tmp_path / "site"
    build(BuildOptions(results=demo_tree, out=out, jobs=1, draws=40))
    published = _json(out / "groups" / group_id / "summary.json")["batch_comparison"]
    analysis = reportgen.open(demo_tree, draws=40).group(group_id).analysis
    assert published and [row.to_json() for row in analysis.batch] == published
    default = reportgen.open(demo_tree).group(group_id).analysis
    assert [row.to_json() for row in default.batch] != published  # the draws make the numbers


def test_bad_settings_are_refused_with_the_clis_words(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown setting 'jobs'.*bootstrap"):
        reportgen.open(tmp_path, jobs=4)
    with pytest.raises(ValueError, match="equivalence_margin: must be between 0 and 1"):
        reportgen.open(tmp_path, equivalence_margin=1.5)
    with pytest.raises(ValueError, match="seed: must be an integer"):
        reportgen.open(tmp_path, seed="1")
    with pytest.raises(FileNotFoundError):
        reportgen.open(tmp_path / "missing")


def test_tree_file_title_and_lookups(tree: Tree) -> None:
    assert tree.options.title == TREE_TITLE
    assert tree.group(E_2048).ref.run_ids == tuple(f"{E_2048}/run_0{i}" for i in range(1, 5))
    with pytest.raises(KeyError, match="no run 'nope'"):
        tree.run("nope")
    with pytest.raises(KeyError, match="no group"):
        tree.group("nope")


def test_an_unreadable_run_has_its_error_findings_and_no_rows(tmp_path: Path) -> None:
    broken = tmp_path / "results" / "broken"
    broken.mkdir(parents=True)
    (broken / "results.json").write_text("{not json", encoding="utf-8")
    opened = reportgen.open(tmp_path / "results")
    run = opened.run("broken")
    assert run.record.status == "error" and run.analysis is None
    assert len(run.etas()) == 0 and run.chart_names() == ()
    assert "error" in set(opened.findings()["severity"])


def test_an_empty_tree_gives_empty_tables_with_their_columns(tmp_path: Path) -> None:
    opened = reportgen.open(tmp_path)
    assert opened.runs == () and opened.groups == ()
    etas, findings = opened.etas(), opened.findings()
    assert len(etas) == 0 and {"run", "eta", "delta_h_true", "se_diff_linear"} <= set(etas.columns)
    assert len(findings) == 0
    assert list(findings.columns) == ["run", "id", "severity", "message", "eta", "etas"]


def test_runs_are_read_once(demo_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reportgen import api_read

    calls: list[str] = []
    real = api_read.read_run

    def counted(ref: RunRef, *args: Any) -> Any:
        calls.append(ref.id)
        return real(ref, *args)

    monkeypatch.setattr(api_read, "read_run", counted)
    opened = reportgen.open(demo_tree, bootstrap=0)
    assert calls == []  # opening reads no run
    group = opened.group(E_2048)
    group.pooled(), group.etas(), opened.run(f"{E_2048}/run_02").chart("eta-curve")
    assert sorted(calls) == list(group.ref.run_ids)


def test_without_pandas_the_error_says_what_to_install(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "reportgen\[notebook\]"'):
        tree.run(f"{E_2048}/run_01").etas()


def test_import_reportgen_loads_no_api_numpy_or_pandas() -> None:
    probe = (
        "import sys, reportgen; print(sorted(m for m in ('numpy', 'pandas', 'reportgen.api') "
        "if m in sys.modules)); print(callable(reportgen.open), 'open' in dir(reportgen))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["[]", "True True"]
    with pytest.raises(AttributeError):
        reportgen.nothing  # noqa: B018


# --- the real tree ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared
def test_the_real_tree_gives_the_sites_numbers(
    shared_results: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    site = tmp_path_factory.mktemp("shared") / "site"
    fast = ["--bootstrap", "200", "-j", "2", "-q"]
    assert cli.main(["build", str(shared_results), "-o", str(site), *fast]) in (0, 1)
    opened = reportgen.open(shared_results, bootstrap=200)
    assert len(opened.runs) >= 10
    for run in opened.runs:
        assert json.loads(json.dumps(run.summary())) == _run_summary(site, run.id), run.id
    assert sum(_check_pooled(site, group) for group in opened.groups) > 20


@pytest.mark.slow
def test_the_guide_points_notebook_users_to_the_api(demo_site: tuple[Path, Path]) -> None:
    guide = (demo_site[1] / "guide.html").read_text(encoding="utf-8")
    assert 'reportgen.open("results/")' in guide
    assert "reportgen[notebook]" in guide
