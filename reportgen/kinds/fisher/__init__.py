"""Fisher-kernel outlier-diagnostics directories: ``kernel_update.npy`` and its companions.

The interface: ``matches``/``sniff``/``claims`` (recognition, standard library only; a claim is
the whole directory), ``load(claim, read)``, ``analyze(run)``, ``checks(analysis)``,
``summary_json(analysis)`` and ``page(analysis, site)``; ``CHECKS`` documents every check and
``GUIDE_MARKDOWN`` the kind's reading of its files for the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reportgen.kinds.fisher.guide import GUIDE_MARKDOWN
from reportgen.kinds.fisher.recognise import KIND, MARKER, PATTERNS, claims, matches, sniff

if TYPE_CHECKING:
    from reportgen.kinds.fisher.analysis import FisherAnalysis, analyze
    from reportgen.kinds.fisher.diagnostics import CHECKS, checks
    from reportgen.kinds.fisher.loader import load
    from reportgen.kinds.fisher.model import FisherRun
    from reportgen.kinds.fisher.twin import summary_json
    from reportgen.kinds.fisher.view import TEMPLATE, figure_charts, page

# the loader, analysis and page need numpy, Altair and Jinja: imported on first use, so that
# recognising files (a no-op build does only that) imports the standard library alone
_LAZY = {
    "FisherAnalysis": "reportgen.kinds.fisher.analysis",
    "analyze": "reportgen.kinds.fisher.analysis",
    "CHECKS": "reportgen.kinds.fisher.diagnostics",
    "checks": "reportgen.kinds.fisher.diagnostics",
    "load": "reportgen.kinds.fisher.loader",
    "FisherRun": "reportgen.kinds.fisher.model",
    "TEMPLATE": "reportgen.kinds.fisher.view",
    "page": "reportgen.kinds.fisher.view",
    "figure_charts": "reportgen.kinds.fisher.view",
    "summary_json": "reportgen.kinds.fisher.twin",
}

SCHEMA = "kind-fisher.schema.json"  # in reportgen/schemas


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
    "TEMPLATE",
    "FisherAnalysis",
    "FisherRun",
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
