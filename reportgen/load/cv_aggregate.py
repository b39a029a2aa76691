"""``cv_runs_aggregate.{csv,json}``: a CV batch's per-run g·v with the notebook's SNR.

The files sit beside the CV runs of a batch (a group directory). Reading them is a pure
function of their bytes: the caller hands over what it read.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from reportgen.discover import GROUP_FILE_NAMES
from reportgen.load.fields import parse_json
from reportgen.load.inputs import LoadError
from reportgen.load.models import InputFile

AGGREGATE_NAMES = GROUP_FILE_NAMES  # discovery lists them in a group's directory
AGGREGATE_CSV, AGGREGATE_JSON = AGGREGATE_NAMES
ROW_NUMBERS = ("gdotv_batch", "se_batch", "se_batch_after", "VR_SE", "SNR", "SNR_after")
MATCH_RTOL = 1e-9  # a copied number: beyond float rounding, another number
SUMMARY_NUMBERS = (
    "n_runs", "mean_abs_g", "median_abs_g", "mean_se", "mean_se_after", "mean_VR_SE",
    "median_VR_SE", "mean_SNR", "mean_SNR_after",
)  # fmt: skip


@dataclass(frozen=True)
class CvAggregateRow:
    """One CV run as the aggregate lists it; ``se_batch`` is the SE of the *mean* g·v."""

    run_dir: str
    gdotv_batch: float | None
    se_batch: float | None
    se_batch_after: float | None
    snr: float | None
    snr_after: float | None
    b_total: int | None
    t_total: int | None
    features: str


@dataclass(frozen=True)
class CvAggregate:
    """The aggregate's rows (from the JSON file, else the CSV) and the JSON's batch numbers."""

    source: str
    rows: tuple[CvAggregateRow, ...]
    summary: tuple[tuple[str, float], ...]  # the JSON's batch-level numbers, by name
    problems: tuple[str, ...] = ()

    def number(self, name: str) -> float | None:
        return dict(self.summary).get(name)


@dataclass(frozen=True)
class AggregateFiles:
    """A group directory's aggregate files as read (their bytes), and those that could not be."""

    files: tuple[InputFile, ...]
    problems: tuple[str, ...] = ()  # "path: reason" of each file not read

    def named(self, name: str) -> InputFile | None:
        return next((f for f in self.files if PurePosixPath(f.path).name == name), None)


@dataclass(frozen=True)
class StatedMismatch:
    """A batch number the JSON states that its rows do not give (``None``: no rows to)."""

    name: str
    stated: float
    rows: float | None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


def _row(data: Mapping[str, Any]) -> CvAggregateRow:
    return CvAggregateRow(
        run_dir=str(data.get("run_dir") or ""),
        gdotv_batch=_float(data.get("gdotv_batch")),
        se_batch=_float(data.get("se_batch")),
        se_batch_after=_float(data.get("se_batch_after")),
        snr=_float(data.get("SNR")),
        snr_after=_float(data.get("SNR_after")),
        b_total=_int(data.get("B_total")),
        t_total=_int(data.get("T_total")),
        features=str(data.get("features") or ""),
    )


def _json_rows(file: InputFile) -> tuple[tuple[CvAggregateRow, ...], tuple[tuple[str, float], ...]]:
    data = parse_json(file.content)
    if not isinstance(data, Mapping) or not isinstance(data.get("rows"), list):
        raise LoadError("not an object with a list of rows")
    rows = tuple(_row(r) for r in data["rows"] if isinstance(r, Mapping))
    summary = tuple(
        (name, value) for name in SUMMARY_NUMBERS if (value := _float(data.get(name))) is not None
    )
    return rows, summary


def _csv_rows(file: InputFile) -> tuple[CvAggregateRow, ...]:
    reader = csv.DictReader(io.StringIO(file.content.decode("utf-8", errors="replace")))
    return tuple(_row(r) for r in reader)


def read_cv_aggregate(
    csv_file: InputFile | None, json_file: InputFile | None
) -> CvAggregate | None:
    """The batch aggregate from the bytes of its files (either may be missing); ``None`` when
    neither gives rows. The CSV, when both exist, is compared with the JSON row by row."""
    problems: list[str] = []
    rows: tuple[CvAggregateRow, ...] = ()
    summary: tuple[tuple[str, float], ...] = ()
    source = ""
    if json_file is not None:
        try:
            rows, summary = _json_rows(json_file)
            source = json_file.path
        except LoadError as exc:
            problems.append(f"{json_file.path}: {exc.reason}")
    if csv_file is not None:
        table: tuple[CvAggregateRow, ...] | None = None
        try:
            table = _csv_rows(csv_file)
        except csv.Error as exc:
            problems.append(f"{csv_file.path}: not a CSV table ({exc})")
        if table is None:
            pass
        elif not rows:
            rows, source = table, csv_file.path
        elif _differ(rows, table):
            problems.append(f"{csv_file.path} and {source} list different runs or g·v")
    if not rows:
        return None
    return CvAggregate(source, rows, summary, tuple(problems))


def _differ(a: tuple[CvAggregateRow, ...], b: tuple[CvAggregateRow, ...]) -> bool:
    if len(a) != len(b):
        return True
    return any(
        x.run_dir != y.run_dir
        or not math.isclose(x.gdotv_batch or 0.0, y.gdotv_batch or 0.0, rel_tol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def _rows_give(rows: Sequence[CvAggregateRow]) -> dict[str, float | None]:
    """The JSON's batch numbers as its rows give them (missing values left out)."""
    import statistics  # imported here: it pulls in fractions and decimal, and few trees need it

    def over(
        stat: Callable[[list[float]], float], get: Callable[[CvAggregateRow], float | None]
    ) -> float | None:
        values = [v for r in rows if (v := get(r)) is not None]
        return stat(values) if values else None

    def abs_g(row: CvAggregateRow) -> float | None:
        return None if row.gdotv_batch is None else abs(row.gdotv_batch)

    return {
        "n_runs": float(len(rows)),
        "mean_abs_g": over(statistics.fmean, abs_g),
        "median_abs_g": over(statistics.median, abs_g),
        "mean_se": over(statistics.fmean, lambda r: r.se_batch),
        "mean_se_after": over(statistics.fmean, lambda r: r.se_batch_after),
        "mean_SNR": over(statistics.fmean, lambda r: r.snr),
        "mean_SNR_after": over(statistics.fmean, lambda r: r.snr_after),
    }


def stated_mismatches(aggregate: CvAggregate) -> tuple[StatedMismatch, ...]:
    """The JSON's stated batch numbers that its rows do not give, beyond float rounding."""
    given = _rows_give(aggregate.rows)
    return tuple(
        StatedMismatch(name, stated, value)
        for name, stated in aggregate.summary
        if name in given
        and ((value := given[name]) is None or not math.isclose(stated, value, rel_tol=MATCH_RTOL))
    )


__all__ = [
    "AGGREGATE_NAMES",
    "AggregateFiles",
    "CvAggregate",
    "CvAggregateRow",
    "StatedMismatch",
    "read_cv_aggregate",
    "stated_mismatches",
]
