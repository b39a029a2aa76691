"""The public outputs keep every field and value of 0.1 (fields are only ever added).

The snapshots in ``tests/snapshots`` were taken from reportgen 0.1 before the typed-record
redesign (``tests/public_outputs.py``): JSON twins whole, each ``contributions.csv`` as its
header and a digest of its cells parsed as floats.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import BuildOptions, BuildResult, build
from tests.public_outputs import public_outputs

SNAPSHOTS = Path(__file__).parent / "snapshots"
# Values later issues changed on purpose (their tests pin the new values). Issue 10: findings
# judged with the paired SEs, one per run and check with its η list (tests/test_diagnostics.py).
# Issue 11: finding messages print numbers with the one formatter (tests/test_numfmt.py).
CHANGED_ON_PURPOSE: frozenset[str] = frozenset({"findings", "message"})
# Issue 13: the batch comparison draws each larger run's subsets once for all its η (one matrix
# product of the η columns side by side, the bootstrap's engine). Same random keys, same subsets,
# same histogram counts; only the BLAS summation order differs, which moves the last bits of the
# sums and, where the re-estimated err_rel subtracts two near-equal ratios, up to ~6e-9 of a
# value (measured on the sample tree; 7e-12 on ../shared). One different subset would move its
# row's mean by ~one sequence's share of one draw among the pooled ones (1/256 ÷ 2,000 ≈ 2e-6),
# 200× this tolerance, so any change of the draws still fails here.
ROUNDING_ONLY = ".batch_comparison"
ROUNDING_REL = 1e-8


def missing_or_changed(old: Any, new: Any, where: str = "") -> list[str]:
    """Where ``new`` lacks a field of ``old`` or holds another value (recursively)."""
    if where.rsplit(".", 1)[-1] in CHANGED_ON_PURPOSE:
        return []
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: object became {type(new).__name__}"]
        problems = [f"{where}.{k}: missing" for k in old if k not in new]
        for key in old.keys() & new.keys():
            problems += missing_or_changed(old[key], new[key], f"{where}.{key}")
        return problems
    if isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            return [f"{where}: list of {len(old)} became {new!r:.80}"]
        return [
            p
            for i, pair in enumerate(zip(old, new, strict=True))
            for p in missing_or_changed(*pair, f"{where}[{i}]")
        ]
    if isinstance(old, float) and isinstance(new, float) and ROUNDING_ONLY in where:
        return (
            []
            if math.isclose(old, new, rel_tol=ROUNDING_REL)
            else [f"{where}: {old!r} became {new!r}"]
        )
    return [] if old == new else [f"{where}: {old!r} became {new!r}"]


def test_the_check_itself_catches_a_dropped_or_changed_field() -> None:
    old = {"a": [{"x": 1.0, "y": None}], "b": "s"}
    assert missing_or_changed(old, {"a": [{"x": 1.0, "y": None, "z": 2}], "b": "s", "c": 1}) == []
    assert missing_or_changed(old, {"a": [{"x": 1.0}], "b": "s"}) == [".a[0].y: missing"]
    assert missing_or_changed(old, {"a": [{"x": 1.5, "y": None}], "b": "s"}) == [
        ".a[0].x: 1.0 became 1.5"
    ]
    assert missing_or_changed(old, {"a": [], "b": "s"})


def _compare(site: Path, snapshot: str) -> None:
    old = json.loads((SNAPSHOTS / snapshot).read_text())
    new = public_outputs(site)
    assert sorted(old) == sorted(k for k in new if k in old)  # no file of 0.1 went missing
    problems = [p for path in old for p in missing_or_changed(old[path], new[path], path)]
    assert problems == []


def test_sample_outputs_keep_every_field_and_value(sample_site: tuple[Path, BuildResult]) -> None:
    _compare(sample_site[0], "sample-0.1.json")


@pytest.mark.shared
def test_shared_outputs_keep_every_field_and_value(shared_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(BuildOptions(results=shared_results, out=out))
    _compare(out, "shared-0.1.json")
