"""What the experiment-kind tests share: a site context, the files of a directory walked
independently, chart specs validated and drawn offline, and pages opened in Chromium."""

from __future__ import annotations

import concurrent.futures
import functools
import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

import altair as alt
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import vl_convert

import reportgen.build  # noqa: F401  (first: pages.assets and build.status import each other)
from reportgen import __version__
from reportgen.charts import Chart, page_data_json
from reportgen.pages.assets import static_assets, vega_bundle_version
from reportgen.pages.output import PageOutput
from reportgen.pages.render import Crumb, PageMeta, SiteContext

SCHEMAS = Path(__file__).parent / "schemas"
CHROMIUM = Path(os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium"))
ALL_DRAWN = """() => Array.from(document.querySelectorAll('.chart-view'))
    .every(v => v.hasAttribute('data-rendered'))"""
CHART_STATES = """() => Array.from(document.querySelectorAll('.chart-view')).map(v => [
    v.getAttribute('data-rendered'),
    v.querySelectorAll('svg.marks g.role-mark > :is(path, line, rect, text)').length])"""


def site_context(real_assets: bool = False) -> SiteContext:
    """The context pages render with; fake asset names unless the page is opened in a browser
    (the real ones need the Vega bundle, seconds to generate once per test session)."""
    if not real_assets:
        names = {name: f"assets/{name}" for name in ("site.css", "theme.js", "reportgen.js")}
        names["vega-bundle.js"] = "assets/vega-bundle.js"
        return SiteContext("kinds", __version__, names, None, "vega (not loaded)")
    return SiteContext(
        title="kinds",
        version=__version__,
        assets={asset.name: asset.hashed_name for asset in static_assets()},
        built_at=None,
        vega_version=vega_bundle_version(),
    )


def meta(path: str, title: str = "experiment", kind: str = "kind") -> PageMeta:
    return PageMeta(path, title, kind, (Crumb("Index", "index.html"), Crumb(title, None)))


def all_files(directory: Path) -> list[str]:
    """Every file below ``directory`` (relative POSIX paths), by os.walk, hidden ones too."""
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            found.append((Path(root) / name).relative_to(directory).as_posix())
    return sorted(found)


@functools.cache
def vega_lite_validator() -> Any:
    major = alt.SCHEMA_VERSION.split(".")[0]
    schema = importlib.import_module(f"altair.vegalite.{major}.schema.core").load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def attached(chart: Chart, datasets: dict[str, Any]) -> dict[str, Any]:
    """The chart's spec with the datasets it reads, through the bytes a page would carry."""
    data = json.loads(page_data_json(datasets))["datasets"]
    return dict(chart.spec, datasets={name: data[name] for name in chart.datasets})


def spec_errors(spec: dict[str, Any]) -> list[str]:
    return [e.message[:200] for e in vega_lite_validator().iter_errors(spec)]


def drawn_marks(spec: dict[str, Any], role: str) -> int:
    """How many marks of ``role`` (circle, rect, …) vl-convert draws for the spec."""
    svg = vl_convert.vegalite_to_svg(spec)
    return svg.count(f'aria-roledescription="{role}"')


def twin_problems(kind: str, data: Any) -> list[str]:
    document = json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    validator = jsonschema.Draft202012Validator(document)
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(data)
    )


def page_text(output: PageOutput) -> str:
    html = output.content(output.paths[0]).decode("utf-8")
    return re.sub(r"\s+", " ", html)


def write_site(out: Path, output: PageOutput) -> Path:
    """The page and its twin under ``out``, with the site's assets; the page's path."""
    for asset in static_assets():
        target = out / asset.hashed_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(asset.content)
    for path in output.paths:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(output.content(path))
    return out / output.paths[0]


def open_in_chromium(
    page_file: Path, widths: tuple[int, ...] = (1280, 390)
) -> list[dict[str, Any]]:
    """Per width: console problems, requests that left file://, chart states and page width.

    Runs in a thread of its own: Playwright's sync API refuses a thread whose asyncio loop is
    running, as the main thread's is once test_browser.py's session browser has started.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_open_in_chromium, page_file, widths).result()


def _open_in_chromium(page_file: Path, widths: tuple[int, ...]) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        results = [_visit(browser, page_file, width) for width in widths]
        browser.close()
    return results


def _visit(browser: Any, page_file: Path, width: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    page = context.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    result = {
        "width": width,
        "problems": problems,
        "remote": [u for u in requests if not u.startswith("file:")],
        "charts": page.evaluate(CHART_STATES),
        "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
    }
    context.close()
    return result
