"""``--single-file``: a page as one self-contained HTML file, its links that would lead out of
the file turned into plain text (a lone file has no other pages to link to)."""

from __future__ import annotations

import re

# an <a> tag's href that is neither a fragment of this page nor a data: URI
_OUTWARD_HREF = re.compile(r'(<a\b[^>]*?)\shref="(?!#|data:)[^"]*"')


def without_outward_links(html: bytes) -> bytes:
    """Every link to another page or file becomes plain text (its ``<a>`` loses the href);
    links within the page stay."""
    return _OUTWARD_HREF.sub(lambda m: m.group(1), html.decode()).encode()
