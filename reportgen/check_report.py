"""The report of ``reportgen check`` as text, JSON, Markdown (CI job summaries) or JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from reportgen.analysis.uncertainty import RunUncertainty
from reportgen.build.totals import Totals, plural
from reportgen.discover import Skipped
from reportgen.findings import SEVERITIES, Finding, Severity
from reportgen.numfmt import format_eta

# 1: "format", "totals", "fail_on" and "skipped" added beside "runs" (whose rows are unchanged);
# 2: the studies of experiment kinds (and plug-ins left out) in "studies", no longer in "runs";
# "totals" counts them as "studies" ("failing_studies"), as a build's summary line does
CHECK_JSON_FORMAT = 2
# XML 1.0 allows no control characters but tab and newlines, and no lone surrogates (which a
# results tree's undecodable file names become)
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what starts markup inside a table cell


RUN, GROUP, STUDY, PLUGIN = "run", "group", "study", "plug-in"  # what an entry reports on


@dataclass(frozen=True)
class CheckedRun:
    """One entry of the report: a run (or an incomplete one), a group, a study of an experiment
    kind, or a plug-in left out (``subject``), its status and findings."""

    source: str
    status: str
    findings: tuple[Finding, ...]
    uncertainty: RunUncertainty | None = None
    subject: str = RUN


@dataclass(frozen=True)
class CheckReport:
    """Every run's, group's and study's findings, the paths discovery skipped, and the severity
    that fails."""

    runs: tuple[CheckedRun, ...]
    skipped: tuple[Skipped, ...]
    fail_on: Severity
    groups: tuple[CheckedRun, ...] = ()  # each group's own findings (its id as ``source``)
    studies: tuple[CheckedRun, ...] = ()  # and the plug-ins left out, each with its error

    @property
    def entries(self) -> tuple[CheckedRun, ...]:
        return (*self.runs, *self.studies, *self.groups)

    @property
    def unreadable(self) -> tuple[Skipped, ...]:
        """Directories that could not be listed: runs may be missing, so the check fails."""
        return tuple(s for s in self.skipped if s.unreadable)

    def failing(self, run: CheckedRun) -> tuple[Finding, ...]:
        """The run's findings at or above ``fail_on``."""
        threshold = SEVERITIES.index(self.fail_on)
        return tuple(f for f in run.findings if SEVERITIES.index(f.severity) <= threshold)

    def counted(self) -> Totals:
        """Runs, groups and studies, and all their findings, as a build's summary counts them."""
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for entry in self.entries:
            for finding in entry.findings:
                counts[finding.severity] += 1
        studies = sum(1 for s in self.studies if s.subject == STUDY)
        return Totals(len(self.runs), len(self.groups), studies, counts)

    def totals(self) -> dict[str, int]:
        counted = self.counted()
        return {
            "runs": counted.runs,
            **counted.findings,
            "failing_runs": sum(1 for run in self.runs if self.failing(run)),
            "unreadable": len(self.unreadable),
            "skipped": len(self.skipped),
            "groups": counted.groups,
            "failing_groups": sum(1 for group in self.groups if self.failing(group)),
            "studies": counted.studies,
            "failing_studies": sum(1 for study in self.studies if self.failing(study)),
        }

    @property
    def exit_code(self) -> int:
        failed = self.unreadable or any(self.failing(e) for e in self.entries)
        return 1 if failed else 0


def summary_line(report: CheckReport) -> str:
    counted = report.counted()
    line = f"{counted.subjects()}: {counted.counts()}"
    if report.unreadable:
        line += f"; {plural(len(report.unreadable), 'directory', 'directories')} could not be read"
    outcome = "fails" if report.exit_code else "passes"
    return f"{line} — {outcome} at --fail-on {report.fail_on} (exit {report.exit_code})"


def _where(finding: Finding) -> str:
    return f" (η = {', '.join(format_eta(e) for e in finding.etas)})" if finding.etas else ""


def text_report(report: CheckReport, quiet: bool = False) -> Iterator[str]:
    """Every run and finding; with ``quiet``, only the failing ones and the summary line."""
    for run in (*report.runs, *report.studies, *(g for g in report.groups if g.findings)):
        shown = report.failing(run) if quiet else run.findings
        if quiet and not shown:
            continue
        yield f"{run.source} [{run.status}]" + ("" if run.findings else ": no findings")
        for f in shown:
            yield f"  {f.severity.upper():<7} {f.id}{_where(f)}: {f.message}"
    for item in report.unreadable:
        yield f"could not read: {item.path} ({item.reason})"
    if not quiet:
        for item in report.skipped:
            if not item.unreadable:
                yield f"skipped: {item.path} ({item.reason})"
    yield summary_line(report)


# --- JSON ------------------------------------------------------------------------------------


def _uncertainty_json(uncertainty: RunUncertainty) -> dict[str, Any]:
    """The run's uncertainty block with its per-η rows (as in ``summary.json``)."""
    rows = [{"eta": u.eta} | u.to_json() for u in uncertainty.etas]
    return uncertainty.to_json() | {"etas": rows}


def _run_json(run: CheckedRun) -> dict[str, Any]:
    from reportgen.pages.serialize import finding_row  # the page stack: only for JSON

    row: dict[str, Any] = {
        "source": run.source,
        "status": run.status,
        "findings": [finding_row(f) for f in run.findings],
    }
    if run.uncertainty is not None:
        row["uncertainty"] = _uncertainty_json(run.uncertainty)
    return row


def json_report(report: CheckReport) -> str:
    data = {
        "format": CHECK_JSON_FORMAT,
        "fail_on": report.fail_on,
        "exit_code": report.exit_code,
        "totals": report.totals(),
        "skipped": [
            {"path": s.path, "reason": s.reason, "unreadable": s.unreadable} for s in report.skipped
        ],
        "runs": [_run_json(run) for run in report.runs],
        "groups": [_run_json(group) for group in report.groups],
        "studies": [_run_json(study) for study in report.studies],
    }
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


# --- Markdown --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text from the results tree as literal Markdown: no markup, links or HTML of its own."""
    flat = " ".join(text.split())
    escaped = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def markdown_report(report: CheckReport) -> str:
    """A job summary: the verdict, the totals, then every finding at or above ``--fail-on``."""
    totals = report.totals()
    failing = sum(totals[f"failing_{kind}"] for kind in ("runs", "groups", "studies"))
    verdict = "fails" if report.exit_code else "passes"
    lines = [
        f"## reportgen check {verdict} (--fail-on {report.fail_on})",
        "",
        "| runs | groups | studies | errors | warnings | infos | failing "
        "| unreadable directories |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {totals['runs']} | {totals['groups']} | {totals['studies']} | {totals['error']} "
        f"| {totals['warning']} | {totals['info']} | {failing} | {totals['unreadable']} |",
    ]
    rows = [
        f"| {_cell(run.source)} | {f.severity} | {_cell(f.id)} | {_cell(_where(f).strip())} "
        f"| {_cell(f.message)} |"
        for run in report.entries
        for f in report.failing(run)
    ]
    if rows:
        lines += ["", f"### Findings at or above {report.fail_on}", ""]
        lines += [
            "| run, group or study | severity | check | η | message |",
            "|---|---|---|---|---|",
        ]
        lines += rows
    if report.unreadable:
        lines += ["", "### Could not be read", ""]
        lines += [f"- {_cell(s.path)}: {_cell(s.reason)}" for s in report.unreadable]
    return "\n".join(lines) + "\n"


# --- JUnit XML -------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return XML_INVALID.sub("\ufffd", text)


def _testcase(suite: ET.Element, report: CheckReport, run: CheckedRun) -> int:
    """One test case for the run, a failure per finding at or above ``--fail-on``."""
    case = ET.SubElement(suite, "testcase", name=_xml(run.source), classname="reportgen.check")
    failing = report.failing(run)
    for f in failing:
        message = _xml(f"{f.severity}: {f.id}{_where(f)}: {f.message}")
        failure = ET.SubElement(case, "failure", type=_xml(f.id), message=message)
        failure.text = message
    if run.findings:
        out = ET.SubElement(case, "system-out")
        listed = (f"{f.severity} {f.id}{_where(f)}: {f.message}" for f in run.findings)
        out.text = _xml("\n".join(listed))
    return len(failing)


def junit_report(report: CheckReport) -> str:
    """JUnit XML as CI systems read it (the Jenkins ``junit-10.xsd`` shape): a directory that
    could not be read is a test case with an error."""
    suite = ET.Element("testsuite", name="reportgen check")
    flagged = tuple(g for g in report.groups if g.findings)  # a group: a case when it has findings
    cases = (*report.runs, *report.studies, *flagged)
    failures = sum(_testcase(suite, report, run) for run in cases)
    for item in report.unreadable:
        case = ET.SubElement(suite, "testcase", name=_xml(item.path), classname="reportgen.check")
        error = ET.SubElement(case, "error", type="unreadable", message=_xml(item.reason))
        error.text = _xml(f"{item.path}: {item.reason}")
    counts = {
        "tests": str(len(cases) + len(report.unreadable)),
        "failures": str(failures),
        "errors": str(len(report.unreadable)),
        "skipped": "0",
    }
    suite.attrib.update(counts)
    totals = {k: counts[k] for k in ("tests", "failures", "errors")}
    root = ET.Element("testsuites", {"name": "reportgen check", **totals})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
