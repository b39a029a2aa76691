"""The build's private cache (``OUT/.reportgen``) is data from disk, checked before it is used.

Each private file (a run's record, page content and sample, a group's record, a draws memo) is
used only while its bytes hash to the digest the status recorded, and has the shape of its
format; anything else is a cache miss: the run is read again or the statistic computed again,
never an error and never published. Paths a status names stay inside the site.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.build import build
from reportgen.build.status import STATUS_PATH
from reportgen.pages.paths import group_partials, run_fragment, run_record, run_sample
from reportgen.write import is_site_path, safe_site_path
from tests.conftest import small_scale_options

SMALL = "scale/block_00/sweep_00/E_16/run_02"  # a run of the smaller batch size
LARGE = "scale/block_00/sweep_00/E_32/run_03"  # a larger run: the batch comparison draws from it
BATCH_GROUP = "scale/block_00/sweep_00"  # compares E_16 with subsets of E_32
TAMPERED = 12345.678
CHANGE_LOG = frozenset({"changes.html", "changes.json"})  # a second build logs "nothing changed"


def public(out: Path) -> dict[str, bytes]:
    """Every published file (outside ``.reportgen``) but the change log."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".reportgen" not in p.parts and p.name not in CHANGE_LOG
    }


def status_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((out / STATUS_PATH).read_bytes())
    return data


def restamp(out: Path, path: str) -> None:
    """Record the present bytes of a private file in the status, as if the build wrote them."""
    digest = hashlib.sha256((out / path).read_bytes()).hexdigest()
    data = status_of(out)
    for entry in (*data["runs"].values(), *data["groups"].values()):
        entry["private"] = [[p, digest if p == path else d] for p, d in entry["private"]]
        if "record_hash" in entry and path.endswith("record.json") and path in entry["files"]:
            entry["record_hash"] = digest
    (out / STATUS_PATH).write_bytes(orjson.dumps(data))


def edit_record(out: Path, run_id: str, change: Any) -> None:
    path = out / run_record(run_id)
    data = orjson.loads(path.read_bytes())
    change(data["record"])
    path.write_bytes(orjson.dumps(data))


def set_first_true(record: dict[str, Any], value: object) -> None:
    record["etas"][0]["delta_h_true"] = value


def touch_site(out: Path) -> None:
    """Make the next build do work without changing any input (it must rebuild the index)."""
    (out / "diagnostics.html").unlink()


def change_run(results: Path, run_id: str) -> None:
    path = results / run_id / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))


def test_a_tampered_record_of_an_unchanged_run_is_not_published(
    small_scale_copy: tuple[Path, Path], rendered: list[str]
) -> None:
    results, out = small_scale_copy
    before = public(out)
    edit_record(out, SMALL, lambda r: set_first_true(r, TAMPERED))
    touch_site(out)
    result = build(small_scale_options(results, out))
    assert rendered == [SMALL] and result.rebuilt == 1  # a cache miss: read again
    assert public(out) == before
    assert not any(str(TAMPERED).encode() in content for content in public(out).values())


@pytest.mark.parametrize(
    "wrong",
    [
        lambda r: set_first_true(r, str(TAMPERED)),  # a number as text
        lambda r: set_first_true(r, True),  # a flag where a number belongs
        lambda r: r.update(batch_size="16"),
        lambda r: r.update(findings=[{"id": "x"}]),  # a finding without its fields
        lambda r: r.update(extra=1),  # a field no record has
    ],
    ids=["text", "bool", "batch-size", "finding", "extra-field"],
)
def test_a_record_of_the_wrong_shape_is_a_cache_miss_even_with_its_digest(
    small_scale_copy: tuple[Path, Path], rendered: list[str], wrong: Any
) -> None:
    """Whatever the status says, a record whose fields have the wrong types is not used."""
    results, out = small_scale_copy
    before = public(out)
    edit_record(out, SMALL, wrong)
    restamp(out, run_record(SMALL))
    touch_site(out)
    build(small_scale_options(results, out))
    assert rendered == [SMALL]
    assert public(out) == before


def make_unreadable(results: Path, run_id: str) -> None:
    path = results / run_id / "results.json"
    path.write_bytes(path.read_bytes()[:50])


def page_content_span(out: Path, run_id: str) -> tuple[int, int]:
    """Where the status says the run page's content lies in its file."""
    _, start, end, _ = status_of(out)["runs"][run_id]["page_span"]
    return start, end


def test_a_stale_page_is_placed_by_its_run_id_never_by_the_stored_file(
    small_scale_copy: tuple[Path, Path],
) -> None:
    """A stale run's kept content (cut from its good page the first night) names no path or
    title that is used, even when the status vouches for its bytes."""
    results, out = small_scale_copy
    index = (out / "index.html").read_bytes()
    make_unreadable(results, SMALL)
    assert build(small_scale_options(results, out)).stale_runs == [SMALL]
    fragment = out / run_fragment(SMALL)
    stored = orjson.loads(fragment.read_bytes())
    stored |= {"path": "index.html", "title": "pwned", "crumbs": [["x", "../../../x"]]}
    fragment.write_bytes(orjson.dumps(stored))
    restamp(out, run_fragment(SMALL))
    result = build(small_scale_options(results, out))
    assert result.stale_runs == [SMALL]
    page = (out / "runs" / SMALL / "index.html").read_text()
    assert "stale-banner" in page and "pwned" not in page
    assert (out / "index.html").read_bytes() != index  # the index, rebuilt (not the stale page)
    assert "stale-banner" not in (out / "index.html").read_text()


def test_a_tampered_page_content_is_never_shown(small_scale_copy: tuple[Path, Path]) -> None:
    """A good page altered in the site: its content is not cut for a stale page (its digest is
    not the one recorded), and tonight's error page stands instead."""
    results, out = small_scale_copy
    page = out / "runs" / SMALL / "index.html"
    start, _ = page_content_span(out, SMALL)
    good = page.read_bytes()
    page.write_bytes(good[:start] + b"<script>alert(1)</script>" + good[start:])
    make_unreadable(results, SMALL)
    result = build(small_scale_options(results, out))
    assert result.failed_runs == [SMALL] and result.stale_runs == []
    assert not any(b"alert(1)" in content for content in public(out).values())
    assert "Unreadable run" in page.read_text()


def test_a_tampered_kept_content_is_never_shown(small_scale_copy: tuple[Path, Path]) -> None:
    """A stale run's kept content altered: the next stale build shows tonight's error page."""
    results, out = small_scale_copy
    make_unreadable(results, SMALL)
    assert build(small_scale_options(results, out)).stale_runs == [SMALL]
    fragment = out / run_fragment(SMALL)
    stored = orjson.loads(fragment.read_bytes())
    stored["content"] = "<script>alert(1)</script>" + stored["content"]
    fragment.write_bytes(orjson.dumps(stored))
    result = build(small_scale_options(results, out))
    assert result.failed_runs == [SMALL] and result.stale_runs == []
    assert not any(b"alert(1)" in content for content in public(out).values())
    assert "Unreadable run" in (out / "runs" / SMALL / "index.html").read_text()


def rescale_npy(path: Path, factor: float) -> None:
    table = np.load(path, allow_pickle=False)
    np.save(path, table * factor, allow_pickle=False)  # np.save appends ".npy": path has it


def test_a_rescaled_sample_is_read_again(
    small_scale_copy: tuple[Path, Path], rendered: list[str], tmp_path: Path
) -> None:
    results, out = small_scale_copy
    rescale_npy(out / run_sample(LARGE), 2.0)
    change_run(results, SMALL)  # the batch-size group is compared again
    build(small_scale_options(results, out))
    assert sorted(rendered) == sorted([SMALL, LARGE])  # the sample was a cache miss
    cold = tmp_path / "cold"
    build(small_scale_options(results, cold))
    summary = f"groups/{BATCH_GROUP}/summary.json"
    assert (out / summary).read_bytes() == (cold / summary).read_bytes()


def test_a_rescaled_draws_memo_is_drawn_again(
    small_scale_copy: tuple[Path, Path], tmp_path: Path
) -> None:
    results, out = small_scale_copy
    memos = sorted((out / ".reportgen/memo").rglob("*.npy"))
    assert memos
    for memo in memos:
        rescale_npy(memo, 3.0)
    change_run(results, SMALL)
    build(small_scale_options(results, out))
    cold = tmp_path / "cold"
    build(small_scale_options(results, cold))
    summary = f"groups/{BATCH_GROUP}/summary.json"
    assert (out / summary).read_bytes() == (cold / summary).read_bytes()


def test_a_tampered_group_record_is_not_merged(
    small_scale_copy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parent analysed beside a carried-over child takes the child's partials only from a
    record whose bytes are the ones recorded; otherwise it computes them itself."""
    results, out = small_scale_copy
    carried = "scale/block_00/sweep_00/E_32"  # unchanged when a run of E_16 changes
    path = out / group_partials(carried)
    head, first, *rest = zlib.decompress(path.read_bytes()).split(b"\n")  # JSON Lines
    row = orjson.loads(first)
    row["fit"]["loglog_slope"] = TAMPERED
    path.write_bytes(zlib.compress(b"\n".join([head, orjson.dumps(row), *rest])))
    change_run(results, SMALL)
    build(small_scale_options(results, out))
    assert not any(str(TAMPERED).encode() in content for content in public(out).values())
    cold = tmp_path / "cold"
    build(small_scale_options(results, cold))
    assert public(out) == public(cold)


def test_a_status_naming_a_path_outside_the_site_is_not_believed(
    small_scale_copy: tuple[Path, Path], rendered: list[str]
) -> None:
    results, out = small_scale_copy
    data = status_of(out)
    data["runs"][SMALL]["files"].append("../outside.txt")
    data["groups"][BATCH_GROUP]["files"].append("../../outside.txt")
    (out / STATUS_PATH).write_bytes(orjson.dumps(data))
    (out.parent / "outside.txt").write_text("not the site's")
    touch_site(out)  # a build that carries runs over (an up-to-date one opens no file)
    result = build(small_scale_options(results, out))
    assert sorted(rendered) == sorted(data["runs"]) and result.rebuilt == len(data["runs"])
    assert (out.parent / "outside.txt").read_text() == "not the site's"
    assert "../outside.txt" not in status_of(out)["runs"][SMALL]["files"]


@given(st.lists(st.sampled_from(["a", ".", "..", "", "...", "b.c", "/"]), max_size=6))
def test_a_path_the_status_may_name_stays_inside_the_site(parts: list[str]) -> None:
    """The status check is string tests only; what it accepts the writer accepts too."""
    path = "/".join(parts)
    if is_site_path(path):
        assert safe_site_path(path)  # raises for anything outside the site
