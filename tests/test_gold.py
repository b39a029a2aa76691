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
    numbers_close,
    numerics,
    scrub,
)

DIFF_LINES = 60


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_site(tmp_path_factory.mktemp("gold"))


def same_versions_as_gold() -> bool:
    """Skips unless the libraries are the gold's; whether this machine's numerics are too."""
    recorded = json.loads(VERSIONS.read_text())
    installed = library_versions()
    if {name: recorded.get(name) for name in installed} != installed:
        differ = ", ".join(
            f"{name} {recorded.get(name)} → {version}"
            for name, version in installed.items()
            if recorded.get(name) != version
        )
        pytest.skip(f"gold pages were made with other library versions ({differ}); {REGENERATE}")
    return bool(recorded.get("numerics") == numerics())


@pytest.mark.parametrize("page", PAGES)
def test_page_matches_its_gold_copy(tiny_site: Path, page: str) -> None:
    same_numerics = same_versions_as_gold()
    gold = (GOLD / gold_name(page)).read_text(encoding="utf-8")
    built = scrub((tiny_site / page).read_text(encoding="utf-8"))
    if built != gold and (same_numerics or not numbers_close(gold, built)):
        diff = difflib.unified_diff(
            gold.splitlines(), built.splitlines(), f"gold/{gold_name(page)}", page, lineterm=""
        )
        shown = "\n".join(line[:200] for _, line in zip(range(DIFF_LINES), diff, strict=False))
        beyond = "" if same_numerics else " beyond last-bit numbers"
        pytest.fail(
            f"{page} differs from its gold copy{beyond} (first {DIFF_LINES} diff lines below). "
            f"If the change is intended, run `{REGENERATE}` and commit tests/gold with it."
            f"\n{shown}",
            pytrace=False,
        )


def test_numbers_close_forgives_only_last_bits() -> None:
    gold = '<td data-value="0.01788096191706333">0.01788 (1)</td>"x":[-1e-05,2]'
    assert numbers_close(gold, gold.replace("06333", "06357"))
    assert not numbers_close(gold, gold.replace("0.017880", "0.017881"))
    assert not numbers_close(gold, gold.replace("(1)", "(2)"))
    assert not numbers_close(gold, gold.replace("[-1e-05,2]", "[-1e-05,2,3]"))
    assert not numbers_close(gold, gold.replace("td", "th"))


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
