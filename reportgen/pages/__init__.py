"""Page functions: pure, from loaded and analysed inputs to ``PageOutput`` (files and record)."""

from __future__ import annotations

from reportgen.pages.output import PageOutput
from reportgen.pages.run import RunSettings, error_page, run_page

__all__ = ["PageOutput", "RunSettings", "error_page", "run_page"]
