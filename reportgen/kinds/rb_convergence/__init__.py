"""Rao-Blackwell convergence studies: pickles of a pool and its subsample SEs per temperature.

The interface: ``matches``/``sniff``/``claims`` (recognition, standard library only),
``load(claim, read)`` (through the restricted unpickler), ``analyze(study)``,
``checks(analysis)``, ``summary_json(analysis)`` and ``page(analysis, site)``; ``CHECKS``
documents every check for the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reportgen.kinds.rb_convergence.recognise import KIND, PATTERNS, claims, matches, sniff

if TYPE_CHECKING:
    from reportgen.kinds.rb_convergence.analysis import ConvergenceAnalysis, analyze
    from reportgen.kinds.rb_convergence.diagnostics import CHECKS, checks
    from reportgen.kinds.rb_convergence.loader import load
    from reportgen.kinds.rb_convergence.model import ConvergenceStudy
    from reportgen.kinds.rb_convergence.twin import summary_json
    from reportgen.kinds.rb_convergence.view import TEMPLATE, figure_charts, page

# the loader, analysis and page need numpy, Altair and Jinja: imported on first use, so that
# recognising files (a no-op build does only that) imports the standard library alone
_LAZY = {
    "ConvergenceAnalysis": "reportgen.kinds.rb_convergence.analysis",
    "analyze": "reportgen.kinds.rb_convergence.analysis",
    "CHECKS": "reportgen.kinds.rb_convergence.diagnostics",
    "checks": "reportgen.kinds.rb_convergence.diagnostics",
    "load": "reportgen.kinds.rb_convergence.loader",
    "ConvergenceStudy": "reportgen.kinds.rb_convergence.model",
    "TEMPLATE": "reportgen.kinds.rb_convergence.view",
    "page": "reportgen.kinds.rb_convergence.view",
    "figure_charts": "reportgen.kinds.rb_convergence.view",
    "summary_json": "reportgen.kinds.rb_convergence.twin",
}

TAKES_SETTINGS = True  # analyze(study, settings): the margin its statements state
SCHEMA = "kind-rb-convergence.schema.json"  # in reportgen/schemas


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
    "ConvergenceAnalysis",
    "ConvergenceStudy",
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
