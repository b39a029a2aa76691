"""Group charts as a reader and Vega see them: titles that tell populations apart, run names whose
distinguishing tail shows on an axis, and no layer drawn from a field with no value."""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reportgen import charts
from reportgen.charts.scaling import doubling_chart, per_lr_chart, tail_parts

SPEC = re.compile(
    r'<script type="application/json" class="chart-spec" data-chart="([^"]+)">(.*?)</script>', re.S
)
PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)
TITLE = re.compile(
    r'<figure class="chart" id="chart-([^"]+)".*?<span class="chart-title">(.*?)</span>', re.S
)
SEVERAL = "groups/denominator_fix/index.html"  # six populations, alike in their first parts


def unit_layers(node: Any, data: str | None = None) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every layer that draws marks, with the name of the dataset it reads."""
    if isinstance(node, list):
        for item in node:
            yield from unit_layers(item, data)
    elif isinstance(node, dict):
        if isinstance(node.get("data"), dict) and "name" in node["data"]:
            data = node["data"]["name"]
        if "mark" in node and "encoding" in node:
            yield node, data
        for key in ("layer", "spec", "concat", "hconcat", "vconcat"):
            yield from unit_layers(node.get(key), data)


def columns(chunks: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for chunk in chunks:
        for name, values in chunk.items():
            out.setdefault(name, []).extend(values if isinstance(values, list) else [values])
    return out


def computed(layer: dict[str, Any]) -> set[str]:
    """The fields a layer's own transforms make (not read from its data)."""
    made: set[str] = set()
    for step in layer.get("transform", []):
        named = step.get("as", [])
        made |= set(named if isinstance(named, list) else [named])
        made |= {a["as"] for a in step.get("aggregate", [])}
    return made


def empty_fields(spec: dict[str, Any], datasets: dict[str, Any]) -> list[str]:
    """The fields a layer encodes (tooltips aside) that hold no finite value in any row."""
    found = []
    for layer, name in unit_layers(spec):
        data = columns(datasets.get(name or "", []))
        for channel, encoding in layer["encoding"].items():
            field = encoding.get("field") if isinstance(encoding, dict) else None
            if channel == "tooltip" or field not in data or field in computed(layer):
                continue
            if all(
                v is None or (isinstance(v, float) and not math.isfinite(v)) for v in data[field]
            ):
                found.append(f"{channel}: {field}")
    return found


def charts_of(page: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    text = page.read_text(encoding="utf-8")
    found = PAGE_DATA.search(text)
    datasets = json.loads(found.group(1))["datasets"] if found else {}
    return {c: json.loads(s) for c, s in SPEC.findall(text)}, datasets


def test_no_group_chart_draws_a_layer_from_a_field_without_values(
    demo_site: tuple[Path, Path],
) -> None:
    _, site = demo_site
    pages = sorted((site / "groups").rglob("index.html"))
    drawn = 0
    for page in pages:
        specs, datasets = charts_of(page)
        for chart_id, spec in specs.items():
            assert empty_fields(spec, datasets) == [], (page.relative_to(site), chart_id)
            drawn += 1
    assert drawn > 100  # every kind of group chart of the demo, η sweeps and CV groups included
    per_lr = charts_of(site / SEVERAL)[0]
    assert any("p5" in c for c in per_lr if c.startswith("per-lr"))  # the η sweep's, without g·v


def encoded(spec: dict[str, Any]) -> set[str]:
    return {
        e["field"]
        for layer, _ in unit_layers(spec)
        for channel, e in layer["encoding"].items()
        if channel != "tooltip" and isinstance(e, dict) and "field" in e
    }


def test_per_lr_chart_without_gdotv_has_no_gdotv_layer() -> None:
    runs, etas, true = ["a"] * 3, [1e-6, 2e-6, 4e-6], [-2.0, -2.1, -2.3]
    none = [None] * 3
    chart, data = per_lr_chart(runs, etas, true, [0.1] * 3, none, none, population="p", key="k")
    assert empty_fields(chart.spec, data) == []
    assert encoded(chart.spec) & {"g", "g_lo", "g_hi"} == set()
    line, _ = per_lr_chart(runs, etas, true, [0.1] * 3, [-2.0] * 3, none, population="p", key="k")
    assert "g" in encoded(line.spec) and "g_lo" not in encoded(line.spec)  # no SE: no band
    band, _ = per_lr_chart(
        runs, etas, true, [0.1] * 3, [-2.0] * 3, [0.1] * 3, population="p", key="k"
    )
    assert {"g", "g_lo", "g_hi"} <= encoded(band.spec)


def test_cv_chart_of_single_runs_has_no_se_layer() -> None:
    chart, data = charts.cv_group_chart(
        ["len"], [0.2], [0.2], [0.2], [0.9], [0.9], [0.9], corr_se=[None], var_ratio_se=[None]
    )
    assert empty_fields(chart.spec, data) == []
    with_se, data = charts.cv_group_chart(
        ["len"], [0.2], [0.1], [0.3], [0.9], [0.8], [1.0], corr_se=[0.1], var_ratio_se=[0.1]
    )
    assert "corr_se_lo" in json.dumps(with_se.spec) and empty_fields(with_se.spec, data) == []


def test_chart_titles_tell_every_population_apart(demo_site: tuple[Path, Path]) -> None:
    """Six populations of one group alike in schema, B_E and a long field label were cut to the
    same title; every chart title of a group page is now its own."""
    _, site = demo_site
    for page in sorted((site / "groups").rglob("index.html")):
        titles = Counter(html.unescape(t) for _, t in TITLE.findall(page.read_text("utf-8")))
        assert [t for t, n in titles.items() if n > 1] == [], page.relative_to(site)
    by_id = dict(TITLE.findall((site / SEVERAL).read_text("utf-8")))
    per_lr = [html.unescape(t) for c, t in by_id.items() if c.startswith("per-lr")]
    assert len(per_lr) == 6 and any('"llama-7b"' in t for t in per_lr)


def test_run_names_on_an_axis_keep_their_distinguishing_tail() -> None:
    same_dir = [f"run_with_denom_fix/E_2048/run_0{k}" for k in range(1, 5)]
    assert tail_parts(same_dir) == 1
    assert tail_parts(["a/x/run_01", "b/x/run_01", "b/y/run_01"]) == 3
    assert tail_parts(["run_01", "run_02"]) == 1
    chart, _ = doubling_chart(same_dir, [1e-6] * 4, [2.0] * 4, [1.9] * 4, [2.1] * 4,
                              population="p", key="k")  # fmt: skip
    axes = [layer["encoding"]["x"].get("axis", {}) for layer, _ in unit_layers(chart.spec)
            if "x" in layer["encoding"]]  # fmt: skip
    assert axes and all(a["labelLimit"] == 0 for a in axes)  # never cut from the end
    assert all(a["labelExpr"] == "join(slice(split(datum.label, '/'), -1), '/')" for a in axes)
