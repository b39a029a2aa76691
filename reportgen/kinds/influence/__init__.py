"""Entropy-influence directories: the runner's ``summary.json`` with its ``eval_NN_*`` arrays.

The interface: ``matches``/``sniff``/``claims`` (recognition, standard library only; a claim is
the whole directory), ``load(claim, read)``, ``analyze(run, margin)``, ``checks(analysis)``,
``summary_json(analysis)`` and ``page(analysis, site)``; ``CHECKS`` documents every check and
``GUIDE_MARKDOWN`` the kind's reading of its files for the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reportgen.kinds.influence.guide import GUIDE_MARKDOWN
from reportgen.kinds.influence.recognise import KIND, MARKER, PATTERNS, claims, matches, sniff

if TYPE_CHECKING:
    from reportgen.kinds.influence.analysis import InfluenceAnalysis, analyze
    from reportgen.kinds.influence.diagnostics import CHECKS, checks
    from reportgen.kinds.influence.loader import load
    from reportgen.kinds.influence.model import InfluenceRun
    from reportgen.kinds.influence.twin import summary_json
    from reportgen.kinds.influence.view import TEMPLATE, figure_charts, page

# the loader, analysis and page need numpy, Altair and Jinja: imported on first use, so that
# recognising files (a no-op build does only that) imports the standard library alone
_LAZY = {
    "InfluenceAnalysis": "reportgen.kinds.influence.analysis",
    "analyze": "reportgen.kinds.influence.analysis",
    "CHECKS": "reportgen.kinds.influence.diagnostics",
    "checks": "reportgen.kinds.influence.diagnostics",
    "load": "reportgen.kinds.influence.loader",
    "InfluenceRun": "reportgen.kinds.influence.model",
    "TEMPLATE": "reportgen.kinds.influence.view",
    "page": "reportgen.kinds.influence.view",
    "figure_charts": "reportgen.kinds.influence.view",
    "summary_json": "reportgen.kinds.influence.twin",
}

TAKES_SETTINGS = True  # analyze(study, settings): the margin its statements state
SCHEMA = "kind-influence.schema.json"  # in reportgen/schemas


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "CHECKS",
    "GUIDE_MARKDOWN",
    "KIND",
    "MARKER",
    "PATTERNS",
    "SCHEMA",
    "TAKES_SETTINGS",
    "TEMPLATE",
    "InfluenceAnalysis",
    "InfluenceRun",
    "analyze",
    "checks",
    "claims",
    "figure_charts",
    "load",
    "matches",
    "page",
    "sniff",
    "summary_json",
]
