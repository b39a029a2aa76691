"""Render the influence and Fisher-kernel demo pages into a directory, with the site's assets,
and optionally screenshot them: ``python -m tests.tools.preview_kinds OUT [--shots]``.

The kinds are not wired into the build yet; this renders their page functions directly.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import reportgen.build  # noqa: F401  (first: pages.assets and build.status import each other)
from reportgen import __version__
from reportgen.pages.assets import static_assets, vega_bundle_version
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext

WIDTHS = (1280, 390)


def site_context() -> SiteContext:
    return SiteContext(
        title="reportgen preview",
        version=__version__,
        assets={asset.name: asset.hashed_name for asset in static_assets()},
        built_at=None,
        vega_version=vega_bundle_version(),
    )


def write_assets(out: Path) -> None:
    for asset in static_assets():
        target = out / asset.hashed_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(asset.content)


def write_output(out: Path, output: PageOutput) -> None:
    for path, _ in output.files:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(output.content(path))


def pages(work: Path) -> dict[str, Callable[[SiteContext], PageOutput]]:
    """Page builders for every demo variant, keyed by the page's directory in the site."""
    from reportgen.demo.fisher import write_fisher_run
    from reportgen.demo.influence import write_influence_run
    from reportgen.kinds import fisher, influence
    from reportgen.kinds.reading import StudyFailure, tree_reader

    def study(kind: Any, name: str) -> Any:
        claim = next(c for c in kind.claims(_files(work)) if c.directory == name)
        loaded = kind.load(claim, tree_reader(work))
        assert not isinstance(loaded, StudyFailure), loaded
        return kind.analyze(loaded)

    def influence_page(name: str, **options: Any) -> Callable[[SiteContext], PageOutput]:
        write_influence_run(work / name, **options)
        analysis = study(influence, name)
        return lambda site: influence.page(analysis, site, name)

    def fisher_page(name: str, **options: Any) -> Callable[[SiteContext], PageOutput]:
        write_fisher_run(work / name, **options)
        analysis = study(fisher, name)
        return lambda site: fisher.page(analysis, site, name)

    return {
        "influence-clean": influence_page("influence-clean"),
        "influence-violation": influence_page(
            "influence-violation", baseline_counted_per_sequence=True, nonlinear_direction=5
        ),
        "fisher-dominated": fisher_page("fisher-dominated", dominated=True),
        "fisher-identity": fisher_page("fisher-identity", dominated=False),
    }


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def screenshot(out: Path, names: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for name in names:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto((out / name / "index.html").as_uri())
                page.wait_for_timeout(2500)
                page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
                page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shots", action="store_true", help="screenshot at 1280 and 390 px")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    site = site_context()
    write_assets(args.out)
    with tempfile.TemporaryDirectory() as work:
        builders = pages(Path(work))
        for build in builders.values():
            write_output(args.out, build(site))
    if args.shots:
        screenshot(args.out, list(builders))
    print((args.out / "influence-clean" / "index.html").as_uri())


if __name__ == "__main__":
    main()
