"""Machine-readable twins of the pages: summary.json, contributions.csv, manifest.json."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from operator import methodcaller
from typing import Any

import numpy as np
import orjson

from reportgen.analysis.contributions import EtaContributions, EtaSummary
from reportgen.analysis.group_record import GroupRecord
from reportgen.analysis.merge import RunStats
from reportgen.analysis.points import SEQUENCE_ARRAYS, SequenceEta, SequenceSample
from reportgen.analysis.populations import ParameterDiff
from reportgen.analysis.record import RunRecord, SampleShape, finding_to_json
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.codec import fields_of
from reportgen.findings import Finding
from reportgen.pages import paths
from reportgen.write import VerifiedFiles

_TO_JSON = methodcaller("to_json")
CSV_COLUMNS = ("eta", "index", "true_contrib", "linear", "quad", "linquad", "token_count", "weight")
SUMMARY_FORMAT = 1


_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_INDENT_2
    | orjson.OPT_SERIALIZE_NUMPY
    | orjson.OPT_NON_STR_KEYS
)


def dumps(data: Any) -> bytes:
    """Deterministic JSON: sorted keys, shortest round-trip floats, NaN and ±inf → null.

    orjson writes non-finite floats (numpy's too) as null itself, so the data is not copied
    first: the summary of a 10,000-run group is a few hundred MB as Python objects.
    """
    return orjson.dumps(data, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def dump_pieces(data: Any) -> tuple[bytes, ...]:
    """``dumps(data)`` in pieces that join to the same bytes, for files too large for one buffer.

    The two outer levels are laid out here and every value inside them by orjson, whose one
    buffer for a 10,000-run group summary (58 MB) would grow to about twice that. A list at
    those levels may be an iterator: it is consumed once, each item serialised and let go. A
    value there may be a ``Deferred``: it is made when it is laid out, and let go after.
    """
    return tuple(iter_pieces(data))


def iter_pieces(data: Any) -> Iterator[bytes]:
    """The pieces of ``dump_pieces(data)``, each made when it is asked for: a writer that writes
    them as they come never holds more than one."""
    yield from _lay_out(data, 0)
    yield b"\n"


@dataclass(frozen=True)
class Deferred:
    """A value of a document laid out in pieces, made only when its turn comes."""

    make: Callable[[], Any]


@dataclass(frozen=True)
class Encoded:
    """A value of a document laid out in pieces, held as its JSON as it is laid out at
    ``depth`` (``encoded``): a fraction of the memory of the objects, and written as it is."""

    json: bytes
    depth: int


def encoded(value: Any, depth: int) -> Encoded:
    """``value`` as ``iter_pieces`` lays it out at ``depth`` of a document."""
    return Encoded(orjson.dumps(value, option=_OPTIONS).replace(b"\n", _newline(depth)), depth)


def _newline(depth: int) -> bytes:
    return b"\n" + b"  " * depth  # orjson's OPT_INDENT_2 layout


def _lay_out(value: Any, depth: int) -> Iterator[bytes]:
    if isinstance(value, Deferred):
        value = value.make()
    if isinstance(value, Encoded):
        if value.depth != depth:
            raise ValueError(f"a value encoded at depth {value.depth} laid out at {depth}")
        yield value.json
        return
    newline = _newline(depth)
    items: Iterator[tuple[bytes, Any]]
    if not _in_pieces(value, depth):
        yield orjson.dumps(value, option=_OPTIONS).replace(b"\n", newline)
        return
    if isinstance(value, dict):
        items = ((orjson.dumps(k) + b": ", v) for k, v in sorted(value.items()))
        opening, closing = b"{", b"}"
    else:
        items = ((b"", v) for v in value)
        opening, closing = b"[", b"]"
    yield opening
    empty = True
    for key, item in items:
        yield (b"" if empty else b",") + newline + b"  " + key
        yield from _lay_out(item, depth + 1)
        empty = False
    yield closing if empty else newline + closing


def _in_pieces(value: Any, depth: int) -> bool:
    """Whether ``value`` is laid out here item by item rather than by orjson: at the two outer
    levels, an iterator, and a container holding a value still to be made (at any depth)."""
    if isinstance(value, Iterator):
        return True
    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) for k in value):
            return False
        children: Iterable[Any] = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        return False
    return depth < 2 or any(isinstance(v, Deferred | Encoded | Iterator) for v in children)


def eta_row(summary: EtaSummary, uncertainty: EtaUncertainty | None = None) -> dict[str, Any]:
    """One η of a run's ``summary.json``; the uncertainty fields are ``null`` when not given."""
    errors = (uncertainty or EtaUncertainty(summary.eta)).to_json()
    return errors | {
        "eta": summary.eta,
        "delta_h_true": summary.delta_h_true,
        "delta_h_linear": summary.delta_h_linear,
        "delta_h_linquad": summary.delta_h_linquad,
        "sum_true_contrib": summary.sum_true_contrib,
        "sum_linear": summary.sum_linear,
        "sum_linquad": summary.sum_linquad,
        "ess": summary.ess,
        "ess_fraction": summary.ess_fraction,
        "clip_fraction": summary.clip_fraction,
        "rel_err_linear": summary.rel_err_linear,
        "rel_err_linquad": summary.rel_err_linquad,
    }


def finding_row(finding: Finding) -> dict[str, Any]:
    """A finding as the public twins publish it: its JSON form, less the page section."""
    row = finding_to_json(finding)
    del row["section"]
    return row


def findings_rows(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [finding_row(f) for f in findings]


def summary_json(record: RunRecord) -> dict[str, Any]:
    """A run's public ``summary.json``, derived from its record (a stable format)."""
    summary: dict[str, Any] = {
        "id": record.id,
        "source": record.source,
        "status": record.status,
        "page": paths.run_page(record.id),
        "summary": paths.run_summary(record.id),
        "input_hash": record.input_hash,
        "tool_version": record.tool_version,
        "schema": record.schema,
        "etas": [eta_row(s, u) for s, u in zip(record.etas, record.eta_errors, strict=True)],
        "findings": findings_rows(record.findings),
        "verdict_linear": record.verdict_linear,
        "inputs": list(record.inputs),
    }
    if record.error is not None:
        summary["error"] = fields_of(record.error)
    if not record.was_read:
        return summary
    norm = record.normalization
    summary |= {
        "source_sha256": record.source_sha256,
        "normalization": None if norm is None else fields_of(norm),
        "batch_size": record.batch_size,
        "points": record.points.to_json(),
        "tails": [t.to_json() for t in record.tails],
        "contributions": paths.run_contributions(record.id) if record.has_contributions else None,
        "skipped_inputs": [fields_of(f) for f in record.skipped_inputs],
        "labels": dict(record.labels),
        "fields_sha256": record.fields_sha256,
    }
    if record.uncertainty is not None:
        summary["uncertainty"] = record.uncertainty.to_json()
    if record.supplement is not None:
        summary |= record.supplement.to_json()
    if record.cv is not None:
        summary["cv"] = {
            "var_after_cv_joint": record.cv.var_after_cv_joint,
            "features": [
                {
                    "name": f.name,
                    "corr": f.corr,
                    "ols_beta": f.ols_beta,
                    "var_after_cv": f.var_after_cv,
                }
                for f in record.cv.features
            ],
        }
    if record.stale is not None:
        summary["stale"] = fields_of(record.stale)
    return summary


def run_summary_file(record: RunRecord) -> tuple[str, bytes]:
    """The one place a run's ``summary.json`` is made (read, failed or stale alike)."""
    return paths.run_summary(record.id), dumps(summary_json(record))


def differs_json(diffs: Sequence[ParameterDiff]) -> list[dict[str, Any]]:
    return [
        {"key": d.key, "splits": d.splits, "values": {run: value for run, value in d.values}}
        for d in diffs
    ]


def differs_csv(diffs: Sequence[ParameterDiff]) -> bytes:
    """Every differing key as a row (``splits`` 1 where it makes the runs different
    experiments), one column per run (each run once); an empty cell: the run does not set it."""
    run_ids = [run for run, _ in diffs[0].values] if diffs else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", "splits", *run_ids])
    for d in diffs:
        values = dict(d.values)
        writer.writerow([d.key, int(d.splits), *(values.get(r) or "" for r in run_ids)])
    return out.getvalue().encode("utf-8")


def _run_entry(run: RunStats) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "batch_size": run.batch_size,
        "fit": run.fit.to_json(),
        "agreement": [a.to_json() for a in run.agreements],
        "quad_help": [q.to_json() for q in run.quads],
        "doublings": [d.to_json() for d in run.doublings],
    }


def group_summary_json(record: GroupRecord) -> dict[str, Any]:
    """A group's public ``summary.json``, derived from its record (a stable format).

    ``"runs"``, ``"tails"`` and ``"populations"`` are iterators and the other per-run parts
    ``Deferred``, for ``dump_pieces``, which makes each (each run's entry, each population) as
    it writes it and lets it go (a 10,000-run group's entries are ~30 MB as Python objects).
    Never pooled nor averaged across populations: with several (``populations_kept_apart``),
    the top-level ``per_eta``, ``relative_errors``, ``tails`` and ``cv`` are ``null`` (the fields
    stay) and ``populations`` hold the statistics to use, each with its runs' relative errors,
    tails, pooled estimates and control-variate features. ``pooled_across_populations`` is
    deprecated: it holds the same value as ``populations_kept_apart``, so ``true`` means the
    populations were *not* pooled.
    """
    kept_apart = len(record.populations) > 1
    return {
        "group": record.group_id,
        "runs": map(_run_entry, record.runs),
        "per_eta": None if kept_apart else [row.to_json() for row in record.per_eta],
        "batch_comparison": [row.to_json() for row in record.batch],
        "relative_errors": None if kept_apart else Deferred(partial(record.relative.to_json, True)),
        "tails": None if kept_apart else map(_TO_JSON, record.tails),
        "cv": None if kept_apart else [row.to_json() for row in record.cv],
        "agreement": record.tally.to_json(),
        "populations": (p.to_json(lazy=True) for p in record.populations),
        "pooled_across_populations": kept_apart,  # deprecated, misnamed: kept for its readers
        "populations_kept_apart": kept_apart,
        "what_differs": Deferred(partial(differs_json, record.differs)),
        "what_differs_more": record.differs_more,
        "duplicates": [list(d.run_ids) for d in record.duplicates],
        "findings": findings_rows(record.findings),
        "fit_window": None if record.fit_window is None else asdict(record.fit_window),
        "cv_batch": None if record.cv_batch is None else record.cv_batch.analysis.to_json(),
    }


def group_summary_file(record: GroupRecord) -> tuple[str, tuple[bytes, ...]]:
    """The one place a group's ``summary.json`` is made from its statistics."""
    return paths.group_summary(record.group_id), tuple(group_summary_pieces(record))


def group_summary_pieces(record: GroupRecord) -> Iterator[bytes]:
    """The bytes of a group's ``summary.json`` (at ``paths.group_summary``), piece by piece as
    they are made: each run's entry is made, serialised and let go in turn."""
    return iter_pieces(group_summary_json(record))


def group_error_file(group_id: str, reason: str) -> tuple[str, bytes]:
    """The ``summary.json`` of a group whose statistics failed: the reason, no numbers."""
    summary = {
        "group": group_id,
        "error": reason,
        "runs": [],
        "per_eta": [],
        "batch_comparison": [],
    }
    return paths.group_summary(group_id), dumps(summary)


def _csv_cells(values: np.ndarray, integer: bool = False) -> list[str]:
    """Shortest round-trip text per value (orjson); NaN as empty; counts without ".0"."""
    if integer and values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
        if np.all(whole):
            values = values.astype(np.int64)
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1]
    # NaN and ±inf are written "null", which no number's text contains
    return text.replace("null", "").split(",") if text else []


def contributions_csv(contributions: Sequence[EtaContributions]) -> bytes:
    """One row per (η, sequence); empty cells where a value does not exist."""
    lines = [",".join(CSV_COLUMNS)]
    for c in contributions:
        n = c.true_contrib.shape[0]
        missing = np.full(n, np.nan)
        columns = [
            np.full(1, c.eta),  # one η for every row: its text is made once
            np.arange(n),
            c.true_contrib,
            c.linear if c.linear is not None else missing,
            c.quad if c.quad is not None else missing,
            c.linquad if c.linquad is not None else missing,
            c.token_count,
            c.weight,
        ]
        cells = [
            _csv_cells(np.asarray(col), name in ("index", "token_count"))
            for name, col in zip(CSV_COLUMNS, columns, strict=True)
        ]
        cells[0] = cells[0] * n
        lines.extend(map(",".join, zip(*cells, strict=True)))
    return ("\n".join(lines) + "\n").encode()


def manifest_run(r: RunRecord) -> dict[str, Any]:
    """A run's entry of the manifest: its files, schema, status and verdict."""
    return (
        {
            "id": r.id,
            "source": r.source,
            "schema": r.schema,
            "status": r.status,
            "page": paths.run_page(r.id),
            "summary": paths.run_summary(r.id),
            "verdict_linear": r.verdict_linear,
            "inputs": list(r.inputs),
        }
        | ({"stale": True} if r.stale else {})
        | ({"error": fields_of(r.error)} if r.error else {})  # what failed, a hint
    )


MANIFEST_RUN_DEPTH = 2  # the document, its "runs" list, a run's entry


def manifest(
    runs: Iterable[Encoded],
    groups: Iterable[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> tuple[bytes, ...]:
    """Every run (its ``manifest_run`` entry, with the files it read, ``encoded`` at
    ``MANIFEST_RUN_DEPTH``) and group; ``extra`` adds the studies' lists. In pieces: the runs'
    entries are written as they are held."""
    return dump_pieces(
        {
            "format": SUMMARY_FORMAT,
            "runs": list(runs),
            "groups": [
                {k: g[k] for k in ("id", "page", "summary", "inputs") if k in g} for g in groups
            ],
        }
        | dict(extra or {})
    )


def sample_npy(sample: SequenceSample) -> bytes:
    """A run's per-sequence arrays as one float64 .npy: per η [η, ΔH_true, *arrays]; no pickles."""
    n = sample.batch_size
    missing = np.full(n, np.nan)
    rows = [
        np.concatenate(
            [
                [d.eta, d.delta_h_true],
                *(
                    a if (a := getattr(d, name)) is not None else missing
                    for name in SEQUENCE_ARRAYS
                ),
            ]
        )
        for d in sample.etas
    ]
    buffer = io.BytesIO()
    np.save(buffer, np.vstack(rows), allow_pickle=False)
    return buffer.getvalue()


def sample_from_npy(content: bytes, run_id: str) -> SequenceSample | None:
    try:
        table = np.load(io.BytesIO(content), allow_pickle=False)
    except (ValueError, OSError):
        return None
    if table.ndim != 2 or (table.shape[1] - 2) % len(SEQUENCE_ARRAYS):
        return None
    n = (table.shape[1] - 2) // len(SEQUENCE_ARRAYS)
    return SequenceSample(run_id, n, tuple(_sequence_eta(row, n) for row in table))


def _sequence_eta(row: np.ndarray, n: int) -> SequenceEta:
    """One η's row of a sample table: [η, ΔH_true, *arrays]; an all-NaN array is absent."""
    arrays = {name: row[2 + i * n : 2 + (i + 1) * n] for i, name in enumerate(SEQUENCE_ARRAYS)}
    optional = {k: (v if np.isfinite(v).any() else None) for k, v in arrays.items()}
    return SequenceEta(
        eta=float(row[0]),
        delta_h_true=float(row[1]),
        linear=arrays["linear"],
        true_contrib=arrays["true_contrib"],
        weighted_h_new=optional["weighted_h_new"],
        weighted_units=optional["weighted_units"],
        h_base=optional["h_base"],
        units=optional["units"],
        linear_units=optional["linear_units"],
    )


@dataclass(frozen=True)
class StoredSample:
    """A run's sample as the build keeps it (``paths.run_sample``): its shape from the run's
    record, its arrays read, and checked against their digest, only when drawn from. A larger
    run whose draws are memoised is never read: its digest names the draws."""

    run_id: str
    batch_size: int
    eta_values: tuple[float, ...]
    digest: str  # sha256 of the stored .npy, as the status keeps it
    files: VerifiedFiles

    def load(self) -> SequenceSample | None:
        """The arrays, if the stored file is the one its digest names and has this shape."""
        content = self.files.read(paths.run_sample(self.run_id))
        sample = None if content is None else sample_from_npy(content, self.run_id)
        if sample is None or sample.batch_size != self.batch_size:
            return None
        return sample if sample.eta_values == self.eta_values else None

    def at(self, eta: float) -> SequenceEta | None:
        sample = self.load()
        return None if sample is None else sample.at(eta)

    def content_digest(self) -> str:
        return hashlib.sha256(f"sample {self.digest} {self.run_id}".encode()).hexdigest()


def stored_sample(
    run_id: str, shape: SampleShape | None, files: VerifiedFiles
) -> StoredSample | None:
    """The sample the build stored for a run, if its record says it has one."""
    digest = files.digests.get(paths.run_sample(run_id))
    if shape is None or digest is None:
        return None
    return StoredSample(run_id, shape.size, shape.etas, digest, files)
