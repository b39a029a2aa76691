"""Last good pages: a run unreadable tonight keeps its previous page, rendered as stale.

A run page's content block is kept beside the site (``paths.run_fragment``) with where it sits;
a stale page is ``stale.html``: that content in the site layout under the stale banner, so the
banner comes from a template, never from editing a page's bytes. The stored content is used
only when its digest is the one the build status holds (the build checks it) and only at the
run's own page path.
"""

from __future__ import annotations

import orjson
from markupsafe import Markup

from reportgen.analysis.record import StaleRecord
from reportgen.pages.render import Crumb, PageMeta, SiteContext, render_stale_page


def stored_page(page: PageMeta, content: Markup) -> bytes:
    """A page's content and placement, to be wrapped again when it must stand in as stale."""
    return orjson.dumps(
        {
            "path": page.path,
            "title": page.title,
            "kind": page.kind,
            "crumbs": [[c.title, c.href] for c in page.crumbs],
            "has_charts": page.has_charts,
            "content": str(content),
        }
    )


def stale_page(stored: bytes, site: SiteContext, stale: StaleRecord, path: str) -> bytes | None:
    """The stored page at ``path``, with the stale banner; ``None`` when what was stored is
    unusable or was stored for another path."""
    try:
        data = orjson.loads(stored)
        crumbs = tuple(Crumb(str(title), href) for title, href in data["crumbs"])
        page = PageMeta(
            str(data["path"]),
            str(data["title"]),
            str(data["kind"]),
            crumbs,
            bool(data["has_charts"]),
        )
        content = Markup(str(data["content"]))
    except (ValueError, KeyError, TypeError):
        return None
    if page.path != path:
        return None
    return render_stale_page(site, page, content, stale)
