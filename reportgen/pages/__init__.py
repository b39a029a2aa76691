"""Page contexts: view dataclasses built from analyses, rendered by templates."""

from __future__ import annotations

from reportgen.pages.run import RunOutput, RunSettings, render_run
from reportgen.pages.single import build_single_file
from reportgen.pages.site import write_site_pages
from reportgen.pages.stale import mark_stale

__all__ = [
    "RunOutput",
    "RunSettings",
    "build_single_file",
    "mark_stale",
    "render_run",
    "write_site_pages",
]
