"""Render the influence and Fisher-kernel demo pages into a directory, with the site's assets,
and optionally screenshot them: ``python -m tests.tools.preview_kinds OUT [--shots]``.

The kinds are not wired into the build yet; this renders their page functions directly.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import reportgen.build  # noqa: F401  (first: pages.assets and build.status import each other)
from reportgen import __version__
from reportgen.pages.assets import static_assets, vega_bundle_version
from reportgen.pages.output import PageOutput
from reportgen.pages.render import Crumb, PageMeta, SiteContext

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


def meta(path: str, title: str, kind: str) -> PageMeta:
    return PageMeta(path, title, kind, (Crumb("Index", "index.html"), Crumb(title, None)))


def pages(work: Path) -> dict[str, Callable[[SiteContext], PageOutput]]:
    """Page builders for every demo variant, keyed by the page's site path."""
    from reportgen.demo.fisher import write_fisher_run
    from reportgen.demo.influence import write_influence_run
    from reportgen.kinds.common import KindFailure
    from reportgen.kinds.fisher import analysis as fa
    from reportgen.kinds.fisher import load as fl
    from reportgen.kinds.fisher import page as fp
    from reportgen.kinds.influence import analysis as ia
    from reportgen.kinds.influence import load as il
    from reportgen.kinds.influence import page as ip
    from reportgen.load.inputs import read_bytes

    def influence(name: str, **options: object) -> Callable[[SiteContext], PageOutput]:
        write_influence_run(work / name, **options)  # type: ignore[arg-type]
        loaded = il.load(work / name, read_bytes)
        assert not isinstance(loaded, KindFailure), loaded
        analysis = ia.analyze(loaded)
        return lambda site: ip.page(analysis, site, meta(f"{name}/index.html", name, "influence"))

    def fisher(name: str, **options: object) -> Callable[[SiteContext], PageOutput]:
        write_fisher_run(work / name, **options)  # type: ignore[arg-type]
        loaded = fl.load(work / name, read_bytes)
        assert not isinstance(loaded, KindFailure), loaded
        analysis = fa.analyze(loaded)
        return lambda site: fp.page(analysis, site, meta(f"{name}/index.html", name, "fisher"))

    return {
        "influence-clean": influence("influence-clean"),
        "influence-violation": influence(
            "influence-violation", baseline_counted_per_sequence=True, nonlinear_direction=5
        ),
        "fisher-dominated": fisher("fisher-dominated", dominated=True),
        "fisher-identity": fisher("fisher-identity", dominated=False),
    }


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
