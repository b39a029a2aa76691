"""Screenshots of the sample site's run and group pages for the README (``docs/*.png``).

Usage: ``python tests/tools/screenshots.py [--out docs] [--chromium /usr/bin/chromium]``.
Builds the embedded sample into a temporary directory, opens the pages from ``file://`` in
headless Chromium (all other traffic aborted) and writes 1280 px wide PNGs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, FloatRect, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
if not __package__:  # run as a script from a checkout: import reportgen from beside tests/
    sys.path.insert(0, str(ROOT))

from reportgen.build import BuildOptions, build  # noqa: E402
from reportgen.demo import generate_sample_tree  # noqa: E402
from tests.test_browser import CHROMIUM, LAUNCH_ARGS  # noqa: E402

WIDTH = 1280
HEIGHT = 1800
ALL_DRAWN = """() => Array.from(document.querySelectorAll('.chart-view'))
    .every(v => v.hasAttribute('data-rendered'))"""


@dataclass(frozen=True)
class Shot:
    name: str
    page: str
    start: str | None = None  # CSS selector the picture starts at (default: the page top)


SHOTS = (
    Shot("run-page.png", "runs/diagnostics_run/full_data/E_256/run_01/index.html"),
    # The group page opens with its paired verdict: counts and z by η per population.
    Shot("group-page.png", "groups/diagnostics_run/full_data/index.html", "#verdict"),
)


def build_sample(workdir: Path) -> Path:
    tree = generate_sample_tree(workdir / "results", seed=0)
    out = workdir / "site"
    build(BuildOptions(results=tree, out=out))
    return out


def _top(page: Page, selector: str | None) -> int:
    if selector is None:
        return 0
    top: float = page.eval_on_selector(
        selector, "e => e.getBoundingClientRect().top + window.scrollY"
    )
    return max(0, int(top) - 16)


def capture(browser: Browser, site: Path, out: Path, height: int = HEIGHT) -> list[Path]:
    """Write every shot of ``site`` into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 900}, color_scheme="light", device_scale_factor=1
    )
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    written = []
    try:
        page = context.new_page()
        for shot in SHOTS:
            page.goto((site / shot.page).as_uri())
            page.wait_for_function(ALL_DRAWN, polling=50, timeout=30_000)
            page.evaluate("document.fonts.ready")
            top = _top(page, shot.start)
            total = int(page.evaluate("document.documentElement.scrollHeight"))
            clip: FloatRect = {"x": 0, "y": top, "width": WIDTH, "height": min(height, total - top)}
            target = out / shot.name
            page.screenshot(path=str(target), clip=clip, full_page=True, animations="disabled")
            written.append(target)
    finally:
        context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="default: docs/")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--height", type=int, default=HEIGHT, help="pixels per picture")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        site = build_sample(Path(tmp))
        browser = playwright.chromium.launch(executable_path=str(args.chromium), args=LAUNCH_ARGS)
        try:
            for path in capture(browser, site, args.out, args.height):
                print(f"{path} ({path.stat().st_size // 1024} KiB)")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
