"""A run page, a group page and the index of a tiny site, byte for byte against tests/gold."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

import reportgen
from tests.goldtest import (
    GOLD,
    PAGES,
    REGENERATE,
    VERSIONS,
    build_tiny_site,
    gold_name,
    library_versions,
    scrub,
)

DIFF_LINES = 60


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_site(tmp_path_factory.mktemp("gold"))


def same_versions_as_gold() -> None:
    recorded = json.loads(VERSIONS.read_text())
    installed = library_versions()
    if recorded != installed:
        differ = ", ".join(
            f"{name} {recorded.get(name)} → {version}"
            for name, version in installed.items()
            if recorded.get(name) != version
        )
        pytest.skip(f"gold pages were made with other library versions ({differ}); {REGENERATE}")


@pytest.mark.parametrize("page", PAGES)
def test_page_matches_its_gold_copy(tiny_site: Path, page: str) -> None:
    same_versions_as_gold()
    gold = (GOLD / gold_name(page)).read_text(encoding="utf-8")
    built = scrub((tiny_site / page).read_text(encoding="utf-8"))
    if built != gold:
        diff = difflib.unified_diff(
            gold.splitlines(), built.splitlines(), f"gold/{gold_name(page)}", page, lineterm=""
        )
        shown = "\n".join(line[:200] for _, line in zip(range(DIFF_LINES), diff, strict=False))
        pytest.fail(
            f"{page} differs from its gold copy (first {DIFF_LINES} diff lines below). If the "
            f"change is intended, run `{REGENERATE}` and commit tests/gold with it.\n{shown}",
            pytrace=False,
        )


def test_scrub_hides_only_the_volatile_bits() -> None:
    page = (
        f'<link href="../assets/site.0123456789ab.css"><p>reportgen {reportgen.__version__} · '
        'vega 6.2.0</p><script type="application/json" id="d">{"a":[1,2],"b":{"c":"x,\\"y"}}'
        "</script>"
    )
    scrubbed = scrub(page)
    assert '"../assets/site.HASH.css"' in scrubbed and "vega VERSION" in scrubbed
    assert "reportgen VERSION" in scrubbed
    # the JSON only gains line breaks: removing them gives the original back
    block = scrubbed.split('id="d">')[1].split("</script>")[0]
    assert block.replace("\n", "") == '{"a":[1,2],"b":{"c":"x,\\"y"}}'
    assert scrub(page.replace("0123456789ab", "ba9876543210")) == scrubbed
    assert scrub(page.replace("[1,2]", "[1,3]")) != scrubbed
