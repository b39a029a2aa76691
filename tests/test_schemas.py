"""The JSON Schemas of the public formats: exactly what 0.1 published, and able to fail.

``tests/schemas/*.schema.json`` were derived from the 0.1 snapshots (``tests/snapshots``): the
tests here check that derivation (every field 0.1 always published is required, every 0.1 twin
validates), that every twin of a built site validates, and that a twin missing a field or
holding a wrong type is rejected.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import BuildOptions, BuildResult, build
from tests.formats import (
    KINDS,
    assert_site_twins_valid,
    assert_valid,
    kind_of,
    problems,
    schema,
    validator,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
SNAPSHOT_FILES = ("sample-0.1.json", "shared-0.1.json")
SNIS_RUN = "runs/diagnostics_run/full_data/E_256/run_01/summary.json"
GROUP = "groups/diagnostics_run/full_data/summary.json"


def snapshot_twins() -> Iterator[tuple[str, str, Any]]:
    for name in SNAPSHOT_FILES:
        for path, data in json.loads((SNAPSHOTS / name).read_text()).items():
            if (kind := kind_of(path)) is not None:
                yield kind, f"{name}:{path}", data


@pytest.mark.parametrize("kind", KINDS)
def test_schemas_are_draft_2020_12_and_open_to_new_fields(kind: str) -> None:
    document = schema(kind)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator(kind)  # check_schema raises on an invalid schema
    text = json.dumps(document)
    assert '"additionalProperties": false' not in text and "unevaluatedProperties" not in text


def test_every_twin_0_1_published_validates() -> None:
    seen = {kind: 0 for kind in KINDS if kind != "changes"}  # changes.json is not snapshotted
    for kind, where, data in snapshot_twins():
        assert_valid(kind, data, where)
        seen[kind] += 1
    assert seen == {"run-summary": 9 + 11, "group-summary": 7 + 7, "manifest": 2}


def _objects(node: dict[str, Any], data: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, schema node, instance) of every JSON object in ``data``, following the schema."""
    if isinstance(data, dict):
        yield path, node, data
        for key, value in data.items():
            if key in node.get("properties", {}):
                yield from _objects(node["properties"][key], value, f"{path}.{key}")
    elif isinstance(data, list) and "items" in node:
        for value in data:
            yield from _objects(node["items"], value, f"{path}[]")


def _required(node: dict[str, Any], instance: dict[str, Any]) -> set[str]:
    """The fields ``node`` requires of ``instance``, including those of conditions it meets."""
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    required = set(node.get("required", ()))
    for rule in node.get("allOf", ()):
        if jsonschema.Draft202012Validator(rule["if"]).is_valid(instance):
            required |= set(rule["then"].get("required", ()))
    return required


def test_required_fields_are_exactly_those_0_1_always_published() -> None:
    """Per object path: every key present in every 0.1 instance is required (conditions met)."""
    always: dict[tuple[str, str], set[str]] = {}
    instances: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for kind, _, data in snapshot_twins():
        for path, node, instance in _objects(schema(kind), data, ""):
            keys = always.setdefault((kind, path), set(instance))
            keys &= set(instance)
            instances.append((kind, path, node, instance))
    missing = {
        (kind, path, key)
        for kind, path, node, instance in instances
        for key in always[(kind, path)] - _required(node, instance)
    }
    assert missing == set()
    # the walk followed the schema into every nested object 0.1 published, not just the roots
    assert set(always) == {
        (kind, path) for kind, _, data in snapshot_twins() for path in _paths(data)
    }


def _paths(data: Any, path: str = "") -> set[str]:
    """The path of every JSON object in ``data`` (no schema involved)."""
    if isinstance(data, dict):
        return {path}.union(*(_paths(v, f"{path}.{k}") for k, v in data.items()))
    if isinstance(data, list):
        return set().union(*(_paths(v, f"{path}[]") for v in data))
    return set()


@pytest.fixture(scope="module")
def snis_summary(sample_site: tuple[Path, BuildResult]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((sample_site[0] / SNIS_RUN).read_text())
    assert_valid("run-summary", data)
    return data


def _required_paths(kind: str, data: Any) -> list[tuple[str, ...]]:
    """Every (path…, key) of a required field that ``data`` holds, at every depth."""
    found: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], value: Any, where: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key in sorted(_required(node, value)):
                found.append((*where, key))
            for key, item in value.items():
                if key in node.get("properties", {}):
                    walk(node["properties"][key], item, (*where, key))
        elif isinstance(value, list) and value and "items" in node:
            walk(node["items"], value[0], (*where, "0"))

    walk(schema(kind), data, ())
    return found


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def test_a_summary_missing_any_required_field_is_rejected(snis_summary: dict[str, Any]) -> None:
    paths = _required_paths("run-summary", snis_summary)
    assert len(paths) > 60
    assert ("etas", "0", "delta_h_true") in paths and ("source_sha256",) in paths
    for path in paths:
        broken = copy.deepcopy(snis_summary)
        del _at(broken, path[:-1])[path[-1]]
        assert any(
            f"'{path[-1]}' is a required property" in p for p in problems("run-summary", broken)
        ), path


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("etas", "0", "delta_h_true"), "-0.0003"),  # a number as text
        (("etas", "0", "eta"), None),  # η is never missing
        (("batch_size",), 256.5),  # a count that is not whole
        (("status",), "fine"),  # outside 0.1's vocabulary
        (("findings",), {}),  # a list became an object
        (("tails", "0", "truncated", "0", "kept"), True),
        (("normalization", "formula"), 3),
    ],
)
def test_a_summary_with_a_wrong_type_is_rejected(
    snis_summary: dict[str, Any], path: tuple[str, ...], value: Any
) -> None:
    broken = copy.deepcopy(snis_summary)
    _at(broken, path[:-1])[path[-1]] = value
    found = problems("run-summary", broken)
    assert found and all(p.startswith("/".join(path)) for p in found), found


def test_new_fields_are_allowed(snis_summary: dict[str, Any]) -> None:
    grown = copy.deepcopy(snis_summary)
    grown["a_later_field"] = {"x": 1}
    grown["etas"][0]["se_delta_h_true"] = 1e-5
    assert problems("run-summary", grown) == []


def test_group_and_manifest_schemas_reject_too(sample_site: tuple[Path, BuildResult]) -> None:
    site = sample_site[0]
    group = json.loads((site / GROUP).read_text())
    assert_valid("group-summary", group)
    del group["batch_comparison"][0]["rescaled"]["std"]
    assert problems("group-summary", group)
    manifest = json.loads((site / "manifest.json").read_text())
    manifest["runs"][0]["page"] = None
    assert problems("manifest", manifest)
    changes = json.loads((site / "changes.json").read_text())
    assert_valid("changes", changes)
    assert problems("changes", {k: v for k, v in changes.items() if k != "removed"})


def test_every_twin_of_the_sample_site_validates(sample_site: tuple[Path, BuildResult]) -> None:
    site, result = sample_site
    manifest = json.loads((site / "manifest.json").read_text())
    counts = assert_site_twins_valid(site)
    assert counts == {
        "run-summary": result.runs,
        "group-summary": len(manifest["groups"]),
        "manifest": 1,
        "changes": 1,
        "contributions-csv": 5,
    }


@pytest.mark.shared
def test_every_twin_of_the_shared_site_validates(shared_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = build(BuildOptions(results=shared_results, out=out, jobs=2))
    counts = assert_site_twins_valid(out)
    assert counts["run-summary"] == result.runs == 11
    assert counts["contributions-csv"] == 6 and counts["group-summary"] == 7


def test_error_shapes_validate(
    sample_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreadable run and a group whose analysis fails publish their own, smaller shapes."""
    import shutil

    from reportgen.pages import group as group_pages

    results = tmp_path / "results"
    shutil.copytree(sample_tree, results)
    broken = results / "comparison_across_learning_rates/run_02/results.json"
    broken.write_bytes(broken.read_bytes()[:100])

    def explode(runs):  # type: ignore[no-untyped-def]
        raise ValueError("boom")

    monkeypatch.setattr(group_pages, "per_eta_stats", explode)
    out = tmp_path / "site"
    result = build(BuildOptions(results=results, out=out, jobs=1))
    assert result.failed_runs == ["comparison_across_learning_rates/run_02"]
    assert_site_twins_valid(out)
    summary = json.loads(
        (out / "runs/comparison_across_learning_rates/run_02/summary.json").read_text()
    )
    assert summary["status"] == "error" and summary["error"]["reason"]
    group = json.loads((out / "groups/comparison_across_learning_rates/summary.json").read_text())
    assert group["error"]
    # the error shape is checked as such: without its "error" it would claim to be a full one
    assert problems("group-summary", {k: v for k, v in group.items() if k != "error"})
    assert problems("run-summary", {k: v for k, v in summary.items() if k != "error"})
