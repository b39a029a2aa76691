"""The run schemas as kinds: SNIS generations, η sweeps, control-variate runs and generic
results files, in the order of precedence in which ``detect_schema`` tells them apart.

Each loads through its schema's loader (``reportgen.load.schema_loaders``) and analyses through
``reportgen.analysis``, both imported on first use: naming and testing files (what a no-op build
does) needs the standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.discover import RESULTS_PATTERN, RunRef, is_results_name
from reportgen.kinds.interface import AnalysisSettings, RunKind

if TYPE_CHECKING:
    from reportgen.analysis import RunAnalysis
    from reportgen.findings import CheckInfo
    from reportgen.load import ResultsFile
    from reportgen.load.models import LoadFailure, Run

RUN_SCHEMA = "run-summary.schema.json"  # in reportgen/schemas: every run's summary.json
RUN_TEMPLATE = "run.html"


@dataclass(frozen=True)
class RunSchemaKind:
    """One run schema; its ``KIND`` is the schema's name (``Run.schema``, the manifest's
    ``schema``)."""

    KIND: str
    PATTERNS: tuple[str, ...] = (RESULTS_PATTERN,)
    SCHEMA: str = RUN_SCHEMA
    TEMPLATE: str = RUN_TEMPLATE

    def matches(self, path: str) -> bool:
        return is_results_name(path.rsplit("/", 1)[-1])

    def sniff(self, head: bytes) -> bool:
        # a file's first bytes cannot tell the schemas apart: its parsed object does
        return True

    @property
    def CHECKS(self) -> Sequence[CheckInfo]:
        """The registry's run checks: every one runs on every loaded run (one that does not
        apply to this schema finds nothing)."""
        from reportgen.analysis.diagnostics.registry import REGISTRY

        return tuple(c.info for c in REGISTRY if c.scope == "run")

    def load(
        self, ref: RunRef, root: Path, max_bytes: int, results: ResultsFile
    ) -> Run | LoadFailure:
        from reportgen.load import SCHEMA_LOADERS, load_results
        from reportgen.load.models import Schema

        schema = Schema(self.KIND)
        return load_results(ref, root, max_bytes, results, schema, SCHEMA_LOADERS[schema])

    def analyze(self, run: Run, settings: AnalysisSettings) -> RunAnalysis:
        from reportgen.analysis import analyze_run

        return analyze_run(
            run,
            bootstrap=settings.bootstrap,
            seed=settings.seed,
            margin=settings.equivalence_margin,
        )


SNIS = RunSchemaKind("snis")
ETA_SWEEP = RunSchemaKind("eta-sweep")
CONTROL_VARIATES = RunSchemaKind("control-variates")
GENERIC = RunSchemaKind("generic")
RUN_KINDS: tuple[RunKind, ...] = (SNIS, ETA_SWEEP, CONTROL_VARIATES, GENERIC)


def run_kinds() -> tuple[RunKind, ...]:
    """Every run kind, in order of precedence (the last takes any results object)."""
    return RUN_KINDS


def run_kind(name: str) -> RunKind:
    """The run kind named ``name`` (a schema's name); ``KeyError`` for none."""
    for kind in RUN_KINDS:
        if name == kind.KIND:
            return kind
    raise KeyError(name)
