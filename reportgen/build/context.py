"""What every page of a build shares (title, version, assets, the one timestamp) and the run
stage's settings: for the site build and ``--single-file`` alike."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reportgen import __version__
from reportgen.settings import BuildOptions, derive

if TYPE_CHECKING:
    from reportgen.pages.render import SiteContext
    from reportgen.pages.run import RunSettings


def built_at() -> str | None:
    """The one timestamp a page may carry, and only when SOURCE_DATE_EPOCH asks for it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return None


def site_context(options: BuildOptions) -> SiteContext:
    from reportgen.pages.assets import static_assets, vega_bundle_version
    from reportgen.pages.render import SiteContext

    return SiteContext(
        title=options.title,
        version=__version__,
        assets={asset.name: asset.hashed_name for asset in static_assets()},
        built_at=built_at(),
        vega_version=vega_bundle_version(),
    )


def run_settings(options: BuildOptions, inline_files: bool = False) -> RunSettings:
    from reportgen.pages.run import RunSettings

    figures = () if inline_files else options.figures
    return derive(RunSettings, options, figures=figures, inline_files=inline_files)
