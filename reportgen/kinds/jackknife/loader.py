"""Recognising and loading jackknife-vs-batch-size files (one JSON object each, or JSON Lines)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reportgen.kinds.jackknife.model import (
    Distribution,
    JackknifePoint,
    JackknifeStudy,
    Setting,
    SkippedPart,
)
from reportgen.kinds.jackknife.recognise import KIND
from reportgen.kinds.reading import (
    Claim,
    FormatError,
    NotRead,
    Read,
    StudyFailure,
    integer,
    json_objects,
    not_read,
    number,
    text,
    unrecognised,
)
from reportgen.load.inputs import LoadError

_QUANTILE = re.compile(r"q(\d{2,3})")
HEADER_FIELDS: dict[str, Any] = dict.fromkeys(
    ("experiment_type", "dataset", "split", "checkpoint", "generation_config", "summary")
)
DISTRIBUTION_FIELDS = ("count", "mean", "std", "min", "max")
POINT_FIELDS: dict[str, Any] = dict.fromkeys(
    (
        "B",
        "G",
        "seed",
        "estimate_mean_per_seq_entropy",
        "variance_estimate",
        "std_dev_estimate",
        "per_prompt_means",
        "distribution_analysis",
    )
)


@dataclass
class _FileParts:
    points: list[JackknifePoint] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)
    summaries: list[tuple[str, str]] = field(default_factory=list)


def load(claim: Claim, read: Read) -> JackknifeStudy | StudyFailure:
    """Every point of the claim's files; a file that cannot be used is named, not fatal."""
    parts = _FileParts()
    refused: list[NotRead] = []
    for path in claim.files:
        try:
            objects = json_objects(read(path))
        except LoadError as error:
            refused.append(not_read(path, error))
            continue
        except FormatError as error:
            refused.append(NotRead(path, error.reason))
            continue
        before = len(parts.points)
        for line, obj in objects:
            _read_object(path, line, obj, parts)
        if len(parts.points) == before:
            refused.append(NotRead(path, "no experiment with B and an estimate"))
    parts.unrecognised = list(dict.fromkeys(parts.unrecognised))  # once per file and path
    if not parts.points:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in refused)
        return StudyFailure(KIND, claim.directory, reasons, claim.files, tuple(refused))
    return JackknifeStudy(
        directory=claim.directory,
        points=tuple(parts.points),
        summaries=tuple(parts.summaries),
        inputs=claim.files,
        not_read=tuple(refused),
        skipped=tuple(parts.skipped),
        unrecognised=tuple(parts.unrecognised),
    )


@dataclass(frozen=True)
class _Origin:
    path: str
    line: int  # of the object: JSON Lines hold one per line

    @property
    def where(self) -> str:
        return self.path if self.line == 1 else f"{self.path}:{self.line}"


def _read_object(path: str, line: int, obj: Mapping[str, Any], parts: _FileParts) -> None:
    origin = _Origin(path, line)
    where = origin.where
    setting = _setting(obj)
    if obj.get("summary") is not None:
        parts.summaries.append((where, text(obj["summary"]) or ""))
    experiments = obj.get("experiments")
    if isinstance(experiments, list):
        parts.unrecognised += [f"{path}: {k}" for k in unrecognised(obj, _with_experiments())]
        for index, experiment in enumerate(experiments):
            prefix = "experiments[*]."
            if not isinstance(experiment, Mapping):
                parts.skipped.append(SkippedPart(where, f"experiments[{index}] is not an object"))
                continue
            _read_point(origin, index, setting, experiment, prefix, parts)
    elif "B" in obj:  # the flat variant: one experiment beside the header
        _read_point(origin, 0, setting, obj, "", parts, flat=True)
    else:
        parts.skipped.append(SkippedPart(where, "neither experiments[] nor a flat experiment (B)"))


def _with_experiments() -> dict[str, Any]:
    return {**HEADER_FIELDS, "experiments": None}


def _setting(obj: Mapping[str, Any]) -> Setting:
    generation = obj.get("generation_config")
    config = dict(generation) if isinstance(generation, Mapping) else {}
    temperature = number(config.pop("temperature", None))
    return Setting(
        experiment_type=text(obj.get("experiment_type")),
        dataset=text(obj.get("dataset")),
        split=text(obj.get("split")),
        checkpoint=text(obj.get("checkpoint")),
        temperature=temperature,
        generation=text(config) if config else None,
    )


def _read_point(
    origin: _Origin,
    index: int,
    setting: Setting,
    obj: Mapping[str, Any],
    prefix: str,
    parts: _FileParts,
    flat: bool = False,
) -> None:
    where = origin.where
    known = {**HEADER_FIELDS, **POINT_FIELDS} if flat else POINT_FIELDS
    parts.unrecognised += [f"{origin.path}: {prefix}{k}" for k in unrecognised(obj, known)]
    batch = integer(obj.get("B"))
    estimate = number(obj.get("estimate_mean_per_seq_entropy"))
    if batch is None or batch < 1 or estimate is None:
        parts.skipped.append(
            SkippedPart(where, f"{_item(prefix, index)} has no positive B or no finite estimate")
        )
        return
    means = _per_prompt_means(obj.get("per_prompt_means"), where, _item(prefix, index), parts)
    distribution = _distribution(obj.get("distribution_analysis"), origin.path, prefix, parts)
    parts.points.append(
        JackknifePoint(
            source=origin.path,
            index=index,
            line=origin.line,
            setting=setting,
            batch=batch,
            generations=integer(obj.get("G")),
            seed=integer(obj.get("seed")),
            estimate=estimate,
            variance=number(obj.get("variance_estimate")),
            se=number(obj.get("std_dev_estimate")),
            per_prompt_means=means,
            distribution=distribution,
        )
    )


def _item(prefix: str, index: int) -> str:
    return f"experiments[{index}]" if prefix else "the flat experiment"


def _per_prompt_means(value: Any, where: str, item: str, parts: _FileParts) -> np.ndarray | None:
    if value is None:
        return None
    values = [number(v) for v in value] if isinstance(value, list) else [None]
    if not values or any(v is None for v in values):
        parts.skipped.append(
            SkippedPart(where, f"{item}: per_prompt_means is not a list of finite numbers")
        )
        return None
    return np.asarray(values, dtype=np.float64)


def _distribution(value: Any, where: str, prefix: str, parts: _FileParts) -> Distribution | None:
    if not isinstance(value, Mapping):
        return None
    quantiles: list[tuple[float, float]] = []
    for key, raw in value.items():
        matched = _QUANTILE.fullmatch(str(key))
        if matched is not None and (v := number(raw)) is not None:
            digits = matched.group(1)
            quantiles.append((int(digits) / 10 ** len(digits), v))
        elif key not in DISTRIBUTION_FIELDS:
            parts.unrecognised.append(f"{where}: {prefix}distribution_analysis.{key}")
    return Distribution(
        count=integer(value.get("count")),
        mean=number(value.get("mean")),
        std=number(value.get("std")),
        minimum=number(value.get("min")),
        maximum=number(value.get("max")),
        quantiles=tuple(sorted(quantiles)),
    )
