"""Fields no loader reads: named on the run page and in summary.json the build they appear in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.build import BuildOptions, build
from reportgen.discover import discover
from reportgen.load import KNOWN_FIELDS, load_run
from reportgen.load.fingerprint import field_paths
from reportgen.load.inventory import MAX_LISTED, KnownFields, field_inventory
from reportgen.load.models import Run, Schema

SNIS_RUN = "diagnostics_run/full_data/E_256/run_01"
SWEEP_RUN = "comparison_across_learning_rates/run_01"
CV_RUN = "CVs_and_gdotv/run1/run_01"


def test_field_paths_collapse_lists_of_objects_and_numeric_keys() -> None:
    data = {
        "a": {"b": 1, "c.d": 2},
        "entries": [{"eta": 1, "x": {"y": 2}}, {"eta": 2, "z": None}],
        "ratio": {"1e-06": 1.0, "2e-06": 2.0},
        "values": [1.0, 2.0],
    }
    assert field_paths(data) == {
        "a", "a.b", "a.c\\.d", "entries", "entries[].eta", "entries[].x", "entries[].x.y",
        "entries[].z", "ratio", "ratio.#", "values",
    }  # fmt: skip


KNOWN = KnownFields(
    used=("a.b", "entries[].eta", "ratio.#", "open.*"),
    unused={"audit": "not shown", "entries[].extras": "metadata"},
)


def test_only_the_topmost_unknown_path_is_named() -> None:
    data = {
        "a": {"b": 1, "new": {"deep": {"er": 1}}},
        "entries": [{"eta": 1, "extras": {"k": 1}, "added": 3}],
        "ratio": {"1e-06": 1.0},
        "open": {"anything": 1},
        "audit": {"scale_sum": 1.0},
        "block": {"x": [{"y": 1}]},
    }
    inventory = field_inventory(field_paths(data), KNOWN)
    assert inventory.unrecognised == ("a.new", "block", "entries[].added")
    assert inventory.unrecognised_total == 3
    assert inventory.unused == (("audit", "not shown"), ("entries[].extras", "metadata"))


def test_a_generic_file_has_nothing_unrecognised() -> None:
    inventory = field_inventory(field_paths({"anything": {"at": "all"}}), None)
    assert inventory.unrecognised == () and inventory.unrecognised_total == 0


def test_the_listed_paths_are_bounded_and_the_total_kept() -> None:
    data = {f"extra_{i:03d}": i for i in range(MAX_LISTED + 20)}
    inventory = field_inventory(field_paths(data), KNOWN)
    assert len(inventory.unrecognised) == MAX_LISTED
    assert inventory.unrecognised_total == MAX_LISTED + 20


keys = st.text(alphabet="abcdef_", min_size=1, max_size=4)
trees = st.recursive(
    st.one_of(st.integers(), st.none(), st.lists(st.floats(allow_nan=False), max_size=2)),
    lambda children: (
        st.dictionaries(keys, children, min_size=1, max_size=3)
        | st.lists(st.dictionaries(keys, children, min_size=1, max_size=2), min_size=1, max_size=2)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, trees, min_size=1, max_size=4))
def test_a_file_is_fully_known_to_its_own_paths_and_unknown_to_none(data: dict[str, Any]) -> None:
    paths = field_paths(data)
    assert field_inventory(paths, KnownFields(tuple(paths), {})).unrecognised_total == 0
    nothing = field_inventory(paths, KnownFields((), {}))
    assert set(nothing.unrecognised) == set(data)  # only the top-level keys: the rest is below


def _runs(tree: Path) -> list[Run]:
    found, _ = discover(tree)
    runs = [load_run(ref, tree) for ref in found.runs]
    return [r for r in runs if isinstance(r, Run)]


@pytest.mark.shared
def test_every_field_of_the_real_runs_is_read_or_known(shared_results: Path) -> None:
    runs = _runs(shared_results)
    assert {r.schema for r in runs} == {Schema.SNIS, Schema.SWEEP, Schema.CV}
    for run in runs:
        assert run.field_inventory.unrecognised == (), run.ref.id
        unused = {path for path, _ in run.field_inventory.unused}
        # every known-unused path named is one the generation declares, and is in the file
        assert unused <= field_paths(json.loads((shared_results / run.ref.source).read_bytes()))


def test_every_field_of_the_sample_runs_is_read_or_known(sample_tree: Path) -> None:
    for run in _runs(sample_tree):
        assert run.field_inventory.unrecognised == (), run.ref.id
    assert set(KNOWN_FIELDS) == {Schema.SNIS, Schema.SWEEP, Schema.CV}


def _add(tree: Path, run: str, change: Any) -> None:
    path = tree / run / "results.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.slow
def test_an_unknown_field_appears_on_its_page_and_in_summary_json_the_same_build(
    sample_tree: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "results"
    shutil.copytree(sample_tree, tree)

    def snis(data: dict[str, Any]) -> None:
        data["true"]["entries"][0]["diagnostics"]["kl_estimate"] = 0.01
        data["update"]["lr_schedule"] = {"warmup": 10}

    _add(tree, SNIS_RUN, snis)
    _add(tree, SWEEP_RUN, lambda d: d["sweep"][0].update(deltaH_fd=1.0))
    _add(tree, CV_RUN, lambda d: d.update({f"extra_{i:03d}": i for i in range(MAX_LISTED + 3)}))
    out = tmp_path / "site"
    build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    expected = {
        SNIS_RUN: ["true.entries[].diagnostics.kl_estimate", "update.lr_schedule"],
        SWEEP_RUN: ["sweep[].deltaH_fd"],
        CV_RUN: [f"extra_{i:03d}" for i in range(MAX_LISTED)],
    }
    for run, paths in expected.items():
        summary = json.loads((out / "runs" / run / "summary.json").read_text())
        assert summary["unrecognised_fields"] == paths
        total = MAX_LISTED + 3 if run == CV_RUN else len(paths)
        assert summary["unrecognised_fields_total"] == total
        found = [f for f in summary["findings"] if f["id"] == "unrecognised-fields"]
        assert len(found) == 1 and paths[0] in found[0]["message"]
        page = (out / "runs" / run / "index.html").read_text()
        section = page[page.index('<section id="unrecognised"') :]
        section = section[: section.index("</section>")]
        assert all(f"<code>{p}</code>" in section for p in paths)
        assert ("and 3 more" in section) == (run == CV_RUN)
        assert '<a href="#unrecognised">' in page
