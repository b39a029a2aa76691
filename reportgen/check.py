"""``reportgen check``: the diagnostics of every run, without building a site."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from reportgen.analysis import analyze_run
from reportgen.analysis.diagnostics import failure_findings, incomplete_finding
from reportgen.analysis.uncertainty import DEFAULT_BOOTSTRAP, RunUncertainty
from reportgen.build.guard import guarded
from reportgen.discover import RunRef, discover
from reportgen.findings import SEVERITIES, Finding, Severity
from reportgen.load import load_run
from reportgen.load.models import LoadFailure
from reportgen.numfmt import format_eta
from reportgen.pages.serialize import finding_row


@dataclass(frozen=True)
class CheckedRun:
    source: str
    status: str
    findings: tuple[Finding, ...]
    uncertainty: RunUncertainty | None = None


def check_tree(
    root: Path,
    follow_symlinks: bool = False,
    max_bytes: int = 256 * 1024 * 1024,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> Iterator[CheckedRun]:
    """Every run's findings (and uncertainty), streamed; incomplete runs as ``incomplete``."""
    tree, _ = discover(root, follow_symlinks)
    for ref in tree.runs:

        def attempt(ref: RunRef = ref) -> CheckedRun:
            loaded = load_run(ref, root, max_bytes)
            if isinstance(loaded, LoadFailure):
                return CheckedRun(ref.source, "error", failure_findings(loaded))
            analysis = analyze_run(loaded, bootstrap=bootstrap, seed=seed)
            return CheckedRun(ref.source, "ok", analysis.findings, analysis.uncertainty)

        def failed(reason: str, ref: RunRef = ref) -> CheckedRun:
            failure = LoadFailure(ref, f"internal error: {reason}", ref.source)
            return CheckedRun(ref.source, "error", failure_findings(failure))

        yield guarded(attempt, failed, f"run {ref.id}", verbose=False)
    for incomplete in tree.incomplete:
        yield CheckedRun(incomplete.directory, "incomplete", (incomplete_finding(incomplete),))


def _uncertainty_json(uncertainty: RunUncertainty) -> dict[str, Any]:
    """The run's uncertainty block with its per-η rows (as in ``summary.json``)."""
    rows = [{"eta": u.eta} | u.to_json() for u in uncertainty.etas]
    return uncertainty.to_json() | {"etas": rows}


def _fails(findings: tuple[Finding, ...], fail_on: Severity) -> bool:
    threshold = SEVERITIES.index(fail_on)
    return any(SEVERITIES.index(f.severity) <= threshold for f in findings)


def run_check(
    root: Path,
    *,
    output_format: str,
    fail_on: Severity,
    follow_symlinks: bool,
    max_bytes: int,
    stream: TextIO,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> int:
    runs = list(check_tree(root, follow_symlinks, max_bytes, bootstrap, seed))
    if output_format == "json":
        data = {
            "runs": [
                {
                    "source": r.source,
                    "status": r.status,
                    "findings": [finding_row(f) for f in r.findings],
                }
                | ({"uncertainty": _uncertainty_json(r.uncertainty)} if r.uncertainty else {})
                for r in runs
            ]
        }
        stream.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for line in text_report(runs):
            stream.write(line + "\n")
    return 1 if any(_fails(r.findings, fail_on) for r in runs) else 0


def text_report(runs: list[CheckedRun]) -> Iterator[str]:
    totals = dict.fromkeys(SEVERITIES, 0)
    for run in runs:
        yield f"{run.source} [{run.status}]" + ("" if run.findings else ": no findings")
        for f in run.findings:
            totals[f.severity] += 1
            where = f" (η = {', '.join(format_eta(e) for e in f.etas)})" if f.etas else ""
            yield f"  {f.severity.upper():<7} {f.id}{where}: {f.message}"
    yield f"{len(runs)} runs: " + ", ".join(
        f"{n} {s}{'s' if n != 1 else ''}" for s, n in totals.items()
    )
