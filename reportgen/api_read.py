"""Reading one run for the API as the build reads it, and a page's chart as an Altair chart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from reportgen.analysis import RunAnalysis
from reportgen.analysis.record import failure_record, run_record
from reportgen.build.guard import guarded
from reportgen.build.runs import analyzed_run
from reportgen.build.status import input_hash
from reportgen.discover import RunRef
from reportgen.load.models import LoadFailure

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.settings import BuildOptions


def read_run(
    ref: RunRef, root: Path, options: BuildOptions, labels: tuple[tuple[str, str], ...]
) -> tuple[RunRecord, RunAnalysis | None]:
    """The run's record (and analysis) with the build's arguments; a run that cannot be read
    gets the record of its error page, with the same findings."""
    digest = input_hash(ref, root, options.max_bytes)

    def failure(failed: LoadFailure) -> tuple[RunRecord, RunAnalysis | None]:
        return failure_record(failed, digest), None

    def attempt() -> tuple[RunRecord, RunAnalysis | None]:
        analysis = analyzed_run(ref, root, options)
        if isinstance(analysis, LoadFailure):
            return failure(analysis)
        with np.errstate(all="ignore"):
            return run_record(analysis, digest, labels), analysis

    def failed(reason: str) -> tuple[RunRecord, RunAnalysis | None]:
        hint = "Report it with the run's files."
        internal = f"internal error while analysing: {reason}"
        return failure(LoadFailure(ref, internal, ref.source, hint=hint))

    return guarded(attempt, failed, f"run {ref.id}", verbose=False)


def altair_chart(spec: dict[str, Any]) -> Any:
    """An Altair chart of a standalone Vega-Lite spec (data attached), as the page draws it."""
    from reportgen.charts.lazy import alt

    plain = orjson.loads(orjson.dumps(spec, option=orjson.OPT_SERIALIZE_NUMPY))
    for kind in ("layer", "hconcat", "vconcat", "concat", "facet", "repeat"):
        if kind in plain:
            return getattr(alt, _CLASSES[kind]).from_dict(plain)
    return alt.Chart.from_dict(plain)


_CLASSES = {
    "layer": "LayerChart",
    "hconcat": "HConcatChart",
    "vconcat": "VConcatChart",
    "concat": "ConcatChart",
    "facet": "FacetChart",
    "repeat": "RepeatChart",
}
