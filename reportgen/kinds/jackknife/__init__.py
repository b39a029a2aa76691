"""Jackknife-vs-batch-size studies: ``*_results.jsonl`` files of estimates at several B.

The interface: ``matches``/``sniff``/``claims`` (recognition), ``load(claim, read)``,
``analyze(study)``, ``checks(analysis)``, ``summary_json(analysis)`` and
``page(analysis, site)``; ``CHECKS`` documents every check for the guide.
"""

from __future__ import annotations

from reportgen.kinds.jackknife.analysis import JackknifeAnalysis, analyze
from reportgen.kinds.jackknife.checks import CHECKS, checks
from reportgen.kinds.jackknife.load import PATTERNS, claims, load, matches, sniff
from reportgen.kinds.jackknife.model import KIND, JackknifeStudy
from reportgen.kinds.jackknife.page import TEMPLATE, page
from reportgen.kinds.jackknife.twin import summary_json

SCHEMA = "kind-jackknife-study.schema.json"

__all__ = [
    "CHECKS",
    "KIND",
    "PATTERNS",
    "SCHEMA",
    "TEMPLATE",
    "JackknifeAnalysis",
    "JackknifeStudy",
    "analyze",
    "checks",
    "claims",
    "load",
    "matches",
    "page",
    "sniff",
    "summary_json",
]
