"""Recognising and loading convergence pickles through the restricted unpickler (never run)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reportgen.kinds.rb_convergence.model import (
    ESTIMATORS,
    ConvergenceRow,
    ConvergenceStudy,
    EstimatorRow,
    PopulationStats,
    SkippedPart,
    TemperatureRun,
)
from reportgen.kinds.rb_convergence.recognise import KIND
from reportgen.kinds.reading import (
    Claim,
    NotRead,
    Read,
    StudyFailure,
    integer,
    not_read,
    number,
    text,
    unrecognised,
)
from reportgen.kinds.safe_pickle import PICKLE_MAX_BYTES, PickleRefused, unpickle
from reportgen.load.inputs import LoadError

ESTIMATOR_FIELDS = ("mean_est", "std_est", "expected_se", "bias", "mc_se")
POPULATION_FIELDS = ("basic_mean", "basic_std", "rb_mean", "rb_std", "correlation", "n_samples")
ROW_FIELDS = (
    "sample_size",
    "n_bootstrap",
    "var_reduction",
    *(f"{e}_{f}" for e in ESTIMATORS for f in ESTIMATOR_FIELDS),
)
RUN_FIELDS: dict[str, Any] = {
    "exp_info": None,
    "population_stats": dict.fromkeys(POPULATION_FIELDS),
    "convergence_results": None,
}


@dataclass
class _Parts:
    runs: list[TemperatureRun] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)


def load(claim: Claim, read: Read) -> ConvergenceStudy | StudyFailure:
    """Every temperature of the claim's pickles; a refused one is named with what it asked for."""
    parts = _Parts()
    refused: list[NotRead] = []
    for path in claim.files:
        try:
            data = read(path, PICKLE_MAX_BYTES)
        except LoadError as error:
            refused.append(not_read(path, error))
            continue
        result = unpickle(data)
        if isinstance(result, PickleRefused):
            refused.append(NotRead(path, result.reason, result.asked_for))
            continue
        before = len(parts.runs)
        _read_value(path, result.value, parts)
        if len(parts.runs) == before:
            refused.append(NotRead(path, "no population_stats with convergence_results"))
    if not parts.runs:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in refused)
        return StudyFailure(KIND, claim.directory, reasons, claim.files, tuple(refused))
    runs = sorted(parts.runs, key=lambda r: (r.temperature is None, r.temperature or 0.0, r.source))
    return ConvergenceStudy(
        directory=claim.directory,
        runs=tuple(runs),
        inputs=claim.files,
        not_read=tuple(refused),
        skipped=tuple(parts.skipped),
        unrecognised=tuple(dict.fromkeys(parts.unrecognised)),
    )


def _read_value(path: str, value: Any, parts: _Parts) -> None:
    if not isinstance(value, Mapping):
        parts.skipped.append(SkippedPart(path, f"holds a {type(value).__name__}, not a dict"))
    elif "population_stats" in value:
        _read_run(path, None, value, parts)
    else:  # several experiments keyed by temperature (or a name)
        for key, entry in value.items():
            if isinstance(entry, Mapping) and "population_stats" in entry:
                _read_run(path, str(key), entry, parts)
            else:
                parts.unrecognised.append(f"{path}: {key}")


def _read_run(path: str, key: str | None, value: Mapping[str, Any], parts: _Parts) -> None:
    prefix = f"{key}." if key is not None else ""
    where = f"{path}[{key}]" if key is not None else path
    parts.unrecognised += [f"{path}: {prefix}{k}" for k in unrecognised(value, RUN_FIELDS)]
    population = _population(value.get("population_stats"))
    if population is None:
        parts.skipped.append(
            SkippedPart(where, "population_stats lacks positive basic_std, rb_std or n_samples")
        )
        return
    rows = _rows(value.get("convergence_results"), where, prefix, path, parts)
    if not rows:
        parts.skipped.append(SkippedPart(where, "no convergence_results row with a sample_size"))
        return
    info = value.get("exp_info")
    info_items = list(info.items()) if isinstance(info, Mapping) else []
    temperature = _temperature(info if isinstance(info, Mapping) else {}, key)
    parts.runs.append(
        TemperatureRun(
            source=path,
            key=key,
            temperature=temperature,
            exp_info=tuple((str(k), text(v) or "") for k, v in info_items),
            population=population,
            rows=tuple(sorted(rows, key=lambda r: r.sample_size)),
        )
    )


def _temperature(info: Mapping[str, Any], key: str | None) -> float | None:
    for name in ("temperature", "temp", "T"):
        if (value := number(info.get(name))) is not None:
            return value
    try:
        return float(key) if key is not None else None
    except ValueError:
        return None


def _population(value: Any) -> PopulationStats | None:
    if not isinstance(value, Mapping):
        return None
    basic_mean, rb_mean = number(value.get("basic_mean")), number(value.get("rb_mean"))
    basic_std, rb_std = number(value.get("basic_std")), number(value.get("rb_std"))
    n = integer(value.get("n_samples"))
    if basic_mean is None or rb_mean is None or basic_std is None or rb_std is None:
        return None
    if n is None or n < 2 or basic_std <= 0 or rb_std < 0:
        return None
    return PopulationStats(
        basic_mean, basic_std, rb_mean, rb_std, number(value.get("correlation")), n
    )


def _rows(value: Any, where: str, prefix: str, path: str, parts: _Parts) -> list[ConvergenceRow]:
    items = list(value.values()) if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        return []
    rows = []
    for index, row in enumerate(items):
        n = integer(row.get("sample_size")) if isinstance(row, Mapping) else None
        if n is None or n < 1 or not isinstance(row, Mapping):
            parts.skipped.append(
                SkippedPart(where, f"convergence_results[{index}]: no sample_size")
            )
            continue
        parts.unrecognised += [
            f"{path}: {prefix}convergence_results[*].{k}"
            for k in unrecognised(row, dict.fromkeys(ROW_FIELDS))
        ]
        rows.append(
            ConvergenceRow(
                sample_size=n,
                n_bootstrap=integer(row.get("n_bootstrap")),
                basic=_estimator(row, "basic"),
                rb=_estimator(row, "rb"),
                var_reduction=number(row.get("var_reduction")),
            )
        )
    return rows


def _estimator(row: Mapping[str, Any], name: str) -> EstimatorRow:
    values = (number(row.get(f"{name}_{f}")) for f in ESTIMATOR_FIELDS)
    return EstimatorRow(*values)
