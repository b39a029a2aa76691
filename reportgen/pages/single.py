"""One self-contained HTML file for one run: bundle, styles, data and images inlined."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from markupsafe import Markup

from reportgen.assets import static_assets
from reportgen.discover import discover
from reportgen.pages.run import RunSettings, render_run
from reportgen.render import InlineAssets, SiteContext
from reportgen.status import input_hash
from reportgen.write import WriteError, check_output_dir, write_file_atomic

if TYPE_CHECKING:
    from reportgen.build import BuildOptions, BuildResult


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_assets() -> InlineAssets:
    contents = {asset.name: asset.content.decode("utf-8") for asset in static_assets()}
    css, js, bundle = contents["site.css"], contents["reportgen.js"], contents["vega-bundle.js"]
    theme = contents["theme.js"]
    return InlineAssets(
        css=Markup(css),
        js=Markup(js),
        theme=Markup(theme),
        bundle=Markup(bundle),
        script_sources=Markup(" ".join(_csp_hash(text) for text in (theme, js, bundle))),
        style_sources=Markup(_csp_hash(css)),
    )


def build_single_file(options: BuildOptions) -> BuildResult:
    """Write ``options.out`` as one HTML file holding the page of ``options.single_file``."""
    from reportgen.build import BuildResult, site_context

    tree, _ = discover(options.results, options.follow_symlinks)
    ref = next((r for r in tree.runs if r.id == options.single_file), None)
    if ref is None:
        known = ", ".join(r.id for r in tree.runs[:5])
        raise WriteError(f"no run with id {options.single_file!r} (runs look like: {known})")
    if options.out.is_dir():
        raise WriteError(
            f"{options.out} is a directory; --single-file writes one file (e.g. -o report.html)"
        )
    check_output_dir(options.out, options.results, force=True)
    site = site_context(options)
    site = SiteContext(
        site.title, site.version, site.assets, site.built_at, site.vega_version, inline_assets()
    )
    settings = RunSettings(
        options.max_bytes,
        options.max_points,
        verbose=options.verbose,
        inline_files=True,
        bootstrap=options.bootstrap,
        seed=options.seed,
    )
    output = render_run(ref, options.results, site, input_hash(ref, options.results), settings)
    page = next(content for path, content in output.files if path.endswith("/index.html"))
    write_file_atomic(options.out, page)
    result = BuildResult(out=options.out, runs=1, rebuilt=1, written=[str(options.out)])
    if not output.ok:
        result.failed_runs = [ref.id]
    return result
