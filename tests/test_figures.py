"""``--figures`` and ``--figure-theme``: every chart as SVG/PNG/PDF with its data, and an index."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from reportgen import charts
from reportgen.charts import Chart, Datasets, export
from reportgen.cli import FIGURE_FORMATS, FIGURE_THEMES, main
from tests.plotted import derived_names, labelled_items, plotted_values, unexplained

SVG = "{http://www.w3.org/2000/svg}"
CHART_ID = re.compile(r'class="chart-spec" data-chart="([^"]+)"')


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    return int(width), int(height)


def svg_size(root: ET.Element) -> tuple[float, float]:
    return float(root.attrib["width"]), float(root.attrib["height"])


def chart_pages(site: Path) -> dict[Path, list[str]]:
    """Every run and group page with the ids of the charts it shows."""
    pages = {}
    for page in sorted([*site.glob("runs/**/index.html"), *site.glob("groups/**/index.html")]):
        ids = CHART_ID.findall(page.read_text())
        if ids:
            pages[page] = ids
    return pages


@pytest.fixture(scope="module")
def paper_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("figures") / "site"
    argv = ["build", str(sample_tree), "-o", str(out), "-j", "1", "-q"]
    assert main([*argv, "--figures", "svg,png,pdf", "--figure-theme", "paper"]) == 0
    return out


def test_cli_constants_match_the_exporter() -> None:
    assert FIGURE_FORMATS == export.FORMATS and FIGURE_THEMES == export.THEMES


@pytest.mark.slow
def test_every_chart_is_exported_in_every_format(paper_site: Path) -> None:
    pages = chart_pages(paper_site)
    assert len(pages) >= 8  # runs of all three schemas and the groups
    for page, ids in pages.items():
        figures = page.parent / "figures"
        manifest = json.loads((figures / export.MANIFEST).read_text())
        assert sorted(f["id"] for f in manifest["figures"]) == sorted(ids)  # page order differs
        for chart_id in ids:
            for fmt in ("svg", "png", "pdf"):
                assert (figures / f"{chart_id}.{fmt}").stat().st_size > 500, (page, chart_id)
        assert all(f["warning"] is None for f in manifest["figures"])


@pytest.mark.slow
def test_svg_parses_and_png_is_the_svg_at_300_dpi(paper_site: Path) -> None:
    checked = 0
    for page, ids in chart_pages(paper_site).items():
        for chart_id in ids:
            root = ET.parse(page.parent / "figures" / f"{chart_id}.svg").getroot()
            assert root.tag == f"{SVG}svg"
            width, height = svg_size(root)
            png = png_size((page.parent / "figures" / f"{chart_id}.png").read_bytes())
            # vl-convert renders the same scene: PNG pixels = SVG px × 300/96, ±1 px rounding
            assert abs(png[0] - width * 300 / 96) <= 1.5 and abs(png[1] - height * 300 / 96) <= 1.5
            pdf = (page.parent / "figures" / f"{chart_id}.pdf").read_bytes()
            assert pdf.startswith(b"%PDF-")
            checked += 1
    assert checked >= 30


@pytest.mark.slow
def test_paper_theme_text_is_sans_and_at_least_11_pt(paper_site: Path) -> None:
    for page, ids in chart_pages(paper_site).items():
        for chart_id in ids:
            root = ET.parse(page.parent / "figures" / f"{chart_id}.svg").getroot()
            width, _ = svg_size(root)
            # one column (3.5 in) or two (7 in) at 96 px/in, the y axis added beside the plot
            assert width <= export.TWO_COLUMN_PX + 60, (chart_id, width)
            texts = list(root.iter(f"{SVG}text"))
            assert texts, chart_id
            for text in texts:
                size = float(str(text.attrib.get("font-size", "0")).removesuffix("px"))
                assert size * 72 / 96 >= 11, (chart_id, text.text, size)  # px → pt
                assert "serif" not in text.attrib.get("font-family", "").replace("sans-serif", "")


@pytest.mark.slow
def test_each_figure_has_its_data_as_csv(paper_site: Path) -> None:
    page = paper_site / "runs/diagnostics_run/full_data/E_256/run_01/index.html"
    rows = list(csv.DictReader(io.StringIO((page.parent / "figures/eta-curve.csv").read_text())))
    summary = json.loads((page.parent / "summary.json").read_text())
    assert len(rows) == len(summary["etas"])
    etas = sorted(float(r["eta"]) for r in rows)
    assert etas == sorted(e["eta"] for e in summary["etas"])


@pytest.mark.slow
def test_figure_index_lists_every_figure_with_caption_and_csv(paper_site: Path) -> None:
    html = (paper_site / "figures.html").read_text()
    total = sum(len(ids) for ids in chart_pages(paper_site).values())
    hrefs = re.findall(r'href="([^"]+)"', html)
    svgs = sorted(set(h for h in hrefs if h.endswith(".svg")))
    csvs = [h for h in hrefs if h.endswith(".csv") and "/figures/" in h]  # not the tables'
    assert html.count('<li class="figure-card"') == total
    assert len(svgs) == total and len(csvs) == total
    # each card shows its figure itself as the thumbnail, loaded once it is on screen
    thumbnails = re.findall(r'<img src="([^"]+)" loading="lazy"', html)
    assert sorted(thumbnails) == svgs
    assert all((paper_site / h).is_file() for h in svgs + csvs)
    assert "Entropy change ΔH" in html  # a caption (the chart's description)
    assert f"{total} figures" in (paper_site / "index.html").read_text()


@pytest.mark.slow
def test_every_figure_plots_its_csv_values_unless_its_caption_names_the_difference(
    paper_site: Path,
) -> None:
    """Read from each exported SVG's mark labels (what Vega drew, after every transform): each
    plotted number is a cell of the figure's CSV to its printed precision, or a magnitude on a
    |ΔH| axis the caption names, or an aggregate whose name the caption carries; constants drawn
    as guides say so. A clamped or silently moved point is a number found nowhere."""
    checked = 0
    for manifest in sorted(paper_site.rglob(f"figures/{export.MANIFEST}")):
        for figure in json.loads(manifest.read_text())["figures"]:
            svg = (manifest.parent / f"{figure['id']}.svg").read_text()
            assert figure["csv"] is not None, figure["id"]
            table = (manifest.parent / figure["csv"]).read_text()
            assert plotted_values(labelled_items(svg)), figure["id"]  # the labels were read
            missing = unexplained(svg, table, figure["caption"])
            assert not missing, (manifest, figure["id"], missing[:3])
            for name in derived_names(svg):
                assert name in figure["caption"], (figure["id"], name)
            checked += 1
    assert checked >= 150


def _clamped_eta_curve_svg(clamp: bool) -> tuple[str, bytes]:
    """The ΔH-vs-η figure's SVG and CSV, its values clamped into a narrow range or not."""
    chart, standalone, datasets = eta_curve_figure()
    spec = export.themed(export.plain_json(standalone), "paper")
    if clamp:  # what the former relative-error chart did: points moved to the edge
        for layer in spec["layer"]:
            layer.setdefault("transform", []).append(
                {"calculate": "clamp(datum.shown, -2e-4, 0)", "as": "shown"}
            )
    table = export.datasets_csv(datasets, chart.datasets)
    assert table is not None
    return export.svg_of(spec), table


@pytest.mark.slow
def test_a_clamped_point_is_a_plotted_value_the_csv_does_not_have() -> None:
    caption = eta_curve_figure()[0].description
    svg, table = _clamped_eta_curve_svg(clamp=False)
    assert unexplained(svg, table.decode(), caption) == []
    svg, table = _clamped_eta_curve_svg(clamp=True)
    moved = unexplained(svg, table.decode(), caption)
    # −3e-4, −3.2e-4, −1e-3 and −1.2e-3 were drawn at the edge; −1e-4 and −1.1e-4 stayed
    assert {m.value for m in moved} == {-2e-4}
    assert len({m.text for m in moved}) == 1 and len(moved) >= 4


def test_figure_labels_parse_as_vega_prints_them() -> None:
    items = labelled_items(
        '<path aria-roledescription="point" aria-label="η: 8e-7; ΔH: −0.000574957; '
        'series: linear"/><g aria-roledescription="axis" aria-label="X-axis: 1"/>'
        '<path aria-label="reference at z = −2 and 2" aria-roledescription="rect"/>'
    )
    values = plotted_values(items)
    assert [(v.field, v.value) for v in values] == [("η", 8e-7), ("ΔH", -0.000574957)]
    assert values[1].tolerance == pytest.approx(0.5e-9)
    assert len(items) == 2  # the axis is chrome


def eta_curve_figure() -> tuple[Chart, dict[str, Any], Datasets]:
    """The run page's ΔH-vs-η chart and its standalone spec, as the run page exports it."""
    etas = [1e-5, 3e-5, 1e-4]
    chart, datasets = charts.eta_curve(etas, [-1e-4, -3e-4, -1e-3], [-1.1e-4, -3.2e-4, -1.2e-3])
    standalone = dict(chart.spec, datasets={name: datasets[name] for name in chart.datasets})
    return chart, standalone, datasets


def test_site_theme_is_the_page_chart_at_page_width() -> None:
    chart, standalone, _ = eta_curve_figure()
    spec = export.themed(export.plain_json(standalone), "site")
    assert spec["width"] == export.SITE_WIDTH_PX
    # "fit" autosize containing the padding: the whole figure, axes included, is that wide
    assert spec["autosize"] == chart.spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert spec["title"] == chart.spec["title"] == "ΔH vs η: true and approximations"
    assert spec["config"] == chart.spec["config"] and spec["background"] == "white"
    text = json.dumps(spec)
    assert '"tooltip"' not in text and '"bind"' not in text  # a file has no pointer
    assert export.themed(export.plain_json(standalone), "paper")["width"] != spec["width"]


@pytest.mark.slow
def test_site_theme_figure_files_are_the_page_width() -> None:
    """The spec above through vl-convert: SVG at the page width, PNG at 300 dpi, no PDF."""
    chart, standalone, datasets = eta_curve_figure()
    formats = ("svg", "png")
    figure, files = export.export_chart(chart, standalone, datasets, formats, "site", "runs/r")
    assert figure.warning is None and figure.files == ("eta-curve.svg", "eta-curve.png")
    content = dict(files)
    root = ET.fromstring(content["runs/r/figures/eta-curve.svg"])
    assert svg_size(root)[0] == export.SITE_WIDTH_PX
    assert "ΔH vs η" in "".join(t.text or "" for t in root.iter(f"{SVG}text"))  # title kept
    png = png_size(content["runs/r/figures/eta-curve.png"])
    assert png[0] == round(export.SITE_WIDTH_PX * 300 / 96)
    assert sorted(content) == [f"runs/r/figures/eta-curve.{x}" for x in ("csv", "png", "svg")]


def test_unknown_format_or_theme_is_a_usage_error(sample_tree: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["build", str(sample_tree), "-o", str(tmp_path / "a"), "--figures", "svg,gif"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["build", str(sample_tree), "-o", str(tmp_path / "b"), "--figure-theme", "serif"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_an_export_failure_is_a_warning_on_that_chart(
    sample_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = export.convert

    def failing(svg: str, fmt: str) -> bytes:
        if fmt == "png":  # the SVG each format is drawn from is fine: only PNG fails
            raise ValueError("simulated vl-convert failure")
        return real(svg, fmt)

    monkeypatch.setattr(export, "convert", failing)
    out = tmp_path / "site"
    argv = ["build", str(sample_tree), "-o", str(out), "-j", "1", "-q", "--figures", "svg,png"]
    assert main(argv) == 0  # no run became an error page
    page = next(out.glob("runs/**/run_01/index.html"))
    html = page.read_text()
    assert "figure export failed (png: ValueError: simulated vl-convert failure)" in html
    assert 'class="page-run"' in html or "page-run" in html
    manifest = json.loads((page.parent / "figures" / export.MANIFEST).read_text())
    assert all("simulated" in (f["warning"] or "") for f in manifest["figures"])
    assert all(f["files"] == [f"{f['id']}.svg"] for f in manifest["figures"])
    assert "could not be exported" in (out / "figures.html").read_text()


def test_png_and_pdf_drawn_from_the_svg_match_rendering_the_spec() -> None:
    """One Vega evaluation per chart: the PNG rasterised from the SVG is the PNG vl-convert
    renders from the spec (same bytes), and the PDF carries the same text."""
    import vl_convert

    chart, data = charts.eta_curve([1e-6, 2e-6], [-1e-4, -2e-4], [-1.1e-4, -2.1e-4])
    spec = export.themed(export.plain_json(dict(chart.spec) | {"datasets": data}), "paper")
    svg = str(vl_convert.vegalite_to_svg(spec))
    png = bytes(vl_convert.vegalite_to_png(spec, scale=export.PNG_SCALE, ppi=export.PNG_DPI))
    assert export.render(spec, "png") == png == export.convert(svg, "png")
    pdf = export.convert(svg, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) == len(bytes(vl_convert.vegalite_to_pdf(spec)))
    assert export.convert(svg, "svg") == svg.encode()
    with pytest.raises(ValueError, match="unknown figure format"):
        export.convert(svg, "gif")


EXPORT_ONE_FIGURE = """
from reportgen import charts
from reportgen.charts import export
chart, data = charts.eta_curve([1e-6, 2e-6], [-1e-4, -2e-4], [-1.1e-4, -2.1e-4])
spec = export.themed(export.plain_json(dict(chart.spec) | {"datasets": data}), "paper")
assert export.render(spec, "svg").startswith(b"<svg")
"""


def test_the_converter_child_ends_with_its_process_and_leaves_no_open_pipe() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", EXPORT_ONE_FIGURE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr


@pytest.mark.slow
def test_figures_spread_over_several_children_are_the_same_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page's figures converted on two vl-convert children at once: the same figures and
    bytes, in the same order, as one child converting them in turn."""
    import threading

    etas = [1e-5, 3e-5, 1e-4]
    linear = [-1.1e-4, -3.2e-4, -1.2e-3]
    items: list[tuple[Chart, dict[str, Any]]] = []
    datasets: Datasets = {}
    for i, scale in enumerate((1.0, 2.0, 3.0)):
        chart, data = charts.eta_curve(etas, [-1e-4 * scale, -3e-4, -1e-3], linear)
        chart = dataclasses.replace(chart, id=f"eta-curve-{i}")
        items.append((chart, dict(chart.spec, datasets=data)))
        datasets.update(data)
    formats = ("svg", "png", "pdf")
    monkeypatch.setattr(export, "_spread", (1, os.getpid()))
    one = export.export_charts(items, datasets, formats, "paper", "runs/r")
    used: set[int] = set()
    real = export._child

    def recording() -> Any:
        child = real()
        used.add(id(child))
        assert threading.current_thread() is not threading.main_thread()
        return child

    monkeypatch.setattr(export, "_child", recording)
    export.spread_over(2)
    spread = export.export_charts(items, datasets, formats, "paper", "runs/r")
    assert len(used) == 2
    for (fig_a, files_a), (fig_b, files_b) in zip(one, spread, strict=True):
        assert dataclasses.replace(fig_a, sources=()) == dataclasses.replace(fig_b, sources=())
        assert [(s.path, s.key) for s in fig_a.sources] == [(s.path, s.key) for s in fig_b.sources]
        assert [path for path, _ in files_a] == [path for path, _ in files_b]
        for (path, a), (_, b) in zip(files_a, files_b, strict=True):
            # a PDF's resources may be listed in another order; every other file is the same
            assert a == b or (path.endswith(".pdf") and len(a) == len(b)), path


def test_plain_json_turns_numpy_into_lists() -> None:
    """The old failure: vl-convert got numpy arrays ("unsupported type ndarray")."""
    import numpy as np

    spec = export.plain_json({"datasets": {"d": [{"x": np.array([1.0, np.nan])}]}})
    assert spec == {"datasets": {"d": [{"x": [1.0, None]}]}}


@pytest.mark.slow
@pytest.mark.shared
def test_shared_tree_exports_every_figure(shared_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    argv = ["build", str(shared_results), "-o", str(out), "-j", "1", "-q"]
    assert main([*argv, "--figures", "svg,png"]) == 0
    pages = chart_pages(out)
    assert pages
    for page, ids in pages.items():
        for chart_id in ids:
            root = ET.parse(page.parent / "figures" / f"{chart_id}.svg").getroot()
            width, height = svg_size(root)
            png = png_size((page.parent / "figures" / f"{chart_id}.png").read_bytes())
            assert abs(png[0] - width * 300 / 96) <= 1.5 and abs(png[1] - height * 300 / 96) <= 1.5


@pytest.mark.slow
def test_group_pages_write_their_tables_for_papers(paper_site: Path) -> None:
    """With --figures, each group with runs writes its verdict, pooled and fit tables as CSV
    and LaTeX beside its page; the LaTeX is well formed, the CSV rows match the summary."""
    from tests.test_paper_tables import assert_wellformed

    written = sorted(paper_site.glob("groups/**/tables/verdicts.tex"))
    assert written
    for tex in written:
        for name in ("verdicts", "pooled", "fits"):
            if (tex.parent / f"{name}.tex").exists():
                text = (tex.parent / f"{name}.tex").read_text()
                head = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", text)
                assert head is not None
                assert_wellformed(text, len(head.group(1)))
        page = (tex.parent.parent / "index.html").read_text()
        index = (paper_site / "figures.html").read_text()
        for written_file in sorted(tex.parent.iterdir()):
            assert f'href="tables/{written_file.name}"' in page, written_file
            assert f'href="{written_file.relative_to(paper_site)}"' in index, written_file
        summary = json.loads((tex.parent.parent / "summary.json").read_text())
        pairs = sum(len(r.get("agreement", [])) for r in summary["runs"])
        rows = (tex.parent / "verdicts.csv").read_text().splitlines()[2:]
        assert len(rows) == pairs
