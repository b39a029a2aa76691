"""Tolerant parsing of a run's files into frozen dataclasses, one loader per schema generation.

Every problem becomes a ``LoadFailure`` or a recorded problem on the ``Run``, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reportgen.discover import RunRef
from reportgen.findings import SkippedInput
from reportgen.load.config import resolve_normalization
from reportgen.load.cv import CV_FIELDS, cv_setting_facts, load_cv
from reportgen.load.fields import FIELD_HINT, GENERIC_MAX_FIELDS, Fields, parse_json, type_name
from reportgen.load.fingerprint import field_paths, paths_fingerprint
from reportgen.load.generic import generic_fields
from reportgen.load.inputs import (
    DEFAULT_MAX_BYTES,
    LoadError,
    embeddable,
    read_bytes,
    read_config,
    read_inputs,
)
from reportgen.load.inventory import KnownFields, field_inventory
from reportgen.load.models import (
    CvData,
    DroppedValue,
    Fact,
    InputFiles,
    LoadFailure,
    Normalization,
    Run,
    Schema,
)
from reportgen.load.parameters import run_parameters
from reportgen.load.snis import SNIS_FIELDS, detect_schema, load_snis, snis_config_facts, snis_facts
from reportgen.load.sweep import SWEEP_FIELDS, load_sweep, timing_facts

KNOWN_FIELDS: dict[Schema, KnownFields] = {
    Schema.SNIS: SNIS_FIELDS,
    Schema.SWEEP: SWEEP_FIELDS,
    Schema.CV: CV_FIELDS,
}  # a generic page shows every field
T = TypeVar("T")

# --- the loader ------------------------------------------------------------------------------

# A schema's own part of a run: its block (``snis``, ``sweep``, ``cv`` or ``generic``) from the
# results object, the run's input files and the list that collects dropped values.
BlockLoader = Callable[[Fields, InputFiles, list[DroppedValue]], dict[str, Any]]


def snis_blocks(fields: Fields, inputs: InputFiles, dropped: list[DroppedValue]) -> dict[str, Any]:
    return {"snis": load_snis(fields, dropped)}


def sweep_blocks(fields: Fields, inputs: InputFiles, dropped: list[DroppedValue]) -> dict[str, Any]:
    return {"sweep": load_sweep(fields, dropped)}


def cv_blocks(fields: Fields, inputs: InputFiles, dropped: list[DroppedValue]) -> dict[str, Any]:
    return {"cv": load_cv(fields, inputs.artifacts)}


def generic_blocks(
    fields: Fields, inputs: InputFiles, dropped: list[DroppedValue]
) -> dict[str, Any]:
    return {"generic": tuple(generic_fields(fields.data))[:GENERIC_MAX_FIELDS]}


SCHEMA_BLOCKS: dict[Schema, BlockLoader] = {
    Schema.SNIS: snis_blocks,
    Schema.SWEEP: sweep_blocks,
    Schema.CV: cv_blocks,
    Schema.GENERIC: generic_blocks,
}


def _guarded(ref: RunRef, attempt: Callable[[], T]) -> T | LoadFailure:
    """``attempt()``, or the :class:`LoadFailure` its problem makes (never an exception)."""
    try:
        return attempt()
    except LoadError as exc:
        hint = exc.hint or FIELD_HINT
        return LoadFailure(ref, exc.reason, ref.source, exc.line, exc.column, hint)
    except Exception as exc:  # a loader bug must still cost one run, not the build
        reason = f"unreadable content: {type(exc).__name__}: {exc}"[:300]
        return LoadFailure(ref, reason, ref.source, hint=FIELD_HINT)


@dataclass(frozen=True)
class ResultsFile:
    """A run's results file: its bytes and the JSON object they hold (its schema's evidence)."""

    source: bytes
    data: Mapping[str, Any]

    @property
    def schema(self) -> Schema:
        return detect_schema(self.data)


def read_results(
    ref: RunRef, root: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> ResultsFile | LoadFailure:
    """The run's results file read and parsed, or why it could not be."""
    return _guarded(ref, lambda: _read_results(ref, root, max_bytes))


def _read_results(ref: RunRef, root: Path, max_bytes: int) -> ResultsFile:
    source = read_bytes(root, ref.source, ref.vetted_files(), max_bytes)
    data = parse_json(source)
    if not isinstance(data, Mapping):
        raise LoadError(
            f"top level is {type_name(data)}, not an object",
            hint="A results file holds one JSON object.",
        )
    return ResultsFile(source, data)


def load_results(
    ref: RunRef,
    root: Path,
    max_bytes: int,
    results: ResultsFile,
    schema: Schema,
    blocks: BlockLoader,
) -> Run | LoadFailure:
    """The run of ``results`` (read by :func:`read_results`) as ``schema``, its own block
    loaded by ``blocks``, with its config, plan and input files."""
    return _guarded(ref, lambda: _load_run(ref, root, max_bytes, results, schema, blocks))


def load_run(ref: RunRef, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Run | LoadFailure:
    """Load one run as the schema its results file has; every problem becomes a
    :class:`LoadFailure`, never an exception."""
    results = read_results(ref, root, max_bytes)
    if isinstance(results, LoadFailure):
        return results
    schema = results.schema
    return load_results(ref, root, max_bytes, results, schema, SCHEMA_BLOCKS[schema])


def _load_run(
    ref: RunRef,
    root: Path,
    max_bytes: int,
    results: ResultsFile,
    schema: Schema,
    load_blocks: BlockLoader,
) -> Run:
    vetted = ref.vetted_files()
    data = results.data
    fields = Fields(data)
    skipped: list[SkippedInput] = []
    own = read_config(root, ref.config, vetted, max_bytes) if ref.config else None
    borrowed = (
        read_config(root, ref.sibling_config, vetted, max_bytes) if ref.sibling_config else None
    )
    config = own if ref.config else borrowed
    if own is not None:
        skipped += own.shown_in_part
    if config is not None and config.text is None and config.problem:
        unreadable = config.problem.startswith("cannot read")
        skipped.append(SkippedInput(config.path, config.problem, unreadable))
    plan_text, plan = _read_plan(ref, root, max_bytes, skipped)
    inputs = read_inputs(ref, root, max_bytes, results.source, skipped)
    dropped: list[DroppedValue] = []
    blocks = load_blocks(fields, inputs, dropped)
    cv: CvData | None = blocks.get("cv")
    normalization, problem = resolve_normalization(ref, config, cv.normalization if cv else None)
    facts = _batch_facts(fields) + _schema_facts(schema, fields, blocks, normalization)
    if schema is Schema.SNIS and config is not None:
        facts += snis_config_facts(config.values)
    parameters = run_parameters(config.values if config is not None else None, plan)
    paths = field_paths(data)
    return Run(
        ref=ref,
        schema=schema,
        normalization=normalization,
        facts=tuple(f for f in facts if f.value is not None),
        config_text=own.text if own is not None else None,
        plan_text=plan_text,
        capture_per_sequence=plan.get("capture_per_sequence") if plan is not None else None,
        inputs=inputs,
        config_problems=(problem,) if problem is not None else (),
        dropped=tuple(dropped),
        parameters=parameters.shown,
        parameter_digests=parameters.digests,
        fields=paths_fingerprint(paths),
        field_inventory=field_inventory(paths, KNOWN_FIELDS.get(schema)),
        **blocks,
    )


def _read_plan(
    ref: RunRef, root: Path, max_bytes: int, skipped: list[SkippedInput]
) -> tuple[str | None, dict[str, Any] | None]:
    """plan.json's text (as the page shows it) and its object; problems go to ``skipped``."""
    if ref.plan is None:
        return None, None
    try:
        data = read_bytes(root, ref.plan, ref.vetted_files(), max_bytes)
    except LoadError as exc:
        skipped.append(SkippedInput(ref.plan, exc.reason, exc.reason.startswith("cannot read")))
        return None, None
    text = embeddable(data.decode("utf-8", errors="replace"), ref.plan, skipped)
    try:
        plan = parse_json(data)
    except LoadError as exc:
        skipped.append(SkippedInput(ref.plan, f"not used: {exc.reason}", False))
        return text, None
    if not isinstance(plan, dict):
        skipped.append(SkippedInput(ref.plan, f"not used: top level is {type_name(plan)}", False))
        return text, None
    if not isinstance(plan.get("capture_per_sequence", False), bool):
        skipped.append(
            SkippedInput(ref.plan, "not used: capture_per_sequence is not a boolean", False)
        )
        plan = {k: v for k, v in plan.items() if k != "capture_per_sequence"}
    return text, plan


def _batch_facts(fields: Fields) -> list[Fact]:
    precision = fields.sub("precision")
    facts = [
        Fact(label, fields.int(key))
        for label, key in (("B_E", "B_E"), ("B_U", "B_U"), ("G_U", "G_U"))
    ]
    if precision is not None:
        facts += [
            Fact("Runtime dtype", precision.str("runtime_dtype")),
            Fact("Entropy dtype", precision.str("entropy_dtype")),
        ]
    return facts


def _times(n: int | None, value: float | None) -> float | None:
    return None if n is None or value is None else n * value


def _schema_facts(
    schema: Schema, fields: Fields, blocks: dict[str, Any], normalization: Normalization
) -> list[Fact]:
    if schema is Schema.SNIS:
        return snis_facts(fields, blocks["snis"], normalization)
    if schema is Schema.SWEEP:
        timing = timing_facts(fields.sub("timing"), "Time")
        return [Fact("Normalisation", normalization.true_mode), *timing]
    if schema is Schema.CV:
        cv: CvData = blocks["cv"]
        v_stats = fields.sub("v_stats")
        return [
            Fact("Sequences", cv.n_seqs),
            Fact("Normalisation", cv.normalization),
            # se_batch is the SE of the *mean* g·v (√(var/n)); the batch value is a sum over
            # sequences, so each SE is shown beside the quantity it belongs to
            Fact("Mean g·v", cv.mean_gdotv),
            Fact("SE of mean g·v", cv.se_batch),
            Fact("SE of mean g·v after joint CV", cv.se_batch_after_cv_joint),
            Fact("Var g·v", cv.var_gdotv),
            Fact("Batch g·v (sum over sequences)", cv.gdotv_batch),
            Fact("SE of batch g·v (n × SE of mean)", _times(cv.n_seqs, cv.se_batch)),
            Fact("Update method", v_stats.str("method") if v_stats else None),
            Fact("Update ‖v‖", v_stats.float("vec_norm") if v_stats else None),
            *cv_setting_facts(fields),
            *timing_facts(fields.sub("timing_sec"), "Time"),
        ]
    return []


__all__ = [
    "SCHEMA_BLOCKS",
    "BlockLoader",
    "LoadError",
    "ResultsFile",
    "detect_schema",
    "load_results",
    "load_run",
    "parse_json",
    "read_results",
]
