"""Assertions about a built site shared by the end-to-end tests."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


class LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        for name in ("href", "src"):
            if values.get(name):
                self.links.append((tag, str(values[name])))


def parse(page: Path) -> LinkCollector:
    collector = LinkCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector


def broken_links(site: Path) -> list[str]:
    """Every relative href/src (and #fragment) of every page must resolve inside the site."""
    problems = []
    parsed = {page: parse(page) for page in site.rglob("*.html")}
    for page, collector in parsed.items():
        for tag, link in collector.links:
            parts = urlsplit(link)
            if parts.scheme in ("data", "mailto") or (parts.scheme and tag == "a"):
                continue
            if parts.scheme or link.startswith("//") or link.startswith("/"):
                problems.append(f"{page}: non-relative {tag} {link}")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists() or not target.resolve().is_relative_to(site.resolve()):
                problems.append(f"{page}: missing {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if parts.fragment not in ids:
                    problems.append(f"{page}: missing #{parts.fragment} in {link}")
    return problems


REMOTE_ASSET = re.compile(
    r"""<(script|link|img|source|iframe)[^>]+(src|href)=["']?(https?:)?//""", re.I
)


def remote_assets(site: Path) -> list[str]:
    return [
        str(p) for p in site.rglob("*.html") if REMOTE_ASSET.search(p.read_text(encoding="utf-8"))
    ]


def csv_sums(path: Path) -> dict[float, dict[str, float]]:
    """Per η, the column sums of contributions.csv (empty cells skipped)."""
    sums: dict[float, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = csv.DictReader(io.StringIO(path.read_text()))
    for row in rows:
        eta = float(row["eta"])
        for key in ("true_contrib", "linear", "quad", "linquad"):
            if row[key]:
                sums[eta][key] += float(row[key])
    return sums


def assert_run_numbers(site: Path, manifest: dict[str, Any]) -> int:
    """Σ true_contrib = ΔH_true (1e-9 rel) per SNIS run and η, CSV agreeing; returns #checked."""
    checked = 0
    for entry in manifest["runs"]:
        summary = json.loads((site / entry["summary"]).read_text())
        if summary.get("schema") != "snis" or not summary.get("contributions"):
            continue
        sums = csv_sums(site / summary["contributions"])
        for row in summary["etas"]:
            if row["sum_true_contrib"] is None:
                continue
            assert math.isclose(row["sum_true_contrib"], row["delta_h_true"], rel_tol=1e-9), (
                entry["id"],
                row,
            )
            from_csv = sums[row["eta"]]
            assert math.isclose(
                from_csv["true_contrib"], row["sum_true_contrib"], rel_tol=1e-9, abs_tol=1e-15
            )
            if row["sum_linear"] is not None:
                assert math.isclose(
                    from_csv["linear"], row["sum_linear"], rel_tol=1e-9, abs_tol=1e-15
                )
            checked += 1
    return checked


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Outline(HTMLParser):
    """A page's title, first <h1>, section ids, and every tag left open or closed out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.h1 = ""
        self.sections: list[str] = []
        self.problems: list[str] = []
        self._open: list[str] = []
        self._h1s = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._h1s += tag == "h1"
        if tag == "section":
            self.sections.append(str(dict(attrs).get("id") or ""))
        if tag not in VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self._open or self._open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self._open[-1] if self._open else ''}>")
            if tag in self._open:
                del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]
            return
        self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "title":
            self.title += data
        elif "h1" in self._open and self._h1s == 1:
            self.h1 += data

    def close(self) -> None:
        super().close()
        self.h1 = " ".join(self.h1.split())
        self.title = " ".join(self.title.split())
        self.problems += [f"<{tag}> never closed" for tag in self._open]


def outline(page: Path | str) -> Outline:
    """Parse a page (a path or its text); ``problems`` lists what would make it malformed HTML."""
    text = page if isinstance(page, str) else page.read_text(encoding="utf-8")
    result = Outline()
    if not text.lstrip().lower().startswith("<!doctype html>"):
        result.problems.append("no <!doctype html>")
    result.feed(text)
    result.close()
    return result
