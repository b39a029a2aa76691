"""``RunRecord``: everything the later stages need of one run, typed, cached, versioned.

A run is loaded and analysed once; what the group, index, diagnostics and changes pages need of
it is this record, built here from the run's analysis (``run_record``). The build keeps it as
the run's private ``record.json`` (``to_bytes``/``from_bytes``; the status file holds its
sha256), and the public ``summary.json`` is derived from it (``serialize.summary_json``), never
the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar, cast

from reportgen import __version__
from reportgen.analysis import RunAnalysis
from reportgen.analysis.contributions import EtaSummary, formula_for
from reportgen.analysis.diagnostics import failure_findings
from reportgen.analysis.points import RunPoints
from reportgen.analysis.populations import PopulationMember
from reportgen.analysis.supplement import RunSupplement
from reportgen.analysis.tails import TailSensitivity
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.codec import decode_versioned, encode
from reportgen.findings import SEVERITIES, Finding, SkippedInput
from reportgen.load.models import CvData, CvFeature, LoadFailure, Schema

# 3: fields, digests, labels, ratios, verdicts; 4: encoded field by field and type-checked, the
# sample's shape
# 6: bootstrap counts drawn per (seed, n, resamples), no longer per run; 7: truncated tails sum
# the centred contributions; 8: a CV run's batch numbers
RECORD_FORMAT = 8
Status = Literal["ok", "error"]


@dataclass(frozen=True, slots=True)
class NormalizationRecord:
    """Which ΔH normalisation the run used, where the setting came from, and the formula."""

    true: str
    approx: str
    source: str
    formula: str | None


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """Why a run could not be read (file, position and a hint for the fix)."""

    reason: str
    file: str
    line: int | None = None
    column: int | None = None
    hint: str = ""


@dataclass(frozen=True, slots=True)
class StaleRecord:
    """Unreadable tonight: the record (and pages) of the last good read stand in."""

    reason: str
    last_good: str


@dataclass(frozen=True, slots=True)
class CvRecord:
    """A control-variate run's feature statistics, as the group pages compare them, and its
    batch numbers, which its group's CV batch aggregate is checked against."""

    var_after_cv_joint: float | None
    features: tuple[CvFeature, ...]
    gdotv_batch: float | None = None
    se_batch: float | None = None
    se_batch_after_cv_joint: float | None = None
    n_seqs: int | None = None


@dataclass(frozen=True, slots=True)
class SampleShape:
    """The run's per-sequence sample (a private file of the build): its sequences and η values,
    so a group plans its batch-size comparison without reading the arrays."""

    size: int
    etas: tuple[float, ...]


@dataclass(frozen=True, slots=True)
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
    sample: SampleShape | None = None
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
            supplement=_cv_only(self.supplement),  # the rest: its own page and summary only
        )

    @property
    def invalid_cv_features(self) -> tuple[tuple[str, str], ...]:
        """(feature, validity) of the features that are not valid control variates."""
        ranking = None if self.supplement is None else self.supplement.cv
        features = () if ranking is None else ranking.features
        return tuple((f.name, f.validity) for f in features if not f.valid)

    def to_bytes(self) -> bytes:
        """Canonical JSON: its sha256 is the record's digest."""
        return encode({"format": RECORD_FORMAT, "record": self})

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRecord:
        """Inverse of ``to_bytes``; ``RecordError`` (a ``ValueError``) for anything else, a field
        of the wrong type included."""
        return decode_versioned(RunRecord, RECORD_FORMAT, data)


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    """Inverse of ``finding_to_json`` (also of the public twins' findings, without a section);
    ``ValueError`` for an unknown severity."""
    severity = data["severity"]
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r}")
    eta = data.get("eta")
    etas = data.get("etas") or ([eta] if eta is not None else [])
    return Finding(
        str(data["id"]),
        severity,
        str(data["message"]),
        None if eta is None else float(eta),
        str(data.get("section", "")),
        tuple(float(e) for e in etas),
    )


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """A finding as plain JSON (the public twins leave out its page ``section``)."""
    return {
        "id": finding.id,
        "severity": finding.severity,
        "message": finding.message,
        "eta": finding.eta,
        "section": finding.section,
        "etas": list(finding.etas),
    }


def _cv_only(supplement: RunSupplement | None) -> RunSupplement | None:
    """What a group reads of a run's optional blocks: its CV features' validity."""
    return None if supplement is None or supplement.cv is None else RunSupplement(cv=supplement.cv)


_SharedValue = TypeVar("_SharedValue", bound=Hashable)


@functools.lru_cache(maxsize=1 << 16)
def _shared_value(value: Hashable) -> Hashable:
    return value


def _shared(value: _SharedValue) -> _SharedValue:
    """The first-seen object equal to ``value`` (bounded): repeated values are held once."""
    return cast(_SharedValue, _shared_value(value))


def cv_record(cv: CvData) -> CvRecord:
    return CvRecord(
        cv.var_after_cv_joint,
        cv.features,
        cv.gdotv_batch,
        cv.se_batch,
        cv.se_batch_after_cv_joint,
        cv.n_seqs,
    )


def run_record(
    analysis: RunAnalysis, input_hash: str, labels: tuple[tuple[str, str], ...] = ()
) -> RunRecord:
    """What every later stage needs of this run (its ``summary.json`` is derived from it)."""
    run = analysis.run
    norm = run.normalization
    cv = run.cv
    sample = analysis.sample
    return RunRecord(
        id=run.ref.id,
        source=run.ref.source,
        inputs=run.ref.inputs,
        status="ok",
        input_hash=input_hash,
        tool_version=__version__,
        findings=analysis.findings,
        schema=run.schema.value,
        source_sha256=run.inputs.source_sha256,
        normalization=NormalizationRecord(
            true=norm.true_mode,
            approx=norm.approx_mode,
            source=norm.source,
            formula=formula_for(norm) if run.schema is Schema.SNIS else None,
        ),
        batch_size=analysis.points.batch_size,
        etas=analysis.summaries,
        se_shard=analysis.points.se_shard,
        true_se=analysis.points.true_se,
        tails=tuple(analysis.tails),
        cv=None if cv is None else cv_record(cv),
        has_contributions=bool(analysis.contributions),
        parameters=run.parameters,
        skipped_inputs=run.inputs.skipped,
        uncertainty=analysis.uncertainty,
        fields_sha256=run.fields.sha256 if run.fields is not None else None,
        fields=run.fields.paths if run.fields is not None else (),
        parameter_digests=run.parameter_digests,
        labels=labels,
        supplement=analysis.supplement,
        sample=None if sample is None else SampleShape(sample.batch_size, sample.eta_values),
    )


def failure_record(failure: LoadFailure, input_hash: str) -> RunRecord:
    """A run that could not be read: why, where, and the findings that say so."""
    error = ErrorRecord(failure.reason, failure.file, failure.line, failure.column, failure.hint)
    return RunRecord(
        id=failure.ref.id,
        source=failure.ref.source,
        inputs=failure.ref.inputs,
        status="error",
        input_hash=input_hash,
        tool_version=__version__,
        findings=failure_findings(failure),
        error=error,
    )
