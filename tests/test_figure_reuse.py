"""``--figures`` on a rebuild: a figure whose key is unchanged is taken from the previous site
(when its bytes are those recorded), every other one is drawn again; and a figure's bytes do
not depend on what its vl-convert child drew before."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from reportgen.build.status import figures_from_json, figures_to_json
from reportgen.charts import export
from reportgen.cli import main
from reportgen.figures import Figure, FigureList, FigureSource

FORMATS = "svg,png,pdf"
CLIPPED_RULES = {
    "data": {"values": [{"x": 0.5, "y": 1.0}, {"x": 2.0, "y": 3.0}]},
    "mark": {"type": "rule", "clip": True},
    "encoding": {
        "x": {"field": "x", "type": "quantitative", "scale": {"domain": [0, 1]}},
        "y": {"field": "y", "type": "quantitative"},
    },
}


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The specs drawn through Vega by this process (in-process builds, -j 1)."""
    calls: list[Any] = []
    real = export.svg_of

    def counting(spec: Any) -> str:
        calls.append(spec)
        return real(spec)

    monkeypatch.setattr(export, "svg_of", counting)
    return calls


@pytest.fixture
def results(sample_tree: Path, tmp_path: Path) -> Path:
    """One group of three runs of the sample tree, to be changed."""
    root = tmp_path / "results"
    shutil.copytree(sample_tree / "diagnostics_run/full_data/E_256", root / "E_256")
    return root


def build(results: Path, out: Path, *extra: str) -> None:
    argv = ["build", str(results), "-o", str(out), "-j", "1", "-q", "--figures", FORMATS]
    assert main([*argv, *extra]) == 0


def change_first_run(results: Path) -> None:
    path = results / "E_256/run_01/results.json"
    data = json.loads(path.read_text())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_text(json.dumps(data))


def figure_keys(site: Path) -> dict[str, str]:
    """Every figure file's key, by site path, as the build status records them."""
    status = json.loads((site / ".reportgen/status.json").read_text())
    pages = [*status["runs"].values(), *status["groups"].values(), *status["studies"].values()]
    listed = [figures_from_json(page["figures"]) for page in pages if page.get("figures")]
    return {s.path: s.key for f in listed if f for figure in f.figures for s in figure.sources}


def files(site: Path, suffix: str) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob(f"figures/*{suffix}")}


@pytest.mark.slow
def test_a_rebuild_draws_only_the_figures_whose_key_changed(
    results: Path, tmp_path: Path, drawn: list[Any]
) -> None:
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    build(results, site)
    charts = len(drawn)
    before = figure_keys(site)
    assert charts == len(before) // 3 > 0
    change_first_run(results)
    drawn.clear()
    build(results, site)
    after = figure_keys(site)
    changed = {path for path, key in after.items() if before.get(path) != key}
    assert 0 < len(drawn) == len(changed) // 3 < charts  # a chart's three files, or none
    build(results, fresh)  # cold, into a new directory: every figure drawn afresh
    for suffix in (".svg", ".png", ".csv"):
        assert files(site, suffix) == files(fresh, suffix), suffix
    fresh_pdfs = files(fresh, ".pdf")  # a PDF may list its resources in another order
    assert {p: len(b) for p, b in files(site, ".pdf").items()} == {
        p: len(b) for p, b in fresh_pdfs.items()
    }


@pytest.mark.slow
def test_a_figure_file_changed_on_disk_is_drawn_again_and_force_draws_all(
    results: Path, tmp_path: Path, drawn: list[Any]
) -> None:
    site, fresh = tmp_path / "site", tmp_path / "fresh"
    build(results, site)
    charts = len(drawn)
    pngs = sorted((site / "groups/E_256/figures").glob("*.png"))
    for png in pngs:  # the group page is rendered again: none of these may be taken
        png.write_bytes(b"\x89PNG not the figure")
    change_first_run(results)
    build(results, site)
    build(results, fresh)
    for png in pngs:
        assert png.read_bytes() == (fresh / png.relative_to(site)).read_bytes()
    drawn.clear()
    build(results, site, "--force")
    assert len(drawn) == charts


@pytest.mark.slow
def test_a_changed_study_draws_only_its_changed_figures(
    studies_tree: Path, tmp_path: Path, drawn: list[Any]
) -> None:
    results, site = tmp_path / "results", tmp_path / "site"
    shutil.copytree(studies_tree / "variance", results / "variance")
    build(results, site)
    charts = len(drawn)
    before = figure_keys(site)
    path = results / "variance/jackknife/entropy_jackknife_test_results.jsonl"
    data = json.loads(path.read_text())
    data["experiments"][0]["per_prompt_means"][0] += 0.1
    path.write_text(json.dumps(data))
    drawn.clear()
    build(results, site)
    changed = {p for p, key in figure_keys(site).items() if before.get(p) != key}
    assert 0 < len(drawn) == len(changed) // 3 < charts


def test_the_same_clipped_chart_drawn_twice_gives_the_same_svg() -> None:
    """Vega numbers clip paths on from those it drew before in the same runtime."""
    first, second = export.svg_of(CLIPPED_RULES), export.svg_of(CLIPPED_RULES)
    assert first == second
    assert re.findall(r'id="(clip\d+)"', first) == ["clip1"]


def test_clip_paths_are_renumbered_in_order_and_text_is_left_alone() -> None:
    svg = (
        '<g clip-path="url(#clip7)"><text>clip9 url(#clip9)</text></g>'
        '<g clip-path="url(#clip3)"/><clipPath id="clip7"/><clipPath id="clip3"/>'
    )
    assert export.numbered_clips(svg) == (
        '<g clip-path="url(#clip1)"><text>clip9 url(#clip9)</text></g>'
        '<g clip-path="url(#clip2)"/><clipPath id="clip1"/><clipPath id="clip2"/>'
    )


def test_a_figure_key_names_everything_its_bytes_depend_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = {"mark": "point", "data": {"values": [{"x": 1}]}}

    def key(spec: dict[str, Any], fmt: str = "png") -> str:
        return export.figure_keys(spec, export.FORMATS)[fmt]

    png, svg = key(spec), key(spec, "svg")
    assert key(dict(reversed(spec.items()))) == png  # the same JSON
    assert key({**spec, "mark": "line"}) != png
    assert len({key(spec, fmt) for fmt in export.FORMATS}) == 3
    monkeypatch.setattr(export, "PNG_DPI", export.PNG_DPI + 1)
    assert key(spec) != png
    assert key(spec, "svg") == svg  # the PNG's dpi is not the SVG's business
    monkeypatch.undo()
    monkeypatch.setattr(export, "_vl_convert_version", lambda: "0.0.0-other")
    assert key(spec) != png
    monkeypatch.undo()
    monkeypatch.setattr(export, "FIGURE_KEY_FORMAT", export.FIGURE_KEY_FORMAT + 1)
    assert key(spec) != png


def test_the_status_keeps_each_figure_file_key_and_digest() -> None:
    source = FigureSource("runs/r/figures/a.svg", "1" * 64, "2" * 64)
    figure = Figure("a", "A", "An a.", ("a.svg",), "a.csv", None, (source,))
    listed = FigureList("runs/r/index.html", "runs/r/figures/figures.json", (figure,))
    data = json.loads(json.dumps(figures_to_json(listed)))
    assert figures_from_json(data) == listed
    assert "sources" not in figure.to_json()  # the public figure index does not list them
    data["figures"][0]["sources"] = [["runs/r/figures/a.svg", "1" * 64]]
    with pytest.raises(TypeError):
        figures_from_json(data)
