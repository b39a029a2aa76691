"""``RunRecord``: everything the later stages need of one run, typed, cached, versioned.

A run is loaded and analysed once; what the group, index, diagnostics and changes pages need of
it is this record. The build keeps it as the run's private ``record.json`` (``to_bytes``/
``from_bytes``; the status file holds its sha256), and the public
``summary.json`` is derived from it (``serialize.summary_json``), never the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar, cast

import orjson

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.points import RunPoints, summary_from_json, summary_to_json
from reportgen.analysis.populations import PopulationMember
from reportgen.analysis.stats import num
from reportgen.analysis.supplement import RunSupplement
from reportgen.analysis.tails import TailSensitivity
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.findings import Finding, Severity, SkippedInput
from reportgen.load.models import CvFeature

# 2: uncertainty gains se_quad and doublings; 3: fields, digests, labels, ratios, verdicts
RECORD_FORMAT = 3
Status = Literal["ok", "error"]


@dataclass(frozen=True)
class NormalizationRecord:
    """Which ΔH normalisation the run used, where the setting came from, and the formula."""

    true: str
    approx: str
    source: str
    formula: str | None


@dataclass(frozen=True)
class ErrorRecord:
    """Why a run could not be read (file, position and a hint for the fix)."""

    reason: str
    file: str
    line: int | None = None
    column: int | None = None
    hint: str = ""


@dataclass(frozen=True)
class StaleRecord:
    """Unreadable tonight: the record (and pages) of the last good read stand in."""

    reason: str
    last_good: str


@dataclass(frozen=True)
class CvRecord:
    """A control-variate run's feature statistics, as the group pages compare them."""

    var_after_cv_joint: float | None
    features: tuple[CvFeature, ...]


@dataclass(frozen=True)
class RunRecord:
    """One run as every stage after its own page sees it; ``schema`` is ``None`` for a run that
    was never read successfully (then only identity, ``error`` and ``findings`` are set)."""

    id: str
    source: str
    status: Status
    input_hash: str
    tool_version: str
    findings: tuple[Finding, ...]
    schema: str | None = None
    source_sha256: str | None = None
    normalization: NormalizationRecord | None = None
    batch_size: int | None = None
    etas: tuple[EtaSummary, ...] = ()
    se_shard: float | None = None
    true_se: tuple[tuple[float, float], ...] = ()
    tails: tuple[TailSensitivity, ...] = ()
    cv: CvRecord | None = None
    has_contributions: bool = False
    parameters: tuple[tuple[str, str], ...] = ()  # config.* and plan.* leaves, JSON values
    skipped_inputs: tuple[SkippedInput, ...] = ()  # files of the run not shown, and why
    error: ErrorRecord | None = None
    stale: StaleRecord | None = None
    uncertainty: RunUncertainty | None = None  # per-η rows aligned with ``etas``
    fields_sha256: str | None = None  # the results file's field fingerprint
    fields: tuple[str, ...] = ()  # its key paths (the first 2,000), to name differences
    parameter_digests: tuple[tuple[str, str], ...] = ()  # every config/plan leaf's digest
    labels: tuple[tuple[str, str], ...] = ()  # declared for this run in the tree file
    supplement: RunSupplement | None = None  # the optional blocks' analyses (summary.json)
    inputs: tuple[str, ...] = ()  # every tree file the run's page reads (the inventory)

    @property
    def eta_errors(self) -> tuple[EtaUncertainty | None, ...]:
        """The uncertainty of each η of ``etas`` (``None`` where there is none)."""
        rows = self.uncertainty.etas if self.uncertainty is not None else ()
        if len(rows) != len(self.etas):
            return (None,) * len(self.etas)
        return tuple(rows)

    @property
    def verdict_linear(self) -> str | None:
        """The run-level verdict of the linear approximation (``None``: not judged)."""
        return self.uncertainty.verdict_linear if self.uncertainty is not None else None

    @property
    def member(self) -> PopulationMember:
        """What deciding this run's population needs of it."""
        norm = self.normalization
        return PopulationMember(
            id=self.id,
            schema=self.schema or "unreadable",
            fields_sha256=self.fields_sha256,
            fields=self.fields,
            batch_size=self.batch_size,
            normalization=f"{norm.true}/{norm.approx}" if norm is not None else None,
            labels=self.labels,
            parameter_digests=self.parameter_digests,
            parameter_values=self.parameters,
            source_sha256=self.source_sha256,
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def was_read(self) -> bool:
        """Its numbers come from a good read (tonight's, or the last one standing in as stale)."""
        return self.schema is not None

    @property
    def points(self) -> RunPoints:
        """What the cross-run statistics take of this run."""
        return RunPoints(self.id, self.batch_size, self.etas, self.se_shard, self.true_se)

    def as_stale(self, tonight: RunRecord, last_good: str) -> RunRecord:
        """This (good) record standing in for ``tonight``'s failed read."""
        reason = tonight.error.reason if tonight.error is not None else "unreadable"
        kept = tuple(f for f in self.findings if f.id != "parse-error")
        return replace(
            self,
            status="error",
            stale=StaleRecord(reason, last_good),
            error=tonight.error,
            findings=tonight.findings + kept,
        )

    def for_cross_run(self) -> RunRecord:
        """What the group and site pages need of this run, held for every run of the tree.

        The group pages compare tail sensitivity at each run's largest η only, so the other
        η's tail tables (half of a small run's record) are dropped. Parameter pairs, SE method
        labels and the normalisation repeat across runs and are shared (17.3 → 11.4 KB a
        slim record; ~60 MB at 10,000 runs).
        """
        largest = max((t.eta for t in self.tails), default=None)
        uncertainty = self.uncertainty
        if uncertainty is not None:
            etas = tuple(replace(u, se_method=_shared(u.se_method)) for u in uncertainty.etas)
            uncertainty = replace(uncertainty, etas=etas)
        return replace(
            self,
            tails=tuple(t for t in self.tails if t.eta == largest),
            parameters=tuple(_shared((k, v)) for k, v in self.parameters),
            parameter_digests=tuple(_shared((k, v)) for k, v in self.parameter_digests),
            fields=_shared(self.fields),
            normalization=_shared(self.normalization),
            uncertainty=uncertainty,
            supplement=None,  # its own page and summary.json only
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys): its sha256 is the record's digest."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRecord:
        """Inverse of ``to_bytes``; raises ``ValueError`` for anything but a current record."""
        try:
            return cls.from_json(orjson.loads(data))
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"malformed run record: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "id": self.id,
            "source": self.source,
            "status": self.status,
            "input_hash": self.input_hash,
            "tool_version": self.tool_version,
            "findings": [finding_to_json(f) for f in self.findings],
            "schema": self.schema,
            "source_sha256": self.source_sha256,
            "normalization": _plain(self.normalization),
            "batch_size": self.batch_size,
            "etas": [summary_to_json(s) for s in self.etas],
            "se_shard": num(self.se_shard),
            "true_se": [[eta, se] for eta, se in self.true_se],
            "tails": [t.to_json() for t in self.tails],
            "cv": None
            if self.cv is None
            else {
                "var_after_cv_joint": self.cv.var_after_cv_joint,
                "features": [_plain(f) for f in self.cv.features],
            },
            "has_contributions": self.has_contributions,
            "parameters": [list(p) for p in self.parameters],
            "skipped_inputs": [_plain(f) for f in self.skipped_inputs],
            "error": _plain(self.error),
            "stale": _plain(self.stale),
            "uncertainty": None if self.uncertainty is None else self.uncertainty.to_record(),
            "fields_sha256": self.fields_sha256,
            "fields": list(self.fields),
            "parameter_digests": [list(p) for p in self.parameter_digests],
            "labels": [list(p) for p in self.labels],
            "supplement": None if self.supplement is None else self.supplement.to_json(),
            "inputs": list(self.inputs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Inverse of ``to_json``; raises ``ValueError`` on another format (a cache miss)."""
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"run record format {data.get('format')!r}")
        cv = data["cv"]
        return cls(
            id=str(data["id"]),
            source=str(data["source"]),
            status="ok" if data["status"] == "ok" else "error",
            input_hash=str(data["input_hash"]),
            tool_version=str(data["tool_version"]),
            findings=tuple(finding_from_json(f) for f in data["findings"]),
            schema=None if data["schema"] is None else str(data["schema"]),
            source_sha256=data["source_sha256"],
            normalization=_maybe(NormalizationRecord, data["normalization"]),
            batch_size=data["batch_size"],
            etas=tuple(summary_from_json(s) for s in data["etas"]),
            se_shard=num(data["se_shard"]),
            true_se=tuple((float(eta), float(se)) for eta, se in data["true_se"]),
            tails=tuple(TailSensitivity.from_json(t) for t in data["tails"]),
            cv=None
            if cv is None
            else CvRecord(
                num(cv["var_after_cv_joint"]), tuple(CvFeature(**f) for f in cv["features"])
            ),
            has_contributions=bool(data["has_contributions"]),
            parameters=tuple((str(k), str(v)) for k, v in data["parameters"]),
            skipped_inputs=tuple(SkippedInput(**f) for f in data.get("skipped_inputs", ())),
            error=_maybe(ErrorRecord, data["error"]),
            stale=_maybe(StaleRecord, data["stale"]),
            uncertainty=None
            if data.get("uncertainty") is None
            else RunUncertainty.from_record(data["uncertainty"]),
            fields_sha256=data["fields_sha256"],
            fields=tuple(str(p) for p in data["fields"]),
            parameter_digests=tuple((str(k), str(v)) for k, v in data["parameter_digests"]),
            labels=tuple((str(k), str(v)) for k, v in data["labels"]),
            supplement=None
            if data.get("supplement") is None
            else RunSupplement.from_json(data["supplement"]),
            inputs=tuple(str(p) for p in data.get("inputs", ())),
        )


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "severity": finding.severity,
        "message": finding.message,
        "eta": finding.eta,
        "section": finding.section,
        "etas": list(finding.etas),
    }


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    severity: Severity = data["severity"]
    eta = data.get("eta")
    etas = data.get("etas") or ([eta] if eta is not None else [])
    return Finding(
        str(data["id"]),
        severity,
        str(data["message"]),
        eta,
        data.get("section", ""),
        tuple(float(e) for e in etas),
    )


_SharedValue = TypeVar("_SharedValue", bound=Hashable)


@functools.lru_cache(maxsize=1 << 16)
def _shared_value(value: Hashable) -> Hashable:
    return value


def _shared(value: _SharedValue) -> _SharedValue:
    """The first-seen object equal to ``value`` (bounded): repeated values are held once."""
    return cast(_SharedValue, _shared_value(value))


def _plain(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value.__dict__)


def _maybe(kind: Any, data: Mapping[str, Any] | None) -> Any:
    return None if data is None else kind(**data)
