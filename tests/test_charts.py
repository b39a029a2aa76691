"""Chart kinds: schema-valid, cached, data-free specs; columnar datasets; downsampling; binning."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pytest
import vl_convert

from reportgen import charts
from reportgen.charts import Chart, Datasets, spec_cache
from reportgen.charts import palette as chart_palette
from reportgen.charts.agreement import paired_z_chart, quad_help_chart
from reportgen.charts.sensitivity import Metric, clip_sweep_chart

ETAS = [1e-5, 3e-5, 1e-4]
N_SEQ = 300
RNG_SEED = 7

ChartResult = tuple[Chart, Datasets]


def _per_eta(scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    return [rng.normal(size=N_SEQ) * eta * scale for eta in ETAS]


def _table(max_points: int = 5000) -> charts.PerSeqTable:
    true = _per_eta()
    linear = [t + 0.1 * e for t, e in zip(true, _per_eta(0.1), strict=True)]
    quad = _per_eta(0.01)
    tokens = [np.full(N_SEQ, 32.0) for _ in ETAS]
    return charts.per_seq_table(ETAS, true, linear, quad, tokens, max_points=max_points)


def _group_rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    runs = [f"run_{i:02d}" for i in range(3) for _ in ETAS]
    etas = np.tile(ETAS, 3)
    true = -5 * etas * (1 + 0.1 * np.arange(etas.size))
    return runs, etas, true


def _weights() -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(RNG_SEED)
    weights = [rng.dirichlet(np.ones(N_SEQ)) for _ in ETAS]
    return weights, [np.log(w) + 2.0 for w in weights]


def _cv_group(metric: Any) -> ChartResult:
    return charts.cv_group_chart(
        ["length", "sum_w"],
        [0.2, 0.5],
        [0.1, 0.3],
        [0.3, 0.7],
        [0.9, 0.6],
        [0.8, 0.5],
        [1.0, 0.8],
        metric=metric,
    )


def _tail() -> ChartResult:
    quantiles = [1.0, 0.999, 0.99, 0.95, 0.9]
    etas = [ETAS[0]] * 10
    methods = ["truncate"] * 5 + ["clip"] * 5
    return charts.tail_ratio(etas, methods, quantiles * 2, np.linspace(1, 1.2, 10), None)


SAMPLES: dict[str, Callable[[], ChartResult]] = {
    "eta-curve": lambda: charts.eta_curve(ETAS, [-1e-4, -3e-4, -1e-3], [-1.1e-4, -3.2e-4, -1e-3]),
    "eta-curve-log": lambda: charts.eta_curve(
        ETAS, [-1e-4, -3e-4, -1e-3], [-1.1e-4, -3.2e-4, -1e-3], y_scale="log"
    ),
    "eta-curve-all": lambda: charts.eta_curve(ETAS, [1, 2, 3], [1, 2, 4], [1, 2, 3.5]),
    "contribution-histograms": lambda: charts.contribution_histograms(
        ETAS, _per_eta(), _per_eta(1.1), None
    ),
    "true-vs-linear": lambda: charts.true_vs_linear(_table()),
    "error-histogram": lambda: charts.error_histogram(ETAS, _per_eta(0.1)),
    "quad-vs-linear": lambda: charts.quad_vs_linear(_table(), norm="per sequence"),
    "weight-distribution": lambda: charts.weight_distributions(ETAS, *_weights()),
    "log-weight-distribution": lambda: charts.weight_distributions(
        ETAS, *_weights(), quantity="log-weights"
    ),
    "ess-curve": lambda: charts.ess_curve(ETAS, [0.9, 0.5, None]),
    "logweight-range": lambda: charts.logweight_range(ETAS, [-3, -4, -6], [0, 0, 0.1], [1, 2, 5]),
    "tail-ratio": _tail,
    "cv-correlation": lambda: charts.cv_bars(["length", "sum_w"], [0.3, -0.5], [0.9, 0.7]),
    "cv-variance-ratio": lambda: charts.cv_bars(
        ["length", "sum_w"], [0.3, -0.5], [0.9, 0.7], metric="variance-ratio"
    ),
    "group-overlay-log": lambda: charts.group_overlay(*_group_rows()),
    "group-overlay-linear": lambda: charts.group_overlay(*_group_rows(), eta_scale="linear"),
    "group-band": lambda: charts.group_band(ETAS, [-1, -2, -3], [0.1, 0.2, 0.4], [-1, -2, -3.3]),
    "fit-chart": lambda: charts.fit_chart(
        *_group_rows(), ["run_00", "run_01"], [1.0, 1.1], [1.6, 1.7], log_base=np.e
    ),
    "approximations-grid": lambda: charts.approximations_grid(
        *_group_rows()[:2],
        (np.linspace(-1e-3, -1e-4, 3 * len(ETAS)),) * 3,
        (np.full(3 * len(ETAS), 1e-5), None, None),
        population="B_E = 256",
    ),
    "relative-error-chart": lambda: charts.relative_error_chart(
        *_group_rows()[:2], np.linspace(-0.1, 0.1, 3 * len(ETAS))
    ),
    "batch-comparison-b8-b64-eta0-0001": lambda: charts.batch_comparison_chart(
        np.linspace(-0.5, 0.5, 11),
        np.arange(10),
        ["r1", "r2"],
        [0.1, -0.2],
        0.05,
        small_size=8,
        large_size=64,
        eta=1e-4,
    ),
    "group-tail-chart-p0": lambda: charts.group_tail_chart(
        ["truncated"] * 5 + ["clipped"] * 5,
        [1e-5] * 10,
        [1.0, 0.999, 0.99, 0.95, 0.9] * 2,
        np.linspace(0.7, 1.1, 10),
        np.full(10, 0.1),
        population="B_E = 256",
        key="p0",
    ),
    "cv-group-correlation": lambda: _cv_group("correlation"),
    "cv-group-variance-ratio": lambda: _cv_group("variance-ratio"),
    "clip-shift": lambda: _clip_sweep("shift"),
    "clip-ess": lambda: _clip_sweep("ess"),
}


def _clip_sweep(metric: Metric) -> tuple[Chart, Datasets]:
    thresholds = [1.5, 2.0, 10.0] * 2
    return clip_sweep_chart(
        [1e-6] * 3 + [2e-6] * 3,
        ["1e−6"] * 3 + ["2e−6"] * 3,
        thresholds,
        [-1.2, -0.5, 0.0, 0.1, 0.0, 0.0],
        [0.9, 0.95, 0.97, 0.99, 0.99, 0.99],
        [False, False, True] * 2,
        metric=metric,
    )


def _attached(chart: Chart, datasets: Datasets) -> dict[str, Any]:
    """The spec with its datasets, through the same JSON bytes a page would carry."""
    data = json.loads(charts.page_data_json(datasets))["datasets"]
    spec = dict(chart.spec, datasets={name: data[name] for name in chart.datasets})
    if _has_eta_param(spec):
        spec = charts.with_initial_eta(spec, ETAS[0])
    return spec


def _has_eta_param(spec: dict[str, Any]) -> bool:
    return any(p.get("name") == charts.ETA_PARAM for p in spec.get("params", []))


@pytest.fixture(scope="module")
def validator() -> Any:
    """Validator for the Vega-Lite schema bundled with the installed Altair (offline)."""
    major = alt.SCHEMA_VERSION.split(".")[0]
    schema = importlib.import_module(f"altair.vegalite.{major}.schema.core").load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


# --- every chart kind ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_spec_validates_against_vega_lite_schema(sample: str, validator: Any) -> None:
    chart, datasets = SAMPLES[sample]()
    errors = [e.message[:200] for e in validator.iter_errors(_attached(chart, datasets))]
    assert errors == []
    assert chart.spec["$schema"] == alt.SCHEMA_URL


def test_validator_rejects_a_broken_spec(validator: Any) -> None:
    chart, datasets = SAMPLES["ess-curve"]()
    spec = _attached(chart, datasets)
    spec["layer"][1]["mark"] = {"type": "not-a-mark"}
    assert list(validator.iter_errors(spec))


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_chart_metadata_and_datasets_match(sample: str) -> None:
    chart, datasets = SAMPLES[sample]()
    spec = chart.spec
    assert chart.title and spec["title"] == chart.title
    assert chart.description and spec["description"] == chart.description
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", chart.id)
    # The spec reads exactly the datasets it declares, and the kind supplies all of them.
    assert charts.dataset_names(spec) == list(chart.datasets)
    assert set(datasets) == set(chart.datasets)
    assert '"values"' not in json.dumps(spec), "specs must not carry inline data"
    assert spec["config"]["background"] == "transparent"
    for name in chart.datasets:
        assert len(datasets[name]) == 1 and isinstance(datasets[name][0], dict)


def test_chart_ids_are_unique() -> None:
    ids = [SAMPLES[name]()[0].id for name in SAMPLES if name != "eta-curve-all"]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(SAMPLES) - {"eta-curve-all"}


def test_every_named_dataset_is_flattened_first() -> None:
    for build in SAMPLES.values():
        chart, datasets = build()
        for node in _nodes(chart.spec):
            data = node.get("data")
            if isinstance(data, dict) and "name" in data:
                columns = list(datasets[data["name"]][0])
                assert node["transform"][0] == {"flatten": columns}, chart.id


def _nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _nodes(v))]
    if isinstance(node, list):
        return [n for v in node for n in _nodes(v)]
    return []


# --- caching ---------------------------------------------------------------------------------


def test_specs_are_built_once_and_copied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the cache guards: Altair builds a spec once per argument tuple, never per chart."""
    built: list[str] = []
    real_init = alt.Chart.__init__

    def counting_init(self: alt.Chart, *args: Any, **kwargs: Any) -> None:
        built.append("chart")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(alt.Chart, "__init__", counting_init)
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path))  # an empty per-install cache
    charts.spec_cache_info()  # the builders register on import
    cached = spec_cache._CACHED_BUILDERS["_true_vs_linear_spec"]
    cached.cache_clear()

    first, _ = charts.true_vs_linear(_table())
    assert built, "a cold cache must build the spec with Altair (else this test counts nothing)"
    after_first = len(built)
    second, _ = charts.true_vs_linear(_table())
    assert len(built) == after_first  # built once: the second chart reused the cached spec
    assert charts.spec_cache_info()["_true_vs_linear_spec"].hits == 1
    assert first.spec == second.spec and first.spec is not second.spec
    first.spec["title"] = "corrupted"
    first.spec["layer"][0]["mark"]["color"] = "red"
    third, _ = charts.true_vs_linear(_table())
    assert third.spec == second.spec and len(built) == after_first

    cached.cache_clear()  # a new process: the spec comes from the per-install cache on disk
    fourth, _ = charts.true_vs_linear(_table())
    assert fourth.spec == second.spec and len(built) == after_first
    assert len(list((tmp_path / "sealed/specs").glob("*.json"))) == 1


def test_variants_are_cached_separately() -> None:
    log, _ = SAMPLES["group-overlay-log"]()
    linear, _ = SAMPLES["group-overlay-linear"]()
    assert json.dumps(log.spec) != json.dumps(linear.spec)
    assert log.datasets == linear.datasets  # the two variants share one dataset


def test_log_eta_curve_plots_magnitudes_on_a_log_axis_labelled_as_such() -> None:
    """Small-η behaviour stays visible: |ΔH| on a log y axis, the axis saying so."""
    log, data = SAMPLES["eta-curve-log"]()
    linear, same = SAMPLES["eta-curve"]()
    assert json.dumps(data, default=list) == json.dumps(same, default=list)  # one dataset
    ys = [n["y"] for n in _nodes(log.spec) if isinstance(n.get("y"), dict)]
    assert ys and all(y["scale"]["type"] == "log" and "log scale" in y["title"] for y in ys)
    assert all("scale" not in y for n in _nodes(linear.spec) if isinstance(y := n.get("y"), dict))
    text = json.dumps(log.spec)
    assert "abs(datum.value)" in text and "datum.value !== 0" in text


def test_eta_curve_carries_each_series_95_percent_interval() -> None:
    """SE columns and ±1.96·SE bounds in the dataset (so in the figure's CSV); the spec draws
    them; the log chart counts the intervals it cannot draw because they include 0."""
    true, linear, se_true, se_linear = [-1e-4, -3e-4, -1e-3], [-1.1e-4, -3.2e-4, -1e-3], [
        2e-4, 1e-4, 1e-4,
    ], [1e-5, 1e-5, 1e-5]  # fmt: skip
    chart, data = charts.eta_curve(ETAS, true, linear, se=(se_true, se_linear, None))
    columns = data[charts.run.ETA_CURVE][0]
    z = 1.959963984540054
    np.testing.assert_allclose(columns["ci95_low_true"], np.array(true) - z * np.array(se_true))
    np.testing.assert_allclose(columns["ci95_high_linear"], np.array(linear) + z * 1e-5)
    assert np.isnan(columns["se_linquad"]).all() and np.isnan(columns["ci95_low_linquad"]).all()
    text = json.dumps(chart.spec)
    assert "datum['ci95_low_' + datum.key]" in text and '"y2"' in text
    assert chart.note is None and "95 % interval" in chart.description
    log, _ = charts.eta_curve(ETAS, true, linear, se=(se_true, se_linear, None), y_scale="log")
    # only the first truth interval (−1e−4 ± 3.9e−4) contains 0
    assert log.note is not None and log.note.startswith("1 95 % interval includes 0")


def test_missing_series_leave_the_legend() -> None:
    chart, _ = SAMPLES["eta-curve"]()
    domains = [n["scale"]["domain"] for n in _nodes(chart.spec) if "domain" in n.get("scale", {})]
    assert ["true", "linear"] in domains and ["true", "linear", "lin+quad"] not in domains
    full, _ = SAMPLES["eta-curve-all"]()
    assert any(n.get("scale", {}).get("domain") == list(charts.SERIES) for n in _nodes(full.spec))


# --- η parameter -----------------------------------------------------------------------------

PER_ETA_KINDS = [
    "contribution-histograms",
    "true-vs-linear",
    "error-histogram",
    "quad-vs-linear",
    "weight-distribution",
    "tail-ratio",
]


@pytest.mark.parametrize("sample", PER_ETA_KINDS)
def test_per_eta_charts_bind_to_the_page_select(sample: str) -> None:
    chart, _ = SAMPLES[sample]()
    (param,) = [p for p in chart.spec["params"] if p["name"] == "eta"]
    assert param["bind"] == {"element": "#eta-select"}
    filters = [
        t["filter"] for n in _nodes(chart.spec) for t in n.get("transform", []) if "filter" in t
    ]
    assert any("toNumber(eta)" in f for f in filters if isinstance(f, str))


def test_with_initial_eta_sets_a_copy() -> None:
    chart, _ = SAMPLES["true-vs-linear"]()
    spec = charts.with_initial_eta(chart.spec, 3e-5)
    assert [p["value"] for p in spec["params"] if p["name"] == "eta"] == [3e-5]
    assert [p["value"] for p in chart.spec["params"] if p["name"] == "eta"] == [None]
    with pytest.raises(ValueError):
        charts.with_initial_eta(SAMPLES["ess-curve"]()[0].spec, 1e-4)


# --- columnar datasets -----------------------------------------------------------------------


def test_columnar_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        charts.columnar(a=np.zeros(3), b=[1, 2])
    with pytest.raises(ValueError, match="one-dimensional"):
        charts.columnar(a=np.zeros((2, 2)))


def test_columnar_serialises_numpy_with_nan_as_null() -> None:
    strided = np.arange(6.0)[::2]
    data = charts.columnar(
        x=strided, y=np.array([1.0, np.nan, np.inf]), s=np.array(["a", "b", "c"])
    )
    text = charts.page_data_json({"d": data})
    assert json.loads(text) == {
        "datasets": {"d": [{"s": ["a", "b", "c"], "x": [0.0, 2.0, 4.0], "y": [1.0, None, None]}]}
    }
    assert charts.page_data_json({"d": data}) == text  # deterministic bytes


def test_merge_datasets_allows_shared_and_rejects_clashes() -> None:
    table = _table()
    (_, a), (_, b) = charts.true_vs_linear(table), charts.quad_vs_linear(table)
    assert list(charts.merge_datasets(a, b)) == [charts.PER_SEQ]
    with pytest.raises(ValueError, match="twice"):
        charts.merge_datasets({"x": charts.columnar(a=[1])}, {"x": charts.columnar(a=[2])})


def test_with_key_namespaces_chart_and_data() -> None:
    chart, data = SAMPLES["ess-curve"]()
    keyed, keyed_data = charts.with_key(chart, data, "b2")
    assert keyed.id == "ess-curve-b2" and keyed.datasets == ("ess-b2",)
    assert charts.dataset_names(keyed.spec) == ["ess-b2"] and list(keyed_data) == ["ess-b2"]
    assert charts.dataset_names(chart.spec) == ["ess"]


# --- downsampling ----------------------------------------------------------------------------


def test_downsample_keeps_extremes_and_outliers() -> None:
    rng = np.random.default_rng(0)
    n, max_points = 20_000, 1_000
    a, b = rng.normal(size=n), rng.standard_cauchy(size=n)
    b[123] = np.nan
    keep = charts.downsample_indices({"a": a, "b": b}, max_points=max_points)
    assert keep.size == max_points
    assert np.all(np.diff(keep) > 0)
    finite_b = np.where(np.isfinite(b), b, np.nan)
    for column in (a, finite_b):
        assert {int(np.nanargmin(column)), int(np.nanargmax(column))} <= set(keep.tolist())
        top = np.argsort(-np.nan_to_num(np.abs(column), nan=-1.0))[: max_points // 100]
        assert set(top.tolist()) <= set(keep.tolist())
    again = charts.downsample_indices({"a": a, "b": b}, max_points=max_points)
    assert np.array_equal(keep, again)


def test_downsample_small_inputs_and_limits() -> None:
    assert np.array_equal(charts.downsample_indices({"a": np.arange(5.0)}, 10), np.arange(5))
    values = {f"c{i}": np.random.default_rng(i).normal(size=500) for i in range(20)}
    keep = charts.downsample_indices(values, max_points=30, keep_extremes_of=["c0"])
    assert keep.size <= 30 and np.unique(keep).size == keep.size
    with pytest.raises(ValueError):
        charts.downsample_indices({"a": np.zeros(3), "b": np.zeros(4)})


def test_per_seq_table_downsamples_per_eta() -> None:
    table = _table(max_points=100)
    assert table.note == f"showing 100 of {N_SEQ} points per η"
    assert list(table.columns) == list(charts.PER_SEQ_COLUMNS)
    etas, counts = np.unique(table.columns["eta"], return_counts=True)
    assert etas.tolist() == ETAS and counts.tolist() == [100] * len(ETAS)
    assert table.columns["token_count"].dtype == np.int64
    np.testing.assert_allclose(
        table.columns["error"],
        table.columns["true"] - table.columns["linear"],
        rtol=1e-5,
        atol=1e-12,
    )
    assert _table().note is None


# --- histograms ------------------------------------------------------------------------------


def test_histogram_counts_sum_to_finite_values() -> None:
    values = [np.array([1.0, 2.0, np.nan, np.inf, 3.0]), np.full(4, 2.5), None, np.array([])]
    rows = charts.histogram_rows([1e-5, 2e-5, 3e-5, 4e-5], "true", values, bins=8)
    eta = rows["eta"]
    assert rows["count"][eta == 1e-5].sum() == 3
    assert rows["count"][eta == 2e-5].sum() == 4  # a constant array still gets a bin
    assert not np.isin([3e-5, 4e-5], eta).any()
    assert rows["series"] == ["true"] * eta.size
    assert np.all(rows["bin_end"] > rows["bin_start"])


def test_values_at_the_float_limits_cannot_be_binned_and_say_so() -> None:
    """±1e308 leave no finite bin width: a ValueError, which the run page turns into a chart
    left out with a warning (from numpy 2.2; older releases raise an IndexError here)."""
    values = np.array([1e308, -1e308, 1.0, 2.0])
    with pytest.raises(ValueError), np.errstate(all="ignore"):
        charts.histogram_rows([1e-5], "true", [values], 40, charts.shared_ranges([values]))


def test_series_share_bins_per_eta() -> None:
    _, data = SAMPLES["contribution-histograms"]()
    columns = data["contribution-histograms"][0]
    series = np.array(columns["series"])
    for eta in ETAS:
        at = columns["eta"] == eta
        starts = {s: columns["bin_start"][at & (series == s)].tolist() for s in ("true", "linear")}
        assert starts["true"] == starts["linear"] and len(starts["true"]) == 40
        assert columns["count"][at & (series == "true")].sum() == N_SEQ


# --- colours ---------------------------------------------------------------------------------


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("color", [*charts.SERIES_COLORS, *charts.RUN_COLORS])
def test_colours_contrast_on_light_and_dark_pages(color: str) -> None:
    assert _contrast(color, "#ffffff") >= 3.0
    assert _contrast(color, "#121212") >= 3.0


# --- offline rendering -----------------------------------------------------------------------


def test_flattened_datasets_draw_offline() -> None:
    """vl-convert draws one symbol per sequence of the selected η: flatten + filter work."""
    table = _table(max_points=100)
    chart, datasets = charts.true_vs_linear(table)
    spec = _attached(chart, datasets)
    spec = charts.with_initial_eta(spec, ETAS[1])
    svg = vl_convert.vegalite_to_svg(spec)
    assert svg.count('aria-roledescription="circle"') == 100
    assert 'class="mark-rule role-mark' in svg  # the y = x line
    assert "true contribution (per token)" in svg
    # The page's <select> hands Vega a string such as "3e-05"; toNumber() must still match.
    for param in spec["params"]:
        param["value"] = repr(ETAS[1])
    assert vl_convert.vegalite_to_svg(spec).count('aria-roledescription="circle"') == 100
    for param in spec["params"]:
        param["value"] = "0.5"
    assert vl_convert.vegalite_to_svg(spec).count('aria-roledescription="circle"') == 0


def test_more_runs_than_colours_become_small_multiples(validator: Any) -> None:
    """Eleven runs in one legend would repeat a colour: one panel per directory instead."""
    runs = [f"{'ab'[i % 2]}/run_{i:02d}" for i in range(11) for _ in range(2)]
    etas = [1e-6, 2e-6] * 11
    chart, datasets = charts.group_overlay(runs, etas, [-1e-3] * 22)
    spec = _attached(chart, datasets)
    assert [e.message[:200] for e in validator.iter_errors(spec)] == []
    assert spec["resolve"]["scale"]["color"] == "independent" and spec["columns"] == 2
    assert chart.note == "11 runs: one panel per directory, colours per panel"
    panels = datasets["group-overlay"][0]["panel"]
    assert max(panels.count(p) // 2 for p in set(panels)) <= len(charts.RUN_COLORS)
    few, _ = charts.group_overlay(runs[:20], etas[:20], [-1e-3] * 20)
    assert "facet" not in few.spec and few.note is None


def test_relative_error_outlier_is_drawn_at_its_value_on_a_symlog_axis() -> None:
    """Nothing moved: a far-out value keeps its place; the axis turns symmetric-log (linear
    near 0) and the note says how many values made it so. Intervals are ±1.96·SE."""
    rel = [0.1, -0.2, 0.05, 0.3, -0.1, -788.0]
    se = [0.01, 0.02, 0.01, 0.05, None, 3.0]
    chart, datasets = charts.relative_error_chart(["r"] * 6, [1e-6] * 6, rel, se)
    data = datasets["relative-error"][0]
    assert data["rel_err"].tolist() == rel and "shown" not in data and "clamped" not in data
    np.testing.assert_allclose(data["ci95_high"][-1], -788.0 + 1.959963984540054 * 3.0)
    assert np.isnan(data["ci95_low"][4])
    scales = [n["scale"] for n in _nodes(chart.spec) if isinstance(n.get("scale"), dict)]
    assert {"type": "symlog", "constant": 1.0} in scales  # the fences −0.96, 0.88 → 1
    assert chart.note is not None and chart.note.startswith("1 of the relative errors lie far")
    plain, _ = charts.relative_error_chart(["r"] * 5, [1e-6] * 5, rel[:5], se[:5])
    assert plain.note is None and "symlog" not in json.dumps(plain.spec)
    assert "(linear − true) / |true|" in json.dumps(plain.spec, ensure_ascii=False)


# --- many runs: distinct colours, whole legends, numfmt tooltips (issue 11) -------------------

CROWDED = [f"d/E_{256 if i % 2 else 512}/run_{i:02d}" for i in range(25)]


def _crowded() -> dict[str, ChartResult]:
    runs = [r for r in CROWDED for _ in ETAS]
    etas = np.tile(ETAS, len(CROWDED))
    true = -5 * etas * (1 + 0.01 * np.arange(etas.size))
    key = {"population": "all", "key": "p0"}
    return {
        "overlay": charts.group_overlay([r.rpartition("/")[2] for r in runs], etas, true),
        "fit": charts.fit_chart(runs, etas, true, CROWDED, [1.0] * 25, [1.6] * 25),
        "relative": charts.relative_error_chart(runs, etas, np.linspace(-0.1, 0.1, etas.size)),
        "paired-z": paired_z_chart(runs, etas, true * 1e3, true, np.abs(true), **key),
        "quad": quad_help_chart(runs, etas, true * 1e3, **key),
    }


@pytest.mark.parametrize("kind", ["overlay", "fit", "relative", "paired-z", "quad"])
def test_more_runs_than_hand_picked_colours_never_repeat_one(kind: str) -> None:
    chart, _ = _crowded()[kind]
    colors = [
        n
        for n in _nodes(chart.spec)
        if isinstance(n.get("legend"), dict) and n.get("field") in ("run", "run_label")
    ]
    assert colors, "the chart has a run legend"
    for color in colors:
        palette = color["scale"]["range"]
        assert len(palette) >= len(CROWDED) and len(set(palette)) == len(palette)
        legend = color["legend"]
        assert legend["symbolLimit"] == 0 and legend["labelLimit"] == 0  # all, never cut
    if kind != "overlay":  # small multiples have a legend per panel and no highlight
        assert json.dumps(chart.spec).count('"bind": "legend"') == 1  # one highlight selection


def test_run_palette_is_distinct_and_contrasts_on_both_pages() -> None:
    palette = chart_palette.run_palette(3000)
    assert len(set(palette)) == 3000 and palette[:10] == charts.RUN_COLORS
    assert chart_palette.run_palette(64) == palette[:64]  # every prefix is the same colours
    assert all(min(_contrast(c, "#ffffff"), _contrast(c, "#121212")) >= 3.0 for c in palette)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_tooltips_show_text_formatted_by_numfmt(sample: str) -> None:
    chart, _ = SAMPLES[sample]()
    for node in _nodes(chart.spec):
        tooltip = node.get("encoding", {}).get("tooltip") if "mark" in node else None
        for item in tooltip if isinstance(tooltip, list) else [tooltip]:
            if isinstance(item, dict) and "field" in item:
                assert "format" not in item and item["type"] == "nominal", (chart.id, item)
                if item["field"].startswith("fmt_"):
                    made = [t["as"] for t in node.get("transform", []) if "calculate" in t]
                    assert item["field"] in made, (chart.id, item["field"])


def test_tooltip_expressions_print_what_numfmt_prints() -> None:
    """Vega evaluates the tooltip expressions exactly as the Python formatter prints."""
    from reportgen import numfmt

    values = [-0.0013221, 1.7e-05, 0.4213, -0.5, 26230.0, 12345.678, -3.0, 0.0, 1e-4, 3.2e-6,
              -2.5e7, 0.012345, 999.95, None, 1.0, -0.01]  # fmt: skip
    spec = {
        "data": {"values": [{"i": i, "v": v} for i, v in enumerate(values)]},
        "transform": [
            {"calculate": numfmt.vega_number_expr("datum.v"), "as": "n"},
            {"calculate": numfmt.vega_eta_expr("datum.v"), "as": "e"},
            {"calculate": numfmt.vega_z_expr("datum.v"), "as": "z"},
            {"calculate": "datum.n + '|' + datum.e + '|' + datum.z", "as": "t"},
        ],
        "mark": "text",
        "encoding": {"y": {"field": "i", "type": "ordinal", "axis": None}, "text": {"field": "t"}},
    }
    import html

    svg = vl_convert.vegalite_to_svg(spec)
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    expected = [
        f"{numfmt.format_number(v)}|{numfmt.format_eta(v)}|{numfmt.format_z(v)}" for v in values
    ]
    assert texts == expected
    assert any("e\u22123" in t for t in texts) and not any("-" in t for t in texts)


def test_approximations_grid_has_a_panel_per_run_and_intervals_on_shared_axes() -> None:
    chart, data = SAMPLES["approximations-grid"]()
    spec = chart.spec
    assert spec["facet"]["field"] == "run" and "resolve" not in spec  # shared axes
    columns = data["approximations-grid"][0]
    np.testing.assert_allclose(
        columns["ci95_high_true"] - columns["true"], 1.959963984540054 * 1e-5
    )
    assert np.isnan(columns["ci95_low_linear"]).all()
    assert chart.note is not None and chart.note.startswith("population B_E = 256;")
    assert "η 1e−5 to 1e−4" in chart.note
