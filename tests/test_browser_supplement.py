"""The run page's sections on the next runner's blocks, in Chromium at desktop and phone width:
every chart drawn with marks, nothing clipped or wider than the screen, no console problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.test_browser import ALL_DRAWN, CHART_STATE, CHROMIUM, LAUNCH_ARGS, LEGIBILITY

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"Chromium is not installed at {CHROMIUM}"),
]

PAGES = {
    "runs/next_runner/snis/run_01_clip_sensitive/index.html": ("clip", "fd", "unrecognised"),
    "runs/next_runner/snis/run_02_fd_disagrees/index.html": ("clip", "fd", "unrecognised"),
    "runs/next_runner/cv_batch/run_01/index.html": ("cv", "unrecognised"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


def _state(site: Path, path: str, width: int, browser: Browser) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto((site / path).as_uri() + "#all")  # draw every chart, not only those in view
        page.wait_for_function(ALL_DRAWN, polling=50, timeout=60_000)
        state: dict[str, Any] = page.evaluate(LEGIBILITY)
        state["charts"] = page.evaluate(CHART_STATE)
        state["sections"] = page.evaluate(
            "() => Array.from(document.querySelectorAll('main section[id]')).map(s => s.id)"
        )
        state["problems"] = problems
    finally:
        context.close()
    return state


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", list(PAGES))
def test_the_new_sections_are_legible_at_desktop_and_phone_width(
    path: str, width: int, next_runner_site: tuple[Path, Path], browser: Browser
) -> None:
    state = _state(next_runner_site[1], path, width, browser)
    assert set(PAGES[path]) <= set(state["sections"])
    clip_charts = [c for c in state["charts"] if c["id"].startswith("chart-clip-")]
    assert len(clip_charts) == (2 if "clip" in PAGES[path] else 0)
    assert all(c["marks"] > 0 for c in clip_charts), "a clip chart drew nothing"
    assert state["small"] == [], "page text under 12 px"
    assert state["clipped"] == [], "legend entries truncated or outside the chart"
    assert state["wide"] == [], "charts wider than their container"
    assert state["scroll"] <= 0, "horizontal scrolling"
    assert state["problems"] == []
