"""In a real browser: the site works offline, is interactive, exportable, printable and legible.

Every page is opened from ``file://`` in headless Chromium with all non-file traffic aborted;
charts must draw marks (a chart whose data failed still "renders", with nothing in it), and the
console must stay free of errors and warnings (CSP violations show up there as errors).
"""

from __future__ import annotations

import os
import re
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from reportgen.build import BuildOptions, BuildResult, build
from reportgen.charts.grid import CELL_PX as GRID_CELL_PX
from reportgen.demo import generate_sample_tree

CHROMIUM = Path(os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:")  # data:/blob: are exports made in the page itself
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"Chromium is not installed at {CHROMIUM} (CI installs it)"
    ),
]

SNIS_RUN = "runs/diagnostics_run/full_data/E_256/run_01/index.html"
SNIS_NO_PER_SEQ = "runs/diagnostics_run/full_data/E_512/run_02/index.html"
SWEEP_RUN = "runs/comparison_across_learning_rates/run_01/index.html"
CV_RUN = "runs/CVs_and_gdotv/run1/run_01/index.html"
BATCH_GROUP = "groups/diagnostics_run/full_data/index.html"
BROKEN_RUN = "diagnostics_run/full_data/E_256/run_09"
STALE_RUN = "comparison_across_learning_rates/run_02"

ALL_DRAWN = """() => Array.from(document.querySelectorAll('.chart-view'))
    .every(v => v.hasAttribute('data-rendered'))"""
CHART_STATE = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
    const view = f.querySelector('.chart-view');
    const svg = view.querySelector('svg.marks');
    return {
        id: f.id,
        state: view.getAttribute('data-rendered'),
        marks: view.querySelectorAll(
            'svg.marks g.role-mark > :is(path, line, text, rect, image)').length,
        svgTitle: svg ? Array.from(svg.querySelectorAll('.role-title-text text'))
            .map(t => t.textContent).join(' ') : '',
        caption: f.querySelector('figcaption .chart-title').textContent.trim(),
        label: view.getAttribute('aria-label') || '',
        actions: Array.from(f.querySelectorAll('.chart-actions .vega-actions a'))
            .map(a => a.textContent),
        csv: (f.querySelector('a.csv-download') || {}).href || null,
    };
})"""
TABLE_STATE = """() => Array.from(document.querySelectorAll('table.data')).map(t => ({
    id: t.id,
    caption: t.caption ? t.caption.textContent.trim() : '',
    headers: t.tHead ? t.tHead.querySelectorAll('th[scope=col]').length : 0,
    headerFocusable: t.classList.contains('sortable') && t.tHead
        ? Array.from(t.tHead.rows[0].cells).every(c => c.tabIndex === 0) : true,
}))"""


# --- the browser and its tabs -----------------------------------------------------------------


def page_url(path: Path, every_chart: bool = True) -> str:
    """The page's file:// URL; ``?all`` draws every chart at once instead of as it nears the
    screen (what screenshots and checks of every chart need)."""
    return path.as_uri() + ("?all" if every_chart else "")


@dataclass
class Recorder:
    """What the pages of one context logged and requested (tests run one at a time)."""

    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, context: BrowserContext) -> Recorder:
        recorder = cls()
        # Context-level listeners also see requests a page-level listener misses.
        context.on("request", lambda request: recorder.requests.append(request.url))
        context.on("console", recorder.console)
        context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
        return recorder

    def console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"{message.type}: {message.text}")

    def clear(self) -> None:
        self.problems.clear()
        self.requests.clear()


@dataclass
class Tab:
    """One page, with everything its context logged and requested since it opened."""

    page: Page
    recorder: Recorder

    @property
    def problems(self) -> list[str]:
        return self.recorder.problems

    @property
    def requests(self) -> list[str]:
        return self.recorder.requests

    def goto(self, target: Path, *, every_chart: bool = True) -> Tab:
        """Open ``target``; with ``every_chart``, as ``?all`` (every chart drawn at once, not as
        it nears the screen), waiting until all are drawn."""
        self.page.goto(page_url(target, every_chart))  # waits for "load": deferred scripts ran
        if every_chart:
            self.wait_for_charts()
        return self

    def wait_for_charts(self) -> None:
        self.page.wait_for_function(ALL_DRAWN, polling=50, timeout=30_000)

    def charts(self) -> list[dict[str, Any]]:
        charts: list[dict[str, Any]] = self.page.evaluate(CHART_STATE)
        return charts

    def network(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    def assert_clean(self) -> None:
        assert self.problems == [], "console errors/warnings or page errors"
        assert self.network() == [], "requests left the file system"


Opener = Callable[..., Tab]
Scheme = Literal["light", "dark"]
Shared = tuple[BrowserContext, Recorder]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _new_context(browser: Browser) -> Shared:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    return context, Recorder.attach(context)


@pytest.fixture(scope="session")
def shared_context(chromium: Browser) -> Iterator[Shared]:
    """One context for the tests that leave no state behind: its renderer keeps the compiled
    Vega bundle warm, which saves most of a second per page."""
    context, recorder = _new_context(chromium)
    yield context, recorder
    context.close()


@pytest.fixture
def open_tab(chromium: Browser, shared_context: Shared) -> Iterator[Opener]:
    """``open_tab(path, color_scheme=..., isolated=False)``: a new page, its traffic recorded.

    ``isolated=True`` gives the page a context of its own (own localStorage).
    """
    pages: list[Page] = []
    contexts: list[BrowserContext] = []

    def _open(
        target: Path | None = None, *, color_scheme: Scheme = "light", isolated: bool = False
    ) -> Tab:
        if isolated:
            context, recorder = _new_context(chromium)
            contexts.append(context)
        else:
            context, recorder = shared_context
            recorder.clear()
        page = context.new_page()
        pages.append(page)
        page.emulate_media(color_scheme=color_scheme)
        page.on("pageerror", lambda error: recorder.problems.append(f"pageerror: {error}"))
        tab = Tab(page, recorder)
        return tab.goto(target) if target is not None else tab

    yield _open
    for page in pages:
        page.close()
    for context in contexts:
        context.close()


# --- sites ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site(sample_site: tuple[Path, BuildResult]) -> Path:
    return sample_site[0]


@pytest.fixture(scope="session")
def variant_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plus one unreadable run, built with ``max_points=100`` (forces downsampling),
    then built again with another run unreadable, which keeps its last good page as stale."""
    tree = tmp_path_factory.mktemp("variant") / "results"
    shutil.copytree(sample_tree, tree)
    broken = tree / BROKEN_RUN
    broken.mkdir(parents=True)
    (broken / "results.json").write_text('{"approx": {"delta_h_per_lr": 0.5,\n  "per_sequence": [')
    out = tmp_path_factory.mktemp("variant-site") / "site"
    options = BuildOptions(results=tree, out=out, jobs=1, max_points=100)
    assert build(options).failed_runs == [BROKEN_RUN]
    source = tree / STALE_RUN / "results.json"
    source.write_bytes(source.read_bytes()[:100])  # truncated mid-write
    assert build(options).stale_runs == [STALE_RUN]
    return out


# --- 1. every page kind draws, offline, without errors ---------------------------------------

PAGE_KINDS: dict[str, tuple[str, int, str]] = {
    # kind: (path, minimum number of charts, a selector only that kind of page has)
    "index": ("index.html", 1, "#site-search"),
    "run-snis-per-seq": (SNIS_RUN, 9, "#eta-select"),
    "run-snis-no-per-seq": (SNIS_NO_PER_SEQ, 4, "#per-sequence .unavailable"),
    "run-eta-sweep": (SWEEP_RUN, 1, "#eta-table"),
    "run-control-variates": (CV_RUN, 2, "#cv-rows"),
    "group-batch-sizes": (BATCH_GROUP, 10, "#chart-batch-comparison-b0"),
    "group-control-variates": ("groups/CVs_and_gdotv/run1/index.html", 2, "#cv-summary"),
    "diagnostics": ("diagnostics.html", 0, "#matrix"),
    "guide": ("guide.html", 0, "#checks"),
    "changes": ("changes.html", 0, "body.page-changes"),
}


def check_charts(tab: Tab, minimum: int) -> list[dict[str, Any]]:
    charts = tab.charts()
    assert len(charts) >= minimum
    for chart in charts:
        assert chart["state"] in ("light", "dark"), chart["id"]
        # Without its data every chart kind draws 0 marks (even reference rules follow the data).
        assert chart["marks"] >= 3, f"{chart['id']} drew no data"
        # Accessible name and description, and a title inside the chart (kept in exports).
        assert chart["caption"] and chart["caption"] in chart["svgTitle"], chart["id"]
        assert chart["label"].startswith(chart["caption"] + ": ")
        assert len(chart["label"]) > len(chart["caption"]) + 20
        # Exports that work offline only: nothing that opens the Vega editor or a source view.
        assert chart["actions"] == ["Save as SVG", "Save as PNG"], chart["id"]
        assert chart["csv"], f"{chart['id']} has no Data (CSV) link"
    return charts


def check_tables(tab: Tab) -> None:
    for table in tab.page.evaluate(TABLE_STATE):
        assert table["caption"], f"table {table['id']} has no caption"
        assert table["headers"] > 0, f"table {table['id']} has no column headers"
        assert table["headerFocusable"], f"table {table['id']} headers are not focusable"


@pytest.mark.parametrize("kind", list(PAGE_KINDS))
def test_page_kind_works_offline(kind: str, site: Path, open_tab: Opener) -> None:
    path, minimum, marker = PAGE_KINDS[kind]
    tab = open_tab(site / path)
    assert tab.page.locator(marker).count() > 0
    check_charts(tab, minimum)
    check_tables(tab)
    assert tab.requests and all(url.startswith("file:") for url in tab.requests)
    tab.assert_clean()


def test_error_page_works_offline(variant_site: Path, open_tab: Opener) -> None:
    tab = open_tab(variant_site / "runs" / BROKEN_RUN / "index.html")
    alert = tab.page.get_by_role("alert")
    assert "What failed" in alert.inner_text() and "results.json" in alert.inner_text()
    assert tab.page.locator("#findings .finding[data-check=parse-error]").count() == 1
    assert tab.page.locator(".site-nav a").count() == 4
    tab.assert_clean()


# --- 2. interactions --------------------------------------------------------------------------


def _column(page: Page, table: str, index: int) -> list[str]:
    values: list[str] = page.eval_on_selector(
        table,
        """(t, i) => Array.from(t.tBodies[0].rows).filter(r => !r.hidden)
            .map(r => r.cells[i].getAttribute('data-value') || r.cells[i].textContent.trim())""",
        index,
    )
    return values


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", "").replace(" %", ""))


def test_sorting_by_click_and_keyboard(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / SWEEP_RUN)
    page = tab.page
    etas = _column(page, "#eta-rows", 0)
    true_header = page.locator("#eta-rows thead th").nth(1)
    true_header.click()
    assert true_header.get_attribute("aria-sort") == "ascending"
    ascending = [_number(v) for v in _column(page, "#eta-rows", 1)]
    assert ascending == sorted(ascending)
    assert _column(page, "#eta-rows", 0) != etas  # the rows moved, not just the arrow
    true_header.click()
    assert [_number(v) for v in _column(page, "#eta-rows", 1)] == ascending[::-1]

    # Keyboard: Tab from the filter box lands on the first header, Enter sorts by it.
    page.locator("input[data-table=eta-rows]").focus()
    page.keyboard.press("Tab")
    eta_header = page.locator("#eta-rows thead th").first
    assert eta_header.evaluate("th => th === document.activeElement")
    outline = eta_header.evaluate("th => getComputedStyle(th).outlineStyle")
    assert outline == "solid", "keyboard focus is not visible"
    page.keyboard.press("Enter")
    assert eta_header.get_attribute("aria-sort") == "ascending"
    page.keyboard.press("Enter")
    assert eta_header.get_attribute("aria-sort") == "descending"
    assert [_number(v) for v in _column(page, "#eta-rows", 0)] == sorted(
        (_number(v) for v in etas), reverse=True
    )
    tab.assert_clean()


SCATTER_SUMMARY = """() => Array.from(document.querySelectorAll(
    '#chart-true-vs-linear svg.marks g.mark-symbol.role-mark > path'))
    .map(p => p.getAttribute('transform')).join(';')"""


def test_eta_selector_redraws_per_sequence_charts(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / SNIS_RUN)
    page = tab.page
    select = page.locator("#eta-select")
    options = select.locator("option")
    before = page.evaluate(SCATTER_SUMMARY)
    assert before.count(";") + 1 == 256  # every sequence of the run at the initial η
    first_value = options.first.get_attribute("value")
    assert first_value is not None and first_value != select.input_value()

    select.select_option(index=0)
    page.wait_for_function(f"() => ({SCATTER_SUMMARY})() !== {before!r}", polling=50)
    after = page.evaluate(SCATTER_SUMMARY)
    assert after.count(";") + 1 == 256
    # The tables and the citation follow the same menu.
    shown = page.eval_on_selector_all(
        "#outlier-rows tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.eta)"
    )
    assert shown and {float(e) for e in shown} == {float(first_value)}
    label = options.first.inner_text()
    assert page.locator(".cite-eta[data-selected]").first.text_content() == label

    # Tooltips: styled by site.css (vega-tooltip's own <style> would break the CSP).
    page.locator("#chart-true-vs-linear g.mark-symbol.role-mark > path").nth(10).hover(force=True)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    assert re.match(r"sequence\s+\d+\s+true\s", tooltip.inner_text())
    tab.assert_clean()


def test_index_search_hides_and_shows_rows(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / "index.html")
    page = tab.page
    rows = page.locator("#run-rows tbody tr")
    total = rows.count()
    page.locator("#site-search").fill("E_512")
    visible = page.locator("#run-rows tbody tr:not([hidden])")
    assert 0 < visible.count() < total
    assert all("E_512" in text for text in visible.all_inner_texts())
    page.locator("#site-search").fill("no-such-run-anywhere")
    assert visible.count() == 0
    page.locator("#site-search").fill("")
    assert visible.count() == total
    tab.assert_clean()


def test_diagnostics_filters(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / "diagnostics.html")
    page = tab.page
    rows = page.locator("#matrix tbody tr")
    visible = page.locator("#matrix tbody tr:not([hidden])")
    total = rows.count()
    severities: list[str] = page.eval_on_selector_all(
        "#matrix tbody tr", "rows => rows.map(r => r.dataset.severities || '')"
    )
    page.select_option("select.severity-filter", "warning")
    expected = sum("warning" in s.split() for s in severities)
    assert 0 < expected < total  # the sample has runs with and without warnings
    assert visible.count() == expected
    page.select_option("select.severity-filter", "")
    assert visible.count() == total

    checks: list[str] = page.eval_on_selector_all(
        "#matrix tbody tr", "rows => rows.map(r => r.dataset.checks || '')"
    )
    fired = sorted({c for row in checks for c in row.split()})
    assert fired
    page.select_option("select.check-filter", fired[0])
    assert visible.count() == sum(fired[0] in row.split() for row in checks)
    assert all(fired[0] in (r.get_attribute("data-checks") or "") for r in visible.all())
    tab.assert_clean()


# --- 3. export --------------------------------------------------------------------------------


def _download(page: Page, figure: str, action: str) -> tuple[str, bytes]:
    page.locator(f"{figure} .chart-actions summary").click()
    link = page.locator(f"{figure} .vega-actions a", has_text=action)
    assert link.is_visible()
    with page.expect_download() as info:
        link.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_charts_export_png_svg_and_csv_offline(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / SWEEP_RUN)
    page = tab.page
    name, png = _download(page, "#chart-eta-curve", "Save as PNG")
    assert name == "eta-curve.png" and png.startswith(PNG_MAGIC) and len(png) > 5_000
    assert first_pixel(png) == (255, 255, 255, 255)  # opaque, unlike the page's transparent view
    assert not page.locator("#chart-eta-curve .vega-actions").is_visible()  # menu closed again
    name, svg = _download(page, "#chart-eta-curve", "Save as SVG")
    assert name == "eta-curve.svg" and svg.lstrip().startswith(b"<svg") and b"</svg>" in svg

    # The menu closes with Escape (focus back on its button) and with a click elsewhere.
    summary = page.locator("#chart-eta-curve .chart-actions summary")
    menu = page.locator("#chart-eta-curve .vega-actions")
    summary.click()
    assert menu.is_visible()
    page.keyboard.press("Escape")
    assert not menu.is_visible()
    assert summary.evaluate("s => s === document.activeElement")
    summary.click()
    page.locator("h1").click()
    assert not menu.is_visible()

    # Keyboard users get the image too (vega-embed only fills the link on mousedown).
    summary.focus()
    page.keyboard.press("Enter")
    page.locator("#chart-eta-curve .vega-actions a", has_text="Save as PNG").focus()
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    assert Path(info.value.path()).read_bytes().startswith(PNG_MAGIC)

    # Data (CSV): the chart's own rows (per-sequence charts link the run's file instead).
    with page.expect_download() as info:
        page.locator("#chart-eta-curve a.csv-download").click()
    lines = Path(info.value.path()).read_text().splitlines()
    assert info.value.suggested_filename == "eta-curve.csv"
    series = ("true", "linear", "linquad")
    columns = [
        "eta",
        *series,
        *(f"{p}_{k}" for p in ("se", "ci95_low", "ci95_high") for k in series),
    ]
    assert lines[0].split(",") == sorted(columns)  # each series with its SE and 95 % interval
    assert len(lines) == 1 + len(_column(page, "#eta-rows", 0))  # one row per η
    tab.assert_clean()


def first_pixel(png: bytes) -> tuple[int, ...]:
    """The top-left pixel of an 8-bit RGB(A) PNG: no row filter changes the first one."""
    pos, idat, channels = 8, b"", 0
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            assert data[8] == 8, "not 8 bits per channel"
            channels = {2: 3, 6: 4}[data[9]]
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    return tuple(zlib.decompress(idat)[1 : 1 + channels])


# --- 4. print ---------------------------------------------------------------------------------


def test_print_layout_and_pdf(site: Path, open_tab: Opener, tmp_path: Path) -> None:
    # Printed from dark mode: the paper is white all the same, and so are the charts' guides.
    tab = open_tab(site / SNIS_RUN, color_scheme="dark")
    page = tab.page
    assert {c["state"] for c in tab.charts()} == {"dark"}
    page.emulate_media(media="print")
    hidden = page.evaluate(
        """() => ['.site-header', '.toc', '.chart-actions', '.csv-download',
                  '.table-controls']
            .map(s => Array.from(document.querySelectorAll(s)))
            .flat().map(e => getComputedStyle(e).display)"""
    )
    assert hidden and set(hidden) == {"none"}
    avoid = page.evaluate(
        """() => ['#eta-rows tbody tr', 'figure.chart']
            .map(s => getComputedStyle(document.querySelector(s)).breakInside)"""
    )
    assert avoid == ["avoid", "avoid"]
    assert page.locator("#chart-true-vs-linear svg.marks").is_visible()
    assert luminance(parse_color(page.evaluate(BACKGROUND))) > 0.9
    label_fill = page.evaluate(
        """() => getComputedStyle(document.querySelector(
            '.chart-view svg.marks g.role-axis-label text')).fill"""
    )
    assert luminance(parse_color(label_fill)) < 0.05
    badges = page.eval_on_selector_all(".badge", "bs => bs.map(b => getComputedStyle(b).color)")
    assert badges and all(luminance(parse_color(c)) < 0.2 for c in badges)
    assert page.locator(".eta-printed").inner_text() == "(η = 1.28e−5)"  # the menu is hidden
    # At the text width of A4 with the print margins (186 mm), no table loses columns.
    page.set_viewport_size({"width": 703, "height": 1000})
    overflowing = page.evaluate(
        """() => Array.from(document.querySelectorAll('table.data'))
            .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1).map(t => t.id)"""
    )
    assert overflowing == []
    pdf = page.pdf(path=str(tmp_path / "run.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    assert len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf)) > 1
    tab.assert_clean()


@pytest.fixture(scope="module")
def fix_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's ``denominator_fix`` runs (fourteen runs whose checkpoint paths differ) built."""
    root = tmp_path_factory.mktemp("fix")
    cases = generate_sample_tree(root / "cases", seed=0, inference_cases=True)
    shutil.copytree(cases / "denominator_fix", root / "results" / "denominator_fix")
    build(BuildOptions(results=root / "results", out=root / "site", jobs=2, bootstrap=0))
    return root / "site"


def test_long_values_wrap_in_print_and_on_a_narrow_phone(
    site: Path, fix_site: Path, open_tab: Opener
) -> None:
    """Configuration values without spaces (checkpoint paths in "what differs", file names under
    images, key paths in the glossary) break inside their cells: a printed page keeps the paper's
    width, a 320 px phone never scrolls sideways, and a path column stays readable."""
    tab = open_tab(fix_site / "groups/denominator_fix/index.html")
    page = tab.page
    page.set_viewport_size({"width": 703, "height": 1000})
    page.emulate_media(media="print")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 703
    key = page.evaluate("document.querySelector('#differs-rows td').getBoundingClientRect().width")
    assert key >= 100  # 9rem at print size: the key is not one character a line
    for path in ("guide.html", CV_RUN.replace("run_01", "run_02"), "diagnostics.html"):
        narrow = open_tab(site / path)
        narrow.page.set_viewport_size({"width": 320, "height": 800})
        assert narrow.page.evaluate("document.scrollingElement.scrollWidth") <= 320, path
        narrow.assert_clean()
    tab.assert_clean()


TITLES = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
    const view = f.querySelector('.chart-view').getBoundingClientRect();
    const svg = f.querySelector('.chart-view svg .role-title-text text');
    const shown = svg && getComputedStyle(svg.closest('.role-title')).display !== 'none';
    const box = shown ? svg.getBoundingClientRect() : null;
    return {
        cut: box !== null && (box.left < view.left - 1 || box.right > view.right + 1),
        caption: f.querySelector('.chart-title').getBoundingClientRect().width > 1,
        svgTitle: shown,
    };
})"""


def test_a_chart_title_too_wide_for_its_chart_is_shown_by_the_caption(
    site: Path, open_tab: Opener
) -> None:
    """A chart title wider than its chart (the batch comparison's, their η at the end, on a
    phone) is never shown cut: the caption's wrapping title stands in for it, on more charts at
    phone width than at desktop width."""
    replaced = []
    for width in (390, 1280):
        tab = open_tab()
        tab.page.set_viewport_size({"width": width, "height": 900})
        titles = tab.goto(site / BATCH_GROUP).page.evaluate(TITLES)
        assert titles and not any(t["cut"] for t in titles)
        assert all(t["caption"] or t["svgTitle"] for t in titles)
        replaced.append(sum(t["caption"] for t in titles))
        tab.assert_clean()
    assert replaced[0] > replaced[1]


# --- 5. dark mode -----------------------------------------------------------------------------

BACKGROUND = "() => getComputedStyle(document.body).backgroundColor"
AXIS_LABEL_FILL = """() => document.querySelector(
    '.chart-view svg.marks g.role-axis-label text').getAttribute('fill')"""


def test_dark_preference_darkens_page_and_charts(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / SWEEP_RUN, color_scheme="dark")
    assert luminance(parse_color(tab.page.evaluate(BACKGROUND))) < 0.05
    assert {c["state"] for c in tab.charts()} == {"dark"}
    assert luminance(parse_color(tab.page.evaluate(AXIS_LABEL_FILL))) > 0.8
    tab.assert_clean()


def test_theme_toggle_cycles_and_is_remembered(site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / SWEEP_RUN, color_scheme="light", isolated=True)  # own localStorage
    page = tab.page
    button = page.locator("#theme-toggle")
    theme = "() => document.documentElement.dataset.theme"
    assert page.evaluate(theme) == "auto" and button.inner_text().endswith("auto")
    assert luminance(parse_color(page.evaluate(AXIS_LABEL_FILL))) < 0.2

    button.click()
    assert page.evaluate(theme) == "light" and button.inner_text().endswith("light")
    button.click()
    assert page.evaluate(theme) == "dark" and button.get_attribute("aria-pressed") == "true"
    tab.wait_for_charts()
    assert {c["state"] for c in tab.charts()} == {"dark"}
    assert luminance(parse_color(page.evaluate(BACKGROUND))) < 0.05
    assert luminance(parse_color(page.evaluate(AXIS_LABEL_FILL))) > 0.8

    page.reload()
    tab.wait_for_charts()
    assert page.evaluate(theme) == "dark"
    assert page.evaluate("() => localStorage.getItem('reportgen-theme')") == "dark"
    assert {c["state"] for c in tab.charts()} == {"dark"}
    button.click()
    tab.wait_for_charts()
    assert page.evaluate(theme) == "auto"
    assert luminance(parse_color(page.evaluate(BACKGROUND))) > 0.9
    assert {c["state"] for c in tab.charts()} == {"light"}
    tab.assert_clean()


def test_saved_theme_applies_before_the_page_scripts(site: Path, open_tab: Opener) -> None:
    """theme.js in <head> sets the saved theme by itself, so a dark page never paints light."""
    tab = open_tab(site / SWEEP_RUN, color_scheme="light", isolated=True)
    page = tab.page
    page.evaluate("() => localStorage.setItem('reportgen-theme', 'dark')")
    page.route("**/reportgen.*.js", lambda route: route.abort())  # only theme.js may run
    page.reload(wait_until="domcontentloaded")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert luminance(parse_color(page.evaluate(BACKGROUND))) < 0.05


# --- 6. contrast ------------------------------------------------------------------------------


def parse_color(css: str) -> tuple[float, float, float]:
    """``rgb(…)``/``rgba(…)`` or ``#rrggbb`` as 0–1 channels."""
    if css.startswith("#"):
        digits = css[1:] if len(css) == 7 else "".join(c * 2 for c in css[1:4])
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return r / 255, g / 255, b / 255
    red, green, blue = (float(p) / 255 for p in re.findall(r"[\d.]+", css)[:3])
    return red, green, blue


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# Text styles to check, placed where they occur; the background is the nearest opaque one.
SPECIMENS = """() => {
    const main = document.querySelector('main');
    const box = document.createElement('div');
    box.innerHTML = `
        <p data-name="body text">text</p>
        <p class="muted" data-name="muted text">muted</p>
        <p><a href="#x" data-name="link">link</a></p>
        <p class="subtitle" data-name="subtitle">subtitle</p>
        <p><span class="badge sev-error" data-name="error badge">1 error</span>
           <span class="badge sev-warning" data-name="warning badge">1 warning</span>
           <span class="badge sev-info" data-name="info badge">1 info</span>
           <span class="badge sev-none" data-name="clean badge">clean</span>
           <span class="badge" data-name="plain badge">snis</span></p>
        <p class="ok" data-name="ok text">ok</p>
        <figure class="chart"><figcaption><span class="chart-note" data-name="chart note">
            showing 1 of 2 points</span></figcaption></figure>
        <table class="data"><caption data-name="caption">c</caption>
            <thead><tr><th data-name="table header">h</th></tr></thead>
            <tbody><tr class="beyond"><td data-name="beyond-η cell">1</td></tr>
            <tr><td class="status-error" data-name="status error">error</td></tr></tbody></table>
        <table class="data matrix"><tbody><tr><td class="cell-error" data-name="error cell">1</td>
            <td class="cell-warning" data-name="warning cell">1</td>
            <td class="cell-info" data-name="info cell">1</td></tr></tbody></table>
        <div class="finding"><p data-name="finding text">finding</p></div>`;
    main.prepend(box);
    const opaque = e => {
        for (; e; e = e.parentElement) {
            const bg = getComputedStyle(e).backgroundColor;
            if (!/rgba\\(.*, 0\\)$/.test(bg) && bg !== 'transparent') { return bg; }
        }
        return getComputedStyle(document.documentElement).backgroundColor;
    };
    return Array.from(box.querySelectorAll('[data-name]')).map(e =>
        [e.dataset.name, getComputedStyle(e).color, opaque(e)]);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_colours_meet_wcag_aa(scheme: Scheme, site: Path, open_tab: Opener) -> None:
    tab = open_tab(site / "guide.html", color_scheme=scheme)
    specimens = tab.page.evaluate(SPECIMENS)
    assert len(specimens) == 19
    background = luminance(parse_color(tab.page.evaluate(BACKGROUND)))
    assert background < 0.05 if scheme == "dark" else background > 0.9
    failing = {
        name: round(ratio, 2)
        for name, fg, bg in specimens
        if (ratio := contrast(parse_color(fg), parse_color(bg))) < 4.5
    }
    assert failing == {}
    tab.assert_clean()


# --- 6b. pages that draw at once: charts drawn as they near the screen -------------------------

DRAW_STATE = """() => {
    const views = Array.from(document.querySelectorAll('figure.chart .chart-view'));
    const reach = 2 * window.innerHeight;  // what fits in two screens from the top
    return {
        total: views.length,
        drawn: views.filter(v => v.hasAttribute('data-rendered')).length,
        drawing: views.filter(v => v.hasAttribute('data-drawing')).length,
        withinTwoScreens: views.filter(
            v => v.closest('figure').getBoundingClientRect().top + window.scrollY < reach).length,
        bottom: window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1,
    };
}"""
SETTLED = """() => document.querySelectorAll('.chart-view[data-drawing]').length === 0"""


STARTED = f"""() => {{
    const state = ({DRAW_STATE})();
    return state.drawn + state.drawing > 0 || state.withinTwoScreens === 0;
}}"""


def draw_state(page: Page) -> dict[str, Any]:
    """How many charts are drawn once the first draws began (the observer reports after the
    first layout, later on a busy machine) and no draw is under way."""
    page.wait_for_function(STARTED, polling=50, timeout=30_000)
    page.wait_for_function(SETTLED, polling=50, timeout=30_000)
    page.wait_for_timeout(100)  # any draw the last one's layout change set off has started
    page.wait_for_function(SETTLED, polling=50, timeout=30_000)
    state: dict[str, Any] = page.evaluate(DRAW_STATE)
    return state


@pytest.mark.parametrize("path", [BATCH_GROUP, SNIS_RUN])
def test_a_long_page_draws_only_what_is_near_the_screen_until_scrolled(
    path: str, site: Path, open_tab: Opener
) -> None:
    tab = open_tab()
    tab.goto(site / path, every_chart=False)
    page = tab.page
    at_load = draw_state(page)
    assert at_load["total"] > at_load["withinTwoScreens"]  # a page longer than two screens
    assert 1 <= at_load["drawn"] <= at_load["withinTwoScreens"]
    assert page.locator("#draw-all").inner_text() == "Draw all charts"
    placeholders = page.eval_on_selector_all(
        ".chart-view:not([data-rendered])", "vs => vs.map(v => v.getBoundingClientRect().height)"
    )
    assert placeholders and min(placeholders) >= 200  # about a chart's height, not a sliver
    # scrolling through the page, a screen at a time, draws every chart on the way
    state = at_load
    while not state["bottom"]:
        page.mouse.wheel(0, 900)
        state = draw_state(page)
    assert state["drawn"] == state["total"]
    assert page.locator("#draw-all").is_disabled()
    check_charts(tab, state["total"])
    tab.assert_clean()


def test_placeholders_hold_about_the_drawn_height(site: Path, open_tab: Opener) -> None:
    """Nothing jumps much as a chart arrives: each placeholder is within 25 % of its chart."""
    tab = open_tab()
    tab.goto(site / BATCH_GROUP, every_chart=False)
    page = tab.page
    before = page.eval_on_selector_all(
        "figure.chart", "fs => fs.map(f => f.querySelector('.chart-view').offsetHeight)"
    )
    page.locator("#draw-all").click()
    tab.wait_for_charts()
    after = page.eval_on_selector_all(
        "figure.chart", "fs => fs.map(f => f.querySelector('.chart-view').offsetHeight)"
    )
    assert len(before) == len(after) > 10
    assert all(abs(a - b) <= 0.25 * a for a, b in zip(after, before, strict=True)), (before, after)
    tab.assert_clean()


@pytest.mark.parametrize("how", ["print media", "beforeprint", "?all", "#all", "button"])
def test_printing_and_asking_draw_every_chart(
    how: str, site: Path, open_tab: Opener, tmp_path: Path
) -> None:
    tab = open_tab()
    target = site / BATCH_GROUP
    if how in ("?all", "#all"):
        tab.page.goto(target.as_uri() + how)
    else:
        tab.goto(target, every_chart=False)
        assert draw_state(tab.page)["drawn"] < draw_state(tab.page)["total"]
    page = tab.page
    if how == "print media":
        page.emulate_media(media="print")
    elif how == "beforeprint":
        # what the browser sends before it lays the page out for printing: every chart is drawn
        # before the next task runs, so the printout has them
        counts = page.evaluate(
            """() => new Promise(done => {
                window.dispatchEvent(new Event('beforeprint'));
                setTimeout(() => done([document.querySelectorAll('.chart-view[data-rendered]')
                    .length, document.querySelectorAll('.chart-view').length]), 0);
            })"""
        )
        assert counts[0] == counts[1]
    elif how == "button":
        page.locator("#draw-all").click()
    state = draw_state(page)
    assert state["drawn"] == state["total"] > 10
    check_charts(tab, state["total"])
    tab.assert_clean()


# --- 6c. the figure index ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def figures_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("figures-site") / "site"
    build(BuildOptions(results=sample_tree, out=out, jobs=1, figures=("svg",)))
    return out


VISIBLE_CARDS = """() => Array.from(document.querySelectorAll('#figure-list li.figure-card'))
    .filter(c => !c.hidden).map(c => ({group: c.dataset.group, population: c.dataset.population,
        kind: c.dataset.kind, title: c.querySelector('h2').innerText, text: c.innerText}))"""


@pytest.mark.slow
def test_figure_index_finds_figures_by_search_group_population_and_kind(
    figures_site: Path, open_tab: Opener
) -> None:
    tab = open_tab(figures_site / "figures.html")
    page = tab.page
    cards = page.locator("#figure-list li.figure-card")
    total = cards.count()
    status = page.locator("nav.pager[data-for=figure-list] .pager-status")
    assert total > 100 and status.inner_text() == f"1–24 of {total} figures"
    assert len(page.evaluate(VISIBLE_CARDS)) == 24  # one page of cards, not one long table
    # the first thumbnail is the figure itself, loaded as it came on screen
    thumb = page.locator("#figure-list li.figure-card img").first
    thumb.wait_for(state="visible")
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=thumb.element_handle())

    def choose(name: str, value: str) -> list[dict[str, str]]:
        page.select_option(f"select.figure-filter[data-field={name}]", value)
        shown: list[dict[str, str]] = []
        while True:
            shown += page.evaluate(VISIBLE_CARDS)
            if page.locator("nav.pager[data-for=figure-list] .pager-next").is_disabled():
                break
            page.locator("nav.pager[data-for=figure-list] .pager-next").click()
        page.select_option(f"select.figure-filter[data-field={name}]", "")
        return shown

    everything = page.eval_on_selector_all(
        "#figure-list li.figure-card",
        "cs => cs.map(c => [c.dataset.group, c.dataset.population, c.dataset.kind])",
    )
    population = sorted({card[1] for card in everything} - {"", "all runs"})[0]
    for name, value in [
        ("group", "diagnostics_run/full_data/E_256"),
        ("population", population),
        ("kind", "paired-z"),
    ]:
        at = ["group", "population", "kind"].index(name)
        expected = sum(1 for card in everything if card[at] == value)
        shown = choose(name, value)
        assert 0 < len(shown) == expected < total, name
        assert all(card[name] == value for card in shown)
    assert all(f"({population})" in c["title"] for c in choose("population", population))
    page.locator("input.figure-filter[data-field=search]").fill("tail sensitivity")
    shown = page.evaluate(VISIBLE_CARDS)
    assert shown and all("tail" in c["text"].lower() for c in shown)
    page.locator("input.figure-filter[data-field=search]").fill("no-such-figure")
    assert status.inner_text() == "no figure matches" and page.evaluate(VISIBLE_CARDS) == []
    tab.assert_clean()


# --- 7. large data ----------------------------------------------------------------------------


def test_downsampled_chart_says_so_and_links_the_full_data(
    variant_site: Path, open_tab: Opener
) -> None:
    page_path = variant_site / SNIS_RUN
    tab = open_tab(page_path)
    page = tab.page
    note = page.locator("#chart-true-vs-linear .chart-note")
    assert note.is_visible()
    assert re.fullmatch(r"showing 100 of 256 points per η", note.inner_text())
    assert page.evaluate(SCATTER_SUMMARY).count(";") + 1 == 100
    link = page.locator("#chart-true-vs-linear a.csv-download")
    assert link.get_attribute("href") == "contributions.csv"
    full = (page_path.parent / "contributions.csv").read_text().splitlines()
    assert len(full) == 1 + 5 * 256  # header + every sequence at each of the five η
    tab.assert_clean()


# --- 8. single file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_id",
    [
        "diagnostics_run/full_data/E_256/run_01",
        "CVs_and_gdotv/run1/run_01",
        "diagnostics_run/full_data",  # a group: its runs analysed, its page alone
        "comparison_across_learning_rates",
    ],
)
def test_single_file_report_is_self_contained(
    run_id: str, sample_tree: Path, tmp_path: Path, open_tab: Opener
) -> None:
    report = tmp_path / "report.html"
    result = build(BuildOptions(results=sample_tree, out=report, single_file=run_id))
    assert result.failed_runs == [] and report.is_file()
    markup = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1", report.read_text(), flags=re.S)
    assert not re.findall(r'<a\b[^>]*\shref="(?!#|data:)', markup)  # no link leads out of it
    assert not re.findall(r'<(?:img|script|link)\b[^>]*\s(?:src|href)="(?!data:)', markup)
    tab = open_tab(report)
    assert tab.requests == [page_url(report)]
    charts = check_charts(tab, 2)
    for chart in charts:  # no sibling files: every CSV link carries its data
        assert chart["csv"].startswith("data:text/csv"), chart["id"]
    # lazy images far below the fold have not loaded yet: load and decode every one
    tab.page.eval_on_selector_all(
        "img", "imgs => Promise.all(imgs.map(i => { i.loading = 'eager'; return i.decode(); }))"
    )
    images = tab.page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => [i.getAttribute('src').slice(0, 5), i.naturalWidth])"
    )
    assert all(src == "data:" and width > 0 for src, width in images)
    if run_id.startswith("CVs"):
        assert images
    tab.assert_clean()


PAGED_COLUMN = """([id, column]) => {
    const node = document.getElementById(id);
    const data = node ? JSON.parse(node.textContent) : window.reportgenRows[id];
    const at = data.columns.indexOf(column);
    return data.rows.map(r => r[at]);
}"""


def _paged_build(tree: Path, out: Path, separate_above: int) -> Path:
    from reportgen.pages import paging

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paging, "PAGED_ABOVE", 3)
        patch.setattr(paging, "PAGE_SIZE", 4)
        patch.setattr(paging, "SEPARATE_ABOVE", separate_above)
        build(BuildOptions(results=tree, out=out, jobs=1))
    return out


@pytest.fixture(scope="module")
def paged_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample site with its tables and lists paged as a 10,000-run tree's are (tiny pages
    here), every row's JSON in the page."""
    return _paged_build(sample_tree, tmp_path_factory.mktemp("paged") / "site", 1_000)


@pytest.fixture(scope="module")
def separate_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, with the run table's JSON in a script file beside the index, as a 100,000-run
    tree's is (the 7 groups stay in the page)."""
    return _paged_build(sample_tree, tmp_path_factory.mktemp("separate") / "site", 8)


@pytest.mark.parametrize("where", ["paged_site", "separate_site"])
def test_paged_run_table_pages_searches_and_sorts_every_run(
    where: str, request: pytest.FixtureRequest, open_tab: Opener
) -> None:
    import orjson

    paged_site: Path = request.getfixturevalue(where)
    separate = where == "separate_site"
    assert (paged_site / "index-runs.js").is_file() is separate

    ids = [r["id"] for r in orjson.loads((paged_site / "manifest.json").read_bytes())["runs"]]
    tab = open_tab(paged_site / "index.html")
    page = tab.page
    rows = page.locator("#run-rows tbody tr")
    status = page.locator("nav.pager[data-for=run-rows] .pager-status")
    page.locator("nav.pager[data-for=run-rows]").wait_for(state="visible")  # the rows are in
    total = len(page.evaluate(PAGED_COLUMN, ["run-table-data", "id"]))
    assert total > len(ids) // 2 and total > 8  # runs (and incomplete directories), not a page
    assert rows.count() == 4 and status.inner_text() == f"1–4 of {total} runs"
    assert page.locator("#run-rows-note").is_hidden()
    page.locator("nav.pager[data-for=run-rows] .pager-next").click()
    assert status.inner_text() == f"5–8 of {total} runs" and rows.count() == 4
    # search covers every row, not only the page shown
    expected = [i for i in ids if "e_512" in i.lower()]
    page.locator("#site-search").fill("E_512")
    shown = min(4, len(expected))
    assert rows.count() == shown and status.inner_text().startswith(f"1–{shown} of {len(expected)}")
    page.locator("#site-search").fill("no-such-run-anywhere")
    assert rows.count() == 0 and status.inner_text() == "no run matches"
    page.locator("#site-search").fill("")
    header = page.locator("#run-rows thead th").first
    header.click()
    header.click()  # descending by run id
    all_ids = page.evaluate(PAGED_COLUMN, ["run-table-data", "id"])
    first = page.locator("#run-rows tbody tr td a").first.inner_text()
    assert first.lower() == max(i.lower() for i in all_ids)
    # links built by the script resolve to the pages the build wrote
    href = page.locator("#run-rows tbody tr td a").first.get_attribute("href")
    assert href is not None and (paged_site / href).is_file()
    tab.assert_clean()


def test_paged_group_list_pages_and_searches_every_group(
    paged_site: Path, site: Path, open_tab: Opener
) -> None:
    """Paged, the index's group list covers every group it lists unpaged, with the same counts,
    and its search finds groups that are not on the page shown."""
    texts = "items => items.map(li => li.innerText.replace(/\\s+/g, ' ').trim())"
    listed: list[str] = open_tab(site / "index.html").page.eval_on_selector_all(
        ".group-tree li", texts
    )
    tab = open_tab(paged_site / "index.html")
    page = tab.page
    items = page.locator("#group-list li")
    status = page.locator("nav.pager[data-for=group-list] .pager-status")
    assert page.locator("#group-list-note").is_hidden()
    assert items.count() == 4 and status.inner_text() == f"1–4 of {len(listed)} groups"
    shown = []
    while True:
        shown += items.evaluate_all(texts)
        if page.locator("nav.pager[data-for=group-list] .pager-next").is_disabled():
            break
        page.locator("nav.pager[data-for=group-list] .pager-next").click()
    assert shown == listed  # the same names, run counts and badges as the HTML list
    page.locator("#group-search").fill("e_512")
    assert status.inner_text() == f"1–1 of 1 groups matching ({len(listed)} in all)"
    href = items.first.locator("a").get_attribute("href")
    assert href is not None and href.endswith("E_512/index.html") and (paged_site / href).is_file()
    page.locator("#group-search").fill("no-such-group")
    assert items.count() == 0 and status.inner_text() == "no group matches"
    tab.assert_clean()


ROW_TEXTS = """rows => rows.map(r => r.innerText.replace(/\\s+/g, ' ').trim())"""


def test_long_group_tables_page_filter_and_sort_every_row(
    paged_site: Path, site: Path, open_tab: Opener
) -> None:
    """A long table of a group page shows its first rows and pages the rest from an inert
    template: the rows of all pages are the unpaged table's; filter and sort see them all."""
    table = "#verdict-rows"
    unpaged = open_tab(site / BATCH_GROUP).page
    unpaged.locator(f"details:has({table}) > summary").click()
    expected = unpaged.eval_on_selector_all(f"{table} tbody tr", ROW_TEXTS)
    etas_unpaged = unpaged.eval_on_selector_all(
        f"{table} tbody td[data-value]:nth-child(3)", "cs => cs.map(c => Number(c.dataset.value))"
    )
    tab = open_tab(paged_site / BATCH_GROUP)
    page = tab.page
    page.locator(f"details:has({table}) > summary").click()
    pager = page.locator(f".table-wrap:has({table}) + nav.pager")
    status = pager.locator(".pager-status")
    rows = page.locator(f"{table} tbody tr")
    assert len(expected) > 8 and rows.count() == 4
    assert status.inner_text() == f"1–4 of {len(expected)} rows"
    assert page.locator(f"{table} tfoot.more-rows-note").is_hidden()
    shown: list[str] = []
    while True:
        shown += page.eval_on_selector_all(f"{table} tbody tr", ROW_TEXTS)
        if pager.locator(".pager-next").is_disabled():
            break
        pager.locator(".pager-next").click()
    assert shown == expected
    # the filter box covers every row, not only the page shown
    term = "E_512"
    page.locator("input[data-table=verdict-rows]").fill(term)
    matching = [r for r in expected if term.lower() in r.lower()]
    assert 0 < len(matching) < len(expected)
    matched = f"of {len(matching)} rows matching ({len(expected)} in all)"
    assert status.inner_text().endswith(matched)
    page.locator("input[data-table=verdict-rows]").fill("")
    # sorting by η orders every row, not one page
    header = page.locator(f"{table} thead th", has_text="η").first
    header.click()
    etas = page.eval_on_selector_all(
        f"{table} tbody td[data-value]:nth-child(3)", "cs => cs.map(c => Number(c.dataset.value))"
    )
    assert etas == sorted(etas_unpaged)[:4]
    tab.assert_clean()


def test_paged_diagnostics_matrix_filters_sorts_and_links_every_run(
    paged_site: Path, site: Path, open_tab: Opener
) -> None:
    """Paged, the matrix's filters cover every run, not the page shown, and find exactly the
    runs the unpaged matrix of the same tree finds; each fired cell links to that run's
    findings."""
    unpaged = open_tab(site / "diagnostics.html").page
    runs: list[list[str]] = unpaged.eval_on_selector_all(
        "#matrix tbody tr",
        "rows => rows.map(r => [r.cells[0].innerText, r.dataset.severities || '',"
        " r.dataset.checks || ''])",
    )
    tab = open_tab(paged_site / "diagnostics.html")
    page = tab.page
    rows = page.locator("#matrix tbody tr")
    status = page.locator("nav.pager .pager-status")
    assert page.locator("#matrix-note").is_hidden()
    assert rows.count() == 4 and status.inner_text() == f"1–4 of {len(runs)} runs"
    page.locator("nav.pager .pager-next").click()
    assert rows.count() == 4 and status.inner_text() == f"5–8 of {len(runs)} runs"

    first_cells = "rows => rows.map(r => r.cells[0].innerText)"

    def shown_ids() -> list[str]:
        ids: list[str] = []
        while True:  # every page of the filtered rows
            ids += page.eval_on_selector_all("#matrix tbody tr", first_cells)
            if page.locator("nav.pager .pager-next").is_disabled():
                return sorted(ids)
            page.locator("nav.pager .pager-next").click()

    with_severity = {
        severity: sorted(r for r, s, _ in runs if severity in s.split())
        for severity in ("error", "warning", "info")
    }
    severity = max(with_severity, key=lambda s: len(with_severity[s]) % len(runs))
    assert 0 < len(with_severity[severity]) < len(runs)  # a filter that leaves some runs out
    page.select_option("select.severity-filter", severity)
    assert shown_ids() == with_severity[severity]
    check = sorted({c for _, _, checks in runs for c in checks.split()})[0]
    page.select_option("select.check-filter", check)
    both = sorted(r for r, s, c in runs if severity in s.split() and check in c.split())
    assert shown_ids() == both
    page.select_option("select.severity-filter", "")
    page.select_option("select.check-filter", "")
    page.locator("input.table-filter").fill("E_512")
    assert shown_ids() == sorted(r for r, _, _ in runs if "e_512" in r.lower())
    page.locator("input.table-filter").fill("")

    header = page.locator("#matrix thead th").nth(2)  # warnings
    header.click()
    header.click()  # descending
    warnings = page.evaluate(PAGED_COLUMN, ["matrix-data", "warnings"])
    first = page.eval_on_selector("#matrix tbody tr", "r => Number(r.cells[2].innerText)")
    assert first == max(warnings) > 0
    link = page.locator("#matrix tbody td[data-check] a").first
    href = link.get_attribute("href")
    assert href is not None and href.endswith("#findings")
    assert (paged_site / href.removesuffix("#findings")).is_file()
    tab.assert_clean()


# --- visual regression: measurable legibility at desktop and mobile width (issue 11) ----------

LEGIBILITY = """() => {
  const visible = el => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1;
  };
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !visible(el) || el.closest('svg')) { continue; }
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 12) {
      small.push(el.tagName + ' ' + size + ' ' + node.textContent.trim().slice(0, 30));
    }
  }
  const chartText = [], clipped = [], wide = [];
  document.querySelectorAll('figure.chart').forEach(figure => {
    const svg = figure.querySelector('.chart-view svg');
    if (!svg) { return; }
    const box = svg.getBoundingClientRect(), room = figure.getBoundingClientRect();
    if (box.right > room.right + 1 || box.left < room.left - 1) {
      wide.push(figure.id + ' ' + Math.round(box.width) + ' > ' + Math.round(room.width));
    }
    svg.querySelectorAll('text').forEach(t => {
      if (!t.textContent.trim()) { return; }
      const size = parseFloat(getComputedStyle(t).fontSize);
      if (size < 11) { chartText.push(figure.id + ' ' + size + ' ' + t.textContent.slice(0, 20)); }
      const r = t.getBoundingClientRect();
      const inLegend = t.closest('.role-legend');
      const outside = r.right > box.right + 1 || r.left < box.left - 1 || r.bottom > box.bottom + 1;
      const cut = t.textContent.endsWith('…') || t.textContent.startsWith('…');  // "…21 entries"
      if (inLegend && (cut || outside)) {
        clipped.push(figure.id + ' ' + t.textContent);
      }
    });
  });
  // tick labels of one axis that overlap (overlap removal hides some with opacity 0)
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
    a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const collisions = [];
  document.querySelectorAll('figure.chart').forEach(figure => {
    figure.querySelectorAll('.chart-view svg g.role-axis').forEach(axis => {
      const labels = Array.from(axis.querySelectorAll('.role-axis-label text'))
        .filter(t => t.textContent.trim() && t.getAttribute('opacity') !== '0')
        .map(t => [t.textContent, t.getBoundingClientRect()]);
      labels.forEach(([text, box], i) => labels.slice(i + 1).forEach(([other, next]) => {
        if (overlap(box, next)) { collisions.push(figure.id + ': ' + text + ' / ' + other); }
      }));
    });
    const title = figure.querySelector('.chart-view svg .role-title-text text');
    const menu = figure.querySelector('.chart-actions summary');
    if (title && menu && overlap(title.getBoundingClientRect(), menu.getBoundingClientRect())) {
      collisions.push(figure.id + ': the title runs under the actions menu');
    }
  });
  return {
    small, chartText, clipped, wide, collisions,
    scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    svgCharts: document.querySelectorAll('figure.chart .chart-view svg').length,
    stale: document.querySelectorAll('.stale-banner').length === 1,
  };
}"""


LEGIBLE_PAGES = {**{kind: (path, minimum) for kind, (path, minimum, _) in PAGE_KINDS.items()}}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("kind", [*LEGIBLE_PAGES, "error", "stale", "figures"])
def test_every_page_kind_is_legible_at_desktop_and_mobile_width(
    kind: str, width: int, request: pytest.FixtureRequest, chromium: Browser
) -> None:
    """No text under 12 px (chart labels: 11), no tick labels on top of each other, no chart
    title under its menu, no chart wider than its box and no sideways scrolling of the page
    (a wide table scrolls inside its own box)."""
    if kind in LEGIBLE_PAGES:
        path, min_charts = LEGIBLE_PAGES[kind]
        root = request.getfixturevalue("site")
    elif kind == "figures":
        path, min_charts = "figures.html", 0
        root = request.getfixturevalue("figures_site")
    else:  # the variant's unreadable run, and its run that went unreadable after a good build
        path = f"runs/{BROKEN_RUN if kind == 'error' else STALE_RUN}/index.html"
        root, min_charts = request.getfixturevalue("variant_site"), 0
    state = _legibility(root, path, width, chromium)
    if kind == "stale":
        assert state["stale"], "no stale banner"
    assert state["svgCharts"] >= min_charts  # measured on real SVG text, not a canvas
    assert state["small"] == [], "page text under 12 px"
    assert state["chartText"] == [], "chart labels under 11 px"
    assert state["collisions"] == [], "tick labels or titles on top of each other"
    assert state["clipped"] == [], "legend entries truncated or outside the chart"
    assert state["wide"] == [], "charts wider than their container"
    assert state["scroll"] <= 0, "horizontal scrolling"


@pytest.fixture(scope="session")
def studies_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with one study of each experiment kind and a file no kind claims."""
    root = tmp_path_factory.mktemp("studies-tree")
    tree = generate_sample_tree(root / "results", studies=True)
    out = root / "site"
    build(BuildOptions(results=tree, out=out, jobs=1))
    return out


STUDY_KINDS = ["jackknife-study", "influence", "rb-convergence", "batch-manifest", "fisher"]


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("kind", [*STUDY_KINDS, "unclaimed"])
def test_study_pages_are_legible_at_desktop_and_mobile_width(
    kind: str, width: int, studies_site: Path, chromium: Browser
) -> None:
    """The experiment kinds' pages and the unclaimed-files page meet the same bar as the rest."""
    pages = sorted(studies_site.glob(f"studies/{kind}/**/index.html"))
    path = "unclaimed.html" if kind == "unclaimed" else pages[0].relative_to(studies_site)
    state = _legibility(studies_site, str(path), width, chromium)
    assert state["small"] == [], "page text under 12 px"
    assert state["chartText"] == [], "chart labels under 11 px"
    assert state["collisions"] == [], "tick labels or titles on top of each other"
    assert state["wide"] == [], "charts wider than their container"
    assert state["scroll"] <= 0, "horizontal scrolling"


PHONE_RUN_TABLE = """() => {
    const table = document.getElementById('run-rows');
    const shown = cells => Array.from(cells).filter(c => getComputedStyle(c).display !== 'none');
    return {
        headers: shown(table.tHead.rows[0].cells).map(c => c.dataset.column),
        cells: Array.from(table.tBodies[0].rows).map(r => shown(r.cells).length),
        fits: table.scrollWidth <= table.closest('.table-wrap').clientWidth + 1,
    };
}"""


@pytest.mark.parametrize("where", ["site", "paged_site"])
def test_index_run_table_keeps_run_verdict_and_delta_h_on_a_phone(
    where: str, request: pytest.FixtureRequest, chromium: Browser
) -> None:
    """At 390 px the run table shows the run, its verdict and ΔH_true, without scrolling; the
    rows the script draws (paged) fold the same columns as the page's own."""
    root: Path = request.getfixturevalue(where)
    context = chromium.new_context(viewport={"width": 390, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_url(root / "index.html"))
        if where == "paged_site":
            page.locator("nav.pager[data-for=run-rows]").wait_for(state="visible")
            page.locator("nav.pager[data-for=run-rows] .pager-next").click()  # rows the script made
        state = page.evaluate(PHONE_RUN_TABLE)
    finally:
        context.close()
    assert state["headers"] == ["id", "verdict_linear", "delta_h"]
    assert state["cells"] and set(state["cells"]) == {3}
    assert state["fits"], "the three columns fit a phone's width"


# --- many runs in one chart: distinct colours, whole legends, highlight, numfmt tooltips ------

CROWDED_GROUP = "groups/diagnostics_run/full_data/index.html"


@pytest.fixture(scope="session")
def crowded_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 SNIS runs in one group (12 of one batch size): more runs than hand-picked colours."""
    from reportgen.demo.tree import bench_tree

    tree = bench_tree(tmp_path_factory.mktemp("crowded") / "results", runs=30)
    out = tmp_path_factory.mktemp("crowded-site") / "site"
    build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    return out


@pytest.fixture(scope="session")
def shared_site(shared_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shared-site") / "site"
    build(BuildOptions(results=shared_results, out=out, jobs=1, bootstrap=0))
    return out


def _legibility(site: Path, path: str, width: int, chromium: Browser) -> dict[str, Any]:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_url(site / path))
        page.wait_for_function(ALL_DRAWN, polling=50, timeout=60_000)
        state: dict[str, Any] = page.evaluate(LEGIBILITY)
    finally:
        context.close()
    return state


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["index.html", CROWDED_GROUP])
def test_crowded_legends_are_whole_at_desktop_and_mobile_width(
    path: str, width: int, crowded_site: Path, chromium: Browser
) -> None:
    state = _legibility(crowded_site, path, width, chromium)
    assert state["svgCharts"] >= 1
    assert state["clipped"] == [], "legend entries truncated, elided or outside the chart"
    assert state["wide"] == [], "charts wider than their container"
    assert state["scroll"] <= 0, "horizontal scrolling"


FACET_STATE = """() => Array.from(document.querySelectorAll('figure.chart')).filter(f =>
  'facet' in JSON.parse(f.querySelector('script.chart-spec').textContent)
).map(f => {
  const spec = JSON.parse(f.querySelector('script.chart-spec').textContent);
  const svg = f.querySelector('.chart-view svg');
  const cells = Array.from(svg.querySelectorAll('g.role-scope.cell > g'))
    .map(c => c.getBoundingClientRect()).filter(r => r.width > 0);
  const tops = cells.map(r => Math.round(r.top));
  return {figure: f.querySelector('.chart-view').clientWidth, specCell: spec.spec.width,
          svg: svg.getBoundingClientRect().width, cells: cells.length,
          firstRow: tops.filter(t => t === Math.min(...tops)).length,
          narrowest: Math.min(...cells.map(r => r.width))};
})"""


@pytest.mark.parametrize("width", [1280, 390])
def test_small_multiples_fill_a_wide_figure_and_stack_on_a_phone(
    width: int, crowded_site: Path, chromium: Browser
) -> None:
    """Wide: the run panels four a row, each at least 1.5× its spec's cell; phone: one panel a
    row; never wider than the figure."""
    context = chromium.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_url(crowded_site / CROWDED_GROUP))
        page.wait_for_function(ALL_DRAWN, polling=50, timeout=60_000)
        grids: list[dict[str, Any]] = page.evaluate(FACET_STATE)
    finally:
        context.close()
    assert any(g["cells"] > 4 and g["specCell"] == GRID_CELL_PX for g in grids)
    for grid in grids:
        assert grid["svg"] <= grid["figure"] + 1, grid
        if width == 390:
            assert grid["firstRow"] == 1, grid
        elif grid["specCell"] == GRID_CELL_PX:  # the run panels, in a figure the page's width
            assert grid["firstRow"] == min(grid["cells"], 4), grid
            assert grid["narrowest"] >= 1.5 * GRID_CELL_PX - 1, grid


@pytest.mark.parametrize("width", [1280, 390])
def test_index_legend_of_long_run_ids_fits_a_phone(
    width: int, shared_site: Path, chromium: Browser
) -> None:
    """The real tree's index overlay: full run ids (no facets), wrapped, none clipped."""
    state = _legibility(shared_site, "index.html", width, chromium)
    assert state["svgCharts"] >= 1
    assert state["clipped"] == [] and state["wide"] == [] and state["scroll"] <= 0


LEGEND_STATE = """id => {
  const svg = document.querySelector('#' + id + ' .chart-view svg');
  const labels = Array.from(svg.querySelectorAll('.role-legend-label text'))
    .map(t => t.textContent);
  const fills = Array.from(svg.querySelectorAll('.role-legend-symbol path'))
    .map(p => p.getAttribute('fill'));
  const opacities = Array.from(svg.querySelectorAll('g.mark-symbol.role-mark > path'))
    .map(p => Number(p.getAttribute('opacity') ?? 1));
  return {labels, fills, opacities};
}"""


def test_many_runs_get_distinct_colours_and_numfmt_tooltips(
    crowded_site: Path, open_tab: Opener
) -> None:
    tab = open_tab(crowded_site / CROWDED_GROUP)
    page = tab.page
    chart = "chart-fit-chart"
    before = page.evaluate(LEGEND_STATE, chart)
    assert len(before["labels"]) == 30  # every run listed: no "…N entries"
    assert len(set(before["fills"])) == 30  # and no colour given twice
    assert min(before["opacities"]) == 1
    page.locator(f"#{chart} g.mark-symbol.role-mark > path").last.hover(force=True)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert "ΔH true" in text and "\u2212" in text and "e-" not in text  # numfmt: 1.234e−3
    # clicking a legend entry highlights its run: its points stay opaque, the others fade
    picked = before["labels"][4]
    page.locator(f"#{chart} .role-legend-label text", has_text=picked).first.click(force=True)
    page.wait_for_function(
        "id => Array.from(document.querySelectorAll('#' + id + ' g.mark-symbol.role-mark > path'))"
        ".some(p => Number(p.getAttribute('opacity')) < 1)",
        arg=chart,
        timeout=5_000,
    )
    after = page.evaluate(LEGEND_STATE, chart)
    opaque = sum(1 for o in after["opacities"] if o == 1)
    assert 0 < opaque < len(after["opacities"]) / 10  # one run's points of 30 runs'
    tab.assert_clean()


# --- the next runner's blocks: clip sweeps, finite differences, every CV feature -------------

NEXT_RUNNER_PAGES = {
    "runs/next_runner/snis/run_01_clip_sensitive/index.html": ("clip", "fd", "unrecognised"),
    "runs/next_runner/snis/run_02_fd_disagrees/index.html": ("clip", "fd", "unrecognised"),
    "runs/next_runner/cv_batch/run_01/index.html": ("cv", "unrecognised"),
}
SECTION_IDS = "() => Array.from(document.querySelectorAll('main section[id]')).map(s => s.id)"


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", list(NEXT_RUNNER_PAGES))
def test_the_next_runner_sections_are_legible_at_desktop_and_phone_width(
    path: str, width: int, next_runner_site: tuple[Path, Path], chromium: Browser
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    recorder = Recorder.attach(context)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: recorder.problems.append(f"pageerror: {error}"))
        page.goto((next_runner_site[1] / path).as_uri() + "#all")  # draw every chart
        page.wait_for_function(ALL_DRAWN, polling=50, timeout=60_000)
        state = page.evaluate(LEGIBILITY)
        charts = page.evaluate(CHART_STATE)
        sections = page.evaluate(SECTION_IDS)
    finally:
        context.close()
    assert set(NEXT_RUNNER_PAGES[path]) <= set(sections)
    clip_charts = [c for c in charts if c["id"].startswith("chart-clip-")]
    assert len(clip_charts) == (2 if "clip" in NEXT_RUNNER_PAGES[path] else 0)
    assert all(c["marks"] > 0 for c in clip_charts), "a clip chart drew nothing"
    assert state["small"] == [], "page text under 12 px"
    assert state["clipped"] == [], "legend entries truncated or outside the chart"
    assert state["wide"] == [], "charts wider than their container"
    assert state["scroll"] <= 0, "horizontal scrolling"
    assert recorder.problems == []
