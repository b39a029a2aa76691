"""How long a table may grow before it is paged, and the page sizes (read at render time, so
templates and ``pages/paged.py`` always agree)."""

from __future__ import annotations

# Above this many rows a table ships as JSON and is paged in the browser (the first page also
# as HTML, for readers without script); at or below it, every row is plain HTML.
PAGED_ABOVE = 500
PAGE_SIZE = 100
# Above this many rows the JSON is a script file beside the page, which reportgen.js loads after
# the page has drawn (the way Sphinx ships its search index): a 100,000-run index stays a small
# page and the browser parses the rows only once the page is up.
SEPARATE_ABOVE = 5_000
