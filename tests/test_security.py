"""No injection: text from the results tree is escaped, notes sanitised, nothing of it runs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

import markdown
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.build import BuildOptions, BuildResult, build
from reportgen.demo import png_bytes
from reportgen.pages.render import MARKDOWN_OPTIONS, render_markdown, sanitised
from reportgen.write import WriteError, safe_site_path
from tests.formats import assert_site_twins_valid
from tests.sitecheck import broken_links

# Browsers interpret these as markup or code; every other output file must be plain data.
ACTIVE_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".svg", ".xml", ".js", ".mjs", ".css"})
# ``.z``: the build's private deflated group records (binary, never linked from a page);
# ``.jsonl``: its private file of every run's cross-run record (JSON Lines, never linked)
DATA_SUFFIXES = frozenset(
    {".json", ".jsonl", ".csv", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".npy", ".z"}
)

# Each payload carries a character that escaping changes (<, " or '), so the raw marker can only
# survive if escaping failed; the escaped text (``&lt;script&gt;alert(``) is harmless.
MARKERS = (
    "<script>alert(",
    "<img src=x onerror=alert(",
    "<svg onload=alert(",
    "<b onmouseover=alert(",
    '" onmouseover="alert(',
    "' onfocus='alert(",
    '<iframe src="https://evil',
    '<object data="evil',
    '<embed src="evil',
    'href="javascript:',
    'src="javascript:',
)
CLOSE_SCRIPT = "</script><script>alert({n})</script>"
JSON_SCRIPT = re.compile(r'<script type="application/json"[^>]*>.*?</script>', re.DOTALL)
FORBIDDEN_TAGS = frozenset(
    {"iframe", "object", "embed", "frame", "frameset", "applet", "base", "form"}
)
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "xlink:href", "poster"})

PAYLOAD_RUN = 'run_x <img src=x onerror=alert(4)> & "q" \'ü\' x" onmouseover="alert(5)'
PAYLOAD_GROUP = "group <b onmouseover=alert(6)> ' onfocus='alert(7)"
NOTES = """\
# Notes with <b>bold</b> and **strong** text

<script>alert(20)</script>
<img src="data:image/png;base64,AAAA" onerror=alert(21)>
[click me](javascript:alert(23))
<a href="JaVaScRiPt:alert(24)">mixed case</a>
<div onclick="alert(25)">a div with a handler</div>
<svg onload=alert(26)></svg>
<iframe src="https://evil.example/"></iframe>
<object data="evil.swf"></object>
<embed src="evil.swf">
<style>body { display: none }</style>
<form action="https://evil.example/"><input name="q"></form>
<a href="https://example.org/ok">a fine link</a>
"""
SVG_WITH_SCRIPT = (
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(35)"><script>alert(36)</script></svg>'
)


# --- scanning a built site -------------------------------------------------------------------


def site_files(site: Path) -> Iterator[Path]:
    return (p for p in sorted(site.rglob("*")) if p.is_file())


def unescaped_payloads(site: Path, markers: tuple[str, ...] = MARKERS) -> list[str]:
    """``path: marker`` for every raw payload in a file a browser would run or render."""
    hits = []
    for path in site_files(site):
        if path.suffix.lower() not in ACTIVE_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        if path.suffix.lower() in (".html", ".htm", ".xhtml"):
            text = _outside_json_scripts(text)
        hits += [f"{path.relative_to(site)}: {m}" for m in markers if m.lower() in text]
    return hits


def _outside_json_scripts(html: str) -> str:
    """Drop JSON data blocks, where quotes are inert (a ``<`` in them is checked separately).

    A block that closes early leaves its tail, and any payload in it, in the text.
    """
    return JSON_SCRIPT.sub("<script></script>", html)


def unsafe_data_files(site: Path) -> list[str]:
    """Files that are neither scanned markup nor inert data, and JSON files that do not parse."""
    problems = []
    for path in site_files(site):
        suffix = path.suffix.lower()
        if suffix not in ACTIVE_SUFFIXES | DATA_SUFFIXES:
            problems.append(f"{path.relative_to(site)}: unexpected file type")
        elif suffix == ".json":
            try:
                json.loads(path.read_bytes())
            except ValueError as exc:
                problems.append(f"{path.relative_to(site)}: invalid JSON ({exc})")
    return problems


@dataclass
class Script:
    attrs: dict[str, str | None]
    text: str = ""


class PageAudit(HTMLParser):
    """Collects what a page would run: handlers, risky tags and URLs, scripts, styles, CSP."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.csp: list[str] = []
        self.scripts: list[Script] = []
        self.styles: list[str] = []
        self._open: Script | None = None
        self._style: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag}> has an event handler {name}=")
            scheme = (value or "").strip().lower()
            if name in URL_ATTRIBUTES and scheme.startswith(("javascript:", "vbscript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(values.get("content") or "")
        if tag == "script":
            self._open = Script(values)
        elif tag == "style":
            self._style = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data
        elif self._style is not None:
            self._style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._open is not None:
            self.scripts.append(self._open)
            self._open = None
        elif tag == "style" and self._style is not None:
            self.styles.append("".join(self._style))
            self._style = None


def audit(page: Path) -> PageAudit:
    parser = PageAudit()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in directives}


def is_json_script(script: Script) -> bool:
    return script.attrs.get("type") == "application/json"


# --- the payload tree ------------------------------------------------------------------------


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _snis_payloads(root: Path) -> str:
    """A copy of E_512/run_01 under a hostile name, with payloads in every text it carries."""
    source = root / "diagnostics_run/full_data/E_512/run_01"
    run = source.parent / PAYLOAD_RUN
    shutil.copytree(source, run)
    data = json.loads((run / "results.json").read_text())
    data["approx"]["method"] = CLOSE_SCRIPT.format(n=1)
    data["approx"]["estimator"] = "<svg onload=alert(2)>"
    data["precision"]["runtime_dtype"] = 'x" onmouseover="alert(3)'
    data["update"]["method"] = "' onfocus='alert(8)"
    _dump(run / "results.json", data)
    config = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(config + 'payload: "</script><script>alert(9)</script>"\n')
    _dump(run / "plan.json", {"capture_per_sequence": True, "note": CLOSE_SCRIPT.format(n=10)})
    (run / "notes.md").write_text(NOTES, encoding="utf-8")
    image = png_bytes(np.full((4, 4, 3), 200, dtype=np.uint8))
    (run / 'figure "><img src=x onerror=alert(11)>.png').write_bytes(image)
    (run / "evil.svg").write_text(SVG_WITH_SCRIPT)
    return f"diagnostics_run/full_data/E_512/{PAYLOAD_RUN}"


def _cv_payloads(root: Path) -> str:
    """A control-variate run whose feature names close their <script> tag."""
    source = root / "CVs_and_gdotv/run1/run_01"
    run = source.parent / "run_cv_payload"
    shutil.copytree(source, run)
    data = json.loads((run / "results.json").read_text())
    name = CLOSE_SCRIPT.format(n=30)
    for key in ("corr", "ols_beta", "var_after_cv"):
        data["summary"][key][name] = 0.5
    data["v_stats"]["method"] = "<img src=x onerror=alert(31)>"
    _dump(run / "results.json", data)
    return "CVs_and_gdotv/run1/run_cv_payload"


def _other_payloads(root: Path) -> None:
    generic = root / "misc/run_generic"
    generic.mkdir(parents=True)
    _dump(
        generic / "results.json",
        {
            CLOSE_SCRIPT.format(n=40): "<b onmouseover=alert(41)>bold</b>",
            "nested": {"' onfocus='alert(42)": ["<script>alert(43)</script>", 1.5]},
        },
    )
    failing = root / "misc/run_failing"
    failing.mkdir()
    _dump(failing / "results.json", {"true": {"entries": [{"eta": CLOSE_SCRIPT.format(n=44)}]}})
    group = root / PAYLOAD_GROUP / "run_01"
    shutil.copytree(root / "comparison_across_learning_rates/run_01", group)
    incomplete = root / "misc/incomplete <img src=x onerror=alert(45)>"
    incomplete.mkdir()
    _dump(incomplete / "plan.json", {"capture_per_sequence": True})
    os.symlink("run_generic", root / "misc/link <svg onload=alert(46)>")


@dataclass(frozen=True)
class PayloadSite:
    site: Path
    result: BuildResult
    results: Path
    snis_run: str
    cv_run: str


@pytest.fixture(scope="module")
def payload_site(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> PayloadSite:
    """The sample tree plus hostile names, strings, config, plan and notes, built once."""
    base = tmp_path_factory.mktemp("payloads")
    root = shutil.copytree(sample_tree, base / "results", symlinks=True)
    snis_run = _snis_payloads(root)
    cv_run = _cv_payloads(root)
    _other_payloads(root)
    out = base / "site"
    result = build(BuildOptions(results=root, out=out, jobs=1))
    return PayloadSite(out, result, root, snis_run, cv_run)


def _manifest_entry(site: Path, run_id: str) -> dict[str, Any]:
    manifest = json.loads((site / "manifest.json").read_text())
    return next(r for r in manifest["runs"] if r["id"] == run_id)


def _page_text(site: Path, run_id: str) -> str:
    page = str(_manifest_entry(site, run_id)["page"])
    return (site / page).read_text(encoding="utf-8")


# --- tests -----------------------------------------------------------------------------------


def test_payload_runs_build_and_show_their_text_escaped(payload_site: PayloadSite) -> None:
    site = payload_site.site
    assert payload_site.result.failed_runs == ["misc/run_failing"]
    page = _page_text(site, payload_site.snis_run)
    # The payloads reached the page, as text: this is what makes the scans below meaningful.
    assert "run_x &lt;img src=x onerror=alert(4)&gt; &amp; &#34;q&#34; &#39;ü&#39;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;svg onload=alert(2)&gt;" in page
    assert "x&#34; onmouseover=&#34;alert(3)" in page
    assert "payload: &#34;&lt;/script&gt;&lt;script&gt;alert(9)" in page
    cv_page = _page_text(site, payload_site.cv_run)
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(30)" in cv_page
    failing = _page_text(site, "misc/run_failing")
    assert "&lt;/script&gt;&lt;script&gt;alert(44)" in failing
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "incomplete &lt;img src=x onerror=alert(45)&gt;" in index
    assert "link &lt;svg onload=alert(46)&gt;" in index


def test_no_payload_appears_unescaped_in_any_output_file(payload_site: PayloadSite) -> None:
    assert unescaped_payloads(payload_site.site) == []
    assert unsafe_data_files(payload_site.site) == []


def test_scanner_finds_a_raw_payload(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>&lt;script&gt;alert(1)</p>")
    assert unescaped_payloads(tmp_path) == []
    (tmp_path / "other.html").write_text("<p><script>alert(1)</script></p>")
    (tmp_path / "evil.exe").write_bytes(b"MZ")
    assert unescaped_payloads(tmp_path) == ["other.html: <script>alert("]
    assert unsafe_data_files(tmp_path) == ["evil.exe: unexpected file type"]


def test_json_script_blocks_parse_and_cannot_close_their_tag(payload_site: PayloadSite) -> None:
    blocks = 0
    for page in payload_site.site.rglob("*.html"):
        for script in audit(page).scripts:
            if is_json_script(script):
                blocks += 1
                assert "<" not in script.text and ">" not in script.text, page
                json.loads(script.text)
    cv_page = _page_text(payload_site.site, payload_site.cv_run)
    specs = [s for s in _scripts(cv_page) if is_json_script(s)]
    assert blocks > 20
    decoded = [json.dumps(json.loads(s.text), ensure_ascii=False) for s in specs]
    assert any(CLOSE_SCRIPT.format(n=30) in text for text in decoded)


def _scripts(html: str) -> list[Script]:
    parser = PageAudit()
    parser.feed(html)
    return parser.scripts


def test_every_page_has_a_strict_content_security_policy(payload_site: PayloadSite) -> None:
    pages = sorted(payload_site.site.rglob("*.html"))
    assert len(pages) > 15
    for page in pages:
        policies = audit(page).csp
        assert len(policies) == 1, page
        directives = csp_directives(policies[0])
        assert directives["default-src"] == ["'none'"], page
        assert directives["script-src"] == ["'self'"], page
        assert directives["style-src"] == ["'self'"], page
        assert directives["base-uri"] == ["'none'"], page
        assert "'unsafe-inline'" not in policies[0] and "'unsafe-eval'" not in policies[0]
        head = page.read_text(encoding="utf-8").split("<script", 1)[0]
        assert "Content-Security-Policy" in head, f"{page}: CSP must come before any script"


def test_pages_run_no_inline_code(payload_site: PayloadSite) -> None:
    """No handlers, risky tags or javascript: URLs; scripts are files or JSON data."""
    for page in payload_site.site.rglob("*.html"):
        result = audit(page)
        assert result.problems == [], page
        assert result.styles == [], page
        for script in result.scripts:
            assert is_json_script(script) or (script.attrs.get("src") and not script.text.strip())


def test_templates_have_no_inline_handlers_or_scripts() -> None:
    templates = Path(__file__).resolve().parents[1] / "templates"
    handler = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
    script = re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>")
    for path in templates.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not handler.search(text), path
        for match in script.finditer(text):
            # Only the single-file mode inlines code, each block allowed by its CSP hash.
            line = text[: match.start()].rsplit("\n", 1)[-1] + text[match.start() :].split("\n")[0]
            assert path.name == "single_file.html" and "site.inline." in line, (path, line)


def test_notes_are_rendered_and_sanitised(payload_site: PayloadSite) -> None:
    page = _page_text(payload_site.site, payload_site.snis_run)
    notes = page.split('id="notes"', 1)[1].split("</section>", 1)[0]
    assert "<strong>strong</strong>" in notes and "<b>bold</b>" in notes
    assert '<a href="https://example.org/ok" rel="noopener noreferrer">a fine link</a>' in notes
    lowered = notes.lower()
    for forbidden in (
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<style",
        "<form",
        "<input",
        "<svg",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "alert(20)",
    ):
        assert forbidden not in lowered, forbidden
    assert "a div with a handler" in notes


def test_hostile_names_keep_links_working(payload_site: PayloadSite) -> None:
    assert broken_links(payload_site.site) == []
    page = _page_text(payload_site.site, payload_site.snis_run)
    name = "figure &#34;&gt;&lt;img src=x onerror=alert(11)&gt;.png"
    assert f'alt="Artifact image {name} (a plot the run wrote; not drawn by reportgen)"' in page
    group = json.loads((payload_site.site / "manifest.json").read_text())["groups"]
    assert any(g["id"] == PAYLOAD_GROUP for g in group)
    # hostile names and the failing run's error shape keep every public format
    counts = assert_site_twins_valid(payload_site.site)
    assert counts["run-summary"] == payload_site.result.runs


def test_svg_from_the_tree_is_never_copied(payload_site: PayloadSite) -> None:
    """An SVG opened from the site would run its scripts: only raster images are copied."""
    assert not list(payload_site.site.rglob("*.svg"))
    for path in site_files(payload_site.site):
        if path.suffix in DATA_SUFFIXES - {".json", ".npy"}:
            assert b"alert(35)" not in path.read_bytes()


def test_single_file_report_allows_only_its_own_inline_code(
    payload_site: PayloadSite, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    options = BuildOptions(results=payload_site.results, out=out, single_file=payload_site.snis_run)
    result = build(options)
    assert result.failed_runs == []
    assert unescaped_payloads(tmp_path) == []
    page = audit(out)
    assert page.problems == []
    (policy,) = page.csp
    directives = csp_directives(policy)
    inline = [s for s in page.scripts if not is_json_script(s)]
    assert inline and all(not s.attrs.get("src") for s in inline)
    assert sorted(directives["script-src"]) == sorted(_sha256(s.text) for s in inline)
    assert sorted(directives["style-src"]) == sorted(_sha256(s) for s in page.styles)
    assert "'unsafe-inline'" not in policy and "'self'" not in directives["script-src"]
    # one file, no site beside it: no relative link out of the page (no guide, no index)
    hrefs = re.findall(r'href="([^"]*)"', out.read_text(encoding="utf-8"))
    assert hrefs and [h for h in hrefs if not h.startswith(("#", "https://"))] == []


def _sha256(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


@given(
    parts=st.lists(st.sampled_from(["a", "b.html", "", ".", "..", "..x", " "]), max_size=6),
    absolute=st.booleans(),
)
def test_site_paths_are_normalised_and_kept_inside_the_site(
    parts: list[str], absolute: bool
) -> None:
    path = ("/" if absolute else "") + "/".join(parts)
    reference = PurePosixPath(path)
    outside = reference.is_absolute() or ".." in reference.parts or not reference.parts
    if outside:
        with pytest.raises(WriteError, match="outside the output directory"):
            safe_site_path(path)
    else:
        assert safe_site_path(path) == reference.as_posix()


MARKDOWN_PIECES = [
    "# title",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "```\n<script>x</script>\n```",
    "[ref][1]\n\n[1]: https://example.org/r",
    "an undefined [ref][1] stays text",
    "<div onclick='x'>raw</div>",
    "*em* and **strong**",
    "- item\n- item",
    "    indented code",
]


@given(st.lists(st.sampled_from(MARKDOWN_PIECES), min_size=1, max_size=8))
def test_a_reused_markdown_converter_keeps_no_state_between_texts(texts: list[str]) -> None:
    """Notes render through one converter per thread, reset between texts: each text comes out
    as a fresh conversion of it alone (references, stashed HTML and code do not leak)."""
    for text in texts:
        fresh = markdown.markdown(text, **MARKDOWN_OPTIONS)
        assert render_markdown(text) == sanitised(fresh)
