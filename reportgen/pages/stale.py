"""Last good pages: a run unreadable tonight keeps its previous page, rendered as stale.

A run page's content block is cut from its page in the previous site (the status records
where, and the page's sha256), or, for a run already stale, read from the copy kept beside the
site (``paths.run_fragment``); a stale page is ``stale.html``: that content in the site layout
under the stale banner, so the banner comes from a template, never from editing a page's
bytes. Where the page goes, its title and crumbs come from the run's id, never from the stored
content, whose bytes the build checks against the digest it recorded before using them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import orjson
from markupsafe import Markup

from reportgen.pages.render import PageMeta, SiteContext, render_stale_page


class Staleness(Protocol):
    """Why a page is its last good one (a run's ``StaleRecord``, a study's own)."""

    @property
    def reason(self) -> str: ...

    @property
    def last_good(self) -> str: ...


def stored_page(has_charts: bool, content: Markup) -> bytes:
    """A page's content, to be wrapped again when it must stand in as stale."""
    return orjson.dumps({"has_charts": has_charts, "content": str(content)})


def cut_content(page: bytes, start: int, end: int, has_charts: bool) -> bytes | None:
    """The content block at UTF-8 offsets [start, end) of a page's bytes, stored as
    ``stored_page`` stores it; ``None`` when those bytes are not whole text."""
    if not 0 <= start <= end <= len(page):
        return None
    try:
        content = page[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return stored_page(has_charts, Markup(content))


def stale_page(
    stored: bytes, page: PageMeta, site: SiteContext, stale: Staleness
) -> tuple[str, bytes] | None:
    """The stored content at ``page``, with the stale banner; ``None`` when it is unusable."""
    try:
        data = orjson.loads(stored)
        has_charts, content = data["has_charts"], data["content"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(has_charts, bool) or not isinstance(content, str):
        return None
    shown = replace(page, has_charts=has_charts)
    return page.path, render_stale_page(site, shown, Markup(content), stale)
