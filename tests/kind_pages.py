"""Rendering a kind's page into a throw-away site (with the real assets) and opening it.

The kinds are not wired into the build yet: these helpers put their ``PageOutput`` files and
the site's hashed assets into a directory, so the pages open from ``file://`` as built ones do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reportgen.build import BuildOptions, site_context
from reportgen.pages.assets import static_assets
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext

ALL_DRAWN = """() => Array.from(document.querySelectorAll('.chart-view'))
    .every(v => v.hasAttribute('data-rendered'))"""
CHART_MARKS = """() => Array.from(document.querySelectorAll('.chart-view')).map(v => [
    v.getAttribute('data-chart'),
    v.querySelectorAll('svg.marks g.role-mark > :is(path, line, text, rect, image)').length])"""


def site_for(tree: Path, out: Path) -> SiteContext:
    return site_context(BuildOptions(results=tree, out=out))


def write_site(out: Path, *outputs: PageOutput) -> None:
    """The assets and every file of ``outputs`` under ``out``."""
    for asset in static_assets():
        target = out / asset.hashed_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(asset.content)
    for output in outputs:
        for path in output.paths:
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(output.content(path))


@dataclass(frozen=True)
class Opened:
    width: int
    marks: dict[str, int]  # chart id → marks drawn
    problems: list[str]  # console errors and warnings
    requests: list[str]  # anything but file:
    overflow: int  # px the page is wider than the viewport
    text: str  # the main element's text


def open_page(page: Path, widths: tuple[int, ...] = (1280, 390)) -> list[Opened]:
    """Open ``page`` in headless Chromium at each width, offline, once every chart is drawn.

    In a process of its own: Playwright's sync API refuses to start a second time inside a
    test session whose browser tests already run one.
    """
    command = [sys.executable, "-m", "tests.kind_pages", str(page), *map(str, widths)]
    root = Path(__file__).resolve().parents[1]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root)
    return [Opened(**item) for item in json.loads(output.stdout)]


def _open_all(page: Path, widths: tuple[int, ...]) -> list[Opened]:
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, LAUNCH_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        seen = [_open_at(browser, page, width) for width in widths]
        browser.close()
    return seen


def _open_at(browser: Any, page: Path, width: int) -> Opened:
    context = browser.new_context(viewport={"width": width, "height": 900})
    problems: list[str] = []
    requests: list[str] = []
    context.on("console", lambda m: _console(m, problems))
    context.on("request", lambda r: requests.append(r.url))
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    tab = context.new_page()
    tab.goto(page.resolve().as_uri() + "?all")  # every chart at once, not as it nears the screen
    tab.wait_for_function(ALL_DRAWN, timeout=60_000)
    marks: Any = tab.evaluate(CHART_MARKS)
    wide: int = tab.evaluate("() => document.documentElement.scrollWidth")
    opened = Opened(
        width=width,
        marks={str(name): int(count) for name, count in marks},
        problems=problems,
        requests=[u for u in requests if not u.startswith("file:")],
        overflow=wide - width,
        text=tab.inner_text("main"),
    )
    context.close()
    return opened


def _console(message: Any, problems: list[str]) -> None:
    if message.type in ("error", "warning"):
        problems.append(f"{message.type}: {message.text}")


if __name__ == "__main__":
    opened = _open_all(Path(sys.argv[1]), tuple(int(w) for w in sys.argv[2:]))
    print(json.dumps([asdict(item) for item in opened]))
