"""Jackknife-vs-batch-size studies: ``*_results.jsonl`` files of estimates at several B.

The interface: ``matches``/``sniff``/``claims`` (recognition, standard library only),
``load(claim, read)``, ``analyze(study)``, ``checks(analysis)``, ``summary_json(analysis)``
and ``page(analysis, site)``; ``CHECKS`` documents every check for the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reportgen.kinds.jackknife.recognise import KIND, PATTERNS, claims, matches, sniff

if TYPE_CHECKING:
    from reportgen.kinds.jackknife.analysis import JackknifeAnalysis, analyze
    from reportgen.kinds.jackknife.diagnostics import CHECKS, checks
    from reportgen.kinds.jackknife.loader import load
    from reportgen.kinds.jackknife.model import JackknifeStudy
    from reportgen.kinds.jackknife.twin import summary_json
    from reportgen.kinds.jackknife.view import TEMPLATE, figure_charts, page

# the loader, analysis and page need numpy, Altair and Jinja: imported on first use, so that
# recognising files (a no-op build does only that) imports the standard library alone
_LAZY = {
    "JackknifeAnalysis": "reportgen.kinds.jackknife.analysis",
    "analyze": "reportgen.kinds.jackknife.analysis",
    "CHECKS": "reportgen.kinds.jackknife.diagnostics",
    "checks": "reportgen.kinds.jackknife.diagnostics",
    "load": "reportgen.kinds.jackknife.loader",
    "JackknifeStudy": "reportgen.kinds.jackknife.model",
    "TEMPLATE": "reportgen.kinds.jackknife.view",
    "page": "reportgen.kinds.jackknife.view",
    "figure_charts": "reportgen.kinds.jackknife.view",
    "summary_json": "reportgen.kinds.jackknife.twin",
}

TAKES_SETTINGS = True  # analyze(study, settings): the margin its statements state
SCHEMA = "kind-jackknife-study.schema.json"  # in reportgen/schemas


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "CHECKS",
    "KIND",
    "PATTERNS",
    "SCHEMA",
    "TAKES_SETTINGS",
    "TEMPLATE",
    "JackknifeAnalysis",
    "JackknifeStudy",
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
