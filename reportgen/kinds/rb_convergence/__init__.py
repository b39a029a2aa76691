"""Rao-Blackwell convergence studies: pickles of a pool and its subsample SEs per temperature.

The interface: ``matches``/``sniff``/``claims`` (recognition), ``load(claim, read)`` (through
the restricted unpickler), ``analyze(study)``, ``checks(analysis)``, ``summary_json(analysis)``
and ``page(analysis, site)``; ``CHECKS`` documents every check for the guide.
"""

from __future__ import annotations

from reportgen.kinds.rb_convergence.analysis import ConvergenceAnalysis, analyze
from reportgen.kinds.rb_convergence.checks import CHECKS, checks
from reportgen.kinds.rb_convergence.load import PATTERNS, claims, load, matches, sniff
from reportgen.kinds.rb_convergence.model import KIND, ConvergenceStudy
from reportgen.kinds.rb_convergence.page import TEMPLATE, page
from reportgen.kinds.rb_convergence.twin import summary_json

SCHEMA = "kind-rb-convergence.schema.json"

__all__ = [
    "CHECKS",
    "KIND",
    "PATTERNS",
    "SCHEMA",
    "TEMPLATE",
    "ConvergenceAnalysis",
    "ConvergenceStudy",
    "analyze",
    "checks",
    "claims",
    "load",
    "matches",
    "page",
    "sniff",
    "summary_json",
]
