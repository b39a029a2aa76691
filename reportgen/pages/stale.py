"""Last good pages: a run unreadable tonight keeps its previous page, marked stale."""

from __future__ import annotations

import re

from reportgen.render import environment

STALE_MARKER = b"<!-- reportgen:stale -->"
_OLD_BANNER = re.compile(re.escape(STALE_MARKER) + rb".*?<!-- /reportgen:stale -->", re.S)


def mark_stale(path: str, content: bytes, reason: str, last_good: str) -> bytes:
    """Put the stale banner where the page template left its marker (HTML pages only)."""
    if not path.endswith(".html") or STALE_MARKER not in content:
        return content
    banner = environment().get_template("_stale.html").render(reason=reason, last_good=last_good)
    content = _OLD_BANNER.sub(STALE_MARKER, content, count=1)
    return content.replace(STALE_MARKER, STALE_MARKER + banner.encode("utf-8"), 1)
