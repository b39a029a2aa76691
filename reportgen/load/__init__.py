"""Tolerant parsing of a run's files into frozen dataclasses, the same for every schema
generation but for its own part (``schema_loaders``).

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
from reportgen.load.fields import FIELD_HINT, Fields, parse_json, type_name
from reportgen.load.fingerprint import field_paths, paths_fingerprint
from reportgen.load.inputs import (
    DEFAULT_MAX_BYTES,
    LoadError,
    embeddable,
    read_bytes,
    read_config,
    read_inputs,
)
from reportgen.load.inventory import field_inventory
from reportgen.load.models import CvData, DroppedValue, Fact, LoadFailure, Run, Schema
from reportgen.load.parameters import run_parameters
from reportgen.load.schema_loaders import KNOWN_FIELDS, SCHEMA_LOADERS, SchemaInput, SchemaLoader
from reportgen.load.snis import detect_schema

T = TypeVar("T")

# --- the loader ------------------------------------------------------------------------------


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
    loader: SchemaLoader,
) -> Run | LoadFailure:
    """The run of ``results`` (read by :func:`read_results`) as ``schema``, its own block and
    facts loaded by ``loader``, with its config, plan and input files."""
    return _guarded(ref, lambda: _load_run(ref, root, max_bytes, results, schema, loader))


def load_run(ref: RunRef, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Run | LoadFailure:
    """Load one run as the schema its results file has; every problem becomes a
    :class:`LoadFailure`, never an exception."""
    results = read_results(ref, root, max_bytes)
    if isinstance(results, LoadFailure):
        return results
    schema = results.schema
    return load_results(ref, root, max_bytes, results, schema, SCHEMA_LOADERS[schema])


def _load_run(
    ref: RunRef,
    root: Path,
    max_bytes: int,
    results: ResultsFile,
    schema: Schema,
    loader: SchemaLoader,
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
    given = SchemaInput(fields, inputs, config.values if config is not None else None, dropped)
    blocks = loader.blocks(given)
    cv: CvData | None = blocks.get("cv")
    normalization, problem = resolve_normalization(ref, config, cv.normalization if cv else None)
    facts = _batch_facts(fields) + loader.facts(given, blocks, normalization)
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
        field_inventory=field_inventory(paths, loader.known),
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


__all__ = [
    "KNOWN_FIELDS",
    "SCHEMA_LOADERS",
    "LoadError",
    "ResultsFile",
    "SchemaLoader",
    "detect_schema",
    "load_results",
    "load_run",
    "parse_json",
    "read_results",
]
