"""Long tables and lists: compact JSON with named columns, paged in the page or beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.analysis.record import RunRecord
from reportgen.build import BuildOptions, site_context
from reportgen.discover import GroupRef, RunRef, Tree
from reportgen.findings import Finding
from reportgen.pages import paged, paging
from reportgen.pages.paged import CompactTable
from reportgen.pages.site import site_pages


def decode(data: dict[str, Any]) -> list[dict[str, Any]]:
    """What reportgen.js's decodeRows does: named values, lookup indexes resolved."""
    lookup = data["lookup"]
    rows = []
    for values in data["rows"]:
        row = {}
        for name, value in zip(data["columns"], values, strict=True):
            table = lookup.get(name)
            if table is not None:
                value = [table[k] for k in value] if isinstance(value, list) else table[value]
            row[name] = value
        rows.append(row)
    return rows


words = st.sampled_from(["snis", "eta-sweep", "cv", "ok", "error", "a", "b"])


@given(
    st.lists(
        st.tuples(
            st.text(max_size=8), words, st.lists(words, max_size=4), st.integers(-(2**53), 2**53)
        ),
        max_size=30,
    )
)
def test_compact_rows_decode_to_the_rows_they_encode(rows: list[tuple[Any, ...]]) -> None:
    table = CompactTable(("id", "schema", "findings", "n"), lookup=("schema", "findings"))
    data = orjson.loads(orjson.dumps(table.encode(rows, page_size=7)))
    assert data["columns"] == ["id", "schema", "findings", "n"] and data["page_size"] == 7
    expected = [dict(zip(data["columns"], (i, s, f, n), strict=True)) for i, s, f, n in rows]
    assert decode(data) == expected
    # each looked-up string is written once
    for name in ("schema", "findings"):
        assert len(data["lookup"][name]) == len(set(data["lookup"][name]))


def _rows(n: int) -> Sequence[tuple[str, int]]:
    return [(f"r{i}", i) for i in range(n)]


def test_tables_page_above_the_threshold_and_move_beside_the_page_above_another() -> None:
    table = CompactTable(("id", "n"))
    small = paged.paged(_rows(paging.PAGED_ABOVE), _rows(paging.PAGED_ABOVE), table, ("x.js", "k"))
    assert not small.paged and len(small.rows) == small.total == paging.PAGED_ABOVE

    n = paging.PAGED_ABOVE + 1
    inline = paged.paged(_rows(n), _rows(n), table, ("x.js", "k"))
    assert inline.paged and inline.script is None and inline.data is not None
    assert len(inline.rows) == paging.PAGE_SIZE and inline.total == n
    assert len(decode(orjson.loads(str(inline.data)))) == n

    n = paging.SEPARATE_ABOVE + 1
    separate = paged.paged(_rows(n), _rows(n), table, ("x.js", "k"))
    assert separate.paged and separate.data is None and separate.script is not None
    prefix = b'(window.reportgenRows = window.reportgenRows || {})["k"] = '
    content = separate.script.content
    assert separate.script.path == "x.js" and content.startswith(prefix)
    assert content.endswith(b";\n")
    data = orjson.loads(content[len(prefix) : -2])
    assert [r["id"] for r in decode(data)] == [f"r{i}" for i in range(n)]


def test_a_data_script_cannot_be_closed_or_broken_by_a_run_id() -> None:
    nasty = ["</script><script>alert(1)</script>", "a\u2028b", 'x"];alert(1);//']
    rows = [(v, 0) for v in nasty] * (paging.SEPARATE_ABOVE // 3 + 1)
    script = paged.paged(rows, rows, CompactTable(("id", "n")), ("x.js", "k")).script
    assert script is not None
    text = script.content.decode()
    assert "</script" not in text and "\u2028" not in text
    prefix = '(window.reportgenRows = window.reportgenRows || {})["k"] = '
    assert decode(orjson.loads(text[len(prefix) : -2]))[0]["id"] == nasty[0]  # JSON, not code


def synthetic_tree(groups: int, runs_per_group: int) -> tuple[Tree, dict[str, RunRecord]]:
    records: dict[str, RunRecord] = {}
    refs, group_refs = [], []
    info = (Finding("se-shard-is-mean-se", "info", "se_shard is the SE of the mean shard"),)
    for g in range(groups):
        group_id = f"sweep_{g:05d}"
        ids = tuple(f"{group_id}/run_{r:02d}" for r in range(runs_per_group))
        for i, run_id in enumerate(ids):
            source = f"{run_id}/results.json"
            records[run_id] = RunRecord(
                id=run_id,
                source=source,
                status="ok",
                input_hash="0" * 64,
                tool_version="0",
                findings=info if i % 3 == 0 else (),
                schema="snis",
                batch_size=16,
            )
            refs.append(RunRef(run_id, source, run_id))
        group_refs.append(GroupRef(group_id, ids, ()))
    return Tree("/results", tuple(refs), tuple(group_refs), ()), records


@pytest.mark.slow
def test_a_hundred_thousand_runs_in_ten_thousand_groups_give_a_small_index(
    tmp_path: Path,
) -> None:
    tree, records = synthetic_tree(10_000, 10)
    site = site_context(BuildOptions(results=tmp_path, out=tmp_path / "site"))
    files = dict(site_pages(tree, (), records, {}, site).files)
    assert len(files["index.html"]) < 1_000_000
    assert len(files["diagnostics.html"]) < 1_000_000
    index = files["index.html"].decode()  # type: ignore[union-attr]
    assert 'data-rows-src="index-runs.js"' in index and 'data-rows-src="index-groups.js"' in index
    assert index.count('<li class="depth-0">') == paging.PAGE_SIZE  # the first page of groups
    runs = files["index-runs.js"]
    assert isinstance(runs, bytes) and runs.count(b'"sweep_') == 100_000
