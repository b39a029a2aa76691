"""The public formats as JSON Schemas (``reportgen/schemas``) and a way to check a twin by them.

Every test that wants to know "has this twin the fields 0.1 published, with their types" calls
``assert_valid(kind, data)`` instead of keeping its own list of keys.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

from reportgen import schemas
from reportgen.schemas import KINDS

SCHEMAS = Path(__file__).resolve().parents[1] / "reportgen" / "schemas"  # the committed files
# contributions.csv of 0.1, in order (tests/snapshots keep it as each CSV's "header")
CSV_COLUMNS_0_1 = (
    "eta",
    "index",
    "true_contrib",
    "linear",
    "quad",
    "linquad",
    "token_count",
    "weight",
)


@functools.cache
def schema(kind: str) -> dict[str, Any]:
    return schemas.schema(kind)


@functools.cache
def validator(kind: str) -> Any:
    document = schema(kind)
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def problems(kind: str, data: Any) -> list[str]:
    """Every way ``data`` breaks the ``kind`` schema, as "path: message" (empty when valid)."""
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(kind).iter_errors(data)
    )


def assert_valid(kind: str, data: Any, where: str = "") -> None:
    found = problems(kind, data)
    assert found == [], f"{where or kind} breaks {kind}.schema.json:\n" + "\n".join(found[:20])


def assert_valid_field(kind: str, field: str, data: Any) -> None:
    """``data`` as the value of a top-level ``field`` of a ``kind`` twin (e.g. a group's tails)."""
    sub = jsonschema.Draft202012Validator(schema(kind)["properties"][field])
    found = sorted(
        f"{field}/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in sub.iter_errors(data)
    )
    assert found == [], f"{kind}.{field}:\n" + "\n".join(found[:20])


def kind_of(relative: str) -> str | None:
    """Which public JSON format a site path holds (``None`` for any other file)."""
    if relative in ("manifest.json", "changes.json"):
        return relative.removesuffix(".json")
    if relative.endswith("/summary.json"):
        if relative.startswith("runs/"):
            return "run-summary"
        if relative.startswith("groups/"):
            return "group-summary"
    return None


def site_twins(site: Path) -> Iterator[tuple[str, str, Any]]:
    """(kind, path relative to the site, parsed JSON) of every public JSON twin of a site."""
    for path in sorted(site.rglob("*.json")):
        relative = path.relative_to(site).as_posix()
        kind = kind_of(relative)
        if kind is not None:
            yield kind, relative, json.loads(path.read_text(encoding="utf-8"))


def assert_site_twins_valid(site: Path) -> dict[str, int]:
    """Validate every JSON twin and contributions CSV of a built site; returns counts per kind."""
    counts = dict.fromkeys((*KINDS, "contributions-csv"), 0)
    for kind, relative, data in site_twins(site):
        assert_valid(kind, data, relative)
        counts[kind] += 1
    for path in sorted(site.glob("runs/**/contributions.csv")):
        assert_valid_csv(path.read_text(encoding="utf-8"), path.relative_to(site).as_posix())
        counts["contributions-csv"] += 1
    return counts


def assert_valid_csv(content: str, where: str = "contributions.csv") -> None:
    """0.1's columns first and in order (later ones may follow); every cell a number or empty."""
    rows = list(csv.reader(io.StringIO(content)))
    assert rows, f"{where}: empty"
    header, body = rows[0], rows[1:]
    assert tuple(header[: len(CSV_COLUMNS_0_1)]) == CSV_COLUMNS_0_1, (where, header)
    assert body, f"{where}: no rows"
    for number, row in enumerate(body, start=2):
        assert len(row) == len(header), (where, number, row)
        cells = dict(zip(header, row, strict=True))
        for name in ("eta", "index", "true_contrib", "token_count", "weight"):  # never empty
            assert math.isfinite(float(cells[name])), (where, number, name, cells[name])
        for name in ("linear", "quad", "linquad"):  # empty where the run has no such value
            assert cells[name] == "" or math.isfinite(float(cells[name])), (where, number, name)
        assert cells["index"].isdigit() and float(cells["token_count"]).is_integer(), (where, row)
