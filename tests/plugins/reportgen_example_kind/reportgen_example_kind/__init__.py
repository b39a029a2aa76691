"""An example reportgen experiment kind: training-loss curves in ``loss_curve.json`` files.

A kind is any object (here, this module) with the attributes of
``reportgen.kinds.interface.ExperimentKind``; the entry point ``reportgen.kinds`` names it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson
from markupsafe import Markup

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.claims import Claim, claims_by_directory
from reportgen.kinds.reading import Read, StudyFailure
from reportgen.kinds.study_page import default_page_dir, page_meta, rendered_page
from reportgen.load.inputs import LoadError
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext

KIND = "loss-curve"
PATTERNS = ("loss_curve.json",)
SCHEMA = "loss-curve.schema.json"  # shipped in this package (schemas/)
TEMPLATE = "kind_plugin.html"  # reportgen's page for a plug-in's own (escaped) content
RISES = "loss-curve-rises"
CHECKS = (
    CheckInfo(
        RISES,
        "warning",
        "The loss ends above where it started",
        "The last recorded loss is higher than the first: the run diverged or the learning "
        "rate was too large.",
        "findings",
    ),
)


def matches(path: str) -> bool:
    return PurePosixPath(path).name in PATTERNS


def sniff(head: bytes) -> bool:
    return b'"loss"' in head


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    chosen = (p for p in paths if matches(p) and (markers is None or p in markers))
    return claims_by_directory(KIND, chosen)


@dataclass(frozen=True)
class LossCurve:
    directory: str
    steps: tuple[float, ...]
    loss: tuple[float, ...]
    not_read: tuple[Any, ...] = ()


@dataclass(frozen=True)
class LossAnalysis:
    curve: LossCurve
    first: float
    last: float
    minimum: float


def load(claim: Claim, read: Read) -> LossCurve | StudyFailure:
    path = claim.files[0]
    try:
        data = orjson.loads(read(path))
    except (LoadError, orjson.JSONDecodeError) as exc:
        return StudyFailure(KIND, claim.directory, f"{path}: {exc}", claim.files, ())
    loss, steps = data.get("loss"), data.get("steps")
    if not isinstance(loss, list) or not loss or not all(isinstance(v, int | float) for v in loss):
        return StudyFailure(KIND, claim.directory, f"{path}: no list of losses", claim.files, ())
    if not isinstance(steps, list) or len(steps) != len(loss):
        steps = list(range(len(loss)))
    return LossCurve(claim.directory, tuple(map(float, steps)), tuple(map(float, loss)))


def analyze(curve: LossCurve) -> LossAnalysis:
    return LossAnalysis(curve, curve.loss[0], curve.loss[-1], min(curve.loss))


def checks(analysis: LossAnalysis) -> tuple[Finding, ...]:
    if analysis.last <= analysis.first:
        return ()
    message = f"the loss rises from {analysis.first:.4g} to {analysis.last:.4g}"
    return (Finding(RISES, "warning", message, None, "findings"),)


def summary_json(analysis: LossAnalysis) -> dict[str, Any]:
    findings = [
        {"id": f.id, "severity": f.severity, "message": f.message} for f in checks(analysis)
    ]
    return {
        "kind": KIND,
        "format": 1,
        "directory": analysis.curve.directory,
        "points": len(analysis.curve.loss),
        "first": analysis.first,
        "last": analysis.last,
        "minimum": analysis.minimum,
        "findings": findings,
    }


def page(analysis: LossAnalysis, site: SiteContext, page_dir: str | None = None) -> PageOutput:
    directory = page_dir or default_page_dir(KIND, analysis.curve.directory)
    title = f"Loss curve {analysis.curve.directory}"
    verdict = "The loss rises." if checks(analysis) else "The loss falls."
    content = Markup(
        "<h1>{}</h1><p class='verdict'>{}</p><p>{} points: first {:.4g}, last {:.4g}, "
        "minimum {:.4g}.</p>"
    ).format(
        title, verdict, len(analysis.curve.loss), analysis.first, analysis.last, analysis.minimum
    )
    meta = page_meta(directory, title, "study", has_charts=False)
    # rendered_page keeps the content too: a later build that cannot read the curve shows it
    # again, marked stale
    return rendered_page(TEMPLATE, site, meta, directory, summary_json(analysis), content=content)
