"""A run record is held for every run of the tree: each object it is made of has slots (no
per-instance dict), and slots change nothing of how it is copied, pickled or encoded."""

from __future__ import annotations

import dataclasses
import pickle
import typing
from pathlib import Path

from reportgen.analysis.record import RunRecord
from reportgen.build import BuildResult


def _record_types(kind: object, seen: dict[type, None]) -> dict[type, None]:
    """``kind`` and every dataclass its type hints name, however deep."""
    for arg in typing.get_args(kind):
        _record_types(arg, seen)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind not in seen:
        seen[kind] = None
        for hint in typing.get_type_hints(kind).values():
            _record_types(hint, seen)
    return seen


def test_every_class_a_record_is_made_of_has_slots() -> None:
    kinds = _record_types(RunRecord, {})
    assert len(kinds) > 20  # the record, its findings, uncertainty, tails, supplement…
    assert [k.__qualname__ for k in kinds if "__slots__" not in vars(k)] == []


def _objects(value: object) -> list[object]:
    found = [value]
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            found += _objects(getattr(value, f.name))
    elif isinstance(value, tuple):
        for item in value:
            found += _objects(item)
    return found


def test_stored_records_round_trip_through_pickle_codec_and_replace(
    sample_site: tuple[Path, BuildResult],
) -> None:
    site, _ = sample_site
    stored = sorted(site.glob(".reportgen/runs/**/*~record.json"))
    assert stored
    for path in stored:
        record = RunRecord.from_bytes(path.read_bytes())
        slim = record.for_cross_run()
        for value in (record, slim):
            assert pickle.loads(pickle.dumps(value)) == value
            assert RunRecord.from_bytes(value.to_bytes()) == value
        assert not [o for o in _objects(slim) if hasattr(o, "__dict__")]
        assert dataclasses.replace(record, id="elsewhere").findings is record.findings
